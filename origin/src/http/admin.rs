//! The back-office API on the private listener, in the print envelope. Every endpoint needs an
//! admin session holding its permission.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::json;
use shared::Problem;

use crate::AppState;
use crate::clock;
use crate::db::outbox;
use crate::domain::identity;
use crate::error::AppResult;
use crate::http::auth::{Caller, require_permission};
use crate::http::params::Params;
use crate::http::reply::Reply;

pub const USERS: &str = "用户管理";
pub const SUPPORT_TOOLS: &str = "客服工具管理";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/outbox", get(list_outbox))
        .route("/admin/invitation_codes", post(create_invitation))
}

async fn list_outbox(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    require_permission(&state, &caller, SUPPORT_TOOLS).await?;
    if !state.notifier.has_outbox() {
        return Err(Problem::NotFound.into());
    }
    let to = params.get("to").map(str::to_owned);
    let channel = params.get("channel").map(str::to_owned);
    if let Some(channel) = &channel
        && !["sms", "mail", "captcha"].contains(&channel.as_str())
    {
        return Err(Problem::invalid("channel", "channel 只能是 sms、mail 或 captcha").into());
    }
    let rows = state
        .db
        .read(move |conn| outbox::list(conn, to.as_deref(), channel.as_deref(), 200))
        .await?;
    let offset = state.config.time_offset;
    let rows: Vec<_> = rows
        .into_iter()
        .map(|row| {
            json!({
                "channel": row.channel,
                "to": row.recipient,
                "code": row.code,
                "body": row.body,
                "created_at": clock::format(row.created_at, offset),
            })
        })
        .collect();
    Ok(Reply::print(StatusCode::OK, json!(rows)))
}

async fn create_invitation(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    require_permission(&state, &caller, USERS).await?;
    let uses = params
        .integer("uses", 1, 1_000_000)?
        .ok_or_else(|| Problem::invalid("uses", "uses 不能为空"))?;
    let days = params.integer("expires_in_days", 1, 3650)?;
    let invitation = identity::create_invitation(&state, uses, days).await?;
    let offset = state.config.time_offset;
    Ok(Reply::print(
        StatusCode::CREATED,
        json!({
            "code": invitation.code,
            "uses": invitation.uses,
            "expires_at": invitation.expires_at.map(|at| clock::format(at, offset)),
        }),
    ))
}
