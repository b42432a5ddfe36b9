//! The back office's orders, catalogue and dashboard: recharge orders (财务管理), the gift
//! shipping queue and its CSV export (配送管理), goods (商品管理) and gifts (积分管理) with their
//! updates, and the dashboard (数据中心). The rules live in `domain::admin::order_reads`, which
//! the web console calls too.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use shared::Problem;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};

use super::{Admin, needs};
use crate::AppState;
use crate::clock;
use crate::domain::admin::{
    self, GiftOrderFilter, GiftOrderSearch, NewGift, NewGoods, Period, RechargeFilter,
    RechargeStatus,
};
use crate::error::AppResult;
use crate::http::endpoint::{DescribeReply, SuccessDoc};
use crate::http::input::{Field, Flag, Input, Int, OptionalInt, OptionalText, Paging, Text, Yuan};
use crate::http::openapi::Components;
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::{PrintDone, PrintOk};
use crate::http::views::{self, Page};
use crate::input;

type UserId = OptionalInt<1, { i64::MAX }>;

fn nullable_string(pattern: &str, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(pattern))
        .description((!description.is_empty()).then_some(description))
}

/// A day, `YYYY-MM-DD`, in the configured offset; absent is open.
pub struct Day;

impl Field for Day {
    type Value = Option<time::Date>;

    fn read(params: &Params, name: &'static str) -> Result<Option<time::Date>, Problem> {
        match params.get(name).map(str::trim) {
            None | Some("") => Ok(None),
            Some(raw) => admin::parse_day(name, raw).map(Some),
        }
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = nullable_string(r"^\d{4}-\d{2}-\d{2}$", description).format(Some(
            utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Date),
        ));
        object.property(name, property)
    }
}

/// `pending` or `paid`; absent is either.
pub struct RechargeStatusFilter;

impl Field for RechargeStatusFilter {
    type Value = Option<RechargeStatus>;

    fn read(params: &Params, name: &'static str) -> Result<Option<RechargeStatus>, Problem> {
        match params.get(name) {
            None => Ok(None),
            Some(raw) => RechargeStatus::parse(raw)
                .map(Some)
                .ok_or_else(|| Problem::invalid(name, "status 只能是 pending 或 paid")),
        }
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let words = RechargeStatus::NAMES.join("|");
        object.property(name, nullable_string(&format!("^({words})$"), description))
    }
}

/// `alipay` or `wechat`; absent is either.
pub struct PayTypeFilter;

impl Field for PayTypeFilter {
    type Value = Option<String>;

    fn read(params: &Params, name: &'static str) -> Result<Option<String>, Problem> {
        match params.get(name) {
            None => Ok(None),
            Some(raw) if ["alipay", "wechat"].contains(&raw) => Ok(Some(raw.to_owned())),
            Some(_) => Err(Problem::invalid(name, "pay_type 只能是 alipay 或 wechat")),
        }
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        object.property(name, nullable_string("^(alipay|wechat)$", description))
    }
}

input! {
    pub struct RechargeOrdersQuery {
        status: RechargeStatusFilter,
        user_id: UserId,
        pay_type: PayTypeFilter,
        /// First day of creation, `YYYY-MM-DD` in the configured offset.
        from: Day,
        /// Last day of creation (included).
        to: Day,
        page: Paging,
    }
}

impl RechargeOrdersQuery {
    /// The domain's filter; a `to` before `from` is refused naming `to`.
    pub fn filter(&self, offset: time::UtcOffset) -> Result<RechargeFilter, Problem> {
        Ok(RechargeFilter {
            status: self.status,
            user_id: self.user_id,
            pay_type: self.pay_type.clone(),
            period: Period::of_days(self.from, self.to, offset)?,
        })
    }
}

