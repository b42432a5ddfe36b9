//! Who is calling: the access token from the dialect's header, verified and checked against
//! the session table.
//!
//! A token that passed both checks is remembered ([`VerifiedTokens`]) with the session epoch
//! read before the session was: while the epoch has not moved and the token has not expired,
//! the same token string is the same caller, so neither the signature nor the session table
//! is read again. Any committed change that could end a session moves the epoch before the
//! change is acknowledged (`db` module), so revocation is exactly as immediate as without
//! the cache.

use std::collections::HashMap;
use std::sync::Mutex;

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
        if let Some(caller) = state.verified.get(token, now, epoch) {
            crate::http::WriterSlot::fill(parts, caller.user_id);
            return Ok(caller);
        }
        let claims = state
            .keys
            .verify(token, TokenType::Access, now, 0)
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
        let caller = Caller {
            user_id: active.user_id,
            sid: active.sid,
            admin: active.admin,
        };
        state.verified.put(token, caller.clone(), claims.exp, epoch);
        crate::http::WriterSlot::fill(parts, caller.user_id);
        Ok(caller)
    }
}

/// Access tokens that were verified and found live, by token string.
#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<String, Verified>>,
}

struct Verified {
    caller: Caller,
    expires_at: i64,
    epoch: u64,
}

impl VerifiedTokens {
    /// At most this many tokens are remembered; when full, the cache starts over.
    pub const CAPACITY: usize = 16_384;

    /// The caller `token` was verified as, if that happened at `epoch` and it is still live.
    pub fn get(&self, token: &str, now: i64, epoch: u64) -> Option<Caller> {
        let entries = self.entries.lock().ok()?;
        let verified = entries.get(token)?;
        (verified.epoch == epoch && now < verified.expires_at).then(|| verified.caller.clone())
    }

    pub fn put(&self, token: &str, caller: Caller, expires_at: i64, epoch: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= Self::CAPACITY
            || entries.values().next().is_some_and(|v| v.epoch != epoch)
        {
            // A moved epoch makes every entry useless.
            entries.clear();
        }
        entries.insert(
            token.to_owned(),
            Verified {
                caller,
                expires_at,
                epoch,
            },
        );
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
