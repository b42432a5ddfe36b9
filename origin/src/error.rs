//! The error handlers return. It is the domain's error (`origin_core::Error`) under a type of
//! this crate, so that `http::problem` can make it a response (the orphan rule allows
//! `IntoResponse` only for a local type); `?` converts the domain's errors into it.

use origin_core::db::StorageError;
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

impl From<origin_core::Error> for AppError {
    fn from(error: origin_core::Error) -> Self {
        match error {
            origin_core::Error::Problem(problem, instructions) => {
                AppError::Problem(problem, instructions)
            }
            origin_core::Error::Internal(error) => AppError::Internal(error),
        }
    }
}

impl From<Problem> for AppError {
    fn from(problem: Problem) -> Self {
        AppError::Problem(problem, Vec::new())
    }
}

/// A storage error means to a handler what it means to the domain.
impl From<StorageError> for AppError {
    fn from(error: StorageError) -> Self {
        AppError::from(origin_core::Error::from(error))
    }
}
