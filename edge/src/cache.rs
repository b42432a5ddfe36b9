//! Cache keys. Public reads are keyed by URL alone; personal reads by user, data version and
//! URL, so a bump of the version makes every older copy unreachable at once.

/// A host of our own: Cache API keys must be URLs, and this one can never be fetched.
const CACHE_HOST: &str = "https://edge-cache.invalid";

/// The query string with its pairs sorted, so `?a=1&b=2` and `?b=2&a=1` share an entry.
pub fn sorted_query(query: Option<&str>) -> String {
    let mut pairs: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .collect();
    pairs.sort_unstable();
    pairs.join("&")
}

pub fn public_key(path: &str, query: Option<&str>) -> String {
    format!("{CACHE_HOST}/public{path}?{}", sorted_query(query))
}

pub fn personal_key(user_id: i64, version: u64, path: &str, query: Option<&str>) -> String {
    format!(
        "{CACHE_HOST}/user/{user_id}/v{version}{path}?{}",
        sorted_query(query)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_order_does_not_matter_and_empty_pairs_are_dropped() {
        assert_eq!(sorted_query(Some("b=2&a=1&&")), "a=1&b=2");
        assert_eq!(
            public_key("/api/gifts", Some("page=2&limit=5")),
            public_key("/api/gifts", Some("limit=5&page=2"))
        );
    }

    #[test]
    fn personal_keys_differ_by_user_and_version() {
        let key = personal_key(1, 0, "/api/users/self", None);
        assert_ne!(key, personal_key(2, 0, "/api/users/self", None));
        assert_ne!(key, personal_key(1, 1, "/api/users/self", None));
        assert_ne!(key, public_key("/api/users/self", None));
    }
}
