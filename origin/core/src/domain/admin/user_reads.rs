//! What the back office reads about one user — profile, sign-in modes, roles, sessions,
//! ledgers, coupons, messages, uploads — and the audit log, with the two session revocations and
//! unlocking an account.
//! Shared by the admin JSON API and the web console: plain values in and out, no envelope.
//!
//! Nothing here carries a secret: a user is read into [`UserDetail`], which has no field for the
//! password hash or a WeChat identifier, and a session into a row of times, never a token id.

use serde_json::json;
use shared::Problem;
use shared::pagination::{PageRequest, Paged};
use time::{Date, UtcOffset};

use super::{Effect, act, denied, existing_user};
use crate::AppState;
use crate::clock;
use crate::db::audit::{self, Actor, AuditRow};
use crate::db::codes::{self, Channel};
use crate::db::coupons::{self, CouponRow};
use crate::db::ledgers::{self, Entry, Ledger};
use crate::db::messages::{self, MessageRow};
use crate::db::roles;
use crate::db::sessions::{self, SessionRow};
use crate::db::sign_in;
use crate::db::uploads::{self, UserUploadRow};
use crate::db::users::{self, MemberLevel};
use crate::domain::identity::{account_attempt_key, revocations};
use crate::error::{Error, Result};

/// At most this many sessions are listed (the newest); revoking them all revokes every one.
pub const MAX_SESSIONS_LISTED: u32 = 200;

/// Longest `actor` / `action` an audit filter takes.
pub const AUDIT_FILTER_MAX_CHARS: usize = 100;

/// How the user can sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignInModes {
    /// A password is set (with the account name, phone or e-mail).
    pub password: bool,
    pub phone: bool,
    pub email: bool,
    pub wechat: bool,
    /// Password sign-in is locked until then (SPEC §6: too many wrong passwords).
    pub password_locked_until: Option<i64>,
}

/// One user as the back office shows them. Money in cents.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub id: i64,
    pub account: Option<String>,
    pub nickname: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub avatar: String,
    /// 0 unknown, 1 male, 2 female.
    pub sex: i64,
    pub disabled: bool,
    pub created_at: i64,
    pub points: i64,
    /// Every point ever credited: what the member level follows.
    pub history_points: i64,
    pub balance_cents: i64,
    pub level: MemberLevel,
    pub sign_in: SignInModes,
    /// Role names.
    pub roles: Vec<String>,
}

/// One user's profile, figures, sign-in modes and roles; not found for an unknown id.
pub async fn user_detail(state: &AppState, user_id: i64) -> Result<UserDetail> {
    state
        .db
        .read(move |conn| -> Result<UserDetail> {
            let user = users::by_id(conn, user_id)?.ok_or(Problem::NotFound)?;
            let wallet = users::wallet(conn, user_id)?;
            let level = users::member_level(conn, wallet.history_points)?;
            let roles = roles::role_names(conn, user_id)?;
            let locked = sign_in::locked_until(conn, &account_attempt_key(user_id), clock::now())?;
            Ok(UserDetail {
                id: user.id,
                sign_in: SignInModes {
                    password: user.password_hash.is_some(),
                    phone: user.phone.is_some(),
                    email: user.email.is_some(),
                    wechat: user.wechat_bound,
                    password_locked_until: locked,
                },
                account: user.account,
                nickname: user.nickname,
                phone: user.phone,
                email: user.email,
                avatar: user.avatar,
                sex: user.sex,
                disabled: user.disabled,
                created_at: user.created_at,
                points: wallet.points,
                history_points: wallet.history_points,
                balance_cents: wallet.balance_cents,
                level,
                roles,
            })
        })
        .await
}

/// Runs `read` on a reader connection once the user is known to exist (not found otherwise).
async fn of_existing_user<T, F>(state: &AppState, user_id: i64, read: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Connection) -> Result<T> + Send + 'static,
{
    state
        .db
        .read(move |conn| -> Result<T> {
            users::by_id(conn, user_id)?.ok_or(Problem::NotFound)?;
            read(conn)
        })
        .await
}

/// The user's sessions that still let someone in (not revoked, not past their refresh
/// token's life), newest first, at most [`MAX_SESSIONS_LISTED`].
pub async fn user_sessions(state: &AppState, user_id: i64) -> Result<Vec<SessionRow>> {
    let now = clock::now();
    of_existing_user(state, user_id, move |conn| {
        Ok(sessions::active_of_user(
            conn,
            user_id,
            now,
            MAX_SESSIONS_LISTED,
        )?)
    })
    .await
}

