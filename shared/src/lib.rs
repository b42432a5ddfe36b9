//! The contract compiled into both the edge (wasm) and the origin (native).
//!
//! Everything here is pure: no I/O, no clock (callers pass `now`), no async runtime. Types that
//! cross HTTP between separately deployed edge and origin are a compatibility boundary: add
//! fields with `#[serde(default)]`, never rename or remove one in a single step.

pub mod claims;
pub mod dialect;
pub mod envelope;
pub mod invalidate;
pub mod money;
pub mod net;
pub mod pagination;
pub mod policy;
pub mod problem;
pub mod ratelimit;
pub mod validate;

pub use dialect::Dialect;
pub use problem::Problem;

/// Header names used between edge and origin (lower-case, our own).
pub mod headers {
    /// The shared secret with which the edge proves itself to the origin.
    pub const EDGE_SECRET: &str = "x-edge-secret";
    /// The client's IP address as the edge saw it; trusted only with `EDGE_SECRET`.
    pub const CLIENT_IP: &str = "x-client-ip";
    /// Origin → edge cache and revocation instructions (see [`crate::invalidate`]).
    pub const EDGE_INVALIDATE: &str = "x-edge-invalidate";
    /// Request id, generated if absent and echoed to the client.
    pub const REQUEST_ID: &str = "x-request-id";
    /// `HIT` or `MISS` on cacheable routes at the edge.
    pub const CACHE_STATUS: &str = "x-cache";
    /// Print dialect's token header.
    pub const PRINT_TOKEN: &str = "token";
}

/// A back-office permission of the print document. Handlers name the one they need by this
/// enum; the database stores [`Permission::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    Search,
    HomeRecommendation,
    News,
    HelpCentre,
    Activities,
    Scenarios,
    Goods,
    Orders,
    Points,
    Users,
    SupportTools,
    Coupons,
    Finance,
    Delivery,
    DataCentre,
}

impl Permission {
    /// Every permission, in the document's order.
    pub const ALL: [Permission; 15] = [
        Permission::Search,
        Permission::HomeRecommendation,
        Permission::News,
        Permission::HelpCentre,
        Permission::Activities,
        Permission::Scenarios,
        Permission::Goods,
        Permission::Orders,
        Permission::Points,
        Permission::Users,
        Permission::SupportTools,
        Permission::Coupons,
        Permission::Finance,
        Permission::Delivery,
        Permission::DataCentre,
    ];

    /// The document's name for it.
    pub fn name(self) -> &'static str {
        PERMISSIONS[self as usize]
    }

    pub fn parse(name: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The fifteen back-office permission names of the print document, in its order.
pub const PERMISSIONS: [&str; 15] = [
    "搜索管理",
    "首页推荐管理",
    "新闻管理",
    "帮助中心管理",
    "活动管理",
    "场景用途管理",
    "商品管理",
    "订单管理",
    "积分管理",
    "用户管理",
    "客服工具管理",
    "优惠券管理",
    "财务管理",
    "配送管理",
    "数据中心",
];

/// Compares two byte strings in time that depends only on their lengths (for secrets and
/// hashes).
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_permission_is_named_as_the_document_names_it() {
        use super::Permission;
        assert_eq!(Permission::Users.name(), "用户管理");
        assert_eq!(Permission::SupportTools.name(), "客服工具管理");
        assert_eq!(Permission::DataCentre.name(), "数据中心");
        for permission in Permission::ALL {
            assert_eq!(Permission::parse(permission.name()), Some(permission));
        }
        assert_eq!(Permission::parse("超级权限"), None);
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
