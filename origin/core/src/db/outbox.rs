//! The development outbox: what would have been sent by SMS or e-mail, and captcha answers.

use rusqlite::{Connection, params};

use crate::db::StorageResult;

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub channel: String,
    pub recipient: String,
    pub code: String,
    pub body: String,
    pub created_at: i64,
    /// `code` and `body` are sealed (`notify::seal`): written so once a channel has a real
    /// provider; `Notifier::open_outbox` opens them.
    pub sealed: bool,
}

pub fn insert(connection: &Connection, row: &OutboxRow) -> StorageResult<()> {
    connection.execute(
        "INSERT INTO outbox (channel, recipient, code, body, created_at, sealed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            row.channel,
            row.recipient,
            row.code,
            row.body,
            row.created_at,
            row.sealed
        ],
    )?;
    Ok(())
}

/// Newest first, optionally filtered by recipient and channel.
pub fn list(
    connection: &Connection,
    to: Option<&str>,
    channel: Option<&str>,
    limit: u32,
) -> StorageResult<Vec<OutboxRow>> {
    let mut statement = connection.prepare(
        "SELECT channel, recipient, code, body, created_at, sealed FROM outbox
         WHERE (?1 IS NULL OR recipient = ?1) AND (?2 IS NULL OR channel = ?2)
         ORDER BY id DESC LIMIT ?3",
    )?;
    let rows = statement.query_map(params![to, channel, limit], |row| {
        Ok(OutboxRow {
            channel: row.get(0)?,
            recipient: row.get(1)?,
            code: row.get(2)?,
            body: row.get(3)?,
            created_at: row.get(4)?,
            sealed: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The rows kept in the clear (`sealed = 0`), oldest first, at most `limit`: id, code, body.
pub fn clear_rows(
    connection: &Connection,
    limit: u32,
) -> StorageResult<Vec<(i64, String, String)>> {
    let mut statement = connection
        .prepare("SELECT id, code, body FROM outbox WHERE sealed = 0 ORDER BY id LIMIT ?1")?;
    let rows = statement.query_map([limit], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Replaces a row's code and body with their sealed forms.
pub fn seal_row(connection: &Connection, id: i64, code: &str, body: &str) -> StorageResult<()> {
    connection.execute(
        "UPDATE outbox SET code = ?2, body = ?3, sealed = 1 WHERE id = ?1",
        params![id, code, body],
    )?;
    Ok(())
}
