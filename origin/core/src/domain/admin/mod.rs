//! Back-office actions (SPEC §7), shared by the admin API and the operator's command line.
//!
//! Every action runs through `act`: the change, its audit entry and the instructions that keep the
//! edge's view of the affected users true are written in one transaction, and the action is
//! answered once the edge-sync task has tried to deliver them (`edge_sync::push`). So an admin write is never visible without its audit entry, and
//! never lost on its way to the edge.

use rusqlite::Transaction;
use serde_json::{Value, json};
use shared::Problem;
use shared::invalidate::Instruction;
use shared::pagination::{PageRequest, Paged};

use crate::AppState;
use crate::clock;
use crate::db::audit::{self, Actor, AuditRow};
use crate::db::coupons::{self, NewCoupon};
use crate::db::ledgers::{self, Ledger};
use crate::db::outbox::{self, OutboxRow};
use crate::db::roles::{self, RoleRow};
use crate::db::users::{self, UserRow};
use crate::db::{deliveries, edge_outbox, gifts, goods, invitations, messages, sessions};
use crate::domain::identity::{Invitation, revocations};
use crate::edge_sync;
use crate::error::{Error, Result};
use crate::ids;

mod forms;
pub mod order_reads;
pub mod user_reads;

pub use forms::*;
pub use order_reads::*;
pub use user_reads::*;

/// Instructions per edge-outbox row when one action touches many users.
const INSTRUCTIONS_PER_ROW: usize = 200;

/// What an action did, for the audit log and the edge.
struct Effect<T> {
    value: T,
    target_user: Option<i64>,
    detail: Value,
    instructions: Vec<Instruction>,
}

impl<T> Effect<T> {
    fn new(value: T, target_user: Option<i64>, detail: Value) -> Effect<T> {
        Effect {
            value,
            target_user,
            detail,
            instructions: Vec::new(),
        }
    }

    /// The target user's cached reads must be dropped.
    fn bump_target(mut self) -> Effect<T> {
        if let Some(user) = self.target_user {
            self.instructions.push(Instruction::Bump { user });
        }
        self
    }
}

/// Runs one admin action in a transaction with its audit entry and edge instructions.
async fn act<T, F>(state: &AppState, actor: Actor, action: &'static str, work: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Transaction<'_>, i64) -> Result<Effect<T>> + Send + 'static,
{
    let (value, entries) = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            if let Some(key) = &actor.submission
                && audit::submitted(tx, key)?
            {
                let message = match key.starts_with("api:") {
                    true => "这个 Idempotency-Key 的请求已经执行过，未再次执行",
                    false => "这个表单已经提交过，操作已完成，未再次执行",
                };
                return Err(Problem::refused(message).into());
            }
            let effect = work(tx, now)?;
            audit::record(tx, &actor, action, effect.target_user, &effect.detail, now)?;
            let mut entries = Vec::new();
            for chunk in effect.instructions.chunks(INSTRUCTIONS_PER_ROW) {
                entries.extend(edge_outbox::enqueue(tx, chunk, now)?);
            }
            Ok((effect.value, entries))
        })
        .await?;
    edge_sync::push(state, entries).await;
    Ok(value)
}

/// Whether the form whose one-time key is `key` was already acted on. [`act`] decides that
/// inside its transaction; this earlier look lets a form skip work that comes before the
/// action (storing a re-posted file) when the action is certain to be refused.
pub async fn form_submitted(state: &AppState, key: String) -> Result<bool> {
    Ok(state
        .db
        .read_short(move |connection| audit::submitted(connection, &key))
        .await?)
}

fn existing_user(tx: &Transaction<'_>, user_id: i64) -> Result<UserRow> {
    Ok(users::by_id(tx, user_id)?.ok_or(Problem::NotFound)?)
}

/// A user as the back office lists it.
pub struct AdminUser {
    pub user: UserRow,
    pub roles: Vec<String>,
}

