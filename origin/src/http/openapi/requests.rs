//! The parameters each operation reads, as schemas. Handlers read them through `Params`
//! (query, JSON, form or multipart merged), so these types exist only to be described; the
//! limits repeat the validators' (`shared::validate`) and the schemathesis run in the test
//! command sends what they allow and checks every answer against the documents.
#![allow(dead_code)]

use utoipa::ToSchema;

// ---- Store -------------------------------------------------------------------------------

#[derive(ToSchema)]
pub struct CaptchaRequest {
    /// The account the captcha is for.
    #[schema(max_length = 32)]
    username: String,
}

#[derive(ToSchema)]
pub struct StoreRegisterRequest {
    #[schema(max_length = 32)]
    name: String,
    /// 3–32 letters or digits, not shaped like a phone number.
    #[schema(pattern = "^[A-Za-z0-9]{3,32}$")]
    username: String,
    #[schema(min_length = 8, max_length = 64)]
    password: String,
    /// Must equal `password`.
    #[schema(min_length = 8, max_length = 64)]
    password_confirmation: String,
    #[schema(max_length = 64)]
    invitation_code: String,
    #[schema(max_length = 64)]
    captcha_key: String,
    #[schema(max_length = 16)]
    captcha_code: String,
}

#[derive(ToSchema)]
pub struct StoreLoginRequest {
    /// Account name, phone or e-mail.
    #[schema(max_length = 254)]
    username: String,
    password: String,
}

/// A shipping address; every field is required on create, any subset on update.
#[derive(ToSchema)]
pub struct StoreAddressRequest {
    #[schema(max_length = 32)]
    province: String,
    #[schema(max_length = 32)]
    city: String,
    #[schema(max_length = 32)]
    district: String,
    #[schema(max_length = 255)]
    address: String,
    /// Six digits.
    #[schema(pattern = "^[0-9]{6}$")]
    zip: String,
    #[schema(max_length = 32)]
    contact_name: String,
    #[schema(pattern = "^(1[3-9][0-9]{9}|\\+[1-9][0-9]{6,14})$")]
    contact_phone: String,
    /// `true`/`false`, `1`/`0`.
    is_default: Option<bool>,
}

// ---- Print: identity ---------------------------------------------------------------------

#[derive(ToSchema)]
pub struct SmsRequest {
    #[schema(pattern = "^(1[3-9][0-9]{9}|\\+[1-9][0-9]{6,14})$")]
    phone: String,
    /// The code is for a new account: refused if the phone is already registered.
    is_register: Option<bool>,
}

#[derive(ToSchema)]
pub struct MailRequest {
    #[schema(max_length = 254, format = Email)]
    email: String,
    /// The code is for a new account: refused if the address is already registered.
    is_register: Option<bool>,
}

#[derive(ToSchema)]
pub struct CodeRequest {
    /// From `POST /api/sms` or `POST /api/mail`.
    #[schema(max_length = 64)]
    verification_token: String,
    #[schema(max_length = 16)]
    verification_code: String,
}

#[derive(ToSchema)]
pub struct PrintRegisterRequest {
    #[schema(max_length = 64)]
    verification_token: String,
    #[schema(max_length = 16)]
    verification_code: String,
    #[schema(min_length = 8, max_length = 64)]
    password: String,
}

/// Either a code (`verification_token` + `verification_code`) or a password (`username` +
/// `password`); a code is used when either code field is present.
#[derive(ToSchema)]
pub struct PrintLoginRequest {
    #[schema(max_length = 64)]
    verification_token: Option<String>,
    #[schema(max_length = 16)]
    verification_code: Option<String>,
    /// Account name, phone or e-mail.
    #[schema(max_length = 254)]
    username: Option<String>,
    password: Option<String>,
    /// Sign in to the back office: refused unless the user holds a role.
    is_admin: Option<bool>,
}

#[derive(ToSchema)]
pub struct AdminLoginRequest {
    /// Account name, phone or e-mail of a user holding a role.
    #[schema(max_length = 254)]
    username: String,
    password: String,
}

