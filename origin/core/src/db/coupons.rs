//! Coupons a user holds. Their status is derived, never stored: used if `used_at` is set,
//! expired if `finished_at` has passed, usable otherwise.

use rusqlite::{Connection, params};
use shared::pagination::PageRequest;

use crate::db::StorageResult;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponStatus {
    Usable,
    Used,
    Expired,
}

impl CouponStatus {
    pub fn label(self) -> &'static str {
        match self {
            CouponStatus::Usable => "可使用",
            CouponStatus::Used => "已使用",
            CouponStatus::Expired => "已过期",
        }
    }

    /// The print document's `type` filter value: 1 usable, 2 used, 3 expired.
    pub fn code(self) -> i64 {
        match self {
            CouponStatus::Usable => 1,
            CouponStatus::Used => 2,
            CouponStatus::Expired => 3,
        }
    }

    /// The inverse of [`CouponStatus::code`] (values are validated by the caller).
    pub fn from_code(code: i64) -> CouponStatus {
        match code {
            2 => CouponStatus::Used,
            3 => CouponStatus::Expired,
            _ => CouponStatus::Usable,
        }
    }
}

/// The status as SQL, with `?2` = now.
const STATUS: &str =
    "CASE WHEN used_at IS NOT NULL THEN 2 WHEN finished_at <= ?2 THEN 3 ELSE 1 END";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponRow {
    pub id: i64,
    pub coupon_no: String,
    pub name: String,
    pub kind: String,
    pub quota_cents: i64,
    pub satisfy_cents: Option<i64>,
    pub status: CouponStatus,
    pub finished_at: i64,
    pub created_at: i64,
}

pub struct NewCoupon<'a> {
    pub coupon_no: &'a str,
    pub name: &'a str,
    pub kind: &'a str,
    pub quota_cents: i64,
    pub satisfy_cents: Option<i64>,
    pub finished_at: i64,
}

pub fn insert(
    connection: &Connection,
    user_id: i64,
    coupon: &NewCoupon<'_>,
    now: i64,
) -> StorageResult<i64> {
    connection.execute(
        "INSERT INTO coupons (user_id, coupon_no, name, type, quota_cents, satisfy_cents, finished_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            user_id,
            coupon.coupon_no,
            coupon.name,
            coupon.kind,
            coupon.quota_cents,
            coupon.satisfy_cents,
            coupon.finished_at,
            now
        ],
    )?;
    Ok(connection.last_insert_rowid())
}

/// One page, newest first, optionally of one status, as of `now`.
pub fn page(
    connection: &Connection,
    user_id: i64,
    status: Option<CouponStatus>,
    now: i64,
    request: PageRequest,
) -> StorageResult<(Vec<CouponRow>, u64)> {
    let status_code = status.map(CouponStatus::code);
    let total: u64 = connection.query_row(
        &format!(
            "SELECT count(*) FROM coupons WHERE user_id = ?1 AND (?3 IS NULL OR {STATUS} = ?3)"
        ),
        params![user_id, now, status_code],
        |row| row.get(0),
    )?;
    let mut statement = connection.prepare(&format!(
        "SELECT id, coupon_no, name, type, quota_cents, satisfy_cents, {STATUS}, finished_at, created_at
         FROM coupons WHERE user_id = ?1 AND (?3 IS NULL OR {STATUS} = ?3)
         ORDER BY id DESC LIMIT ?4 OFFSET ?5"
    ))?;
    let rows = statement.query_map(
        params![user_id, now, status_code, request.limit, request.offset()],
        |row| {
            Ok(CouponRow {
                id: row.get(0)?,
                coupon_no: row.get(1)?,
                name: row.get(2)?,
                kind: row.get(3)?,
                quota_cents: row.get(4)?,
                satisfy_cents: row.get(5)?,
                status: CouponStatus::from_code(row.get(6)?),
                finished_at: row.get(7)?,
                created_at: row.get(8)?,
            })
        },
    )?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}
