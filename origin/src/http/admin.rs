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
use crate::clock;
use crate::db::audit::Actor;
use crate::db::ledgers::Ledger;
use crate::db::users;
use crate::domain::admin::{self, CouponGrant, Message, NewGift, NewInvitation, Recipients};
use crate::domain::identity::{self, SignInDoor};
use crate::error::{AppError, AppResult};
use crate::http::auth::{Caller, require_permission};
use crate::http::endpoint::{DescribeArg, Endpoint, endpoint};
use crate::http::input::{
    Field, Flag, Input, Int, Names, OptionalFlag, OptionalInt, OptionalText, PageQuery, Paging,
    Secret, SignedYuan, Text, Yuan,
};
use crate::http::openapi;
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::{PrintDone, PrintOk};
use crate::http::views::{self, Page};
use crate::input;

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
        AdminRoute::AuditLog => endpoint(m, audit_log, "The audit log (数据中心)", TAG),
        AdminRoute::Roles => endpoint(m, list_roles, "Roles and their permissions (用户管理)", TAG),
        AdminRoute::RoleSave => endpoint(
            m,
            save_role,
            "Create a role or replace its permissions (用户管理)",
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
        Ok(Admin {
            actor: admin.actor,
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
        uses: Int<1, 1_000_000>,
        expires_in_days: OptionalInt<1, 3650>,
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

input! {
    pub struct PointsAdjustRequest {
        /// Signed: positive credits, negative debits (refused below zero).
        number: Int<-1_000_000_000, 1_000_000_000>,
        describe: Text<100>,
    }
}

async fn adjust_points(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Points>,
    PathId(id): PathId,
    Input(request): Input<PointsAdjustRequest>,
) -> AppResult<PrintOk<views::PointsSurplus, 201>> {
    let surplus = admin::adjust(
        &state,
        actor,
        id,
        Ledger::Points,
        request.number,
        request.describe,
    )
    .await?;
    Ok(PrintOk::new(views::PointsSurplus { surplus }))
}

/// A signed amount of money within ±100 000 000 yuan.
pub struct BalanceDelta;

impl Field for BalanceDelta {
    type Value = i64;

    fn read(params: &Params, name: &'static str) -> Result<i64, Problem> {
        let delta = SignedYuan::read(params, name)?;
        if delta.abs() > 10_000_000_000 {
            return Err(Problem::invalid(name, "amount 超出范围"));
        }
        Ok(delta)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        SignedYuan::document(name, description, object)
    }
}

input! {
    pub struct BalanceAdjustRequest {
        /// Signed decimal yuan (`"-3.50"`); refused below zero.
        amount: BalanceDelta,
        describe: Text<100>,
    }
}

async fn adjust_balance(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Finance>,
    PathId(id): PathId,
    Input(request): Input<BalanceAdjustRequest>,
) -> AppResult<PrintOk<views::BalanceSurplus, 201>> {
    let surplus = admin::adjust(
        &state,
        actor,
        id,
        Ledger::Balance,
        request.amount,
        request.describe,
    )
    .await?;
    Ok(PrintOk::new(views::BalanceSurplus {
        surplus: shared::money::format_cents(surplus),
    }))
}

/// `满减` or `抵扣`.
pub struct CouponKind;

impl Field for CouponKind {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        let kind = params.required(name)?.trim().to_owned();
        if kind != "满减" && kind != "抵扣" {
            return Err(Problem::invalid(name, "type 只能是 满减 或 抵扣"));
        }
        Ok(kind)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(["满减", "抵扣"]))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property).required(name)
    }
}

/// Money more than zero.
pub struct PositiveYuan;

impl Field for PositiveYuan {
    type Value = i64;

    fn read(params: &Params, name: &'static str) -> Result<i64, Problem> {
        let cents = Yuan::read(params, name)?;
        if cents <= 0 {
            return Err(Problem::invalid(name, format!("{name} 必须大于 0")));
        }
        Ok(cents)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        Yuan::document(name, description, object)
    }
}

/// Optional money; blank or negative is none.
pub struct Threshold;

impl Field for Threshold {
    type Value = Option<i64>;

    fn read(params: &Params, name: &'static str) -> Result<Option<i64>, Problem> {
        Ok(match params.get(name).map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(shared::money::parse_cents(name, raw)?).filter(|cents| *cents >= 0),
        })
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property)
    }
}

