//! Alipay app pay (`alipay.trade.app.pay`) with RSA2 (SHA256withRSA) signatures, its
//! asynchronous notification, and `alipay.trade.query` for reconciliation.
//!
//! The signed string is every parameter but `sign` (and, in a notification, `sign_type`), sorted
//! by name, `k=v` joined by `&`, unencoded. Creating an order is only a signature: the app SDK
//! takes the signed order string and talks to Alipay itself. Amounts are yuan strings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use shared::money::{format_cents, parse_cents};
use time::{OffsetDateTime, UtcOffset};
use utoipa::ToSchema;

use super::keys::{PrivateKey, PublicKey};
use super::{
    AlipaySettings, Answer, BoxFuture, Callback, NewOrder, Notification, Outcome, PaymentProvider,
    ProviderError, Verified, http_client,
};

pub struct Alipay {
    app_id: String,
    private_key: PrivateKey,
    alipay_key: PublicKey,
    gateway: String,
    notify_url: String,
    client: reqwest::Client,
}

/// Alipay's asynchronous notification, a form (the fields read; Alipay sends more, and every
/// field it sends is signed).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AlipayNotice {
    /// Our application's id: must be ours.
    pub app_id: String,
    /// The order (`order_no` of the recharge order).
    pub out_trade_no: String,
    /// Alipay's id of the payment; one pays one order only.
    pub trade_no: String,
    /// `TRADE_SUCCESS` or `TRADE_FINISHED` settle the order; `WAIT_BUYER_PAY` and
    /// `TRADE_CLOSED` are acknowledged and change nothing.
    pub trade_status: String,
    /// The order's amount in yuan (`"12.50"`), checked against the order to the cent.
    pub total_amount: String,
    /// `RSA2`.
    pub sign_type: String,
    /// Base64 SHA256withRSA, by Alipay's key, of every other field but `sign_type`, sorted by
    /// name, `k=v` joined by `&`.
    pub sign: String,
}

/// `biz_content` of `alipay.trade.app.pay`: fields in name order, as the SDK writes them.
#[derive(Serialize)]
struct AppPayContent<'a> {
    out_trade_no: &'a str,
    product_code: &'a str,
    subject: &'a str,
    timeout_express: &'a str,
    total_amount: &'a str,
}

impl Alipay {
    pub fn new(settings: &AlipaySettings, notify_url: String) -> anyhow::Result<Alipay> {
        Ok(Alipay {
            app_id: settings.app_id.clone(),
            private_key: PrivateKey::from_file(&settings.private_key, "ORIGIN_ALIPAY_PRIVATE_KEY")?,
            alipay_key: PublicKey::from_file(&settings.public_key, "ORIGIN_ALIPAY_PUBLIC_KEY")?,
            gateway: settings.gateway.clone(),
            notify_url,
            client: http_client()?,
        })
    }

    /// The signed order string the app SDK takes (parameters in the official SDK's order).
    pub fn order_string(&self, order: &NewOrder<'_>, timestamp: &str) -> String {
        let amount = format_cents(order.price_cents);
        let content = AppPayContent {
            out_trade_no: order.order_no,
            product_code: "QUICK_MSECURITY_PAY",
            subject: order.subject,
            timeout_express: "30m",
            total_amount: &amount,
        };
        let biz_content = serde_json::to_string(&content).expect("plain strings serialise");
        let mut params = self.common("alipay.trade.app.pay", timestamp);
        params.push(("notify_url", self.notify_url.clone()));
        self.signed_query(params, &[("biz_content", biz_content)])
    }

    fn common(&self, method: &str, timestamp: &str) -> Vec<(&'static str, String)> {
        vec![
            ("timestamp", timestamp.to_owned()),
            ("app_id", self.app_id.clone()),
            ("method", method.to_owned()),
            ("charset", "utf-8".to_owned()),
            ("format", "json".to_owned()),
            ("version", "1.0".to_owned()),
            ("sign_type", "RSA2".to_owned()),
        ]
    }

