//! SMS and e-mail verification codes: stored keyed-hashed, 5 minutes, 5 tries, single use.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::StorageResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Mail,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Mail => "mail",
        }
    }

    fn parse(raw: &str) -> Channel {
        if raw == "mail" {
            Channel::Mail
        } else {
            Channel::Sms
        }
    }
}

pub const MAX_ATTEMPTS: i64 = 5;

/// How many codes were sent since `since` and when the oldest of them was, by one key.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sent {
    pub count: u32,
    pub oldest: Option<i64>,
}

pub fn sent_to_target(
    connection: &Connection,
    channel: Channel,
    target: &str,
    since: i64,
) -> StorageResult<Sent> {
    sent_by(connection, "target", channel, target, since)
}

pub fn sent_from_ip(
    connection: &Connection,
    channel: Channel,
    ip: &str,
    since: i64,
) -> StorageResult<Sent> {
    sent_by(connection, "client_ip", channel, ip, since)
}

fn sent_by(
    connection: &Connection,
    column: &str,
    channel: Channel,
    value: &str,
    since: i64,
) -> StorageResult<Sent> {
    let sql = format!(
        "SELECT count(*), min(created_at) FROM verification_codes
         WHERE channel = ?1 AND {column} = ?2 AND created_at > ?3"
    );
    Ok(
        connection.query_row(&sql, params![channel.as_str(), value, since], |row| {
            Ok(Sent {
                count: row.get(0)?,
                oldest: row.get(1)?,
            })
        })?,
    )
}

pub struct NewCode<'a> {
    pub token: &'a str,
    pub channel: Channel,
    pub target: &'a str,
    pub code_hash: &'a str,
    pub client_ip: &'a str,
    pub now: i64,
    pub expires_at: i64,
}

pub fn insert(connection: &Connection, code: &NewCode<'_>) -> StorageResult<()> {
    connection.execute(
        "INSERT INTO verification_codes (token, channel, target, code_hash, client_ip, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            code.token,
            code.channel.as_str(),
            code.target,
            code.code_hash,
            code.client_ip,
            code.now,
            code.expires_at
        ],
    )?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right code: it is consumed now (inside the caller's transaction).
    Valid { channel: Channel, target: String },
    /// Wrong code: one try is counted.
    Wrong,
    /// Unknown token, expired, used, or out of tries.
    Dead,
}

/// Checks a code and consumes it if right. The caller's transaction must commit a `Wrong` (so
/// the try counts) and may roll back a `Valid` (if what the code was for then fails).
pub fn check_and_consume(
    connection: &Connection,
    token: &str,
    code_hash: &str,
    now: i64,
) -> StorageResult<CodeCheck> {
    check(connection, token, code_hash, now, true)
}

/// Checks a code without consuming it if right (a wrong one still counts a try): for requests
/// that must prove the code before doing expensive work (hashing a password), and consume it
/// afterwards with [`check_and_consume`].
pub fn check_only(
    connection: &Connection,
    token: &str,
    code_hash: &str,
    now: i64,
) -> StorageResult<CodeCheck> {
    check(connection, token, code_hash, now, false)
}

fn check(
    connection: &Connection,
    token: &str,
    code_hash: &str,
    now: i64,
    consume: bool,
) -> StorageResult<CodeCheck> {
    let row = connection
        .query_row(
            "SELECT channel, target, code_hash, attempts, expires_at, consumed_at
             FROM verification_codes WHERE token = ?1",
            [token],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((channel, target, stored_hash, attempts, expires_at, consumed_at)) = row else {
        return Ok(CodeCheck::Dead);
    };
    if consumed_at.is_some() || expires_at < now || attempts >= MAX_ATTEMPTS {
        return Ok(CodeCheck::Dead);
    }
    if !crate::ids::constant_time_eq(stored_hash.as_bytes(), code_hash.as_bytes()) {
        connection.execute(
            "UPDATE verification_codes SET attempts = attempts + 1 WHERE token = ?1",
            [token],
        )?;
        return Ok(CodeCheck::Wrong);
    }
    if consume {
        connection.execute(
            "UPDATE verification_codes SET consumed_at = ?2 WHERE token = ?1",
            params![token, now],
        )?;
    }
    Ok(CodeCheck::Valid {
        channel: Channel::parse(&channel),
        target,
    })
}
