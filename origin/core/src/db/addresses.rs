//! Shipping addresses.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::db::StorageResult;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressRow {
    pub id: i64,
    pub contact_name: String,
    pub contact_phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub address: String,
    pub zip: String,
    pub is_default: bool,
    pub created_at: i64,
}

/// The fields a client sets (all of them on create; a change replaces the ones it carries).
#[derive(Debug, Clone, Default)]
pub struct AddressFields {
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub zip: Option<String>,
}

const COLUMNS: &str = "id, contact_name, contact_phone, province, city, district, address, zip, is_default, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<AddressRow> {
    Ok(AddressRow {
        id: row.get(0)?,
        contact_name: row.get(1)?,
        contact_phone: row.get(2)?,
        province: row.get(3)?,
        city: row.get(4)?,
        district: row.get(5)?,
        address: row.get(6)?,
        zip: row.get(7)?,
        is_default: row.get(8)?,
        created_at: row.get(9)?,
    })
}

/// The user's addresses, the default first, then newest first.
pub fn list(
    connection: &Connection,
    user_id: i64,
    only_default: bool,
) -> StorageResult<Vec<AddressRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM addresses WHERE user_id = ?1 AND (?2 = 0 OR is_default = 1)
         ORDER BY is_default DESC, id DESC"
    );
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(params![user_id, only_default], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One of the user's addresses; another user's id is `None`, like a missing one.
pub fn get(connection: &Connection, user_id: i64, id: i64) -> StorageResult<Option<AddressRow>> {
    let sql = format!("SELECT {COLUMNS} FROM addresses WHERE id = ?1 AND user_id = ?2");
    Ok(connection
        .prepare_cached(&sql)?
        .query_row(params![id, user_id], from_row)
        .optional()?)
}

pub fn count(connection: &Connection, user_id: i64) -> StorageResult<i64> {
    Ok(connection
        .prepare_cached("SELECT count(*) FROM addresses WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?)
}

pub fn insert(
    connection: &Connection,
    user_id: i64,
    fields: &AddressFields,
    now: i64,
) -> StorageResult<i64> {
    connection
        .prepare_cached(
            "INSERT INTO addresses (user_id, contact_name, contact_phone, province, city, district, address, zip,
                                    created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, ''), ?9)",
        )?
        .execute(params![
            user_id,
            fields.contact_name,
            fields.contact_phone,
            fields.province,
            fields.city,
            fields.district,
            fields.address,
            fields.zip,
            now
        ],
    )?;
    Ok(connection.last_insert_rowid())
}

pub fn update(
    connection: &Connection,
    user_id: i64,
    id: i64,
    fields: &AddressFields,
) -> StorageResult<()> {
    connection.execute(
        "UPDATE addresses SET contact_name = coalesce(?3, contact_name), contact_phone = coalesce(?4, contact_phone),
             province = coalesce(?5, province), city = coalesce(?6, city), district = coalesce(?7, district),
             address = coalesce(?8, address), zip = coalesce(?9, zip)
         WHERE id = ?1 AND user_id = ?2",
        params![
            id,
            user_id,
            fields.contact_name,
            fields.contact_phone,
            fields.province,
            fields.city,
            fields.district,
            fields.address,
            fields.zip
        ],
    )?;
    Ok(())
}

/// Makes `id` the user's one default address.
pub fn make_default(connection: &Connection, user_id: i64, id: i64) -> StorageResult<()> {
    connection.execute(
        "UPDATE addresses SET is_default = 0 WHERE user_id = ?1 AND is_default = 1 AND id <> ?2",
        params![user_id, id],
    )?;
    connection.execute(
        "UPDATE addresses SET is_default = 1 WHERE user_id = ?1 AND id = ?2",
        params![user_id, id],
    )?;
    Ok(())
}

pub fn delete(connection: &Connection, user_id: i64, id: i64) -> StorageResult<()> {
    connection.execute(
        "DELETE FROM addresses WHERE id = ?1 AND user_id = ?2",
        params![id, user_id],
    )?;
    Ok(())
}

/// The newest address of the user, if any.
pub fn newest(connection: &Connection, user_id: i64) -> StorageResult<Option<i64>> {
    Ok(connection
        .query_row(
            "SELECT id FROM addresses WHERE user_id = ?1 ORDER BY id DESC LIMIT 1",
            [user_id],
            |r| r.get(0),
        )
        .optional()?)
}
