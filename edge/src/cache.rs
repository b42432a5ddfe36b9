//! The edge as an HTTP cache: keys, what an entry keeps, what clients are told, and conditional
//! requests.
//!
//! Public reads are keyed by URL alone; personal reads by user, data version and URL, so a bump
//! of the version makes every older copy unreachable at once. Only a `200` is stored, for the
//! route's TTL, and not when the origin says `no-store` (or `private`, in a public slot) or sets
//! a cookie; an entry keeps nothing that belongs to one request (its `x-request-id`). Clients see the origin's own
//! `Cache-Control` on public routes when it sends one (an upload is immutable for a year),
//! `public, max-age=<route TTL>` otherwise, `private, no-cache` on personal routes, and
//! `no-store` on every other status. The validators (`ETag`, `Last-Modified`) are kept, and the
//! edge answers conditional requests itself, from the cache or from a fresh answer alike.

use shared::policy::Cache;

/// A host of our own: Cache API keys must be URLs, and this one can never be fetched.
const CACHE_HOST: &str = "https://edge-cache.invalid";

/// The query string with its pairs sorted by name, so `?a=1&b=2` and `?b=2&a=1` share an entry.
/// The names are compared as the origin reads them (decoded, `x[]` as `x`), and pairs of one
/// name keep their order: the origin takes a name's last value, so `?limit=1&limit=100` and
/// `?limit=100&limit=1` are different answers and must not share an entry.
pub fn sorted_query(query: Option<&str>) -> String {
    let mut pairs: Vec<(String, &str)> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let name = form_urlencoded::parse(pair.as_bytes())
                .next()
                .map(|(name, _)| name.into_owned())
                .unwrap_or_default();
            let name = match name.strip_suffix("[]") {
                Some(stripped) => stripped.to_owned(),
                None => name,
            };
            (name, pair)
        })
        .collect();
    // Stable: pairs of one name stay in the order they came.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
        .iter()
        .map(|(_, pair)| *pair)
        .collect::<Vec<_>>()
        .join("&")
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

/// Where a stored entry keeps the origin's own `Cache-Control`: the entry's `Cache-Control` is
/// the edge's lifetime for it, which the Cache API honours.
const ORIGIN_CACHE_CONTROL: &str = "x-edge-origin-cache-control";

/// Headers that belong to one request or one client, never to a shared entry.
fn is_per_request(name: &str) -> bool {
    [
        "x-request-id",
        "x-cache",
        "set-cookie",
        ORIGIN_CACHE_CONTROL,
    ]
    .iter()
    .any(|own| name.eq_ignore_ascii_case(own))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// Whether `Cache-Control` has a directive (`no-store`, `private`…), ignoring any argument.
fn has_directive(cache_control: &str, directive: &str) -> bool {
    cache_control.split(',').any(|item| {
        let name = item.split('=').next().unwrap_or("").trim();
        name.eq_ignore_ascii_case(directive)
    })
}

/// Whether an origin answer may be stored in a slot of kind `cache`: a `200` without a cookie
/// that the origin allows to be stored, and, in a slot shared by everyone, does not keep to one
/// client (`private` is fine in a user's own slot).
pub fn may_store(status: u16, headers: &[(String, String)], cache: Cache) -> bool {
    let cache_control = header(headers, "cache-control").unwrap_or("");
    let origin_forbids = has_directive(cache_control, "no-store")
        || (has_directive(cache_control, "private") && !matches!(cache, Cache::Personal { .. }));
    status == 200
        && !matches!(cache, Cache::None)
        && !origin_forbids
        && header(headers, "set-cookie").is_none()
}

/// An origin answer's headers as the cache stores them, to live `ttl_secs`.
pub fn for_storage(headers: &[(String, String)], ttl_secs: u32) -> Vec<(String, String)> {
    let mut stored: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !is_per_request(name))
        .map(|(name, value)| {
            if name.eq_ignore_ascii_case("cache-control") {
                (ORIGIN_CACHE_CONTROL.to_owned(), value.clone())
            } else {
                (name.clone(), value.clone())
            }
        })
        .collect();
    stored.push((
        "cache-control".to_owned(),
        format!("public, max-age={ttl_secs}"),
    ));
    stored
}

