//! The route policy table: every client route of both APIs with its auth, cache, rate limit
//! and body limit. The edge acts on it; the origin mounts its router from it. Adding an
//! endpoint is one row here plus its handler.

use crate::Dialect;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub fn parse(raw: &str) -> Option<Method> {
        match raw.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" => Some(Method::Get),
            "POST" => Some(Method::Post),
            "PUT" => Some(Method::Put),
            "DELETE" => Some(Method::Delete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Public,
    /// A valid access token of an enabled user.
    User,
    /// The route verifies its own credential (refresh: an expired access token, or a refresh
    /// token); the edge forwards it untouched.
    Refresh,
}

/// How the edge may cache a route's `200` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    None,
    /// Keyed by URL, shared by everyone.
    Public {
        ttl_secs: u32,
    },
    /// Keyed by (user, data version, URL).
    Personal {
        ttl_secs: u32,
    },
}

/// Named per-client-network limits (SPEC §6: an IPv4 address, or an IPv6 /64), counted exactly
/// at the edge and again at the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    Captcha,
    Sms,
    Mail,
    /// Password and code sign-in, both dialects (and the admin listener's own sign-in).
    SignIn,
    /// Registration, both dialects.
    Register,
    /// Password reset by code.
    PasswordReset,
}

/// `max` requests per `window_secs` for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RateRule {
    pub max: u32,
    pub window_secs: u32,
}

impl Limit {
    pub const ALL: [Limit; 6] = [
        Limit::Captcha,
        Limit::Sms,
        Limit::Mail,
        Limit::SignIn,
        Limit::Register,
        Limit::PasswordReset,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Limit::Captcha => "captcha",
            Limit::Sms => "sms",
            Limit::Mail => "mail",
            Limit::SignIn => "signin",
            Limit::Register => "register",
            Limit::PasswordReset => "reset",
        }
    }

    /// The default rule. SPEC §3: one code request per network per minute; captchas are cheap
    /// for a human to need a few of, so ten a minute. The sign-in family bounds how much
    /// password hashing one network can cause (a hash costs ~15 ms of a core): 120 sign-ins a
    /// minute is two a second from one network, far above what an office of people signing in
    /// a few times a minute needs, and a small share of the ~60 hashes a second two cores do.
    pub fn default_rule(self) -> RateRule {
        let rule = |max, window_secs| RateRule { max, window_secs };
        match self {
            Limit::Captcha => rule(10, 60),
            Limit::Sms | Limit::Mail => rule(1, 60),
            Limit::SignIn => rule(120, 60),
            Limit::Register | Limit::PasswordReset => rule(30, 60),
        }
    }
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
/// JSON and form bodies (SPEC §1).
pub const BODY_LIMIT: u64 = 64 * KIB;
pub const IMAGE_PART_LIMIT: u64 = 5 * MIB;

/// The length a `Content-Length` value declares, if it is a number.
pub fn declared_length(content_length: Option<&str>) -> Option<u64> {
    content_length.and_then(|value| value.trim().parse::<u64>().ok())
}

/// Whether a request declares a body over `limit`: refused with 413 before any of it is read,
/// by the edge and by the origin alike.
pub fn declares_over(content_length: Option<&str>, limit: u64) -> bool {
    declared_length(content_length).is_some_and(|length| length > limit)
}
pub const FILE_PART_LIMIT: u64 = 20 * MIB;

/// Every route of both client APIs, named once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteId {
    Jwks,
    /// The OpenAPI documents and Postman collections (`/api/openapi/{document}`).
    OpenApi,
    /// Swagger UI over them.
    Docs,
    DocsAsset,
    // Store dialect.
    ResponseCode,
    Captchas,
    StoreRegister,
    StoreLogin,
    StoreLogout,
    StoreRefresh,
    StoreMe,
    StoreAddressList,
    StoreAddressCreate,
    StoreAddressUpdate,
    StoreAddressDelete,
    // Print dialect.
    Images,
    Files,
    Sms,
    Mail,
    PrintRegister,
    PrintLogin,
    PrintRefresh,
    Repassword,
    WechatLogin,
    LoginModeBind,
    LoginModeUnbind,
    SelfShow,
    SelfUpdate,
    SelfPermissions,
    Messages,
    MessagesUnreadCount,
    MessageRead,
    MessagesReadAll,
    SelfComments,
    CommentCreate,
    GoodsComments,
    Coupons,
    PointsRecords,
    BalanceRecords,
    PrintAddressList,
    PrintAddressCreate,
    PrintAddressUpdate,
    PrintAddressDelete,
    RechargeOrders,
    RechargeOrderCreate,
    PaymentNotify,
    Gifts,
    GiftOrderCreate,
    GiftOrders,
    Storage,
}

