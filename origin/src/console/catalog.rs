//! 商品 (商品管理), 礼品 (积分管理, as the API) and the 数据中心 dashboard: lists, create and
//! edit forms (retiring included) and a gift's image upload, by the admin API's own inputs and
//! domain actions (`goods.create`, `goods.update`, `gift.create`, `gift.update`, each audited
//! there), and the dashboard's figures with charts drawn on the server (inline SVG, no script).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use shared::Problem;

use super::session::{Once, Query};
use super::upload::{IMAGE_FIELD, ImageForm};
use super::users::{NoticeQuery, Pager};
use super::{ConsoleError, ConsoleResult, Form, Layout, Staff, render, render_with};
use crate::AppState;
use crate::db::uploads::Kind;
use crate::domain::admin::{self, NewGift, NewGoods};
use crate::domain::uploads::{self, Received};
use crate::http::admin::catalog::{GiftRequest, GoodsRequest};
use crate::http::admin::needs;
use crate::http::admin::orders::{
    CatalogueQuery, GiftUpdateRequest, GoodsUpdateRequest, StatsQuery,
};
use crate::http::input::FromParams;
use crate::http::params::Params;
use crate::http::path::PathText;
use crate::http::views::{AdminGiftView, AdminGoodsView, DayStatsView, StatsView};

// ---- Forms shown again ---------------------------------------------------------------------

/// What the operator typed, to show a refused form again as it was.
pub struct Typed(Params);

impl Typed {
    pub fn value(&self, name: &str) -> &str {
        self.0.get(name).unwrap_or_default()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.0.flag(name).unwrap_or(false)
    }

    fn set(&mut self, name: &str, value: String) {
        self.0.push(name, value);
    }
}

/// A form's fields as typed and what `T`'s rules (the admin API's input) make of them: a
/// refusal is shown on the form again, with the API's message, instead of an error page.
pub struct Attempt<T> {
    typed: Typed,
    outcome: Result<T, Problem>,
}

impl<T: FromParams> FromParams for Attempt<T> {
    fn from_params(params: &Params) -> Result<Self, Problem> {
        Ok(Attempt {
            typed: Typed(params.clone()),
            outcome: T::from_params(params),
        })
    }
}

/// The status a refusal is answered with (400 for bad input), as the API answers it.
fn status_of(problem: &Problem) -> StatusCode {
    StatusCode::from_u16(problem.render(shared::Dialect::Print).status)
        .unwrap_or(StatusCode::BAD_REQUEST)
}

/// A refusal of the domain to show on the form (bad input, a missing image), or the error
/// page for the rest (not found, a failure).
fn refusal(error: origin_core::Error) -> Result<Problem, ConsoleError> {
    match error {
        origin_core::Error::Problem(problem, _)
            if problem != Problem::NotFound && status_of(&problem).is_client_error() =>
        {
            Ok(problem)
        }
        other => Err(other.into()),
    }
}

/// A notice named by a fixed key in the address (never text from the address itself).
fn notice(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "goods_created" => "商品已创建，已记入审计日志。",
        "goods_updated" => "商品已更新，已记入审计日志。",
        "gift_created" => "礼品已创建，已记入审计日志。",
        "gift_updated" => "礼品已更新，已记入审计日志。",
        _ => return None,
    };
    Some(text.to_owned())
}

/// A catalogue page's query: the page and the notice of the action that led there.
pub struct Listing {
    page: CatalogueQuery,
    done: Option<String>,
}

impl FromParams for Listing {
    fn from_params(params: &Params) -> Result<Self, Problem> {
        Ok(Listing {
            page: CatalogueQuery::from_params(params)?,
            done: NoticeQuery::from_params(params)?.done,
        })
    }
}

fn done(path: &str, key: &str) -> Response {
    Redirect::to(&format!("{path}?done={key}")).into_response()
}

// ---- 商品 --------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "console/goods.html")]
struct GoodsPage {
    layout: Layout,
    goods: Vec<AdminGoodsView>,
    pager: Pager,
}

