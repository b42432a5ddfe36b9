//! The back-office API on the private listener, in the print envelope. Every endpoint needs an
//! admin session holding its permission.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::routing::{MethodRouter, get, on};
use shared::money::parse_cents;
use shared::policy::{ADMIN_ROUTES, AdminRoute, Limit, Method};
use shared::{Permission, Problem};

use crate::AppState;
use crate::clock;
use crate::db::audit::Actor;
use crate::db::ledgers::Ledger;
use crate::db::users;
use crate::domain::admin::{self, CouponGrant, Message, NewGift, NewInvitation, Recipients};
use crate::domain::identity::{self, SignInDoor};
use crate::error::{AppError, AppResult};
use crate::http::auth::{Caller, require_permission};
use crate::http::openapi;
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::Reply;
use crate::http::views::{self, Page};

fn handler(state: &AppState, id: AdminRoute, method: Method) -> MethodRouter<AppState> {
    let method = super::filter(method);
    match id {
        AdminRoute::Login => on(method, login).layer(middleware::from_fn_with_state(
            state.clone(),
            |State(state): State<AppState>, request: Request, next: Next| {
                super::count_network(state, super::Listener::Admin, Limit::SignIn, request, next)
            },
        )),
        AdminRoute::Outbox => on(method, list_outbox),
        AdminRoute::InvitationCreate => on(method, create_invitation),
        AdminRoute::UserSearch => on(method, search_users),
        AdminRoute::UserUpdate => on(method, update_user),
        AdminRoute::Points => on(method, adjust_points),
        AdminRoute::Balance => on(method, adjust_balance),
        AdminRoute::CouponGrant => on(method, grant_coupon),
        AdminRoute::MessageSend => on(method, send_message),
        AdminRoute::GoodsCreate => on(method, create_goods),
        AdminRoute::GiftCreate => on(method, create_gift),
        AdminRoute::GiftOrderShip => on(method, ship_gift_order),
        AdminRoute::AuditLog => on(method, audit_log),
        AdminRoute::Roles => on(method, list_roles),
        AdminRoute::RoleSave => on(method, save_role),
    }
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let mut router = Router::new()
        .route("/admin/openapi.json", get(openapi::admin_document))
        .route("/admin/docs", get(openapi::admin_docs_index))
        .route("/admin/docs/{file}", get(openapi::admin_docs_asset));
    for (id, method, path) in ADMIN_ROUTES {
        router = router.route(path, handler(state, *id, *method));
    }
    router
}

/// A signed-in admin as the audit log names them: id, account (or phone / e-mail), and the
/// peer address of the private listener (no proxy sits in front of it, so no header is
/// trusted for it).
pub struct AdminCaller {
    pub caller: Caller,
    pub actor: Actor,
}

impl AdminCaller {
    /// The actor, once the admin is known to hold `permission`.
    async fn holding(self, state: &AppState, permission: Permission) -> AppResult<Actor> {
        require_permission(state, &self.caller, permission).await?;
        Ok(self.actor)
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string());
        let user_id = caller.user_id;
        let user = state
            .db
            .read(move |conn| users::by_id(conn, user_id))
            .await?
            .ok_or(Problem::Unauthenticated)?;
        let name = user
            .account
            .or(user.phone)
            .or(user.email)
            .unwrap_or_else(|| format!("user {user_id}"));
        Ok(AdminCaller {
            actor: Actor {
                user_id: Some(user_id),
                name,
                ip,
            },
            caller,
        })
    }
}

/// `POST /admin/login`: the back office's own sign-in, on the private listener, with a failed-
/// attempt counter of its own (SPEC §7), so that wrong passwords sent to the public API cannot
/// lock an admin out of the back office. Only holders of a role get a token (with the admin
/// flag); the listener counts sign-ins per client network like the public one.
async fn login(State(state): State<AppState>, params: Params) -> AppResult<Reply> {
    let username = params.text("username", shared::validate::EMAIL_MAX_CHARS)?;
    let password = params.required("password")?.to_owned();
    let tokens =
        identity::login_with_password(&state, username, password, true, SignInDoor::AdminListener)
            .await?;
    Ok(Reply::print(
        StatusCode::OK,
        views::PrintTokens::of(&tokens),
    ))
}