/// One row of the policy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    pub method: Method,
    /// Path pattern with `{name}` segments, in axum's syntax.
    pub path: &'static str,
    pub auth: Auth,
    pub cache: Cache,
    pub limit: Option<Limit>,
    pub body_limit: u64,
}

impl Route {
    pub fn dialect(&self) -> Dialect {
        Dialect::for_path(self.path)
    }
}

const PERSONAL: Cache = Cache::Personal { ttl_secs: 60 };
const PUBLIC_LIST: Cache = Cache::Public { ttl_secs: 30 };

const fn route(id: RouteId, method: Method, path: &'static str, auth: Auth) -> Route {
    Route {
        id,
        method,
        path,
        auth,
        cache: Cache::None,
        limit: None,
        body_limit: BODY_LIMIT,
    }
}

const fn cached(mut route: Route, cache: Cache) -> Route {
    route.cache = cache;
    route
}

const fn limited(mut route: Route, limit: Limit) -> Route {
    route.limit = Some(limit);
    route
}

const fn body(mut route: Route, body_limit: u64) -> Route {
    route.body_limit = body_limit;
    route
}

use Auth::{Public, Refresh, User};
use Method::{Delete, Get, Post, Put};
use RouteId as R;

/// The table. Upload routes allow several parts per request, each capped separately by the
/// origin; the request as a whole is capped here.
pub const ROUTES: &[Route] = &[
    cached(
        route(R::Jwks, Get, "/.well-known/jwks.json", Public),
        Cache::Public { ttl_secs: 300 },
    ),
    cached(
        route(R::OpenApi, Get, "/api/openapi/{document}", Public),
        Cache::Public { ttl_secs: 300 },
    ),
    cached(
        route(R::Docs, Get, "/api/docs", Public),
        Cache::Public { ttl_secs: 300 },
    ),
    cached(
        route(R::DocsAsset, Get, "/api/docs/{file}", Public),
        Cache::Public { ttl_secs: 300 },
    ),
    // Store.
    cached(
        route(R::ResponseCode, Get, "/api/response_code", Public),
        Cache::Public { ttl_secs: 3600 },
    ),
    limited(
        route(R::Captchas, Post, "/api/captchas", Public),
        Limit::Captcha,
    ),
    limited(
        route(R::StoreRegister, Post, "/api/auth/register", Public),
        Limit::Register,
    ),
    limited(
        route(R::StoreLogin, Post, "/api/auth/login", Public),
        Limit::SignIn,
    ),
    route(R::StoreLogout, Delete, "/api/auth/logout", User),
    route(R::StoreRefresh, Put, "/api/auth/refresh", Refresh),
    cached(route(R::StoreMe, Get, "/api/auth/me", User), PERSONAL),
    cached(
        route(R::StoreAddressList, Get, "/api/user_addresses", User),
        PERSONAL,
    ),
    route(R::StoreAddressCreate, Post, "/api/user_addresses", User),
    route(R::StoreAddressUpdate, Put, "/api/user_addresses/{id}", User),
    route(
        R::StoreAddressDelete,
        Delete,
        "/api/user_addresses/{id}",
        User,
    ),
    // Print.
    body(
        route(R::Images, Post, "/api/images", User),
        8 * IMAGE_PART_LIMIT,
    ),
    body(
        route(R::Files, Post, "/api/files", User),
        4 * FILE_PART_LIMIT,
    ),
    limited(route(R::Sms, Post, "/api/sms", Public), Limit::Sms),
    limited(route(R::Mail, Post, "/api/mail", Public), Limit::Mail),
    limited(
        route(R::PrintRegister, Post, "/api/register", Public),
        Limit::Register,
    ),
    limited(
        route(R::PrintLogin, Post, "/api/login", Public),
        Limit::SignIn,
    ),
    route(R::PrintRefresh, Post, "/api/refresh", Refresh),
    limited(
        route(R::Repassword, Put, "/api/repassword", Public),
        Limit::PasswordReset,
    ),
    limited(
        route(R::WechatLogin, Post, "/api/wechat/login", Public),
        Limit::SignIn,
    ),
    route(R::LoginModeBind, Post, "/api/login_modes", User),
    route(R::LoginModeUnbind, Delete, "/api/login_modes", User),
    cached(route(R::SelfShow, Get, "/api/users/self", User), PERSONAL),
    route(R::SelfUpdate, Put, "/api/users/self", User),
    // Not cached: the answer depends on the session's admin flag, not only on the user and the
    // data version that personal cache keys are made of.
    route(R::SelfPermissions, Get, "/api/users/self/permissions", User),
    cached(
        route(R::Messages, Get, "/api/users/self/messages", User),
        PERSONAL,
    ),
    cached(
        route(
            R::MessagesUnreadCount,
            Get,
            "/api/users/self/messages/unread_count",
            User,
        ),
        PERSONAL,
    ),
    route(
        R::MessageRead,
        Put,
        "/api/users/self/messages/{id}/read",
        User,
    ),
    route(
        R::MessagesReadAll,
        Put,
        "/api/users/self/messages/read_all",
        User,
    ),
    cached(
        route(R::SelfComments, Get, "/api/users/self/comments", User),
        PERSONAL,
    ),
    route(R::CommentCreate, Post, "/api/comments", User),
    cached(
        route(R::GoodsComments, Get, "/api/goods/{id}/comments", Public),
        PUBLIC_LIST,
    ),
    cached(
        route(R::Coupons, Get, "/api/users/self/coupons", User),
        PERSONAL,
    ),
    cached(
        route(
            R::PointsRecords,
            Get,
            "/api/users/self/accumulate_points_records",
            User,
        ),
        PERSONAL,
    ),
    cached(
        route(
            R::BalanceRecords,
            Get,
            "/api/users/self/balance_records",
            User,
        ),
        PERSONAL,
    ),
    cached(
        route(R::PrintAddressList, Get, "/api/users/self/addresses", User),
        PERSONAL,
    ),
    route(
        R::PrintAddressCreate,
        Post,
        "/api/users/self/addresses",
        User,
    ),
    route(
        R::PrintAddressUpdate,
        Put,
        "/api/users/self/addresses/{id}",
        User,
    ),
    route(
        R::PrintAddressDelete,
        Delete,
        "/api/users/self/addresses/{id}",
        User,
    ),
    cached(
        route(
            R::RechargeOrders,
            Get,
            "/api/users/self/recharge_orders",
            User,
        ),
        PERSONAL,
    ),
    route(R::RechargeOrderCreate, Post, "/api/recharge_orders", User),
    route(
        R::PaymentNotify,
        Post,
        "/api/payments/{provider}/notify",
        Public,
    ),
    cached(route(R::Gifts, Get, "/api/gifts", Public), PUBLIC_LIST),
    route(R::GiftOrderCreate, Post, "/api/gift_orders", User),
    cached(
        route(R::GiftOrders, Get, "/api/users/self/gift_orders", User),
        PERSONAL,
    ),
    cached(
        route(R::Storage, Get, "/api/storage/{key}", Public),
        Cache::Public { ttl_secs: 86_400 },
    ),
];

