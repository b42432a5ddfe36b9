//! 审计日志 and 通知记录: what operators did, and what was sent to whom.

use askama::Template;
use axum::extract::{Path, State};

use super::session::Query;
use super::users::{Pager, query_string};
use super::{ConsoleResult, Layout, Staff, render};
use crate::AppState;
use crate::domain::admin;
use crate::domain::admin::AuditQuery;
use crate::http::admin::audit::AuditLogQuery;
use crate::http::admin::needs;
use crate::http::deliveries::DeliveriesQuery;
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
    actor: String,
    action: String,
    user_id: String,
    from: String,
    to: String,
    entries: Vec<AuditLine>,
    pager: Pager,
}

/// `GET /console/audit`: the audit log, newest first, filtered by actor, action, target user
/// and days (数据中心), by the admin API's query and domain function.
pub async fn list(
    State(state): State<AppState>,
    staff: Staff<needs::DataCentre>,
    Query(query): Query<AuditLogQuery>,
) -> ConsoleResult {
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let day = |value: &Option<time::Date>| value.map(|d| d.to_string()).unwrap_or_default();
    let (actor, action) = (text(&query.actor), text(&query.action));
    let user_id = query.user_id.map(|id| id.to_string()).unwrap_or_default();
    let (from, to) = (day(&query.from), day(&query.to));
    let filter = AuditQuery {
        actor: query.actor,
        action: query.action,
        user_id: query.user_id,
        from: query.from,
        to: query.to,
    };
    let page = admin::search_audit_log(&state, filter, query.page).await?;
    let offset = state.config.time_offset;
    let pager = Pager::of(&page, |n| {
        let n = n.to_string();
        let pairs = [
            ("actor", actor.as_str()),
            ("action", &action),
            ("user_id", &user_id),
            ("from", &from),
            ("to", &to),
            ("page", &n),
        ];
        format!("/console/audit?{}", query_string(&pairs))
    });
    let entries = page.data.iter().map(|row| line(row, offset)).collect();
    Ok(render(&AuditPage {
        layout: Layout::new(&staff.operator, "audit"),
        actor,
        action,
        user_id,
        from,
        to,
        entries,
        pager,
    }))
}

fn line(row: &crate::db::audit::AuditRow, offset: time::UtcOffset) -> AuditLine {
    let entry = AuditEntry::of(row, offset);
    let detail = serde_json::to_string_pretty(&entry.detail).unwrap_or_default();
    AuditLine { entry, detail }
}

#[derive(Template)]
#[template(path = "console/audit_entry.html")]
struct AuditEntryPage {
    layout: Layout,
    line: AuditLine,
}

/// `GET /console/audit/{id}`: one entry and its whole detail.
pub async fn entry(
    State(state): State<AppState>,
    staff: Staff<needs::DataCentre>,
    Path(id): Path<i64>,
) -> ConsoleResult {
    let row = admin::audit_entry(&state, id).await?;
    Ok(render(&AuditEntryPage {
        layout: Layout::new(&staff.operator, "audit"),
        line: line(&row, state.config.time_offset),
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
    headers: axum::http::HeaderMap,
    Query(query): Query<DeliveriesQuery>,
) -> ConsoleResult {
    super::session::fetched_by_console(&headers)?;
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
