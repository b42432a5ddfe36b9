//! Path parameters. A path that names no resource is the dialect's 404, whatever is wrong with
//! it: an id that is not a positive integer, or a segment whose percent-encoding is invalid or
//! decodes to bytes that are not UTF-8 (axum's own rejection would be a plain-text 400).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use shared::Problem;

use crate::error::AppError;

/// The `{id}` of a path: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathId(pub i64);

/// The one text segment of a path (`{provider}`, `{key}`), decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathText(pub String);

/// An `{id}` followed by one text segment (`/admin/users/{id}/sessions/{sid}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathIdText(pub i64, pub String);

/// A positive integer id, or not found.
pub fn path_id(raw: &str) -> Result<i64, Problem> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::NotFound);
    }
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(Problem::NotFound)
}

impl<S: Send + Sync> FromRequestParts<S> for PathText {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| Problem::NotFound)?;
        Ok(PathText(text))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let PathText(raw) = PathText::from_request_parts(parts, state).await?;
        Ok(PathId(path_id(&raw)?))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathIdText {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path((id, text)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| Problem::NotFound)?;
        Ok(PathIdText(path_id(&id)?, text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positive_integers_written_plainly() {
        assert_eq!(path_id("12"), Ok(12));
        for bad in [
            "0",
            "-1",
            "+1",
            " 1",
            "1.0",
            "",
            "99999999999999999999",
            "1e3",
        ] {
            assert_eq!(path_id(bad), Err(Problem::NotFound), "{bad}");
        }
    }
}
