//! 审计日志 and 通知记录: what operators did, and what was sent to whom.

use askama::Template;
use axum::extract::State;

use super::session::Query;
use super::users::{Pager, query_string};
use super::{ConsoleResult, Layout, Staff, render};
use crate::AppState;
use crate::domain::admin;
use crate::http::admin::needs;
use crate::http::deliveries::DeliveriesQuery;
use crate::http::input::PageQuery;
use crate::http::views::{AuditEntry, DeliveryEntry};

/// An audit entry with its detail laid out for reading.
pub struct AuditLine {
    pub entry: AuditEntry,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<AuditLine>,
    pager: Pager,
}

/// `GET /console/audit`: the audit log, newest first (数据中心).
pub async fn list(
    State(state): State<AppState>,
    staff: Staff<needs::DataCentre>,
    Query(query): Query<PageQuery>,
) -> ConsoleResult {
    let page = admin::audit_log(&state, query.page).await?;
    let offset = state.config.time_offset;
    let pager = Pager::of(&page, |n| format!("/console/audit?page={n}"));
    let entries = page
        .data
        .iter()
        .map(|row| {
            let entry = AuditEntry::of(row, offset);
            let detail = serde_json::to_string_pretty(&entry.detail).unwrap_or_default();
            AuditLine { entry, detail }
        })
        .collect();
    Ok(render(&AuditPage {
        layout: Layout::new(&staff.operator, "audit"),
        entries,
        pager,
    }))
}

#[derive(Template)]
#[template(path = "console/deliveries.html")]
struct DeliveriesPage {
    layout: Layout,
    to: String,
    channel: String,
    status: String,
    entries: Vec<DeliveryEntry>,
    pager: Pager,
}

/// `GET /console/deliveries`: the notification log (客服工具管理); each read is audited like
/// the API's. Codes are never part of it.
pub async fn deliveries(
    State(state): State<AppState>,
    staff: Staff<needs::SupportTools>,
    Query(query): Query<DeliveriesQuery>,
) -> ConsoleResult {
    let filter = query.filter();
    let to = query.to.clone().unwrap_or_default();
    let channel = query.channel.clone().unwrap_or_default();
    let status = query.status.clone().unwrap_or_default();
    let page = admin::read_deliveries(&state, staff.actor, filter, query.page).await?;
    let offset = state.config.time_offset;
    let pager = Pager::of(&page, |n| {
        let n = n.to_string();
        let pairs = [
            ("to", to.as_str()),
            ("channel", &channel),
            ("status", &status),
            ("page", &n),
        ];
        format!("/console/deliveries?{}", query_string(&pairs))
    });
    Ok(render(&DeliveriesPage {
        layout: Layout::new(&staff.operator, "deliveries"),
        entries: page
            .data
            .iter()
            .map(|row| DeliveryEntry::of(row, offset))
            .collect(),
        to,
        channel,
        status,
        pager,
    }))
}
