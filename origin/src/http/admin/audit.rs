//! The audit log (数据中心): a filtered page of it, and one entry with its full detail.

use axum::extract::State;

use super::orders::Day;
use super::{Admin, needs};
use crate::AppState;
use crate::domain::admin::{self, AUDIT_FILTER_MAX_CHARS, AuditQuery};
use crate::error::AppResult;
use crate::http::input::{Input, OptionalInt, OptionalText, Paging};
use crate::http::path::PathId;
use crate::http::reply::PrintOk;
use crate::http::views::{self, Page};
use crate::input;

input! {
    pub struct AuditLogQuery {
        /// The actor's name (`cli`, an account, phone or e-mail) or user id.
        actor: OptionalText<AUDIT_FILTER_MAX_CHARS>,
        /// The action, exactly (`user.points`).
        action: OptionalText<AUDIT_FILTER_MAX_CHARS>,
        /// The user acted on.
        user_id: OptionalInt<1, { i64::MAX }>,
        /// From the start of this day (`2026-01-31`), in the server's time offset.
        from: Day,
        /// To the end of this day, in the server's time offset.
        to: Day,
        page: Paging,
    }
}

/// `GET /admin/audit_log`.
pub(super) async fn audit_log(
    State(state): State<AppState>,
    _: Admin<needs::DataCentre>,
    Input(query): Input<AuditLogQuery>,
) -> AppResult<PrintOk<Page<views::AuditEntry>>> {
    let filter = AuditQuery {
        actor: query.actor,
        action: query.action,
        user_id: query.user_id,
        from: query.from,
        to: query.to,
    };
    let page = admin::search_audit_log(&state, filter, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |row| {
        views::AuditEntry::of(row, offset)
    })))
}

/// `GET /admin/audit_log/{id}`.
pub(super) async fn audit_entry(
    State(state): State<AppState>,
    _: Admin<needs::DataCentre>,
    PathId(id): PathId,
) -> AppResult<PrintOk<views::AuditEntry>> {
    let row = admin::audit_entry(&state, id).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(views::AuditEntry::of(&row, offset)))
}
