//! The audit log: who did what to whom, when, from where.

use rusqlite::{Connection, params};
use serde_json::Value;
use shared::pagination::PageRequest;

use crate::db::StorageResult;

/// Who acted: an admin user (by id and account), or the operator's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    pub ip: String,
}

impl Actor {
    pub fn cli() -> Actor {
        Actor {
            user_id: None,
            name: "cli".to_owned(),
            ip: "local".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub id: i64,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub target_user: Option<i64>,
    pub detail: Value,
    pub ip: String,
    pub created_at: i64,
}

/// Records an action; call inside the transaction of the write it describes.
pub fn record(
    connection: &Connection,
    actor: &Actor,
    action: &str,
    target_user: Option<i64>,
    detail: &Value,
    now: i64,
) -> StorageResult<()> {
    connection.execute(
        "INSERT INTO audit_log (actor_id, actor, action, target_user, detail, ip, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            actor.user_id,
            actor.name,
            action,
            target_user,
            detail.to_string(),
            actor.ip,
            now
        ],
    )?;
    Ok(())
}

/// One page, newest first.
pub fn page(connection: &Connection, request: PageRequest) -> StorageResult<(Vec<AuditRow>, u64)> {
    let total: u64 =
        connection.query_row("SELECT count(*) FROM audit_log", [], |row| row.get(0))?;
    let mut statement = connection.prepare(
        "SELECT id, actor_id, actor, action, target_user, detail, ip, created_at FROM audit_log
         ORDER BY id DESC LIMIT ?1 OFFSET ?2",
    )?;
    let rows = statement.query_map(params![request.limit, request.offset()], |row| {
        let detail: String = row.get(5)?;
        Ok(AuditRow {
            id: row.get(0)?,
            actor_id: row.get(1)?,
            actor: row.get(2)?,
            action: row.get(3)?,
            target_user: row.get(4)?,
            detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
            ip: row.get(6)?,
            created_at: row.get(7)?,
        })
    })?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}
