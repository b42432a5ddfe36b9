//! 用户: search, a user's page, disable / enable, roles, and points and balance adjustments
//! with a confirmation step.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use shared::Permission;
use shared::pagination::{PageRequest, Paged};

use super::session::{Nothing, Once, Query};
use super::{ConsoleError, ConsoleResult, Form, Layout, Staff, render};
use crate::AppState;
use crate::db::ledgers::Ledger;
use crate::db::users;
use crate::domain::admin;
use crate::http::admin::needs;
use crate::http::admin::wallet::{BalanceAdjustRequest, PointsAdjustRequest};
use crate::http::admin::{Needs, UserSearchQuery};
use crate::http::input::{Flag, Names};
use crate::http::views::{
    AdminGiftOrderView, AdminRechargeView, AdminSession, AdminUserDetail, AdminUserView,
    BalanceRecord, Coupon, PointsRecord, UserMessage, UserUpload,
};
use crate::input;

/// A page of results and the links to its neighbours.
pub struct Pager {
    pub current: u32,
    pub last: u64,
    pub total: u64,
    pub previous: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `link(page)` builds the address of another page with the same filters.
    pub fn of<T>(page: &Paged<T>, link: impl Fn(u32) -> String) -> Pager {
        Pager {
            current: page.current_page,
            last: page.last_page,
            total: page.total,
            previous: (page.current_page > 1).then(|| link(page.current_page - 1)),
            next: page.has_more_pages.then(|| link(page.current_page + 1)),
        }
    }
}

/// A query string of the non-empty pairs, percent-encoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a value for a query string.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    layout: Layout,
    q: String,
    users: Vec<AdminUserView>,
    pager: Pager,
}

/// `GET /console/users?q=`: search by account, phone, e-mail or nickname (用户管理).
pub async fn search(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Query(query): Query<UserSearchQuery>,
) -> ConsoleResult {
    let q = query.q.clone().unwrap_or_default();
    let page = admin::search_users(&state, query.q, query.page).await?;
    let offset = state.config.time_offset;
    let pager = Pager::of(&page, |n| {
        format!(
            "/console/users?{}",
            query_string(&[("q", &q), ("page", &n.to_string())])
        )
    });
    Ok(render(&UsersPage {
        layout: Layout::new(&staff.operator, "users"),
        users: page
            .data
            .iter()
            .map(|row| AdminUserView::of(row, offset))
            .collect(),
        q,
        pager,
    }))
}

/// A notice named by a fixed key in the address (never text from the address itself).
fn notice(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "points" => "积分已调整，已记入审计日志。",
        "balance" => "余额已调整，已记入审计日志。",
        "disabled" => "用户已停用，其所有登录会话已撤销。",
        "enabled" => "用户已启用。",
        "roles" => "角色已更新。",
        "sessions" => "会话已撤销。",
        "unlocked" => "已解除密码登录锁定，并重置该用户手机号和邮箱的验证码限额；已记入审计日志。",
        "lifted" => "密码登录未被锁定；已重置该用户手机号和邮箱的验证码限额，已记入审计日志。",
        _ => return None,
    };
    Some(text.to_owned())
}

input! {
    pub struct NoticeQuery {
        done: crate::http::input::OptionalText<20>,
    }
}

/// A section of the user's page: its newest rows and how many there are in all.
pub struct Section<T> {
    pub rows: Vec<T>,
    pub total: u64,
}

impl<T> Section<T> {
    fn of<R>(page: Paged<R>, view: impl Fn(&R) -> T) -> Section<T> {
        Section {
            rows: page.data.iter().map(view).collect(),
            total: page.total,
        }
    }
}

/// How many of each kind the user's page shows (the newest).
const SECTION_ROWS: u32 = 20;

fn newest() -> PageRequest {
    PageRequest {
        page: 1,
        limit: SECTION_ROWS,
    }
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    layout: Layout,
    user: AdminUserDetail,
    all_roles: Vec<(String, bool)>,
    sessions: Vec<AdminSession>,
    points: Option<Section<PointsRecord>>,
    balance: Option<Section<BalanceRecord>>,
    coupons: Option<Section<Coupon>>,
    messages: Option<Section<UserMessage>>,
    uploads: Option<Section<UserUpload>>,
    recharges: Option<Section<AdminRechargeView>>,
    gift_orders: Option<Section<AdminGiftOrderView>>,
    may_points: bool,
    may_balance: bool,
}