/// Every route of the admin API (private listener), named once beside the client routes: the
/// origin's admin router and the admin OpenAPI document are both made from this table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdminRoute {
    Login,
    Outbox,
    Deliveries,
    InvitationCreate,
    UserSearch,
    UserUpdate,
    Points,
    Balance,
    CouponGrant,
    MessageSend,
    GoodsCreate,
    GiftCreate,
    GiftOrderShip,
    AuditLog,
    Roles,
    RoleSave,
    UserDetail,
    UserSessions,
    UserSessionsRevoke,
    UserSessionRevoke,
    UserUnlock,
    UserPointsLedger,
    UserBalanceLedger,
    UserCoupons,
    UserMessages,
    UserUploads,
    AuditEntry,
    RechargeOrders,
    GiftOrders,
    GiftOrdersExport,
    Goods,
    GoodsUpdate,
    Gifts,
    GiftUpdate,
    Stats,
}

pub const ADMIN_ROUTES: &[(AdminRoute, Method, &str)] = &[
    (AdminRoute::Login, Method::Post, "/admin/login"),
    (AdminRoute::Outbox, Method::Get, "/admin/outbox"),
    (AdminRoute::Deliveries, Method::Get, "/admin/deliveries"),
    (
        AdminRoute::InvitationCreate,
        Method::Post,
        "/admin/invitation_codes",
    ),
    (AdminRoute::UserSearch, Method::Get, "/admin/users"),
    (AdminRoute::UserUpdate, Method::Put, "/admin/users/{id}"),
    (AdminRoute::Points, Method::Post, "/admin/users/{id}/points"),
    (
        AdminRoute::Balance,
        Method::Post,
        "/admin/users/{id}/balance",
    ),
    (
        AdminRoute::CouponGrant,
        Method::Post,
        "/admin/users/{id}/coupons",
    ),
    (AdminRoute::MessageSend, Method::Post, "/admin/messages"),
    (AdminRoute::GoodsCreate, Method::Post, "/admin/goods"),
    (AdminRoute::GiftCreate, Method::Post, "/admin/gifts"),
    (
        AdminRoute::GiftOrderShip,
        Method::Put,
        "/admin/gift_orders/{id}/ship",
    ),
    (AdminRoute::AuditLog, Method::Get, "/admin/audit_log"),
    (AdminRoute::Roles, Method::Get, "/admin/roles"),
    (AdminRoute::RoleSave, Method::Post, "/admin/roles"),
    (AdminRoute::UserDetail, Method::Get, "/admin/users/{id}"),
    (
        AdminRoute::UserSessions,
        Method::Get,
        "/admin/users/{id}/sessions",
    ),
    (
        AdminRoute::UserSessionsRevoke,
        Method::Delete,
        "/admin/users/{id}/sessions",
    ),
    (
        AdminRoute::UserSessionRevoke,
        Method::Delete,
        "/admin/users/{id}/sessions/{sid}",
    ),
    (
        AdminRoute::UserUnlock,
        Method::Post,
        "/admin/users/{id}/unlock",
    ),
    (
        AdminRoute::UserPointsLedger,
        Method::Get,
        "/admin/users/{id}/points_ledger",
    ),
    (
        AdminRoute::UserBalanceLedger,
        Method::Get,
        "/admin/users/{id}/balance_ledger",
    ),
    (
        AdminRoute::UserCoupons,
        Method::Get,
        "/admin/users/{id}/coupons",
    ),
    (
        AdminRoute::UserMessages,
        Method::Get,
        "/admin/users/{id}/messages",
    ),
    (
        AdminRoute::UserUploads,
        Method::Get,
        "/admin/users/{id}/uploads",
    ),
    (AdminRoute::AuditEntry, Method::Get, "/admin/audit_log/{id}"),
    (
        AdminRoute::RechargeOrders,
        Method::Get,
        "/admin/recharge_orders",
    ),
    (AdminRoute::GiftOrders, Method::Get, "/admin/gift_orders"),
    (
        AdminRoute::GiftOrdersExport,
        Method::Get,
        "/admin/gift_orders/export",
    ),
    (AdminRoute::Goods, Method::Get, "/admin/goods"),
    (AdminRoute::GoodsUpdate, Method::Put, "/admin/goods/{id}"),
    (AdminRoute::Gifts, Method::Get, "/admin/gifts"),
    (AdminRoute::GiftUpdate, Method::Put, "/admin/gifts/{id}"),
    (AdminRoute::Stats, Method::Get, "/admin/stats"),
];

