//! Gifts (bought with points) and gift orders.

use rusqlite::{Connection, OptionalExtension, Row, params};
use shared::pagination::PageRequest;

use crate::db::StorageResult;
use crate::db::addresses::AddressRow;
use crate::db::uploads::UploadRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftRow {
    pub id: i64,
    pub name: String,
    pub image: Option<UploadRow>,
    pub accumulate_points: i64,
    pub stock: i64,
}

pub fn insert(
    connection: &Connection,
    name: &str,
    image_upload_id: Option<i64>,
    accumulate_points: i64,
    stock: i64,
    now: i64,
) -> StorageResult<i64> {
    connection.execute(
        "INSERT INTO gifts (name, image_upload_id, accumulate_points, stock, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, image_upload_id, accumulate_points, stock, now],
    )?;
    Ok(connection.last_insert_rowid())
}

const GIFT_COLUMNS: &str =
    "g.id, g.name, g.accumulate_points, g.stock, u.id, u.name, u.sha256, b.ext";
const IMAGE_JOINS: &str = "LEFT JOIN uploads u ON u.id = g.image_upload_id
                           LEFT JOIN blobs b ON b.sha256 = u.sha256";

fn gift_row(row: &Row<'_>) -> rusqlite::Result<GiftRow> {
    let image_id: Option<i64> = row.get(4)?;
    Ok(GiftRow {
        id: row.get(0)?,
        name: row.get(1)?,
        accumulate_points: row.get(2)?,
        stock: row.get(3)?,
        image: match image_id {
            Some(id) => Some(UploadRow {
                id,
                name: row.get(5)?,
                sha256: row.get(6)?,
                ext: row.get(7)?,
            }),
            None => None,
        },
    })
}

/// Whether the upload `image` may become a gift's picture when the admin `chooser` (`None`:
/// the operator's command line) names it: an image they uploaded themselves, or one a gift
/// already shows. Another user's upload would be published at `/api/gifts` and its address
/// shown to an admin who may not read that user's uploads.
pub fn may_picture(
    connection: &Connection,
    image: i64,
    chooser: Option<i64>,
) -> StorageResult<bool> {
    Ok(connection.query_row(
        "SELECT EXISTS (
             SELECT 1 FROM uploads
             WHERE id = ?1 AND kind = ?3
               AND (?2 IS NULL OR user_id = ?2
                    OR EXISTS (SELECT 1 FROM gifts WHERE image_upload_id = ?1)))",
        params![image, chooser, crate::db::uploads::Kind::Image.as_str()],
        |row| row.get(0),
    )?)
}

/// A gift on offer (not retired).
pub fn find(connection: &Connection, id: i64) -> StorageResult<Option<GiftRow>> {
    Ok(connection
        .query_row(
            &format!(
                "SELECT {GIFT_COLUMNS} FROM gifts g {IMAGE_JOINS} WHERE g.id = ?1 AND g.retired = 0"
            ),
            [id],
            gift_row,
        )
        .optional()?)
}