pub async fn search_users(
    state: &AppState,
    query: Option<String>,
    request: PageRequest,
) -> Result<Paged<AdminUser>> {
    let (rows, total) = state
        .db
        .read(move |conn| -> Result<_> {
            let (rows, total) = users::search(conn, query.as_deref(), request)?;
            let mut listed = Vec::with_capacity(rows.len());
            for user in rows {
                let roles = roles::role_names(conn, user.id)?;
                listed.push(AdminUser { user, roles });
            }
            Ok((listed, total))
        })
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// What an admin may hand out (SPEC §7, privilege boundaries), read inside the action's
/// transaction. The operator's command line (`Actor::cli`) is not bounded.
struct Authority {
    super_admin: bool,
    permissions: Vec<String>,
}

impl Authority {
    fn of(tx: &Transaction<'_>, actor: &Actor) -> Result<Option<Authority>> {
        let Some(user_id) = actor.user_id else {
            return Ok(None);
        };
        Ok(Some(Authority {
            super_admin: roles::is_super_admin(tx, user_id)?,
            permissions: roles::permissions(tx, user_id)?,
        }))
    }

    fn holds_all(&self, permissions: &[String]) -> bool {
        permissions.iter().all(|p| self.permissions.contains(p))
    }

    /// A role may be given or taken only by a holder of every permission in it, and
    /// `super-admin` only by a super-admin.
    fn may_assign(&self, tx: &Transaction<'_>, role: &str) -> Result<bool> {
        if role == roles::SUPER_ADMIN_ROLE {
            return Ok(self.super_admin);
        }
        let permissions = roles::permissions_of_role(tx, role)?.unwrap_or_default();
        Ok(self.holds_all(&permissions))
    }
}

fn denied() -> Error {
    Problem::PermissionDenied.into()
}

/// Disables or enables a user, and/or replaces their roles. Disabling revokes every session at
/// once (the edge included). Admins cannot disable themselves or change their own roles, so the
/// back office cannot lock its last admin out by accident. Within SPEC §7's boundaries: a role
/// is given or taken only by a holder of all its permissions, and only a super-admin may touch
/// an account holding `super-admin` or grant or remove that role (403, nothing changed).
pub async fn update_user(
    state: &AppState,
    actor: Actor,
    user_id: i64,
    disabled: Option<bool>,
    new_roles: Option<Vec<String>>,
) -> Result<()> {
    if actor.user_id == Some(user_id) {
        return Err(Problem::refused("不能停用自己或修改自己的角色").into());
    }
    let authority_of = actor.clone();
    act(state, actor, "user.update", move |tx, now| {
        existing_user(tx, user_id)?;
        let authority = Authority::of(tx, &authority_of)?;
        if let Some(authority) = &authority
            && !authority.super_admin
            && roles::is_super_admin(tx, user_id)?
        {
            return Err(denied());
        }
        let mut instructions = Vec::new();
        if let Some(roles) = &new_roles {
            let unknown = roles::unknown_roles(tx, roles)?;
            if !unknown.is_empty() {
                return Err(Problem::invalid(
                    "roles",
                    format!("角色不存在：{}", unknown.join("、")),
                )
                .into());
            }
            if let Some(authority) = &authority {
                let held = roles::role_names(tx, user_id)?;
                let changed = roles
                    .iter()
                    .filter(|role| !held.contains(role))
                    .chain(held.iter().filter(|role| !roles.contains(role)));
                for role in changed {
                    if !authority.may_assign(tx, role)? {
                        return Err(denied());
                    }
                }
            }
            roles::set_user_roles(tx, user_id, roles)?;
        }
        if let Some(disabled) = disabled {
            // Disabling or enabling an account that holds roles is taking or giving their
            // powers: only a holder of all of them may (so a 用户管理 admin cannot bring back a
            // 财务 admin whom a super-admin disabled).
            if let Some(authority) = &authority {
                for role in roles::role_names(tx, user_id)? {
                    if !authority.may_assign(tx, &role)? {
                        return Err(denied());
                    }
                }
            }
            users::set_disabled(tx, user_id, disabled)?;
            if disabled {
                let sids = sessions::revoke_all(tx, user_id, "disabled", now)?;
                instructions.extend(revocations(user_id, sids));
            }
        }
        let detail = json!({ "disabled": disabled, "roles": new_roles });
        let mut effect = Effect::new((), Some(user_id), detail).bump_target();
        effect.instructions.extend(instructions);
        Ok(effect)
    })
    .await
}

/// Posts a signed change to a user's points or balance; refused (nothing written) if it would
/// go below zero. Returns the new figure.
pub async fn adjust(
    state: &AppState,
    actor: Actor,
    user_id: i64,
    ledger: Ledger,
    delta: i64,
    describe: String,
) -> Result<i64> {
    adjust_seen(state, actor, user_id, ledger, delta, describe, None).await
}

/// [`adjust`], refused (nothing written) unless the current figure is still `seen`, the one the
/// operator confirmed against — checked in the transaction that posts the change.
pub async fn adjust_seen(
    state: &AppState,
    actor: Actor,
    user_id: i64,
    ledger: Ledger,
    delta: i64,
    describe: String,
    seen: Option<i64>,
) -> Result<i64> {
    // Named as the dialect's request names the change: points by `number`, balance by `amount`.
    let (action, field) = match ledger {
        Ledger::Points => ("user.points", "number"),
        Ledger::Balance => ("user.balance", "amount"),
    };
    if delta == 0 {
        return Err(Problem::invalid(field, "变动数量不能为 0").into());
    }
    let limit = match ledger {
        Ledger::Points => MAX_POINTS_CHANGE,
        Ledger::Balance => MAX_BALANCE_CHANGE_CENTS,
    };
    if delta.unsigned_abs() > limit.unsigned_abs() {
        return Err(Problem::invalid(field, format!("{field} 超出范围")).into());
    }
    act(state, actor, action, move |tx, now| {
        existing_user(tx, user_id)?;
        if let Some(seen) = seen {
            let current = ledgers::current(tx, ledger, user_id)?;
            if current != seen {
                return Err(Problem::refused("确认之后数值已经变化，未做调整，请重新确认").into());
            }
        }
        let surplus = ledgers::post(tx, ledger, user_id, delta, &describe, now)?;
        let detail = json!({ "delta": delta, "surplus": surplus, "describe": describe });
        Ok(Effect::new(surplus, Some(user_id), detail).bump_target())
    })
    .await
}

fn insert_coupon(
    tx: &Transaction<'_>,
    user_id: i64,
    grant: &CouponGrant,
    now: i64,
) -> Result<(i64, String)> {
    let coupon_no = ids::business_no('C', now);
    let id = coupons::insert(
        tx,
        user_id,
        &NewCoupon {
            coupon_no: &coupon_no,
            name: &grant.name,
            kind: &grant.kind,
            quota_cents: grant.quota_cents,
            satisfy_cents: grant.satisfy_cents,
            finished_at: grant.finished_at,
        },
        now,
    )?;
    Ok((id, coupon_no))
}

pub async fn grant_coupon(
    state: &AppState,
    actor: Actor,
    user_id: i64,
    grant: CouponGrant,
) -> Result<i64> {
    act(state, actor, "user.coupon", move |tx, now| {
        existing_user(tx, user_id)?;
        let (id, coupon_no) = insert_coupon(tx, user_id, &grant, now)?;
        let detail = json!({ "coupon_id": id, "coupon_no": coupon_no, "name": grant.name });
        Ok(Effect::new(id, Some(user_id), detail).bump_target())
    })
    .await
}

/// How many users a grant to "everyone the search finds" would reach (active users only).
pub async fn coupon_recipients(state: &AppState, query: Option<String>) -> Result<usize> {
    state
        .db
        .read(move |conn| -> Result<usize> {
            let count = users::count_active_matching(conn, query.as_deref())?;
            Ok(usize::try_from(count).unwrap_or(usize::MAX))
        })
        .await
}

fn too_many_recipients(count: usize) -> Error {
    Problem::refused(format!(
        "一次最多向 {MAX_COUPON_RECIPIENTS} 位用户发放（符合条件的有 {count} 位），请缩小范围分批发放"
    ))
    .into()
}

/// Grants one coupon to every active user the search `query` finds (everyone without one), at
/// most [`MAX_COUPON_RECIPIENTS`] at a time (one write transaction must not hold the writer
/// long), in one transaction with one audit entry; refused when it would reach nobody or differs from
/// the count the operator confirmed (`expected`), so a grant never reaches more users than
/// the operator saw. Returns how many users received it.
pub async fn grant_coupons(
    state: &AppState,
    actor: Actor,
    query: Option<String>,
    expected: usize,
    grant: CouponGrant,
) -> Result<usize> {
    act(state, actor, "coupons.grant", move |tx, now| {
        let targets = users::active_matching(tx, query.as_deref())?;
        if targets.len() > MAX_COUPON_RECIPIENTS {
            return Err(too_many_recipients(targets.len()));
        }
        if targets.is_empty() {
            return Err(Problem::refused("没有符合条件的用户").into());
        }
        if targets.len() != expected {
            return Err(Problem::refused(format!(
                "符合条件的用户已变为 {} 人（确认时为 {expected} 人），未发放，请重新确认",
                targets.len()
            ))
            .into());
        }
        for user in &targets {
            insert_coupon(tx, *user, &grant, now)?;
        }
        let detail = json!({
            "q": query, "name": grant.name, "type": grant.kind,
            "quota_cents": grant.quota_cents, "recipients": targets.len(),
        });
        let mut effect = Effect::new(targets.len(), None, detail);
        effect.instructions = targets
            .iter()
            .map(|user| Instruction::Bump { user: *user })
            .collect();
        Ok(effect)
    })
    .await
}

/// Who a message goes to.
#[derive(Debug, Clone, Copy)]
pub enum Recipients {
    One(i64),
    /// Every user who is not disabled.
    All,
}

/// Sends an in-site message; returns how many users received it.
pub async fn send_message(
    state: &AppState,
    actor: Actor,
    recipients: Recipients,
    message: NewMessage,
) -> Result<usize> {
    act(state, actor, "message.send", move |tx, now| {
        let (targets, target_user) = match recipients {
            Recipients::One(user_id) => {
                existing_user(tx, user_id)?;
                (vec![user_id], Some(user_id))
            }
            Recipients::All => (users::active_ids(tx)?, None),
        };
        for user in &targets {
            messages::insert(
                tx,
                *user,
                &message.sender,
                &message.title,
                &message.body,
                now,
            )?;
        }
        let detail = json!({ "title": message.title, "recipients": targets.len() });
        let mut effect = Effect::new(targets.len(), target_user, detail);
        effect.instructions = targets
            .iter()
            .map(|user| Instruction::Bump { user: *user })
            .collect();
        Ok(effect)
    })
    .await
}

pub async fn create_goods(state: &AppState, actor: Actor, goods: NewGoods) -> Result<i64> {
    let NewGoods { name, price_cents } = goods;
    act(state, actor, "goods.create", move |tx, now| {
        let id = goods::insert(tx, &name, price_cents, now)?;
        let detail = json!({ "goods_id": id, "name": name, "price_cents": price_cents });
        Ok(Effect::new(id, None, detail))
    })
    .await
}

/// Refuses a gift picture `chooser` may not use ([`gifts::may_picture`]).
fn check_gift_image(tx: &Transaction<'_>, image: Option<i64>, chooser: Option<i64>) -> Result<()> {
    match image {
        Some(image) if !gifts::may_picture(tx, image, chooser)? => Err(Problem::invalid(
            "image",
            "image 必须是你自己上传的图片（或已用作礼品图片的图片）的 ID",
        )
        .into()),
        _ => Ok(()),
    }
}

pub async fn create_gift(state: &AppState, actor: Actor, gift: NewGift) -> Result<i64> {
    let chooser = actor.user_id;
    act(state, actor, "gift.create", move |tx, now| {
        check_gift_image(tx, gift.image, chooser)?;
        let id = gifts::insert(
            tx,
            &gift.name,
            gift.image,
            gift.accumulate_points,
            gift.stock,
            now,
        )?;
        let detail = json!({
            "gift_id": id, "name": gift.name,
            "accumulate_points": gift.accumulate_points, "stock": gift.stock,
        });
        Ok(Effect::new(id, None, detail))
    })
    .await
}

/// Marks a gift order shipped; the user sees the tracking number on their next read.
pub async fn ship_gift_order(
    state: &AppState,
    actor: Actor,
    order_id: i64,
    express_company: String,
    tracking_no: String,
) -> Result<()> {
    act(state, actor, "gift_order.ship", move |tx, now| {
        let (user_id, shipped) = gifts::ship(tx, order_id, &express_company, &tracking_no, now)?
            .ok_or(Problem::NotFound)?;
        if !shipped {
            return Err(Problem::refused("该订单已发货").into());
        }
        let detail = json!({
            "gift_order_id": order_id, "express_company": express_company,
            "tracking_no": tracking_no,
        });
        Ok(Effect::new((), Some(user_id), detail).bump_target())
    })
    .await
}

pub async fn roles(state: &AppState) -> Result<Vec<RoleRow>> {
    Ok(state.db.read(roles::list).await?)
}

/// Creates a role or replaces its permissions; every name must be one of the document's 15.
/// Within SPEC §7's boundaries: an admin puts into a role only permissions it holds, cannot
/// change a role it holds, and cannot change a role holding permissions it lacks (403, nothing
/// changed).
pub async fn save_role(
    state: &AppState,
    actor: Actor,
    name: String,
    permissions: Vec<String>,
) -> Result<i64> {
    if let Some(unknown) = permissions
        .iter()
        .find(|permission| shared::Permission::parse(permission).is_none())
    {
        return Err(Problem::invalid("permissions", format!("权限不存在：{unknown}")).into());
    }
    if name == roles::SUPER_ADMIN_ROLE {
        return Err(Problem::refused("超级管理员角色总是拥有全部权限，不能修改").into());
    }
    let authority_of = actor.clone();
    act(state, actor, "role.save", move |tx, _| {
        if let Some(authority) = Authority::of(tx, &authority_of)? {
            let current = roles::permissions_of_role(tx, &name)?.unwrap_or_default();
            let holds_it = match authority_of.user_id {
                Some(admin) => roles::role_names(tx, admin)?.contains(&name),
                None => false,
            };
            if holds_it || !authority.holds_all(&permissions) || !authority.holds_all(&current) {
                return Err(denied());
            }
        }
        let id = roles::upsert(tx, &name, &permissions)?;
        let detail = json!({ "role_id": id, "name": name, "permissions": permissions });
        Ok(Effect::new(id, None, detail))
    })
    .await
}

/// The development outbox, newest first (at most 200 rows). Codes and bodies are shown to
/// super-admins only (SPEC §7): a support agent sees who was sent what kind of message, not
/// the code that would let them take the account over. Every read is audited.
pub async fn read_outbox(
    state: &AppState,
    actor: Actor,
    to: Option<String>,
    channel: Option<String>,
) -> Result<(Vec<OutboxRow>, bool)> {
    let reader = actor.clone();
    let (rows, codes_shown) = act(state, actor, "outbox.read", move |tx, _| {
        let codes_shown = match reader.user_id {
            Some(user_id) => roles::is_super_admin(tx, user_id)?,
            None => true,
        };
        let rows = outbox::list(tx, to.as_deref(), channel.as_deref(), 200)?;
        let detail = json!({
            "to": to, "channel": channel, "rows": rows.len(), "codes_shown": codes_shown,
        });
        Ok(Effect::new((rows, codes_shown), None, detail))
    })
    .await?;
    // Sealed rows (a live setup's) are opened only for those who see codes.
    let rows = match codes_shown {
        true => rows
            .into_iter()
            .map(|row| state.notifier.open_outbox(row))
            .collect(),
        false => rows,
    };
    Ok((rows, codes_shown))
}

/// One page of the SMS and e-mail delivery log, newest first. It names recipients (personal
/// data) but never a code; every read is audited, like the outbox's.
pub async fn read_deliveries(
    state: &AppState,
    actor: Actor,
    filter: deliveries::Filter,
    request: PageRequest,
) -> Result<Paged<deliveries::DeliveryRow>> {
    act(state, actor, "deliveries.read", move |tx, _| {
        let (rows, total) = deliveries::page(tx, &filter, request)?;
        let detail = json!({
            "to": filter.recipient, "channel": filter.channel, "status": filter.status,
            "page": request.page, "rows": rows.len(),
        });
        Ok(Effect::new(Paged::new(rows, total, request), None, detail))
    })
    .await
}

/// Creates an invitation code, audited like every other back-office write (the code itself is
/// not written to the log, only its first characters).
pub async fn create_invitation(
    state: &AppState,
    actor: Actor,
    invitation: NewInvitation,
) -> Result<Invitation> {
    let code = ids::random_hex(8).to_uppercase();
    act(state, actor, "invitation.create", move |tx, now| {
        let expires_at = invitation.expires_in_days.map(|days| now + days * 86_400);
        invitations::create(tx, &code, invitation.uses, expires_at, now)?;
        let detail = json!({
            "code_prefix": &code[..4], "uses": invitation.uses, "expires_at": expires_at,
        });
        let created = Invitation {
            code,
            uses: invitation.uses,
            expires_at,
        };
        Ok(Effect::new(created, None, detail))
    })
    .await
}

/// One page of the whole audit log, newest first ([`search_audit_log`] filters it).
pub async fn audit_log(state: &AppState, request: PageRequest) -> Result<Paged<AuditRow>> {
    search_audit_log(state, AuditQuery::default(), request).await
}