#[derive(ToSchema)]
pub struct UnbindRequest {
    #[serde(rename = "type")]
    #[schema(pattern = "^(phone|email)$")]
    kind: String,
    /// The account's current password (required when it has one).
    #[schema(max_length = 64)]
    password: Option<String>,
    /// Without a password: a code sent to the phone or e-mail being removed.
    #[schema(max_length = 64)]
    old_verification_token: Option<String>,
    #[schema(max_length = 16)]
    old_verification_code: Option<String>,
}

#[derive(ToSchema)]
pub struct BindRequest {
    #[schema(max_length = 64)]
    verification_token: String,
    #[schema(max_length = 16)]
    verification_code: String,
    /// Replacing a bound phone or e-mail: the account's current password (required when it
    /// has one).
    #[schema(max_length = 64)]
    password: Option<String>,
    /// Replacing without a password: a code sent to the phone or e-mail being replaced.
    #[schema(max_length = 64)]
    old_verification_token: Option<String>,
    #[schema(max_length = 16)]
    old_verification_code: Option<String>,
}

#[derive(ToSchema)]
pub struct SelfUpdateRequest {
    #[schema(max_length = 32)]
    nickname: Option<String>,
    /// 0 unknown, 1 male, 2 female.
    #[schema(minimum = 0, maximum = 2)]
    sex: Option<i64>,
    /// An http(s) URL or a path on this host (an upload's `src`); empty removes it.
    #[schema(max_length = 255)]
    avatar: Option<String>,
}

/// A shipping address; every field but `is_default` is required on create, any subset on
/// update.
#[derive(ToSchema)]
pub struct PrintAddressRequest {
    #[schema(max_length = 32)]
    name: String,
    #[schema(pattern = "^(1[3-9][0-9]{9}|\\+[1-9][0-9]{6,14})$")]
    phone: String,
    #[schema(max_length = 32)]
    province: String,
    #[schema(max_length = 32)]
    city: String,
    #[schema(max_length = 32)]
    county: String,
    #[schema(max_length = 255)]
    detail: String,
    is_default: Option<bool>,
}

// ---- Print: lists ------------------------------------------------------------------------

