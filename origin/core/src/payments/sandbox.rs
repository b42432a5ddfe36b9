//! The development gateway: a form signed with HMAC-SHA256 and a secret from the configuration
//! (SPEC §7). It opens no order anywhere and cannot be asked about one; both pay types settle
//! through it while `ORIGIN_PAYMENTS=sandbox`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};
use shared::money::{format_cents, parse_cents};
use utoipa::ToSchema;

use super::{
    Answer, BoxFuture, Callback, NewOrder, Notification, Outcome, PaymentProvider, ProviderError,
    Verified,
};
use crate::config::Secret;
use crate::ids::{constant_time_eq, keyed_hash};

pub struct SandboxProvider {
    secret: Secret,
}

/// The sandbox gateway's callback, a form, as [`SandboxProvider::verify`] reads it (the API
/// documents show this type).
#[derive(Debug, Deserialize, ToSchema)]
pub struct SandboxNotice {
    /// The order paid (`order_no` of the recharge order).
    pub order_no: String,
    /// The amount paid, in yuan with two decimals (`"12.50"`).
    pub amount: String,
    /// The gateway's own id of the payment; a repeated one is a replay.
    pub trade_no: String,
    /// HMAC-SHA256 of every other field (sorted by name, `k=v` joined by `&`), hex.
    pub sign: String,
}

impl SandboxProvider {
    pub fn new(secret: Secret) -> SandboxProvider {
        SandboxProvider { secret }
    }

    /// The signature of `fields` (every one but `sign`, sorted by name, `k=v` joined by `&`).
    pub fn sign(secret: &str, fields: &BTreeMap<String, String>) -> String {
        let message = fields
            .iter()
            .filter(|(name, _)| name.as_str() != "sign")
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("&");
        keyed_hash(secret, &message)
    }
}

impl SandboxProvider {
    /// Checks a callback's fields: the signature first, then the form.
    pub fn verify_fields(&self, fields: &BTreeMap<String, String>) -> Result<Notification, String> {
        let presented = fields.get("sign").ok_or("missing sign")?;
        let expected = Self::sign(self.secret.expose(), fields);
        if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            return Err("bad signature".into());
        }
        let notice: SandboxNotice = serde_json::to_value(fields)
            .and_then(serde_json::from_value)
            .map_err(|error| format!("bad form: {error}"))?;
        let field = |name: &str, value: String| {
            if value.trim().is_empty() {
                Err(format!("missing {name}"))
            } else {
                Ok(value)
            }
        };
        let amount = field("amount", notice.amount)?;
        let amount_cents = parse_cents("amount", &amount).map_err(|_| "bad amount".to_owned())?;
        Ok(Notification {
            order_no: field("order_no", notice.order_no)?,
            amount_cents,
            trade_no: field("trade_no", notice.trade_no)?,
        })
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create_order<'a>(
        &'a self,
        order: NewOrder<'a>,
    ) -> BoxFuture<'a, Result<Value, ProviderError>> {
        let params = json!({
            "provider": self.name(),
            "pay_type": order.pay_type,
            "order_no": order.order_no,
            "amount": format_cents(order.price_cents),
            "notify_url": format!("/api/payments/{}/notify", self.name()),
        });
        Box::pin(async move { Ok(params) })
    }

    fn verify(&self, callback: &Callback<'_>, _now: i64) -> Result<Verified, String> {
        // A repeated name means its last value, as everywhere in the API.
        let fields: BTreeMap<String, String> =
            form_urlencoded::parse(callback.body).into_owned().collect();
        self.verify_fields(&fields).map(Verified::Paid)
    }

    fn answer(&self, outcome: &Outcome) -> Answer {
        match outcome {
            Outcome::Accepted => Answer::text(200, "success"),
            Outcome::Refused(_) => Answer::text(400, "fail"),
            Outcome::Failed => Answer::text(500, "fail"),
        }
    }

    fn reconciles(&self) -> bool {
        false
    }

    fn query<'a>(&'a self, _order_no: &'a str) -> BoxFuture<'a, Result<Verified, ProviderError>> {
        let error = ProviderError::Unavailable("the sandbox cannot be asked about orders".into());
        Box::pin(async move { Err(error) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &str, pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut fields: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let sign = SandboxProvider::sign(secret, &fields);
        fields.insert("sign".into(), sign);
        fields
    }

    #[test]
    fn a_correct_signature_is_believed_and_anything_else_is_not() {
        let provider = SandboxProvider::new(Secret::new("s3cret"));
        let pairs = [("order_no", "R1"), ("amount", "10.50"), ("trade_no", "T1")];
        let good = signed("s3cret", &pairs);
        assert_eq!(
            provider.verify_fields(&good),
            Ok(Notification {
                order_no: "R1".into(),
                amount_cents: 1050,
                trade_no: "T1".into()
            })
        );
        assert!(provider.verify_fields(&signed("other", &pairs)).is_err());
        let mut tampered = good.clone();
        tampered.insert("amount".into(), "1000.00".into());
        assert!(provider.verify_fields(&tampered).is_err());
        let mut unsigned = good;
        unsigned.remove("sign");
        assert!(provider.verify_fields(&unsigned).is_err());
    }

    #[test]
    fn the_signed_string_is_sorted_and_excludes_sign() {
        let fields = signed("k", &[("b", "2"), ("a", "1")]);
        assert_eq!(
            SandboxProvider::sign("k", &fields),
            keyed_hash("k", "a=1&b=2")
        );
    }
}