/// `GET /console/users/{id}`: the user's page (用户管理): profile, sign-in modes, roles,
/// sessions, and — where the operator holds their permissions — both ledgers, coupons,
/// messages and uploads; each read by the admin API's own domain function.
pub async fn detail(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Path(user_id): Path<i64>,
    Query(query): Query<NoticeQuery>,
) -> ConsoleResult {
    let operator = &staff.operator;
    let offset = state.config.time_offset;
    let may = |permission| operator.may(permission);
    let user = admin::user_detail(&state, user_id).await?;
    let held = user.roles.clone();
    let all_roles = admin::roles(&state)
        .await?
        .into_iter()
        .map(|role| {
            let holds = held.contains(&role.name);
            (role.name, holds)
        })
        .collect();
    let sessions = admin::user_sessions(&state, user_id)
        .await?
        .iter()
        .map(|row| AdminSession::of(row, offset))
        .collect();
    let points = match may(Permission::Points) {
        true => Some(Section::of(
            admin::user_ledger(&state, user_id, Ledger::Points, newest()).await?,
            |entry| PointsRecord::of(entry, offset),
        )),
        false => None,
    };
    let balance = match may(Permission::Finance) {
        true => Some(Section::of(
            admin::user_ledger(&state, user_id, Ledger::Balance, newest()).await?,
            |entry| BalanceRecord::of(entry, offset),
        )),
        false => None,
    };
    let coupons = match may(Permission::Coupons) {
        true => Some(Section::of(
            admin::user_coupons(&state, user_id, newest()).await?,
            |coupon| Coupon::of(coupon, offset),
        )),
        false => None,
    };
    let (messages, uploads) = match may(Permission::SupportTools) {
        true => (
            Some(Section::of(
                admin::user_messages(&state, user_id, newest()).await?,
                |message| UserMessage::of(message, offset),
            )),
            Some(Section::of(
                admin::user_uploads(&state, user_id, newest()).await?,
                |upload| UserUpload::of(upload, offset),
            )),
        ),
        false => (None, None),
    };
    let recharges = match may(Permission::Finance) {
        true => {
            let filter = admin::RechargeFilter {
                user_id: Some(user_id),
                ..Default::default()
            };
            Some(Section::of(
                admin::recharge_orders(&state, filter, newest()).await?,
                |row| AdminRechargeView::of(row, offset),
            ))
        }
        false => None,
    };
    let gift_orders = match may(Permission::Delivery) {
        true => {
            let filter = admin::GiftOrderFilter {
                user_id: Some(user_id),
                ..Default::default()
            };
            Some(Section::of(
                admin::gift_orders(&state, filter, newest()).await?,
                |row| AdminGiftOrderView::of(row, offset),
            ))
        }
        false => None,
    };
    Ok(render(&UserPage {
        layout: Layout::new(operator, "users").with_notice(notice(query.done.as_deref())),
        user: AdminUserDetail::of(&user, offset),
        all_roles,
        sessions,
        points,
        balance,
        coupons,
        messages,
        uploads,
        recharges,
        gift_orders,
        may_points: may(Permission::Points),
        may_balance: may(Permission::Finance),
    }))
}

/// `POST /console/users/{id}/sessions/revoke`: ends every session of the user (用户管理).
pub async fn revoke_sessions(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Path(user_id): Path<i64>,
    Form(Nothing): Form<Nothing>,
) -> ConsoleResult {
    admin::revoke_user_sessions(&state, staff.actor, user_id).await?;
    Ok(Redirect::to(&format!("/console/users/{user_id}?done=sessions")).into_response())
}

/// `POST /console/users/{id}/unlock`: lifts the user's password lock and code limits (用户管理).
pub async fn unlock(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Path(user_id): Path<i64>,
    Form(Nothing): Form<Nothing>,
) -> ConsoleResult {
    let unlocked = admin::unlock_user(&state, staff.actor, user_id).await?;
    let done = match unlocked.password_was_locked {
        true => "unlocked",
        false => "lifted",
    };
    Ok(Redirect::to(&format!("/console/users/{user_id}?done={done}")).into_response())
}

