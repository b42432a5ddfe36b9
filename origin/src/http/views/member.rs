//! Views of the print document's member centre.

use super::*;

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
