//! The Cloudflare Worker in front of the origin. It acts on `shared`'s route policy table:
//! per-IP rate limits (exact, in Durable Objects), JWT verification with the origin's public
//! key, revocation and data versions per user (a Durable Object per user), the Cache API for
//! public and personal reads, and forwarding everything else to the origin.
//!
//! The decisions are pure functions in the modules below, tested natively with `cargo test`;
//! the JavaScript-facing glue (`worker` crate) is compiled for wasm32 only.

pub mod body;
pub mod cache;
pub mod cors;
pub mod forward;
pub mod jwt;
pub mod ratelimit;
pub mod request_id;
pub mod revocation;

#[cfg(target_arch = "wasm32")]
mod glue;

/// The edge's own routes, outside the policy table.
pub mod internal {
    /// Where the origin delivers invalidations for writes that did not pass through the edge.
    pub const INVALIDATE_PATH: &str = "/__edge/invalidate";
    /// A route that does nothing, to measure the worker's own cost.
    pub const HEALTH_PATH: &str = "/__edge/health";
    /// A route that panics, enabled only when `EDGE_TEST_PANIC_ROUTE=1` (end-to-end tests).
    pub const PANIC_PATH: &str = "/__edge/panic";
}
