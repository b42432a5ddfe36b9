//! Views of the back office's orders, catalogue and dashboard (`http::admin::orders`).

use super::*;
use crate::domain::admin::{AdminGift, AdminGiftOrder, AdminGoods, AdminRecharge, Stats};

/// Who placed an order: their id and display name (nickname, else account, else `用户 {id}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderUser {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminRechargeView {
    pub id: i64,
    pub order_no: String,
    pub user: OrderUser,
    /// Decimal yuan, `"12.50"`.
    pub amount: String,
    /// `alipay` or `wechat`, as the order was created.
    pub pay_type: String,
    /// The gateway that settles it (`sandbox`, `alipay`, `wechat`).
    pub provider: String,
    /// The gateway's trade number, once paid.
    pub trade_no: Option<String>,
    /// `pending` or `paid`.
    pub status: &'static str,
    pub created_at: String,
    pub paid_at: Option<String>,
}

impl AdminRechargeView {
    pub fn of(row: &AdminRecharge, offset: UtcOffset) -> AdminRechargeView {
        AdminRechargeView {
            id: row.id,
            order_no: row.order_no.clone(),
            user: OrderUser {
                id: row.user_id,
                name: row.user_name.clone(),
            },
            amount: format_cents(row.price_cents),
            pay_type: row.pay_type.clone(),
            provider: row.provider.clone(),
            trade_no: row.trade_no.clone(),
            status: if row.paid_at.is_some() {
                "paid"
            } else {
                "pending"
            },
            created_at: clock::format(row.created_at, offset),
            paid_at: row.paid_at.map(|at| clock::format(at, offset)),
        }
    }
}

/// A gift order in the shipping queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminGiftOrderView {
    pub id: i64,
    pub order_no: String,
    pub user: OrderUser,
    /// The address copied when the order was placed.
    pub address: ShipTo,
    pub gift: GoodsRef,
    /// The points the order cost.
    pub accumulate_points: i64,
    /// 未发货 or 已发货 (status 1 or 2 of the print API).
    pub status: &'static str,
    pub express_company: Option<String>,
    pub tracking_no: Option<String>,
    pub created_at: String,
    pub shipped_at: Option<String>,
}

impl AdminGiftOrderView {
    pub fn of(row: &AdminGiftOrder, offset: UtcOffset) -> AdminGiftOrderView {
        let address = &row.address;
        AdminGiftOrderView {
            id: row.id,
            order_no: row.order_no.clone(),
            user: OrderUser {
                id: row.user_id,
                name: row.user_name.clone(),
            },
            address: ShipTo {
                name: address.name.clone(),
                phone: address.phone.clone(),
                province: address.province.clone(),
                city: address.city.clone(),
                county: address.county.clone(),
                detail: address.detail.clone(),
            },
            gift: GoodsRef {
                id: row.gift_id,
                name: row.gift_name.clone(),
            },
            accumulate_points: row.accumulate_points,
            status: crate::domain::admin::gift_order_status(row),
            express_company: row.express_company.clone(),
            tracking_no: row.tracking_no.clone(),
            created_at: clock::format(row.created_at, offset),
            shipped_at: row.shipped_at.map(|at| clock::format(at, offset)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminGoodsView {
    pub id: i64,
    pub name: String,
    /// Decimal yuan.
    pub price: String,
    /// Retired goods are kept for what names them.
    pub retired: bool,
    pub created_at: String,
}

impl AdminGoodsView {
    pub fn of(row: &AdminGoods, offset: UtcOffset) -> AdminGoodsView {
        AdminGoodsView {
            id: row.id,
            name: row.name.clone(),
            price: format_cents(row.price_cents),
            retired: row.retired,
            created_at: clock::format(row.created_at, offset),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminGiftView {
    pub id: i64,
    pub name: String,
    pub image: Option<Image>,
    pub accumulate_points: i64,
    pub stock: i64,
    /// A retired gift is not in `/api/gifts` and cannot be redeemed.
    pub retired: bool,
    pub created_at: String,
}

impl AdminGiftView {
    pub fn of(row: &AdminGift, offset: UtcOffset) -> AdminGiftView {
        AdminGiftView {
            id: row.gift.id,
            name: row.gift.name.clone(),
            image: row.gift.image.as_ref().map(Image::of),
            accumulate_points: row.gift.accumulate_points,
            stock: row.gift.stock,
            retired: row.retired,
            created_at: clock::format(row.created_at, offset),
        }
    }
}

/// One day of the dashboard, in the configured offset.
#[derive(Debug, Serialize, ToSchema)]
pub struct DayStatsView {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub sign_ups: u64,
    pub paid_recharges: u64,
    /// Decimal yuan paid that day.
    pub paid_amount: String,
    pub gift_redemptions: u64,
    pub delivery_failures: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    /// Oldest first; the last is today.
    pub days: Vec<DayStatsView>,
    /// Gift orders not shipped yet.
    pub pending_shipments: u64,
    /// SMS and e-mail given up in the last 24 hours.
    pub delivery_failures_24h: u64,
    /// …and over the days listed.
    pub delivery_failures: u64,
}

impl StatsView {
    pub fn of(stats: &Stats) -> StatsView {
        StatsView {
            days: stats
                .days
                .iter()
                .map(|day| DayStatsView {
                    date: day.date.to_string(),
                    sign_ups: day.sign_ups,
                    paid_recharges: day.paid_recharges,
                    paid_amount: format_cents(day.paid_cents),
                    gift_redemptions: day.gift_redemptions,
                    delivery_failures: day.delivery_failures,
                })
                .collect(),
            pending_shipments: stats.pending_shipments,
            delivery_failures_24h: stats.delivery_failures_24h,
            delivery_failures: stats.delivery_failures,
        }
    }
}
