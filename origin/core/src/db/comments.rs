//! Comments on goods, with their images.

use rusqlite::{Connection, params};
use shared::pagination::PageRequest;

use crate::db::StorageResult;
use crate::db::uploads::{UploadRow, upload_row};

/// A comment as it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComment {
    pub goods_id: i64,
    pub target: Option<String>,
    pub goods_comment: String,
    pub service_comment: String,
    pub describe_grade: i64,
    pub seller_grade: i64,
    pub logistics_grade: i64,
    pub anonymous: bool,
    /// Upload ids, already checked to be the author's own images.
    pub images: Vec<i64>,
}

/// A comment as it is shown, with its author, goods and images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRow {
    pub id: i64,
    pub user_id: i64,
    pub nickname: String,
    pub avatar: String,
    pub goods_id: i64,
    pub goods_name: String,
    pub target: Option<String>,
    pub goods_comment: String,
    pub service_comment: String,
    pub describe_grade: i64,
    pub seller_grade: i64,
    pub logistics_grade: i64,
    pub anonymous: bool,
    pub images: Vec<UploadRow>,
    pub created_at: i64,
}

pub fn insert(
    connection: &Connection,
    user_id: i64,
    comment: &NewComment,
    now: i64,
) -> StorageResult<i64> {
    connection.execute(
        "INSERT INTO comments (user_id, goods_id, target, goods_comment, service_comment,
             describe_grade, seller_grade, logistics_grade, anonymous, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            user_id,
            comment.goods_id,
            comment.target,
            comment.goods_comment,
            comment.service_comment,
            comment.describe_grade,
            comment.seller_grade,
            comment.logistics_grade,
            comment.anonymous,
            now
        ],
    )?;
    let id = connection.last_insert_rowid();
    let mut statement = connection.prepare_cached(
        "INSERT INTO comment_images (comment_id, position, upload_id) VALUES (?1, ?2, ?3)",
    )?;
    for (position, upload_id) in comment.images.iter().enumerate() {
        statement.execute(params![id, position as i64, upload_id])?;
    }
    Ok(id)
}

/// Whose comments a page lists.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    User(i64),
    Goods(i64),
}

/// One page, newest first.
pub fn page(
    connection: &Connection,
    scope: Scope,
    request: PageRequest,
) -> StorageResult<(Vec<CommentRow>, u64)> {
    let (filter, key) = match scope {
        Scope::User(id) => ("c.user_id = ?1", id),
        Scope::Goods(id) => ("c.goods_id = ?1", id),
    };
    let total: u64 = connection.query_row(
        &format!("SELECT count(*) FROM comments c WHERE {filter}"),
        [key],
        |row| row.get(0),
    )?;
    let mut statement = connection.prepare(&format!(
        "SELECT c.id, c.user_id, u.nickname, u.avatar, c.goods_id, g.name, c.target,
                c.goods_comment, c.service_comment, c.describe_grade, c.seller_grade,
                c.logistics_grade, c.anonymous, c.created_at
         FROM comments c JOIN users u ON u.id = c.user_id JOIN goods g ON g.id = c.goods_id
         WHERE {filter} ORDER BY c.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = statement.query_map(params![key, request.limit, request.offset()], |row| {
        Ok(CommentRow {
            id: row.get(0)?,
            user_id: row.get(1)?,
            nickname: row.get(2)?,
            avatar: row.get(3)?,
            goods_id: row.get(4)?,
            goods_name: row.get(5)?,
            target: row.get(6)?,
            goods_comment: row.get(7)?,
            service_comment: row.get(8)?,
            describe_grade: row.get(9)?,
            seller_grade: row.get(10)?,
            logistics_grade: row.get(11)?,
            anonymous: row.get(12)?,
            images: Vec::new(),
            created_at: row.get(13)?,
        })
    })?;
    let mut rows: Vec<CommentRow> = rows.collect::<Result<_, _>>()?;
    let mut images = connection.prepare_cached(
        "SELECT u.id, u.name, u.sha256, b.ext FROM comment_images ci
         JOIN uploads u ON u.id = ci.upload_id JOIN blobs b ON b.sha256 = u.sha256
         WHERE ci.comment_id = ?1 ORDER BY ci.position",
    )?;
    for row in &mut rows {
        row.images = images
            .query_map([row.id], upload_row)?
            .collect::<Result<_, _>>()?;
    }
    Ok((rows, total))
}
