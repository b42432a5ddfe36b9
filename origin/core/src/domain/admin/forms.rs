//! What a back-office action is asked to create, checked once: the admin API and the CLI both
//! build these through their constructors, so a rule cannot be skipped by the door an operator
//! uses. The limits are constants the HTTP inputs also read (and so document).

use shared::Problem;
use shared::validate;

/// An invitation code is good for at most this many registrations…
pub const MAX_INVITATION_USES: i64 = 1_000_000;
/// …and lives at most this many days.
pub const MAX_INVITATION_DAYS: i64 = 3650;
/// A single points adjustment moves at most this many points either way.
pub const MAX_POINTS_CHANGE: i64 = 1_000_000_000;
/// A single balance adjustment moves at most this much money (cents) either way.
pub const MAX_BALANCE_CHANGE_CENTS: i64 = 10_000_000_000;
/// Characters of a ledger entry's description, a goods or gift name, a coupon name.
pub const DESCRIBE_MAX_CHARS: usize = 100;
pub const GOODS_NAME_MAX_CHARS: usize = 100;
pub const GIFT_NAME_MAX_CHARS: usize = 100;
pub const COUPON_NAME_MAX_CHARS: usize = 50;
/// A gift costs at most this many points and is stocked at most this many times.
pub const MAX_GIFT_POINTS: i64 = 1_000_000_000;
pub const MAX_GIFT_STOCK: i64 = 1_000_000_000;
/// Characters of an in-site message's sender, title and body.
pub const SENDER_MAX_CHARS: usize = 50;
pub const TITLE_MAX_CHARS: usize = 100;
pub const BODY_MAX_CHARS: usize = 2000;

fn within(field: &str, value: i64, min: i64, max: i64) -> Result<i64, Problem> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Problem::invalid(
            field,
            format!("{field} 必须是 {min} 到 {max} 之间的整数"),
        ))
    }
}

/// An invitation code for store registration.
pub struct NewInvitation {
    pub(super) uses: i64,
    pub(super) expires_in_days: Option<i64>,
}

impl NewInvitation {
    pub fn new(uses: i64, expires_in_days: Option<i64>) -> Result<NewInvitation, Problem> {
        Ok(NewInvitation {
            uses: within("uses", uses, 1, MAX_INVITATION_USES)?,
            expires_in_days: expires_in_days
                .map(|days| within("expires_in_days", days, 1, MAX_INVITATION_DAYS))
                .transpose()?,
        })
    }
}

/// The two coupon kinds of the print document.
pub const COUPON_KINDS: [&str; 2] = ["满减", "抵扣"];

/// The most users one coupon grant reaches: its inserts share one write transaction, which
/// holds the single writer (about 10 ms per thousand here), so larger audiences go in batches.
pub const MAX_COUPON_RECIPIENTS: usize = 10_000;

/// A coupon to grant: a 满减 coupon needs the spend it applies from (`satisfy`); a 抵扣
/// coupon has none. Money in cents; `finished_at` must be in the future (`now`).
#[derive(Debug, Clone)]
pub struct CouponGrant {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) quota_cents: i64,
    pub(super) satisfy_cents: Option<i64>,
    pub(super) finished_at: i64,
}

impl CouponGrant {
    pub fn new(
        name: &str,
        kind: &str,
        quota_cents: i64,
        satisfy_cents: Option<i64>,
        finished_at: i64,
        now: i64,
    ) -> Result<CouponGrant, Problem> {
        let kind = kind.trim();
        if !COUPON_KINDS.contains(&kind) {
            return Err(Problem::invalid("type", "type 只能是 满减 或 抵扣"));
        }
        if quota_cents <= 0 {
            return Err(Problem::invalid("quota", "quota 必须大于 0"));
        }
        let satisfy_cents = satisfy_cents.filter(|cents| *cents >= 0);
        if kind == "满减" && satisfy_cents.is_none() {
            return Err(Problem::invalid(
                "satisfy",
                "满减券需要 satisfy（不小于 0 的金额）",
            ));
        }
        if finished_at <= now {
            return Err(Problem::invalid("finished_at", "finished_at 必须晚于现在"));
        }
        Ok(CouponGrant {
            name: validate::text("name", name, COUPON_NAME_MAX_CHARS)?,
            satisfy_cents: satisfy_cents.filter(|_| kind == "满减"),
            kind: kind.to_owned(),
            quota_cents,
            finished_at,
        })
    }
}

/// An in-site message; the sender defaults to 系统.
pub struct NewMessage {
    pub(super) sender: String,
    pub(super) title: String,
    pub(super) body: String,
}

