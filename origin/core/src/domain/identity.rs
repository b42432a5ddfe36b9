//! Sign-up, sign-in and sessions for both dialects: captchas, invitation codes, verification
//! codes, passwords with lockout, token issue, rotation and revocation.

use shared::Problem;
use shared::claims::{REFRESH_GRACE_SECS, TokenType};
use shared::invalidate::Instruction;
use shared::policy::Limit;

use crate::AppState;
use crate::clock;
use crate::db::captchas::{self, CaptchaCheck, NewCaptcha};
use crate::db::codes::{self, Channel, CodeCheck, NewCode};
use crate::db::sessions::{self, Credential, Generation, Lifetimes, Rotation};
use crate::db::sign_in::{self, Lockout};
use crate::db::users::{self, LoginName, NewUser, UserRow};
use crate::db::{StorageResult, edge_outbox, invitations, roles};
use crate::domain::over_limit;
use crate::error::{Error, Result};
use crate::ids;
use crate::notify::{Notification, NotificationChannel};
use crate::passwords::Admission;
use crate::tokens::TokenError;

pub const CAPTCHA_LIFE_SECS: i64 = 300;
pub const CODE_LIFE_SECS: i64 = 300;
/// How long a phone or e-mail bound to an existing account cannot reset its password.
pub const FRESH_CHANNEL_SECS: i64 = 86_400;
const CODE_PER_TARGET_PER_MINUTE: u32 = 1;
const CODE_PER_TARGET_PER_DAY: u32 = 10;

/// Tokens handed to a client after a sign-in or a refresh.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub user_id: i64,
    /// The session the tokens belong to.
    pub sid: String,
    pub access_token: String,
    pub refresh_token: String,
    pub access_ttl_secs: i64,
}

pub(crate) fn lifetimes(state: &AppState) -> Lifetimes {
    Lifetimes {
        access_secs: state.config.access_ttl_secs,
        refresh_secs: state.config.refresh_ttl_secs(),
    }
}

pub(crate) fn issue(state: &AppState, generation: &Generation) -> Result<IssuedTokens> {
    let (access_token, refresh_token) = state.keys.sign_generation(generation)?;
    Ok(IssuedTokens {
        user_id: generation.user_id,
        sid: generation.sid.clone(),
        access_token,
        refresh_token,
        access_ttl_secs: generation.access_expires_at - generation.issued_at,
    })
}

mod by_code;
mod registration;

pub use by_code::*;
pub use registration::*;

/// Which counter a password sign-in is counted on. The admin listener's own sign-in has its own
/// (SPEC §7), so that nobody on the internet can lock an admin out of the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInDoor {
    Public,
    AdminListener,
}

/// The attempt counter of a sign-in: the account's when the name belongs to one, else the
/// name's own, so unknown names are counted and locked exactly like accounts (SPEC §6).
fn attempt_key(door: SignInDoor, user: Option<&UserRow>, name: &LoginName) -> String {
    let key = match user {
        Some(user) => account_attempt_key(user.id),
        None => format!("n:{}", name.key()),
    };
    match door {
        SignInDoor::Public => key,
        SignInDoor::AdminListener => format!("admin:{key}"),
    }
}

pub(crate) fn account_attempt_key(user_id: i64) -> String {
    format!("u:{user_id}")
}

/// Counts a password attempt before the password is hashed; a locked key is refused (429)
/// without counting. A place in the hashing queue is taken first, so a sign-in the server is
/// too busy to evaluate (503) is neither counted nor written anywhere.
pub(crate) async fn count_attempt(state: &AppState, key: String) -> Result<Attempt> {
    let admission = state.hasher.admit()?;
    let key_for_write = key.clone();
    let reserved = state
        .db
        .write(move |tx| sign_in::reserve(tx, &key_for_write, clock::now(), Lockout::SPEC))
        .await?;
    match reserved {
        Ok(()) => Ok(Attempt { key, admission }),
        Err(retry_after) => Err(Problem::Locked { retry_after }.into()),
    }
}

/// A counted password attempt, with its place in the hashing queue.
pub(crate) struct Attempt {
    key: String,
    admission: Admission,
}

