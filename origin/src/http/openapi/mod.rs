//! OpenAPI 3.1 documents of the three APIs, built from the code: the paths, methods, auth and
//! rate limits come from the route tables (`shared::policy::ROUTES` and the admin table), the
//! bodies from the view types the handlers serialize (`http::views`), the envelopes and error
//! codes from `shared`. An exhaustive match names each operation's input and answer, so a new
//! route without a description does not compile.
//!
//! Served at `/api/openapi/{store,print}.json` (also as `*.postman.json`, a Postman collection)
//! and on the admin listener at `/admin/openapi.json`, with Swagger UI from the binary at
//! `/api/docs/` and `/admin/docs/` (no network needed).

pub mod postman;
mod requests;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use shared::policy::{ADMIN_ROUTES, AdminRoute, Auth, Method, ROUTES, Route, RouteId};
use shared::problem::{PRINT_ERROR_CODES, STORE_CODES};
use shared::{Dialect, Problem};
use utoipa::PartialSchema;
use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder, SecurityRequirement,
};

use crate::error::AppError;
use crate::http::views::{self as v, Page};

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Store,
    Print,
    Admin,
}

impl Api {
    fn title(self) -> &'static str {
        match self {
            Api::Store => "Store API (000)",
            Api::Print => "Print-shop API (003)",
            Api::Admin => "Back-office API",
        }
    }

    fn dialect(self) -> Dialect {
        match self {
            Api::Store => Dialect::Store,
            Api::Print | Api::Admin => Dialect::Print,
        }
    }

    fn description(self) -> &'static str {
        match self {
            Api::Store => {
                "The store document's API. Every answer is JSON. Success: `{code: 20001, message: \
                 \"操作成功\", data}`. Failure: `{code, message, errors?}` with the document's \
                 codes (10001 bad parameters, 10003 bad data, 40001 forbidden, 40003 no \
                 permission, 40004 not found, 40005 expired, 50001 failed), except 401, which is \
                 exactly `{\"message\": \"Unauthenticated.\"}`. Validation failures are 422 and \
                 name the field in `errors`. Signed-in routes take `Authorization: Bearer \
                 <access token>`. Clients reach it through the edge; the origin's public listener \
                 also requires the edge's `x-edge-secret` header."
            }
            Api::Print => {
                "The print-shop document's API. Success: `{status: \"success\", code, data}` or, \
                 for writes with nothing to return, `{status: \"success\", code, message}`; \
                 `code` equals the HTTP status. Failure: `{status: \"error\", code, error_code, \
                 message, errors?}` with the document's `error_code`s (10003 no permission, \
                 20000 unknown account, 20001 wrong password, 20002 taken, 20006 wrong code, \
                 20007 bad account format, 999 anything else). Business and validation failures \
                 are 400. Signed-in routes take the access token in the `token` header (or \
                 `Authorization: Bearer`). Lists take `page` and `limit` and answer Laravel-style \
                 meta beside `data`. Clients reach it through the edge; the origin's public \
                 listener also requires the edge's `x-edge-secret` header."
            }
            Api::Admin => {
                "The back office, on the origin's private listener, in the print envelope. Every \
                 route needs an admin's access token (sign in with `POST /api/login` and \
                 `is_admin=1`) and the permission the route names; without it the answer is 403 \
                 with `error_code` 10003."
            }
        }
    }
}

/// The document, built once.
pub fn document(api: Api) -> &'static Value {
    static STORE: OnceLock<Value> = OnceLock::new();
    static PRINT: OnceLock<Value> = OnceLock::new();
    static ADMIN: OnceLock<Value> = OnceLock::new();
    let cell = match api {
        Api::Store => &STORE,
        Api::Print => &PRINT,
        Api::Admin => &ADMIN,
    };
    cell.get_or_init(|| serde_json::to_value(build(api)).expect("the document serializes"))
}

// ---- Serving -----------------------------------------------------------------------------

fn json_response(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// `GET /api/openapi/{document}`: `store.json`, `print.json`, or either as `.postman.json`.
pub async fn public_document(Path(name): Path<String>) -> Result<Response, AppError> {
    let api = match name.split_once('.') {
        Some(("store", _)) => Api::Store,
        Some(("print", _)) => Api::Print,
        _ => return Err(Problem::NotFound.into()),
    };
    match name.split_once('.').map(|(_, format)| format) {
        Some("json") => Ok(json_response(document(api))),
        Some("postman.json") => Ok(json_response(&postman::collection(api, document(api)))),
        _ => Err(Problem::NotFound.into()),
    }
}

/// `GET /admin/openapi.json`.
pub async fn admin_document() -> Response {
    json_response(document(Api::Admin))
}

/// Swagger UI, from the assets compiled into the binary. `/api/docs` lists both client
/// documents, `/admin/docs` the admin one.
pub async fn public_docs_index() -> Response {
    docs_file(Api::Print, "index.html")
}

pub async fn public_docs_asset(Path(file): Path<String>) -> Response {
    docs_file(Api::Print, &file)
}

pub async fn admin_docs_index() -> Response {
    docs_file(Api::Admin, "index.html")
}

pub async fn admin_docs_asset(Path(file): Path<String>) -> Response {
    docs_file(Api::Admin, &file)
}

fn swagger_config(api: Api) -> Arc<utoipa_swagger_ui::Config<'static>> {
    static PUBLIC: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    static ADMIN: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let (cell, urls) = match api {
        Api::Admin => (&ADMIN, vec![("admin", "/admin/openapi.json")]),
        Api::Store | Api::Print => (
            &PUBLIC,
            vec![
                ("store", "/api/openapi/store.json"),
                ("print", "/api/openapi/print.json"),
            ],
        ),
    };
    cell.get_or_init(|| {
        let urls = urls
            .into_iter()
            .map(|(name, url)| utoipa_swagger_ui::Url::new(name, url));
        Arc::new(utoipa_swagger_ui::Config::new(urls))
    })
    .clone()
}