pub(super) async fn recharge_orders(
    State(state): State<AppState>,
    _: Admin<needs::Finance>,
    Input(query): Input<RechargeOrdersQuery>,
) -> AppResult<PrintOk<Page<views::AdminRechargeView>>> {
    let offset = state.config.time_offset;
    let page = admin::recharge_orders(&state, query.filter(offset)?, query.page).await?;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::AdminRechargeView::of(row, offset)
    })))
}

input! {
    pub struct GiftOrdersQuery {
        /// 1 未发货 (not shipped), 2 已发货 (shipped), as the print API names them.
        status: OptionalInt<1, 2>,
        user_id: UserId,
        /// A whole order number, tracking number, consignee phone (any spelling) or name.
        q: OptionalText<{ admin::GIFT_ORDER_QUERY_MAX_CHARS }>,
        /// First day of ordering, `YYYY-MM-DD` in the configured offset.
        from: Day,
        /// Last day of ordering (included).
        to: Day,
        page: Paging,
    }
}

input! {
    /// The shipping queue's filters, without paging: every matching order is exported.
    pub struct GiftOrdersExportQuery {
        /// 1 未发货 (not shipped), 2 已发货 (shipped).
        status: OptionalInt<1, 2>,
        user_id: UserId,
        /// A whole order number, tracking number, consignee phone (any spelling) or name.
        q: OptionalText<{ admin::GIFT_ORDER_QUERY_MAX_CHARS }>,
        from: Day,
        to: Day,
    }
}

fn gift_order_filter(
    status: Option<i64>,
    user_id: Option<i64>,
    q: Option<String>,
    period: Period,
) -> GiftOrderFilter {
    GiftOrderFilter {
        shipped: status.map(|status| status == 2),
        user_id,
        search: q.as_deref().and_then(GiftOrderSearch::new),
        period,
    }
}

impl GiftOrdersQuery {
    /// The domain's filter; a `to` before `from` is refused naming `to`.
    pub fn filter(&self, offset: time::UtcOffset) -> Result<GiftOrderFilter, Problem> {
        let period = Period::of_days(self.from, self.to, offset)?;
        Ok(gift_order_filter(
            self.status,
            self.user_id,
            self.q.clone(),
            period,
        ))
    }
}

impl GiftOrdersExportQuery {
    pub fn filter(&self, offset: time::UtcOffset) -> Result<GiftOrderFilter, Problem> {
        let period = Period::of_days(self.from, self.to, offset)?;
        Ok(gift_order_filter(
            self.status,
            self.user_id,
            self.q.clone(),
            period,
        ))
    }
}

pub(super) async fn gift_orders(
    State(state): State<AppState>,
    _: Admin<needs::Delivery>,
    Input(query): Input<GiftOrdersQuery>,
) -> AppResult<PrintOk<Page<views::AdminGiftOrderView>>> {
    let offset = state.config.time_offset;
    let page = admin::gift_orders(&state, query.filter(offset)?, query.page).await?;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::AdminGiftOrderView::of(row, offset)
    })))
}

/// A CSV file for Excel (UTF-8 with a byte-order mark), downloaded as an attachment and never
/// stored by a cache.
pub struct Csv {
    filename: String,
    bytes: Vec<u8>,
}

impl Csv {
    /// The shipping queue's export, named by today's date.
    pub fn of_gift_orders(rows: &[admin::AdminGiftOrder], offset: time::UtcOffset) -> Csv {
        let today = clock::format(clock::now(), offset);
        Csv {
            filename: format!("gift_orders-{}.csv", &today[..10]),
            bytes: admin::gift_orders_csv(rows, offset),
        }
    }
}

impl IntoResponse for Csv {
    fn into_response(self) -> Response {
        (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", self.filename),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            self.bytes,
        )
            .into_response()
    }
}

impl DescribeReply for Csv {
    fn success(_components: &mut Components) -> SuccessDoc {
        SuccessDoc::Csv
    }
}

pub(super) async fn export_gift_orders(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Delivery>,
    Input(query): Input<GiftOrdersExportQuery>,
) -> AppResult<Csv> {
    let offset = state.config.time_offset;
    let rows = admin::export_gift_orders(&state, actor, query.filter(offset)?).await?;
    Ok(Csv::of_gift_orders(&rows, offset))
}