/// `POST /console/users/{id}/sessions/{sid}/revoke`: ends one session.
pub async fn revoke_session(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Path((user_id, sid)): Path<(i64, String)>,
    Form(Nothing): Form<Nothing>,
) -> ConsoleResult {
    admin::revoke_user_session(&state, staff.actor, user_id, sid).await?;
    Ok(Redirect::to(&format!("/console/users/{user_id}?done=sessions")).into_response())
}

input! {
    pub struct StatusForm {
        disabled: Flag,
    }
}

/// `POST /console/users/{id}/status`: disable (which ends every session) or enable.
pub async fn set_status(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Path(user_id): Path<i64>,
    Form(form): Form<StatusForm>,
) -> ConsoleResult {
    admin::update_user(&state, staff.actor, user_id, Some(form.disabled), None).await?;
    let done = if form.disabled { "disabled" } else { "enabled" };
    Ok(Redirect::to(&format!("/console/users/{user_id}?done={done}")).into_response())
}

input! {
    pub struct RolesForm {
        roles: Names,
    }
}

/// `POST /console/users/{id}/roles`: replaces the user's roles, within SPEC §7's boundaries.
pub async fn set_roles(
    State(state): State<AppState>,
    staff: Staff<needs::Users>,
    Path(user_id): Path<i64>,
    Form(form): Form<RolesForm>,
) -> ConsoleResult {
    let roles = form
        .roles
        .unwrap_or_default()
        .into_iter()
        .filter(|role| !role.is_empty())
        .collect();
    admin::update_user(&state, staff.actor, user_id, None, Some(roles)).await?;
    Ok(Redirect::to(&format!("/console/users/{user_id}?done=roles")).into_response())
}

/// One of the two ledgers an operator adjusts, with the permission and input it takes.
pub trait Kind: Send + 'static {
    type Need: Needs + Send + Sync + 'static;
    type Request: crate::http::input::FromParams + Send;
    const LEDGER: Ledger;
    const PATH: &'static str;
    const LABEL: &'static str;
    /// The field holding the signed change, as the admin API names it.
    const FIELD: &'static str;
    fn change(request: &Self::Request) -> i64;
    fn describe(request: Self::Request) -> String;
    fn show(figure: i64) -> String;
}

pub struct Points;

impl Kind for Points {
    type Need = needs::Points;
    type Request = PointsAdjustRequest;
    const LEDGER: Ledger = Ledger::Points;
    const PATH: &'static str = "points";
    const LABEL: &'static str = "积分";
    const FIELD: &'static str = "number";
    fn change(request: &PointsAdjustRequest) -> i64 {
        request.number
    }
    fn describe(request: PointsAdjustRequest) -> String {
        request.describe
    }
    fn show(figure: i64) -> String {
        figure.to_string()
    }
}

pub struct Balance;

impl Kind for Balance {
    type Need = needs::Finance;
    type Request = BalanceAdjustRequest;
    const LEDGER: Ledger = Ledger::Balance;
    const PATH: &'static str = "balance";
    const LABEL: &'static str = "余额";
    const FIELD: &'static str = "amount";
    fn change(request: &BalanceAdjustRequest) -> i64 {
        request.amount
    }
    fn describe(request: BalanceAdjustRequest) -> String {
        request.describe
    }
    fn show(figure: i64) -> String {
        shared::money::format_cents(figure)
    }
}

#[derive(Template)]
#[template(path = "console/adjust.html")]
struct AdjustPage {
    layout: Layout,
    user_id: i64,
    user_name: String,
    label: &'static str,
    path: &'static str,
    field: &'static str,
    current: String,
    /// After the preview: the change, the figure it leads to, the reason, the figure seen.
    preview: Option<Preview>,
    error: Option<String>,
    change: String,
    describe: String,
}

struct Preview {
    result: String,
    seen: i64,
}

