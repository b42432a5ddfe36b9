//! The origin's one error type. Handlers return it; the dialect layer renders it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::Problem;
use shared::invalidate::Instruction;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Something the client can act on, plus any edge instructions that must travel with it
    /// (a refresh-token reuse answers 401 *and* revokes the session at the edge).
    #[error("{0:?}")]
    Problem(Problem, Vec<Instruction>),
    /// A bug or an outage: logged with its cause, answered with a generic 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<Problem> for AppError {
    fn from(problem: Problem) -> Self {
        AppError::Problem(problem, Vec::new())
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(error: rusqlite::Error) -> Self {
        AppError::Internal(error.into())
    }
}

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
        crate::http::reply::attach_instructions(&mut response, &instructions);
        response
    }
}
