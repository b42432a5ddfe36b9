//! The audit log: who did what to whom, when, from where.

use rusqlite::{Connection, OptionalExtension, ToSql, params, params_from_iter};
use serde_json::Value;
use shared::pagination::PageRequest;

use crate::db::StorageResult;

/// Who acted: an admin user (by id and account), or the operator's command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
    pub ip: String,
    /// The one-time key of the form that asked for the action (the console's `_once`): an
    /// action is done at most once per key (`submitted`).
    pub submission: Option<String>,
}

impl Actor {
    pub fn cli() -> Actor {
        Actor {
            user_id: None,
            name: "cli".to_owned(),
            ip: "local".to_owned(),
            submission: None,
        }
    }

    /// The same actor, acting on the form whose one-time key is `key`.
    pub fn submitting(mut self, key: String) -> Actor {
        self.submission = Some(key);
        self
    }
}

/// Whether an action was already done for this form's one-time key.
pub fn submitted(connection: &Connection, key: &str) -> StorageResult<bool> {
    Ok(connection
        .prepare_cached("SELECT 1 FROM audit_log WHERE submission = ?1")?
        .query_row([key], |_| Ok(()))
        .optional()?
        .is_some())
}

/// When `action` was done to `target_user` since `since`, oldest first.
pub fn times_on_user(
    connection: &Connection,
    action: &str,
    target_user: i64,
    since: i64,
) -> StorageResult<Vec<i64>> {
    let mut statement = connection.prepare_cached(
        "SELECT created_at FROM audit_log
         WHERE target_user = ?1 AND action = ?2 AND created_at > ?3 ORDER BY id",
    )?;
    let times = statement
        .query_map(rusqlite::params![target_user, action, since], |row| {
            row.get(0)
        })?
        .collect::<Result<_, _>>()?;
    Ok(times)
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
        "INSERT INTO audit_log (actor_id, actor, action, target_user, detail, ip, created_at,
                                submission)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            actor.user_id,
            actor.name,
            action,
            target_user,
            detail.to_string(),
            actor.ip,
            now,
            actor.submission
        ],
    )?;
    Ok(())
}

/// Which entries a page of the log holds; every field left `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The actor's name (`cli`, an account, a phone, an e-mail) or, when it is a number, the
    /// actor's user id.
    pub actor: Option<String>,
    /// The action, exactly (`user.points`).
    pub action: Option<String>,
    pub target_user: Option<i64>,
    /// Entries written at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Entries written before this time (Unix seconds).
    pub before: Option<i64>,
}

const COLUMNS: &str = "id, actor_id, actor, action, target_user, detail, ip, created_at";

fn entry(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
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
}

/// One page of the entries `filter` selects, newest first, and how many it selects in all.
/// Only the conditions a filter sets are written into the query, so SQLite can use an index
/// for each of them (a `?1 IS NULL OR …` condition would keep it from any).
pub fn page(
    connection: &Connection,
    filter: &Filter,
    request: PageRequest,
) -> StorageResult<(Vec<AuditRow>, u64)> {
    let mut conditions: Vec<&str> = Vec::new();
    let mut values: Vec<Box<dyn ToSql>> = Vec::new();
    if let Some(actor) = &filter.actor {
        match actor.parse::<i64>() {
            Ok(id) => {
                conditions.push("(actor = ? OR actor_id = ?)");
                values.push(Box::new(actor.clone()));
                values.push(Box::new(id));
            }
            Err(_) => {
                conditions.push("actor = ?");
                values.push(Box::new(actor.clone()));
            }
        }
    }
    if let Some(action) = &filter.action {
        conditions.push("action = ?");
        values.push(Box::new(action.clone()));
    }
    if let Some(user) = filter.target_user {
        conditions.push("target_user = ?");
        values.push(Box::new(user));
    }
    if let Some(since) = filter.since {
        conditions.push("created_at >= ?");
        values.push(Box::new(since));
    }
    if let Some(before) = filter.before {
        conditions.push("created_at < ?");
        values.push(Box::new(before));
    }
    let selection = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let total: u64 = connection
        .prepare_cached(&format!("SELECT count(*) FROM audit_log {selection}"))?
        .query_row(params_from_iter(values.iter()), |row| row.get(0))?;
    values.push(Box::new(request.limit));
    values.push(Box::new(request.offset()));
    let mut statement = connection.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM audit_log {selection} ORDER BY id DESC LIMIT ? OFFSET ?"
    ))?;
    let rows = statement.query_map(params_from_iter(values.iter()), entry)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// One entry.
pub fn by_id(connection: &Connection, id: i64) -> StorageResult<Option<AuditRow>> {
    Ok(connection
        .prepare_cached(&format!("SELECT {COLUMNS} FROM audit_log WHERE id = ?1"))?
        .query_row([id], entry)
        .optional()?)
}
