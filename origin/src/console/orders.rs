//! 发货 (the shipping queue: filters, ship form, CSV export) and 充值订单 (recharge orders), by
//! the admin API's own queries and domain functions.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};

use super::session::Query;
use super::users::{Pager, query_string};
use super::{ConsoleResult, Form, Layout, Staff, render};
use crate::AppState;
use crate::domain::admin;
use crate::http::admin::needs;
use crate::http::admin::orders::{
    Csv, GiftOrdersExportQuery, GiftOrdersQuery, RechargeOrdersQuery,
};
use crate::http::input::{OptionalText, Text};
use crate::http::views::{AdminGiftOrderView, AdminRechargeView};
use crate::input;

/// The filters as the page's form shows them again (and its links carry them).
#[derive(Default)]
pub struct Filters {
    pub status: String,
    pub user_id: String,
    pub q: String,
    pub pay_type: String,
    pub from: String,
    pub to: String,
}

impl Filters {
    fn query(&self, page: Option<u32>) -> String {
        let page = page.map(|n| n.to_string()).unwrap_or_default();
        query_string(&[
            ("status", &self.status),
            ("user_id", &self.user_id),
            ("q", &self.q),
            ("pay_type", &self.pay_type),
            ("from", &self.from),
            ("to", &self.to),
            ("page", &page),
        ])
    }
}

fn shown<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map(T::to_string).unwrap_or_default()
}

#[derive(Template)]
#[template(path = "console/gift_orders.html")]
struct GiftOrdersPage {
    layout: Layout,
    filters: Filters,
    /// The filters as a query string, for the export link and the ship forms' way back.
    here: String,
    orders: Vec<AdminGiftOrderView>,
    pager: Pager,
}

fn gift_filters(query: &GiftOrdersQuery) -> Filters {
    Filters {
        status: shown(&query.status),
        user_id: shown(&query.user_id),
        q: query.q.clone().unwrap_or_default(),
        from: shown(&query.from),
        to: shown(&query.to),
        ..Filters::default()
    }
}

/// `GET /console/gift_orders`: the shipping queue (配送管理) — unshipped first, oldest first.
pub async fn gift_orders(
    State(state): State<AppState>,
    staff: Staff<needs::Delivery>,
    Query(query): Query<GiftOrdersQuery>,
) -> ConsoleResult {
    let offset = state.config.time_offset;
    let filters = gift_filters(&query);
    let page = admin::gift_orders(&state, query.filter(offset)?, query.page).await?;
    let pager = Pager::of(&page, |n| {
        format!("/console/gift_orders?{}", filters.query(Some(n)))
    });
    Ok(render(&GiftOrdersPage {
        layout: Layout::new(&staff.operator, "shipping"),
        here: filters.query(None),
        filters,
        orders: page
            .data
            .iter()
            .map(|row| AdminGiftOrderView::of(row, offset))
            .collect(),
        pager,
    }))
}

input! {
    pub struct ShipForm {
        express_company: Text<50>,
        tracking_no: Text<50>,
        /// The queue's filters, to return to.
        back: OptionalText<500>,
    }
}

/// The queue's address with `back`'s filters, if they read as filters; the path is fixed, so
/// no form can send the browser elsewhere.
fn back_to_queue(back: Option<&str>) -> String {
    let filters = back
        .filter(|back| {
            back.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=&%-_.+".contains(&b))
        })
        .unwrap_or_default();
    if filters.is_empty() {
        "/console/gift_orders".to_owned()
    } else {
        format!("/console/gift_orders?{filters}")
    }
}

/// `POST /console/gift_orders/{id}/ship`: marks the order shipped (the admin API's action:
/// audited, the user sees it on their next read), then back to the queue.
pub async fn ship(
    State(state): State<AppState>,
    staff: Staff<needs::Delivery>,
    Path(order_id): Path<i64>,
    Form(form): Form<ShipForm>,
) -> ConsoleResult {
    admin::ship_gift_order(
        &state,
        staff.actor,
        order_id,
        form.express_company,
        form.tracking_no,
    )
    .await?;
    Ok(Redirect::to(&back_to_queue(form.back.as_deref())).into_response())
}

/// `GET /console/gift_orders/export`: the filtered queue as CSV for Excel; audited as a read
/// of personal data, like the API's export.
pub async fn export(
    State(state): State<AppState>,
    staff: Staff<needs::Delivery>,
    headers: axum::http::HeaderMap,
    Query(query): Query<GiftOrdersExportQuery>,
) -> ConsoleResult {
    super::session::fetched_by_console(&headers)?;
    let offset = state.config.time_offset;
    let rows = admin::export_gift_orders(&state, staff.actor, query.filter(offset)?).await?;
    Ok(Csv::of_gift_orders(&rows, offset).into_response())
}

#[derive(Template)]
#[template(path = "console/recharge_orders.html")]
struct RechargeOrdersPage {
    layout: Layout,
    filters: Filters,
    orders: Vec<AdminRechargeView>,
    pager: Pager,
}

/// `GET /console/recharge_orders`: recharge orders with status, provider, the provider's trade
/// number and paid time, filtered by status, pay type, user and days (财务管理).
pub async fn recharge_orders(
    State(state): State<AppState>,
    staff: Staff<needs::Finance>,
    Query(query): Query<RechargeOrdersQuery>,
) -> ConsoleResult {
    let offset = state.config.time_offset;
    let filters = Filters {
        status: shown(&query.status.map(|s| s.as_str())),
        user_id: shown(&query.user_id),
        pay_type: query.pay_type.clone().unwrap_or_default(),
        from: shown(&query.from),
        to: shown(&query.to),
        ..Filters::default()
    };
    let page = admin::recharge_orders(&state, query.filter(offset)?, query.page).await?;
    let pager = Pager::of(&page, |n| {
        format!("/console/recharge_orders?{}", filters.query(Some(n)))
    });
    Ok(render(&RechargeOrdersPage {
        layout: Layout::new(&staff.operator, "recharges"),
        filters,
        orders: page
            .data
            .iter()
            .map(|row| AdminRechargeView::of(row, offset))
            .collect(),
        pager,
    }))
}