/// A stored entry's headers as the origin sent them (the inverse of [`for_storage`], less what
/// was never stored).
pub fn from_storage(stored: &[(String, String)]) -> Vec<(String, String)> {
    stored
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("cache-control"))
        .map(|(name, value)| {
            if name.eq_ignore_ascii_case(ORIGIN_CACHE_CONTROL) {
                ("cache-control".to_owned(), value.clone())
            } else {
                (name.clone(), value.clone())
            }
        })
        .collect()
}

/// The headers a client gets with an answer (`status`) on a route cached as `cache`, from the
/// origin's headers: the `Cache-Control` it may act on, and no request id (the edge adds the
/// id of the client's own request).
pub fn for_client(
    headers: &[(String, String)],
    status: u16,
    cache: Cache,
) -> Vec<(String, String)> {
    let origin_cache_control = header(headers, "cache-control").map(str::to_owned);
    let cache_control = match (cache, status) {
        (Cache::None, _) => origin_cache_control,
        (Cache::Public { ttl_secs }, 200 | 304) => {
            Some(origin_cache_control.unwrap_or_else(|| format!("public, max-age={ttl_secs}")))
        }
        (Cache::Personal { .. }, 200 | 304) => Some("private, no-cache".to_owned()),
        (_, _) => Some("no-store".to_owned()),
    };
    let mut client: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !is_per_request(name) && !name.eq_ignore_ascii_case("cache-control"))
        .cloned()
        .collect();
    if let Some(value) = cache_control {
        client.push(("cache-control".to_owned(), value));
    }
    client
}

/// The entity tags of an `If-None-Match` value, `None` standing for `*`. Parsing stops at the
/// first malformed element (what was read so far still counts).
fn entity_tags(value: &str) -> Vec<Option<&str>> {
    let mut tags = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return tags;
        }
        if let Some(after) = rest.strip_prefix('*') {
            tags.push(None);
            rest = after;
            continue;
        }
        let unweakened = rest.strip_prefix("W/").unwrap_or(rest);
        let Some(quoted) = unweakened.strip_prefix('"') else {
            return tags;
        };
        let Some(end) = quoted.find('"') else {
            return tags;
        };
        tags.push(Some(&quoted[..end]));
        rest = &quoted[end + 1..];
    }
}

/// The opaque part of an `ETag` (weak comparison ignores `W/`).
fn opaque_tag(etag: &str) -> Option<&str> {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.strip_prefix('"')?.strip_suffix('"')
}

/// Whether a `GET` with these conditions gets `304 Not Modified` for an answer with `headers`
/// (RFC 9110 §13.1.2–3): `If-None-Match` decides when present, by weak comparison of the
/// `ETag`; otherwise `If-Modified-Since` equal to `Last-Modified` (an exact match, as nginx
/// does by default, so no date parsing).
pub fn is_not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    headers: &[(String, String)],
) -> bool {
    if let Some(condition) = if_none_match {
        let Some(etag) = header(headers, "etag").and_then(opaque_tag) else {
            return false;
        };
        return entity_tags(condition)
            .into_iter()
            .any(|tag| tag.is_none_or(|tag| tag == etag));
    }
    match (if_modified_since, header(headers, "last-modified")) {
        (Some(since), Some(modified)) => since.trim() == modified.trim(),
        _ => false,
    }
}

/// The headers a `304` repeats from the `200` it stands for (RFC 9110 §15.4.5), plus our own.
pub fn not_modified_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    const KEPT: [&str; 7] = [
        "cache-control",
        "content-location",
        "date",
        "etag",
        "expires",
        "last-modified",
        "vary",
    ];
    headers
        .iter()
        .filter(|(name, _)| {
            KEPT.iter().any(|kept| name.eq_ignore_ascii_case(kept))
                || name.to_ascii_lowercase().starts_with("x-")
        })
        .cloned()
        .collect()
}

/// This isolate's own copies of cached answers, in front of the Cache API: a hit here costs a
/// map lookup instead of a Cache API round trip and reading the entry back. A copy lives at
/// most [`Nearby::LIFETIME_MS`] (and never past its route's TTL), the same bound as the
/// isolate's copy of a user's revocations and data version (DESIGN: at most one second), so it
/// adds no staleness that the version in a personal key does not already allow. Memory is
/// bounded: an entry over [`Nearby::MAX_ENTRY_BYTES`] is not copied, and when the copies would
/// pass [`Nearby::MAX_BYTES`] the expired ones go, then all of them.
#[derive(Debug, Default)]
pub struct Nearby {
    entries: std::collections::HashMap<String, NearbyCopy>,
    bytes: usize,
}

