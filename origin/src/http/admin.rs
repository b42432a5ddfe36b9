//! The back-office API on the private listener, in the print envelope. Every endpoint needs an
//! admin session holding its permission.

use std::marker::PhantomData;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::routing::get;
use shared::policy::{ADMIN_ROUTES, AdminRoute, Limit, Method};
use shared::validate::EMAIL_MAX_CHARS;
use shared::{Permission, Problem};
use utoipa::openapi::schema::{ObjectBuilder, Type};

use crate::AppState;
use crate::db::audit::Actor;
use crate::domain::admin::{self, NewInvitation, NewMessage, Recipients};
use crate::domain::identity::{self, SignInDoor};
use crate::error::{AppError, AppResult};
use crate::http::auth::{Caller, require_permission};
use crate::http::endpoint::{DescribeArg, Endpoint, endpoint};
use crate::http::input::{
    Field, Flag, Input, Int, Names, OptionalFlag, OptionalInt, OptionalText, Paging, Secret, Text,
};
use crate::http::openapi;
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::{PrintDone, PrintOk};
use crate::http::views::{self, Page};
use crate::input;

pub mod audit;
pub mod catalog;
pub mod orders;
mod users;
pub mod wallet;

use audit::{audit_entry, audit_log};
use catalog::{create_gift, create_goods, ship_gift_order};
use users::{
    balance_ledger, points_ledger, revoke_user_session, revoke_user_sessions, unlock_user,
    user_coupons, user_detail, user_messages, user_sessions, user_uploads,
};
use wallet::{adjust_balance, adjust_points, grant_coupon};

const TAG: &str = "admin";