fn docs_file(api: Api, file: &str) -> Response {
    let base = match api {
        Api::Admin => "/admin/docs/",
        Api::Store | Api::Print => "/api/docs/",
    };
    match utoipa_swagger_ui::serve(file, swagger_config(api)) {
        Ok(Some(found)) => {
            let mut bytes = found.bytes.into_owned();
            if file == "index.html" {
                // The index names its assets relatively (`./swagger-ui.css`, `index.css`);
                // served at `/api/docs` too, they must resolve under the docs path.
                bytes = absolute_assets(&String::from_utf8_lossy(&bytes), base).into_bytes();
            }
            let mut response = Response::new(Body::from(bytes));
            if let Ok(value) = HeaderValue::from_str(&found.content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            if found.gzpipped {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        }
        Ok(None) => AppError::from(Problem::NotFound).into_response(),
        Err(error) => {
            tracing::error!(%error, "swagger ui asset");
            AppError::from(Problem::Internal).into_response()
        }
    }
}

/// Every relative `href="…"` / `src="…"` of `html` made absolute under `base` (a path ending
/// in `/`); absolute paths, URLs and `data:` stay as they are.
fn absolute_assets(html: &str, base: &str) -> String {
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    while let Some(at) = ["href=\"", "src=\""]
        .iter()
        .filter_map(|attribute| rest.find(attribute).map(|at| at + attribute.len()))
        .min()
    {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let relative = !(rest.starts_with('/')
            || rest.starts_with("http:")
            || rest.starts_with("https:")
            || rest.starts_with("data:")
            || rest.starts_with('#'));
        if relative {
            out.push_str(base);
            rest = rest.strip_prefix("./").unwrap_or(rest);
        }
    }
    out.push_str(rest);
    out
}

// ---- Building ----------------------------------------------------------------------------

/// Collects the component schemas the operations refer to.
#[derive(Default)]
struct Components {
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Components {
    /// A reference to `T`, registering it and everything it refers to. Answers are closed:
    /// a field the type does not declare is outside the document.
    fn of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let name = T::name().into_owned();
        if !self.schemas.iter().any(|(known, _)| *known == name) {
            let mut found = vec![(name.clone(), T::schema())];
            T::schemas(&mut found);
            for (name, schema) in found {
                if !self.schemas.iter().any(|(known, _)| *known == name) {
                    self.schemas.push((name, closed(schema)));
                }
            }
        }
        RefOr::Ref(Ref::from_schema_name(name))
    }

    /// A reference to a request's fields (open: unknown fields are ignored, as handlers do).
    fn input<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let name = T::name().into_owned();
        if !self.schemas.iter().any(|(known, _)| *known == name) {
            self.schemas.push((name.clone(), T::schema()));
        }
        RefOr::Ref(Ref::from_schema_name(name))
    }

    fn list_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        ArrayBuilder::new().items(self.of::<T>()).into()
    }

    /// A print page of `T`: the rows in `data` and the meta beside them.
    fn page_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let item = self.of::<T>();
        let mut page = match closed(Page::<T>::schema()) {
            RefOr::T(Schema::Object(object)) => object,
            _ => unreachable!("a page is an object"),
        };
        page.properties
            .insert("data".into(), ArrayBuilder::new().items(item).into());
        RefOr::T(Schema::Object(page))
    }
}

/// Forbids undeclared fields in an object schema and the objects inside it.
fn closed(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            if object.additional_properties.is_none() && !object.properties.is_empty() {
                object.additional_properties = Some(Box::new(
                    utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
                ));
            }
            object.properties = object
                .properties
                .into_iter()
                .map(|(name, property)| (name, closed(property)))
                .collect();
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::OneOf(mut one_of)) => {
            one_of.items = one_of.items.into_iter().map(closed).collect();
            RefOr::T(Schema::OneOf(one_of))
        }
        RefOr::T(Schema::Array(mut array)) => {
            if let utoipa::openapi::schema::ArrayItems::RefOrSchema(item) = array.items {
                array.items =
                    utoipa::openapi::schema::ArrayItems::RefOrSchema(Box::new(closed(*item)));
            }
            RefOr::T(Schema::Array(array))
        }
        other => other,
    }
}

/// What an operation reads besides its path parameters.
enum Input {
    None,
    /// Query parameters (GET).
    Query(RefOr<Schema>),
    /// A JSON, form or multipart body with these fields (every write accepts all three).
    Body(RefOr<Schema>),
    /// Files as multipart parts.
    Files,
    /// A payment gateway's signed form.
    GatewayForm(RefOr<Schema>),
}

/// What an operation answers on success. (Built once per document, so variant sizes do not
/// matter.)
#[allow(clippy::large_enum_variant)]
enum Success {
    /// The dialect's data envelope around this schema.
    Data(StatusCode, RefOr<Schema>),
    /// Print: `{status, code, message}`.
    Message,
    /// Store: `data` is null.
    Null,
    /// Stored bytes with their sniffed content type.
    Bytes,
    /// `success` as plain text (payment callbacks).
    GatewayText,
}

struct Operation {
    summary: &'static str,
    tag: &'static str,
    input: Input,
    success: Success,
    /// Statuses this operation adds to the ones its route implies.
    extra: &'static [u16],
}