/// The outcome of looking a request up in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found {
        route: &'static Route,
        params: Vec<(&'static str, String)>,
    },
    MethodNotAllowed(Dialect),
    NotFound(Dialect),
}

/// The row of the table for `id` (every id has exactly one; a test checks it).
pub fn route_of(id: RouteId) -> &'static Route {
    ROUTES
        .iter()
        .find(|route| route.id == id)
        .expect("every route id is in the table")
}

/// Finds the route for a method and path (no query string).
pub fn lookup(method: &str, path: &str) -> Lookup {
    let method = Method::parse(method);
    let mut path_matched = false;
    for route in ROUTES {
        if let Some(params) = match_path(route.path, path) {
            if Some(route.method) == method {
                return Lookup::Found { route, params };
            }
            path_matched = true;
        }
    }
    let dialect = Dialect::for_path(path);
    if path_matched {
        Lookup::MethodNotAllowed(dialect)
    } else {
        Lookup::NotFound(dialect)
    }
}

/// The methods the table has for a path, in table order (empty for an unknown path): what a
/// 405 or an `OPTIONS` answer lists in `Allow`.
pub fn allowed_methods(path: &str) -> Vec<Method> {
    ROUTES
        .iter()
        .filter(|route| match_path(route.path, path).is_some())
        .map(|route| route.method)
        .collect()
}

