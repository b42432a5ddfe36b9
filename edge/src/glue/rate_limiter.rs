//! The `RateLimiter` Durable Object: one per `limit:client-network` (an IPv4 address or an
//! IPv6 /64, `shared::net::client_network`), counting exactly.

use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use shared::Problem;
use shared::policy::{Limit, RateRule};
use worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, durable_object,
};

use super::{error::internal, now_ms};
use crate::ratelimit::{SlidingLog, object_name, parse_rule, var_name};

#[derive(Serialize, Deserialize)]
struct Verdict {
    allowed: bool,
    retry_after: u64,
}

#[durable_object]
pub struct RateLimiter {
    state: State,
    log: RefCell<Option<SlidingLog>>,
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        RateLimiter {
            state,
            log: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let rule: RateRule = request.json().await?;
        if self.log.borrow().is_none() {
            let stored: Option<SlidingLog> = self.state.storage().get("log").await?;
            self.log.replace(Some(stored.unwrap_or_default()));
        }
        let (verdict, log) = {
            let mut guard = self.log.borrow_mut();
            let log = guard.get_or_insert_with(SlidingLog::default);
            let verdict = match log.hit(now_ms(), rule) {
                Ok(()) => Verdict {
                    allowed: true,
                    retry_after: 0,
                },
                Err(retry_after) => Verdict {
                    allowed: false,
                    retry_after,
                },
            };
            (verdict, log.clone())
        };
        if verdict.allowed {
            self.state.storage().put("log", &log).await?;
        }
        Response::from_json(&verdict)
    }
}

fn rule_for(env: &Env, limit: Limit) -> RateRule {
    env.var(&var_name(limit))
        .ok()
        .and_then(|value| parse_rule(&value.to_string()))
        .unwrap_or_else(|| limit.default_rule())
}

/// Counts one request from a client network against `limit`; refuses it past the rule.
pub async fn check(env: &Env, limit: Limit, network: &str) -> std::result::Result<(), Problem> {
    let rule = rule_for(env, limit);
    let stub = env
        .durable_object("RATE_LIMITER")
        .and_then(|namespace| namespace.get_by_name(&object_name(limit, network)))
        .map_err(|e| internal("rate limiter binding", e))?;
    let body = serde_json::to_string(&rule).map_err(|e| internal("rate rule", e))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let request = Request::new_with_init("https://rate-limiter/hit", &init)
        .map_err(|e| internal("rate request", e))?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| internal("rate limiter", e))?;
    let verdict: Verdict = response
        .json()
        .await
        .map_err(|e| internal("rate verdict", e))?;
    if verdict.allowed {
        Ok(())
    } else {
        Err(Problem::RateLimited {
            retry_after: verdict.retry_after,
        })
    }
}