impl Attempt {
    /// Verifies `password` against `hash` (or the dummy hash when there is none). Returns
    /// whether it matched and the counter to clear when the caller succeeds.
    pub(crate) async fn verify(
        self,
        state: &AppState,
        password: String,
        hash: Option<String>,
    ) -> Result<(bool, String)> {
        let matches = state
            .hasher
            .verify_admitted(self.admission, password, hash)
            .await?;
        Ok((matches, self.key))
    }
}

/// Password sign-in by account name, phone or e-mail, with lockout (SPEC §6): the attempt is
/// counted before the password is hashed, so concurrent guesses cannot get more than the
/// allowed number evaluated, and a right password that arrives while the key is locked is
/// refused like a wrong one.
pub async fn login_with_password(
    state: &AppState,
    login_name: String,
    password: String,
    as_admin: bool,
    door: SignInDoor,
) -> Result<IssuedTokens> {
    let name = LoginName::parse(&login_name);
    let lookup = name.clone();
    let user = state
        .db
        .read(move |conn| -> Result<_> {
            let user = users::by_login_name(conn, &lookup)?;
            // The back office's door knows only holders of a role: anyone else is an unknown
            // name there, so it neither tells whose password is right nor lends them a second
            // budget of guesses.
            match (door, user) {
                (SignInDoor::AdminListener, Some(user))
                    if !roles::holds_any_role(conn, user.id)? =>
                {
                    Ok(None)
                }
                (_, user) => Ok(user),
            }
        })
        .await?;
    let attempt = count_attempt(state, attempt_key(door, user.as_ref(), &name)).await?;
    let hash = user.as_ref().and_then(|user| user.password_hash.clone());
    let checked_hash = hash.clone();
    let (matches, key) = attempt.verify(state, password, hash).await?;
    let Some(user) = user else {
        return Err(Problem::UnknownAccount.into());
    };
    if !matches {
        // The attempt stays counted: it was a failure.
        return Err(Problem::WrongPassword.into());
    }
    let user_id = user.id;
    // One transaction: the attempts are cleared with the session that proves success. The
    // account is read again in it: a password reset or change, a disable or the removal of the
    // last role may have committed while the password hashed, and a session made from the
    // old state would outlive the sessions that change revoked.
    let lifetimes = lifetimes(state);
    let generation = state
        .db
        .write(move |tx| -> Result<_> {
            let Some(current) = users::by_id(tx, user_id)? else {
                return Ok(Err(Problem::UnknownAccount));
            };
            if current.password_hash != checked_hash {
                return Ok(Err(Problem::WrongPassword));
            }
            if current.disabled {
                return Ok(Err(Problem::Forbidden {
                    message: "账号已被禁用".into(),
                }));
            }
            if as_admin && !roles::holds_any_role(tx, user_id)? {
                return Ok(Err(Problem::PermissionDenied));
            }
            sign_in::clear(tx, &key)?;
            Ok(Ok(sessions::create(
                tx,
                user_id,
                as_admin,
                clock::now(),
                lifetimes,
            )?))
        })
        .await?;
    issue(state, &generation?)
}

// ---------------------------------------------------------------------------------------------
// Refresh and sign-out.

/// Which dialect refreshes: the store presents its (possibly expired) access token, the print
/// dialect its refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStyle {
    StoreAccessToken,
    PrintRefreshToken,
}

