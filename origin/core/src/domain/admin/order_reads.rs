//! The back office's reads of orders, the catalogue and the dashboard, and the catalogue's
//! updates — shared by the admin JSON API and the web console, so both answer from one rule.
//!
//! Dates an operator types (`from`, `to`: `YYYY-MM-DD`) are days in the configured offset;
//! [`Period::parse`] turns them into times and names the field it refuses.

use serde_json::json;
use shared::Problem;
use shared::money::format_cents;
use shared::pagination::{PageRequest, Paged};
use time::UtcOffset;

use super::{Effect, NewGift, NewGoods, act};
use crate::AppState;
use crate::clock;
use crate::db::audit::Actor;
use crate::db::{gifts, goods, order_reads};
use crate::error::Result;

pub use crate::db::gifts::AdminGift;
pub use crate::db::goods::AdminGoods;
pub use crate::db::order_reads::{
    AdminGiftOrder, AdminRecharge, DayFigures, GiftOrderFilter, GiftOrderSearch, Period,
    RechargeFilter, RechargeStatus,
};

/// An export holds at most this many rows; a larger one is refused (400), not cut.
pub const MAX_EXPORT_ROWS: u64 = 50_000;
/// The dashboard covers 1 to this many days (default [`DEFAULT_STATS_DAYS`]).
pub const MAX_STATS_DAYS: i64 = 90;
pub const DEFAULT_STATS_DAYS: i64 = 30;
/// The longest `q` of the shipping queue.
pub const GIFT_ORDER_QUERY_MAX_CHARS: usize = 100;

const DAY: i64 = 86_400;

fn start_of(day: time::Date, offset: UtcOffset) -> i64 {
    day.midnight().assume_offset(offset).unix_timestamp()
}

impl Period {
    /// Days `from` to `to`, both included, in `offset`; either may be absent (open). A bad
    /// date, or `to` before `from`, is refused naming the field.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        offset: UtcOffset,
    ) -> std::result::Result<Period, Problem> {
        let from = from.map(|raw| super::parse_day("from", raw)).transpose()?;
        let to = to.map(|raw| super::parse_day("to", raw)).transpose()?;
        Period::of_days(from, to, offset)
    }

    pub fn of_days(
        from: Option<time::Date>,
        to: Option<time::Date>,
        offset: UtcOffset,
    ) -> std::result::Result<Period, Problem> {
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            return Err(Problem::invalid("to", "to 不能早于 from"));
        }
        Ok(Period {
            from: from.map(|day| start_of(day, offset)),
            until: to.map(|day| start_of(day, offset) + DAY),
        })
    }
}

impl GiftOrderSearch {
    /// What `q` finds: an order number, tracking number, consignee name, or consignee phone
    /// in any spelling (SPEC §4), compared whole. Blank is no search.
    pub fn new(q: &str) -> Option<GiftOrderSearch> {
        let text = q.trim();
        if text.is_empty() {
            return None;
        }
        Some(GiftOrderSearch {
            text: text.to_owned(),
            phone: shared::validate::canonical_phone(text).unwrap_or_else(|| text.to_owned()),
        })
    }
}

