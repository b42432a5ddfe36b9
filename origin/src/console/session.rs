//! Signing in and out, who the operator is, and the two guards every page passes: [`Staff`]
//! (signed in, holding the page's permission) and [`Form`] (same origin, form token).

use std::marker::PhantomData;
use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{ConsoleError, ConsoleResult, Layout, render, render_with};
use crate::AppState;
use crate::clock;
use crate::db::audit::Actor;
use crate::domain::console::{self, CONSOLE_SESSION_SECS, Operator};
use crate::http::admin::{AdminLoginRequest, Needs};
use crate::http::input::FromParams;
use crate::http::params::Params;

const COOKIE_NAME: &str = "console_session";

/// Which operators a page admits.
pub trait Gate {
    /// The permission's name, for the refusal; `None` admits every signed-in operator.
    const PERMISSION: Option<shared::Permission>;
}

impl<P: Needs> Gate for P {
    const PERMISSION: Option<shared::Permission> = Some(P::PERMISSION);
}

/// Any signed-in operator (the home page, signing out).
pub struct Anyone;

impl Gate for Anyone {
    const PERMISSION: Option<shared::Permission> = None;
}

/// A signed-in operator holding `P`'s permission; the first extractor of every console
/// handler, so a page is refused before any of its parameters is read.
pub struct Staff<P> {
    pub operator: Operator,
    pub actor: Actor,
    gate: PhantomData<P>,
}

/// The signed-in operator's form token, left in the request for [`Form`].
#[derive(Clone)]
pub(super) struct FormToken(pub(super) String);

/// The signed-in operator's user id, left in the request for extractors that store an upload
/// as theirs ([`super::upload::ImageForm`]).
#[derive(Clone, Copy)]
pub(super) struct Uploader(pub(super) i64);

fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn peer(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |info| info.0.ip().to_string())
}

impl<P: Gate> FromRequestParts<AppState> for Staff<P> {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ConsoleResult<Self> {
        let cookie = cookie_value(&parts.headers).ok_or(ConsoleError::SignIn)?;
        let operator = console::operator(state, cookie)
            .await?
            .ok_or(ConsoleError::SignIn)?;
        if let Some(permission) = P::PERMISSION
            && !operator.may(permission)
        {
            return Err(ConsoleError::Forbidden(permission.name()));
        }
        parts.extensions.insert(FormToken(operator.csrf.clone()));
        parts.extensions.insert(Uploader(operator.user_id));
        let actor = Actor {
            user_id: Some(operator.user_id),
            name: operator.name.clone(),
            ip: peer(parts),
            submission: None,
        };
        Ok(Staff {
            operator,
            actor,
            gate: PhantomData,
        })
    }
}

/// Whether the admin listener answers on `host` (the `Host` header): an IP address or
/// `localhost` (with any port), or a name listed in `ORIGIN_ADMIN_HOSTS`. A DNS-rebinding page
/// reaches the listener under the attacker's own name, which nobody listed.
pub(crate) fn trusted_host(host: &str, configured: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
    if configured.contains(&host) {
        return true;
    }
    let name = match host.strip_prefix('[') {
        // `[v6]` or `[v6]:port`
        Some(rest) => {
            return rest.split_once(']').is_some_and(|(address, port)| {
                address.parse::<std::net::Ipv6Addr>().is_ok()
                    && (port.is_empty()
                        || port
                            .strip_prefix(':')
                            .is_some_and(|p| p.parse::<u16>().is_ok()))
            });
        }
        None => match host.rsplit_once(':') {
            Some((name, port)) if port.parse::<u16>().is_ok() => name,
            Some(_) => return false,
            None => host.as_str(),
        },
    };
    name == "localhost" || name.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Whether a state-changing request comes from the console's own pages: the browser's
/// `Origin` names the host the request was sent to, and that host is one the console answers
/// on. A page on another site (or a form it submits) carries its own origin; a request without
/// one is not from a browser page.
pub(crate) fn same_origin(headers: &HeaderMap, configured: &[String]) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    trusted_host(host, configured)
        && origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

/// Admits a read that writes an audit entry in the operator's name (or runs a large query)
/// only when the browser fetched it from the console's own pages or the operator opened it
/// directly. The session cookie is `SameSite=Strict`, which still sends it from a sibling
/// site (another port of the host, another subdomain): an `<img>` there would otherwise
/// record an export or a read the operator never asked for. A client that sends no
/// `Sec-Fetch-Site` (a script, an old browser) is admitted.
pub(crate) fn fetched_by_console(headers: &HeaderMap) -> ConsoleResult<()> {
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        None | Some("same-origin" | "none") => Ok(()),
        Some(_) => Err(ConsoleError::CrossSite),
    }
}

/// A state-changing request's fields, admitted only from the console's own origin with the
/// operator's form token (`_csrf`), then read by `T`'s rules — the same input types as the
/// admin JSON API, fields left blank counting as absent. Must follow a [`Staff`] extractor,
/// which finds the token.
pub struct Form<T>(pub T);

impl<T: FromParams> FromRequest<AppState> for Form<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> ConsoleResult<Self> {
        if !same_origin(request.headers(), &state.config.admin_hosts) {
            return Err(ConsoleError::CrossSite);
        }
        let expected = request
            .extensions()
            .get::<FormToken>()
            .cloned()
            .ok_or(ConsoleError::CrossSite)?;
        let mut params = Params::from_request(request, state).await?;
        let presented = params.get("_csrf").unwrap_or_default().to_owned();
        if !shared::constant_time_eq(presented.as_bytes(), expected.0.as_bytes()) {
            return Err(ConsoleError::CrossSite);
        }
        // A form sends the fields left blank as empty values: they count as absent.
        params.drop_empty();
        Ok(Form(T::from_params(&params)?))
    }
}

