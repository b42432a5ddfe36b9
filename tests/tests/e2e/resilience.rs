//! The system recovering from a failure: a panicking request, the origin stopped and restarted.
//! These disturb every other scenario, so they run last.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::json;
use tests::{System, json_of, str_at};

use crate::Named;
use crate::support::{expect_status, is_request_id, print_error, request_id, self_read};

pub const SCENARIOS: &[Named] = scenarios![
    a_panic_in_one_request_does_not_break_the_next,
    origin_down_is_a_502_in_the_dialect_and_recovers,
];

async fn a_panic_in_one_request_does_not_break_the_next(system: Arc<System>) -> anyhow::Result<()> {
    let panicked = system.edge(Method::GET, "/__edge/panic").send().await?;
    ensure!(panicked.status().is_server_error(), "{}", panicked.status());
    let after = system
        .edge(Method::GET, "/api/response_code")
        .send()
        .await?;
    expect_status(after, 200).await?;
    // Durable Objects and verification still work in the fresh instance.
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    expect_status(self_read(&system, &token).await?, 200).await?;
    Ok(())
}

async fn origin_down_is_a_502_in_the_dialect_and_recovers(
    system: Arc<System>,
) -> anyhow::Result<()> {
    system.stop_origin();
    let started = Instant::now();
    let print = system
        .edge(Method::POST, "/api/login")
        .json(&json!({ "username": "a", "password": "b" }))
        .send()
        .await?;
    let print_has_an_id = request_id(&print).is_some_and(|id| is_request_id(&id));
    print_error(print, 502, 999).await?;
    let store = system.edge(Method::POST, "/api/auth/login").send().await?;
    ensure!(json_of(store, 502).await?["code"] == 50001);
    ensure!(
        started.elapsed() < Duration::from_secs(10),
        "an unreachable origin must not hang requests"
    );
    system.start_origin().await?;
    ensure!(print_has_an_id, "the edge's 502 carries the request id");
    let phone = system.fresh_phone();
    system
        .register_print(&phone)
        .await
        .context("after the origin came back")?;
    Ok(())
}
