//! Sessions and their token generations (SPEC §6 rotation).

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::StorageResult;
use crate::ids;

/// One generation of a session: the ids and lifetimes of an access/refresh token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    pub sid: String,
    pub user_id: i64,
    pub admin: bool,
    pub generation: i64,
    pub access_jti: String,
    pub refresh_jti: String,
    pub issued_at: i64,
    pub access_expires_at: i64,
    pub refresh_expires_at: i64,
}

#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub access_secs: i64,
    pub refresh_secs: i64,
}

const GENERATION_COLUMNS: &str = "t.session_id, s.user_id, s.admin, t.generation, t.access_jti, \
     t.refresh_jti, t.issued_at, t.access_expires_at, t.refresh_expires_at";

fn generation_from_row(row: &Row<'_>) -> rusqlite::Result<Generation> {
    Ok(Generation {
        sid: row.get(0)?,
        user_id: row.get(1)?,
        admin: row.get(2)?,
        generation: row.get(3)?,
        access_jti: row.get(4)?,
        refresh_jti: row.get(5)?,
        issued_at: row.get(6)?,
        access_expires_at: row.get(7)?,
        refresh_expires_at: row.get(8)?,
    })
}

fn insert_generation(
    connection: &Connection,
    sid: &str,
    user_id: i64,
    admin: bool,
    generation: i64,
    now: i64,
    lifetimes: Lifetimes,
) -> StorageResult<Generation> {
    let next = Generation {
        sid: sid.to_owned(),
        user_id,
        admin,
        generation,
        access_jti: ids::random_hex(16),
        refresh_jti: ids::random_hex(16),
        issued_at: now,
        access_expires_at: now + lifetimes.access_secs,
        refresh_expires_at: now + lifetimes.refresh_secs,
    };
    connection
        .prepare_cached(
            "INSERT INTO session_tokens (session_id, generation, access_jti, refresh_jti, issued_at,
                                         access_expires_at, refresh_expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            next.sid,
            next.generation,
            next.access_jti,
            next.refresh_jti,
            next.issued_at,
            next.access_expires_at,
            next.refresh_expires_at
        ],
    )?;
    Ok(next)
}

/// Starts a session (one sign-in) and its first generation.
pub fn create(
    connection: &Connection,
    user_id: i64,
    admin: bool,
    now: i64,
    lifetimes: Lifetimes,
) -> StorageResult<Generation> {
    let sid = ids::random_hex(16);
    connection
        .prepare_cached(
            "INSERT INTO sessions (id, user_id, admin, created_at) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![sid, user_id, admin, now])?;
    insert_generation(connection, &sid, user_id, admin, 1, now, lifetimes)
}

/// Which token of a generation is presented to refresh: the store dialect presents its access
/// token, the print dialect its refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Access,
    Refresh,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The presented generation was current: it is spent now, and `next` replaces it.
    Rotated { spent: Generation, next: Generation },
    /// The presented generation was spent within the grace period: its successor again.
    Replayed { next: Generation },
    /// The presented generation was spent longer ago: the whole session is revoked now.
    Reused { user_id: i64, sid: String },
    /// Unknown token, revoked session, disabled user, or a refresh token past its life.
    Invalid,
}

/// Applies SPEC §6 rotation to the presented token.
pub fn rotate(
    connection: &Connection,
    credential: Credential,
    jti: &str,
    now: i64,
    grace_secs: i64,
    lifetimes: Lifetimes,
) -> StorageResult<Rotation> {
    let column = match credential {
        Credential::Access => "t.access_jti",
        Credential::Refresh => "t.refresh_jti",
    };
    let sql = format!(
        "SELECT {GENERATION_COLUMNS}, t.spent_at, s.revoked_at, u.disabled
         FROM session_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
         WHERE {column} = ?1"
    );
    let found = connection
        .query_row(&sql, [jti], |row| {
            Ok((
                generation_from_row(row)?,
                row.get::<_, Option<i64>>(9)?,
                row.get::<_, Option<i64>>(10)?,
                row.get::<_, bool>(11)?,
            ))
        })
        .optional()?;
    let Some((presented, spent_at, revoked_at, disabled)) = found else {
        return Ok(Rotation::Invalid);
    };
    if revoked_at.is_some() || disabled || presented.refresh_expires_at < now {
        return Ok(Rotation::Invalid);
    }
    match spent_at {
        None => {
            connection.execute(
                "UPDATE session_tokens SET spent_at = ?3 WHERE session_id = ?1 AND generation = ?2",
                params![presented.sid, presented.generation, now],
            )?;
            let next = insert_generation(
                connection,
                &presented.sid,
                presented.user_id,
                presented.admin,
                presented.generation + 1,
                now,
                lifetimes,
            )?;
            Ok(Rotation::Rotated {
                spent: presented,
                next,
            })
        }
        Some(spent_at) if now - spent_at <= grace_secs => {
            let sql = format!(
                "SELECT {GENERATION_COLUMNS} FROM session_tokens t JOIN sessions s ON s.id = t.session_id
                 WHERE t.session_id = ?1 AND t.generation = ?2"
            );
            let next = connection.query_row(
                &sql,
                params![presented.sid, presented.generation + 1],
                generation_from_row,
            )?;
            Ok(Rotation::Replayed { next })
        }
        Some(_) => {
            revoke(connection, &presented.sid, "refresh_reuse", now)?;
            Ok(Rotation::Reused {
                user_id: presented.user_id,
                sid: presented.sid,
            })
        }
    }
}

