//! The durable queue of instructions for the edge.

use rusqlite::{Connection, params};
use shared::invalidate::{self, Instruction};

use crate::db::StorageResult;

/// Queues instructions; call inside the transaction of the write they describe. Returns the
/// entry's id (none when there is nothing to queue).
pub fn enqueue(
    connection: &Connection,
    instructions: &[Instruction],
    now: i64,
) -> StorageResult<Option<i64>> {
    if instructions.is_empty() {
        return Ok(None);
    }
    connection.execute(
        "INSERT INTO edge_outbox (instructions, created_at, next_attempt_at) VALUES (?1, ?2, ?2)",
        params![invalidate::encode(instructions), now],
    )?;
    Ok(Some(connection.last_insert_rowid()))
}

/// How many of the entries `first..=last` no delivery attempt has reached yet.
pub fn unattempted(connection: &Connection, first: i64, last: i64) -> StorageResult<u64> {
    Ok(connection.query_row(
        "SELECT count(*) FROM edge_outbox WHERE id BETWEEN ?1 AND ?2 AND attempts = 0",
        params![first, last],
        |row| row.get(0),
    )?)
}

#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub instructions: String,
    pub attempts: i64,
}

/// Undelivered entries whose next attempt is due, oldest first.
pub fn due(connection: &Connection, now: i64, limit: u32) -> StorageResult<Vec<Pending>> {
    let mut statement = connection.prepare(
        "SELECT id, instructions, attempts FROM edge_outbox
         WHERE delivered_at IS NULL AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = statement.query_map(params![now, limit], pending_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Undelivered entries after `after`, due or backing off, oldest first (the last attempt
/// before the server exits tries each once, whatever its back-off).
pub fn undelivered_after(
    connection: &Connection,
    after: i64,
    limit: u32,
) -> StorageResult<Vec<Pending>> {
    let mut statement = connection.prepare(
        "SELECT id, instructions, attempts FROM edge_outbox
         WHERE delivered_at IS NULL AND id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = statement.query_map(params![after, limit], pending_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many entries wait for delivery.
pub fn undelivered(connection: &Connection) -> StorageResult<u64> {
    Ok(connection.query_row(
        "SELECT count(*) FROM edge_outbox WHERE delivered_at IS NULL",
        [],
        |row| row.get(0),
    )?)
}

fn pending_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Pending> {
    Ok(Pending {
        id: row.get(0)?,
        instructions: row.get(1)?,
        attempts: row.get(2)?,
    })
}

pub fn mark_delivered(connection: &Connection, id: i64, now: i64) -> StorageResult<()> {
    connection.execute(
        "UPDATE edge_outbox SET delivered_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub fn mark_failed(
    connection: &Connection,
    id: i64,
    next_attempt_at: i64,
    error: &str,
) -> StorageResult<()> {
    connection.execute(
        "UPDATE edge_outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3 WHERE id = ?1",
        params![id, next_attempt_at, error],
    )?;
    Ok(())
}

/// Deletes entries the edge accepted before `before`; how many. Nothing reads them once
/// delivered, and every sign-out, password reset and reused refresh token adds one.
pub fn prune_delivered(connection: &Connection, before: i64) -> StorageResult<usize> {
    Ok(connection.execute(
        "DELETE FROM edge_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?1",
        [before],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::migrate;
    use shared::invalidate::Instruction;

    #[test]
    fn delivered_entries_are_pruned_and_waiting_ones_kept() {
        let mut connection = Connection::open_in_memory().unwrap();
        migrate::apply(&mut connection).unwrap();
        let bump = [Instruction::Bump { user: 1 }];
        let old = enqueue(&connection, &bump, 0).unwrap().unwrap();
        let recent = enqueue(&connection, &bump, 0).unwrap().unwrap();
        let waiting = enqueue(&connection, &bump, 0).unwrap().unwrap();
        mark_delivered(&connection, old, 100).unwrap();
        mark_delivered(&connection, recent, 200).unwrap();
        assert_eq!(prune_delivered(&connection, 150).unwrap(), 1);
        let left: Vec<i64> = connection
            .prepare("SELECT id FROM edge_outbox ORDER BY id")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(left, [recent, waiting]);
    }
}
