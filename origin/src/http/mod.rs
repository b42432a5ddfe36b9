//! HTTP: the public router (mounted from `shared`'s policy table, edge secret required) and the
//! admin router, with the middleware both share: request ids, tracing, panic catching, and
//! rendering problems in the dialect of the path.

pub mod addresses;
pub mod admin;
pub mod auth;
pub mod comments;
pub mod commerce;
pub mod deliveries;
pub mod endpoint;
pub mod input;
pub mod member;
pub mod openapi;
pub mod params;
pub mod path;
pub mod print;
pub mod problem;
pub mod reply;
pub mod store;
pub mod uploads;
pub mod views;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodFilter;
use sha2::{Digest, Sha256};
use shared::headers::{CLIENT_IP, EDGE_SECRET, REQUEST_ID};
use shared::invalidate::Instruction;
use shared::policy::{Auth, Limit, Method, ROUTES, RouteId};
use shared::{Dialect, Problem};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::error::AppError;
use crate::http::endpoint::{Endpoint, endpoint, undocumented};
use crate::http::problem::ProblemResponse;

/// The client's network (SPEC §6: an IPv4 address, or an IPv6 /64), from `x-client-ip` as the
/// edge saw it (trusted only because the edge secret was checked first), else the peer
/// address. Every per-client counter keys on it.
#[derive(Debug, Clone)]
pub struct ClientNetwork(pub String);

impl ClientNetwork {
    /// On the public listener, behind the edge secret, the edge's `x-client-ip`.
    fn of(parts: &Parts) -> ClientNetwork {
        let from_edge = parts
            .headers
            .get(CLIENT_IP)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let address = from_edge.unwrap_or_else(|| Self::peer_address(parts));
        ClientNetwork(shared::net::client_network(&address))
    }

    /// On the admin listener no proxy stands in front and no header is trusted: the peer.
    pub(crate) fn of_peer(parts: &Parts) -> ClientNetwork {
        ClientNetwork(shared::net::client_network(&Self::peer_address(parts)))
    }

    fn peer_address(parts: &Parts) -> String {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string())
            .unwrap_or_default()
    }
}

/// Which listener a limit is counted on: the public one (behind the edge secret, the edge's
/// `x-client-ip` names the client) or the admin one (the peer address does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listener {
    Public,
    Admin,
}

impl<S: Send + Sync> FromRequestParts<S> for ClientNetwork {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientNetwork::of(parts))
    }
}

/// Who made a signed-in write, once the `Caller` extractor has verified them. The write layer
/// ([`bump_the_writer`]) puts an empty slot in the request; the extractor fills it.
#[derive(Clone, Default)]
pub(crate) struct WriterSlot(std::sync::Arc<std::sync::OnceLock<i64>>);

impl WriterSlot {
    pub(crate) fn fill(parts: &Parts, user_id: i64) {
        if let Some(slot) = parts.extensions.get::<WriterSlot>() {
            let _ = slot.0.set(user_id);
        }
    }
}

/// Every successful signed-in write changes its writer's data, so the edge must drop their
/// cached personal reads: this layer adds `Bump` for the writer to the write's instructions,
/// and handlers and the domain name only what a layer cannot know (revoked sessions, other
/// users). A failed write (no 2xx) bumps nothing.
async fn bump_the_writer(mut request: Request, next: Next) -> Response {
    let slot = WriterSlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(user) = slot.0.get().copied()
        && response.status().is_success()
    {
        reply::add_instructions(&mut response, &[Instruction::Bump { user }]);
    }
    response
}

/// The limits counted in memory at the router ([`crate::limits`]); captcha and code requests
/// are counted by their own tables in the domain.
fn counted_at_router(limit: Limit) -> bool {
    match limit {
        Limit::SignIn | Limit::Register | Limit::PasswordReset => true,
        Limit::Captcha | Limit::Sms | Limit::Mail => false,
    }
}

