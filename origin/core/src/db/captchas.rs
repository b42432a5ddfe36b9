//! Image captcha answers: stored keyed-hashed, 5 minutes, one attempt.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::StorageResult;

pub struct NewCaptcha<'a> {
    pub key: &'a str,
    pub answer_hash: &'a str,
    pub username: &'a str,
    pub client_ip: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

pub fn insert(connection: &Connection, captcha: &NewCaptcha<'_>) -> StorageResult<()> {
    connection.execute(
        "INSERT INTO captchas (key, answer_hash, username, client_ip, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            captcha.key,
            captcha.answer_hash,
            captcha.username,
            captcha.client_ip,
            captcha.now,
            captcha.expires_at
        ],
    )?;
    Ok(())
}

/// How many captchas an IP asked for since `since`, and when the oldest of them was.
pub fn issued_to_ip(
    connection: &Connection,
    ip: &str,
    since: i64,
) -> StorageResult<(u32, Option<i64>)> {
    Ok(connection.query_row(
        "SELECT count(*), min(created_at) FROM captchas WHERE client_ip = ?1 AND created_at > ?2",
        params![ip, since],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptchaCheck {
    Right,
    Wrong,
    /// Unknown key, expired, or already used.
    Dead,
}

/// Spends the captcha whatever the answer: it has exactly one attempt.
pub fn spend(
    connection: &Connection,
    key: &str,
    answer_hash: &str,
    now: i64,
) -> StorageResult<CaptchaCheck> {
    let row = connection
        .query_row(
            "SELECT answer_hash, expires_at, used_at FROM captchas WHERE key = ?1",
            [key],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Option<i64>>(2)?,
                ))
            },
        )
        .optional()?;
    let Some((stored_hash, expires_at, used_at)) = row else {
        return Ok(CaptchaCheck::Dead);
    };
    if used_at.is_some() || expires_at < now {
        return Ok(CaptchaCheck::Dead);
    }
    connection.execute(
        "UPDATE captchas SET used_at = ?2 WHERE key = ?1",
        params![key, now],
    )?;
    if crate::ids::constant_time_eq(stored_hash.as_bytes(), answer_hash.as_bytes()) {
        Ok(CaptchaCheck::Right)
    } else {
        Ok(CaptchaCheck::Wrong)
    }
}