/// Every admin route's endpoint; the match is exhaustive, like the public table's.
pub(crate) fn endpoint_of(id: AdminRoute, method: Method) -> Endpoint {
    let m = super::filter(method);
    match id {
        AdminRoute::Login => endpoint(
            m,
            login,
            "Sign in to the back office (holders of a role only), counted apart from the public sign-in",
            TAG,
        ),
        AdminRoute::Outbox => endpoint(
            m,
            list_outbox,
            "Codes the development notifier wrote instead of sending (404 with a real notifier)",
            TAG,
        )
        .also(&[404]),
        AdminRoute::Deliveries => endpoint(
            m,
            super::deliveries::list,
            "The SMS and e-mail delivery log: recipient, provider, attempts, status, errors (客服工具管理)",
            TAG,
        ),
        AdminRoute::InvitationCreate => endpoint(
            m,
            create_invitation,
            "Create an invitation code (用户管理)",
            TAG,
        ),
        AdminRoute::UserSearch => endpoint(m, search_users, "Find users (用户管理)", TAG),
        AdminRoute::UserUpdate => endpoint(
            m,
            update_user,
            "Disable or enable a user, or replace their roles (用户管理)",
            TAG,
        ),
        AdminRoute::Points => endpoint(m, adjust_points, "Credit or debit points (积分管理)", TAG),
        AdminRoute::Balance => endpoint(
            m,
            adjust_balance,
            "Credit or debit the balance (财务管理)",
            TAG,
        ),
        AdminRoute::CouponGrant => endpoint(m, grant_coupon, "Grant a coupon (优惠券管理)", TAG),
        AdminRoute::MessageSend => endpoint(
            m,
            send_message,
            "Send a message to one user or everyone (客服工具管理)",
            TAG,
        )
        .also(&[404]),
        AdminRoute::GoodsCreate => endpoint(m, create_goods, "Add goods (商品管理)", TAG),
        AdminRoute::GiftCreate => {
            endpoint(m, create_gift, "Offer a gift for points (积分管理)", TAG)
        }
        AdminRoute::GiftOrderShip => endpoint(
            m,
            ship_gift_order,
            "Mark a gift order shipped (配送管理)",
            TAG,
        ),
        AdminRoute::AuditLog => endpoint(
            m,
            audit_log,
            "The audit log, newest first, filtered by actor, action, user and days (数据中心)",
            TAG,
        ),
        AdminRoute::AuditEntry => endpoint(
            m,
            audit_entry,
            "One audit entry with its full detail (数据中心)",
            TAG,
        ),
        AdminRoute::UserDetail => endpoint(
            m,
            user_detail,
            "One user: profile, points, balance, member level, sign-in modes, roles (用户管理)",
            TAG,
        ),
        AdminRoute::UserSessions => endpoint(
            m,
            user_sessions,
            "A user's sessions that still let someone in, newest first, at most 200 (用户管理)",
            TAG,
        ),
        AdminRoute::UserSessionsRevoke => endpoint(
            m,
            revoke_user_sessions,
            "End every session of a user, at the edge too (用户管理; a super-admin's: super-admins only)",
            TAG,
        ),
        AdminRoute::UserSessionRevoke => endpoint(
            m,
            revoke_user_session,
            "End one session of a user, at the edge too (用户管理; a super-admin's: super-admins only)",
            TAG,
        ),
        AdminRoute::UserUnlock => endpoint(
            m,
            unlock_user,
            "Let a member kept out back in: lift their password lock and the per-phone / per-e-mail code limits for the codes sent so far; once per 15 minutes and 3 times a day per account (用户管理; an admin's: holders of all their roles only)",
            TAG,
        )
        .also(&[429]),
        AdminRoute::UserPointsLedger => endpoint(
            m,
            points_ledger,
            "A user's points ledger, newest first (积分管理)",
            TAG,
        ),
        AdminRoute::UserBalanceLedger => endpoint(
            m,
            balance_ledger,
            "A user's balance ledger, newest first (财务管理)",
            TAG,
        ),
        AdminRoute::UserCoupons => endpoint(
            m,
            user_coupons,
            "A user's coupons, newest first (优惠券管理)",
            TAG,
        ),
        AdminRoute::UserMessages => endpoint(
            m,
            user_messages,
            "The messages sent to a user, newest first (客服工具管理)",
            TAG,
        ),
        AdminRoute::UserUploads => endpoint(
            m,
            user_uploads,
            "A user's uploads, newest first (客服工具管理)",
            TAG,
        ),
        AdminRoute::Roles => endpoint(m, list_roles, "Roles and their permissions (用户管理)", TAG),
        AdminRoute::RoleSave => endpoint(
            m,
            save_role,
            "Create a role or replace its permissions (用户管理)",
            TAG,
        ),
        AdminRoute::RechargeOrders => endpoint(
            m,
            orders::recharge_orders,
            "Every user's recharge orders, newest first, with filters (财务管理)",
            TAG,
        ),
        AdminRoute::GiftOrders => endpoint(
            m,
            orders::gift_orders,
            "The shipping queue: unshipped gift orders oldest first, then shipped ones newest first (配送管理)",
            TAG,
        ),
        AdminRoute::GiftOrdersExport => endpoint(
            m,
            orders::export_gift_orders,
            "The shipping queue's matching orders as CSV for Excel, at most 50 000 rows; audited (配送管理)",
            TAG,
        ),
        AdminRoute::Goods => endpoint(
            m,
            orders::list_goods,
            "Every goods, retired ones included (商品管理)",
            TAG,
        ),
        AdminRoute::GoodsUpdate => endpoint(
            m,
            orders::update_goods,
            "Rename, reprice, retire or restore goods (商品管理)",
            TAG,
        ),
        AdminRoute::Gifts => endpoint(
            m,
            orders::list_gifts,
            "Every gift, retired ones included (积分管理)",
            TAG,
        ),
        AdminRoute::GiftUpdate => endpoint(
            m,
            orders::update_gift,
            "Replace a gift, retire or restore it (积分管理)",
            TAG,
        ),
        AdminRoute::Stats => endpoint(
            m,
            orders::stats,
            "The dashboard: per-day sign-ups, paid recharges, redemptions, delivery failures; pending shipments (数据中心)",
            TAG,
        ),
    }
}

pub fn routes(state: &AppState) -> Router<AppState> {
    let mut router = Router::new()
        .route("/admin/openapi.json", get(openapi::admin_document))
        .route("/admin/docs", get(openapi::admin_docs_index))
        .route("/admin/docs/{file}", get(openapi::admin_docs_asset));
    for (id, method, path) in ADMIN_ROUTES {
        let mut method_router = endpoint_of(*id, *method).router;
        if *id == AdminRoute::Login {
            method_router = method_router.layer(middleware::from_fn_with_state(
                state.clone(),
                |State(state): State<AppState>, request: Request, next: Next| {
                    super::count_network(
                        state,
                        super::Listener::Admin,
                        Limit::SignIn,
                        request,
                        next,
                    )
                },
            ));
        }
        router = router.route(path, method_router);
    }
    router
}

/// The permission a back-office handler needs, as a type, so that the check runs as the
/// handler's first extractor: before any parameter is read, a caller without it learns nothing.
pub trait Needs {
    const PERMISSION: Permission;
}

macro_rules! needs {
    ($($name:ident),*) => {
        /// Permission markers for [`Admin`].
        pub mod needs {
            $(
                pub struct $name;

                impl super::Needs for $name {
                    const PERMISSION: shared::Permission = shared::Permission::$name;
                }
            )*
        }
    };
}