/// A page's query parameters, read by `T`'s rules (the admin API's input types); a bad value
/// is answered with its message, never a 500. Filters left blank count as absent.
pub struct Query<T>(pub T);

impl<T: FromParams> FromRequest<AppState> for Query<T> {
    type Rejection = ConsoleError;

    async fn from_request(request: Request, state: &AppState) -> ConsoleResult<Self> {
        let mut params = Params::from_request(request, state).await?;
        params.drop_empty();
        Ok(Query(T::from_params(&params)?))
    }
}

/// A form's fields and its one-time key (`_once`, rendered into the form by [`Layout`]): the
/// action it asks for is done at most once per key (`domain::admin`), so a double click or a
/// reload that posts again does nothing the second time.
pub struct Once<T> {
    pub value: T,
    pub key: String,
}

impl<T: FromParams> FromParams for Once<T> {
    fn from_params(params: &Params) -> Result<Self, shared::Problem> {
        let key = params
            .get("_once")
            .filter(|key| key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| shared::Problem::invalid("_once", "表单已失效，请刷新页面后重新填写"))?
            .to_owned();
        Ok(Once {
            value: T::from_params(params)?,
            key,
        })
    }
}

/// A form of no fields beyond the token (sign-out, one-button actions).
pub struct Nothing;

impl FromParams for Nothing {
    fn from_params(_params: &Params) -> Result<Self, shared::Problem> {
        Ok(Nothing)
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    username: String,
    message: Option<String>,
}

pub async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(cookie) = cookie_value(&headers)
        && let Ok(Some(_)) = console::operator(&state, cookie).await
    {
        return Redirect::to("/console/").into_response();
    }
    render(&LoginPage {
        username: String::new(),
        message: None,
    })
}

/// `POST /console/login`: `POST /admin/login`'s rules (holders of a role only, the admin
/// listener's own failed-attempt counter); a refusal shows the page again with its reason.
pub async fn login(State(state): State<AppState>, request: Request) -> Response {
    if !same_origin(request.headers(), &state.config.admin_hosts) {
        return ConsoleError::CrossSite.into_response();
    }
    let secure = request
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin.starts_with("https://"));
    // The sign-in family's per-network budget of the admin listener, shared with
    // `POST /admin/login`, counted before anything is read.
    let (parts, body) = request.into_parts();
    let network = crate::http::ClientNetwork::of_peer(&parts);
    let rule = state.config.rate_rules.rule(shared::policy::Limit::SignIn);
    if let Err(problem) = state.limits.hit(
        "admin",
        shared::policy::Limit::SignIn,
        rule,
        &network.0,
        clock::now_ms(),
    ) {
        let page = render_with(
            StatusCode::TOO_MANY_REQUESTS,
            &LoginPage {
                username: String::new(),
                message: Some(problem.message()),
            },
        );
        return super::retry_after(page, &problem);
    }
    let request = Request::from_parts(parts, body);
    let params = match Params::from_request(request, &state).await {
        Ok(params) => params,
        Err(error) => return ConsoleError::from(error).into_response(),
    };
    let username = params.get("username").unwrap_or_default().to_owned();
    let refused = |status: StatusCode, message: String| {
        render_with(
            status,
            &LoginPage {
                username: username.clone(),
                message: Some(message),
            },
        )
    };
    let request = match AdminLoginRequest::from_params(&params) {
        Ok(request) => request,
        Err(problem) => return refused(StatusCode::BAD_REQUEST, problem.message()),
    };
    match console::sign_in(&state, request.username, request.password).await {
        Ok(signed_in) => {
            let cookie = format!(
                "{COOKIE_NAME}={}; Path=/console; Max-Age={CONSOLE_SESSION_SECS}; HttpOnly; SameSite=Strict{}",
                signed_in.cookie,
                if secure { "; Secure" } else { "" },
            );
            let mut response = Redirect::to("/console/").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(SET_COOKIE, value);
            }
            response
        }
        Err(origin_core::Error::Problem(problem, _)) => {
            let status = problem.render(shared::Dialect::Print).status;
            let page = refused(
                StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
                problem.message(),
            );
            super::retry_after(page, &problem)
        }
        Err(error) => ConsoleError::from(error).into_response(),
    }
}

/// `POST /console/logout`: ends the sign-in and the session under it.
pub async fn logout(
    State(state): State<AppState>,
    staff: Staff<Anyone>,
    Form(Nothing): Form<Nothing>,
) -> ConsoleResult {
    console::sign_out(&state, staff.operator.session_id).await?;
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_static(
            "console_session=; Path=/console; Max-Age=0; HttpOnly; SameSite=Strict",
        ),
    );
    Ok(response)
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    layout: Layout,
    super_admin: bool,
    permissions: Vec<String>,
    expires_at: String,
}

/// `GET /console/`: who is signed in, what they may do, until when.
pub async fn home(State(state): State<AppState>, staff: Staff<Anyone>) -> Response {
    let operator = &staff.operator;
    render(&HomePage {
        layout: Layout::new(operator, "home"),
        super_admin: operator.super_admin,
        permissions: if operator.super_admin {
            shared::PERMISSIONS
                .iter()
                .map(|p| (*p).to_owned())
                .collect()
        } else {
            operator.permissions.clone()
        },
        expires_at: clock::format(operator.expires_at, state.config.time_offset),
    })
}
