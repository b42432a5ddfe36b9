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

/// Goods as the back office lists them, retired ones included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGoods {
    pub id: i64,
    pub name: String,
    pub price_cents: i64,
    pub retired: bool,
    pub created_at: i64,
}

fn admin_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<AdminGoods> {
    Ok(AdminGoods {
        id: row.get(0)?,
        name: row.get(1)?,
        price_cents: row.get(2)?,
        retired: row.get(3)?,
        created_at: row.get(4)?,
    })
}

const ADMIN_COLUMNS: &str = "id, name, price_cents, retired, created_at";

/// One page of every goods, newest first.
pub fn admin_page(
    connection: &Connection,
    request: shared::pagination::PageRequest,
) -> StorageResult<(Vec<AdminGoods>, u64)> {
    let total: u64 = connection.query_row("SELECT count(*) FROM goods", [], |row| row.get(0))?;
    let mut statement = connection.prepare(&format!(
        "SELECT {ADMIN_COLUMNS} FROM goods ORDER BY id DESC LIMIT ?1 OFFSET ?2"
    ))?;
    let rows = statement.query_map(params![request.limit, request.offset()], admin_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn admin_find(connection: &Connection, id: i64) -> StorageResult<Option<AdminGoods>> {
    use rusqlite::OptionalExtension;
    Ok(connection
        .query_row(
            &format!("SELECT {ADMIN_COLUMNS} FROM goods WHERE id = ?1"),
            [id],
            admin_row,
        )
        .optional()?)
}

/// Replaces a goods' name, price and retired flag; `false` if there is no such goods.
pub fn update(
    connection: &Connection,
    id: i64,
    name: &str,
    price_cents: i64,
    retired: bool,
) -> StorageResult<bool> {
    let changed = connection.execute(
        "UPDATE goods SET name = ?2, price_cents = ?3, retired = ?4 WHERE id = ?1",
        params![id, name, price_cents, retired],
    )?;
    Ok(changed == 1)
}
