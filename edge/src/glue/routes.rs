//! The fetch handler: the policy table's route, then rate limit, auth, cache, forwarding, and
//! the origin's instructions applied before the client gets its answer.

use shared::headers::{CACHE_STATUS, EDGE_SECRET};
use shared::invalidate::Instruction;
use shared::net::client_network;
use shared::policy::{Auth, Cache as CachePolicy, Lookup, Route, lookup};
use shared::{Dialect, Problem, envelope};
use worker::{Cache, Env, Method, Request, Response};

use super::error::{internal, problem_response};
use super::origin::{self, OriginReply};
use super::{auth, rate_limiter, user_state};
use crate::cache::{personal_key, public_key};
use crate::internal::{HEALTH_PATH, INVALIDATE_PATH, PANIC_PATH};

pub async fn handle(request: Request, env: Env) -> Response {
    let path = request.path();
    match path.as_str() {
        INVALIDATE_PATH => return invalidate(request, &env).await,
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
    let method = request.method().to_string();
    match lookup(&method, &path) {
        Lookup::NotFound(dialect) => problem_response(&Problem::NotFound, dialect),
        Lookup::MethodNotAllowed(dialect) => problem_response(&Problem::MethodNotAllowed, dialect),
        Lookup::Found { route, .. } => match serve(request, &env, route).await {
            Ok(response) => response,
            Err(problem) => problem_response(&problem, route.dialect()),
        },
    }
}

/// Where a cacheable answer lives, and how the client may keep it.
struct CacheSlot {
    key: String,
    ttl_secs: u32,
    client_cache_control: &'static str,
}

async fn serve(
    mut request: Request,
    env: &Env,
    route: &'static Route,
) -> Result<Response, Problem> {
    let client_ip = request
        .headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .unwrap_or_else(|| "unknown".into());
    // The address goes to the origin as it is; limits count the client's network (SPEC §6).
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
            client_cache_control: "public, max-age=60",
        }),
        (CachePolicy::Personal { ttl_secs }, Some(caller)) => {
            let snapshot = user_state::snapshot(env, caller.user_id).await?;
            if snapshot.is_revoked(&caller.sid, &caller.jti) {
                return Err(Problem::Unauthenticated);
            }
            Some(CacheSlot {
                key: personal_key(caller.user_id, snapshot.version, url.path(), url.query()),
                ttl_secs,
                client_cache_control: "private, no-cache",
            })
        }
        _ => None,
    }
    .filter(|_| request.method() == Method::Get);

    let cache = Cache::default();
    if let Some(slot) = &slot
        && let Ok(Some(hit)) = cache.get(slot.key.as_str(), false).await
    {
        let hit = OriginReply::read(hit).await?;
        return Ok(hit.to_response(&[
            (CACHE_STATUS, "HIT"),
            ("cache-control", slot.client_cache_control),
        ]));
    }

    let reply = origin::forward(env, &mut request, route, &client_ip).await?;
    apply_instructions(env, &reply.instructions).await;
    match &slot {
        Some(slot) => {
            if reply.status == 200 {
                let max_age = format!("public, max-age={}", slot.ttl_secs);
                let stored = reply.to_response(&[("cache-control", max_age.as_str())]);
                if let Err(error) = cache.put(slot.key.as_str(), stored).await {
                    worker::console_warn!("cache put failed: {error}");
                }
            }
            Ok(reply.to_response(&[
                (CACHE_STATUS, "MISS"),
                ("cache-control", slot.client_cache_control),
            ]))
        }
        None => Ok(reply.to_response(&[])),
    }
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