async fn list_outbox(
    State(state): State<AppState>,
    admin: AdminCaller,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::SupportTools).await?;
    if !state.notifier.has_outbox() {
        return Err(Problem::NotFound.into());
    }
    // A phone in any spelling finds the messages sent to its canonical form (SPEC §4).
    let to = params
        .optional_text("to", shared::validate::EMAIL_MAX_CHARS)?
        .map(|to| shared::validate::canonical_phone(&to).unwrap_or(to));
    let channel = params.get("channel").map(str::to_owned);
    if let Some(channel) = &channel
        && !["sms", "mail", "captcha"].contains(&channel.as_str())
    {
        return Err(Problem::invalid("channel", "channel 只能是 sms、mail 或 captcha").into());
    }
    let (rows, codes_shown) = admin::read_outbox(&state, actor, to, channel).await?;
    let offset = state.config.time_offset;
    let rows: Vec<_> = rows
        .iter()
        .map(|row| views::OutboxEntry::of(row, codes_shown, offset))
        .collect();
    Ok(Reply::print(StatusCode::OK, rows))
}

async fn create_invitation(
    State(state): State<AppState>,
    admin: AdminCaller,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Users).await?;
    let invitation = NewInvitation::new(
        params.required_integer("uses", 1, 1_000_000)?,
        params.integer("expires_in_days", 1, 3650)?,
    )?;
    let invitation = admin::create_invitation(&state, actor, invitation).await?;
    let offset = state.config.time_offset;
    Ok(Reply::print(
        StatusCode::CREATED,
        views::InvitationCode::of(&invitation, offset),
    ))
}

async fn search_users(
    State(state): State<AppState>,
    admin: AdminCaller,
    params: Params,
) -> AppResult<Reply> {
    admin.holding(&state, Permission::Users).await?;
    let query = params.optional_text("q", 100)?;
    let page = admin::search_users(&state, query, params.page()?).await?;
    let offset = state.config.time_offset;
    let data = Page::of(page, |row| views::AdminUserView::of(row, offset));
    Ok(Reply::print(StatusCode::OK, data))
}

async fn update_user(
    State(state): State<AppState>,
    admin: AdminCaller,
    PathId(user_id): PathId,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Users).await?;
    let disabled = match params.get("disabled") {
        Some(_) => Some(params.flag("disabled")?),
        None => None,
    };
    let roles = params.has("roles").then(|| {
        params
            .all("roles")
            .iter()
            .map(|role| role.trim().to_owned())
            .filter(|role| !role.is_empty())
            .collect::<Vec<_>>()
    });
    if disabled.is_none() && roles.is_none() {
        return Err(Problem::invalid("disabled", "请提供 disabled 或 roles").into());
    }
    admin::update_user(&state, actor, user_id, disabled, roles).await?;
    Ok(Reply::print_message(StatusCode::OK, "用户已更新"))
}

async fn adjust(
    state: AppState,
    actor: Actor,
    user_id: i64,
    ledger: Ledger,
    delta: i64,
    params: &Params,
) -> AppResult<i64> {
    let describe = params.text("describe", 100)?;
    Ok(admin::adjust(&state, actor, user_id, ledger, delta, describe).await?)
}

async fn adjust_points(
    State(state): State<AppState>,
    admin: AdminCaller,
    PathId(id): PathId,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Points).await?;
    let delta = params.required_integer("number", -1_000_000_000, 1_000_000_000)?;
    let surplus = adjust(state, actor, id, Ledger::Points, delta, &params).await?;
    Ok(Reply::print(
        StatusCode::CREATED,
        views::PointsSurplus { surplus },
    ))
}

async fn adjust_balance(
    State(state): State<AppState>,
    admin: AdminCaller,
    PathId(id): PathId,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Finance).await?;
    let delta = parse_cents("amount", params.required("amount")?)?;
    if delta.abs() > 10_000_000_000 {
        return Err(Problem::invalid("amount", "amount 超出范围").into());
    }
    let surplus = adjust(state, actor, id, Ledger::Balance, delta, &params).await?;
    Ok(Reply::print(
        StatusCode::CREATED,
        views::BalanceSurplus {
            surplus: shared::money::format_cents(surplus),
        },
    ))
}

