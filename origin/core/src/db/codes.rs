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

impl Sent {
    fn of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Sent> {
        Ok(Sent {
            count: row.get(0)?,
            oldest: row.get(1)?,
        })
    }
}

/// Codes sent to `target` since `since`, leaving out those sent before the second in which the
/// back office last lifted its limits ([`lift_target_limits`]; one sent in that very second
/// still counts, so a code sent right after a lift is never missed).
pub fn sent_to_target(
    connection: &Connection,
    channel: Channel,
    target: &str,
    since: i64,
) -> StorageResult<Sent> {
    Ok(connection
        .prepare_cached(
            "SELECT count(*), min(created_at) FROM verification_codes
             WHERE channel = ?1 AND target = ?2 AND created_at > ?3 AND created_at >= coalesce(
                 (SELECT lifted_at FROM code_cap_lifts WHERE channel = ?1 AND target = ?2), 0)",
        )?
        .query_row(params![channel.as_str(), target, since], Sent::of)?)
}

/// From `now` on, the codes sent to `target` so far no longer count against its limits (the
/// back office unlocking a member whose codes a stranger used up). Lifts older than a day
/// limit nothing any more and are forgotten here.
pub fn lift_target_limits(
    connection: &Connection,
    channel: Channel,
    target: &str,
    now: i64,
) -> StorageResult<()> {
    connection
        .prepare_cached("DELETE FROM code_cap_lifts WHERE lifted_at < ?1")?
        .execute([now - 86_400])?;
    connection
        .prepare_cached(
            "INSERT INTO code_cap_lifts (channel, target, lifted_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel, target) DO UPDATE SET lifted_at = excluded.lifted_at",
        )?
        .execute(params![channel.as_str(), target, now])?;
    Ok(())
}

pub fn sent_from_ip(
    connection: &Connection,
    channel: Channel,
    ip: &str,
    since: i64,
) -> StorageResult<Sent> {
    Ok(connection
        .prepare_cached(
            "SELECT count(*), min(created_at) FROM verification_codes
             WHERE channel = ?1 AND client_ip = ?2 AND created_at > ?3",
        )?
        .query_row(params![channel.as_str(), ip, since], Sent::of)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sent_at(connection: &Connection, token: &str, target: &str, now: i64) {
        insert(
            connection,
            &NewCode {
                token,
                channel: Channel::Sms,
                target,
                code_hash: "h",
                client_ip: "192.0.2.1",
                now,
                expires_at: now + 300,
            },
        )
        .unwrap();
    }

    #[test]
    fn a_lift_forgets_the_targets_earlier_codes_but_not_its_later_ones_or_the_networks() {
        let mut connection = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut connection).unwrap();
        let (owner, other) = ("13800000001", "13800000002");
        sent_at(&connection, "a", owner, 1_000);
        sent_at(&connection, "b", owner, 1_010);
        sent_at(&connection, "c", other, 1_010);
        let count = |target: &str| {
            sent_to_target(&connection, Channel::Sms, target, 0)
                .unwrap()
                .count
        };
        assert_eq!((count(owner), count(other)), (2, 1));
        lift_target_limits(&connection, Channel::Sms, owner, 1_010).unwrap();
        // A code of the lift's own second still counts (it may have come right after it).
        assert_eq!((count(owner), count(other)), (1, 1));
        sent_at(&connection, "d", owner, 1_020);
        assert_eq!(count(owner), 2);
        let network = sent_from_ip(&connection, Channel::Sms, "192.0.2.1", 0).unwrap();
        assert_eq!(network.count, 4);
        // A later lift moves the line; lifts a day old are forgotten by the next one.
        lift_target_limits(&connection, Channel::Sms, owner, 1_030).unwrap();
        assert_eq!(count(owner), 0);
        lift_target_limits(&connection, Channel::Sms, other, 1_030 + 86_401).unwrap();
        let lifts: i64 = connection
            .query_row("SELECT count(*) FROM code_cap_lifts", [], |row| row.get(0))
            .unwrap();
        assert_eq!(lifts, 1);
    }
}
