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
use crate::db::gifts::{GiftOrderRow, GiftRow};
use crate::db::ledgers::Entry;
use crate::db::messages::MessageRow;
use crate::db::outbox::OutboxRow;
use crate::db::recharge::RechargeRow;
use crate::db::roles::RoleRow;
use crate::db::uploads::UploadRow;
use crate::db::users::UserRow;
use crate::domain::admin::AdminUser;
use crate::domain::identity::{Invitation, IssuedTokens};
use crate::domain::profile::Profile;
use crate::storage::src_of;

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

// ---- Store -------------------------------------------------------------------------------

/// `POST /api/captchas`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Captcha {
    pub captcha_key: String,
    pub expired_at: String,
    /// `data:image/png;base64,…`
    pub captcha_image_content: String,
}

/// The store's view of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreUser {
    pub id: i64,
    pub name: String,
    pub username: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub avatar: String,
    pub created_at: String,
}

impl StoreUser {
    pub fn of(user: &UserRow, offset: UtcOffset) -> StoreUser {
        StoreUser {
            id: user.id,
            name: user.nickname.clone(),
            username: user.account.clone(),
            phone: user.phone.clone(),
            email: user.email.clone(),
            avatar: user.avatar.clone(),
            created_at: clock::format(user.created_at, offset),
        }
    }
}

/// The store's token answer (login, refresh).
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreToken {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: i64,
}

impl StoreToken {
    pub fn of(tokens: &IssuedTokens) -> StoreToken {
        StoreToken {
            access_token: tokens.access_token.clone(),
            token_type: "bearer",
            expires_in: tokens.access_ttl_secs,
        }
    }
}

/// The store's registration answer: the token fields and the new user.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreRegistered {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    pub expires_in: i64,
    pub user: StoreUser,
}

impl StoreRegistered {
    pub fn of(tokens: &IssuedTokens, user: StoreUser) -> StoreRegistered {
        let token = StoreToken::of(tokens);
        StoreRegistered {
            access_token: token.access_token,
            token_type: token.token_type,
            expires_in: token.expires_in,
            user,
        }
    }
}

/// A shipping address as the store shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoreAddress {
    pub id: i64,
    pub province: String,
    pub city: String,
    pub district: String,
    pub address: String,
    pub zip: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub is_default: bool,
    pub created_at: String,
}

impl StoreAddress {
    pub fn of(row: &AddressRow, offset: UtcOffset) -> StoreAddress {
        StoreAddress {
            id: row.id,
            province: row.province.clone(),
            city: row.city.clone(),
            district: row.district.clone(),
            address: row.address.clone(),
            zip: row.zip.clone(),
            contact_name: row.contact_name.clone(),
            contact_phone: row.contact_phone.clone(),
            is_default: row.is_default,
            created_at: clock::format(row.created_at, offset),
        }
    }
}

// ---- Print: identity and profile ---------------------------------------------------------

/// `POST /api/sms`, `POST /api/mail`: the token to send back with the code.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationToken {
    pub verification_token: String,
}

/// The print's token answer (register, login, refresh).
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintTokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub access_token_expire: i64,
}

