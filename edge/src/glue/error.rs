//! Problems rendered in the dialect's envelope, as the origin would render them.

use shared::{Dialect, Problem};
use worker::{Headers, Response, ResponseBuilder};

pub fn problem_response(problem: &Problem, dialect: Dialect) -> Response {
    let rendered = problem.render(dialect);
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    if let Some(seconds) = rendered.retry_after {
        let _ = headers.set("retry-after", &seconds.to_string());
    }
    ResponseBuilder::new()
        .with_status(rendered.status)
        .with_headers(headers)
        .fixed(rendered.body.to_string().into_bytes())
}

/// Logs a runtime error and turns it into the problem the client sees.
pub fn internal(context: &str, error: impl std::fmt::Display) -> Problem {
    worker::console_error!("{context}: {error}");
    Problem::Internal
}
