//! Exact per-key rate limiting: the sliding log in `shared`, kept by one Durable Object per
//! `limit:client-network` key (see `glue::rate_limiter`).

pub use shared::ratelimit::{SlidingLog, object_name, parse_rule, var_name};
