//! Recharge orders: created pending, paid once by a provider's notify.

use rusqlite::{Connection, OptionalExtension, Row, params};
use shared::pagination::PageRequest;

use crate::db::StorageResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RechargeRow {
    pub id: i64,
    pub order_no: String,
    pub user_id: i64,
    pub nickname: String,
    pub price_cents: i64,
    pub pay_type: String,
    pub provider: String,
    pub trade_no: Option<String>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str = "r.id, r.order_no, r.user_id, u.nickname, r.price_cents, r.pay_type, \
                       r.provider, r.trade_no, r.paid_at, r.created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<RechargeRow> {
    Ok(RechargeRow {
        id: row.get(0)?,
        order_no: row.get(1)?,
        user_id: row.get(2)?,
        nickname: row.get(3)?,
        price_cents: row.get(4)?,
        pay_type: row.get(5)?,
        provider: row.get(6)?,
        trade_no: row.get(7)?,
        paid_at: row.get(8)?,
        created_at: row.get(9)?,
    })
}

pub fn insert(
    connection: &Connection,
    order_no: &str,
    user_id: i64,
    price_cents: i64,
    pay_type: &str,
    provider: &str,
    now: i64,
) -> StorageResult<i64> {
    connection.execute(
        "INSERT INTO recharge_orders (order_no, user_id, price_cents, pay_type, provider, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![order_no, user_id, price_cents, pay_type, provider, now],
    )?;
    Ok(connection.last_insert_rowid())
}

pub fn by_order_no(connection: &Connection, order_no: &str) -> StorageResult<Option<RechargeRow>> {
    Ok(connection
        .query_row(
            &format!(
                "SELECT {COLUMNS} FROM recharge_orders r JOIN users u ON u.id = r.user_id
                 WHERE r.order_no = ?1"
            ),
            [order_no],
            from_row,
        )
        .optional()?)
}

/// Marks a pending order paid by `trade_no`; `false` (nothing changed) if it was already paid.
pub fn mark_paid(
    connection: &Connection,
    id: i64,
    trade_no: &str,
    now: i64,
) -> StorageResult<bool> {
    let changed = connection.execute(
        "UPDATE recharge_orders SET trade_no = ?2, paid_at = ?3 WHERE id = ?1 AND paid_at IS NULL",
        params![id, trade_no, now],
    )?;
    Ok(changed == 1)
}

/// One page of a user's orders, newest first.
pub fn page(
    connection: &Connection,
    user_id: i64,
    request: PageRequest,
) -> StorageResult<(Vec<RechargeRow>, u64)> {
    let total: u64 = connection.query_row(
        "SELECT count(*) FROM recharge_orders WHERE user_id = ?1",
        [user_id],
        |row| row.get(0),
    )?;
    let mut statement = connection.prepare(&format!(
        "SELECT {COLUMNS} FROM recharge_orders r JOIN users u ON u.id = r.user_id
         WHERE r.user_id = ?1 ORDER BY r.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = statement.query_map(params![user_id, request.limit, request.offset()], from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// How many of the user's newest orders (at most `among`) are unpaid and were opened at or
/// after `since`, and when the oldest of those was opened. Reads the user's newest orders by
/// index, never their whole history.
pub fn recent_unpaid(
    connection: &Connection,
    user_id: i64,
    since: i64,
    among: i64,
) -> StorageResult<(i64, Option<i64>)> {
    Ok(connection
        .prepare_cached(
            "SELECT count(*), min(created_at) FROM (
                 SELECT paid_at, created_at FROM recharge_orders
                 WHERE user_id = ?1 ORDER BY id DESC LIMIT ?3
             ) WHERE paid_at IS NULL AND created_at >= ?2",
        )?
        .query_row(params![user_id, since, among], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?)
}

/// Has this provider's `trade_no` already paid an order?
pub fn trade_used(connection: &Connection, provider: &str, trade_no: &str) -> StorageResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM recharge_orders WHERE provider = ?1 AND trade_no = ?2)",
        params![provider, trade_no],
        |row| row.get(0),
    )?)
}

/// Pending orders of `providers` created between `oldest` and `newest` and not asked about
/// since `asked_before`, oldest first, at most `limit`.
pub fn to_reconcile(
    connection: &Connection,
    providers: &[&str],
    oldest: i64,
    newest: i64,
    asked_before: i64,
    limit: i64,
) -> StorageResult<Vec<RechargeRow>> {
    let mut rows = Vec::new();
    for provider in providers {
        let mut statement = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM recharge_orders r JOIN users u ON u.id = r.user_id
             WHERE r.paid_at IS NULL AND r.provider = ?1 AND r.created_at BETWEEN ?2 AND ?3
               AND (r.checked_at IS NULL OR r.checked_at <= ?4)
             ORDER BY r.created_at LIMIT ?5"
        ))?;
        let found = statement.query_map(
            params![provider, oldest, newest, asked_before, limit],
            from_row,
        )?;
        for row in found {
            rows.push(row?);
        }
    }
    Ok(rows)
}

/// Records that a pending order was asked about at its gateway.
pub fn mark_checked(connection: &Connection, order_no: &str, now: i64) -> StorageResult<()> {
    connection.execute(
        "UPDATE recharge_orders SET checked_at = ?2 WHERE order_no = ?1 AND paid_at IS NULL",
        params![order_no, now],
    )?;
    Ok(())
}
