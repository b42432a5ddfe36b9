//! The print dialect's member-centre lists: messages, coupons, points and balance records.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use shared::Problem;
use shared::money::format_cents;
use shared::pagination::Paged;

use crate::AppState;
use crate::clock;
use crate::db::coupons::CouponStatus;
use crate::db::ledgers::{Direction, Ledger};
use crate::domain::{member, profile};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::params::Params;
use crate::http::reply::Reply;

/// A page of rows as the print document shows it.
pub fn paged<T>(page: Paged<T>, render: impl Fn(&T) -> Value) -> Value {
    let rows: Vec<Value> = page.data.iter().map(render).collect();
    json!({
        "data": rows,
        "count": page.count,
        "total": page.total,
        "current_page": page.current_page,
        "last_page": page.last_page,
        "has_more_pages": page.has_more_pages,
    })
}

/// An id in the path: anything but a positive integer names nothing.
pub fn path_id(raw: &str) -> Result<i64, Problem> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(Problem::NotFound)
}

pub async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let request = params.page()?;
    let read = params.integer("is_read", 0, 1)?.map(|flag| flag == 1);
    let user = profile::user(&state, caller.user_id).await?;
    let page = member::messages(&state, caller.user_id, read, request).await?;
    let offset = state.config.time_offset;
    let data = paged(page, |message| {
        json!({
            "id": message.id,
            "user": { "id": user.id, "nickname": user.nickname },
            "sender": message.sender,
            "title": message.title,
            "body": message.body,
            "is_read": message.read,
            "created_at": clock::format(message.created_at, offset),
        })
    });
    Ok(Reply::print(StatusCode::OK, data))
}

pub async fn unread_count(State(state): State<AppState>, caller: Caller) -> AppResult<Reply> {
    let count = member::unread_count(&state, caller.user_id).await?;
    Ok(Reply::print(StatusCode::OK, json!({ "count": count })))
}

pub async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> AppResult<Reply> {
    let instructions = member::mark_read(&state, caller.user_id, path_id(&id)?).await?;
    Ok(Reply::print_message(StatusCode::OK, "已标记为已读").invalidate(instructions))
}

pub async fn mark_all_read(State(state): State<AppState>, caller: Caller) -> AppResult<Reply> {
    let instructions = member::mark_all_read(&state, caller.user_id).await?;
    Ok(Reply::print_message(StatusCode::OK, "已全部标记为已读").invalidate(instructions))
}

pub async fn coupons(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let request = params.page()?;
    let status = params.integer("type", 1, 3)?.map(CouponStatus::from_code);
    let page = member::coupons(&state, caller.user_id, status, request).await?;
    let offset = state.config.time_offset;
    let data = paged(page, |coupon| {
        let mut row = json!({
            "id": coupon.id,
            "coupon_no": coupon.coupon_no,
            "name": coupon.name,
            "type": coupon.kind,
            "quota": format_cents(coupon.quota_cents),
            "status": coupon.status.label(),
            "finished_at": clock::format(coupon.finished_at, offset),
            "created_at": clock::format(coupon.created_at, offset),
        });
        if let Some(satisfy) = coupon.satisfy_cents {
            row["satisfy"] = json!(format_cents(satisfy));
        }
        row
    });
    Ok(Reply::print(StatusCode::OK, data))
}

async fn ledger(
    state: AppState,
    caller: Caller,
    params: Params,
    ledger: Ledger,
) -> AppResult<Reply> {
    let request = params.page()?;
    let direction = params.integer("type", 1, 2)?.map(|code| {
        if code == 1 {
            Direction::Income
        } else {
            Direction::Expense
        }
    });
    let page = member::ledger(&state, ledger, caller.user_id, direction, request).await?;
    let offset = state.config.time_offset;
    let amount = |value: i64| match ledger {
        Ledger::Points => json!(value),
        Ledger::Balance => json!(format_cents(value)),
    };
    let data = paged(page, |entry| {
        json!({
            "id": entry.id,
            "type": if entry.number > 0 { "收入" } else { "支出" },
            "number": amount(entry.number.abs()),
            "surplus": amount(entry.surplus),
            "describe": entry.describe,
            "created_at": clock::format(entry.created_at, offset),
        })
    });
    Ok(Reply::print(StatusCode::OK, data))
}

pub async fn points_records(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    ledger(state, caller, params, Ledger::Points).await
}

pub async fn balance_records(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    ledger(state, caller, params, Ledger::Balance).await
}
