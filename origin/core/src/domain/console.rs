//! The web console's sign-in: the back office's own password sign-in (`SignInDoor::AdminListener`
//! and its attempt counter), held in an `HttpOnly` cookie instead of a bearer token. A console
//! sign-in rides on an ordinary session, so it ends with it: sign-out, an admin revoking the
//! user's sessions, or the account being disabled; and it expires on its own after
//! [`CONSOLE_SESSION_SECS`]. Permissions are read afresh on every request, never cached in the
//! cookie, so a role taken away takes effect on the next click.

use sha2::{Digest, Sha256};

use crate::AppState;
use crate::clock;
use crate::db::console_sessions;
use crate::db::{roles, sessions, users};
use crate::domain::identity::{self, SignInDoor};
use crate::error::Result;
use crate::ids;

/// A console sign-in lasts one working day at most.
pub const CONSOLE_SESSION_SECS: i64 = 8 * 3600;

/// A new console sign-in: the cookie's value (shown to the browser once, stored hashed).
pub struct ConsoleSignIn {
    pub cookie: String,
    pub expires_at: i64,
}

fn digest(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

/// Signs an operator in with the rules of `POST /admin/login` (only holders of a role; the
/// admin listener's own failed-attempt counter).
pub async fn sign_in(
    state: &AppState,
    username: String,
    password: String,
) -> Result<ConsoleSignIn> {
    let tokens =
        identity::login_with_password(state, username, password, true, SignInDoor::AdminListener)
            .await?;
    let cookie = ids::random_hex(32);
    let token_hash = digest(&cookie);
    let csrf = ids::random_hex(32);
    let now = clock::now();
    let expires_at = now + CONSOLE_SESSION_SECS;
    state
        .db
        .write(move |tx| -> Result<()> {
            console_sessions::delete_expired(tx, now)?;
            console_sessions::insert(tx, &token_hash, &tokens.sid, &csrf, now, expires_at)?;
            Ok(())
        })
        .await?;
    Ok(ConsoleSignIn { cookie, expires_at })
}

/// The operator behind a console cookie, with what they may do now.
#[derive(Debug, Clone)]
pub struct Operator {
    pub user_id: i64,
    pub session_id: String,
    /// The form token every state-changing request must carry.
    pub csrf: String,
    /// Account, phone or e-mail, as the audit log names them.
    pub name: String,
    pub super_admin: bool,
    pub permissions: Vec<String>,
    pub expires_at: i64,
}

impl Operator {
    pub fn may(&self, permission: shared::Permission) -> bool {
        self.super_admin || self.permissions.iter().any(|p| p == permission.name())
    }
}

/// Who holds this cookie, if its sign-in still holds.
pub async fn operator(state: &AppState, cookie: &str) -> Result<Option<Operator>> {
    let token_hash = digest(cookie);
    let now = clock::now();
    state
        .db
        .read(move |conn| -> Result<Option<Operator>> {
            let Some(active) = console_sessions::active(conn, &token_hash, now)? else {
                return Ok(None);
            };
            let Some(user) = users::by_id(conn, active.user_id)? else {
                return Ok(None);
            };
            let name = user
                .account
                .or(user.phone)
                .or(user.email)
                .unwrap_or_else(|| format!("user {}", user.id));
            Ok(Some(Operator {
                user_id: active.user_id,
                session_id: active.session_id,
                csrf: active.csrf,
                name,
                super_admin: roles::is_super_admin(conn, active.user_id)?,
                permissions: roles::permissions(conn, active.user_id)?,
                expires_at: active.expires_at,
            }))
        })
        .await
}

/// Ends the operator's console sign-in and the session under it.
pub async fn sign_out(state: &AppState, session_id: String) -> Result<()> {
    let now = clock::now();
    state
        .db
        .write(move |tx| -> Result<()> {
            sessions::revoke(tx, &session_id, "signed out", now)?;
            Ok(())
        })
        .await
}
