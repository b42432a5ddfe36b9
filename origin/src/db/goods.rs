//! Goods: what comments (and orders) are about. Created by the back office.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::AppResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoodsRow {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
}

pub fn insert(connection: &Connection, name: &str, price_cents: i64, now: i64) -> AppResult<i64> {
    connection.execute(
        "INSERT INTO goods (name, price_cents, created_at) VALUES (?1, ?2, ?3)",
        params![name, price_cents, now],
    )?;
    Ok(connection.last_insert_rowid())
}

pub fn find(connection: &Connection, id: i64) -> AppResult<Option<GoodsRow>> {
    Ok(connection
        .query_row(
            "SELECT id, name, price_cents FROM goods WHERE id = ?1",
            [id],
            |row| {
                Ok(GoodsRow {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    price_cents: row.get(2)?,
                })
            },
        )
        .optional()?)
}