/// One copy: the headers as the cache stores them ([`for_storage`]) and the body.
#[derive(Debug, Clone)]
pub struct NearbyCopy {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    until_ms: u64,
}

impl NearbyCopy {
    fn size(key: &str, headers: &[(String, String)], body: &[u8]) -> usize {
        key.len()
            + body.len()
            + headers
                .iter()
                .map(|(name, value)| name.len() + value.len())
                .sum::<usize>()
    }
}

impl Nearby {
    pub const LIFETIME_MS: u64 = 1_000;
    pub const MAX_ENTRY_BYTES: usize = 64 * 1024;
    pub const MAX_BYTES: usize = 8 * 1024 * 1024;

    /// The copy under `key`, if it is still alive at `now_ms`.
    pub fn get(&self, key: &str, now_ms: u64) -> Option<&NearbyCopy> {
        self.entries.get(key).filter(|copy| now_ms < copy.until_ms)
    }

    /// Keeps a copy of an entry that lives `ttl_secs` in the cache, from `now_ms`.
    pub fn put(
        &mut self,
        key: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        ttl_secs: u32,
        now_ms: u64,
    ) {
        let size = NearbyCopy::size(key, &headers, &body);
        if size > Self::MAX_ENTRY_BYTES {
            return;
        }
        self.remove(key);
        if self.bytes + size > Self::MAX_BYTES {
            self.entries.retain(|_, copy| now_ms < copy.until_ms);
            self.bytes = self
                .entries
                .iter()
                .map(|(key, copy)| NearbyCopy::size(key, &copy.headers, &copy.body))
                .sum();
            if self.bytes + size > Self::MAX_BYTES {
                self.entries.clear();
                self.bytes = 0;
            }
        }
        let lifetime = Self::LIFETIME_MS.min(u64::from(ttl_secs) * 1_000);
        self.bytes += size;
        self.entries.insert(
            key.to_owned(),
            NearbyCopy {
                headers,
                body,
                until_ms: now_ms + lifetime,
            },
        );
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.entries.remove(key) {
            self.bytes -= NearbyCopy::size(key, &old.headers, &old.body);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &str) -> (Vec<(String, String)>, Vec<u8>) {
        (
            for_storage(&[("etag".into(), "\"1\"".into())], 60),
            body.as_bytes().to_vec(),
        )
    }

    #[test]
    fn nearby_copies_live_a_second_at_most_and_never_past_their_ttl() {
        let mut nearby = Nearby::default();
        let (headers, body) = stored("me");
        nearby.put("k", headers.clone(), body.clone(), 60, 10_000);
        assert_eq!(nearby.get("k", 10_000).unwrap().body, b"me");
        assert!(nearby.get("k", 10_999).is_some());
        assert!(nearby.get("k", 11_000).is_none(), "a second at most");
        assert!(nearby.get("other", 10_000).is_none());
        // A route that lives no longer than its TTL (0 s: not at all).
        nearby.put("zero", headers, body, 0, 10_000);
        assert!(nearby.get("zero", 10_000).is_none());
    }

    #[test]
    fn nearby_copies_stay_within_their_memory_bound() {
        let mut nearby = Nearby::default();
        let big = "x".repeat(Nearby::MAX_ENTRY_BYTES);
        let (headers, body) = stored(&big);
        nearby.put("big", headers, body, 60, 0);
        assert!(
            nearby.is_empty(),
            "an entry over the per-entry bound is not copied"
        );

        let chunk = "y".repeat(Nearby::MAX_ENTRY_BYTES / 2);
        let per_entry = Nearby::MAX_BYTES / (Nearby::MAX_ENTRY_BYTES / 2);
        for n in 0..per_entry * 3 {
            let (headers, body) = stored(&chunk);
            nearby.put(&format!("k{n}"), headers, body, 60, n as u64);
            assert!(nearby.bytes() <= Nearby::MAX_BYTES);
        }
        assert!(!nearby.is_empty());
        // Replacing a key does not count it twice.
        let before = nearby.bytes();
        let last = format!("k{}", per_entry * 3 - 1);
        let (headers, body) = stored(&chunk);
        nearby.put(&last, headers, body, 60, 0);
        assert_eq!(nearby.bytes(), before);
    }

    #[test]
    fn expired_nearby_copies_make_room_before_live_ones_go() {
        let mut nearby = Nearby::default();
        let chunk = "z".repeat(Nearby::MAX_ENTRY_BYTES - 200);
        let fits = Nearby::MAX_BYTES / Nearby::MAX_ENTRY_BYTES;
        for n in 0..fits {
            let (headers, body) = stored(&chunk);
            // The first is old, the rest alive at 5 000.
            let at = if n == 0 { 0 } else { 4_500 };
            nearby.put(&format!("k{n}"), headers, body, 60, at);
        }
        let (headers, body) = stored(&chunk);
        nearby.put("new", headers, body, 60, 5_000);
        assert!(nearby.get("k0", 5_000).is_none());
        assert!(nearby.get("k1", 5_000).is_some(), "live copies stay");
        assert!(nearby.get("new", 5_000).is_some());
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        header(headers, name)
    }

    const UPLOAD: [(&str, &str); 4] = [
        ("content-type", "image/png"),
        ("etag", "\"abc\""),
        ("cache-control", "public, max-age=31536000, immutable"),
        ("x-request-id", "first-request-1"),
    ];

    #[test]
    fn query_order_does_not_matter_and_empty_pairs_are_dropped() {
        assert_eq!(sorted_query(Some("b=2&a=1&&")), "a=1&b=2");
        assert_eq!(
            public_key("/api/gifts", Some("page=2&limit=5")),
            public_key("/api/gifts", Some("limit=5&page=2"))
        );
    }

    #[test]
    fn repeated_names_keep_their_order_as_the_origin_reads_them() {
        // The origin takes a name's last value (and reads `x[]` and `%78` as `x`).
        for (one, other) in [
            ("limit=1&limit=100", "limit=100&limit=1"),
            ("x[]=1&x=2", "x=2&x[]=1"),
            ("l%69mit=1&limit=100", "limit=100&l%69mit=1"),
            ("x%5B%5D=1&x=2", "x=2&x%5B%5D=1"),
        ] {
            assert_ne!(
                public_key("/api/gifts", Some(one)),
                public_key("/api/gifts", Some(other)),
                "{one} / {other}"
            );
        }
        assert_eq!(
            sorted_query(Some("page=2&limit=1&a=0&limit=100")),
            "a=0&limit=1&limit=100&page=2"
        );
    }

    #[test]
    fn personal_keys_differ_by_user_and_version() {
        let key = personal_key(1, 0, "/api/users/self", None);
        assert_ne!(key, personal_key(2, 0, "/api/users/self", None));
        assert_ne!(key, personal_key(1, 1, "/api/users/self", None));
        assert_ne!(key, public_key("/api/users/self", None));
    }

    #[test]
    fn a_stored_entry_keeps_the_origins_headers_but_not_the_request_id() {
        let origin = headers(&UPLOAD);
        let stored = for_storage(&origin, 86_400);
        assert_eq!(get(&stored, "x-request-id"), None);
        assert_eq!(get(&stored, "cache-control"), Some("public, max-age=86400"));
        assert_eq!(get(&stored, "etag"), Some("\"abc\""));
        let restored = from_storage(&stored);
        assert_eq!(
            get(&restored, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(get(&restored, ORIGIN_CACHE_CONTROL), None);
        // Without an origin Cache-Control, nothing is restored in its place.
        let plain = from_storage(&for_storage(&headers(&[("etag", "\"x\"")]), 30));
        assert_eq!(get(&plain, "cache-control"), None);
    }

    #[test]
    fn only_200s_the_origin_lets_others_see_are_stored() {
        let public = Cache::Public { ttl_secs: 30 };
        let personal = Cache::Personal { ttl_secs: 60 };
        assert!(may_store(200, &headers(&UPLOAD), public));
        assert!(may_store(200, &[], public));
        assert!(may_store(200, &[], personal));
        for status in [206, 304, 404, 500] {
            assert!(!may_store(status, &[], public), "{status}");
            assert!(!may_store(status, &[], personal), "{status}");
        }
        let no_store = headers(&[("cache-control", "no-store")]);
        assert!(!may_store(200, &no_store, public));
        assert!(!may_store(200, &no_store, personal));
        let private = headers(&[("Cache-Control", "private, max-age=5")]);
        assert!(!may_store(200, &private, public));
        assert!(may_store(200, &private, personal));
        assert!(!may_store(
            200,
            &headers(&[("set-cookie", "a=b")]),
            personal
        ));
        assert!(!may_store(200, &[], Cache::None));
    }

    #[test]
    fn clients_see_the_origins_lifetime_on_public_routes_and_never_a_public_error() {
        let public = Cache::Public { ttl_secs: 30 };
        let upload = for_client(&headers(&UPLOAD), 200, public);
        assert_eq!(
            get(&upload, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(get(&upload, "etag"), Some("\"abc\""));
        assert_eq!(get(&upload, "x-request-id"), None);
        let list = for_client(
            &headers(&[("content-type", "application/json")]),
            200,
            public,
        );
        assert_eq!(get(&list, "cache-control"), Some("public, max-age=30"));
        for status in [400, 404, 429, 500, 502, 503] {
            let error = for_client(&headers(&UPLOAD), status, public);
            assert_eq!(get(&error, "cache-control"), Some("no-store"), "{status}");
        }
        let personal = Cache::Personal { ttl_secs: 60 };
        let mine = for_client(&headers(&UPLOAD), 200, personal);
        assert_eq!(get(&mine, "cache-control"), Some("private, no-cache"));
        assert_eq!(
            get(&for_client(&[], 401, personal), "cache-control"),
            Some("no-store")
        );
        assert_eq!(
            for_client(&headers(&UPLOAD[..3]), 200, Cache::None),
            headers(&UPLOAD[..3])
        );
    }

    #[test]
    fn if_none_match_matches_weakly_by_list_or_star() {
        let answer = headers(&UPLOAD);
        let not_modified = |condition| is_not_modified(Some(condition), None, &answer);
        assert!(not_modified("\"abc\""));
        assert!(not_modified("W/\"abc\""));
        assert!(not_modified("\"zzz\", \"abc\""));
        assert!(not_modified("\"zzz\",W/\"abc\""));
        assert!(not_modified("*"));
        assert!(!not_modified("\"abd\""));
        assert!(!not_modified("abc"));
        assert!(!not_modified(""));
        assert!(!not_modified("\"abc"));
        let weak = headers(&[("etag", "W/\"abc\"")]);
        assert!(is_not_modified(Some("\"abc\""), None, &weak));
        // Without an ETag nothing matches, not even `*` (the answer has no validator to match).
        assert!(!is_not_modified(Some("*"), None, &[]));
        assert!(!is_not_modified(None, None, &answer));
    }

    #[test]
    fn if_modified_since_needs_the_exact_last_modified_and_yields_to_if_none_match() {
        const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
        let answer = headers(&[("last-modified", DATE), ("etag", "\"v1\"")]);
        assert!(is_not_modified(None, Some(DATE), &answer));
        assert!(!is_not_modified(
            None,
            Some("Mon, 07 Nov 1994 08:49:37 GMT"),
            &answer
        ));
        assert!(!is_not_modified(Some("\"v2\""), Some(DATE), &answer));
        assert!(!is_not_modified(None, Some(DATE), &[]));
    }

    #[test]
    fn a_304_repeats_the_validators_and_lifetime_but_no_body_headers() {
        let answer = for_client(&headers(&UPLOAD), 200, Cache::Public { ttl_secs: 30 });
        let mut with_ours = answer.clone();
        with_ours.push(("x-cache".to_owned(), "HIT".to_owned()));
        with_ours.push(("content-length".to_owned(), "3".to_owned()));
        let kept = not_modified_headers(&with_ours);
        assert_eq!(get(&kept, "etag"), Some("\"abc\""));
        assert_eq!(
            get(&kept, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(get(&kept, "x-cache"), Some("HIT"));
        assert_eq!(get(&kept, "content-type"), None);
        assert_eq!(get(&kept, "content-length"), None);
    }
}