fn op(
    summary: &'static str,
    tag: &'static str,
    input: Input,
    success: Success,
) -> Option<Operation> {
    Some(Operation {
        summary,
        tag,
        input,
        success,
        extra: &[],
    })
}

fn with_extra(operation: Option<Operation>, extra: &'static [u16]) -> Option<Operation> {
    operation.map(|operation| Operation { extra, ..operation })
}

/// What the upload limits add (SPEC §5): the daily count (429) and the disk's free-space
/// reserve (507). The quota is a 413, which every write lists already.
const UPLOAD_LIMITS: &[u16] = &[429, 507];

const OK: StatusCode = StatusCode::OK;
const CREATED: StatusCode = StatusCode::CREATED;

/// Every client route's description; `None` for the routes that are not part of either client
/// API (the key set and these documents).
fn client_operation(id: RouteId, c: &mut Components) -> Option<Operation> {
    use Input::{Body, Query};
    use Success::{Data, Message, Null};
    use requests::*;
    match id {
        RouteId::Jwks | RouteId::OpenApi | RouteId::Docs | RouteId::DocsAsset => None,
        // Store.
        RouteId::ResponseCode => op(
            "The response code table",
            "meta",
            Input::None,
            Data(OK, code_table()),
        ),
        RouteId::Captchas => op(
            "A captcha image for registration",
            "auth",
            Body(c.input::<CaptchaRequest>()),
            Data(CREATED, c.of::<v::Captcha>()),
        ),
        RouteId::StoreRegister => op(
            "Register with an invitation code and a captcha",
            "auth",
            Body(c.input::<StoreRegisterRequest>()),
            Data(CREATED, c.of::<v::StoreRegistered>()),
        ),
        RouteId::StoreLogin => with_extra(
            op(
                "Sign in with a password",
                "auth",
                Body(c.input::<StoreLoginRequest>()),
                Data(OK, c.of::<v::StoreToken>()),
            ),
            &[429],
        ),
        RouteId::StoreLogout => op("Sign out", "auth", Input::None, Null),
        RouteId::StoreRefresh => op(
            "A new access token for the current (or recently expired) one",
            "auth",
            Input::None,
            Data(OK, c.of::<v::StoreToken>()),
        ),
        RouteId::StoreMe => op(
            "The signed-in user",
            "auth",
            Input::None,
            Data(OK, c.of::<v::StoreUser>()),
        ),
        RouteId::StoreAddressList => op(
            "The user's shipping addresses",
            "addresses",
            Input::None,
            Data(OK, c.list_of::<v::StoreAddress>()),
        ),
        RouteId::StoreAddressCreate => op(
            "Add a shipping address",
            "addresses",
            Body(c.input::<StoreAddressRequest>()),
            Data(CREATED, c.of::<v::StoreAddress>()),
        ),
        RouteId::StoreAddressUpdate => op(
            "Change a shipping address",
            "addresses",
            Body(c.input::<StoreAddressRequest>()),
            Data(OK, c.of::<v::StoreAddress>()),
        ),
        RouteId::StoreAddressDelete => {
            op("Delete a shipping address", "addresses", Input::None, Null)
        }
        // Print: identity.
        RouteId::Images => with_extra(
            op(
                "Upload images (PNG, JPEG, GIF, WebP; 5 MiB each)",
                "uploads",
                Input::Files,
                Data(CREATED, c.list_of::<v::Image>()),
            ),
            UPLOAD_LIMITS,
        ),
        RouteId::Files => with_extra(
            op(
                "Upload files (20 MiB each)",
                "uploads",
                Input::Files,
                Data(CREATED, c.list_of::<v::File>()),
            ),
            UPLOAD_LIMITS,
        ),
        RouteId::Storage => op(
            "An uploaded file's bytes",
            "uploads",
            Input::None,
            Success::Bytes,
        ),
        RouteId::Sms => op(
            "Send a verification code by SMS",
            "auth",
            Body(c.input::<SmsRequest>()),
            Data(CREATED, c.of::<v::VerificationToken>()),
        ),
        RouteId::Mail => op(
            "Send a verification code by e-mail",
            "auth",
            Body(c.input::<MailRequest>()),
            Data(CREATED, c.of::<v::VerificationToken>()),
        ),
        RouteId::PrintRegister => op(
            "Register with a verified phone or e-mail",
            "auth",
            Body(c.input::<PrintRegisterRequest>()),
            Data(CREATED, c.of::<v::PrintTokens>()),
        ),
        RouteId::PrintLogin => with_extra(
            op(
                "Sign in with a code or a password",
                "auth",
                Body(c.input::<PrintLoginRequest>()),
                Data(OK, c.of::<v::PrintTokens>()),
            ),
            &[429],
        ),
        RouteId::PrintRefresh => op(
            "New tokens for a refresh token (sent in the `token` header)",
            "auth",
            Input::None,
            Data(OK, c.of::<v::PrintTokens>()),
        ),
        RouteId::Repassword => op(
            "Reset the password with a verification code",
            "auth",
            Body(c.input::<PrintRegisterRequest>()),
            Message,
        ),
        RouteId::WechatLogin => with_extra(
            op(
                "Sign in with WeChat (not available yet)",
                "auth",
                Input::None,
                Message,
            ),
            &[501],
        ),
        RouteId::LoginModeBind => op(
            "Bind a verified phone or e-mail to the account (replacing a bound one needs the \
             password, or a code sent to it)",
            "profile",
            Body(c.input::<BindRequest>()),
            Message,
        ),
        RouteId::LoginModeUnbind => op(
            "Unbind the phone or e-mail (needs the password, or a code sent to it)",
            "profile",
            Body(c.input::<UnbindRequest>()),
            Message,
        ),
        RouteId::SelfShow => op(
            "The signed-in user's profile, level, points and balance",
            "profile",
            Input::None,
            Data(OK, c.of::<v::PrintSelf>()),
        ),
        RouteId::SelfUpdate => op(
            "Change nickname, sex or avatar",
            "profile",
            Body(c.input::<SelfUpdateRequest>()),
            Message,
        ),
        RouteId::SelfPermissions => op(
            "The permission names the user holds",
            "profile",
            Input::None,
            Data(OK, c.list_of::<String>()),
        ),
        // Print: member centre.
        RouteId::Messages => op(
            "The user's messages",
            "messages",
            Query(c.input::<MessagesQuery>()),
            Data(OK, c.page_of::<v::Message>()),
        ),
        RouteId::MessagesUnreadCount => op(
            "How many messages are unread",
            "messages",
            Input::None,
            Data(OK, c.of::<v::Count>()),
        ),
        RouteId::MessageRead => op("Mark a message read", "messages", Input::None, Message),
        RouteId::MessagesReadAll => op("Mark every message read", "messages", Input::None, Message),
        RouteId::SelfComments => op(
            "The user's comments",
            "comments",
            Query(c.input::<PageQuery>()),
            Data(OK, c.page_of::<v::Comment>()),
        ),
        RouteId::CommentCreate => op(
            "Comment on goods",
            "comments",
            Body(c.input::<CommentRequest>()),
            Data(CREATED, c.of::<v::Created>()),
        ),
        RouteId::GoodsComments => op(
            "Comments on goods",
            "comments",
            Query(c.input::<PageQuery>()),
            Data(OK, c.page_of::<v::Comment>()),
        ),
        RouteId::Coupons => op(
            "The user's coupons",
            "wallet",
            Query(c.input::<CouponsQuery>()),
            Data(OK, c.page_of::<v::Coupon>()),
        ),
        RouteId::PointsRecords => op(
            "The points ledger",
            "wallet",
            Query(c.input::<LedgerQuery>()),
            Data(OK, c.page_of::<v::PointsRecord>()),
        ),
        RouteId::BalanceRecords => op(
            "The balance ledger",
            "wallet",
            Query(c.input::<LedgerQuery>()),
            Data(OK, c.page_of::<v::BalanceRecord>()),
        ),
        RouteId::PrintAddressList => op(
            "The user's addresses",
            "addresses",
            Query(c.input::<AddressesQuery>()),
            Data(OK, c.list_of::<v::PrintAddress>()),
        ),
        RouteId::PrintAddressCreate => op(
            "Add an address",
            "addresses",
            Body(c.input::<PrintAddressRequest>()),
            Data(CREATED, c.of::<v::PrintAddress>()),
        ),
        RouteId::PrintAddressUpdate => op(
            "Change an address",
            "addresses",
            Body(c.input::<PrintAddressRequest>()),
            Message,
        ),
        RouteId::PrintAddressDelete => op("Delete an address", "addresses", Input::None, Message),
        // Print: commerce.
        RouteId::RechargeOrders => op(
            "The user's recharge orders",
            "wallet",
            Query(c.input::<PageQuery>()),
            Data(OK, c.page_of::<v::RechargeOrder>()),
        ),
        RouteId::RechargeOrderCreate => op(
            "Start a balance recharge",
            "wallet",
            Body(c.input::<RechargeRequest>()),
            Data(CREATED, c.of::<v::RechargeCreated>()),
        ),
        RouteId::PaymentNotify => op(
            "A payment gateway's callback: `success` once settled (also for a replay), `fail` \
             (400) for anything not believed",
            "wallet",
            Input::GatewayForm(c.input::<PaymentNotifyRequest>()),
            Success::GatewayText,
        ),
        RouteId::Gifts => op(
            "Gifts on offer for points",
            "gifts",
            Query(c.input::<PageQuery>()),
            Data(OK, c.page_of::<v::Gift>()),
        ),
        RouteId::GiftOrderCreate => op(
            "Redeem a gift with points",
            "gifts",
            Body(c.input::<GiftOrderRequest>()),
            Data(CREATED, c.of::<v::OrderNo>()),
        ),
        RouteId::GiftOrders => op(
            "The user's gift orders",
            "gifts",
            Query(c.input::<GiftOrdersQuery>()),
            Data(OK, c.page_of::<v::GiftOrder>()),
        ),
    }
}

