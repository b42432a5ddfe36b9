//! The back office's web console (后台), on the admin listener under `/console/`.
//!
//! Server-rendered pages (askama templates, checked at compile time) with htmx, vendored into
//! the binary, for partial updates; no Node build. Every page calls the same `domain::admin`
//! functions as the admin JSON API — one rule, one place — so every action is audited like its
//! API twin and refused by the same boundaries.
//!
//! Security, in one place:
//! - the sign-in is a cookie (`HttpOnly`, `SameSite=Strict`, `Path=/console`, `Secure` when the
//!   browser is on https) over an ordinary session row (`domain::console`);
//! - every handler's first extractor is [`Staff<P>`](session::Staff): signed in *and* holding
//!   `P`'s permission, checked on the server for every page and action;
//! - every state-changing request passes [`Form<T>`](session::Form): an `Origin` equal to the
//!   console's own, and the session's form token;
//! - every answer carries a strict Content-Security-Policy (no inline script or style),
//!   `X-Frame-Options: DENY`, `nosniff`, `no-store`.

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use shared::Problem;

use crate::AppState;
use origin_core::Error;

mod audit;
mod catalog;
mod layout;
mod orders;
mod outreach;
mod session;
mod upload;
mod users;

pub use layout::{Layout, MenuItem};
pub use session::{Anyone, Form, Staff};
pub(crate) use session::{same_origin, trusted_host};

/// Every console page, each behind its extractor's permission.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(session::home))
        .route(
            "/console/login",
            get(session::login_page).post(session::login),
        )
        .route("/console/logout", post(session::logout))
        .route("/console/assets/{file}", get(asset))
        .route("/console/users", get(users::search))
        .route("/console/users/{id}", get(users::detail))
        .route("/console/users/{id}/status", post(users::set_status))
        .route("/console/users/{id}/roles", post(users::set_roles))
        .route(
            "/console/users/{id}/sessions/revoke",
            post(users::revoke_sessions),
        )
        .route("/console/users/{id}/unlock", post(users::unlock))
        .route(
            "/console/users/{id}/sessions/{sid}/revoke",
            post(users::revoke_session),
        )
        .route(
            "/console/users/{id}/points",
            get(users::adjust_form::<users::Points>).post(users::adjust_preview::<users::Points>),
        )
        .route(
            "/console/users/{id}/points/confirm",
            post(users::adjust_confirm::<users::Points>),
        )
        .route(
            "/console/users/{id}/balance",
            get(users::adjust_form::<users::Balance>).post(users::adjust_preview::<users::Balance>),
        )
        .route(
            "/console/users/{id}/balance/confirm",
            post(users::adjust_confirm::<users::Balance>),
        )
        .route("/console/audit", get(audit::list))
        .route("/console/audit/{id}", get(audit::entry))
        .route("/console/deliveries", get(audit::deliveries))
        .route("/console/gift_orders", get(orders::gift_orders))
        .route("/console/gift_orders/export", get(orders::export))
        .route("/console/gift_orders/{id}/ship", post(orders::ship))
        .route("/console/recharge_orders", get(orders::recharge_orders))
        .route(
            "/console/coupons",
            get(outreach::coupons_form).post(outreach::coupons_preview),
        )
        .route("/console/coupons/confirm", post(outreach::coupons_confirm))
        .route(
            "/console/messages",
            get(outreach::messages_form).post(outreach::messages_send),
        )
        .route(
            "/console/invitations",
            get(outreach::invitations_form).post(outreach::invitations_create),
        )
        .route(
            "/console/roles",
            get(outreach::roles).post(outreach::roles_save),
        )
        .route(
            "/console/goods",
            get(catalog::goods).post(catalog::goods_create),
        )
        .route("/console/goods/{id}", post(catalog::goods_update))
        .route(
            "/console/gifts",
            get(catalog::gifts)
                .post(catalog::gift_create)
                .layer(image_body_limit()),
        )
        .route(
            "/console/gifts/{id}",
            post(catalog::gift_update).layer(image_body_limit()),
        )
        .route("/console/gifts/images/{key}", get(catalog::gift_image))
        .route("/console/dashboard", get(catalog::dashboard))
        // Any other address under the console is its own 404 page, not the API's JSON.
        .route(
            "/console/{*rest}",
            axum::routing::any(|| async { ConsoleError::NotFound }),
        )
        .layer(middleware::from_fn(security_headers))
}

/// A gift form's body: its fields and one image of at most `IMAGE_PART_LIMIT` (the part
/// itself is capped as it streams in).
fn image_body_limit() -> DefaultBodyLimit {
    let limit = shared::policy::IMAGE_PART_LIMIT + shared::policy::BODY_LIMIT;
    DefaultBodyLimit::max(usize::try_from(limit).unwrap_or(usize::MAX))
}

/// The console's policy: scripts and styles from the console's own assets only (htmx is
/// vendored), forms posting only to itself, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let asset = request.uri().path().starts_with("/console/assets/");
    let mut response = next.run(request).await;
    secure(&mut response, asset);
    response
}