needs!(
    SupportTools,
    Users,
    Points,
    Finance,
    Coupons,
    Goods,
    Delivery,
    DataCentre
);

/// A signed-in admin holding `P`'s permission, as the audit log names them.
pub struct Admin<P> {
    pub actor: Actor,
    permission: PhantomData<P>,
}

impl<P: Needs> FromRequestParts<AppState> for Admin<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let admin = AdminCaller::from_request_parts(parts, state).await?;
        require_permission(state, &admin.caller, P::PERMISSION).await?;
        // Read after the permission: a caller without it learns nothing, not even that the
        // key it sent is malformed.
        let mut actor = admin.actor;
        actor.submission =
            idempotency_key(parts)?.map(|key| format!("api:{}:{key}", admin.caller.user_id));
        Ok(Admin {
            actor,
            permission: PhantomData,
        })
    }
}

impl<P> DescribeArg for Admin<P> {}

/// A signed-in admin as the audit log names them: id, account (or phone / e-mail), and the
/// peer address of the private listener (no proxy sits in front of it, so no header is
/// trusted for it).
pub struct AdminCaller {
    pub caller: Caller,
    pub actor: Actor,
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
            .read(move |conn| crate::db::users::by_id(conn, user_id))
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
                submission: None,
            },
            caller,
        })
    }
}

/// A write's `Idempotency-Key`, if it sent one: 8 to 128 letters, digits, `-` or `_`. An
/// admin write is done at most once per key and admin (the console's one-time form keys, for
/// scripts): a client that retries after a timeout sends the same key, and the repeat is
/// refused without acting again. Reads ignore it (an audited read may be repeated).
fn idempotency_key(parts: &Parts) -> Result<Option<String>, AppError> {
    if matches!(
        parts.method,
        axum::http::Method::GET | axum::http::Method::HEAD
    ) {
        return Ok(None);
    }
    let Some(raw) = parts.headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = raw.to_str().unwrap_or_default();
    let valid = (8..=128).contains(&key.len())
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !valid {
        return Err(Problem::invalid(
            "Idempotency-Key",
            "Idempotency-Key 须为 8 到 128 个字母、数字、- 或 _",
        )
        .into());
    }
    Ok(Some(key.to_owned()))
}

input! {
    pub struct AdminLoginRequest {
        /// Account name, phone or e-mail of a user holding a role.
        username: Text<EMAIL_MAX_CHARS>,
        password: Secret,
    }
}

/// `POST /admin/login`: the back office's own sign-in, on the private listener, with a failed-
/// attempt counter of its own (SPEC §7), so that wrong passwords sent to the public API cannot
/// lock an admin out of the back office. Only holders of a role get a token (with the admin
/// flag); the listener counts sign-ins per client network like the public one.
async fn login(
    State(state): State<AppState>,
    Input(request): Input<AdminLoginRequest>,
) -> AppResult<PrintOk<views::PrintTokens>> {
    let door = SignInDoor::AdminListener;
    let tokens =
        identity::login_with_password(&state, request.username, request.password, true, door)
            .await?;
    Ok(PrintOk::new(views::PrintTokens::of(&tokens)))
}

/// A closed set of words, `sms`, `mail` or `captcha`; absent is `None`.
pub struct OutboxChannel;

impl Field for OutboxChannel {
    type Value = Option<String>;

    fn read(params: &Params, name: &'static str) -> Result<Option<String>, Problem> {
        let channel = params.get(name).map(str::to_owned);
        if let Some(channel) = &channel
            && !["sms", "mail", "captcha"].contains(&channel.as_str())
        {
            return Err(Problem::invalid(
                name,
                "channel 只能是 sms、mail 或 captcha",
            ));
        }
        Ok(channel)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .pattern(Some("^(sms|mail|captcha)$"))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property)
    }
}

input! {
    pub struct OutboxQuery {
        /// A phone (any spelling), e-mail or captcha key.
        to: OptionalText<EMAIL_MAX_CHARS>,
        channel: OutboxChannel,
    }
}

async fn list_outbox(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::SupportTools>,
    Input(query): Input<OutboxQuery>,
) -> AppResult<PrintOk<Vec<views::OutboxEntry>>> {
    if !state.notifier.has_outbox() {
        return Err(Problem::NotFound.into());
    }
    // A phone in any spelling finds the messages sent to its canonical form (SPEC §4).
    let to = query
        .to
        .map(|to| shared::validate::canonical_phone(&to).unwrap_or(to));
    let (rows, codes_shown) = admin::read_outbox(&state, actor, to, query.channel).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(
        rows.iter()
            .map(|row| views::OutboxEntry::of(row, codes_shown, offset))
            .collect(),
    ))
}