impl NewMessage {
    pub fn new(sender: Option<&str>, title: &str, body: &str) -> Result<NewMessage, Problem> {
        let sender = match sender.map(str::trim) {
            None | Some("") => "系统".to_owned(),
            Some(sender) => validate::text("sender", sender, SENDER_MAX_CHARS)?,
        };
        Ok(NewMessage {
            sender,
            title: validate::text("title", title, TITLE_MAX_CHARS)?,
            body: validate::text("body", body, BODY_MAX_CHARS)?,
        })
    }
}

/// Goods that comments are about: a name and a price that is not negative (cents).
pub struct NewGoods {
    pub(super) name: String,
    pub(super) price_cents: i64,
}

impl NewGoods {
    pub fn new(name: &str, price_cents: i64) -> Result<NewGoods, Problem> {
        let name = validate::text("name", name, GOODS_NAME_MAX_CHARS)?;
        if price_cents < 0 {
            return Err(Problem::invalid("price", "price 不能为负"));
        }
        Ok(NewGoods { name, price_cents })
    }
}

/// A gift to put on offer for points. `image` is an image upload's id (checked when the gift
/// is created, inside its transaction).
pub struct NewGift {
    pub(super) name: String,
    pub(super) accumulate_points: i64,
    pub(super) stock: i64,
    pub(super) image: Option<i64>,
}

impl NewGift {
    pub fn new(
        name: &str,
        accumulate_points: i64,
        stock: i64,
        image: Option<i64>,
    ) -> Result<NewGift, Problem> {
        Ok(NewGift {
            name: validate::text("name", name, GIFT_NAME_MAX_CHARS)?,
            accumulate_points: within("accumulate_points", accumulate_points, 1, MAX_GIFT_POINTS)?,
            stock: within("stock", stock, 0, MAX_GIFT_STOCK)?,
            image,
        })
    }
}

/// A day as the back office's filters take it, `YYYY-MM-DD`; refused naming `field`.
pub fn parse_day(field: &str, raw: &str) -> Result<time::Date, Problem> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw.trim(), &format)
        .map_err(|_| Problem::invalid(field, format!("{field} 必须是日期，如 2026-01-31")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coupons_follow_their_kind_and_end_in_the_future() {
        let now = 1_000;
        assert!(CouponGrant::new("券", "满减", 500, Some(3000), now + 1, now).is_ok());
        assert!(CouponGrant::new("券", "抵扣", 500, None, now + 1, now).is_ok());
        let field = |result: Result<CouponGrant, Problem>| {
            result.err().and_then(|p| p.field().map(str::to_owned))
        };
        assert_eq!(
            field(CouponGrant::new("券", "打折", 500, None, now + 1, now)),
            Some("type".into())
        );
        assert_eq!(
            field(CouponGrant::new("券", "抵扣", 0, None, now + 1, now)),
            Some("quota".into())
        );
        assert_eq!(
            field(CouponGrant::new("券", "满减", 500, None, now + 1, now)),
            Some("satisfy".into())
        );
        assert_eq!(
            field(CouponGrant::new("券", "满减", 500, Some(-1), now + 1, now)),
            Some("satisfy".into())
        );
        assert_eq!(
            field(CouponGrant::new("券", "抵扣", 500, None, now, now)),
            Some("finished_at".into())
        );
        assert_eq!(
            field(CouponGrant::new(" ", "抵扣", 500, None, now + 1, now)),
            Some("name".into())
        );
    }

    #[test]
    fn goods_gifts_and_messages_are_checked_for_every_door() {
        assert!(NewGoods::new("名片", 0).is_ok());
        assert!(NewGoods::new("名片", -1).is_err());
        assert!(NewGoods::new(&"x".repeat(GOODS_NAME_MAX_CHARS + 1), 1).is_err());
        assert!(NewGift::new("杯子", 1, 0, None).is_ok());
        assert!(NewGift::new("杯子", 0, 0, None).is_err());
        assert!(NewGift::new("杯子", 1, -1, None).is_err());
        assert_eq!(NewMessage::new(None, "t", "b").unwrap().sender, "系统");
        assert!(NewMessage::new(None, "t", &"b".repeat(BODY_MAX_CHARS + 1)).is_err());
        assert!(NewMessage::new(Some(&"s".repeat(SENDER_MAX_CHARS + 1)), "t", "b").is_err());
        assert!(NewInvitation::new(0, None).is_err());
        assert!(NewInvitation::new(1, Some(MAX_INVITATION_DAYS + 1)).is_err());
    }
}