impl PrintTokens {
    pub fn of(tokens: &IssuedTokens) -> PrintTokens {
        PrintTokens {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            access_token_expire: tokens.access_ttl_secs,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberLevelView {
    pub id: i64,
    pub name: String,
    pub accumulate_points: i64,
    /// The fraction of the price paid, two decimals (`"0.95"`).
    pub discount: String,
}

/// `GET /api/users/self`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintSelf {
    pub id: i64,
    pub nickname: String,
    pub avatar: String,
    /// 0 unknown, 1 male, 2 female.
    pub sex: i64,
    pub account: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub member_level: MemberLevelView,
    pub accumulate_points: i64,
    pub history_accumulate_points: i64,
    pub balance: String,
    pub is_bind_account: bool,
    pub is_bind_phone: bool,
    pub is_bind_email: bool,
    pub is_bind_wx: bool,
    pub created_at: String,
}

impl PrintSelf {
    pub fn of(profile: &Profile, offset: UtcOffset) -> PrintSelf {
        let (user, wallet, level) = (&profile.user, &profile.wallet, &profile.level);
        PrintSelf {
            id: user.id,
            nickname: user.nickname.clone(),
            avatar: user.avatar.clone(),
            sex: user.sex,
            account: user.account.clone(),
            phone: user.phone.clone(),
            email: user.email.clone(),
            member_level: MemberLevelView {
                id: level.id,
                name: level.name.clone(),
                accumulate_points: level.accumulate_points,
                discount: format_cents(level.discount_percent),
            },
            accumulate_points: wallet.points,
            history_accumulate_points: wallet.history_points,
            balance: format_cents(wallet.balance_cents),
            is_bind_account: user.account.is_some(),
            is_bind_phone: user.phone.is_some(),
            is_bind_email: user.email.is_some(),
            is_bind_wx: user.wechat_openid.is_some(),
            created_at: clock::format(user.created_at, offset),
        }
    }
}

/// A shipping address as the print shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrintAddress {
    pub id: i64,
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub county: String,
    pub detail: String,
    pub is_default: bool,
}

impl PrintAddress {
    pub fn of(row: &AddressRow) -> PrintAddress {
        PrintAddress {
            id: row.id,
            name: row.contact_name.clone(),
            phone: row.contact_phone.clone(),
            province: row.province.clone(),
            city: row.city.clone(),
            county: row.district.clone(),
            detail: row.address.clone(),
            is_default: row.is_default,
        }
    }
}

// ---- Print: uploads ----------------------------------------------------------------------

/// An uploaded image.
#[derive(Debug, Serialize, ToSchema)]
pub struct Image {
    pub id: i64,
    /// Path on this host: `/api/storage/{key}`.
    pub src: String,
}

impl Image {
    pub fn of(row: &UploadRow) -> Image {
        Image {
            id: row.id,
            src: src_of(&row.sha256, &row.ext),
        }
    }
}

/// An uploaded file.
#[derive(Debug, Serialize, ToSchema)]
pub struct File {
    pub id: i64,
    pub name: String,
    pub src: String,
}

impl File {
    pub fn of(row: &UploadRow) -> File {
        File {
            id: row.id,
            name: row.name.clone(),
            src: src_of(&row.sha256, &row.ext),
        }
    }
}

// ---- Print: member centre ----------------------------------------------------------------

/// A user as other rows name them.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub nickname: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: i64,
    pub user: UserRef,
    pub sender: String,
    pub title: String,
    pub body: String,
    pub is_read: bool,
    pub created_at: String,
}

impl Message {
    pub fn of(message: &MessageRow, user: &UserRow, offset: UtcOffset) -> Message {
        Message {
            id: message.id,
            user: UserRef {
                id: user.id,
                nickname: user.nickname.clone(),
            },
            sender: message.sender.clone(),
            title: message.title.clone(),
            body: message.body.clone(),
            is_read: message.read,
            created_at: clock::format(message.created_at, offset),
        }
    }
}

/// `GET /api/users/self/messages/unread_count`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Count {
    pub count: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Coupon {
    pub id: i64,
    pub coupon_no: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Money off, as a decimal string.
    pub quota: String,
    /// The order total the coupon needs, when it has a threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfy: Option<String>,
    /// 可使用, 已使用 or 已过期.
    pub status: &'static str,
    pub finished_at: String,
    pub created_at: String,
}

impl Coupon {
    pub fn of(coupon: &CouponRow, offset: UtcOffset) -> Coupon {
        Coupon {
            id: coupon.id,
            coupon_no: coupon.coupon_no.clone(),
            name: coupon.name.clone(),
            kind: coupon.kind.clone(),
            quota: format_cents(coupon.quota_cents),
            satisfy: coupon.satisfy_cents.map(format_cents),
            status: coupon.status.label(),
            finished_at: clock::format(coupon.finished_at, offset),
            created_at: clock::format(coupon.created_at, offset),
        }
    }
}

/// A points record: `number` and `surplus` are integers.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointsRecord {
    pub id: i64,
    /// 收入 or 支出.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub number: i64,
    pub surplus: i64,
    pub describe: String,
    pub created_at: String,
}

/// A balance record: `number` and `surplus` are decimal strings.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceRecord {
    pub id: i64,
    /// 收入 or 支出.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub number: String,
    pub surplus: String,
    pub describe: String,
    pub created_at: String,
}

fn direction(entry: &Entry) -> &'static str {
    if entry.number > 0 { "收入" } else { "支出" }
}

