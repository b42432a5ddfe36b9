//! Who is calling: the access token from the dialect's header, verified and checked against
//! the session table.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use shared::Problem;
use shared::claims::TokenType;
use shared::headers::PRINT_TOKEN;

use crate::AppState;
use crate::clock;
use crate::db::{roles, sessions};
use crate::error::AppError;

/// The token a request presents: the print `token` header, or `Authorization: Bearer`.
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    if let Some(token) = headers.get(PRINT_TOKEN).and_then(|v| v.to_str().ok()) {
        return Some(token.trim()).filter(|t| !t.is_empty());
    }
    let authorization = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A signed-in user with a live session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub sid: String,
    pub admin: bool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = presented_token(&parts.headers).ok_or(Problem::Unauthenticated)?;
        let claims = state
            .keys
            .verify(token, TokenType::Access, clock::now(), 0)
            .map_err(|_| Problem::Unauthenticated)?;
        let jti = claims.jti.clone();
        let active = state
            .db
            .read(move |conn| sessions::active_access(conn, &jti))
            .await?
            .ok_or(Problem::Unauthenticated)?;
        if Some(active.user_id) != claims.user_id() || active.sid != claims.sid {
            return Err(Problem::Unauthenticated.into());
        }
        Ok(Caller {
            user_id: active.user_id,
            sid: active.sid,
            admin: active.admin,
        })
    }
}

/// An admin session holding a given permission.
pub async fn require_permission(
    state: &AppState,
    caller: &Caller,
    permission: &'static str,
) -> Result<(), AppError> {
    if !caller.admin {
        return Err(Problem::PermissionDenied.into());
    }
    let user_id = caller.user_id;
    let allowed = state
        .db
        .read(move |conn| roles::has_permission(conn, user_id, permission))
        .await?;
    if allowed {
        Ok(())
    } else {
        Err(Problem::PermissionDenied.into())
    }
}