/// `GET /console/goods`: every goods, retired ones included, newest first, each with its edit
/// form; and the form to create one (商品管理).
pub async fn goods(
    State(state): State<AppState>,
    staff: Staff<needs::Goods>,
    Query(query): Query<Listing>,
) -> ConsoleResult {
    let page = admin::list_goods(&state, query.page.page).await?;
    let offset = state.config.time_offset;
    let pager = Pager::of(&page, |n| format!("/console/goods?page={n}"));
    Ok(render(&GoodsPage {
        layout: Layout::new(&staff.operator, "goods").with_notice(notice(query.done.as_deref())),
        goods: page
            .data
            .iter()
            .map(|row| AdminGoodsView::of(row, offset))
            .collect(),
        pager,
    }))
}

#[derive(Template)]
#[template(path = "console/goods_form.html")]
struct GoodsFormPage {
    layout: Layout,
    /// The goods edited; `None` when creating.
    id: Option<i64>,
    typed: Typed,
    error: String,
}

fn goods_again(
    staff: &Staff<needs::Goods>,
    id: Option<i64>,
    typed: Typed,
    problem: Problem,
) -> Response {
    render_with(
        status_of(&problem),
        &GoodsFormPage {
            layout: Layout::new(&staff.operator, "goods"),
            id,
            typed,
            error: problem.message(),
        },
    )
}

/// `POST /console/goods`: `POST /admin/goods`'s input and action.
pub async fn goods_create(
    State(state): State<AppState>,
    staff: Staff<needs::Goods>,
    Form(attempt): Form<Attempt<Once<GoodsRequest>>>,
) -> ConsoleResult {
    let checked = attempt.outcome.and_then(|Once { value, key }| {
        NewGoods::new(&value.name, value.price).map(|goods| (goods, key))
    });
    let (goods, key) = match checked {
        Ok(checked) => checked,
        Err(problem) => return Ok(goods_again(&staff, None, attempt.typed, problem)),
    };
    // A double click or a re-posted form creates the goods once (`Once`).
    match admin::create_goods(&state, staff.actor.clone().submitting(key), goods).await {
        Ok(_) => Ok(done("/console/goods", "goods_created")),
        Err(error) => Ok(goods_again(&staff, None, attempt.typed, refusal(error)?)),
    }
}

/// `POST /console/goods/{id}`: `PUT /admin/goods/{id}`'s input and action — name, price, and
/// 下架 (retired) as a checkbox.
pub async fn goods_update(
    State(state): State<AppState>,
    staff: Staff<needs::Goods>,
    Path(goods_id): Path<i64>,
    Form(attempt): Form<Attempt<GoodsUpdateRequest>>,
) -> ConsoleResult {
    let checked = attempt.outcome.and_then(|request| {
        NewGoods::new(&request.name, request.price).map(|goods| (goods, request.retired))
    });
    let (goods, retired) = match checked {
        Ok(checked) => checked,
        Err(problem) => return Ok(goods_again(&staff, Some(goods_id), attempt.typed, problem)),
    };
    match admin::update_goods(&state, staff.actor.clone(), goods_id, goods, retired).await {
        Ok(()) => Ok(done("/console/goods", "goods_updated")),
        Err(error) => Ok(goods_again(
            &staff,
            Some(goods_id),
            attempt.typed,
            refusal(error)?,
        )),
    }
}

// ---- 礼品 --------------------------------------------------------------------------------

/// A gift as the list shows it: the API's view, and where the console shows its image.
pub struct GiftLine {
    pub gift: AdminGiftView,
    /// `/console/gifts/images/{key}`, the image served on this listener to operators.
    pub thumbnail: Option<String>,
}

#[derive(Template)]
#[template(path = "console/gifts.html")]
struct GiftsPage {
    layout: Layout,
    gifts: Vec<GiftLine>,
    pager: Pager,
    image_field: &'static str,
}

const STORAGE_PREFIX: &str = "/api/storage/";