impl PointsRecord {
    pub fn of(entry: &Entry, offset: UtcOffset) -> PointsRecord {
        PointsRecord {
            id: entry.id,
            kind: direction(entry),
            number: entry.number.abs(),
            surplus: entry.surplus,
            describe: entry.describe.clone(),
            created_at: clock::format(entry.created_at, offset),
        }
    }
}

impl BalanceRecord {
    pub fn of(entry: &Entry, offset: UtcOffset) -> BalanceRecord {
        BalanceRecord {
            id: entry.id,
            kind: direction(entry),
            number: format_cents(entry.number.abs()),
            surplus: format_cents(entry.surplus),
            describe: entry.describe.clone(),
            created_at: clock::format(entry.created_at, offset),
        }
    }
}

// ---- Print: comments ---------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct GoodsRef {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentAuthor {
    pub id: i64,
    pub nickname: String,
    pub avatar: String,
}

/// `POST` answers that name what they created.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Comment {
    pub id: i64,
    pub goods: GoodsRef,
    pub goods_comment: String,
    pub service_comment: String,
    pub images: Vec<Image>,
    pub describe_grade: i64,
    pub seller_grade: i64,
    pub logistics_grade: i64,
    pub is_anonymous: bool,
    pub created_at: String,
    /// Absent when the comment is anonymous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<CommentAuthor>,
    /// What was printed, when the client said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl Comment {
    pub fn of(row: &CommentRow, offset: UtcOffset) -> Comment {
        Comment {
            id: row.id,
            goods: GoodsRef {
                id: row.goods_id,
                name: row.goods_name.clone(),
            },
            goods_comment: row.goods_comment.clone(),
            service_comment: row.service_comment.clone(),
            images: row.images.iter().map(Image::of).collect(),
            describe_grade: row.describe_grade,
            seller_grade: row.seller_grade,
            logistics_grade: row.logistics_grade,
            is_anonymous: row.anonymous,
            created_at: clock::format(row.created_at, offset),
            user: (!row.anonymous).then(|| CommentAuthor {
                id: row.user_id,
                nickname: row.nickname.clone(),
                avatar: row.avatar.clone(),
            }),
            target: row.target.clone(),
        }
    }
}

// ---- Print: commerce ---------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct Gift {
    pub id: i64,
    pub name: String,
    pub image: Option<Image>,
    pub accumulate_points: i64,
    pub stock: i64,
}

impl Gift {
    pub fn of(gift: &GiftRow) -> Gift {
        Gift {
            id: gift.id,
            name: gift.name.clone(),
            image: gift.image.as_ref().map(Image::of),
            accumulate_points: gift.accumulate_points,
            stock: gift.stock,
        }
    }
}

/// `POST /api/gift_orders`.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderNo {
    pub order_no: String,
}

/// The address a gift order ships to, copied when it was placed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipTo {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub county: String,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftRef {
    pub id: i64,
    pub name: String,
    pub image: Option<Image>,
    pub accumulate_points: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GiftOrder {
    pub id: i64,
    pub order_no: String,
    pub user: UserRef,
    pub address: ShipTo,
    pub content: GiftRef,
    pub express_company: Option<String>,
    /// 已发货 or 未发货.
    pub status: &'static str,
    pub created_at: String,
    /// Only once shipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_no: Option<Option<String>>,
}

impl GiftOrder {
    pub fn of(order: &GiftOrderRow, offset: UtcOffset) -> GiftOrder {
        let address = &order.address;
        GiftOrder {
            id: order.id,
            order_no: order.order_no.clone(),
            user: UserRef {
                id: order.user_id,
                nickname: order.nickname.clone(),
            },
            address: ShipTo {
                name: address.name.clone(),
                phone: address.phone.clone(),
                province: address.province.clone(),
                city: address.city.clone(),
                county: address.county.clone(),
                detail: address.detail.clone(),
            },
            content: GiftRef {
                id: order.gift.id,
                name: order.gift.name.clone(),
                image: order.gift.image.as_ref().map(Image::of),
                accumulate_points: order.gift.accumulate_points,
            },
            express_company: order.express_company.clone(),
            status: if order.shipped {
                "已发货"
            } else {
                "未发货"
            },
            created_at: clock::format(order.created_at, offset),
            tracking_no: order.shipped.then(|| order.tracking_no.clone()),
        }
    }
}

