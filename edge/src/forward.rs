//! Which headers cross the edge. Hop-by-hop headers never do; a client may not forge our own
//! edge ↔ origin headers; the origin's instructions to the edge never reach clients.

use shared::headers::{CLIENT_IP, EDGE_INVALIDATE, EDGE_SECRET};

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

/// Whether a client's request header is passed to the origin.
pub fn forward_request_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !is_hop_by_hop(&name)
        && name != "content-length"
        && name != EDGE_SECRET
        && name != CLIENT_IP
        && name != EDGE_INVALIDATE
        && !name.starts_with("cf-")
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
        ] {
            assert!(!forward_request_header(name), "{name}");
        }
        for name in [
            "authorization",
            "token",
            "content-type",
            "x-request-id",
            "accept",
        ] {
            assert!(forward_request_header(name), "{name}");
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
