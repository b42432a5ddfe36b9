//! Who is calling: the access token from the dialect's header, verified and checked against
//! the session table, or found in the cache of verified tokens (`tokens::VerifiedTokens`).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use shared::Problem;
use shared::claims::TokenType;
use shared::headers::PRINT_TOKEN;

use crate::AppState;
use crate::clock;
use crate::db::{roles, sessions};
use crate::error::AppError;
use crate::tokens::VerifiedAccess;

/// The token a request presents: the print `token` header, or `Authorization: Bearer` — the
/// rule the edge applies too (`shared::claims::presented_token`).
pub fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    shared::claims::presented_token(header(PRINT_TOKEN), header(AUTHORIZATION.as_str()))
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
        let now = clock::now();
        let epoch = state.db.session_epoch();
        if let Some(access) = state.verified.get(token, now, epoch) {
            crate::http::WriterSlot::fill(parts, access.user_id);
            return Ok(Caller::from(access));
        }
        let claims = state
            .keys
            .verify(token, TokenType::Access, now, 0)
            .map_err(|_| Problem::Unauthenticated)?;
        let jti = claims.jti.clone();
        let active = state
            .db
            .read_short(move |conn| sessions::active_access(conn, &jti))
            .await?
            .ok_or(Problem::Unauthenticated)?;
        if Some(active.user_id) != claims.user_id() || active.sid != claims.sid {
            return Err(Problem::Unauthenticated.into());
        }
        let access = VerifiedAccess {
            user_id: active.user_id,
            sid: active.sid,
            admin: active.admin,
        };
        state.verified.put(token, access.clone(), claims.exp, epoch);
        crate::http::WriterSlot::fill(parts, access.user_id);
        Ok(Caller::from(access))
    }
}

impl From<VerifiedAccess> for Caller {
    fn from(access: VerifiedAccess) -> Caller {
        Caller {
            user_id: access.user_id,
            sid: access.sid,
            admin: access.admin,
        }
    }
}

/// An admin session holding a given permission.
pub async fn require_permission(
    state: &AppState,
    caller: &Caller,
    permission: shared::Permission,
) -> Result<(), AppError> {
    if !caller.admin {
        return Err(Problem::PermissionDenied.into());
    }
    let user_id = caller.user_id;
    let allowed = state
        .db
        .read(move |conn| roles::has_permission(conn, user_id, permission.name()))
        .await?;
    if allowed {
        Ok(())
    } else {
        Err(Problem::PermissionDenied.into())
    }
}