/// Every admin route's description (admin routes all need a token and a permission).
fn admin_operation(id: AdminRoute, c: &mut Components) -> Operation {
    use Input::{Body, Query};
    use Success::{Data, Message};
    use requests::*;
    let (summary, input, success) = match id {
        AdminRoute::Login => (
            "Sign in to the back office (holders of a role only), counted apart from the \
             public sign-in",
            Body(c.input::<AdminLoginRequest>()),
            Data(OK, c.of::<v::PrintTokens>()),
        ),
        AdminRoute::Outbox => (
            "Codes the development notifier wrote instead of sending (404 with a real notifier)",
            Query(c.input::<OutboxQuery>()),
            Data(OK, c.list_of::<v::OutboxEntry>()),
        ),
        AdminRoute::InvitationCreate => (
            "Create an invitation code (用户管理)",
            Body(c.input::<InvitationRequest>()),
            Data(CREATED, c.of::<v::InvitationCode>()),
        ),
        AdminRoute::UserSearch => (
            "Find users (用户管理)",
            Query(c.input::<UserSearchQuery>()),
            Data(OK, c.page_of::<v::AdminUserView>()),
        ),
        AdminRoute::UserUpdate => (
            "Disable or enable a user, or replace their roles (用户管理)",
            Body(c.input::<UserUpdateRequest>()),
            Message,
        ),
        AdminRoute::Points => (
            "Credit or debit points (积分管理)",
            Body(c.input::<PointsAdjustRequest>()),
            Data(CREATED, c.of::<v::PointsSurplus>()),
        ),
        AdminRoute::Balance => (
            "Credit or debit the balance (财务管理)",
            Body(c.input::<BalanceAdjustRequest>()),
            Data(CREATED, c.of::<v::BalanceSurplus>()),
        ),
        AdminRoute::CouponGrant => (
            "Grant a coupon (优惠券管理)",
            Body(c.input::<CouponGrantRequest>()),
            Data(CREATED, c.of::<v::Created>()),
        ),
        AdminRoute::MessageSend => (
            "Send a message to one user or everyone (客服工具管理)",
            Body(c.input::<MessageRequest>()),
            Data(CREATED, c.of::<v::Recipients>()),
        ),
        AdminRoute::GoodsCreate => (
            "Add goods (商品管理)",
            Body(c.input::<GoodsRequest>()),
            Data(CREATED, c.of::<v::Created>()),
        ),
        AdminRoute::GiftCreate => (
            "Offer a gift for points (积分管理)",
            Body(c.input::<GiftRequest>()),
            Data(CREATED, c.of::<v::Created>()),
        ),
        AdminRoute::GiftOrderShip => (
            "Mark a gift order shipped (配送管理)",
            Body(c.input::<ShipRequest>()),
            Message,
        ),
        AdminRoute::AuditLog => (
            "The audit log (数据中心)",
            Query(c.input::<PageQuery>()),
            Data(OK, c.page_of::<v::AuditEntry>()),
        ),
        AdminRoute::Roles => (
            "Roles and their permissions (用户管理)",
            Input::None,
            Data(OK, c.list_of::<v::Role>()),
        ),
        AdminRoute::RoleSave => (
            "Create a role or replace its permissions (用户管理)",
            Body(c.input::<RoleRequest>()),
            Data(CREATED, c.of::<v::Created>()),
        ),
    };
    // A message to one user names them in the body; the outbox exists only with the
    // development notifier.
    let extra: &'static [u16] = match id {
        AdminRoute::MessageSend | AdminRoute::Outbox => &[404],
        _ => &[],
    };
    Operation {
        summary,
        tag: "admin",
        input,
        success,
        extra,
    }
}