/// Counts a request of the sign-in family against its client network before any of its body is
/// read; past the rule it is 429 with `Retry-After`.
pub(crate) async fn count_network(
    state: AppState,
    listener: Listener,
    limit: Limit,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let (network, scope) = match listener {
        Listener::Public => (ClientNetwork::of(&parts), "public"),
        Listener::Admin => (ClientNetwork::of_peer(&parts), "admin"),
    };
    let rule = state.config.rate_rules.rule(limit);
    if let Err(problem) = state
        .limits
        .hit(scope, limit, rule, &network.0, crate::clock::now_ms())
    {
        return AppError::from(problem).into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

pub(crate) fn filter(method: Method) -> MethodFilter {
    match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Put => MethodFilter::PUT,
        Method::Delete => MethodFilter::DELETE,
    }
}

/// What the upload limits add (SPEC §5): the daily count (429) and the disk's free-space
/// reserve (507). The quota is a 413, which every write lists already.
const UPLOAD_LIMITS: &[u16] = &[429, 507];

/// The endpoint of every row of the policy table: its handler and, from the handler's types,
/// its description in the API documents. The match is exhaustive, so a row without a handler
/// does not compile.
pub(crate) fn endpoint_of(id: RouteId, method: Method) -> Endpoint {
    let m = filter(method);
    match id {
        RouteId::Jwks => undocumented(m, jwks),
        RouteId::OpenApi => undocumented(m, openapi::public_document),
        RouteId::Docs => undocumented(m, openapi::public_docs_index),
        RouteId::DocsAsset => undocumented(m, openapi::public_docs_asset),
        // Store.
        RouteId::ResponseCode => {
            endpoint(m, store::response_code, "The response code table", "meta")
        }
        RouteId::Captchas => endpoint(
            m,
            store::captchas,
            "A captcha image for registration",
            "auth",
        ),
        RouteId::StoreRegister => endpoint(
            m,
            store::register,
            "Register with an invitation code and a captcha",
            "auth",
        ),
        RouteId::StoreLogin => {
            endpoint(m, store::login, "Sign in with a password", "auth").also(&[429])
        }
        RouteId::StoreLogout => endpoint(m, store::logout, "Sign out", "auth"),
        RouteId::StoreRefresh => endpoint(
            m,
            store::refresh,
            "A new access token for the current (or recently expired) one",
            "auth",
        ),
        RouteId::StoreMe => endpoint(m, store::me, "The signed-in user", "auth"),
        RouteId::StoreAddressList => endpoint(
            m,
            addresses::store_list,
            "The user's shipping addresses",
            "addresses",
        ),
        RouteId::StoreAddressCreate => endpoint(
            m,
            addresses::store_create,
            "Add a shipping address",
            "addresses",
        ),
        RouteId::StoreAddressUpdate => endpoint(
            m,
            addresses::store_update,
            "Change a shipping address",
            "addresses",
        ),
        RouteId::StoreAddressDelete => endpoint(
            m,
            addresses::store_delete,
            "Delete a shipping address",
            "addresses",
        ),
        // Print: identity and profile.
        RouteId::Sms => endpoint(m, print::sms, "Send a verification code by SMS", "auth"),
        RouteId::Mail => endpoint(m, print::mail, "Send a verification code by e-mail", "auth"),
        RouteId::PrintRegister => endpoint(
            m,
            print::register,
            "Register with a verified phone or e-mail",
            "auth",
        ),
        RouteId::PrintLogin => {
            endpoint(m, print::login, "Sign in with a code or a password", "auth").also(&[429])
        }
        RouteId::PrintRefresh => endpoint(
            m,
            print::refresh,
            "New tokens for a refresh token (sent in the `token` header)",
            "auth",
        ),
        RouteId::Repassword => endpoint(
            m,
            print::repassword,
            "Reset the password with a verification code",
            "auth",
        ),
        RouteId::WechatLogin => endpoint(
            m,
            print::wechat_login,
            "Sign in with a WeChat authorization code (501 while no WeChat app is configured)",
            "auth",
        )
        .also(&[501, 502]),
        RouteId::SelfShow => endpoint(
            m,
            print::show_self,
            "The signed-in user's profile, level, points and balance",
            "profile",
        ),
        RouteId::SelfUpdate => endpoint(
            m,
            print::update_self,
            "Change nickname, sex or avatar",
            "profile",
        ),
        RouteId::LoginModeBind => endpoint(
            m,
            print::bind_login_mode,
            "Bind a verified phone or e-mail, or WeChat, to the account (replacing a bound one needs the password, or a code of it)",
            "profile",
        )
        .also(&[501, 502]),
        RouteId::LoginModeUnbind => endpoint(
            m,
            print::unbind_login_mode,
            "Unbind the phone, e-mail or WeChat (needs the password, or a code of it)",
            "profile",
        )
        .also(&[501, 502]),
        RouteId::SelfPermissions => endpoint(
            m,
            print::permissions,
            "The permission names the user holds",
            "profile",
        ),
        RouteId::PrintAddressList => endpoint(
            m,
            addresses::print_list,
            "The user's addresses",
            "addresses",
        ),
        RouteId::PrintAddressCreate => {
            endpoint(m, addresses::print_create, "Add an address", "addresses")
        }
        RouteId::PrintAddressUpdate => {
            endpoint(m, addresses::print_update, "Change an address", "addresses")
        }
        RouteId::PrintAddressDelete => {
            endpoint(m, addresses::print_delete, "Delete an address", "addresses")
        }
        // Print: member centre.
        RouteId::Messages => endpoint(m, member::messages, "The user's messages", "messages"),
        RouteId::MessagesUnreadCount => endpoint(
            m,
            member::unread_count,
            "How many messages are unread",
            "messages",
        ),
        RouteId::MessageRead => endpoint(m, member::mark_read, "Mark a message read", "messages"),
        RouteId::MessagesReadAll => endpoint(
            m,
            member::mark_all_read,
            "Mark every message read",
            "messages",
        ),
        RouteId::Coupons => endpoint(m, member::coupons, "The user's coupons", "wallet"),
        RouteId::PointsRecords => {
            endpoint(m, member::points_records, "The points ledger", "wallet")
        }
        RouteId::BalanceRecords => {
            endpoint(m, member::balance_records, "The balance ledger", "wallet")
        }
        RouteId::Images => endpoint(
            m,
            uploads::images,
            "Upload images (PNG, JPEG, GIF, WebP; 5 MiB each)",
            "uploads",
        )
        .also(UPLOAD_LIMITS),
        RouteId::Files => {
            endpoint(m, uploads::files, "Upload files (20 MiB each)", "uploads").also(UPLOAD_LIMITS)
        }
        RouteId::Storage => endpoint(m, uploads::storage, "An uploaded file's bytes", "uploads"),
        RouteId::SelfComments => endpoint(m, comments::of_self, "The user's comments", "comments"),
        RouteId::CommentCreate => endpoint(m, comments::create, "Comment on goods", "comments"),
        RouteId::GoodsComments => endpoint(m, comments::of_goods, "Comments on goods", "comments"),
        // Print: commerce.
        RouteId::RechargeOrders => endpoint(
            m,
            commerce::recharge_orders,
            "The user's recharge orders",
            "wallet",
        ),
        // 429: past the unpaid-recharge bound (`MAX_UNPAID_RECHARGES`).
        RouteId::RechargeOrderCreate => endpoint(
            m,
            commerce::create_recharge,
            "Start a balance recharge",
            "wallet",
        )
        .also(&[429]),
        RouteId::PaymentNotify => endpoint(
            m,
            commerce::payment_notify,
            "A payment gateway's callback (sandbox, alipay, wechat), answered in the gateway's format: settled (also a replay) or refused (400), changing nothing",
            "wallet",
        ),
        RouteId::Gifts => endpoint(m, commerce::gifts, "Gifts on offer for points", "gifts"),
        RouteId::GiftOrderCreate => {
            endpoint(m, commerce::redeem, "Redeem a gift with points", "gifts")
        }
        RouteId::GiftOrders => {
            endpoint(m, commerce::gift_orders, "The user's gift orders", "gifts")
        }
    }
}

async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    axum::Json(state.keys.jwks())
}

