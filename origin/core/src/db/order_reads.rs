//! The back office's reads of orders and the dashboard's counts.
//!
//! Each list is built from the filters it was given — only those — so that SQLite sees plain
//! terms (`r.pay_type = ?`, `o.shipped_at IS NULL`) and can pick the index migration 0012 made
//! for them, and each is ordered by an index, so a page costs its own rows. The statements are
//! public as [`Query`] values so that tests can `EXPLAIN QUERY PLAN` exactly what runs.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};
use shared::pagination::PageRequest;

use crate::db::StorageResult;
use crate::db::gifts::ShipTo;

/// Times `[from, until)`, unix seconds; either end may be open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub from: Option<i64>,
    pub until: Option<i64>,
}

/// A recharge order is pending until a provider's notify pays it (`paid_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RechargeStatus {
    Pending,
    Paid,
}

impl RechargeStatus {
    pub const NAMES: [&'static str; 2] = ["pending", "paid"];

    pub fn parse(raw: &str) -> Option<RechargeStatus> {
        match raw {
            "pending" => Some(RechargeStatus::Pending),
            "paid" => Some(RechargeStatus::Paid),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RechargeStatus::Pending => "pending",
            RechargeStatus::Paid => "paid",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RechargeFilter {
    pub status: Option<RechargeStatus>,
    pub user_id: Option<i64>,
    /// `alipay` or `wechat`.
    pub pay_type: Option<String>,
    /// By `created_at`.
    pub period: Period,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GiftOrderFilter {
    /// `Some(false)`: the queue (未发货); `Some(true)`: shipped (已发货).
    pub shipped: Option<bool>,
    pub user_id: Option<i64>,
    /// An order number, tracking number, consignee phone (canonical) or consignee name, whole.
    pub search: Option<GiftOrderSearch>,
    /// By `created_at`.
    pub period: Period,
}

/// What `q` is compared with: the phone is the canonical form of `q` when it is a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiftOrderSearch {
    pub text: String,
    pub phone: String,
}

/// A recharge order as the back office lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRecharge {
    pub id: i64,
    pub order_no: String,
    pub user_id: i64,
    /// The nickname, else the account name, else `用户 {id}`.
    pub user_name: String,
    pub price_cents: i64,
    pub pay_type: String,
    pub provider: String,
    pub trade_no: Option<String>,
    pub paid_at: Option<i64>,
    pub created_at: i64,
}

/// A gift order as the shipping queue lists it: the address copied when it was placed, and the
/// points it cost then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminGiftOrder {
    pub id: i64,
    pub order_no: String,
    pub user_id: i64,
    pub user_name: String,
    pub gift_id: i64,
    pub gift_name: String,
    pub accumulate_points: i64,
    pub address: ShipTo,
    pub express_company: Option<String>,
    pub tracking_no: Option<String>,
    pub shipped_at: Option<i64>,
    pub created_at: i64,
}

/// A statement and its parameters, in order.
#[derive(Debug, Clone)]
pub struct Query {
    pub sql: String,
    pub values: Vec<Value>,
}

impl Query {
    /// `EXPLAIN QUERY PLAN`'s details, one per line of the plan.
    pub fn plan(&self, connection: &Connection) -> StorageResult<Vec<String>> {
        let mut statement = connection.prepare(&format!("EXPLAIN QUERY PLAN {}", self.sql))?;
        let rows = statement.query_map(params_from_iter(&self.values), |row| row.get(3))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn count(&self, connection: &Connection) -> StorageResult<u64> {
        Ok(connection.query_row(&self.sql, params_from_iter(&self.values), |row| row.get(0))?)
    }

    fn rows<T>(
        &self,
        connection: &Connection,
        map: fn(&Row<'_>) -> rusqlite::Result<T>,
    ) -> StorageResult<Vec<T>> {
        let mut statement = connection.prepare(&self.sql)?;
        let rows = statement.query_map(params_from_iter(&self.values), map)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The terms of a `WHERE`, joined by `AND`, with their values.
#[derive(Default)]
struct Terms {
    terms: Vec<&'static str>,
    values: Vec<Value>,
}

impl Terms {
    fn add(&mut self, term: &'static str, values: impl IntoIterator<Item = Value>) {
        self.terms.push(term);
        self.values.extend(values);
    }

    fn period(&mut self, column_from: &'static str, column_until: &'static str, period: Period) {
        if let Some(from) = period.from {
            self.add(column_from, [Value::Integer(from)]);
        }
        if let Some(until) = period.until {
            self.add(column_until, [Value::Integer(until)]);
        }
    }

    fn sql(&self) -> String {
        if self.terms.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.terms.join(" AND "))
        }
    }

    fn query(&self, sql: String, tail: &[i64]) -> Query {
        let mut values = self.values.clone();
        values.extend(tail.iter().map(|value| Value::Integer(*value)));
        Query { sql, values }
    }
}

const DISPLAY_NAME: &str = "COALESCE(NULLIF(u.nickname, ''), u.account, '用户 ' || u.id)";

fn limit_offset(request: PageRequest) -> [i64; 2] {
    [
        i64::from(request.limit),
        i64::try_from(request.offset()).unwrap_or(i64::MAX),
    ]
}

// ---- Recharge orders -----------------------------------------------------------------------

fn recharge_terms(filter: &RechargeFilter) -> Terms {
    let mut terms = Terms::default();
    match filter.status {
        Some(RechargeStatus::Pending) => terms.add("r.paid_at IS NULL", []),
        Some(RechargeStatus::Paid) => terms.add("r.paid_at IS NOT NULL", []),
        None => {}
    }
    if let Some(user_id) = filter.user_id {
        terms.add("r.user_id = ?", [Value::Integer(user_id)]);
    }
    if let Some(pay_type) = &filter.pay_type {
        terms.add("r.pay_type = ?", [Value::Text(pay_type.clone())]);
    }
    terms.period("r.created_at >= ?", "r.created_at < ?", filter.period);
    terms
}

/// The count, the ids and the page of `recharge_page`, newest first. The ids of the page are
/// found first, in the ordering index alone (a deep page skips index entries, not rows joined
/// with their users), then only those rows are read: the page query wraps the ids query.
pub fn recharge_queries(filter: &RechargeFilter, request: PageRequest) -> [Query; 3] {
    let terms = recharge_terms(filter);
    let r#where = terms.sql();
    const ORDER: &str = "r.created_at DESC, r.id DESC";
    let ids = terms.query(
        format!("SELECT r.id FROM recharge_orders r {where} ORDER BY {ORDER} LIMIT ? OFFSET ?"),
        &limit_offset(request),
    );
    let page = Query {
        sql: format!(
            "SELECT r.id, r.order_no, r.user_id, {DISPLAY_NAME}, r.price_cents, r.pay_type,
                    r.provider, r.trade_no, r.paid_at, r.created_at
             FROM ({ids}) AS p JOIN recharge_orders r ON r.id = p.id
             JOIN users u ON u.id = r.user_id ORDER BY {ORDER}",
            ids = ids.sql
        ),
        values: ids.values.clone(),
    };
    [
        terms.query(
            format!("SELECT count(*) FROM recharge_orders r {where}"),
            &[],
        ),
        ids,
        page,
    ]
}

fn recharge_row(row: &Row<'_>) -> rusqlite::Result<AdminRecharge> {
    Ok(AdminRecharge {
        id: row.get(0)?,
        order_no: row.get(1)?,
        user_id: row.get(2)?,
        user_name: row.get(3)?,
        price_cents: row.get(4)?,
        pay_type: row.get(5)?,
        provider: row.get(6)?,
        trade_no: row.get(7)?,
        paid_at: row.get(8)?,
        created_at: row.get(9)?,
    })
}

/// One page of every user's recharge orders, newest first.
pub fn recharge_page(
    connection: &Connection,
    filter: &RechargeFilter,
    request: PageRequest,
) -> StorageResult<(Vec<AdminRecharge>, u64)> {
    let [count, _, page] = recharge_queries(filter, request);
    Ok((
        page.rows(connection, recharge_row)?,
        count.count(connection)?,
    ))
}

// ---- Gift orders ---------------------------------------------------------------------------

fn gift_terms(filter: &GiftOrderFilter, shipped: bool) -> Terms {
    let mut terms = Terms::default();
    terms.add(
        if shipped {
            "o.shipped_at IS NOT NULL"
        } else {
            "o.shipped_at IS NULL"
        },
        [],
    );
    if let Some(user_id) = filter.user_id {
        terms.add("o.user_id = ?", [Value::Integer(user_id)]);
    }
    if let Some(search) = &filter.search {
        let text = || Value::Text(search.text.clone());
        terms.add(
            "(o.order_no = ? OR o.tracking_no = ? OR o.ship_phone = ? OR o.ship_name = ?)",
            [text(), text(), Value::Text(search.phone.clone()), text()],
        );
    }
    terms.period("o.created_at >= ?", "o.created_at < ?", filter.period);
    terms
}

/// One part of the queue: the unshipped orders oldest first (first in, first out), or the
/// shipped ones newest shipped first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuePart {
    Unshipped,
    Shipped,
}

impl QueuePart {
    fn shipped(self) -> bool {
        self == QueuePart::Shipped
    }

    fn order(self) -> &'static str {
        match self {
            QueuePart::Unshipped => "o.created_at, o.id",
            QueuePart::Shipped => "o.shipped_at DESC, o.id DESC",
        }
    }
}

/// The parts a filter reads, in the queue's order.
fn parts(filter: &GiftOrderFilter) -> Vec<QueuePart> {
    match filter.shipped {
        None => vec![QueuePart::Unshipped, QueuePart::Shipped],
        Some(false) => vec![QueuePart::Unshipped],
        Some(true) => vec![QueuePart::Shipped],
    }
}

/// The count, the ids and the rows (`limit`, `offset`) of one part of the queue: as for
/// recharge orders, the page query reads the rows of the ids the ordering index found.
pub fn gift_order_queries(
    filter: &GiftOrderFilter,
    part: QueuePart,
    limit: i64,
    offset: i64,
) -> [Query; 3] {
    let terms = gift_terms(filter, part.shipped());
    let r#where = terms.sql();
    let order = part.order();
    let ids = terms.query(
        format!("SELECT o.id FROM gift_orders o {where} ORDER BY {order} LIMIT ? OFFSET ?"),
        &[limit, offset],
    );
    let page = Query {
        sql: format!(
            "SELECT o.id, o.order_no, o.user_id, {DISPLAY_NAME}, o.gift_id, g.name,
                    o.accumulate_points, o.ship_name, o.ship_phone, o.ship_province,
                    o.ship_city, o.ship_county, o.ship_detail, o.express_company,
                    o.tracking_no, o.shipped_at, o.created_at
             FROM ({ids}) AS p JOIN gift_orders o ON o.id = p.id
             JOIN users u ON u.id = o.user_id JOIN gifts g ON g.id = o.gift_id
             ORDER BY {order}",
            ids = ids.sql
        ),
        values: ids.values.clone(),
    };
    [
        terms.query(format!("SELECT count(*) FROM gift_orders o {where}"), &[]),
        ids,
        page,
    ]
}

fn gift_order_row(row: &Row<'_>) -> rusqlite::Result<AdminGiftOrder> {
    Ok(AdminGiftOrder {
        id: row.get(0)?,
        order_no: row.get(1)?,
        user_id: row.get(2)?,
        user_name: row.get(3)?,
        gift_id: row.get(4)?,
        gift_name: row.get(5)?,
        accumulate_points: row.get(6)?,
        address: ShipTo {
            name: row.get(7)?,
            phone: row.get(8)?,
            province: row.get(9)?,
            city: row.get(10)?,
            county: row.get(11)?,
            detail: row.get(12)?,
        },
        express_company: row.get(13)?,
        tracking_no: row.get(14)?,
        shipped_at: row.get(15)?,
        created_at: row.get(16)?,
    })
}

/// How many orders match, over the parts the filter reads.
pub fn gift_order_count(connection: &Connection, filter: &GiftOrderFilter) -> StorageResult<u64> {
    let mut total = 0;
    for part in parts(filter) {
        let [count, _, _] = gift_order_queries(filter, part, 0, 0);
        total += count.count(connection)?;
    }
    Ok(total)
}

/// Rows `offset..offset + limit` of the queue: the unshipped part, then the shipped part. Each
/// part is read in its own index's order; a page that straddles them reads the end of one and
/// the start of the other.
pub fn gift_order_rows(
    connection: &Connection,
    filter: &GiftOrderFilter,
    limit: i64,
    offset: i64,
) -> StorageResult<Vec<AdminGiftOrder>> {
    let mut rows = Vec::new();
    let mut skip = offset;
    for part in parts(filter) {
        let wanted = limit - rows.len() as i64;
        if wanted <= 0 {
            break;
        }
        let [count, _, page] = gift_order_queries(filter, part, wanted, skip);
        if skip > 0 {
            let in_part = i64::try_from(count.count(connection)?).unwrap_or(i64::MAX);
            if skip >= in_part {
                skip -= in_part;
                continue;
            }
        }
        rows.extend(page.rows(connection, gift_order_row)?);
        skip = 0;
    }
    Ok(rows)
}

/// One page of the shipping queue, and how many orders match.
pub fn gift_order_page(
    connection: &Connection,
    filter: &GiftOrderFilter,
    request: PageRequest,
) -> StorageResult<(Vec<AdminGiftOrder>, u64)> {
    let [limit, offset] = limit_offset(request);
    let rows = gift_order_rows(connection, filter, limit, offset)?;
    Ok((rows, gift_order_count(connection, filter)?))
}

// ---- The dashboard -------------------------------------------------------------------------

/// One day's figures; `day` counts days since 1970-01-01 in the configured offset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayFigures {
    pub day: i64,
    pub sign_ups: u64,
    pub paid_recharges: u64,
    pub paid_cents: i64,
    pub gift_redemptions: u64,
    pub delivery_failures: u64,
}

/// The per-day statements of the dashboard (parameters: offset seconds, first second).
pub const DAILY_SIGN_UPS: &str = "SELECT (created_at + ?1) / 86400, count(*), 0 FROM users
     WHERE created_at >= ?2 GROUP BY 1";
pub const DAILY_PAID_RECHARGES: &str =
    "SELECT (paid_at + ?1) / 86400, count(*), sum(price_cents) FROM recharge_orders
     WHERE paid_at >= ?2 GROUP BY 1";
pub const DAILY_GIFT_REDEMPTIONS: &str =
    "SELECT (created_at + ?1) / 86400, count(*), 0 FROM gift_orders
     WHERE created_at >= ?2 GROUP BY 1";
pub const DAILY_DELIVERY_FAILURES: &str =
    "SELECT (finished_at + ?1) / 86400, count(*), 0 FROM deliveries
     WHERE status = 'failed' AND finished_at >= ?2 GROUP BY 1";
/// Orders waiting to be shipped.
pub const PENDING_SHIPMENTS: &str = "SELECT count(*) FROM gift_orders WHERE shipped_at IS NULL";
/// Failed deliveries since `?1`.
pub const DELIVERY_FAILURES_SINCE: &str =
    "SELECT count(*) FROM deliveries WHERE status = 'failed' AND finished_at >= ?1";

/// Per-day figures for the `days` days ending with `today` (day numbers in the offset), oldest
/// first, every day present.
pub fn daily(
    connection: &Connection,
    offset_seconds: i64,
    today: i64,
    days: i64,
) -> StorageResult<Vec<DayFigures>> {
    let first = today - days + 1;
    let start = first * 86_400 - offset_seconds;
    let mut figures: Vec<DayFigures> = (first..=today)
        .map(|day| DayFigures {
            day,
            ..DayFigures::default()
        })
        .collect();
    for (index, sql) in [
        DAILY_SIGN_UPS,
        DAILY_PAID_RECHARGES,
        DAILY_GIFT_REDEMPTIONS,
        DAILY_DELIVERY_FAILURES,
    ]
    .into_iter()
    .enumerate()
    {
        let mut statement = connection.prepare(sql)?;
        let rows = statement.query_map(params![offset_seconds, start], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, u64>(1)?,
                row.get::<_, Option<i64>>(2)?.unwrap_or(0),
            ))
        })?;
        for row in rows {
            let (day, count, sum) = row?;
            let Some(slot) = figures.get_mut(usize::try_from(day - first).unwrap_or(usize::MAX))
            else {
                continue;
            };
            match index {
                0 => slot.sign_ups = count,
                1 => {
                    slot.paid_recharges = count;
                    slot.paid_cents = sum;
                }
                2 => slot.gift_redemptions = count,
                _ => slot.delivery_failures = count,
            }
        }
    }
    Ok(figures)
}

pub fn pending_shipments(connection: &Connection) -> StorageResult<u64> {
    Ok(connection.query_row(PENDING_SHIPMENTS, [], |row| row.get(0))?)
}

pub fn delivery_failures_since(connection: &Connection, since: i64) -> StorageResult<u64> {
    Ok(connection.query_row(DELIVERY_FAILURES_SINCE, [since], |row| row.get(0))?)
}