/// `GET /console/gifts`: every gift, retired ones included, newest first, each with its image,
/// its public path and its edit form; and the form to create one (积分管理).
pub async fn gifts(
    State(state): State<AppState>,
    staff: Staff<needs::Points>,
    Query(query): Query<Listing>,
) -> ConsoleResult {
    let page = admin::list_gifts(&state, query.page.page).await?;
    let offset = state.config.time_offset;
    let pager = Pager::of(&page, |n| format!("/console/gifts?page={n}"));
    let gifts = page
        .data
        .iter()
        .map(|row| {
            let gift = AdminGiftView::of(row, offset);
            let thumbnail = gift
                .image
                .as_ref()
                .and_then(|image| image.src.strip_prefix(STORAGE_PREFIX))
                .map(|key| format!("/console/gifts/images/{key}"));
            GiftLine { gift, thumbnail }
        })
        .collect();
    Ok(render(&GiftsPage {
        layout: Layout::new(&staff.operator, "gifts").with_notice(notice(query.done.as_deref())),
        gifts,
        pager,
        image_field: IMAGE_FIELD,
    }))
}

#[derive(Template)]
#[template(path = "console/gift_form.html")]
struct GiftFormPage {
    layout: Layout,
    id: Option<i64>,
    typed: Typed,
    error: String,
    image_field: &'static str,
}

fn gift_again(
    staff: &Staff<needs::Points>,
    id: Option<i64>,
    typed: Typed,
    problem: Problem,
) -> Response {
    render_with(
        status_of(&problem),
        &GiftFormPage {
            layout: Layout::new(&staff.operator, "gifts"),
            id,
            typed,
            error: problem.message(),
            image_field: IMAGE_FIELD,
        },
    )
}

/// Stores the chosen file as the operator's own image upload (`POST /api/images`'s function:
/// the same quota, daily count and disk reserve); its id.
async fn store_image(
    state: &AppState,
    staff: &Staff<needs::Points>,
    image: Option<Received>,
) -> ConsoleResult<Option<i64>> {
    let Some(image) = image else {
        return Ok(None);
    };
    let rows = uploads::save(state, staff.operator.user_id, Kind::Image, vec![image]).await?;
    Ok(rows.first().map(|row| row.id))
}

/// A gift form's checked fields: the API's rules ([`NewGift`]) passed before anything is
/// stored, the image chosen (a new file wins over the `image` id typed).
struct CheckedGift {
    name: String,
    accumulate_points: i64,
    stock: i64,
    image: Option<i64>,
    retired: bool,
    /// A create form's one-time key.
    once: Option<String>,
    /// An edit form's stock as the page showed it.
    seen_stock: Option<i64>,
}

impl CheckedGift {
    fn gift(&self, image: Option<i64>) -> Result<NewGift, Problem> {
        NewGift::new(&self.name, self.accumulate_points, self.stock, image)
    }
}

/// The gift form's end: the file (if any) stored as an upload, then `write` with the gift.
async fn save_gift<F, Fut>(
    state: &AppState,
    staff: &Staff<needs::Points>,
    id: Option<i64>,
    mut typed: Typed,
    checked: Result<CheckedGift, Problem>,
    image: Option<Received>,
    write: F,
) -> ConsoleResult
where
    F: FnOnce(NewGift, bool) -> Fut,
    Fut: std::future::Future<Output = origin_core::Result<&'static str>>,
{
    let checked = match checked.and_then(|gift| gift.gift(gift.image).map(|_| gift)) {
        Ok(checked) => checked,
        // Refused before anything is stored: the received file is dropped with its request.
        Err(problem) => return Ok(gift_again(staff, id, typed, problem)),
    };
    // A re-posted create form is refused by `write` whatever it carries: its file is not
    // stored again (a second upload row, a second count against the operator's day).
    let repeated = match checked.once.clone() {
        Some(key) => admin::form_submitted(state, key).await?,
        None => false,
    };
    let image = if repeated { None } else { image };
    let image = match store_image(state, staff, image).await? {
        Some(uploaded) => {
            // Shown on the form again if the gift is refused, so the file is not sent twice.
            typed.set("image", uploaded.to_string());
            Some(uploaded)
        }
        None => checked.image,
    };
    let gift = checked.gift(image)?;
    match write(gift, checked.retired).await {
        Ok(key) => Ok(done("/console/gifts", key)),
        Err(error) => Ok(gift_again(staff, id, typed, refusal(error)?)),
    }
}