/// The console's security headers on `response` (`no-store` unless it is a vendored asset).
fn secure(response: &mut Response, asset: bool) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !asset {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The page for a console request under a `Host` the admin listener does not answer on, with
/// the console's security headers (the check runs outside the console's own layers).
pub(crate) fn unknown_host() -> Response {
    let mut response = ConsoleError::UnknownHost.into_response();
    secure(&mut response, false);
    response
}

/// The console's answer to a state-changing request another origin sent (the admin
/// listener's `no_cross_site_writes`), with the console's security headers.
pub(crate) fn cross_site() -> Response {
    let mut response = ConsoleError::CrossSite.into_response();
    secure(&mut response, false);
    response
}

/// The vendored assets, compiled in. htmx 2.0.8 (0BSD, `htmx-LICENSE` beside it).
async fn asset(Path(file): Path<String>) -> Response {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "htmx-2.0.8.min.js" => (
            include_bytes!("../../assets/console/htmx-2.0.8.min.js"),
            "text/javascript; charset=utf-8",
        ),
        "console.css" => (
            include_bytes!("../../assets/console/console.css"),
            "text/css; charset=utf-8",
        ),
        _ => return ConsoleError::NotFound.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// Renders a page; a template that fails to render is a bug (500).
pub fn render<T: Template>(page: &T) -> Response {
    render_with(StatusCode::OK, page)
}

pub fn render_with<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "a console template failed to render");
            ConsoleError::Internal.into_response()
        }
    }
}

/// What a console request can end in, other than its page.
#[derive(Debug)]
pub enum ConsoleError {
    /// Not signed in (or the sign-in ended): to the sign-in page.
    SignIn,
    /// Signed in without the permission the page needs.
    Forbidden(&'static str),
    /// A state-changing request without the console's origin or form token.
    CrossSite,
    /// A `Host` the admin listener does not answer on (`ORIGIN_ADMIN_HOSTS`).
    UnknownHost,
    NotFound,
    /// What the operator confirmed has changed since they saw it.
    Moved(String),
    /// The domain refused (bad input, a boundary, below zero): its message, its status.
    Refused(Problem),
    Internal,
}

impl From<Error> for ConsoleError {
    fn from(error: Error) -> Self {
        match error {
            Error::Problem(Problem::NotFound, _) => ConsoleError::NotFound,
            Error::Problem(Problem::Unauthenticated, _) => ConsoleError::SignIn,
            Error::Problem(problem, _) => ConsoleError::Refused(problem),
            Error::Internal(error) => {
                tracing::error!(error = ?error, "console request failed");
                ConsoleError::Internal
            }
        }
    }
}

impl From<crate::error::AppError> for ConsoleError {
    fn from(error: crate::error::AppError) -> Self {
        match error {
            crate::error::AppError::Problem(problem, instructions) => {
                ConsoleError::from(Error::Problem(problem, instructions))
            }
            crate::error::AppError::Internal(error) => ConsoleError::from(Error::Internal(error)),
        }
    }
}

impl From<Problem> for ConsoleError {
    fn from(problem: Problem) -> Self {
        ConsoleError::from(Error::from(problem))
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    status: u16,
    title: &'static str,
    message: String,
}

/// `Retry-After` on a refusal that says when to try again (a sign-in budget, a lock, load
/// shedding), as the JSON APIs send it.
pub(crate) fn retry_after(mut response: Response, problem: &shared::Problem) -> Response {
    if let Some(seconds) = problem.retry_after() {
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let mut retry = None;
        let (status, title, message) = match self {
            ConsoleError::SignIn => {
                let mut response = Redirect::to("/console/login").into_response();
                // htmx follows redirects inside its request; this makes it load the page.
                response
                    .headers_mut()
                    .insert("HX-Redirect", HeaderValue::from_static("/console/login"));
                return response;
            }
            ConsoleError::Forbidden(permission) => (
                StatusCode::FORBIDDEN,
                "没有权限",
                format!("此操作需要「{permission}」权限。"),
            ),
            ConsoleError::CrossSite => (
                StatusCode::FORBIDDEN,
                "请求被拒绝",
                "请求不是来自本控制台页面（来源或表单令牌不符），未做任何修改。请刷新页面后重试。"
                    .to_owned(),
            ),
            ConsoleError::UnknownHost => (
                StatusCode::MISDIRECTED_REQUEST,
                "地址不受信任",
                "控制台只在 IP 地址、localhost 或 ORIGIN_ADMIN_HOSTS 列出的域名上提供。".to_owned(),
            ),
            ConsoleError::NotFound => (
                StatusCode::NOT_FOUND,
                "未找到",
                "要找的页面或记录不存在。".to_owned(),
            ),
            ConsoleError::Moved(message) => (StatusCode::CONFLICT, "数据已变化", message),
            ConsoleError::Refused(problem) => {
                let rendered = problem.render(shared::Dialect::Print);
                retry = Some(problem.clone());
                (
                    StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::BAD_REQUEST),
                    "操作未完成",
                    problem.message(),
                )
            }
            ConsoleError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "服务器错误",
                "服务器出错了，操作可能没有完成。请稍后重试。".to_owned(),
            ),
        };
        let response = render_with(
            status,
            &ErrorPage {
                status: status.as_u16(),
                title,
                message,
            },
        );
        match retry {
            Some(problem) => retry_after(response, &problem),
            None => response,
        }
    }
}

pub type ConsoleResult<T = Response> = Result<T, ConsoleError>;
