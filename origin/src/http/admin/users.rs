//! The back office's view of one user: profile, sign-in modes and roles; sessions, and ending
//! them, and unlocking them; the points and balance ledgers, coupons, messages and uploads. The reads and the two
//! revocations are `domain::admin::user_reads`, which the web console calls too.

use axum::extract::State;

use super::{Admin, needs};
use crate::AppState;
use crate::db::ledgers::Ledger;
use crate::domain::admin;
use crate::error::AppResult;
use crate::http::input::{Input, PageQuery};
use crate::http::path::{PathId, PathIdText};
use crate::http::reply::{PrintDone, PrintOk};
use crate::http::views::{self, Page};

/// `GET /admin/users/{id}`.
pub(super) async fn user_detail(
    State(state): State<AppState>,
    _: Admin<needs::Users>,
    PathId(user_id): PathId,
) -> AppResult<PrintOk<views::AdminUserDetail>> {
    let user = admin::user_detail(&state, user_id).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(views::AdminUserDetail::of(&user, offset)))
}

/// `GET /admin/users/{id}/sessions`.
pub(super) async fn user_sessions(
    State(state): State<AppState>,
    _: Admin<needs::Users>,
    PathId(user_id): PathId,
) -> AppResult<PrintOk<Vec<views::AdminSession>>> {
    let sessions = admin::user_sessions(&state, user_id).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(
        sessions
            .iter()
            .map(|row| views::AdminSession::of(row, offset))
            .collect(),
    ))
}

/// `DELETE /admin/users/{id}/sessions`.
pub(super) async fn revoke_user_sessions(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Users>,
    PathId(user_id): PathId,
) -> AppResult<PrintOk<views::RevokedSessions>> {
    let revoked = admin::revoke_user_sessions(&state, actor, user_id).await?;
    Ok(PrintOk::new(views::RevokedSessions { revoked }))
}

/// `POST /admin/users/{id}/unlock`.
pub(super) async fn unlock_user(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Users>,
    PathId(user_id): PathId,
) -> AppResult<PrintOk<views::Unlocked>> {
    let unlocked = admin::unlock_user(&state, actor, user_id).await?;
    Ok(PrintOk::new(views::Unlocked {
        password_was_locked: unlocked.password_was_locked,
        code_channels: unlocked.code_channels,
    }))
}

/// `DELETE /admin/users/{id}/sessions/{sid}`.
pub(super) async fn revoke_user_session(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Users>,
    PathIdText(user_id, sid): PathIdText,
) -> AppResult<PrintDone> {
    admin::revoke_user_session(&state, actor, user_id, sid).await?;
    Ok(PrintDone::new("会话已撤销"))
}

/// `GET /admin/users/{id}/points_ledger`.
pub(super) async fn points_ledger(
    State(state): State<AppState>,
    _: Admin<needs::Points>,
    PathId(user_id): PathId,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::PointsRecord>>> {
    let page = admin::user_ledger(&state, user_id, Ledger::Points, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |entry| {
        views::PointsRecord::of(entry, offset)
    })))
}

/// `GET /admin/users/{id}/balance_ledger`.
pub(super) async fn balance_ledger(
    State(state): State<AppState>,
    _: Admin<needs::Finance>,
    PathId(user_id): PathId,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::BalanceRecord>>> {
    let page = admin::user_ledger(&state, user_id, Ledger::Balance, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |entry| {
        views::BalanceRecord::of(entry, offset)
    })))
}

/// `GET /admin/users/{id}/coupons`.
pub(super) async fn user_coupons(
    State(state): State<AppState>,
    _: Admin<needs::Coupons>,
    PathId(user_id): PathId,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::Coupon>>> {
    let page = admin::user_coupons(&state, user_id, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |coupon| {
        views::Coupon::of(coupon, offset)
    })))
}

/// `GET /admin/users/{id}/messages`.
pub(super) async fn user_messages(
    State(state): State<AppState>,
    _: Admin<needs::SupportTools>,
    PathId(user_id): PathId,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::UserMessage>>> {
    let page = admin::user_messages(&state, user_id, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |message| {
        views::UserMessage::of(message, offset)
    })))
}

/// `GET /admin/users/{id}/uploads`.
pub(super) async fn user_uploads(
    State(state): State<AppState>,
    _: Admin<needs::SupportTools>,
    PathId(user_id): PathId,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::UserUpload>>> {
    let page = admin::user_uploads(&state, user_id, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |upload| {
        views::UserUpload::of(upload, offset)
    })))
}
