//! The HTTP side of the metrics: `GET /metrics` serves the registry's exposition text
//! (`ops::metrics`), and [`track`] times every request of both listeners into it.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::ops::metrics::{self, Metrics};

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        metrics::exposition(&state).await,
    )
        .into_response()
}

/// Middleware for both listeners: times each request and counts it under its route template
/// (`/api/users/self/addresses/{id}`, so the label set stays bounded), or `unmatched`.
pub async fn track(metrics: Metrics, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = match request.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.observe_request(route, method, response.status().as_u16(), started.elapsed());
    response
}