async fn grant_coupon(
    State(state): State<AppState>,
    admin: AdminCaller,
    PathId(user_id): PathId,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Coupons).await?;
    let kind = params.required("type")?.trim().to_owned();
    if kind != "满减" && kind != "抵扣" {
        return Err(Problem::invalid("type", "type 只能是 满减 或 抵扣").into());
    }
    let quota_cents = parse_cents("quota", params.required("quota")?)?;
    if quota_cents <= 0 {
        return Err(Problem::invalid("quota", "quota 必须大于 0").into());
    }
    let satisfy_cents = match params.get("satisfy").map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(parse_cents("satisfy", raw)?).filter(|cents| *cents >= 0),
    };
    if kind == "满减" && satisfy_cents.is_none() {
        return Err(Problem::invalid("satisfy", "满减券需要 satisfy（不小于 0 的金额）").into());
    }
    let finished_at = clock::parse(params.required("finished_at")?, state.config.time_offset)
        .ok_or_else(|| {
            Problem::invalid(
                "finished_at",
                "finished_at 必须是日期时间，如 2026-12-31 23:59:59",
            )
        })?;
    if finished_at <= clock::now() {
        return Err(Problem::invalid("finished_at", "finished_at 必须晚于现在").into());
    }
    let grant = CouponGrant {
        name: params.text("name", 50)?,
        satisfy_cents: satisfy_cents.filter(|_| kind == "满减"),
        kind,
        quota_cents,
        finished_at,
    };
    let coupon_id = admin::grant_coupon(&state, actor, user_id, grant).await?;
    Ok(Reply::print(
        StatusCode::CREATED,
        views::Created { id: coupon_id },
    ))
}

async fn send_message(
    State(state): State<AppState>,
    admin: AdminCaller,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::SupportTools).await?;
    let all = params.flag("all")?;
    let user_id = params.integer("user_id", 1, i64::MAX)?;
    let recipients = match (user_id, all) {
        (Some(user_id), false) => Recipients::One(user_id),
        (None, true) => Recipients::All,
        _ => {
            return Err(Problem::invalid("user_id", "请提供 user_id 或 all=true（二选一）").into());
        }
    };
    let sender = params
        .optional_text("sender", 50)?
        .unwrap_or_else(|| "系统".to_owned());
    let message = Message {
        sender,
        title: params.text("title", 100)?,
        body: params.text("body", 2000)?,
    };
    let count = admin::send_message(&state, actor, recipients, message).await?;
    Ok(Reply::print(
        StatusCode::CREATED,
        views::Recipients { recipients: count },
    ))
}

async fn create_goods(
    State(state): State<AppState>,
    admin: AdminCaller,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Goods).await?;
    let name = params.text("name", 100)?;
    let price_cents = parse_cents("price", params.required("price")?)?;
    if price_cents < 0 {
        return Err(Problem::invalid("price", "price 不能为负").into());
    }
    let id = admin::create_goods(&state, actor, name, price_cents).await?;
    Ok(Reply::print(StatusCode::CREATED, views::Created { id }))
}

async fn create_gift(
    State(state): State<AppState>,
    admin: AdminCaller,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Points).await?;
    let gift = NewGift {
        name: params.text("name", 100)?,
        accumulate_points: params.required_integer("accumulate_points", 1, 1_000_000_000)?,
        stock: params.required_integer("stock", 0, 1_000_000_000)?,
        image: params.integer("image", 1, i64::MAX)?,
    };
    let id = admin::create_gift(&state, actor, gift).await?;
    Ok(Reply::print(StatusCode::CREATED, views::Created { id }))
}

async fn ship_gift_order(
    State(state): State<AppState>,
    admin: AdminCaller,
    PathId(order_id): PathId,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Delivery).await?;
    let express_company = params.text("express_company", 50)?;
    let tracking_no = params.text("tracking_no", 64)?;
    admin::ship_gift_order(&state, actor, order_id, express_company, tracking_no).await?;
    Ok(Reply::print_message(StatusCode::OK, "已发货"))
}

async fn audit_log(
    State(state): State<AppState>,
    admin: AdminCaller,
    params: Params,
) -> AppResult<Reply> {
    admin.holding(&state, Permission::DataCentre).await?;
    let page = admin::audit_log(&state, params.page()?).await?;
    let offset = state.config.time_offset;
    let data = Page::of(page, |row| views::AuditEntry::of(row, offset));
    Ok(Reply::print(StatusCode::OK, data))
}

async fn list_roles(State(state): State<AppState>, admin: AdminCaller) -> AppResult<Reply> {
    admin.holding(&state, Permission::Users).await?;
    let roles = admin::roles(&state).await?;
    let data: Vec<_> = roles.iter().map(views::Role::of).collect();
    Ok(Reply::print(StatusCode::OK, data))
}

async fn save_role(
    State(state): State<AppState>,
    admin: AdminCaller,
    params: Params,
) -> AppResult<Reply> {
    let actor = admin.holding(&state, Permission::Users).await?;
    let name = params.text("name", 50)?;
    let permissions: Vec<String> = params
        .all("permissions")
        .iter()
        .map(|p| p.trim().to_owned())
        .collect();
    let id = admin::save_role(&state, actor, name, permissions).await?;
    Ok(Reply::print(StatusCode::CREATED, views::Created { id }))
}