/// The store's `GET /api/response_code` data: code → text.
fn code_table() -> RefOr<Schema> {
    let mut table = ObjectBuilder::new().schema_type(Type::Object);
    for (code, text) in STORE_CODES {
        table = table
            .property(
                code.to_string(),
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([text])),
            )
            .required(code.to_string());
    }
    table.into()
}

/// An object with exactly the properties it declares.
fn closed_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ))
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer).format(Some(
        utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
    ))
}

/// `{field: [message, …]}` for validation failures.
fn field_errors() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(ArrayBuilder::new().items(string())))
}

fn error_schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    let store_codes: Vec<u32> = STORE_CODES
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| *code != 20001)
        .collect();
    let print_codes: Vec<u32> = PRINT_ERROR_CODES.iter().map(|(code, _)| *code).collect();
    components
        .schema(
            "StoreError",
            closed_object()
                .property("code", integer().enum_values(Some(store_codes)))
                .required("code")
                .property("message", string())
                .required("message")
                .property("errors", field_errors()),
        )
        .schema(
            "StoreUnauthenticated",
            closed_object()
                .property("message", string().enum_values(Some(["Unauthenticated."])))
                .required("message"),
        )
        .schema(
            "PrintError",
            closed_object()
                .property("status", string().enum_values(Some(["error"])))
                .required("status")
                .property("code", integer().description(Some("The HTTP status.")))
                .required("code")
                .property("error_code", integer().enum_values(Some(print_codes)))
                .required("error_code")
                .property("message", string())
                .required("message")
                .property("errors", field_errors()),
        )
}

/// The success envelope of a dialect around `data`.
fn envelope(dialect: Dialect, status: StatusCode, data: RefOr<Schema>) -> RefOr<Schema> {
    match dialect {
        Dialect::Store => closed_object()
            .property("code", integer().enum_values(Some([20001])))
            .required("code")
            .property("message", string().enum_values(Some(["操作成功"])))
            .required("message")
            .property("data", data)
            .required("data")
            .into(),
        Dialect::Print => closed_object()
            .property("status", string().enum_values(Some(["success"])))
            .required("status")
            .property("code", integer().enum_values(Some([status.as_u16()])))
            .required("code")
            .property("data", data)
            .required("data")
            .into(),
    }
}

