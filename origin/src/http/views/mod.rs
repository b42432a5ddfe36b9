//! What the handlers answer with, as types: each one is serialized into the `data` of its
//! dialect's envelope and described by the same derive in the OpenAPI documents, so the
//! documents cannot disagree with the bodies (see `http::openapi`).
//!
//! Times are RFC 3339 strings in the configured offset; money is a decimal string with two
//! places (`"12.50"`); points are integers.

use serde::Serialize;
use shared::money::format_cents;
use shared::pagination::Paged;
use time::UtcOffset;
use utoipa::ToSchema;

use crate::clock;
use crate::db::addresses::AddressRow;
use crate::db::audit::AuditRow;
use crate::db::comments::CommentRow;
use crate::db::coupons::CouponRow;
use crate::db::deliveries::DeliveryRow;
use crate::db::gifts::{GiftOrderRow, GiftRow};
use crate::db::ledgers::Entry;
use crate::db::messages::MessageRow;
use crate::db::outbox::OutboxRow;
use crate::db::recharge::RechargeRow;
use crate::db::roles::RoleRow;
use crate::db::sessions::SessionRow;
use crate::db::uploads::{UploadRow, UserUploadRow};
use crate::db::users::UserRow;
use crate::domain::admin::{AdminUser, UserDetail};
use crate::domain::identity::{Invitation, IssuedTokens};
use crate::domain::profile::Profile;
use crate::storage::src_of;

mod admin;
mod admin_orders;
mod commerce;
mod member;
mod profile;
mod store;

pub use admin::*;
pub use admin_orders::*;
pub use commerce::*;
pub use member::*;
pub use profile::*;
pub use store::*;

/// A page of rows (print lists): Laravel-style meta beside the rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Rows on this page.
    pub count: u64,
    /// Rows on all pages.
    pub total: u64,
    pub current_page: u32,
    pub last_page: u64,
    pub has_more_pages: bool,
}

impl<T> Page<T> {
    pub fn of<R>(page: Paged<R>, view: impl Fn(&R) -> T) -> Page<T> {
        Page {
            data: page.data.iter().map(view).collect(),
            count: page.count,
            total: page.total,
            current_page: page.current_page,
            last_page: page.last_page,
            has_more_pages: page.has_more_pages,
        }
    }
}

/// Every view can stand in an answer's `data` (`http::reply::View`).
macro_rules! views {
    ($($view:ident),* $(,)?) => {
        $(impl crate::http::reply::View for $view {})*
    };
}

views!(
    Captcha,
    StoreUser,
    StoreToken,
    StoreRegistered,
    StoreAddress,
    VerificationToken,
    PrintTokens,
    MemberLevelView,
    PrintSelf,
    PrintAddress,
    Image,
    File,
    UserRef,
    Message,
    Count,
    Coupon,
    PointsRecord,
    BalanceRecord,
    GoodsRef,
    CommentAuthor,
    Created,
    Comment,
    Gift,
    OrderNo,
    ShipTo,
    GiftRef,
    GiftOrder,
    RechargeCreated,
    RechargeOrder,
    OutboxEntry,
    DeliveryEntry,
    InvitationCode,
    AdminUserView,
    PointsSurplus,
    BalanceSurplus,
    Recipients,
    AuditActor,
    AuditEntry,
    Role,
    SignInModesView,
    AdminUserDetail,
    AdminSession,
    RevokedSessions,
    Unlocked,
    UserMessage,
    UserUpload,
    OrderUser,
    AdminRechargeView,
    AdminGiftOrderView,
    AdminGoodsView,
    AdminGiftView,
    DayStatsView,
    StatsView
);