/// Matches a `{name}` pattern against a concrete path, returning the captured segments.
pub fn match_path(pattern: &'static str, path: &str) -> Option<Vec<(&'static str, String)>> {
    let mut params = Vec::new();
    let mut pattern_segments = pattern.split('/');
    let mut path_segments = path.split('/');
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (None, None) => return Some(params),
            (Some(expected), Some(actual)) => {
                if let Some(name) = expected.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    if actual.is_empty() {
                        return None;
                    }
                    params.push((name, actual.to_owned()));
                } else if expected != actual {
                    return None;
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_route_is_listed_once_by_id_and_once_by_method_and_path() {
        let ids: HashSet<_> = ROUTES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), ROUTES.len());
        let keys: HashSet<_> = ROUTES.iter().map(|r| (r.method, r.path)).collect();
        assert_eq!(keys.len(), ROUTES.len());
    }

    #[test]
    fn lookup_captures_path_parameters() {
        match lookup("PUT", "/api/user_addresses/12") {
            Lookup::Found { route, params } => {
                assert_eq!(route.id, RouteId::StoreAddressUpdate);
                assert_eq!(params, vec![("id", "12".to_owned())]);
            }
            other => panic!("{other:?}"),
        }
        match lookup("PUT", "/api/users/self/messages/read_all") {
            Lookup::Found { route, .. } => assert_eq!(route.id, RouteId::MessagesReadAll),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_known_path_with_the_wrong_method_is_405_in_its_dialect() {
        assert_eq!(
            lookup("PATCH", "/api/auth/login"),
            Lookup::MethodNotAllowed(Dialect::Store)
        );
        assert_eq!(
            lookup("GET", "/api/login"),
            Lookup::MethodNotAllowed(Dialect::Print)
        );
    }

    #[test]
    fn allowed_methods_are_the_rows_of_the_path() {
        assert_eq!(allowed_methods("/api/login"), vec![Method::Post]);
        assert_eq!(
            allowed_methods("/api/user_addresses/7"),
            vec![Method::Put, Method::Delete]
        );
        assert_eq!(
            allowed_methods("/api/login_modes"),
            vec![Method::Post, Method::Delete]
        );
        assert!(allowed_methods("/api/nothing").is_empty());
        // Every path the table knows has at least its own row's method.
        for route in ROUTES {
            let concrete = route.path.replace("{id}", "1");
            assert!(
                allowed_methods(&concrete).contains(&route.method),
                "{route:?}"
            );
        }
    }

    #[test]
    fn answers_that_depend_on_the_session_are_not_cached_per_user() {
        assert_eq!(route_of(RouteId::SelfPermissions).cache, Cache::None);
    }

    #[test]
    fn unknown_paths_are_404_in_the_dialect_of_their_prefix() {
        assert_eq!(
            lookup("GET", "/api/auth/nothing"),
            Lookup::NotFound(Dialect::Store)
        );
        assert_eq!(
            lookup("GET", "/api/nothing"),
            Lookup::NotFound(Dialect::Print)
        );
        assert_eq!(
            lookup("GET", "/api/user_addresses/"),
            Lookup::NotFound(Dialect::Store)
        );
    }

    #[test]
    fn dialects_follow_the_documents() {
        let dialect = |id| route_of(id).dialect();
        assert_eq!(dialect(RouteId::StoreLogin), Dialect::Store);
        assert_eq!(dialect(RouteId::Captchas), Dialect::Store);
        assert_eq!(dialect(RouteId::PrintLogin), Dialect::Print);
        assert_eq!(dialect(RouteId::Storage), Dialect::Print);
    }

    #[test]
    fn only_authenticated_get_routes_are_cached_personally_and_writes_are_never_cached() {
        for route in ROUTES {
            match route.cache {
                Cache::Personal { .. } => {
                    assert_eq!(
                        (route.method, route.auth),
                        (Method::Get, Auth::User),
                        "{route:?}"
                    )
                }
                Cache::Public { .. } => {
                    assert_eq!(
                        (route.method, route.auth),
                        (Method::Get, Auth::Public),
                        "{route:?}"
                    )
                }
                Cache::None => {}
            }
        }
    }
}