/// SPEC §7's boundary for acting on an account: ending an admin's sessions takes their powers
/// away for a while, so only a holder of every role they hold may (a super-admin's, only a
/// super-admin) — the rule disabling them follows (`update_user`). A 用户管理 admin could
/// otherwise sign a 财务 admin out again and again. The command line is not bounded. Read
/// inside the action's transaction.
fn may_touch(tx: &rusqlite::Transaction<'_>, actor: &Actor, user_id: i64) -> Result<()> {
    let Some(authority) = super::Authority::of(tx, actor)? else {
        return Ok(());
    };
    for role in roles::role_names(tx, user_id)? {
        if !authority.may_assign(tx, &role)? {
            return Err(denied());
        }
    }
    Ok(())
}

/// Revokes one of the user's sessions, the edge included (`user.session.revoke`). Not found
/// unless `sid` is a session of this user that is not revoked yet; a super-admin's sessions
/// only a super-admin revokes (403, nothing changed).
pub async fn revoke_user_session(
    state: &AppState,
    actor: Actor,
    user_id: i64,
    sid: String,
) -> Result<()> {
    let boundary_of = actor.clone();
    act(state, actor, "user.session.revoke", move |tx, now| {
        existing_user(tx, user_id)?;
        may_touch(tx, &boundary_of, user_id)?;
        if !sessions::revoke_of_user(tx, user_id, &sid, "admin", now)? {
            return Err(Problem::NotFound.into());
        }
        let detail = json!({ "sid": sid });
        let mut effect = Effect::new((), Some(user_id), detail);
        effect.instructions = revocations(user_id, vec![sid]);
        Ok(effect)
    })
    .await
}

/// Revokes every session of the user, the edge included (`user.sessions.revoke`); returns how
/// many were active. A super-admin's sessions only a super-admin revokes (403, nothing
/// changed).
pub async fn revoke_user_sessions(state: &AppState, actor: Actor, user_id: i64) -> Result<usize> {
    let boundary_of = actor.clone();
    act(state, actor, "user.sessions.revoke", move |tx, now| {
        existing_user(tx, user_id)?;
        may_touch(tx, &boundary_of, user_id)?;
        let sids = sessions::revoke_all(tx, user_id, "admin", now)?;
        let detail = json!({ "sessions": sids.len() });
        let mut effect = Effect::new(sids.len(), Some(user_id), detail);
        effect.instructions = revocations(user_id, sids);
        Ok(effect)
    })
    .await
}

/// What [`unlock_user`] lifted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unlocked {
    /// Password sign-in was locked (and no longer is).
    pub password_was_locked: bool,
    /// The channels whose code limits were lifted: the user's phone (`sms`) and e-mail
    /// (`mail`), as far as they have them.
    pub code_channels: Vec<&'static str>,
}

/// An account is unlocked at most once in this many seconds (SPEC §6's lock window)…
pub const UNLOCK_EVERY_SECS: i64 = 15 * 60;
/// …and at most this many times a day.
pub const UNLOCKS_PER_DAY: usize = 3;

/// Lets a member who is kept out back in, without anyone learning or setting their password
/// (`user.unlock`): lifts the public door's password lock and forgets its failed attempts,
/// and lifts the per-phone / per-e-mail code limits (10 a day, 1 a minute) for the codes sent
/// so far, so they can sign in or reset their password by code again — a stranger can use up
/// both on their behalf (README, "Codes per phone or e-mail"). The back-office door's own lock
/// is left to expire. An admin's account only a holder of every role they hold unlocks (403,
/// nothing changed), as for ending their sessions.
///
/// Bounded, so that the back office cannot make the lock meaningless (an insider guessing a
/// member's password ten at a time, unlocking in between, or sending their phone codes without
/// end): once per [`UNLOCK_EVERY_SECS`] and [`UNLOCKS_PER_DAY`] times a day per account, else
/// 429 with the wait. The audit entry says how many failed attempts were forgotten and which
/// phone and e-mail had their limits lifted.
pub async fn unlock_user(state: &AppState, actor: Actor, user_id: i64) -> Result<Unlocked> {
    let boundary_of = actor.clone();
    act(state, actor, "user.unlock", move |tx, now| {
        let user = existing_user(tx, user_id)?;
        may_touch(tx, &boundary_of, user_id)?;
        let earlier = audit::times_on_user(tx, "user.unlock", user_id, now - 86_400)?;
        let wait = match (earlier.first(), earlier.last()) {
            (_, Some(&last)) if last > now - UNLOCK_EVERY_SECS => last + UNLOCK_EVERY_SECS - now,
            (Some(&first), _) if earlier.len() >= UNLOCKS_PER_DAY => first + 86_400 - now,
            _ => 0,
        };
        if wait > 0 {
            return Err(Problem::RateLimited {
                retry_after: wait as u64,
            }
            .into());
        }
        let key = account_attempt_key(user_id);
        let password_was_locked = sign_in::locked_until(tx, &key, now)?.is_some();
        let attempts = sign_in::attempts(tx, &key)?;
        sign_in::clear(tx, &key)?;
        let mut code_channels = Vec::new();
        for (channel, target) in [(Channel::Sms, &user.phone), (Channel::Mail, &user.email)] {
            if let Some(target) = target {
                codes::lift_target_limits(tx, channel, target, now)?;
                code_channels.push(channel.as_str());
            }
        }
        let detail = json!({
            "password_was_locked": password_was_locked,
            "attempts_forgotten": attempts,
            "code_channels": code_channels,
            "phone": user.phone,
            "email": user.email,
        });
        let unlocked = Unlocked {
            password_was_locked,
            code_channels,
        };
        Ok(Effect::new(unlocked, Some(user_id), detail))
    })
    .await
}

