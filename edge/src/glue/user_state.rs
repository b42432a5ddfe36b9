//! The `UserState` Durable Object: one per user, holding revoked sessions and tokens and the
//! data version. Isolates keep its answer for at most a second, and update their copy at once
//! when they apply an instruction themselves.

use std::cell::RefCell;
use std::collections::HashMap;

use shared::Problem;
use shared::invalidate::Instruction;
use worker::{
    DurableObject, Env, Method, Request, RequestInit, Response, Result, State, durable_object,
};

use super::{error::internal, now_ms, now_secs};
use crate::revocation::UserSnapshot;

/// How long an isolate may answer from its own copy (DESIGN: at most one second).
const ISOLATE_COPY_MS: u64 = 1_000;

#[durable_object]
pub struct UserState {
    state: State,
    snapshot: RefCell<Option<UserSnapshot>>,
}

impl UserState {
    async fn load(&self) -> Result<UserSnapshot> {
        if let Some(snapshot) = self.snapshot.borrow().clone() {
            return Ok(snapshot);
        }
        let stored: Option<UserSnapshot> = self.state.storage().get("snapshot").await?;
        let snapshot = stored.unwrap_or_default();
        self.snapshot.replace(Some(snapshot.clone()));
        Ok(snapshot)
    }
}

impl DurableObject for UserState {
    fn new(state: State, _env: Env) -> Self {
        UserState {
            state,
            snapshot: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        let mut snapshot = self.load().await?;
        if request.method() == Method::Post {
            let instructions: Vec<Instruction> = request.json().await?;
            let now = now_secs();
            for instruction in &instructions {
                snapshot.apply(instruction, now);
            }
            self.state.storage().put("snapshot", &snapshot).await?;
            self.snapshot.replace(Some(snapshot.clone()));
        }
        Response::from_json(&snapshot)
    }
}

thread_local! {
    static COPIES: RefCell<HashMap<i64, (u64, UserSnapshot)>> = RefCell::new(HashMap::new());
}

fn remember(user_id: i64, snapshot: &UserSnapshot) {
    COPIES.with(|copies| {
        let mut copies = copies.borrow_mut();
        let now = now_ms();
        if copies.len() > 10_000 {
            copies.retain(|_, (at, _)| now - *at < ISOLATE_COPY_MS);
        }
        copies.insert(user_id, (now, snapshot.clone()));
    });
}

async fn call(
    env: &Env,
    user_id: i64,
    instructions: Option<&[Instruction]>,
) -> std::result::Result<UserSnapshot, Problem> {
    let stub = env
        .durable_object("USER_STATE")
        .and_then(|namespace| namespace.get_by_name(&format!("user:{user_id}")))
        .map_err(|e| internal("user state binding", e))?;
    let mut init = RequestInit::new();
    match instructions {
        Some(instructions) => {
            let body =
                serde_json::to_string(instructions).map_err(|e| internal("instructions", e))?;
            init.with_method(Method::Post).with_body(Some(body.into()));
        }
        None => {
            init.with_method(Method::Get);
        }
    }
    let request = Request::new_with_init("https://user-state/", &init)
        .map_err(|e| internal("user state request", e))?;
    let mut response = stub
        .fetch_with_request(request)
        .await
        .map_err(|e| internal("user state", e))?;
    let snapshot: UserSnapshot = response
        .json()
        .await
        .map_err(|e| internal("user state answer", e))?;
    remember(user_id, &snapshot);
    Ok(snapshot)
}

/// The user's revocations and data version, at most a second old.
pub async fn snapshot(env: &Env, user_id: i64) -> std::result::Result<UserSnapshot, Problem> {
    let fresh = COPIES.with(|copies| {
        copies
            .borrow()
            .get(&user_id)
            .filter(|(at, _)| now_ms() - at < ISOLATE_COPY_MS)
            .map(|(_, snapshot)| snapshot.clone())
    });
    match fresh {
        Some(snapshot) => Ok(snapshot),
        None => call(env, user_id, None).await,
    }
}

/// Applies instructions to each user's Durable Object (and this isolate's copy).
pub async fn apply(env: &Env, instructions: &[Instruction]) -> std::result::Result<(), Problem> {
    for (user_id, instructions) in crate::revocation::by_user(instructions) {
        call(env, user_id, Some(&instructions)).await?;
    }
    Ok(())
}