fn print_message(status: StatusCode) -> RefOr<Schema> {
    closed_object()
        .property("status", string().enum_values(Some(["success"])))
        .required("status")
        .property("code", integer().enum_values(Some([status.as_u16()])))
        .required("code")
        .property("message", string())
        .required("message")
        .into()
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn response(description: &str, content_type: &str, schema: RefOr<Schema>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(content_type, json_content(schema))
}

fn error_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// The error answers a route can give, with their reasons.
fn error_statuses(
    api: Api,
    auth: Auth,
    method: Method,
    path: &str,
    limited: bool,
    operation: &Operation,
) -> BTreeSet<u16> {
    let mut statuses: BTreeSet<u16> = [403, 500, 503].into();
    if api != Api::Admin {
        // The edge answers these when the origin is unreachable or answers nonsense.
        statuses.insert(502);
    }
    // Parameters can be refused, and a refresh can be past its window (store 40005, print 999).
    let has_input = !matches!(operation.input, Input::None) || path.contains('{');
    if has_input || auth == Auth::Refresh {
        statuses.insert(match api.dialect() {
            Dialect::Store => 422,
            Dialect::Print => 400,
        });
    }
    if auth != Auth::Public {
        statuses.insert(401);
    }
    if path.contains('{') {
        statuses.insert(404);
    }
    if method != Method::Get {
        statuses.insert(413);
        statuses.insert(415);
    }
    if limited {
        statuses.insert(429);
    }
    statuses.extend(operation.extra.iter().copied());
    statuses
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad parameters or refused by a business rule",
        401 => "No token, or an expired, revoked or malformed one",
        403 => "No permission (or, at the origin, no edge secret)",
        404 => "Nothing with that id for this user",
        413 => "The body is over the route's limit",
        415 => "The body is in a content type the API does not read",
        422 => "Bad parameters or refused by a business rule",
        429 => "Too many requests; see Retry-After",
        500 => "A bug; the cause is logged",
        501 => "Not implemented yet",
        502 => "The origin answered nonsense (edge)",
        503 => "Busy or unavailable; see Retry-After",
        507 => "The server's disk is low on space; uploads are refused for now",
        _ => "Error",
    }
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Delete => HttpMethod::Delete,
    }
}

/// Query parameters from an object schema's properties.
fn query_parameters(
    schema: &RefOr<Schema>,
    components: &Components,
) -> Vec<utoipa::openapi::path::Parameter> {
    let object = match schema {
        RefOr::Ref(reference) => components
            .schemas
            .iter()
            .find(|(name, _)| reference.ref_location.ends_with(&format!("/{name}")))
            .map(|(_, schema)| schema),
        RefOr::T(_) => Some(schema),
    };
    let Some(RefOr::T(Schema::Object(object))) = object else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .map(|(name, property)| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if object.required.contains(name) {
                    Required::True
                } else {
                    Required::False
                })
                .schema(Some(without_null(property.clone())))
                .build()
        })
        .collect()
}

/// A query parameter is absent or a value; `Option` fields are nullable only in bodies.
fn without_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let kept: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                if let [single] = kept.as_slice() {
                    object.schema_type = SchemaType::Type(single.clone());
                }
            }
            RefOr::T(Schema::Object(object))
        }
        other => other,
    }
}

fn path_parameters(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema: RefOr<Schema> = match name {
                "id" => integer().minimum(Some(1)).into(),
                "provider" => string().description(Some("The gateway's name")).into(),
                _ => string().into(),
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build()
        })
        .collect()
}

struct RouteFacts<'a> {
    method: Method,
    path: &'a str,
    auth: Auth,
    limited: bool,
}

fn build_operation(
    api: Api,
    facts: &RouteFacts<'_>,
    operation: Operation,
    components: &Components,
) -> utoipa::openapi::path::Operation {
    let dialect = api.dialect();
    let mut builder = OperationBuilder::new()
        .summary(Some(operation.summary))
        .tag(operation.tag)
        .operation_id(Some(operation_id(facts.method, facts.path)))
        .parameters(Some(path_parameters(facts.path)));
    match &operation.input {
        Input::None => {}
        Input::Query(schema) => {
            builder = builder.parameters(Some(query_parameters(schema, components)));
        }
        Input::Body(schema) => {
            let body = RequestBodyBuilder::new()
                .content("application/json", json_content(schema.clone()))
                .content(
                    "application/x-www-form-urlencoded",
                    json_content(schema.clone()),
                )
                .required(Some(Required::True))
                .build();
            builder = builder.request_body(Some(body));
        }
        Input::GatewayForm(schema) => {
            let body = RequestBodyBuilder::new()
                .content(
                    "application/x-www-form-urlencoded",
                    json_content(schema.clone()),
                )
                .required(Some(Required::True))
                .build();
            builder = builder.request_body(Some(body));
        }
        Input::Files => {
            let files = ObjectBuilder::new().schema_type(Type::Object).property(
                "file",
                ArrayBuilder::new().items(string().format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Binary,
                    ),
                ))),
            );
            let body = RequestBodyBuilder::new()
                .content("multipart/form-data", json_content(files.into()))
                .required(Some(Required::True))
                .build();
            builder = builder.request_body(Some(body));
        }
    }
    let gateway = matches!(operation.input, Input::GatewayForm(_));
    let statuses = error_statuses(
        api,
        facts.auth,
        facts.method,
        facts.path,
        facts.limited,
        &operation,
    );
    builder = match operation.success {
        Success::Data(status, data) => builder.response(
            status.as_u16().to_string(),
            response(
                "Success",
                "application/json",
                envelope(dialect, status, data),
            ),
        ),
        Success::Message => builder.response(
            "200",
            response("Success", "application/json", print_message(StatusCode::OK)),
        ),
        Success::Null => builder.response(
            "200",
            response(
                "Success",
                "application/json",
                envelope(
                    dialect,
                    StatusCode::OK,
                    ObjectBuilder::new().schema_type(Type::Null).into(),
                ),
            ),
        ),
        Success::Bytes => builder.response(
            "200",
            response(
                "The stored bytes; the content type is the one sniffed at upload",
                "*/*",
                string()
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Binary,
                    )))
                    .into(),
            ),
        ),
        Success::GatewayText => builder.response(
            "200",
            response(
                "Settled (also for a replay)",
                "text/plain",
                string().enum_values(Some(["success"])).into(),
            ),
        ),
    };
    for status in statuses {
        let error = match (dialect, status) {
            (_, 400) if gateway => response(
                "Not believed or not matching; nothing changed",
                "text/plain",
                string().enum_values(Some(["fail"])).into(),
            ),
            (Dialect::Store, 401) => response(
                reason(status),
                "application/json",
                error_ref("StoreUnauthenticated"),
            ),
            (Dialect::Store, _) => {
                response(reason(status), "application/json", error_ref("StoreError"))
            }
            (Dialect::Print, _) => {
                response(reason(status), "application/json", error_ref("PrintError"))
            }
        };
        builder = builder.response(status.to_string(), error);
    }
    if facts.auth != Auth::Public {
        builder = match api {
            Api::Store => {
                builder.security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            }
            Api::Print | Api::Admin => builder
                .security(SecurityRequirement::new("token", Vec::<String>::new()))
                .security(SecurityRequirement::new("bearer", Vec::<String>::new())),
        };
    }
    builder.build()
}

