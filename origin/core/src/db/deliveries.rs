//! The delivery log of SMS and e-mail: one row a message (recorded in the transaction that
//! made it), one `delivery_attempts` row per try. The delivery worker claims due rows, sends
//! them, and records what happened.

use rusqlite::{Connection, params};
use shared::pagination::PageRequest;

use crate::db::StorageResult;

/// A message to record for delivery.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub channel: &'a str,
    pub kind: &'a str,
    pub recipient: &'a str,
    pub provider: &'a str,
    /// `pending` for the worker; `sent` (development outbox) or `skipped` when nothing will
    /// be sent.
    pub status: &'a str,
    pub sealed: Option<&'a str>,
    pub body: Option<&'a str>,
    pub give_up_at: i64,
    pub code_lifetime_secs: i64,
    pub error: Option<&'a str>,
    pub now: i64,
}

pub fn insert(connection: &Connection, row: &NewDelivery<'_>) -> StorageResult<i64> {
    let finished_at = (row.status != "pending").then_some(row.now);
    // The development outbox takes a message in the transaction itself: one attempt, done.
    let attempts = i64::from(row.status == "sent");
    connection.execute(
        "INSERT INTO deliveries (channel, kind, recipient, provider, status, sealed, body,
             next_attempt_at, give_up_at, code_lifetime_secs, last_error, created_at, finished_at,
             attempts)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?8, ?12, ?13)",
        params![
            row.channel,
            row.kind,
            row.recipient,
            row.provider,
            row.status,
            row.sealed,
            row.body,
            row.now,
            row.give_up_at,
            row.code_lifetime_secs,
            row.error,
            finished_at,
            attempts
        ],
    )?;
    Ok(connection.last_insert_rowid())
}

/// A message the worker is to send now.
#[derive(Debug, Clone)]
pub struct Due {
    pub id: i64,
    pub channel: String,
    pub kind: String,
    pub recipient: String,
    pub provider: String,
    pub sealed: Option<String>,
    pub body: Option<String>,
    pub attempts: i64,
    pub give_up_at: i64,
    pub code_lifetime_secs: i64,
}

/// Takes up to `limit` pending messages whose time has come and leases them until
/// `lease_until`, so that another worker (another process on the same data directory) does not
/// send them too; a worker that dies mid-send leaves them to be tried again after the lease.
/// Whether any message is waiting for a try now (a read: an idle worker writes nothing).
pub fn any_due(connection: &Connection, now: i64) -> StorageResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?1)",
        params![now],
        |row| row.get(0),
    )?)
}

pub fn claim_due(
    connection: &Connection,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> StorageResult<Vec<Due>> {
    let mut statement = connection.prepare(
        "UPDATE deliveries SET next_attempt_at = ?2
         WHERE id IN (SELECT id FROM deliveries
                      WHERE status = 'pending' AND next_attempt_at <= ?1
                      ORDER BY next_attempt_at, id LIMIT ?3)
         RETURNING id, channel, kind, recipient, provider, sealed, body, attempts, give_up_at,
                   code_lifetime_secs",
    )?;
    let rows = statement.query_map(params![now, lease_until, limit], |row| {
        Ok(Due {
            id: row.get(0)?,
            channel: row.get(1)?,
            kind: row.get(2)?,
            recipient: row.get(3)?,
            provider: row.get(4)?,
            sealed: row.get(5)?,
            body: row.get(6)?,
            attempts: row.get(7)?,
            give_up_at: row.get(8)?,
            code_lifetime_secs: row.get(9)?,
        })
    })?;
    let mut due: Vec<Due> = rows.collect::<Result<_, _>>()?;
    due.sort_by_key(|row| row.id);
    Ok(due)
}

/// What became of one try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider took the message.
    Sent { message_id: Option<String> },
    /// A failure worth another try at `next_attempt_at`.
    Retry { error: String, next_attempt_at: i64 },
    /// A failure that another try will not mend (or the last try): the message is abandoned
    /// with `status` (`failed` or `expired`).
    GiveUp { error: String, status: &'static str },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Sent { .. } => "sent",
            Outcome::Retry { .. } => "retry",
            Outcome::GiveUp { .. } => "failed",
        }
    }
}