input! {
    pub struct InvitationRequest {
        uses: Int<1, { admin::MAX_INVITATION_USES }>,
        expires_in_days: OptionalInt<1, { admin::MAX_INVITATION_DAYS }>,
    }
}

async fn create_invitation(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Users>,
    Input(request): Input<InvitationRequest>,
) -> AppResult<PrintOk<views::InvitationCode, 201>> {
    let invitation = NewInvitation::new(request.uses, request.expires_in_days)?;
    let invitation = admin::create_invitation(&state, actor, invitation).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(views::InvitationCode::of(&invitation, offset)))
}

input! {
    pub struct UserSearchQuery {
        /// Part of an account name, phone, e-mail or nickname.
        q: OptionalText<100>,
        page: Paging,
    }
}

async fn search_users(
    State(state): State<AppState>,
    _: Admin<needs::Users>,
    Input(query): Input<UserSearchQuery>,
) -> AppResult<PrintOk<Page<views::AdminUserView>>> {
    let page = admin::search_users(&state, query.q, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::AdminUserView::of(row, offset)
    })))
}

input! {
    /// At least one of the two.
    pub struct UserUpdateRequest {
        disabled: OptionalFlag,
        /// Replaces the user's roles (names).
        roles: Names,
    }
    example: serde_json::json!({ "disabled": true })
}

async fn update_user(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Users>,
    PathId(user_id): PathId,
    Input(request): Input<UserUpdateRequest>,
) -> AppResult<PrintDone> {
    let roles = request
        .roles
        .map(|roles| roles.into_iter().filter(|role| !role.is_empty()).collect());
    if request.disabled.is_none() && roles.is_none() {
        return Err(Problem::invalid("disabled", "请提供 disabled 或 roles").into());
    }
    admin::update_user(&state, actor, user_id, request.disabled, roles).await?;
    Ok(PrintDone::new("用户已更新"))
}

/// `user_id` or `all=true`, not both.
pub struct MessageRecipients;

impl Field for MessageRecipients {
    type Value = Recipients;

    fn read(params: &Params, _name: &'static str) -> Result<Recipients, Problem> {
        let all = Flag::read(params, "all")?;
        let user_id = OptionalInt::<1, { i64::MAX }>::read(params, "user_id")?;
        match (user_id, all) {
            (Some(user_id), false) => Ok(Recipients::One(user_id)),
            (None, true) => Ok(Recipients::All),
            _ => Err(Problem::invalid(
                "user_id",
                "请提供 user_id 或 all=true（二选一）",
            )),
        }
    }

    fn document(_name: &'static str, _description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let object = OptionalInt::<1, { i64::MAX }>::document("user_id", "", object);
        Flag::document("all", "", object)
    }
}

input! {
    /// `user_id` or `all=true`, not both.
    pub struct MessageRequest {
        recipients: MessageRecipients,
        sender: OptionalText<{ admin::SENDER_MAX_CHARS }>,
        title: Text<{ admin::TITLE_MAX_CHARS }>,
        body: Text<{ admin::BODY_MAX_CHARS }>,
    }
    example: serde_json::json!({ "all": true, "title": "通知", "body": "门店国庆休息三天。" })
}

async fn send_message(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::SupportTools>,
    Input(request): Input<MessageRequest>,
) -> AppResult<PrintOk<views::Recipients, 201>> {
    let message = NewMessage::new(request.sender.as_deref(), &request.title, &request.body)?;
    let count = admin::send_message(&state, actor, request.recipients, message).await?;
    Ok(PrintOk::new(views::Recipients { recipients: count }))
}

async fn list_roles(
    State(state): State<AppState>,
    _: Admin<needs::Users>,
) -> AppResult<PrintOk<Vec<views::Role>>> {
    let roles = admin::roles(&state).await?;
    Ok(PrintOk::new(roles.iter().map(views::Role::of).collect()))
}

input! {
    pub struct RoleRequest {
        name: Text<50>,
        /// Permission names from the print document's list.
        permissions: Names,
    }
}

async fn save_role(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Users>,
    Input(request): Input<RoleRequest>,
) -> AppResult<PrintOk<views::Created, 201>> {
    let permissions = request.permissions.unwrap_or_default();
    let id = admin::save_role(&state, actor, request.name, permissions).await?;
    Ok(PrintOk::new(views::Created { id }))
}
