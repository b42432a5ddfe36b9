//! Password sign-in attempts and locks (SPEC §6), counted per key *before* the password is
//! hashed: an attempt is recorded first and stays recorded unless the password turns out right,
//! so however many sign-ins run at once, no more than the allowed number are evaluated in a
//! window. Keys name an account (`u:<id>`) or a name nobody holds (`n:<name>`), so unknown names
//! are counted and locked exactly like accounts.

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::StorageResult;

/// How many attempts a key may make in a window, and how long the lock lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub max_attempts: u32,
    pub window_secs: i64,
    pub lock_secs: i64,
}

impl Lockout {
    /// SPEC §6: 10 failed passwords within 15 minutes lock password sign-in for 15 minutes.
    pub const SPEC: Lockout = Lockout {
        max_attempts: 10,
        window_secs: 15 * 60,
        lock_secs: 15 * 60,
    };
}

/// Records one attempt for `key`, unless the key is locked: then `Err(retry_after)` and nothing
/// is recorded. The attempt that reaches the maximum locks the key at once, so attempts that
/// arrive while it is being evaluated are refused; if it turns out right, [`clear`] lifts it.
pub fn reserve(
    connection: &Connection,
    key: &str,
    now: i64,
    lockout: Lockout,
) -> StorageResult<Result<(), u64>> {
    // Old rows of every key go here too; both deletes walk an index and are cheap when empty.
    connection
        .prepare_cached("DELETE FROM sign_in_attempts WHERE at <= ?1")?
        .execute([now - lockout.window_secs])?;
    connection
        .prepare_cached("DELETE FROM sign_in_locks WHERE until <= ?1")?
        .execute([now])?;
    if let Some(until) = locked_until(connection, key, now)? {
        return Ok(Err((until - now).max(1) as u64));
    }
    let attempts = attempts(connection, key)?;
    if attempts >= lockout.max_attempts {
        lock(connection, key, now + lockout.lock_secs)?;
        return Ok(Err(lockout.lock_secs as u64));
    }
    connection
        .prepare_cached("INSERT INTO sign_in_attempts (key, at) VALUES (?1, ?2)")?
        .execute(params![key, now])?;
    if attempts + 1 >= lockout.max_attempts {
        lock(connection, key, now + lockout.lock_secs)?;
        tracing::warn!(key, "password sign-in locked after repeated attempts");
    }
    Ok(Ok(()))
}

fn lock(connection: &Connection, key: &str, until: i64) -> StorageResult<()> {
    connection
        .prepare_cached("INSERT OR REPLACE INTO sign_in_locks (key, until) VALUES (?1, ?2)")?
        .execute(params![key, until])?;
    Ok(())
}

/// Until when `key` is locked, if it is at `now`.
pub fn locked_until(connection: &Connection, key: &str, now: i64) -> StorageResult<Option<i64>> {
    Ok(connection
        .prepare_cached("SELECT until FROM sign_in_locks WHERE key = ?1 AND until > ?2")?
        .query_row(params![key, now], |row| row.get(0))
        .optional()?)
}

/// How many attempts `key` has in the window (those [`reserve`] has not pruned yet).
pub fn attempts(connection: &Connection, key: &str) -> StorageResult<u32> {
    Ok(connection
        .prepare_cached("SELECT count(*) FROM sign_in_attempts WHERE key = ?1")?
        .query_row([key], |row| row.get(0))?)
}

/// Forgets the attempts and the lock of `key` (a right password, a password reset, or the
/// back office unlocking the account).
pub fn clear(connection: &Connection, key: &str) -> StorageResult<()> {
    connection
        .prepare_cached("DELETE FROM sign_in_attempts WHERE key = ?1")?
        .execute([key])?;
    connection
        .prepare_cached("DELETE FROM sign_in_locks WHERE key = ?1")?
        .execute([key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> Connection {
        let mut connection = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut connection).unwrap();
        connection
    }

    const SMALL: Lockout = Lockout {
        max_attempts: 3,
        window_secs: 60,
        lock_secs: 100,
    };

    #[test]
    fn the_attempt_that_reaches_the_maximum_locks_and_later_ones_are_refused_uncounted() {
        let db = database();
        for at in 1_000..1_003 {
            assert!(reserve(&db, "u:1", at, SMALL).unwrap().is_ok());
        }
        assert_eq!(reserve(&db, "u:1", 1_003, SMALL).unwrap(), Err(99));
        assert!(reserve(&db, "u:2", 1_003, SMALL).unwrap().is_ok());
        let counted: i64 = db
            .query_row(
                "SELECT count(*) FROM sign_in_attempts WHERE key = 'u:1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(counted, 3);
        // The lock ends after its time; the attempts have left the window by then.
        assert!(reserve(&db, "u:1", 1_102, SMALL).unwrap().is_ok());
    }

    #[test]
    fn clearing_lifts_the_lock_and_the_count() {
        let db = database();
        for at in 0..3 {
            reserve(&db, "n:account:ghost", at, SMALL).unwrap().unwrap();
        }
        assert!(reserve(&db, "n:account:ghost", 5, SMALL).unwrap().is_err());
        clear(&db, "n:account:ghost").unwrap();
        assert!(reserve(&db, "n:account:ghost", 6, SMALL).unwrap().is_ok());
    }
}
