//! Request ids. Every answer carries the id of its own request in `x-request-id`, and the origin
//! receives the same id, so one id follows a request through both logs. The edge makes the id;
//! a client's own id is kept only when it is plainly an id (8–64 characters of `[A-Za-z0-9-]`),
//! and only for that client's own answer: cached entries are stored without one.

/// The shortest and longest client id the edge keeps.
pub const CLIENT_ID_LENGTH: std::ops::RangeInclusive<usize> = 8..=64;

/// Whether a client's `x-request-id` may stand as the id of its request: nothing that could
/// smuggle markup, separators or control characters into a log line or a header.
pub fn is_acceptable(client_id: &str) -> bool {
    CLIENT_ID_LENGTH.contains(&client_id.len())
        && client_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
}

/// The id of a request: the client's own when acceptable, otherwise a fresh one from `generate`.
pub fn choose(client_id: Option<&str>, generate: impl FnOnce() -> String) -> String {
    match client_id {
        Some(id) if is_acceptable(id) => id.to_owned(),
        _ => generate(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> String {
        "0b7e0b5e-5f6a-4b0e-9d55-3f1c2a6b9e10".to_owned()
    }

    #[test]
    fn a_plain_client_id_is_kept() {
        assert_eq!(choose(Some("abc-12345678"), fresh), "abc-12345678");
        assert_eq!(choose(Some(&"a".repeat(64)), fresh), "a".repeat(64));
        assert_eq!(choose(Some("ABCdef09"), fresh), "ABCdef09");
    }

    #[test]
    fn anything_else_is_replaced_by_a_fresh_id() {
        for bad in [
            "<script>",
            "short",
            "",
            "has space-123",
            "semi;colon-123",
            "new\nline-12345",
            "ünïcode-12345",
            "under_score_1",
        ] {
            assert_eq!(choose(Some(bad), fresh), fresh(), "{bad:?}");
        }
        assert_eq!(choose(Some(&"a".repeat(65)), fresh), fresh());
        assert_eq!(choose(None, fresh), fresh());
    }

    #[test]
    fn generated_uuids_pass_the_same_check() {
        assert!(is_acceptable(&fresh()));
    }
}