/// `POST /api/recharge_orders`: what the client hands to the payment SDK.
#[derive(Debug, Serialize, ToSchema)]
pub struct RechargeCreated {
    pub order_no: String,
    pub price: String,
    /// `wechat` or `alipay`, as sent.
    pub pay_type: String,
    /// The gateway's parameters for the client SDK (an object whose fields depend on the
    /// gateway).
    pub pay_params: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RechargeOrder {
    pub id: i64,
    pub user: UserRef,
    pub order_no: String,
    pub price: String,
    /// 微信 or 支付宝.
    pub pay_type: &'static str,
    /// 已支付 or 待支付.
    pub status: &'static str,
    pub paid_at: Option<String>,
    pub created_at: String,
}

impl RechargeOrder {
    pub fn of(order: &RechargeRow, offset: UtcOffset) -> RechargeOrder {
        RechargeOrder {
            id: order.id,
            user: UserRef {
                id: order.user_id,
                nickname: order.nickname.clone(),
            },
            order_no: order.order_no.clone(),
            price: format_cents(order.price_cents),
            pay_type: if order.pay_type == "wechat" {
                "微信"
            } else {
                "支付宝"
            },
            status: if order.paid_at.is_some() {
                "已支付"
            } else {
                "待支付"
            },
            paid_at: order.paid_at.map(|at| clock::format(at, offset)),
            created_at: clock::format(order.created_at, offset),
        }
    }
}

// ---- Admin -------------------------------------------------------------------------------

/// A code or message the development notifier wrote instead of sending it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxEntry {
    /// `sms`, `mail` or `captcha`.
    pub channel: String,
    pub to: String,
    /// Shown to super-admins only; `null` for everyone else (SPEC §7). Empty for notices
    /// that carry no code.
    pub code: Option<String>,
    /// Shown to super-admins only; `null` for everyone else.
    pub body: Option<String>,
    pub created_at: String,
}

impl OutboxEntry {
    pub fn of(row: &OutboxRow, codes_shown: bool, offset: UtcOffset) -> OutboxEntry {
        OutboxEntry {
            channel: row.channel.clone(),
            to: row.recipient.clone(),
            code: codes_shown.then(|| row.code.clone()),
            body: codes_shown.then(|| row.body.clone()),
            created_at: clock::format(row.created_at, offset),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationCode {
    pub code: String,
    pub uses: i64,
    /// Never, when null.
    pub expires_at: Option<String>,
}

impl InvitationCode {
    pub fn of(invitation: &Invitation, offset: UtcOffset) -> InvitationCode {
        InvitationCode {
            code: invitation.code.clone(),
            uses: invitation.uses,
            expires_at: invitation.expires_at.map(|at| clock::format(at, offset)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    pub id: i64,
    pub account: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub nickname: String,
    pub disabled: bool,
    pub roles: Vec<String>,
    pub created_at: String,
}

impl AdminUserView {
    pub fn of(row: &AdminUser, offset: UtcOffset) -> AdminUserView {
        let user = &row.user;
        AdminUserView {
            id: user.id,
            account: user.account.clone(),
            phone: user.phone.clone(),
            email: user.email.clone(),
            nickname: user.nickname.clone(),
            disabled: user.disabled,
            roles: row.roles.clone(),
            created_at: clock::format(user.created_at, offset),
        }
    }
}

/// The points figure after an adjustment.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointsSurplus {
    pub surplus: i64,
}

/// The balance after an adjustment, as a decimal string.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceSurplus {
    pub surplus: String,
}

/// How many users a message went to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Recipients {
    pub recipients: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub actor: Actor,
    pub action: String,
    pub target_user_id: Option<i64>,
    /// What changed; its fields depend on the action.
    pub detail: serde_json::Value,
    pub ip: String,
    pub created_at: String,
}

impl AuditEntry {
    pub fn of(row: &AuditRow, offset: UtcOffset) -> AuditEntry {
        AuditEntry {
            id: row.id,
            actor: Actor {
                id: row.actor_id,
                name: row.actor.clone(),
            },
            action: row.action.clone(),
            target_user_id: row.target_user,
            detail: row.detail.clone(),
            ip: row.ip.clone(),
            created_at: clock::format(row.created_at, offset),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub permissions: Vec<String>,
}

impl Role {
    pub fn of(role: &RoleRow) -> Role {
        Role {
            id: role.id,
            name: role.name.clone(),
            permissions: role.permissions.clone(),
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
    InvitationCode,
    AdminUserView,
    PointsSurplus,
    BalanceSurplus,
    Recipients,
    Actor,
    AuditEntry,
    Role
);
