//! In-site messages.

use rusqlite::{Connection, params};
use shared::pagination::PageRequest;

use crate::db::StorageResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub sender: String,
    pub title: String,
    pub body: String,
    pub read: bool,
    pub created_at: i64,
}

pub fn insert(
    connection: &Connection,
    user_id: i64,
    sender: &str,
    title: &str,
    body: &str,
    now: i64,
) -> StorageResult<i64> {
    connection.execute(
        "INSERT INTO messages (user_id, sender, title, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, sender, title, body, now],
    )?;
    Ok(connection.last_insert_rowid())
}

/// One page, newest first, optionally only read (`Some(true)`) or unread (`Some(false)`).
pub fn page(
    connection: &Connection,
    user_id: i64,
    read: Option<bool>,
    request: PageRequest,
) -> StorageResult<(Vec<MessageRow>, u64)> {
    let filter = match read {
        None => "",
        Some(true) => "AND read_at IS NOT NULL",
        Some(false) => "AND read_at IS NULL",
    };
    let total: u64 = connection.query_row(
        &format!("SELECT count(*) FROM messages WHERE user_id = ?1 {filter}"),
        [user_id],
        |row| row.get(0),
    )?;
    let mut statement = connection.prepare(&format!(
        "SELECT id, sender, title, body, read_at IS NOT NULL, created_at FROM messages
         WHERE user_id = ?1 {filter} ORDER BY id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = statement.query_map(params![user_id, request.limit, request.offset()], |row| {
        Ok(MessageRow {
            id: row.get(0)?,
            sender: row.get(1)?,
            title: row.get(2)?,
            body: row.get(3)?,
            read: row.get(4)?,
            created_at: row.get(5)?,
        })
    })?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn unread_count(connection: &Connection, user_id: i64) -> StorageResult<u64> {
    Ok(connection.query_row(
        "SELECT count(*) FROM messages WHERE user_id = ?1 AND read_at IS NULL",
        [user_id],
        |row| row.get(0),
    )?)
}

/// Marks one of the user's messages read; `false` if the user has no such message.
pub fn mark_read(connection: &Connection, user_id: i64, id: i64, now: i64) -> StorageResult<bool> {
    let exists: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1 AND user_id = ?2)",
        params![id, user_id],
        |row| row.get(0),
    )?;
    connection.execute(
        "UPDATE messages SET read_at = ?3 WHERE id = ?1 AND user_id = ?2 AND read_at IS NULL",
        params![id, user_id, now],
    )?;
    Ok(exists)
}

pub fn mark_all_read(connection: &Connection, user_id: i64, now: i64) -> StorageResult<usize> {
    Ok(connection.execute(
        "UPDATE messages SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL",
        params![user_id, now],
    )?)
}
