//! The origin's one error type. The domain and handlers return it; `http::problem` turns it
//! into a response that the dialect layer renders.

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