input! {
    pub struct CouponGrantRequest {
        /// 满减 (needs `satisfy`) or 抵扣.
        kind as "type": CouponKind,
        /// Decimal yuan, more than zero.
        quota: PositiveYuan,
        /// The spend a 满减 coupon needs, decimal yuan.
        satisfy: Threshold,
        /// `2026-12-31 23:59:59`, in the future.
        finished_at: Secret,
        name: Text<50>,
    }
}

async fn grant_coupon(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Coupons>,
    PathId(user_id): PathId,
    Input(request): Input<CouponGrantRequest>,
) -> AppResult<PrintOk<views::Created, 201>> {
    let kind = request.kind;
    if kind == "满减" && request.satisfy.is_none() {
        return Err(Problem::invalid("satisfy", "满减券需要 satisfy（不小于 0 的金额）").into());
    }
    let finished_at =
        clock::parse(&request.finished_at, state.config.time_offset).ok_or_else(|| {
            Problem::invalid(
                "finished_at",
                "finished_at 必须是日期时间，如 2026-12-31 23:59:59",
            )
        })?;
    if finished_at <= clock::now() {
        return Err(Problem::invalid("finished_at", "finished_at 必须晚于现在").into());
    }
    let grant = CouponGrant {
        name: request.name,
        satisfy_cents: request.satisfy.filter(|_| kind == "满减"),
        kind,
        quota_cents: request.quota,
        finished_at,
    };
    let coupon_id = admin::grant_coupon(&state, actor, user_id, grant).await?;
    Ok(PrintOk::new(views::Created { id: coupon_id }))
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
        sender: OptionalText<50>,
        title: Text<100>,
        body: Text<2000>,
    }
    example: serde_json::json!({ "all": true, "title": "通知", "body": "门店国庆休息三天。" })
}

async fn send_message(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::SupportTools>,
    Input(request): Input<MessageRequest>,
) -> AppResult<PrintOk<views::Recipients, 201>> {
    let message = Message {
        sender: request.sender.unwrap_or_else(|| "系统".to_owned()),
        title: request.title,
        body: request.body,
    };
    let count = admin::send_message(&state, actor, request.recipients, message).await?;
    Ok(PrintOk::new(views::Recipients { recipients: count }))
}

/// Money, not negative.
pub struct Price;

impl Field for Price {
    type Value = i64;

    fn read(params: &Params, name: &'static str) -> Result<i64, Problem> {
        let cents = Yuan::read(params, name)?;
        if cents < 0 {
            return Err(Problem::invalid(name, format!("{name} 不能为负")));
        }
        Ok(cents)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        Yuan::document(name, description, object)
    }
}

input! {
    pub struct GoodsRequest {
        name: Text<100>,
        /// Decimal yuan, not negative.
        price: Price,
    }
}

async fn create_goods(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Goods>,
    Input(request): Input<GoodsRequest>,
) -> AppResult<PrintOk<views::Created, 201>> {
    let id = admin::create_goods(&state, actor, request.name, request.price).await?;
    Ok(PrintOk::new(views::Created { id }))
}

input! {
    pub struct GiftRequest {
        name: Text<100>,
        accumulate_points: Int<1, 1_000_000_000>,
        stock: Int<0, 1_000_000_000>,
        /// An image upload's id.
        image: OptionalInt<1, { i64::MAX }>,
    }
}

async fn create_gift(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Points>,
    Input(request): Input<GiftRequest>,
) -> AppResult<PrintOk<views::Created, 201>> {
    let gift = NewGift {
        name: request.name,
        accumulate_points: request.accumulate_points,
        stock: request.stock,
        image: request.image,
    };
    let id = admin::create_gift(&state, actor, gift).await?;
    Ok(PrintOk::new(views::Created { id }))
}

input! {
    pub struct ShipRequest {
        express_company: Text<50>,
        tracking_no: Text<64>,
    }
}

async fn ship_gift_order(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Delivery>,
    PathId(order_id): PathId,
    Input(request): Input<ShipRequest>,
) -> AppResult<PrintDone> {
    let (company, tracking_no) = (request.express_company, request.tracking_no);
    admin::ship_gift_order(&state, actor, order_id, company, tracking_no).await?;
    Ok(PrintDone::new("已发货"))
}

async fn audit_log(
    State(state): State<AppState>,
    _: Admin<needs::DataCentre>,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::AuditEntry>>> {
    let page = admin::audit_log(&state, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::AuditEntry::of(row, offset)
    })))
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