/// Pagination of every print list.
#[derive(ToSchema)]
pub struct PageQuery {
    #[schema(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[derive(ToSchema)]
pub struct MessagesQuery {
    #[schema(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// 0 unread only, 1 read only.
    #[schema(minimum = 0, maximum = 1)]
    is_read: Option<i64>,
}

#[derive(ToSchema)]
pub struct CouponsQuery {
    #[schema(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// 1 usable, 2 used, 3 expired.
    #[serde(rename = "type")]
    #[schema(minimum = 1, maximum = 3)]
    kind: Option<i64>,
}

#[derive(ToSchema)]
pub struct LedgerQuery {
    #[schema(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// 1 income, 2 expense.
    #[serde(rename = "type")]
    #[schema(minimum = 1, maximum = 2)]
    kind: Option<i64>,
}

#[derive(ToSchema)]
pub struct GiftOrdersQuery {
    #[schema(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// 1 not shipped, 2 shipped.
    #[schema(minimum = 1, maximum = 2)]
    status: Option<i64>,
}

#[derive(ToSchema)]
pub struct AddressesQuery {
    /// Only the default address.
    is_default: Option<bool>,
}

// ---- Print: writes -----------------------------------------------------------------------

#[derive(ToSchema)]
pub struct CommentRequest {
    #[schema(minimum = 1)]
    goods_id: i64,
    /// The goods variant that was printed.
    #[schema(max_length = 100)]
    target: Option<String>,
    #[schema(max_length = 1000)]
    goods_comment: String,
    #[schema(max_length = 1000)]
    service_comment: String,
    #[schema(minimum = 1, maximum = 5)]
    describe_grade: i64,
    #[schema(minimum = 1, maximum = 5)]
    seller_grade: i64,
    #[schema(minimum = 1, maximum = 5)]
    logistics_grade: i64,
    is_anonymous: Option<bool>,
    /// Ids of the caller's image uploads, at most 9, no repeats.
    #[schema(max_items = 9)]
    images: Option<Vec<i64>>,
}

#[derive(ToSchema)]
pub struct RechargeRequest {
    /// Decimal yuan, at most two places (`"12.50"`).
    #[schema(pattern = "^[0-9]+(\\.[0-9]{1,2})?$")]
    price: String,
    #[schema(pattern = "^(alipay|wechat)$")]
    pay_type: String,
}

#[derive(ToSchema)]
pub struct GiftOrderRequest {
    #[schema(minimum = 1)]
    gift_id: i64,
    /// One of the caller's addresses.
    #[schema(minimum = 1)]
    address_id: i64,
}

/// The gateway's signed form (fields depend on the gateway).
#[derive(ToSchema)]
pub struct PaymentNotifyRequest {
    out_trade_no: Option<String>,
    trade_no: Option<String>,
    total_amount: Option<String>,
    sign: Option<String>,
}

/// One or more files as multipart parts (any field names).
#[derive(ToSchema)]
pub struct UploadRequest {
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<String>,
}

// ---- Admin -------------------------------------------------------------------------------

#[derive(ToSchema)]
pub struct OutboxQuery {
    /// A phone, e-mail or captcha key.
    to: Option<String>,
    #[schema(pattern = "^(sms|mail|captcha)$")]
    channel: Option<String>,
}

#[derive(ToSchema)]
pub struct InvitationRequest {
    #[schema(minimum = 1, maximum = 1_000_000)]
    uses: i64,
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<i64>,
}

#[derive(ToSchema)]
pub struct UserSearchQuery {
    #[schema(minimum = 1, maximum = 1_000_000)]
    page: Option<u32>,
    #[schema(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// Part of an account name, phone, e-mail or nickname.
    #[schema(max_length = 100)]
    q: Option<String>,
}

/// At least one of the two.
#[derive(ToSchema)]
pub struct UserUpdateRequest {
    disabled: Option<bool>,
    /// Replaces the user's roles (names).
    roles: Option<Vec<String>>,
}

#[derive(ToSchema)]
pub struct PointsAdjustRequest {
    /// Signed: positive credits, negative debits (refused below zero).
    #[schema(minimum = -1_000_000_000, maximum = 1_000_000_000)]
    number: i64,
    #[schema(max_length = 100)]
    describe: String,
}

#[derive(ToSchema)]
pub struct BalanceAdjustRequest {
    /// Signed decimal yuan (`"-3.50"`); refused below zero.
    #[schema(pattern = "^-?[0-9]+(\\.[0-9]{1,2})?$")]
    amount: String,
    #[schema(max_length = 100)]
    describe: String,
}

#[derive(ToSchema)]
pub struct CouponGrantRequest {
    #[schema(max_length = 50)]
    name: String,
    /// 满减 (needs `satisfy`) or 抵扣.
    #[serde(rename = "type")]
    kind: String,
    /// Decimal yuan, more than zero.
    quota: String,
    satisfy: Option<String>,
    /// `2026-12-31 23:59:59`, in the future.
    finished_at: String,
}

/// `user_id` or `all=true`, not both.
#[derive(ToSchema)]
pub struct MessageRequest {
    #[schema(minimum = 1)]
    user_id: Option<i64>,
    all: Option<bool>,
    #[schema(max_length = 50)]
    sender: Option<String>,
    #[schema(max_length = 100)]
    title: String,
    #[schema(max_length = 2000)]
    body: String,
}

#[derive(ToSchema)]
pub struct GoodsRequest {
    #[schema(max_length = 100)]
    name: String,
    /// Decimal yuan, not negative.
    price: String,
}

#[derive(ToSchema)]
pub struct GiftRequest {
    #[schema(max_length = 100)]
    name: String,
    #[schema(minimum = 1, maximum = 1_000_000_000)]
    accumulate_points: i64,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    stock: i64,
    /// An image upload's id.
    #[schema(minimum = 1)]
    image: Option<i64>,
}

#[derive(ToSchema)]
pub struct ShipRequest {
    #[schema(max_length = 50)]
    express_company: String,
    #[schema(max_length = 64)]
    tracking_no: String,
}

#[derive(ToSchema)]
pub struct RoleRequest {
    #[schema(max_length = 50)]
    name: String,
    /// Permission names from the print document's list.
    permissions: Vec<String>,
}