async fn figure_of<K: Kind>(state: &AppState, user_id: i64) -> ConsoleResult<(String, i64)> {
    let (user, wallet) = state
        .db
        .read(move |conn| -> origin_core::Result<_> {
            let user = users::by_id(conn, user_id)?.ok_or(shared::Problem::NotFound)?;
            Ok((user, users::wallet(conn, user_id)?))
        })
        .await?;
    let figure = match K::LEDGER {
        Ledger::Points => wallet.points,
        Ledger::Balance => wallet.balance_cents,
    };
    // An operator here may hold only 积分管理 or 财务管理: the user is named by id and
    // nickname, never by their phone or e-mail (those are 用户管理's).
    let name = if user.nickname.is_empty() {
        format!("用户 {user_id}")
    } else {
        format!("用户 {user_id}（{}）", user.nickname)
    };
    Ok((name, figure))
}

/// `GET /console/users/{id}/{points|balance}`: the adjustment form.
pub async fn adjust_form<K: Kind>(
    State(state): State<AppState>,
    staff: Staff<K::Need>,
    Path(user_id): Path<i64>,
) -> ConsoleResult {
    let (user_name, figure) = figure_of::<K>(&state, user_id).await?;
    Ok(render(&AdjustPage {
        layout: Layout::new(&staff.operator, "users"),
        user_id,
        user_name,
        label: K::LABEL,
        path: K::PATH,
        field: K::FIELD,
        current: K::show(figure),
        preview: None,
        error: None,
        change: String::new(),
        describe: String::new(),
    }))
}

input! {
    pub struct SeenForm {
        seen: crate::http::input::Int<{ i64::MIN + 1 }, { i64::MAX }>,
    }
}

/// `POST /console/users/{id}/{points|balance}`: checks the change by the admin API's rules
/// and shows the figure it would lead to, for confirmation. Nothing is written yet.
pub async fn adjust_preview<K: Kind>(
    State(state): State<AppState>,
    staff: Staff<K::Need>,
    Path(user_id): Path<i64>,
    Form(request): Form<K::Request>,
) -> ConsoleResult {
    let (user_name, figure) = figure_of::<K>(&state, user_id).await?;
    let change = K::change(&request);
    let result = figure + change;
    let (preview, error) = if result < 0 {
        (
            None,
            Some(format!(
                "调整后{}将为负数（{}），不能调整。",
                K::LABEL,
                K::show(result)
            )),
        )
    } else {
        (
            Some(Preview {
                result: K::show(result),
                seen: figure,
            }),
            None,
        )
    };
    let page = AdjustPage {
        layout: Layout::new(&staff.operator, "users"),
        user_id,
        user_name,
        label: K::LABEL,
        path: K::PATH,
        field: K::FIELD,
        current: K::show(figure),
        preview,
        error,
        change: K::show(change),
        describe: K::describe(request),
    };
    let status = if page.error.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    Ok(super::render_with(status, &page))
}

/// The confirmed change and the figure the operator saw when confirming.
pub struct Confirmed<K: Kind> {
    request: K::Request,
    seen: i64,
}

impl<K: Kind> crate::http::input::FromParams for Confirmed<K> {
    fn from_params(params: &crate::http::params::Params) -> Result<Self, shared::Problem> {
        Ok(Confirmed {
            request: K::Request::from_params(params)?,
            seen: SeenForm::from_params(params)?.seen,
        })
    }
}

/// `POST /console/users/{id}/{points|balance}/confirm`: posts the change through the same
/// domain action as the admin API (ledger entry, audit entry, refused below zero). If the
/// figure moved since the preview, the preview is shown again instead.
pub async fn adjust_confirm<K: Kind>(
    State(state): State<AppState>,
    staff: Staff<K::Need>,
    Path(user_id): Path<i64>,
    Form(Once {
        value: confirmed,
        key,
    }): Form<Once<Confirmed<K>>>,
) -> ConsoleResult {
    let (_, figure) = figure_of::<K>(&state, user_id).await?;
    if figure != confirmed.seen {
        return Err(ConsoleError::Moved(format!(
            "{}已变化（现为 {}），未做调整。请返回重新确认。",
            K::LABEL,
            K::show(figure)
        )));
    }
    let change = K::change(&confirmed.request);
    let describe = K::describe(confirmed.request);
    let actor = staff.actor.submitting(key);
    let seen = Some(confirmed.seen);
    admin::adjust_seen(&state, actor, user_id, K::LEDGER, change, describe, seen).await?;
    Ok(Redirect::to(&format!("/console/users/{user_id}?done={}", K::PATH)).into_response())
}