pub async fn refresh(
    state: &AppState,
    style: RefreshStyle,
    token: &str,
) -> Result<(IssuedTokens, Vec<Instruction>)> {
    let now = clock::now();
    let (expected, extra_life, credential) = match style {
        RefreshStyle::StoreAccessToken => (
            TokenType::Access,
            state.config.refresh_ttl_secs(),
            Credential::Access,
        ),
        RefreshStyle::PrintRefreshToken => (TokenType::Refresh, 0, Credential::Refresh),
    };
    let claims = match state.keys.verify(token, expected, now, extra_life) {
        Ok(claims) => claims,
        Err(TokenError::Claims(shared::claims::ClaimError::Expired))
            if style == RefreshStyle::StoreAccessToken =>
        {
            return Err(Problem::Expired {
                field: "token".into(),
                message: "令牌已超过可刷新期限，请重新登录".into(),
            }
            .into());
        }
        Err(_) => return Err(Problem::Unauthenticated.into()),
    };
    let lifetimes = lifetimes(state);
    let jti = claims.jti.clone();
    let rotation = state
        .db
        .write(move |tx| -> Result<_> {
            let rotation = sessions::rotate(
                tx,
                credential,
                &jti,
                clock::now(),
                REFRESH_GRACE_SECS,
                lifetimes,
            )?;
            if let Rotation::Reused { user_id, sid } = &rotation {
                let revoked = Instruction::RevokeSession {
                    user: *user_id,
                    sid: sid.clone(),
                };
                keep_for_the_edge(tx, &[revoked])?;
            }
            Ok(rotation)
        })
        .await?;
    match rotation {
        Rotation::Rotated { spent, next } => {
            // The spent generation's access token dies now, at the edge too.
            let instructions = vec![Instruction::RevokeToken {
                user: spent.user_id,
                jti: spent.access_jti,
                exp: spent.access_expires_at,
            }];
            Ok((issue(state, &next)?, instructions))
        }
        Rotation::Replayed { next } => Ok((issue(state, &next)?, Vec::new())),
        Rotation::Reused { user_id, sid } => {
            tracing::warn!(user_id, sid, "refresh token reused: session revoked");
            state.edge_wake.notify_one();
            Err(Error::Problem(
                Problem::Unauthenticated,
                vec![Instruction::RevokeSession { user: user_id, sid }],
            ))
        }
        Rotation::Invalid => Err(Problem::Unauthenticated.into()),
    }
}

/// Revokes the caller's session.
pub async fn logout(state: &AppState, user_id: i64, sid: String) -> Result<Vec<Instruction>> {
    let instructions = vec![Instruction::RevokeSession {
        user: user_id,
        sid: sid.clone(),
    }];
    let kept = instructions.clone();
    state
        .db
        .write(move |tx| -> Result<_> {
            sessions::revoke(tx, &sid, "logout", clock::now())?;
            keep_for_the_edge(tx, &kept)
        })
        .await?;
    state.edge_wake.notify_one();
    Ok(instructions)
}

/// Also queues a user's own revocations in the edge outbox, in their transaction. They reach
/// the edge first in the answer's `x-edge-invalidate` header, which the edge applies before
/// answering; if that fails (its state store errs, the header is lost), nothing retried it,
/// and a revoked token went on reading cached pages until it expired. Applied twice, a
/// revocation changes nothing. A refreshed token's old access token is left to the header
/// alone: it is the owner's own, and dies with its expiry.
fn keep_for_the_edge(tx: &rusqlite::Transaction<'_>, instructions: &[Instruction]) -> Result<()> {
    edge_outbox::enqueue(tx, instructions, clock::now())?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Operator tasks (CLI and admin API).

/// Creates or resets a super-admin with this account name. Idempotent. Sessions ended by a
/// reset are revoked at the edge through the edge outbox (an operator command does not pass
/// through the edge).
pub async fn create_super_admin(
    state: &AppState,
    account: String,
    password: String,
) -> Result<i64> {
    let account = shared::validate::account_name("username", &account)?;
    let password = shared::validate::password("password", &password)?;
    let hash = state.hasher.hash(password).await?;
    let (user_id, entry) = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            let user_id = users::upsert_by_account(tx, &account, &hash, now)?;
            clear_sign_in_locks(tx, user_id)?;
            roles::grant_role(tx, user_id, roles::SUPER_ADMIN_ROLE)?;
            // A reset password ends the sessions made with the old one.
            let sids = sessions::revoke_all(tx, user_id, "password_changed", now)?;
            let entry = edge_outbox::enqueue(tx, &revocations(user_id, sids), now)?;
            Ok((user_id, entry))
        })
        .await?;
    crate::edge_sync::push(state, entry.into_iter().collect()).await;
    Ok(user_id)
}

/// An invitation code as created (`domain::admin::create_invitation`).
pub struct Invitation {
    pub code: String,
    pub uses: i64,
    pub expires_at: Option<i64>,
}
