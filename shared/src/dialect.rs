//! Which of the two client APIs a path belongs to.

use serde::{Deserialize, Serialize};

/// The two documented client APIs. Their paths do not collide, so a path decides its dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// `000_…` — `{code: 20001, message, data}` envelopes, `Authorization: Bearer`.
    Store,
    /// `003_…` — `{status, code, data | message}` envelopes, `token` header.
    Print,
}

const STORE_PREFIXES: [&str; 4] = [
    "/api/auth",
    "/api/captchas",
    "/api/user_addresses",
    "/api/response_code",
];

impl Dialect {
    /// The dialect of any path, known or not: store for the store document's prefixes, print
    /// for everything else (the admin API included).
    pub fn for_path(path: &str) -> Dialect {
        let is_store = STORE_PREFIXES.iter().any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        });
        if is_store {
            Dialect::Store
        } else {
            Dialect::Print
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_prefixes_pick_the_store_dialect_and_everything_else_is_print() {
        assert_eq!(Dialect::for_path("/api/auth/login"), Dialect::Store);
        assert_eq!(Dialect::for_path("/api/auth"), Dialect::Store);
        assert_eq!(Dialect::for_path("/api/user_addresses/7"), Dialect::Store);
        assert_eq!(Dialect::for_path("/api/response_code"), Dialect::Store);
        assert_eq!(Dialect::for_path("/api/captchas"), Dialect::Store);
        assert_eq!(Dialect::for_path("/api/authx"), Dialect::Print);
        assert_eq!(Dialect::for_path("/api/login"), Dialect::Print);
        assert_eq!(Dialect::for_path("/admin/users"), Dialect::Print);
        assert_eq!(Dialect::for_path("/nowhere"), Dialect::Print);
    }
}