/// `POST /console/gifts`: `POST /admin/gifts`'s input and action; an image file chosen on the
/// form is stored first as the operator's upload and becomes the gift's `image`.
pub async fn gift_create(
    State(state): State<AppState>,
    staff: Staff<needs::Points>,
    form: ImageForm<Attempt<Once<GiftRequest>>>,
) -> ConsoleResult {
    let Attempt { typed, outcome } = form.fields;
    let (checked, key) = match outcome {
        Ok(Once { value, key }) => (Ok(value), Some(key)),
        Err(problem) => (Err(problem), None),
    };
    let checked = checked.map(|request| CheckedGift {
        name: request.name,
        accumulate_points: request.accumulate_points,
        stock: request.stock,
        image: request.image,
        retired: false,
        once: key.clone(),
        seen_stock: None,
    });
    // A double click or a re-posted form creates the gift once (`Once`).
    let actor = match key {
        Some(key) => staff.actor.clone().submitting(key),
        None => staff.actor.clone(),
    };
    let write = |gift, _| {
        let state = state.clone();
        async move {
            admin::create_gift(&state, actor, gift).await?;
            Ok("gift_created")
        }
    };
    save_gift(&state, &staff, None, typed, checked, form.image, write).await
}

/// `POST /console/gifts/{id}`: `PUT /admin/gifts/{id}`'s input and action — every field
/// replaced (an `image` left blank removes the image), 下架 (retired) as a checkbox.
pub async fn gift_update(
    State(state): State<AppState>,
    staff: Staff<needs::Points>,
    Path(gift_id): Path<i64>,
    form: ImageForm<Attempt<GiftUpdateRequest>>,
) -> ConsoleResult {
    let Attempt { typed, outcome } = form.fields;
    let checked = outcome.map(|request| CheckedGift {
        name: request.name,
        accumulate_points: request.accumulate_points,
        stock: request.stock,
        image: request.image,
        retired: request.retired,
        once: None,
        seen_stock: request.seen_stock,
    });
    let actor = staff.actor.clone();
    let seen_stock = checked.as_ref().ok().and_then(|gift| gift.seen_stock);
    // A new stock on one that redemptions moved since the page was shown: say so before a
    // chosen file is stored (the domain checks again inside its transaction).
    if let Ok(CheckedGift {
        seen_stock: Some(seen),
        stock,
        ..
    }) = &checked
        && let Err(error) = admin::check_stock_seen(&state, gift_id, *seen, *stock).await
    {
        return Err(match refusal(error) {
            Ok(problem) => ConsoleError::Moved(problem.message()),
            Err(error) => error,
        });
    }
    let write = |gift, retired| {
        let state = state.clone();
        async move {
            admin::update_gift(&state, actor, gift_id, gift, retired, seen_stock).await?;
            Ok("gift_updated")
        }
    };
    save_gift(
        &state,
        &staff,
        Some(gift_id),
        typed,
        checked,
        form.image,
        write,
    )
    .await
}

/// `GET /console/gifts/images/{key}`: a stored image, for the gift list's thumbnails (the
/// public `/api/storage/{key}` is on the public listener, which the console's pages cannot
/// name: the admin listener is another origin). Images only; anything else is not found.
pub async fn gift_image(
    State(state): State<AppState>,
    _: Staff<needs::Points>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> ConsoleResult {
    let stored = crate::http::uploads::storage(State(state), PathText(key), headers).await?;
    let response = stored.into_response();
    let is_image = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("image/"));
    if response.status() == StatusCode::OK && !is_image {
        return Err(ConsoleError::NotFound);
    }
    Ok(response)
}

// ---- 数据中心 ------------------------------------------------------------------------------

/// One bar of a chart, in the chart's own units (a 100-high box, 10 wide per day).
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub height: u32,
    /// The tooltip: the day and its figure.
    pub label: String,
}

/// A bar chart of one figure per day, drawn on the server as SVG shapes.
pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    /// The tallest figure, as written in the table.
    pub max: String,
    pub width: u32,
    pub bars: Vec<Bar>,
}

