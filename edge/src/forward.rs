//! Which headers cross the edge. Hop-by-hop headers never do; a client may not forge our own
//! edge ↔ origin headers (the edge sets `x-request-id` itself, see `request_id`); the origin's
//! instructions to the edge never reach clients. On cacheable routes the client's conditions
//! stay at the edge, which answers them: the origin is asked for the full answer it can store.

use shared::headers::{CLIENT_IP, EDGE_INVALIDATE, EDGE_SECRET, REQUEST_ID};

/// Seconds the edge waits for the origin before answering 503.
pub const ORIGIN_TIMEOUT_SECS: u64 = 15;

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.contains(&name)
}

/// Conditional-request headers, answered by the edge on cacheable routes.
const CONDITIONS: [&str; 2] = ["if-none-match", "if-modified-since"];

/// Whether a client's request header is passed to the origin, on a route the edge caches
/// (`cacheable`) or not.
pub fn forward_request_header(name: &str, cacheable: bool) -> bool {
    let name = name.to_ascii_lowercase();
    !is_hop_by_hop(&name)
        && name != "content-length"
        && name != EDGE_SECRET
        && name != CLIENT_IP
        && name != EDGE_INVALIDATE
        && name != REQUEST_ID
        && !name.starts_with("cf-")
        && !(cacheable && CONDITIONS.contains(&name.as_str()))
}

/// Whether an origin response header is passed to the client.
pub fn forward_response_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !is_hop_by_hop(&name) && name != "content-length" && name != EDGE_INVALIDATE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_cannot_forge_edge_headers_and_hop_by_hop_headers_stop_here() {
        for name in [
            "X-Edge-Secret",
            "x-client-ip",
            "x-edge-invalidate",
            "Connection",
            "Host",
            "CF-Connecting-IP",
            "X-Request-Id",
        ] {
            assert!(!forward_request_header(name, false), "{name}");
        }
        for name in ["authorization", "token", "content-type", "accept"] {
            assert!(forward_request_header(name, false), "{name}");
            assert!(forward_request_header(name, true), "{name}");
        }
    }

    #[test]
    fn conditions_reach_the_origin_only_on_routes_the_edge_does_not_cache() {
        for name in ["If-None-Match", "if-modified-since"] {
            assert!(forward_request_header(name, false), "{name}");
            assert!(!forward_request_header(name, true), "{name}");
        }
    }

    #[test]
    fn instructions_to_the_edge_never_reach_clients() {
        assert!(!forward_response_header("x-edge-invalidate"));
        assert!(!forward_response_header("transfer-encoding"));
        assert!(forward_response_header("x-request-id"));
        assert!(forward_response_header("retry-after"));
    }
}
