//! The error of the domain and the services under it: a problem for the client (with any edge
//! instructions that must travel with it), or an internal failure. It knows nothing of HTTP;
//! the `origin` crate's `http::problem` renders it.

use shared::Problem;
use shared::invalidate::Instruction;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Something the client can act on, plus any edge instructions that must travel with it
    /// (a refresh-token reuse answers 401 *and* revokes the session at the edge).
    #[error("{0:?}")]
    Problem(Problem, Vec<Instruction>),
    /// A bug or an outage: logged with its cause, answered with a generic 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Error::Problem(problem, Vec::new())
    }
}

impl From<rusqlite::Error> for Error {
    fn from(error: rusqlite::Error) -> Self {
        Error::Internal(error.into())
    }
}
