//! Where an [`AppError`] becomes a response: its status, the problem for the dialect layer to
//! render (`render_in_dialect`), and the edge instructions that travel with it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::Problem;

use crate::error::AppError;

/// Marks a response whose body the dialect layer must render from this problem.
#[derive(Debug, Clone)]
pub struct ProblemResponse(pub Problem);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (problem, instructions) = match self {
            AppError::Problem(problem, instructions) => (problem, instructions),
            AppError::Internal(error) => {
                tracing::error!(error = ?error, "internal error");
                (Problem::Internal, Vec::new())
            }
        };
        let status = StatusCode::from_u16(problem.status(shared::Dialect::Print))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = status.into_response();
        response.extensions_mut().insert(ProblemResponse(problem));
        super::reply::attach_instructions(&mut response, &instructions);
        response
    }
}
