//! The print dialect's member-centre lists: messages, coupons, points and balance records.

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::db::coupons::CouponStatus;
use crate::db::ledgers::{Direction, Ledger};
use crate::domain::{member, profile};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::Reply;
use crate::http::views::{self, Page};

/// An id in the path: anything but a positive integer names nothing.
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
    let data = Page::of(page, |message| views::Message::of(message, &user, offset));
    Ok(Reply::print(StatusCode::OK, data))
}

pub async fn unread_count(State(state): State<AppState>, caller: Caller) -> AppResult<Reply> {
    let count = member::unread_count(&state, caller.user_id).await?;
    Ok(Reply::print(StatusCode::OK, views::Count { count }))
}

pub async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Reply> {
    let instructions = member::mark_read(&state, caller.user_id, id).await?;
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
    let data = Page::of(page, |coupon| views::Coupon::of(coupon, offset));
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
    Ok(match ledger {
        Ledger::Points => Reply::print(
            StatusCode::OK,
            Page::of(page, |entry| views::PointsRecord::of(entry, offset)),
        ),
        Ledger::Balance => Reply::print(
            StatusCode::OK,
            Page::of(page, |entry| views::BalanceRecord::of(entry, offset)),
        ),
    })
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