/// One page of the gifts on offer (not retired), newest first.
pub fn page(connection: &Connection, request: PageRequest) -> StorageResult<(Vec<GiftRow>, u64)> {
    let total: u64 =
        connection.query_row("SELECT count(*) FROM gifts WHERE retired = 0", [], |row| {
            row.get(0)
        })?;
    let mut statement = connection.prepare(&format!(
        "SELECT {GIFT_COLUMNS} FROM gifts g {IMAGE_JOINS} WHERE g.retired = 0
         ORDER BY g.id DESC LIMIT ?1 OFFSET ?2"
    ))?;
    let rows = statement.query_map(params![request.limit, request.offset()], gift_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// A gift as the back office lists it, retired or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGift {
    pub gift: GiftRow,
    pub retired: bool,
    pub created_at: i64,
}

fn admin_gift_row(row: &Row<'_>) -> rusqlite::Result<AdminGift> {
    Ok(AdminGift {
        gift: gift_row(row)?,
        retired: row.get(8)?,
        created_at: row.get(9)?,
    })
}

/// One page of every gift, retired ones included, newest first.
pub fn admin_page(
    connection: &Connection,
    request: PageRequest,
) -> StorageResult<(Vec<AdminGift>, u64)> {
    let total: u64 = connection.query_row("SELECT count(*) FROM gifts", [], |row| row.get(0))?;
    let mut statement = connection.prepare(&format!(
        "SELECT {GIFT_COLUMNS}, g.retired, g.created_at FROM gifts g {IMAGE_JOINS}
         ORDER BY g.id DESC LIMIT ?1 OFFSET ?2"
    ))?;
    let rows = statement.query_map(params![request.limit, request.offset()], admin_gift_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn admin_find(connection: &Connection, id: i64) -> StorageResult<Option<AdminGift>> {
    Ok(connection
        .query_row(
            &format!(
                "SELECT {GIFT_COLUMNS}, g.retired, g.created_at FROM gifts g {IMAGE_JOINS}
                 WHERE g.id = ?1"
            ),
            [id],
            admin_gift_row,
        )
        .optional()?)
}

/// Replaces what a gift is: its orders keep the points and address they were placed with.
/// `false` if there is no such gift.
pub fn update(
    connection: &Connection,
    id: i64,
    name: &str,
    image_upload_id: Option<i64>,
    accumulate_points: i64,
    stock: i64,
    retired: bool,
) -> StorageResult<bool> {
    let changed = connection.execute(
        "UPDATE gifts SET name = ?2, image_upload_id = ?3, accumulate_points = ?4, stock = ?5,
             retired = ?6
         WHERE id = ?1",
        params![id, name, image_upload_id, accumulate_points, stock, retired],
    )?;
    Ok(changed == 1)
}

/// Takes one from stock; `false` (and nothing changed) when none is left.
pub fn take_one(connection: &Connection, gift_id: i64) -> StorageResult<bool> {
    let changed = connection.execute(
        "UPDATE gifts SET stock = stock - 1 WHERE id = ?1 AND stock > 0",
        [gift_id],
    )?;
    Ok(changed == 1)
}

/// The copy of an address an order ships to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipTo {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub county: String,
    pub detail: String,
}

impl From<AddressRow> for ShipTo {
    fn from(address: AddressRow) -> ShipTo {
        ShipTo {
            name: address.contact_name,
            phone: address.contact_phone,
            province: address.province,
            city: address.city,
            county: address.district,
            detail: address.address,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftOrderRow {
    pub id: i64,
    pub order_no: String,
    pub user_id: i64,
    pub nickname: String,
    pub address: ShipTo,
    pub gift: GiftRow,
    pub express_company: Option<String>,
    pub tracking_no: Option<String>,
    pub shipped: bool,
    pub created_at: i64,
}

pub fn insert_order(
    connection: &Connection,
    order_no: &str,
    user_id: i64,
    gift: &GiftRow,
    address: &ShipTo,
    now: i64,
) -> StorageResult<i64> {
    connection.execute(
        "INSERT INTO gift_orders (order_no, user_id, gift_id, accumulate_points, ship_name,
             ship_phone, ship_province, ship_city, ship_county, ship_detail, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            order_no,
            user_id,
            gift.id,
            gift.accumulate_points,
            address.name,
            address.phone,
            address.province,
            address.city,
            address.county,
            address.detail,
            now
        ],
    )?;
    Ok(connection.last_insert_rowid())
}

/// Marks an order shipped; `None` if there is no such order, `Some(false)` if it already was.
pub fn ship(
    connection: &Connection,
    id: i64,
    express_company: &str,
    tracking_no: &str,
    now: i64,
) -> StorageResult<Option<(i64, bool)>> {
    let Some((user_id, shipped)) = connection
        .query_row(
            "SELECT user_id, shipped_at IS NOT NULL FROM gift_orders WHERE id = ?1",
            [id],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, bool>(1)?)),
        )
        .optional()?
    else {
        return Ok(None);
    };
    if shipped {
        return Ok(Some((user_id, false)));
    }
    connection.execute(
        "UPDATE gift_orders SET express_company = ?2, tracking_no = ?3, shipped_at = ?4
         WHERE id = ?1",
        params![id, express_company, tracking_no, now],
    )?;
    Ok(Some((user_id, true)))
}

/// One page of a user's gift orders, newest first, optionally only shipped or unshipped.
pub fn orders_page(
    connection: &Connection,
    user_id: i64,
    shipped: Option<bool>,
    request: PageRequest,
) -> StorageResult<(Vec<GiftOrderRow>, u64)> {
    let filter = match shipped {
        None => "",
        Some(true) => "AND o.shipped_at IS NOT NULL",
        Some(false) => "AND o.shipped_at IS NULL",
    };
    let total: u64 = connection.query_row(
        &format!("SELECT count(*) FROM gift_orders o WHERE o.user_id = ?1 {filter}"),
        [user_id],
        |row| row.get(0),
    )?;
    let mut statement = connection.prepare(&format!(
        "SELECT {GIFT_COLUMNS}, o.id, o.order_no, o.user_id, us.nickname, o.ship_name, o.ship_phone,
                o.ship_province, o.ship_city, o.ship_county, o.ship_detail, o.express_company,
                o.tracking_no, o.shipped_at IS NOT NULL, o.created_at, o.accumulate_points
         FROM gift_orders o JOIN users us ON us.id = o.user_id
         JOIN gifts g ON g.id = o.gift_id {IMAGE_JOINS}
         WHERE o.user_id = ?1 {filter} ORDER BY o.id DESC LIMIT ?2 OFFSET ?3"
    ))?;
    let rows = statement.query_map(params![user_id, request.limit, request.offset()], |row| {
        let mut gift = gift_row(row)?;
        // The points the order cost, not the gift's price today.
        gift.accumulate_points = row.get(22)?;
        Ok(GiftOrderRow {
            gift,
            id: row.get(8)?,
            order_no: row.get(9)?,
            user_id: row.get(10)?,
            nickname: row.get(11)?,
            address: ShipTo {
                name: row.get(12)?,
                phone: row.get(13)?,
                province: row.get(14)?,
                city: row.get(15)?,
                county: row.get(16)?,
                detail: row.get(17)?,
            },
            express_company: row.get(18)?,
            tracking_no: row.get(19)?,
            shipped: row.get(20)?,
            created_at: row.get(21)?,
        })
    })?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}
