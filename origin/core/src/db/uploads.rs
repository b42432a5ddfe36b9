//! Stored blobs and the uploads that own them.

use rusqlite::{Connection, OptionalExtension, Row, params};
use shared::pagination::PageRequest;

use crate::db::StorageResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    File,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::File => "file",
        }
    }
}

/// A stored blob, as `GET /storage/{key}` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub sha256: String,
    pub mime: String,
    pub ext: String,
    pub size: u64,
}

/// One upload: the id a client refers to, and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub id: i64,
    pub name: String,
    pub sha256: String,
    pub ext: String,
}

/// Maps `id, name, sha256, ext` columns.
pub fn upload_row(row: &Row<'_>) -> rusqlite::Result<UploadRow> {
    Ok(UploadRow {
        id: row.get(0)?,
        name: row.get(1)?,
        sha256: row.get(2)?,
        ext: row.get(3)?,
    })
}

/// Records an upload of `blob` by `user_id` (the blob row is shared by every upload of the same
/// bytes).
pub fn insert(
    connection: &Connection,
    user_id: i64,
    kind: Kind,
    name: &str,
    blob: &Blob,
    now: i64,
) -> StorageResult<i64> {
    connection.execute(
        "INSERT INTO blobs (sha256, mime, ext, size, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (sha256) DO NOTHING",
        params![blob.sha256, blob.mime, blob.ext, blob.size as i64, now],
    )?;
    connection.execute(
        "INSERT INTO uploads (user_id, kind, sha256, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user_id, kind.as_str(), blob.sha256, name, now],
    )?;
    Ok(connection.last_insert_rowid())
}

/// Bytes of the distinct blobs the user's uploads reference: what the quota counts. The same
/// bytes uploaded again by the same user add nothing. Kept by triggers (migration 0007).
pub fn stored_bytes(connection: &Connection, user_id: i64) -> StorageResult<u64> {
    let bytes: Option<i64> = connection
        .prepare_cached("SELECT stored_bytes FROM upload_usage WHERE user_id = ?1")?
        .query_row([user_id], |row| row.get(0))
        .optional()?;
    Ok(bytes.unwrap_or(0) as u64)
}

/// Does one of the user's uploads reference the blob already?
pub fn references(connection: &Connection, user_id: i64, sha256: &str) -> StorageResult<bool> {
    Ok(connection
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM uploads WHERE user_id = ?1 AND sha256 = ?2)")?
        .query_row(params![user_id, sha256], |row| row.get(0))?)
}

/// The times of the user's uploads made at or after `since`, oldest first.
pub fn times_since(connection: &Connection, user_id: i64, since: i64) -> StorageResult<Vec<i64>> {
    let mut statement = connection.prepare_cached(
        "SELECT created_at FROM uploads WHERE user_id = ?1 AND created_at >= ?2
         ORDER BY created_at",
    )?;
    let times = statement
        .query_map(params![user_id, since], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(times)
}

pub fn blob(connection: &Connection, sha256: &str) -> StorageResult<Option<Blob>> {
    Ok(connection
        .query_row(
            "SELECT sha256, mime, ext, size FROM blobs WHERE sha256 = ?1",
            [sha256],
            |row| {
                Ok(Blob {
                    sha256: row.get(0)?,
                    mime: row.get(1)?,
                    ext: row.get(2)?,
                    size: row.get::<_, i64>(3)? as u64,
                })
            },
        )
        .optional()?)
}

/// The user's own uploads of `kind` among `ids`, in the order asked for (missing ones left out).
pub fn owned(
    connection: &Connection,
    user_id: i64,
    kind: Kind,
    ids: &[i64],
) -> StorageResult<Vec<UploadRow>> {
    let mut statement = connection.prepare_cached(
        "SELECT u.id, u.name, u.sha256, b.ext FROM uploads u JOIN blobs b USING (sha256)
         WHERE u.id = ?1 AND u.user_id = ?2 AND u.kind = ?3",
    )?;
    let mut rows = Vec::with_capacity(ids.len());
    for id in ids {
        let row = statement
            .query_row(params![id, user_id, kind.as_str()], upload_row)
            .optional()?;
        rows.extend(row);
    }
    Ok(rows)
}

/// One of a user's uploads as the back office lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserUploadRow {
    pub id: i64,
    /// `image` or `file`.
    pub kind: String,
    pub name: String,
    pub sha256: String,
    pub ext: String,
    pub mime: String,
    pub size: u64,
    pub created_at: i64,
}

/// One page of a user's uploads, newest first, and their total count.
pub fn page_of_user(
    connection: &Connection,
    user_id: i64,
    request: PageRequest,
) -> StorageResult<(Vec<UserUploadRow>, u64)> {
    let total: u64 = connection
        .prepare_cached("SELECT count(*) FROM uploads WHERE user_id = ?1")?
        .query_row([user_id], |row| row.get(0))?;
    let mut statement = connection.prepare_cached(
        "SELECT u.id, u.kind, u.name, u.sha256, b.ext, b.mime, b.size, u.created_at
         FROM uploads u JOIN blobs b USING (sha256)
         WHERE u.user_id = ?1 ORDER BY u.id DESC LIMIT ?2 OFFSET ?3",
    )?;
    let rows = statement.query_map(params![user_id, request.limit, request.offset()], |row| {
        Ok(UserUploadRow {
            id: row.get(0)?,
            kind: row.get(1)?,
            name: row.get(2)?,
            sha256: row.get(3)?,
            ext: row.get(4)?,
            mime: row.get(5)?,
            size: row.get::<_, i64>(6)? as u64,
            created_at: row.get(7)?,
        })
    })?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}
