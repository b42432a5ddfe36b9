//! The print dialect's member-centre lists: messages, coupons, points and balance records.

use axum::extract::State;
use time::UtcOffset;

use crate::AppState;
use crate::db::coupons::CouponStatus;
use crate::db::ledgers::{Direction, Entry, Ledger};
use crate::domain::{member, profile};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::input::{Input, OptionalInt, Paging};
use crate::http::path::PathId;
use crate::http::reply::{Data, PrintDone, PrintOk};
use crate::http::views::{self, Page};
use crate::input;

input! {
    pub struct MessagesQuery {
        page: Paging,
        /// 0 unread only, 1 read only.
        is_read: OptionalInt<0, 1>,
    }
}

pub async fn messages(
    State(state): State<AppState>,
    caller: Caller,
    Input(query): Input<MessagesQuery>,
) -> AppResult<PrintOk<Page<views::Message>>> {
    let read = query.is_read.map(|flag| flag == 1);
    let user = profile::user(&state, caller.user_id).await?;
    let page = member::messages(&state, caller.user_id, read, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |message| {
        views::Message::of(message, &user, offset)
    })))
}

pub async fn unread_count(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<PrintOk<views::Count>> {
    let count = member::unread_count(&state, caller.user_id).await?;
    Ok(PrintOk::new(views::Count { count }))
}

pub async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<PrintDone> {
    member::mark_read(&state, caller.user_id, id).await?;
    Ok(PrintDone::new("已标记为已读"))
}

pub async fn mark_all_read(State(state): State<AppState>, caller: Caller) -> AppResult<PrintDone> {
    member::mark_all_read(&state, caller.user_id).await?;
    Ok(PrintDone::new("已全部标记为已读"))
}

input! {
    pub struct CouponsQuery {
        page: Paging,
        /// 1 usable, 2 used, 3 expired.
        kind as "type": OptionalInt<1, 3>,
    }
}

pub async fn coupons(
    State(state): State<AppState>,
    caller: Caller,
    Input(query): Input<CouponsQuery>,
) -> AppResult<PrintOk<Page<views::Coupon>>> {
    let status = query.kind.map(CouponStatus::from_code);
    let page = member::coupons(&state, caller.user_id, status, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |coupon| {
        views::Coupon::of(coupon, offset)
    })))
}

input! {
    pub struct LedgerQuery {
        page: Paging,
        /// 1 income, 2 expense.
        kind as "type": OptionalInt<1, 2>,
    }
}

impl LedgerQuery {
    fn direction(&self) -> Option<Direction> {
        self.kind.map(|code| {
            if code == 1 {
                Direction::Income
            } else {
                Direction::Expense
            }
        })
    }
}

/// One ledger's page of the caller's entries, each shown as `view` shows it.
async fn ledger_page<V>(
    state: &AppState,
    caller: &Caller,
    query: LedgerQuery,
    ledger: Ledger,
    view: fn(&Entry, UtcOffset) -> V,
) -> AppResult<PrintOk<Page<V>>>
where
    Page<V>: Data,
{
    let direction = query.direction();
    let page = member::ledger(state, ledger, caller.user_id, direction, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |entry| view(entry, offset))))
}

pub async fn points_records(
    State(state): State<AppState>,
    caller: Caller,
    Input(query): Input<LedgerQuery>,
) -> AppResult<PrintOk<Page<views::PointsRecord>>> {
    ledger_page(
        &state,
        &caller,
        query,
        Ledger::Points,
        views::PointsRecord::of,
    )
    .await
}

pub async fn balance_records(
    State(state): State<AppState>,
    caller: Caller,
    Input(query): Input<LedgerQuery>,
) -> AppResult<PrintOk<Page<views::BalanceRecord>>> {
    ledger_page(
        &state,
        &caller,
        query,
        Ledger::Balance,
        views::BalanceRecord::of,
    )
    .await
}
