//! Goods: what comments (and orders) are about. Created by the back office.

use rusqlite::{Connection, params};

use crate::db::StorageResult;

pub fn insert(
    connection: &Connection,
    name: &str,
    price_cents: i64,
    now: i64,
) -> StorageResult<i64> {
    connection.execute(
        "INSERT INTO goods (name, price_cents, created_at) VALUES (?1, ?2, ?3)",
        params![name, price_cents, now],
    )?;
    Ok(connection.last_insert_rowid())
}

pub fn exists(connection: &Connection, id: i64) -> StorageResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM goods WHERE id = ?1)",
        [id],
        |row| row.get(0),
    )?)
}
