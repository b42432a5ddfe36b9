//! The JavaScript-facing half of the worker: the fetch handler, the Durable Objects, and the
//! calls into the Workers runtime (fetch, Cache API, clock).

mod auth;
mod error;
mod origin;
mod rate_limiter;
mod routes;
mod user_state;

use worker::{Context, Env, Request, Response, Result, event};

#[event(fetch)]
async fn fetch(request: Request, env: Env, _context: Context) -> Result<Response> {
    Ok(routes::handle(request, env).await)
}

/// The origin's URL (`[vars]`) and the shared secret the edge proves itself with (a secret).
pub fn origin_settings(env: &Env) -> std::result::Result<(String, String), shared::Problem> {
    let origin = env
        .var("ORIGIN_URL")
        .map_err(|e| error::internal("ORIGIN_URL", e))?
        .to_string();
    let secret = env
        .secret("EDGE_SHARED_SECRET")
        .map_err(|e| error::internal("EDGE_SHARED_SECRET", e))?
        .to_string();
    Ok((origin, secret))
}

/// Now, from the worker's clock, in milliseconds and seconds.
pub fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

pub fn now_secs() -> i64 {
    (now_ms() / 1000) as i64
}