async fn not_found() -> AppError {
    Problem::NotFound.into()
}

/// The public router: every row of the policy table, behind the edge secret.
pub fn public_router(state: AppState) -> Router {
    let mut router = Router::new();
    for route in ROUTES {
        // A body declared over the route's limit is refused before any of it is read; one that
        // does not declare its length stops at the limit in the extractors that honour it.
        let limit = route.body_limit;
        let mut method_router = endpoint_of(route.id, route.method)
            .router
            .layer(DefaultBodyLimit::max(
                usize::try_from(limit).unwrap_or(usize::MAX),
            ))
            .layer(middleware::from_fn(move |request: Request, next: Next| {
                refuse_declared_over(limit, request, next)
            }));
        if route.auth == Auth::User && route.method != Method::Get {
            method_router = method_router.layer(middleware::from_fn(bump_the_writer));
        }
        if let Some(rate_limit) = route.limit.filter(|limit| counted_at_router(*limit)) {
            let state = state.clone();
            method_router =
                method_router.layer(middleware::from_fn(move |request: Request, next: Next| {
                    count_network(state.clone(), Listener::Public, rate_limit, request, next)
                }));
        }
        router = router.route(route.path, method_router);
    }
    let secret_digest = Sha256::digest(state.config.edge_secret.expose().as_bytes());
    let metrics = state.metrics.clone();
    let router = router
        .fallback(not_found)
        .with_state(state)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let secret_digest = secret_digest;
            async move {
                let presented = request
                    .headers()
                    .get(EDGE_SECRET)
                    .map(|v| Sha256::digest(v.as_bytes()));
                if presented.as_ref() != Some(&secret_digest) {
                    return AppError::from(Problem::Forbidden {
                        message: "禁止访问：请通过边缘节点访问".into(),
                    })
                    .into_response();
                }
                next.run(request).await
            }
        }));
    with_common_layers(router, metrics)
}

