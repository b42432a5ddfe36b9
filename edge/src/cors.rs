//! `OPTIONS`, `Allow` and CORS. Browsers may call the API from the origins on an allow-list
//! (`CORS_ALLOWED_ORIGINS` in `[vars]`, exact origins, comma-separated; empty allows none). The
//! allowed origin is echoed, never `*`, and credentials are never allowed: both APIs take their
//! tokens from headers, not cookies. Every answer to a request that names an `Origin` varies on
//! it, so a shared cache never hands one origin's answer to another. CORS headers are computed
//! per request and never stored in the edge's cache.

use shared::policy::Method;

/// How long a browser may reuse a preflight answer.
pub const MAX_AGE_SECS: u32 = 600;
/// Request headers a browser may send: both dialects' token headers, JSON bodies, request ids.
pub const ALLOWED_HEADERS: &str = "authorization, content-type, token, x-request-id";
/// Response headers a browser script may read beyond the CORS-safelisted ones.
pub const EXPOSED_HEADERS: &str = "x-request-id, retry-after, x-cache";

/// The origins browsers may call the API from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    origins: Vec<String>,
}

impl AllowList {
    /// Reads `CORS_ALLOWED_ORIGINS`: exact origins separated by commas. A trailing `/` is
    /// dropped (an origin has no path); `*` and `null` are never allowed, so they are ignored.
    pub fn parse(raw: &str) -> AllowList {
        let origins = raw
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/'))
            .filter(|origin| !origin.is_empty() && *origin != "*" && *origin != "null")
            .map(str::to_owned)
            .collect();
        AllowList { origins }
    }

    pub fn allows(&self, origin: &str) -> bool {
        self.origins.iter().any(|allowed| allowed == origin)
    }
}

/// A path's methods as `Allow` lists them (405 and `OPTIONS` answers): the table's methods,
/// `HEAD` wherever `GET` is, and `OPTIONS`, which the edge answers for every known path.
pub fn allow_header(methods: &[Method]) -> String {
    let mut names = Vec::new();
    for method in methods {
        names.push(method.as_str());
        if *method == Method::Get {
            names.push("HEAD");
        }
    }
    names.push("OPTIONS");
    names.join(", ")
}

/// CORS headers for any answer to a request carrying `origin` (preflights add theirs).
pub fn response_headers(allow: &AllowList, origin: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(origin) = origin else {
        return Vec::new();
    };
    let mut headers = vec![("vary", "Origin".to_owned())];
    if allow.allows(origin) {
        headers.push(("access-control-allow-origin", origin.to_owned()));
        headers.push(("access-control-expose-headers", EXPOSED_HEADERS.to_owned()));
    }
    headers
}

/// The headers that let a browser go on after a preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) for a path with `methods`. Nothing unless the origin is
/// allowed and the method is one the path has: the browser then refuses the call itself.
pub fn preflight_headers(
    allow: &AllowList,
    origin: Option<&str>,
    requested_method: Option<&str>,
    methods: &[Method],
) -> Vec<(&'static str, String)> {
    let (Some(origin), Some(requested)) = (origin, requested_method) else {
        return Vec::new();
    };
    let requested_is_allowed = Method::parse(requested).is_some_and(|m| methods.contains(&m));
    if !allow.allows(origin) || !requested_is_allowed {
        return Vec::new();
    }
    let listed: Vec<&str> = methods
        .iter()
        .flat_map(|&m| match m {
            Method::Get => vec!["GET", "HEAD"],
            other => vec![other.as_str()],
        })
        .collect();
    vec![
        ("access-control-allow-origin", origin.to_owned()),
        ("access-control-allow-methods", listed.join(", ")),
        ("access-control-allow-headers", ALLOWED_HEADERS.to_owned()),
        ("access-control-max-age", MAX_AGE_SECS.to_string()),
    ]
}

