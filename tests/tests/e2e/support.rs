//! Helpers the scenarios of several areas share.

use anyhow::{Context, ensure};
use reqwest::{Method, Response};
use serde_json::Value;
use tests::{System, json_of, str_at};

/// The request id an answer carries.
pub fn request_id(response: &Response) -> Option<String> {
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The edge answered without the origin: the request's id never reached the origin's log.
pub fn answered_by_edge(system: &System, response: &Response) -> bool {
    request_id(response).is_none_or(|id| !system.origin_saw(&id))
}

pub fn cache_status(response: &Response) -> String {
    response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

pub async fn expect_status(response: Response, status: u16) -> anyhow::Result<Value> {
    json_of(response, status).await
}

pub async fn print_error(
    response: Response,
    status: u16,
    error_code: u64,
) -> anyhow::Result<Value> {
    let body = json_of(response, status).await?;
    ensure!(
        body["status"] == "error" && body["code"] == status && body["error_code"] == error_code,
        "{body}"
    );
    Ok(body)
}

pub async fn self_read(system: &System, token: &str) -> anyhow::Result<Response> {
    Ok(system
        .edge(Method::GET, "/api/users/self")
        .header("token", token)
        .send()
        .await?)
}

pub fn database(system: &System) -> anyhow::Result<rusqlite::Connection> {
    Ok(rusqlite::Connection::open(
        system.dir.path().join("data/origin.sqlite3"),
    )?)
}

pub async fn admin_send(
    system: &System,
    method: Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let token = system.admin_token().await?;
    let response = system
        .admin(method, path)
        .header("token", token)
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    ensure!(
        (200..300).contains(&status),
        "{path}: {status} {}",
        response.text().await?
    );
    Ok(response.json().await?)
}

/// A print user through the edge: `(token, id)`.
pub async fn print_user(system: &System) -> anyhow::Result<(String, i64)> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    let me = expect_status(self_read(system, &token).await?, 200).await?;
    Ok((token, me["data"]["id"].as_i64().context("id")?))
}

pub fn header_of(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub fn is_request_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}