async fn refuse_declared_over(limit: u64, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok());
    if shared::policy::declares_over(declared, limit) {
        return AppError::from(Problem::PayloadTooLarge { limit_bytes: limit }).into_response();
    }
    next.run(request).await
}

/// The admin router, for the private listener.
pub fn admin_router(state: AppState) -> Router {
    let routes = admin::routes(&state)
        .merge(crate::ops::routes())
        .merge(crate::console::routes());
    let metrics = state.metrics.clone();
    let routes = routes
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            no_cross_site_writes,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            trusted_hosts_only,
        ))
        .with_state(state);
    with_common_layers(routes, metrics)
}

/// Refuses a request to the admin listener whose `Host` it does not answer on
/// (`console::session::trusted_host`): what a DNS-rebinding page in an operator's browser would
/// send. The JSON API needs a token, but its sign-in, health, metrics and documents do not, and
/// a page reaching them would guess passwords from the operator's own address or read figures.
/// Console pages get the console's own error page; everything else the print envelope.
async fn trusted_hosts_only(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let trusted = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|host| crate::console::trusted_host(host, &state.config.admin_hosts));
    if trusted {
        return next.run(request).await;
    }
    if request.uri().path().starts_with("/console") {
        return crate::console::unknown_host();
    }
    AppError::from(Problem::Forbidden {
        message: "this listener answers only on IP addresses, localhost and the names in \
                  ORIGIN_ADMIN_HOSTS"
            .to_owned(),
    })
    .into_response()
}

/// Refuses a state-changing request to the admin listener that a page of another origin sent
/// through the operator's browser: its `Origin` is not the listener's own, or the browser says
/// it came from another site (`Sec-Fetch-Site`). Such a page cannot read the answer, but it
/// could still act: ten wrong passwords posted to `/admin/login` from any web page the
/// operator opens would lock the admin door for everyone (SPEC §7). Scripts and `curl` send no
/// `Origin`; the console's pages and the API documents send their own.
async fn no_cross_site_writes(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let headers = request.headers();
    let foreign_origin = headers.contains_key(axum::http::header::ORIGIN)
        && !crate::console::same_origin(headers, &state.config.admin_hosts);
    let foreign_site = matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("cross-site" | "same-site")
    );
    if safe || !(foreign_origin || foreign_site) {
        return next.run(request).await;
    }
    if request.uri().path().starts_with("/console") {
        return crate::console::cross_site();
    }
    AppError::from(Problem::Forbidden {
        message: "a page of another origin may not send this request through a browser \
                  (its Origin header is not this listener's)"
            .to_owned(),
    })
    .into_response()
}

/// Layers shared by both listeners: request ids, tracing, panics caught, problems rendered,
/// requests counted and timed.
fn with_common_layers(router: Router, metrics: crate::ops::metrics::Metrics) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID);
    router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(render_in_dialect))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            crate::ops::prometheus::track(metrics.clone(), request, next)
        }))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("request", id = %request_id, method = %request.method(), path = %request.uri().path())
}

fn panic_response(_panic: Box<dyn std::any::Any + Send>) -> Response {
    tracing::error!("handler panicked");
    AppError::from(Problem::Internal).into_response()
}

/// Renders problems (and axum's bare 405s) in the envelope of the request's dialect.
async fn render_in_dialect(request: Request, next: Next) -> Response {
    {
        let dialect = Dialect::for_path(request.uri().path());
        let mut response = next.run(request).await;
        let problem = match response.extensions_mut().remove::<ProblemResponse>() {
            Some(ProblemResponse(problem)) => problem,
            None if response.status() == StatusCode::METHOD_NOT_ALLOWED => {
                Problem::MethodNotAllowed
            }
            None => return response,
        };
        let rendered = problem.render(dialect);
        let mut rendered_response = Response::new(Body::from(rendered.body.to_string()));
        *rendered_response.status_mut() =
            StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = rendered_response.headers_mut();
        headers.insert(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = rendered.retry_after {
            headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        for (name, value) in response.headers() {
            if name.as_str().starts_with("x-") || name == axum::http::header::ALLOW {
                headers.insert(name.clone(), value.clone());
            }
        }
        rendered_response
    }
}
