//! The frame every signed-in page shares: who is signed in, the menu they may use, the form
//! token, and a one-line notice.

use shared::Permission;

use crate::domain::console::Operator;

/// One entry of the menu; shown only to holders of its permission.
pub struct MenuItem {
    pub key: &'static str,
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// The menu, in order, with the permission each entry needs. The pages behind them check the
/// same permission on the server; hiding an entry is only a courtesy.
pub const MENU: &[(&str, &str, &str, Permission)] = &[
    ("users", "用户", "/console/users", Permission::Users),
    (
        "shipping",
        "发货",
        "/console/gift_orders",
        Permission::Delivery,
    ),
    (
        "recharges",
        "充值订单",
        "/console/recharge_orders",
        Permission::Finance,
    ),
    (
        "audit",
        "审计日志",
        "/console/audit",
        Permission::DataCentre,
    ),
    (
        "deliveries",
        "通知记录",
        "/console/deliveries",
        Permission::SupportTools,
    ),
    ("goods", "商品", "/console/goods", Permission::Goods),
    ("gifts", "礼品", "/console/gifts", Permission::Points),
    (
        "dashboard",
        "数据中心",
        "/console/dashboard",
        Permission::DataCentre,
    ),
    ("coupons", "优惠券", "/console/coupons", Permission::Coupons),
    (
        "messages",
        "站内信",
        "/console/messages",
        Permission::SupportTools,
    ),
    (
        "invitations",
        "邀请码",
        "/console/invitations",
        Permission::Users,
    ),
    ("roles", "角色", "/console/roles", Permission::Users),
];

pub struct Layout {
    pub operator: String,
    pub csrf: String,
    /// A fresh one-time key for the page's forms that must not be done twice
    /// ([`super::session::Once`]).
    pub once: String,
    pub menu: Vec<MenuItem>,
    pub notice: Option<String>,
}

impl Layout {
    /// The frame for `operator` with the menu entry `current` highlighted.
    pub fn new(operator: &Operator, current: &str) -> Layout {
        Layout {
            operator: operator.name.clone(),
            csrf: operator.csrf.clone(),
            once: crate::ids::random_hex(16),
            menu: MENU
                .iter()
                .filter(|(_, _, _, permission)| operator.may(*permission))
                .map(|(key, label, href, _)| MenuItem {
                    key,
                    label,
                    href,
                    current: *key == current,
                })
                .collect(),
            notice: None,
        }
    }

    pub fn with_notice(mut self, notice: Option<String>) -> Layout {
        self.notice = notice;
        self
    }
}