/// `Vary` with `name` added to what the answer already varies on.
pub fn merge_vary(existing: Option<&str>, name: &str) -> String {
    let Some(existing) = existing.map(str::trim).filter(|v| !v.is_empty()) else {
        return name.to_owned();
    };
    let listed = existing
        .split(',')
        .map(str::trim)
        .any(|item| item == "*" || item.eq_ignore_ascii_case(name));
    if listed {
        existing.to_owned()
    } else {
        format!("{existing}, {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: &str = "https://shop.example.com";

    fn shop_only() -> AllowList {
        AllowList::parse(" https://shop.example.com/ , https://h5.example.com")
    }

    #[test]
    fn the_allow_list_is_exact_and_never_a_wildcard() {
        let allow = shop_only();
        assert!(allow.allows(SHOP));
        assert!(allow.allows("https://h5.example.com"));
        assert!(!allow.allows("http://shop.example.com"));
        assert!(!allow.allows("https://shop.example.com.evil.test"));
        assert!(!allow.allows("https://evil.test"));
        assert!(!AllowList::parse("*, null").allows("*"));
        assert!(!AllowList::parse("*, null").allows("null"));
        assert_eq!(AllowList::parse(""), AllowList::default());
        assert!(!AllowList::parse("").allows(SHOP));
    }

    #[test]
    fn an_allowed_origin_is_echoed_and_every_origin_is_varied_on() {
        let allow = shop_only();
        assert_eq!(
            response_headers(&allow, Some(SHOP)),
            vec![
                ("vary", "Origin".to_owned()),
                ("access-control-allow-origin", SHOP.to_owned()),
                ("access-control-expose-headers", EXPOSED_HEADERS.to_owned()),
            ]
        );
        assert_eq!(
            response_headers(&allow, Some("https://evil.test")),
            vec![("vary", "Origin".to_owned())]
        );
        assert!(response_headers(&allow, None).is_empty());
        let all: Vec<_> = response_headers(&allow, Some(SHOP));
        assert!(
            all.iter()
                .all(|(name, _)| *name != "access-control-allow-credentials")
        );
    }

    #[test]
    fn a_preflight_from_an_allowed_origin_for_a_method_of_the_path_is_answered() {
        let allow = shop_only();
        let headers = preflight_headers(&allow, Some(SHOP), Some("POST"), &[Method::Post]);
        assert_eq!(
            headers,
            vec![
                ("access-control-allow-origin", SHOP.to_owned()),
                ("access-control-allow-methods", "POST".to_owned()),
                ("access-control-allow-headers", ALLOWED_HEADERS.to_owned()),
                ("access-control-max-age", "600".to_owned()),
            ]
        );
        let get = preflight_headers(
            &allow,
            Some(SHOP),
            Some("get"),
            &[Method::Get, Method::Post],
        );
        assert_eq!(get[1].1, "GET, HEAD, POST");
        assert!(ALLOWED_HEADERS.contains("token") && ALLOWED_HEADERS.contains("authorization"));
    }

    #[test]
    fn other_preflights_get_no_cors_headers() {
        let allow = shop_only();
        let post = [Method::Post];
        assert!(
            preflight_headers(&allow, Some("https://evil.test"), Some("POST"), &post).is_empty()
        );
        assert!(preflight_headers(&allow, Some(SHOP), Some("DELETE"), &post).is_empty());
        assert!(preflight_headers(&allow, Some(SHOP), Some("PATCH"), &post).is_empty());
        assert!(preflight_headers(&allow, Some(SHOP), None, &post).is_empty());
        assert!(preflight_headers(&allow, None, Some("POST"), &post).is_empty());
        assert!(
            preflight_headers(&AllowList::default(), Some(SHOP), Some("POST"), &post).is_empty()
        );
    }

    #[test]
    fn allow_lists_the_paths_methods_with_head_and_options() {
        assert_eq!(allow_header(&[Method::Post]), "POST, OPTIONS");
        assert_eq!(
            allow_header(&[Method::Get, Method::Post]),
            "GET, HEAD, POST, OPTIONS"
        );
    }

    #[test]
    fn vary_keeps_what_the_answer_already_varies_on() {
        assert_eq!(merge_vary(None, "Origin"), "Origin");
        assert_eq!(merge_vary(Some(""), "Origin"), "Origin");
        assert_eq!(
            merge_vary(Some("accept-encoding"), "Origin"),
            "accept-encoding, Origin"
        );
        assert_eq!(
            merge_vary(Some("Accept-Encoding, origin"), "Origin"),
            "Accept-Encoding, origin"
        );
        assert_eq!(merge_vary(Some("*"), "Origin"), "*");
    }
}