/// Records a try of a pending message (a message another worker finished meanwhile is left
/// alone). A sent or abandoned message loses its sealed code in the same statement.
pub fn record_attempt(
    connection: &Connection,
    id: i64,
    outcome: &Outcome,
    took_ms: i64,
    now: i64,
) -> StorageResult<bool> {
    let (message_id, error) = match outcome {
        Outcome::Sent { message_id } => (message_id.as_deref(), None),
        Outcome::Retry { error, .. } | Outcome::GiveUp { error, .. } => {
            (None, Some(error.as_str()))
        }
    };
    let changed = match outcome {
        Outcome::Sent { message_id } => connection.execute(
            "UPDATE deliveries SET status = 'sent', sealed = NULL, attempts = attempts + 1,
                 provider_message_id = ?2, last_error = NULL, finished_at = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![id, message_id, now],
        )?,
        Outcome::Retry {
            error,
            next_attempt_at,
        } => connection.execute(
            "UPDATE deliveries SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
             WHERE id = ?1 AND status = 'pending'",
            params![id, error, next_attempt_at],
        )?,
        Outcome::GiveUp { error, status } => connection.execute(
            "UPDATE deliveries SET status = ?2, sealed = NULL, attempts = attempts + 1,
                 last_error = ?3, finished_at = ?4
             WHERE id = ?1 AND status = 'pending'",
            params![id, status, error, now],
        )?,
    };
    if changed == 1 {
        connection.execute(
            "INSERT INTO delivery_attempts (delivery_id, at, outcome, provider_message_id, error, took_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, now, outcome.label(), message_id, error, took_ms],
        )?;
    }
    Ok(changed == 1)
}

/// Abandons a pending message without trying it (its code expired while it waited).
pub fn abandon(
    connection: &Connection,
    id: i64,
    status: &str,
    error: &str,
    now: i64,
) -> StorageResult<()> {
    connection.execute(
        "UPDATE deliveries SET status = ?2, sealed = NULL, last_error = ?3, finished_at = ?4
         WHERE id = ?1 AND status = 'pending'",
        params![id, status, error, now],
    )?;
    Ok(())
}

/// One row of the delivery log as the back office reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: i64,
    pub channel: String,
    pub kind: String,
    pub recipient: String,
    pub provider: String,
    pub status: String,
    pub attempts: i64,
    pub provider_message_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub next_attempt_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// Which rows of the log to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub recipient: Option<String>,
    pub channel: Option<String>,
    pub status: Option<String>,
}

/// One page of the log, newest first.
pub fn page(
    connection: &Connection,
    filter: &Filter,
    request: PageRequest,
) -> StorageResult<(Vec<DeliveryRow>, u64)> {
    const WHERE: &str = "WHERE (?1 IS NULL OR recipient = ?1) AND (?2 IS NULL OR channel = ?2)
                         AND (?3 IS NULL OR status = ?3)";
    let filters = params![filter.recipient, filter.channel, filter.status];
    let total: u64 = connection.query_row(
        &format!("SELECT count(*) FROM deliveries {WHERE}"),
        filters,
        |row| row.get(0),
    )?;
    let mut statement = connection.prepare(&format!(
        "SELECT id, channel, kind, recipient, provider, status, attempts, provider_message_id,
                last_error, created_at, next_attempt_at, finished_at
         FROM deliveries {WHERE} ORDER BY id DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let rows = statement.query_map(
        params![
            filter.recipient,
            filter.channel,
            filter.status,
            request.limit,
            request.offset()
        ],
        |row| {
            let status: String = row.get(5)?;
            let next_attempt_at: i64 = row.get(10)?;
            Ok(DeliveryRow {
                id: row.get(0)?,
                channel: row.get(1)?,
                kind: row.get(2)?,
                recipient: row.get(3)?,
                provider: row.get(4)?,
                next_attempt_at: (status == "pending").then_some(next_attempt_at),
                status,
                attempts: row.get(6)?,
                provider_message_id: row.get(7)?,
                last_error: row.get(8)?,
                created_at: row.get(9)?,
                finished_at: row.get(11)?,
            })
        },
    )?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// Messages still waiting, and how many of them have failed at least once (for `/metrics`).
pub fn backlog(connection: &Connection) -> StorageResult<(u64, u64)> {
    Ok(connection.query_row(
        "SELECT count(*), count(*) FILTER (WHERE attempts > 0)
         FROM deliveries WHERE status = 'pending'",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?)
}
