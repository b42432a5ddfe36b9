//! Invitation codes for store registration: a number of uses and an optional expiry.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::StorageResult;

pub fn create(
    connection: &Connection,
    code: &str,
    uses: i64,
    expires_at: Option<i64>,
    now: i64,
) -> StorageResult<()> {
    connection.execute(
        "INSERT INTO invitation_codes (code, uses_total, uses_left, expires_at, created_at)
         VALUES (?1, ?2, ?2, ?3, ?4)",
        params![code, uses, expires_at, now],
    )?;
    Ok(())
}

/// Whether a code can be used now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Usable,
    Unknown,
    Expired,
    UsedUp,
}

/// Whether a code can be used now: it exists, has not expired and has a use left. The
/// registration checks this before it spends a captcha; [`consume`] checks it again.
pub fn check(connection: &Connection, code: &str, now: i64) -> StorageResult<Standing> {
    let row = connection
        .query_row(
            "SELECT uses_left, expires_at FROM invitation_codes WHERE code = ?1",
            [code],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<i64>>(1)?)),
        )
        .optional()?;
    Ok(match row {
        None => Standing::Unknown,
        Some((_, Some(expires_at))) if expires_at < now => Standing::Expired,
        Some((uses_left, _)) if uses_left <= 0 => Standing::UsedUp,
        Some(_) => Standing::Usable,
    })
}

/// Spends one use of a code for `user_id` if it is usable, and says whether it was (nothing is
/// spent otherwise). Call inside the transaction that creates the user, so the use and the
/// user exist together or not at all.
pub fn consume(
    connection: &Connection,
    code: &str,
    user_id: i64,
    now: i64,
) -> StorageResult<Standing> {
    let standing = check(connection, code, now)?;
    if standing != Standing::Usable {
        return Ok(standing);
    }
    connection.execute(
        "UPDATE invitation_codes SET uses_left = uses_left - 1 WHERE code = ?1 AND uses_left > 0",
        [code],
    )?;
    connection.execute(
        "INSERT INTO invitation_uses (code, user_id, at) VALUES (?1, ?2, ?3)",
        params![code, user_id, now],
    )?;
    Ok(standing)
}

pub fn uses_left(connection: &Connection, code: &str) -> StorageResult<Option<i64>> {
    Ok(connection
        .query_row(
            "SELECT uses_left FROM invitation_codes WHERE code = ?1",
            [code],
            |row| row.get(0),
        )
        .optional()?)
}
