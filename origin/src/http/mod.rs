//! HTTP: the public router (mounted from `shared`'s policy table, edge secret required) and the
//! admin router, with the middleware both share: request ids, tracing, panic catching, and
//! rendering problems in the dialect of the path.

pub mod addresses;
pub mod admin;
pub mod auth;
pub mod comments;
pub mod commerce;
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
use axum::routing::{MethodFilter, MethodRouter, on};
use sha2::{Digest, Sha256};
use shared::headers::{CLIENT_IP, EDGE_SECRET, REQUEST_ID};
use shared::policy::{Limit, Method, ROUTES, RouteId};
use shared::{Dialect, Problem};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::AppState;
use crate::error::AppError;
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
    fn of_peer(parts: &Parts) -> ClientNetwork {
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

/// The handler of every row of the policy table. The match is exhaustive, so a row without a
/// handler does not compile.
fn handler(id: RouteId, method: Method) -> MethodRouter<AppState> {
    let method = filter(method);
    match id {
        RouteId::Jwks => on(method, jwks),
        RouteId::OpenApi => on(method, openapi::public_document),
        RouteId::Docs => on(method, openapi::public_docs_index),
        RouteId::DocsAsset => on(method, openapi::public_docs_asset),
        RouteId::ResponseCode => on(method, store::response_code),
        RouteId::Captchas => on(method, store::captchas),
        RouteId::StoreRegister => on(method, store::register),
        RouteId::StoreLogin => on(method, store::login),
        RouteId::StoreLogout => on(method, store::logout),
        RouteId::StoreRefresh => on(method, store::refresh),
        RouteId::StoreMe => on(method, store::me),
        RouteId::Sms => on(method, print::sms),
        RouteId::Mail => on(method, print::mail),
        RouteId::PrintRegister => on(method, print::register),
        RouteId::PrintLogin => on(method, print::login),
        RouteId::PrintRefresh => on(method, print::refresh),
        RouteId::Repassword => on(method, print::repassword),
        RouteId::WechatLogin => on(method, print::wechat_login),
        RouteId::SelfShow => on(method, print::show_self),
        RouteId::SelfUpdate => on(method, print::update_self),
        RouteId::LoginModeBind => on(method, print::bind_login_mode),
        RouteId::LoginModeUnbind => on(method, print::unbind_login_mode),
        RouteId::StoreAddressList => on(method, addresses::store_list),
        RouteId::StoreAddressCreate => on(method, addresses::store_create),
        RouteId::StoreAddressUpdate => on(method, addresses::store_update),
        RouteId::StoreAddressDelete => on(method, addresses::store_delete),
        RouteId::PrintAddressList => on(method, addresses::print_list),
        RouteId::PrintAddressCreate => on(method, addresses::print_create),
        RouteId::PrintAddressUpdate => on(method, addresses::print_update),
        RouteId::PrintAddressDelete => on(method, addresses::print_delete),
        RouteId::SelfPermissions => on(method, print::permissions),
        RouteId::Messages => on(method, member::messages),
        RouteId::MessagesUnreadCount => on(method, member::unread_count),
        RouteId::MessageRead => on(method, member::mark_read),
        RouteId::MessagesReadAll => on(method, member::mark_all_read),
        RouteId::Coupons => on(method, member::coupons),
        RouteId::PointsRecords => on(method, member::points_records),
        RouteId::BalanceRecords => on(method, member::balance_records),
        RouteId::Images => on(method, uploads::images),
        RouteId::Files => on(method, uploads::files),
        RouteId::Storage => on(method, uploads::storage),
        RouteId::SelfComments => on(method, comments::of_self),
        RouteId::CommentCreate => on(method, comments::create),
        RouteId::GoodsComments => on(method, comments::of_goods),
        RouteId::RechargeOrders => on(method, commerce::recharge_orders),
        RouteId::RechargeOrderCreate => on(method, commerce::create_recharge),
        RouteId::PaymentNotify => on(method, commerce::payment_notify),
        RouteId::Gifts => on(method, commerce::gifts),
        RouteId::GiftOrderCreate => on(method, commerce::redeem),
        RouteId::GiftOrders => on(method, commerce::gift_orders),
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
        let mut method_router = handler(route.id, route.method)
            .layer(DefaultBodyLimit::max(
                usize::try_from(limit).unwrap_or(usize::MAX),
            ))
            .layer(middleware::from_fn(move |request: Request, next: Next| {
                refuse_declared_over(limit, request, next)
            }));
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
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return AppError::from(Problem::PayloadTooLarge { limit_bytes: limit }).into_response();
    }
    next.run(request).await
}

/// The admin router, for the private listener.
pub fn admin_router(state: AppState) -> Router {
    let routes = admin::routes(&state).merge(crate::ops::routes());
    let metrics = state.metrics.clone();
    with_common_layers(routes.fallback(not_found).with_state(state), metrics)
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
