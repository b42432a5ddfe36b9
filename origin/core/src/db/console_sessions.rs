//! The web console's sign-ins, each riding on a `sessions` row (migration 0014).

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::StorageResult;

pub fn insert(
    connection: &Connection,
    token_hash: &str,
    session_id: &str,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> StorageResult<()> {
    connection
        .prepare_cached(
            "INSERT INTO console_sessions (token_hash, session_id, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![token_hash, session_id, csrf, now, expires_at])?;
    Ok(())
}

/// A console sign-in that still holds: not expired, its session not revoked, its user not
/// disabled, and the session an admin one.
#[derive(Debug, Clone)]
pub struct ActiveConsole {
    pub user_id: i64,
    pub session_id: String,
    pub csrf: String,
    pub expires_at: i64,
}

pub fn active(
    connection: &Connection,
    token_hash: &str,
    now: i64,
) -> StorageResult<Option<ActiveConsole>> {
    Ok(connection
        .prepare_cached(
            "SELECT s.user_id, s.id, c.csrf, c.expires_at FROM console_sessions c
             JOIN sessions s ON s.id = c.session_id JOIN users u ON u.id = s.user_id
             WHERE c.token_hash = ?1 AND c.expires_at > ?2 AND s.revoked_at IS NULL
               AND s.admin = 1 AND u.disabled = 0",
        )?
        .query_row(params![token_hash, now], |row| {
            Ok(ActiveConsole {
                user_id: row.get(0)?,
                session_id: row.get(1)?,
                csrf: row.get(2)?,
                expires_at: row.get(3)?,
            })
        })
        .optional()?)
}

/// Forgets console sign-ins past their time (their sessions stay, revoked or not).
pub fn delete_expired(connection: &Connection, now: i64) -> StorageResult<usize> {
    Ok(connection.execute("DELETE FROM console_sessions WHERE expires_at <= ?1", [now])?)
}
