//! The points and balance ledgers: append-only, `surplus` is the figure after each entry, and
//! no entry can take it below zero. Posting happens inside the caller's write transaction, so
//! concurrent spends are serialised by the single writer and never double-spend.

use rusqlite::{Connection, OptionalExtension, Row, params};
use shared::pagination::PageRequest;

use crate::db::{StorageError, StorageResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ledger {
    /// Accumulated points (whole numbers).
    Points,
    /// Account balance (cents).
    Balance,
}

impl Ledger {
    fn table(self) -> &'static str {
        match self {
            Ledger::Points => "points_records",
            Ledger::Balance => "balance_records",
        }
    }
}

/// Income (`number > 0`) or expense (`number < 0`) entries only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Income,
    Expense,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: i64,
    pub number: i64,
    pub surplus: i64,
    pub describe: String,
    pub created_at: i64,
}

pub fn current(connection: &Connection, ledger: Ledger, user_id: i64) -> StorageResult<i64> {
    let sql = format!(
        "SELECT surplus FROM {} WHERE user_id = ?1 ORDER BY id DESC LIMIT 1",
        ledger.table()
    );
    Ok(connection
        .prepare_cached(&sql)?
        .query_row([user_id], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

/// Appends an entry of `delta` (positive: income; negative: expense) and returns the new
/// figure. A delta that would go below zero is [`StorageError::Shortfall`] and appends nothing.
/// A zero delta is not an entry: callers refuse it first, naming their own input.
pub fn post(
    connection: &Connection,
    ledger: Ledger,
    user_id: i64,
    delta: i64,
    describe: &str,
    now: i64,
) -> StorageResult<i64> {
    if delta == 0 {
        return Err(anyhow::anyhow!("a ledger entry of zero").into());
    }
    let surplus = current(connection, ledger, user_id)?
        .checked_add(delta)
        .filter(|surplus| *surplus >= 0)
        .ok_or(StorageError::Shortfall(ledger))?;
    let sql = format!(
        "INSERT INTO {} (user_id, number, surplus, describe, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        ledger.table()
    );
    connection.execute(&sql, params![user_id, delta, surplus, describe, now])?;
    Ok(surplus)
}

fn entry(row: &Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        id: row.get(0)?,
        number: row.get(1)?,
        surplus: row.get(2)?,
        describe: row.get(3)?,
        created_at: row.get(4)?,
    })
}

/// One page of a user's entries, newest first, and the total count.
pub fn page(
    connection: &Connection,
    ledger: Ledger,
    user_id: i64,
    direction: Option<Direction>,
    request: PageRequest,
) -> StorageResult<(Vec<Entry>, u64)> {
    let filter = match direction {
        None => "",
        Some(Direction::Income) => "AND number > 0",
        Some(Direction::Expense) => "AND number < 0",
    };
    let table = ledger.table();
    let total: u64 = connection.query_row(
        &format!("SELECT count(*) FROM {table} WHERE user_id = ?1 {filter}"),
        [user_id],
        |r| r.get(0),
    )?;
    let sql = format!(
        "SELECT id, number, surplus, describe, created_at FROM {table} WHERE user_id = ?1 {filter}
         ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    );
    let mut statement = connection.prepare(&sql)?;
    let rows = statement.query_map(params![user_id, request.limit, request.offset()], entry)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}