/// `get_api_users_self_addresses_id`.
fn operation_id(method: Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.push_str(segment.trim_start_matches('{').trim_end_matches('}'));
    }
    id
}

fn build(api: Api) -> OpenApi {
    let mut components = Components::default();
    let mut operations = Vec::new();
    match api {
        Api::Store | Api::Print => {
            for route in ROUTES
                .iter()
                .filter(|route| route.dialect() == api.dialect())
            {
                if let Some(operation) = client_operation(route.id, &mut components) {
                    operations.push((facts_of(route), operation));
                }
            }
        }
        Api::Admin => {
            for (id, method, path) in ADMIN_ROUTES {
                let sign_in = *id == AdminRoute::Login;
                let facts = RouteFacts {
                    method: *method,
                    path,
                    auth: if sign_in { Auth::Public } else { Auth::User },
                    limited: sign_in,
                };
                operations.push((facts, admin_operation(*id, &mut components)));
            }
        }
    }
    // The tags the operations use, in first-use order.
    let mut tags: Vec<&str> = Vec::new();
    for (_, operation) in &operations {
        if !tags.contains(&operation.tag) {
            tags.push(operation.tag);
        }
    }
    let mut paths = PathsBuilder::new();
    for (facts, operation) in operations {
        let built = build_operation(api, &facts, operation, &components);
        paths = paths.path(facts.path, PathItem::new(http_method(facts.method), built));
    }
    let mut component_builder = ComponentsBuilder::new();
    for (name, schema) in components.schemas {
        component_builder = component_builder.schema(name, schema);
    }
    let component_builder = error_schemas(component_builder)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("token"))),
        );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(api.title())
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(api.description()))
                .build(),
        )
        .paths(paths)
        .components(Some(component_builder.build()))
        .tags(Some(
            tags.into_iter()
                .map(|tag| TagBuilder::new().name(tag).build()),
        ))
        .build()
}

