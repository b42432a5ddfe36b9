//! The member centre's reads and the few writes a member makes on them: messages, coupons,
//! and the points and balance ledgers.

use shared::Problem;
use shared::pagination::{PageRequest, Paged};

use crate::AppState;
use crate::clock;
use crate::db::coupons::{self, CouponRow, CouponStatus};
use crate::db::ledgers::{self, Direction, Entry, Ledger};
use crate::db::messages::{self, MessageRow};
use crate::error::Result;

pub async fn messages(
    state: &AppState,
    user_id: i64,
    read: Option<bool>,
    request: PageRequest,
) -> Result<Paged<MessageRow>> {
    let (rows, total) = state
        .db
        .read(move |conn| messages::page(conn, user_id, read, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

pub async fn unread_count(state: &AppState, user_id: i64) -> Result<u64> {
    Ok(state
        .db
        .read(move |conn| messages::unread_count(conn, user_id))
        .await?)
}

/// Marks one message read; another user's (or no) message is not found.
pub async fn mark_read(state: &AppState, user_id: i64, id: i64) -> Result<()> {
    let found = state
        .db
        .write(move |tx| messages::mark_read(tx, user_id, id, clock::now()))
        .await?;
    if !found {
        return Err(Problem::NotFound.into());
    }
    Ok(())
}

pub async fn mark_all_read(state: &AppState, user_id: i64) -> Result<()> {
    state
        .db
        .write(move |tx| messages::mark_all_read(tx, user_id, clock::now()))
        .await?;
    Ok(())
}

pub async fn coupons(
    state: &AppState,
    user_id: i64,
    status: Option<CouponStatus>,
    request: PageRequest,
) -> Result<Paged<CouponRow>> {
    let now = clock::now();
    let (rows, total) = state
        .db
        .read(move |conn| coupons::page(conn, user_id, status, now, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

pub async fn ledger(
    state: &AppState,
    ledger: Ledger,
    user_id: i64,
    direction: Option<Direction>,
    request: PageRequest,
) -> Result<Paged<Entry>> {
    let (rows, total) = state
        .db
        .read(move |conn| ledgers::page(conn, ledger, user_id, direction, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}