/// The chart's height in its own units.
const CHART_HEIGHT: u32 = 100;
/// Each day's slot, of which the bar takes all but a gap.
const SLOT: u32 = 10;
pub const BAR_WIDTH: u32 = 8;

impl Chart {
    /// `days`: each day's date, figure, and figure as the table writes it; oldest first.
    fn of(id: &'static str, title: &'static str, days: Vec<(String, u64, String)>) -> Chart {
        let max = days.iter().map(|(_, value, _)| *value).max().unwrap_or(0);
        let tallest = days
            .iter()
            .find(|(_, value, _)| *value == max)
            .map_or_else(|| "0".to_owned(), |(_, _, written)| written.clone());
        let width = (days.len() as u32 * SLOT).max(SLOT);
        let bars = days
            .into_iter()
            .enumerate()
            .map(|(index, (date, value, written))| {
                // Proportional to the tallest, and never invisible when not zero.
                let height = if max == 0 {
                    0
                } else {
                    (value.saturating_mul(u64::from(CHART_HEIGHT))).div_ceil(max) as u32
                };
                Bar {
                    x: index as u32 * SLOT + (SLOT - BAR_WIDTH) / 2,
                    y: CHART_HEIGHT - height,
                    height,
                    label: format!("{date}：{written}"),
                }
            })
            .collect();
        Chart {
            id,
            title,
            max: tallest,
            width,
            bars,
        }
    }
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    days: i64,
    choices: [i64; 3],
    stats: StatsView,
    /// The days newest first, for the table.
    newest_first: Vec<DayStatsView>,
    charts: Vec<Chart>,
    totals: Totals,
    bar_width: u32,
}

pub struct Totals {
    pub sign_ups: u64,
    pub paid_recharges: u64,
    pub paid_amount: String,
    pub gift_redemptions: u64,
}

/// `GET /console/dashboard?days=`: `GET /admin/stats` over 7, 30 or 90 days (any 1 to 90 by the
/// API's rule): pending shipments and delivery failures first, charts, then the figures per
/// day (数据中心).
pub async fn dashboard(
    State(state): State<AppState>,
    staff: Staff<needs::DataCentre>,
    Query(query): Query<StatsQuery>,
) -> ConsoleResult {
    let days = query.days.unwrap_or(admin::DEFAULT_STATS_DAYS);
    let stats = admin::stats(&state, days).await?;
    let paid_cents: i64 = stats.days.iter().map(|day| day.paid_cents).sum();
    let totals = Totals {
        sign_ups: stats.days.iter().map(|day| day.sign_ups).sum(),
        paid_recharges: stats.days.iter().map(|day| day.paid_recharges).sum(),
        paid_amount: shared::money::format_cents(paid_cents),
        gift_redemptions: stats.days.iter().map(|day| day.gift_redemptions).sum(),
    };
    let chart = |id,
                 title,
                 figure: fn(&admin::DayStats) -> u64,
                 written: fn(&admin::DayStats) -> String| {
        let days = stats
            .days
            .iter()
            .map(|day| (day.date.to_string(), figure(day), written(day)))
            .collect();
        Chart::of(id, title, days)
    };
    let charts = vec![
        chart(
            "chart-sign-ups",
            "注册",
            |day| day.sign_ups,
            |day| day.sign_ups.to_string(),
        ),
        chart(
            "chart-recharges",
            "充值金额（元）",
            |day| day.paid_cents.max(0) as u64,
            |day| shared::money::format_cents(day.paid_cents),
        ),
        chart(
            "chart-redemptions",
            "礼品兑换",
            |day| day.gift_redemptions,
            |day| day.gift_redemptions.to_string(),
        ),
        chart(
            "chart-failures",
            "通知失败",
            |day| day.delivery_failures,
            |day| day.delivery_failures.to_string(),
        ),
    ];
    let mut newest_first = StatsView::of(&stats).days;
    newest_first.reverse();
    let stats = StatsView::of(&stats);
    Ok(render(&DashboardPage {
        layout: Layout::new(&staff.operator, "dashboard"),
        days,
        choices: [7, 30, 90],
        stats,
        newest_first,
        charts,
        totals,
        bar_width: BAR_WIDTH,
    }))
}