input! {
    pub struct CatalogueQuery {
        page: Paging,
    }
}

pub(super) async fn list_goods(
    State(state): State<AppState>,
    _: Admin<needs::Goods>,
    Input(query): Input<CatalogueQuery>,
) -> AppResult<PrintOk<Page<views::AdminGoodsView>>> {
    let offset = state.config.time_offset;
    let page = admin::list_goods(&state, query.page).await?;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::AdminGoodsView::of(row, offset)
    })))
}

input! {
    /// Replaces the goods' name and price; `retired` absent or false puts it back on offer.
    pub struct GoodsUpdateRequest {
        name: Text<{ admin::GOODS_NAME_MAX_CHARS }>,
        /// Decimal yuan, not negative.
        price: Yuan,
        /// Retired goods stay for what already names them.
        retired: Flag,
    }
}

pub(super) async fn update_goods(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Goods>,
    PathId(goods_id): PathId,
    Input(request): Input<GoodsUpdateRequest>,
) -> AppResult<PrintDone> {
    let goods = NewGoods::new(&request.name, request.price)?;
    admin::update_goods(&state, actor, goods_id, goods, request.retired).await?;
    Ok(PrintDone::new("商品已更新"))
}

pub(super) async fn list_gifts(
    State(state): State<AppState>,
    _: Admin<needs::Points>,
    Input(query): Input<CatalogueQuery>,
) -> AppResult<PrintOk<Page<views::AdminGiftView>>> {
    let offset = state.config.time_offset;
    let page = admin::list_gifts(&state, query.page).await?;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::AdminGiftView::of(row, offset)
    })))
}

input! {
    /// Replaces the gift: absent `image` removes its image, absent or false `retired` puts it
    /// back on offer. Orders already placed keep their points and address.
    pub struct GiftUpdateRequest {
        name: Text<{ admin::GIFT_NAME_MAX_CHARS }>,
        accumulate_points: Int<1, { admin::MAX_GIFT_POINTS }>,
        stock: Int<0, { admin::MAX_GIFT_STOCK }>,
        /// The id of an image you uploaded (`POST /api/images`), or of one a gift already shows.
        image: OptionalInt<1, { i64::MAX }>,
        /// A retired gift leaves `/api/gifts` and cannot be redeemed.
        retired: Flag,
        /// The stock as you last read it. When given and the stock has changed since
        /// (redemptions): a `stock` equal to it leaves the current stock as it is (the other
        /// fields are saved); any other `stock` changes nothing and the answer says so,
        /// instead of undoing those redemptions. The console always sends it.
        seen_stock: OptionalInt<0, { admin::MAX_GIFT_STOCK }>,
    }
}

pub(super) async fn update_gift(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Points>,
    PathId(gift_id): PathId,
    Input(request): Input<GiftUpdateRequest>,
) -> AppResult<PrintDone> {
    let gift = NewGift::new(
        &request.name,
        request.accumulate_points,
        request.stock,
        request.image,
    )?;
    admin::update_gift(
        &state,
        actor,
        gift_id,
        gift,
        request.retired,
        request.seen_stock,
    )
    .await?;
    Ok(PrintDone::new("礼品已更新"))
}

input! {
    pub struct StatsQuery {
        /// Days up to today (default 30).
        days: OptionalInt<1, { admin::MAX_STATS_DAYS }>,
    }
}

pub(super) async fn stats(
    State(state): State<AppState>,
    _: Admin<needs::DataCentre>,
    Input(query): Input<StatsQuery>,
) -> AppResult<PrintOk<views::StatsView>> {
    let days = query.days.unwrap_or(admin::DEFAULT_STATS_DAYS);
    let stats = admin::stats(&state, days).await?;
    Ok(PrintOk::new(views::StatsView::of(&stats)))
}