    /// `common` and `sign` URL-encoded, then `extra` (what the SDK puts in the body of a call).
    fn signed_query(
        &self,
        mut common: Vec<(&'static str, String)>,
        extra: &[(&'static str, String)],
    ) -> String {
        let content = sign_content(common.iter().chain(extra).map(|(k, v)| (*k, v.as_str())));
        common.push(("sign", self.private_key.sign(content.as_bytes())));
        common.extend(extra.iter().cloned());
        encode_pairs(&common)
    }

    /// `alipay.trade.query`'s URL query (common parameters and `sign`) and form body
    /// (`biz_content`), as the SDK sends them.
    pub fn query_request(&self, order_no: &str, timestamp: &str) -> (String, String) {
        let query = self.common("alipay.trade.query", timestamp);
        let extra = [(
            "biz_content",
            json!({ "out_trade_no": order_no }).to_string(),
        )];
        let signed = self.signed_query(query, &extra);
        let body = encode_pairs(&extra);
        let query = signed
            .strip_suffix(&format!("&{body}"))
            .expect("the extra parameters come last")
            .to_owned();
        (query, body)
    }

    async fn ask(&self, order_no: &str) -> Result<Verified, ProviderError> {
        let timestamp = beijing_time(OffsetDateTime::now_utc());
        let (query, body) = self.query_request(order_no, &timestamp);
        let url = format!("{}?{query}", self.gateway);
        let response = self
            .client
            .post(url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(body)
            .send()
            .await
            .map_err(|error| ProviderError::Unavailable(error.to_string()))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|error| ProviderError::Unavailable(error.to_string()))?;
        if status.is_server_error() {
            return Err(ProviderError::Unavailable(format!("HTTP {status}")));
        }
        self.read_query_response(&body, order_no)
    }

    /// Reads `alipay.trade.query`'s answer: a success must carry Alipay's signature over the
    /// response object's exact text.
    pub fn read_query_response(
        &self,
        body: &str,
        order_no: &str,
    ) -> Result<Verified, ProviderError> {
        #[derive(Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow, alias = "error_response")]
            alipay_trade_query_response: &'a RawValue,
            sign: Option<String>,
        }
        let unreadable = |error: serde_json::Error| ProviderError::Unauthentic(error.to_string());
        let envelope: Envelope = serde_json::from_str(body).map_err(unreadable)?;
        let raw = envelope.alipay_trade_query_response.get();
        let fields: BTreeMap<String, Value> = serde_json::from_str(raw).map_err(unreadable)?;
        let text = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
        match (text("code"), text("sub_code")) {
            ("10000", _) => {}
            ("40004", "ACQ.TRADE_NOT_EXIST") => {
                return Ok(Verified::NotPaid {
                    order_no: order_no.to_owned(),
                    state: "TRADE_NOT_EXIST".into(),
                });
            }
            (code, sub_code) => {
                return Err(ProviderError::Refused {
                    code: format!("{code} {sub_code}").trim().to_owned(),
                    message: [text("sub_msg"), text("msg")].join(" ").trim().to_owned(),
                });
            }
        }
        let signed = envelope
            .sign
            .is_some_and(|sign| self.alipay_key.verify(raw.as_bytes(), &sign));
        if !signed {
            return Err(ProviderError::Unauthentic("bad response signature".into()));
        }
        if text("out_trade_no") != order_no {
            return Err(ProviderError::Unauthentic(
                "answer about another order".into(),
            ));
        }
        trade(
            order_no,
            text("trade_no"),
            text("trade_status"),
            text("total_amount"),
        )
        .map_err(ProviderError::Unauthentic)
    }
}

impl PaymentProvider for Alipay {
    fn name(&self) -> &'static str {
        "alipay"
    }

    fn create_order<'a>(
        &'a self,
        order: NewOrder<'a>,
    ) -> BoxFuture<'a, Result<Value, ProviderError>> {
        let order_string = self.order_string(&order, &beijing_time(OffsetDateTime::now_utc()));
        let params = json!({ "provider": self.name(), "order_string": order_string });
        Box::pin(async move { Ok(params) })
    }

    fn verify(&self, callback: &Callback<'_>, _now: i64) -> Result<Verified, String> {
        let fields: BTreeMap<String, String> =
            form_urlencoded::parse(callback.body).into_owned().collect();
        let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
        if !matches!(field("sign_type"), "" | "RSA2") {
            return Err(format!("sign_type {} is not RSA2", field("sign_type")));
        }
        let content = sign_content(
            fields
                .iter()
                .filter(|(name, value)| {
                    !["sign", "sign_type"].contains(&name.as_str()) && !value.is_empty()
                })
                .map(|(name, value)| (name.as_str(), value.as_str())),
        );
        if !self.alipay_key.verify(content.as_bytes(), field("sign")) {
            return Err("bad signature".into());
        }
        if field("app_id") != self.app_id {
            return Err("notification for another app_id".into());
        }
        trade(
            field("out_trade_no"),
            field("trade_no"),
            field("trade_status"),
            field("total_amount"),
        )
    }

    fn answer(&self, outcome: &Outcome) -> Answer {
        // Alipay reads only the body: anything but `success` makes it retry.
        match outcome {
            Outcome::Accepted => Answer::text(200, "success"),
            Outcome::Refused(_) => Answer::text(400, "fail"),
            Outcome::Failed => Answer::text(500, "fail"),
        }
    }

    fn query<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, Result<Verified, ProviderError>> {
        Box::pin(self.ask(order_no))
    }
}

/// A trade's state as Alipay reports it, into what settling needs.
fn trade(order_no: &str, trade_no: &str, status: &str, amount: &str) -> Result<Verified, String> {
    if order_no.is_empty() {
        return Err("missing out_trade_no".into());
    }
    match status {
        "TRADE_SUCCESS" | "TRADE_FINISHED" => {}
        "WAIT_BUYER_PAY" | "TRADE_CLOSED" => {
            return Ok(Verified::NotPaid {
                order_no: order_no.to_owned(),
                state: status.to_owned(),
            });
        }
        other => return Err(format!("unknown trade_status {other:?}")),
    }
    if trade_no.is_empty() {
        return Err("missing trade_no".into());
    }
    let amount_cents = parse_cents("total_amount", amount).map_err(|_| "bad total_amount")?;
    Ok(Verified::Paid(Notification {
        order_no: order_no.to_owned(),
        amount_cents,
        trade_no: trade_no.to_owned(),
    }))
}

/// Parameters sorted by name, `k=v` joined by `&`: what RSA2 signs.
pub fn sign_content<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let sorted: BTreeMap<&str, &str> = pairs.collect();
    sorted
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `k=v&…` with each value encoded as Python's `quote_plus` does (what the SDK sends).
fn encode_pairs(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", quote_plus(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn quote_plus(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                encoded.push(byte as char)
            }
            b' ' => encoded.push('+'),
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// `yyyy-MM-dd HH:mm:ss` in Beijing time, the `timestamp` Alipay wants.
fn beijing_time(now: OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let beijing = UtcOffset::from_hms(8, 0, 0).expect("a valid offset");
    now.to_offset(beijing).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_encoded_like_python_quote_plus() {
        assert_eq!(quote_plus("a b*~/:中"), "a+b%2A~%2F%3A%E4%B8%AD");
    }

    #[test]
    fn timestamps_are_beijing_time() {
        let at = OffsetDateTime::from_unix_timestamp(1_714_536_000).unwrap();
        assert_eq!(beijing_time(at), "2024-05-01 12:00:00");
    }
}