/// `GET /admin/recharge_orders`: every user's recharge orders, newest first (财务管理).
pub async fn recharge_orders(
    state: &AppState,
    filter: RechargeFilter,
    request: PageRequest,
) -> Result<Paged<AdminRecharge>> {
    let (rows, total) = state
        .db
        .read(move |conn| order_reads::recharge_page(conn, &filter, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// `GET /admin/gift_orders`: the shipping queue (配送管理) — unshipped orders oldest first,
/// then shipped ones newest shipped first.
pub async fn gift_orders(
    state: &AppState,
    filter: GiftOrderFilter,
    request: PageRequest,
) -> Result<Paged<AdminGiftOrder>> {
    let (rows, total) = state
        .db
        .read(move |conn| order_reads::gift_order_page(conn, &filter, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// Every order matching `filter`, in the queue's order, for an export: names, phones and
/// addresses leave the back office, so the read is audited (`gift_orders.export`, with the
/// filter and the row count) before the rows are handed out. More than [`MAX_EXPORT_ROWS`] is
/// refused (400), and nothing is logged or read.
pub async fn export_gift_orders(
    state: &AppState,
    actor: Actor,
    filter: GiftOrderFilter,
) -> Result<Vec<AdminGiftOrder>> {
    let counted = filter.clone();
    let total = state
        .db
        .read(move |conn| order_reads::gift_order_count(conn, &counted))
        .await?;
    if total > MAX_EXPORT_ROWS {
        return Err(Problem::invalid(
            "from",
            format!("导出结果有 {total} 行，超过上限 {MAX_EXPORT_ROWS} 行，请缩小筛选范围"),
        )
        .into());
    }
    let read = filter.clone();
    let limit = MAX_EXPORT_ROWS as i64;
    let rows = state
        .db
        .read(move |conn| order_reads::gift_order_rows(conn, &read, limit, 0))
        .await?;
    let detail = json!({
        "shipped": filter.shipped, "user_id": filter.user_id,
        "q": filter.search.as_ref().map(|search| &search.text),
        "from": filter.period.from, "until": filter.period.until, "rows": rows.len(),
    });
    act(state, actor, "gift_orders.export", move |_, _| {
        Ok(Effect::new((), None, detail))
    })
    .await?;
    Ok(rows)
}

/// The header row of the export.
pub const EXPORT_HEADER: [&str; 17] = [
    "订单ID",
    "订单号",
    "用户ID",
    "用户",
    "礼品",
    "积分",
    "收货人",
    "电话",
    "省",
    "市",
    "区县",
    "详细地址",
    "状态",
    "快递公司",
    "快递单号",
    "下单时间",
    "发货时间",
];

/// One CSV cell: quoted when it holds a separator, quote or line break; and a cell a
/// spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage
/// return) is made text with a leading `'`.
pub fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The export as Excel opens it: UTF-8 with a byte-order mark, a Chinese header row, CRLF line
/// ends, times in `offset`.
pub fn gift_orders_csv(rows: &[AdminGiftOrder], offset: UtcOffset) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let mut line = |cells: Vec<String>| {
        let cells: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    };
    line(EXPORT_HEADER.iter().map(|&cell| cell.to_owned()).collect());
    for row in rows {
        let address = &row.address;
        line(vec![
            row.id.to_string(),
            row.order_no.clone(),
            row.user_id.to_string(),
            row.user_name.clone(),
            row.gift_name.clone(),
            row.accumulate_points.to_string(),
            address.name.clone(),
            address.phone.clone(),
            address.province.clone(),
            address.city.clone(),
            address.county.clone(),
            address.detail.clone(),
            gift_order_status(row).to_owned(),
            row.express_company.clone().unwrap_or_default(),
            row.tracking_no.clone().unwrap_or_default(),
            clock::format(row.created_at, offset),
            row.shipped_at
                .map(|at| clock::format(at, offset))
                .unwrap_or_default(),
        ]);
    }
    out.into_bytes()
}

/// 未发货 or 已发货, as the print API names a gift order's state.
pub fn gift_order_status(row: &AdminGiftOrder) -> &'static str {
    if row.shipped_at.is_some() {
        "已发货"
    } else {
        "未发货"
    }
}

/// A recharge order's amount as the API writes money (`"12.50"`).
pub fn recharge_amount(row: &AdminRecharge) -> String {
    format_cents(row.price_cents)
}

// ---- The catalogue -------------------------------------------------------------------------

/// `GET /admin/goods`: every goods, retired ones included, newest first (商品管理).
pub async fn list_goods(state: &AppState, request: PageRequest) -> Result<Paged<AdminGoods>> {
    let (rows, total) = state
        .db
        .read(move |conn| goods::admin_page(conn, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// Replaces a goods' name and price (the rules of [`NewGoods`]) and whether it is retired;
/// audited (`goods.update`, before and after). 404 if there is no such goods.
pub async fn update_goods(
    state: &AppState,
    actor: Actor,
    goods_id: i64,
    goods: NewGoods,
    retired: bool,
) -> Result<()> {
    let NewGoods { name, price_cents } = goods;
    act(state, actor, "goods.update", move |tx, _| {
        let before = goods::admin_find(tx, goods_id)?.ok_or(Problem::NotFound)?;
        goods::update(tx, goods_id, &name, price_cents, retired)?;
        let detail = json!({
            "goods_id": goods_id,
            "before": { "name": before.name, "price_cents": before.price_cents, "retired": before.retired },
            "after": { "name": name, "price_cents": price_cents, "retired": retired },
        });
        Ok(Effect::new((), None, detail))
    })
    .await
}

/// `GET /admin/gifts`: every gift, retired ones included, newest first (积分管理).
pub async fn list_gifts(state: &AppState, request: PageRequest) -> Result<Paged<AdminGift>> {
    let (rows, total) = state
        .db
        .read(move |conn| gifts::admin_page(conn, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// Refuses an edit that sets the stock on a stock of `seen` when the gift has `now`:
/// redemptions (or another edit) happened since, and replacing the stock would undo them.
pub fn stock_moved(seen: i64, now: i64) -> Problem {
    Problem::refused(format!(
        "库存已从 {seen} 变为 {now}（期间有兑换或其他修改），礼品未做修改；请返回礼品列表重新编辑"
    ))
}

/// The stock an edit leaves: the one it sends, unless the operator saw `seen` and left it as
/// they saw it (`stock == seen`) — then whatever the gift has now, so that redemptions made
/// while they edited the name or picture stand (a `stock` equal to the current one is taken
/// too: it undoes nothing). An edit that changes the stock on a stock that moved since is
/// refused ([`stock_moved`]). Without `seen`, the stock sent.
fn stock_after_edit(seen: Option<i64>, stock: i64, now: i64) -> Result<i64> {
    match seen {
        Some(seen) if seen != now && (stock == seen || stock == now) => Ok(now),
        Some(seen) if seen != now => Err(stock_moved(seen, now).into()),
        _ => Ok(stock),
    }
}

/// Whether an edit setting `stock` on a seen stock of `seen` would be taken ([`stock_moved`]
/// if not); 404 if there is no such gift. An early look for a form that would store a file
/// before [`update_gift`] checks again.
pub async fn check_stock_seen(state: &AppState, gift_id: i64, seen: i64, stock: i64) -> Result<()> {
    let gift = state
        .db
        .read(move |conn| gifts::admin_find(conn, gift_id))
        .await?;
    let now = gift.ok_or(Problem::NotFound)?.gift.stock;
    stock_after_edit(Some(seen), stock, now).map(|_| ())
}

/// Replaces a gift (the rules of [`NewGift`]; `image` must be an upload of the admin's or a
/// gift's picture; the stock as [`stock_after_edit`] says) and whether it is retired — a
/// retired gift leaves the public list and cannot be redeemed, and its orders
/// keep the points and address they were placed with. Audited (`gift.update`). 404 if there is
/// no such gift.
pub async fn update_gift(
    state: &AppState,
    actor: Actor,
    gift_id: i64,
    mut gift: NewGift,
    retired: bool,
    seen_stock: Option<i64>,
) -> Result<()> {
    let chooser = actor.user_id;
    act(state, actor, "gift.update", move |tx, _| {
        let before = gifts::admin_find(tx, gift_id)?.ok_or(Problem::NotFound)?;
        // The stock is replaced, not adjusted: redemptions since the operator read it would be
        // undone and the same items given out twice.
        let stock_sent = gift.stock;
        gift.stock = stock_after_edit(seen_stock, gift.stock, before.gift.stock)?;
        super::check_gift_image(tx, gift.image, chooser)?;
        gifts::update(
            tx,
            gift_id,
            &gift.name,
            gift.image,
            gift.accumulate_points,
            gift.stock,
            retired,
        )?;
        let detail = json!({
            "gift_id": gift_id,
            "before": {
                "name": before.gift.name, "accumulate_points": before.gift.accumulate_points,
                "stock": before.gift.stock, "image": before.gift.image.map(|image| image.id),
                "retired": before.retired,
            },
            "after": {
                "name": gift.name, "accumulate_points": gift.accumulate_points,
                "stock": gift.stock, "image": gift.image, "retired": retired,
            },
            "seen_stock": seen_stock,
            "stock_sent": stock_sent,
        });
        Ok(Effect::new((), None, detail))
    })
    .await
}

// ---- The dashboard -------------------------------------------------------------------------

/// The dashboard (数据中心): per day, oldest first, and totals now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// `days` entries, the last one today (in the configured offset).
    pub days: Vec<DayStats>,
    /// Gift orders not shipped yet.
    pub pending_shipments: u64,
    /// SMS and e-mail deliveries given up in the last 24 hours…
    pub delivery_failures_24h: u64,
    /// …and since the first of the days.
    pub delivery_failures: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayStats {
    pub date: time::Date,
    pub sign_ups: u64,
    pub paid_recharges: u64,
    pub paid_cents: i64,
    pub gift_redemptions: u64,
    pub delivery_failures: u64,
}

/// The dashboard over the last `days` days (1 to [`MAX_STATS_DAYS`], today included).
pub async fn stats(state: &AppState, days: i64) -> Result<Stats> {
    if !(1..=MAX_STATS_DAYS).contains(&days) {
        return Err(Problem::invalid(
            "days",
            format!("days 必须是 1 到 {MAX_STATS_DAYS} 之间的整数"),
        )
        .into());
    }
    let offset_seconds = i64::from(state.config.time_offset.whole_seconds());
    let now = clock::now();
    let today = (now + offset_seconds).div_euclid(DAY);
    let (figures, pending_shipments, failures_24h) = state
        .db
        .read(move |conn| -> crate::db::StorageResult<_> {
            Ok((
                order_reads::daily(conn, offset_seconds, today, days)?,
                order_reads::pending_shipments(conn)?,
                order_reads::delivery_failures_since(conn, now - DAY)?,
            ))
        })
        .await?;
    let epoch = time::Date::from_calendar_date(1970, time::Month::January, 1)
        .expect("1970-01-01 is a date");
    let days: Vec<DayStats> = figures
        .into_iter()
        .map(|day| DayStats {
            date: epoch + time::Duration::days(day.day),
            sign_ups: day.sign_ups,
            paid_recharges: day.paid_recharges,
            paid_cents: day.paid_cents,
            gift_redemptions: day.gift_redemptions,
            delivery_failures: day.delivery_failures,
        })
        .collect();
    Ok(Stats {
        delivery_failures: days.iter().map(|day| day.delivery_failures).sum(),
        days,
        pending_shipments,
        delivery_failures_24h: failures_24h,
    })
}
