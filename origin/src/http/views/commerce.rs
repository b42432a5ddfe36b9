//! Views of the print document: comments, gifts and recharges.

use super::*;

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
