//! The fetch handler: the policy table's route, then rate limit, auth, cache, forwarding, and
//! the origin's instructions applied before the client gets its answer. Every answer, the
//! edge's own included, leaves through `finish`: the request's id and the CORS headers.

use std::cell::RefCell;

use shared::headers::{CACHE_STATUS, EDGE_SECRET, REQUEST_ID};
use shared::invalidate::Instruction;
use shared::net::client_network;
use shared::policy::{Auth, Cache as CachePolicy, Lookup, Route, allowed_methods, lookup};
use shared::{Dialect, Problem, envelope};
use worker::js_sys::{self, Function, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{Cache, Env, Headers, Method, Request, Response, ResponseBuilder};

use super::error::{internal, problem_response};
use super::origin::{self, OriginReply, respond};
use super::{auth, now_ms, rate_limiter, user_state};
use crate::cache::{self, Nearby, personal_key, public_key};
use crate::cors::{self, AllowList};
use crate::internal::{HEALTH_PATH, INVALIDATE_PATH, PANIC_PATH};
use crate::request_id;

/// What every answer to one request shares: its id and where it came from.
struct Exchange {
    request_id: String,
    origin: Option<String>,
    allow_list: AllowList,
}

pub async fn handle(request: Request, env: Env) -> Response {
    let header = |name: &str| request.headers().get(name).ok().flatten();
    let exchange = Exchange {
        request_id: request_id::choose(header(REQUEST_ID).as_deref(), random_uuid),
        origin: header("origin"),
        allow_list: AllowList::parse(
            &env.var("CORS_ALLOWED_ORIGINS")
                .map(|value| value.to_string())
                .unwrap_or_default(),
        ),
    };
    let response = route(request, &env, &exchange).await;
    finish(response, &exchange)
}

/// `crypto.randomUUID()`, or failing that (it does not fail in workerd) the clock and
/// `Math.random`.
fn random_uuid() -> String {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto")).ok();
    crypto
        .and_then(|crypto| {
            let generate: Function = Reflect::get(&crypto, &JsValue::from_str("randomUUID"))
                .ok()?
                .dyn_into()
                .ok()?;
            generate.call0(&crypto).ok()?.as_string()
        })
        .unwrap_or_else(|| {
            let random = (js_sys::Math::random() * 1e15) as u64;
            format!("edge-{:x}-{random:x}", now_ms())
        })
}

/// Adds the request id and the CORS headers to an answer (never to what the cache stores).
fn finish(mut response: Response, exchange: &Exchange) -> Response {
    let headers = response.headers_mut();
    let _ = headers.set(REQUEST_ID, &exchange.request_id);
    for (name, value) in cors::response_headers(&exchange.allow_list, exchange.origin.as_deref()) {
        let value = if name == "vary" {
            cors::merge_vary(headers.get("vary").ok().flatten().as_deref(), &value)
        } else {
            value
        };
        let _ = headers.set(name, &value);
    }
    response
}

async fn route(request: Request, env: &Env, exchange: &Exchange) -> Response {
    let path = request.path();
    match path.as_str() {
        INVALIDATE_PATH => return invalidate(request, env).await,
        HEALTH_PATH => return Response::ok("ok").unwrap_or_else(|_| Response::empty().unwrap()),
        PANIC_PATH
            if env
                .var("EDGE_TEST_PANIC_ROUTE")
                .is_ok_and(|v| v.to_string() == "1") =>
        {
            panic!("the test panic route was called")
        }
        _ => {}
    }
    let method = request.method();
    if method == Method::Options {
        return options(&request, &path, exchange);
    }
    match lookup(method.as_ref(), &path) {
        Lookup::NotFound(dialect) => problem_response(&Problem::NotFound, dialect),
        Lookup::MethodNotAllowed(dialect) => {
            let mut response = problem_response(&Problem::MethodNotAllowed, dialect);
            let allow = cors::allow_header(&allowed_methods(&path));
            let _ = response.headers_mut().set("allow", &allow);
            response
        }
        Lookup::Found { route, .. } => match serve(request, env, route, exchange).await {
            Ok(response) => response,
            Err(problem) => problem_response(&problem, route.dialect()),
        },
    }
}

/// `OPTIONS` on a known path: 204 with `Allow`, and when it is a CORS preflight from an allowed
/// origin for one of the path's methods, the headers that let the browser go on. Answered by
/// the edge alone.
fn options(request: &Request, path: &str, exchange: &Exchange) -> Response {
    let methods = allowed_methods(path);
    if methods.is_empty() {
        return problem_response(&Problem::NotFound, Dialect::for_path(path));
    }
    let requested = request
        .headers()
        .get("access-control-request-method")
        .ok()
        .flatten();
    let headers = Headers::new();
    let _ = headers.set("allow", &cors::allow_header(&methods));
    for (name, value) in cors::preflight_headers(
        &exchange.allow_list,
        exchange.origin.as_deref(),
        requested.as_deref(),
        &methods,
    ) {
        let _ = headers.set(name, &value);
    }
    ResponseBuilder::new()
        .with_status(204)
        .with_headers(headers)
        .empty()
}

/// Where a cacheable answer lives, for how long.
struct CacheSlot {
    key: String,
    ttl_secs: u32,
}

/// A client's conditions on a cacheable `GET`, answered by the edge.
struct Conditions {
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
}

/// The client's answer on a cacheable route: `304` when its conditions hold for a `200`.
fn cached_answer(
    status: u16,
    mut headers: Vec<(String, String)>,
    body: Vec<u8>,
    cache_status: &str,
    conditions: &Conditions,
) -> Response {
    headers.push((CACHE_STATUS.to_owned(), cache_status.to_owned()));
    let not_modified = status == 200
        && cache::is_not_modified(
            conditions.if_none_match.as_deref(),
            conditions.if_modified_since.as_deref(),
            &headers,
        );
    if not_modified {
        respond(304, &cache::not_modified_headers(&headers), Vec::new())
    } else {
        respond(status, &headers, body)
    }
}

async fn serve(
    mut request: Request,
    env: &Env,
    route: &'static Route,
    exchange: &Exchange,
) -> Result<Response, Problem> {
    let header = |name: &str| request.headers().get(name).ok().flatten();
    // The address goes to the origin as it is; limits count the client's network (SPEC §6).
    let client_ip = header("cf-connecting-ip").unwrap_or_else(|| "unknown".into());
    if let Some(limit) = route.limit {
        rate_limiter::check(env, limit, &client_network(&client_ip)).await?;
    }
    let caller = match route.auth {
        Auth::User => Some(auth::verify(env, &request).await?),
        Auth::Public | Auth::Refresh => None,
    };

    let url = request.url().map_err(|e| internal("url", e))?;
    let slot = match (route.cache, &caller) {
        (CachePolicy::Public { ttl_secs }, _) => Some(CacheSlot {
            key: public_key(url.path(), url.query()),
            ttl_secs,
        }),
        (CachePolicy::Personal { ttl_secs }, Some(caller)) => {
            let snapshot = user_state::snapshot(env, caller.user_id).await?;
            if snapshot.is_revoked(&caller.sid, &caller.jti) {
                return Err(Problem::Unauthenticated);
            }
            Some(CacheSlot {
                key: personal_key(caller.user_id, snapshot.version, url.path(), url.query()),
                ttl_secs,
            })
        }
        _ => None,
    }
    .filter(|_| request.method() == Method::Get);
    let conditions = Conditions {
        if_none_match: header("if-none-match"),
        if_modified_since: header("if-modified-since"),
    };

    let cache = Cache::default();
    if let Some(slot) = &slot
        && let Some((stored, body)) = cached(&cache, slot).await?
    {
        let headers = cache::for_client(&cache::from_storage(&stored), 200, route.cache);
        return Ok(cached_answer(200, headers, body, "HIT", &conditions));
    }

    let reply = origin::forward(
        env,
        &mut request,
        route,
        &client_ip,
        &exchange.request_id,
        slot.is_some(),
    )
    .await?;
    apply_instructions(env, &reply.instructions).await;
    let Some(slot) = &slot else {
        return Ok(respond(reply.status, &reply.headers, reply.body));
    };
    if cache::may_store(reply.status, &reply.headers, route.cache) {
        let stored_headers = cache::for_storage(&reply.headers, slot.ttl_secs);
        let stored = respond(200, &stored_headers, reply.body.clone());
        NEARBY.with(|nearby| {
            nearby.borrow_mut().put(
                &slot.key,
                stored_headers,
                reply.body.clone(),
                slot.ttl_secs,
                now_ms(),
            )
        });
        if let Err(error) = cache.put(slot.key.as_str(), stored).await {
            worker::console_warn!("cache put failed: {error}");
        }
    }
    let headers = cache::for_client(&reply.headers, reply.status, route.cache);
    Ok(cached_answer(
        reply.status,
        headers,
        reply.body,
        "MISS",
        &conditions,
    ))
}

thread_local! {
    /// This isolate's copies of cached answers (`cache::Nearby`: a second at most).
    static NEARBY: RefCell<Nearby> = RefCell::new(Nearby::default());
}

/// A cached answer for `slot` (its headers as stored, and body): this isolate's copy, or the
/// Cache API's entry, which is then copied here.
async fn cached(
    cache: &Cache,
    slot: &CacheSlot,
) -> Result<Option<(Vec<(String, String)>, Vec<u8>)>, Problem> {
    let now = now_ms();
    let copy = NEARBY.with(|nearby| {
        nearby
            .borrow()
            .get(&slot.key, now)
            .map(|copy| (copy.headers.clone(), copy.body.clone()))
    });
    if copy.is_some() {
        return Ok(copy);
    }
    let Ok(Some(hit)) = cache.get(slot.key.as_str(), false).await else {
        return Ok(None);
    };
    let hit = OriginReply::read(hit).await?;
    NEARBY.with(|nearby| {
        nearby.borrow_mut().put(
            &slot.key,
            hit.headers.clone(),
            hit.body.clone(),
            slot.ttl_secs,
            now_ms(),
        )
    });
    Ok(Some((hit.headers, hit.body)))
}

/// Applies the origin's instructions before the client sees the answer, so its next read (and
/// any use of a revoked token) already sees them. A failure is logged: the origin has the
/// truth, and routes that are not cached are checked there anyway.
async fn apply_instructions(env: &Env, instructions: &[Instruction]) {
    if instructions.is_empty() {
        return;
    }
    if let Err(problem) = user_state::apply(env, instructions).await {
        worker::console_error!("could not apply origin instructions: {problem:?}");
    }
}

/// `POST /__edge/invalidate`: instructions from the origin for writes that did not pass
/// through the edge (admin actions, payment callbacks), authenticated by the shared secret.
async fn invalidate(mut request: Request, env: &Env) -> Response {
    let dialect = Dialect::Print;
    if request.method() != Method::Post {
        return problem_response(&Problem::MethodNotAllowed, dialect);
    }
    let expected = match super::origin_settings(env) {
        Ok((_, secret)) => secret,
        Err(problem) => return problem_response(&problem, dialect),
    };
    let presented = request
        .headers()
        .get(EDGE_SECRET)
        .ok()
        .flatten()
        .unwrap_or_default();
    if !shared::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        return problem_response(
            &Problem::Forbidden {
                message: "禁止访问".into(),
            },
            dialect,
        );
    }
    let instructions: Vec<Instruction> = match request.json().await {
        Ok(instructions) => instructions,
        Err(_) => {
            return problem_response(&Problem::invalid("body", "请求体必须是指令数组"), dialect);
        }
    };
    match user_state::apply(env, &instructions).await {
        Ok(()) => Response::from_json(&envelope::print_data(
            200,
            serde_json::json!({ "applied": instructions.len() }),
        ))
        .unwrap_or_else(|_| problem_response(&Problem::Internal, dialect)),
        Err(problem) => problem_response(&problem, dialect),
    }
}