/// Who an access token belongs to, if it is still good: its session is not revoked, its
/// generation not spent, and its user not disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveAccess {
    pub user_id: i64,
    pub sid: String,
    pub admin: bool,
}

pub fn active_access(
    connection: &Connection,
    access_jti: &str,
) -> StorageResult<Option<ActiveAccess>> {
    Ok(connection
        .prepare_cached(
            "SELECT s.user_id, s.id, s.admin FROM session_tokens t
             JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
             WHERE t.access_jti = ?1 AND t.spent_at IS NULL AND s.revoked_at IS NULL AND u.disabled = 0",
        )?
        .query_row([access_jti], |row| {
            Ok(ActiveAccess { user_id: row.get(0)?, sid: row.get(1)?, admin: row.get(2)? })
        })
        .optional()?)
}

/// Revokes one session; returns whether it was active.
pub fn revoke(connection: &Connection, sid: &str, reason: &str, now: i64) -> StorageResult<bool> {
    let changed = connection.execute(
        "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE id = ?1 AND revoked_at IS NULL",
        params![sid, now, reason],
    )?;
    Ok(changed > 0)
}

/// Revokes every active session of a user; returns their ids (for the edge).
pub fn revoke_all(
    connection: &Connection,
    user_id: i64,
    reason: &str,
    now: i64,
) -> StorageResult<Vec<String>> {
    let mut statement =
        connection.prepare("SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL")?;
    let sids = statement
        .query_map([user_id], |row| row.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    connection.execute(
        "UPDATE sessions SET revoked_at = ?2, revoked_reason = ?3 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, now, reason],
    )?;
    Ok(sids)
}

/// A session as the back office lists it: when it began, whether it is an admin session, and
/// its current generation's times. Never a token or a token id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub sid: String,
    pub admin: bool,
    pub created_at: i64,
    /// When the current generation (the last refresh, or the sign-in) was issued.
    pub issued_at: i64,
    pub access_expires_at: i64,
    /// When the session ends unless it is refreshed.
    pub refresh_expires_at: i64,
}

/// A user's sessions that still let someone in: not revoked, and whose current generation's
/// refresh token has not expired; newest first, at most `limit`.
pub fn active_of_user(
    connection: &Connection,
    user_id: i64,
    now: i64,
    limit: u32,
) -> StorageResult<Vec<SessionRow>> {
    let mut statement = connection.prepare_cached(
        "SELECT s.id, s.admin, s.created_at, t.issued_at, t.access_expires_at, t.refresh_expires_at
         FROM sessions s JOIN session_tokens t ON t.session_id = s.id
         WHERE s.user_id = ?1 AND s.revoked_at IS NULL AND t.refresh_expires_at >= ?2
           AND t.generation = (SELECT max(generation) FROM session_tokens WHERE session_id = s.id)
         ORDER BY s.created_at DESC, s.rowid DESC LIMIT ?3",
    )?;
    let rows = statement.query_map(params![user_id, now, limit], |row| {
        Ok(SessionRow {
            sid: row.get(0)?,
            admin: row.get(1)?,
            created_at: row.get(2)?,
            issued_at: row.get(3)?,
            access_expires_at: row.get(4)?,
            refresh_expires_at: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes one session of `user_id`; returns whether it was theirs and not yet revoked.
pub fn revoke_of_user(
    connection: &Connection,
    user_id: i64,
    sid: &str,
    reason: &str,
    now: i64,
) -> StorageResult<bool> {
    let changed = connection.execute(
        "UPDATE sessions SET revoked_at = ?3, revoked_reason = ?4
         WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        params![sid, user_id, now, reason],
    )?;
    Ok(changed > 0)
}