/// One page of the user's points or balance ledger, newest first.
pub async fn user_ledger(
    state: &AppState,
    user_id: i64,
    ledger: Ledger,
    request: PageRequest,
) -> Result<Paged<Entry>> {
    let (rows, total) = of_existing_user(state, user_id, move |conn| {
        Ok(ledgers::page(conn, ledger, user_id, None, request)?)
    })
    .await?;
    Ok(Paged::new(rows, total, request))
}

/// One page of the user's coupons, newest first, each with its status as of now.
pub async fn user_coupons(
    state: &AppState,
    user_id: i64,
    request: PageRequest,
) -> Result<Paged<CouponRow>> {
    let now = clock::now();
    let (rows, total) = of_existing_user(state, user_id, move |conn| {
        Ok(coupons::page(conn, user_id, None, now, request)?)
    })
    .await?;
    Ok(Paged::new(rows, total, request))
}

/// One page of the messages sent to the user, newest first, read or not.
pub async fn user_messages(
    state: &AppState,
    user_id: i64,
    request: PageRequest,
) -> Result<Paged<MessageRow>> {
    let (rows, total) = of_existing_user(state, user_id, move |conn| {
        Ok(messages::page(conn, user_id, None, request)?)
    })
    .await?;
    Ok(Paged::new(rows, total, request))
}

/// One page of the user's uploads, newest first.
pub async fn user_uploads(
    state: &AppState,
    user_id: i64,
    request: PageRequest,
) -> Result<Paged<UserUploadRow>> {
    let (rows, total) = of_existing_user(state, user_id, move |conn| {
        Ok(uploads::page_of_user(conn, user_id, request)?)
    })
    .await?;
    Ok(Paged::new(rows, total, request))
}

/// Which audit entries to list; every field left `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// The actor's name (`cli`, an account, a phone, an e-mail) or user id.
    pub actor: Option<String>,
    /// The action, exactly (`user.points`).
    pub action: Option<String>,
    /// The user acted on.
    pub user_id: Option<i64>,
    /// From the start of this day, in the configured offset.
    pub from: Option<Date>,
    /// To the end of this day, in the configured offset.
    pub to: Option<Date>,
}

impl AuditQuery {
    /// The storage filter: days become times in `offset`; `to` before `from` is refused.
    fn filter(self, offset: UtcOffset) -> std::result::Result<audit::Filter, Problem> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to < from
        {
            return Err(Problem::invalid("to", "to 不能早于 from"));
        }
        let start_of = |day: Date| day.midnight().assume_offset(offset).unix_timestamp();
        Ok(audit::Filter {
            actor: self.actor,
            action: self.action,
            target_user: self.user_id,
            since: self.from.map(start_of),
            before: self.to.and_then(Date::next_day).map(start_of),
        })
    }
}

/// One page of the audit log entries `query` selects, newest first.
pub async fn search_audit_log(
    state: &AppState,
    query: AuditQuery,
    request: PageRequest,
) -> Result<Paged<AuditRow>> {
    let filter = query.filter(state.config.time_offset)?;
    let (rows, total) = state
        .db
        .read(move |conn| audit::page(conn, &filter, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// One audit entry with its full detail; not found for an unknown id.
pub async fn audit_entry(state: &AppState, id: i64) -> Result<AuditRow> {
    state
        .db
        .read(move |conn| -> Result<AuditRow> {
            audit::by_id(conn, id)?.ok_or_else(|| Error::from(Problem::NotFound))
        })
        .await
}