fn facts_of(route: &Route) -> RouteFacts<'static> {
    RouteFacts {
        method: route.method,
        path: route.path,
        auth: route.auth,
        limited: route.limit.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn operations(document: &Value) -> BTreeSet<(String, String)> {
        document["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |method| (method.to_ascii_uppercase(), path.clone()))
            })
            .collect()
    }

    #[test]
    fn each_client_document_lists_exactly_its_dialects_routes_but_the_meta_ones() {
        for (api, dialect) in [(Api::Store, Dialect::Store), (Api::Print, Dialect::Print)] {
            let meta = [
                RouteId::Jwks,
                RouteId::OpenApi,
                RouteId::Docs,
                RouteId::DocsAsset,
            ];
            let expected: BTreeSet<(String, String)> = ROUTES
                .iter()
                .filter(|route| route.dialect() == dialect && !meta.contains(&route.id))
                .map(|route| (route.method.as_str().to_owned(), route.path.to_owned()))
                .collect();
            assert_eq!(operations(document(api)), expected, "{api:?}");
        }
    }

    #[test]
    fn the_admin_document_lists_exactly_the_admin_table() {
        let expected: BTreeSet<(String, String)> = ADMIN_ROUTES
            .iter()
            .map(|(_, method, path)| (method.as_str().to_owned(), (*path).to_owned()))
            .collect();
        assert_eq!(operations(document(Api::Admin)), expected);
    }

    #[test]
    fn documents_are_openapi_3_1_and_every_reference_resolves() {
        for api in [Api::Store, Api::Print, Api::Admin] {
            let document = document(api);
            assert_eq!(document["openapi"], "3.1.0");
            let text = document.to_string();
            for reference in text.split("\"$ref\":\"").skip(1) {
                let name = reference
                    .split('"')
                    .next()
                    .unwrap()
                    .trim_start_matches("#/components/schemas/");
                assert!(
                    document["components"]["schemas"].get(name).is_some(),
                    "{api:?}: {name} is referred to but not defined"
                );
            }
        }
    }

    #[test]
    fn a_refresh_documents_its_expired_answer_and_a_logout_only_what_it_can_answer() {
        let store = document(Api::Store);
        let responses = |document: &'static Value, path: &str, method: &str| {
            document["paths"][path][method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert!(responses(store, "/api/auth/refresh", "put").contains(&"422".to_owned()));
        assert!(!responses(store, "/api/auth/logout", "delete").contains(&"422".to_owned()));
        let print = document(Api::Print);
        assert!(responses(print, "/api/refresh", "post").contains(&"400".to_owned()));
        assert!(responses(print, "/api/wechat/login", "post").contains(&"501".to_owned()));
        let tags: Vec<&str> = store["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tag| tag["name"].as_str().unwrap())
            .collect();
        assert_eq!(tags, ["meta", "auth", "addresses"]);
    }

    #[test]
    fn uploads_document_their_quota_count_and_disk_refusals() {
        let print = document(Api::Print);
        for path in ["/api/images", "/api/files"] {
            let responses = &print["paths"][path]["post"]["responses"];
            for status in ["413", "429", "507"] {
                assert!(responses.get(status).is_some(), "{path} lacks {status}");
            }
        }
    }

    /// The request types repeat the validators' limits as literals (utoipa takes no constants
    /// there); this keeps the two equal.
    #[test]
    fn documented_request_limits_are_the_validators() {
        use shared::{pagination, validate};
        let store = &document(Api::Store)["components"]["schemas"];
        let print = &document(Api::Print)["components"]["schemas"];
        let field = |schemas: &Value, schema: &str, field: &str, key: &str| {
            schemas[schema]["properties"][field][key].as_u64().unwrap()
        };
        let name_max = validate::NAME_MAX_CHARS as u64;
        assert_eq!(
            field(store, "CaptchaRequest", "username", "maxLength"),
            name_max
        );
        assert_eq!(
            field(store, "StoreRegisterRequest", "name", "maxLength"),
            name_max
        );
        assert_eq!(
            field(print, "SelfUpdateRequest", "nickname", "maxLength"),
            name_max
        );
        for (schemas, schema) in [
            (store, "StoreRegisterRequest"),
            (print, "PrintRegisterRequest"),
        ] {
            assert_eq!(
                field(schemas, schema, "password", "minLength"),
                validate::PASSWORD_MIN_CHARS as u64
            );
            assert_eq!(
                field(schemas, schema, "password", "maxLength"),
                validate::PASSWORD_MAX_CHARS as u64
            );
        }
        assert_eq!(
            field(store, "StoreLoginRequest", "username", "maxLength"),
            validate::EMAIL_MAX_CHARS as u64
        );
        assert_eq!(
            field(print, "PageQuery", "limit", "maximum"),
            u64::from(pagination::MAX_LIMIT)
        );
        assert_eq!(
            field(print, "PageQuery", "page", "maximum"),
            u64::from(pagination::MAX_PAGE)
        );
        assert_eq!(
            field(print, "CommentRequest", "images", "maxItems"),
            crate::domain::comments::MAX_IMAGES as u64
        );
    }

    #[test]
    fn relative_assets_of_the_docs_page_resolve_under_its_path() {
        let html = r#"<link href="./a.css"><link href="index.css"><script src="./b.js">
            <link href="/x.css"><a href="https://e.test/">"#;
        assert_eq!(
            absolute_assets(html, "/api/docs/"),
            r#"<link href="/api/docs/a.css"><link href="/api/docs/index.css"><script src="/api/docs/b.js">
            <link href="/x.css"><a href="https://e.test/">"#
        );
    }

    #[test]
    fn signed_in_operations_name_their_credential_and_public_ones_do_not() {
        let print = document(Api::Print);
        let me = &print["paths"]["/api/users/self"]["get"];
        assert_eq!(me["security"][0], serde_json::json!({ "token": [] }));
        assert!(me["responses"].get("401").is_some());
        let gifts = &print["paths"]["/api/gifts"]["get"];
        assert!(gifts.get("security").is_none());
        assert!(gifts["responses"].get("401").is_none());
        let store = document(Api::Store);
        let me = &store["paths"]["/api/auth/me"]["get"];
        assert_eq!(me["security"][0], serde_json::json!({ "bearer": [] }));
        assert_eq!(
            me["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/StoreUnauthenticated"
        );
    }

    #[test]
    fn the_postman_collection_has_a_request_per_operation_with_the_dialects_auth_header() {
        for api in [Api::Store, Api::Print, Api::Admin] {
            let document = document(api);
            let collection = postman::collection(api, document);
            let requests: Vec<&Value> = collection["item"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|folder| folder["item"].as_array().unwrap())
                .collect();
            assert_eq!(requests.len(), operations(document).len(), "{api:?}");
            assert!(
                collection["info"]["schema"]
                    .as_str()
                    .unwrap()
                    .contains("v2.1.0")
            );
        }
        let store = postman::collection(Api::Store, document(Api::Store));
        let text = store.to_string();
        assert!(text.contains("Bearer {{token}}"));
        assert!(text.contains("{{baseUrl}}/api/user_addresses/:id"));
    }

    /// `docs/openapi/*.json` are the documents as `origin openapi store|print|admin` prints them,
    /// committed so that a clone describes its APIs without a running server; they must not drift.
    #[test]
    fn committed_documents_are_the_generated_ones() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi");
        for (api, name) in [
            (Api::Store, "store"),
            (Api::Print, "print"),
            (Api::Admin, "admin"),
        ] {
            let path = docs.join(format!("{name}.json"));
            let committed = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let generated = format!("{}\n", serde_json::to_string_pretty(document(api)).unwrap());
            assert!(
                committed == generated,
                "docs/openapi/{name}.json differs from the {name} document the code generates; \
                 regenerate it from the repository root with \
                 `cargo build -p origin && ./target/debug/origin openapi {name} > docs/openapi/{name}.json`"
            );
        }
    }
}
