//! A stand-in Alipay open-platform gateway (`/gateway.do`), written from Alipay's published
//! protocol rather than from the adapter: it checks each call's RSA2 signature with the app's
//! public key (every parameter but `sign`, sorted, `k=v&…`) and its `app_id`, answers
//! `alipay.trade.query` with a response signed by "Alipay's" TEST-ONLY key over the response
//! object's exact text, refuses a call whose `timestamp` (`yyyy-MM-dd HH:mm:ss`, Beijing time)
//! is missing, unreadable or more than [`TIMESTAMP_SKEW_SECS`] off its clock (Alipay's public
//! errors `40001` `isv.missing-timestamp` / `40002` `isv.invalid-timestamp`), and, when the "app" pays a signed order string, makes the signed
//! asynchronous notification Alipay would post. It can be told to fail: an outage (HTTP 502) or
//! a business error (`40004` / `ACQ.SYSTEM_ERROR`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use origin::payments::keys::{PrivateKey, PublicKey};
use serde_json::{Value, json};

use super::{fixture, serve_router};

pub const APP_ID: &str = "2021000000000001";

/// How far a call's `timestamp` may be from the stand-in's clock. Alipay does not publish its
/// window; five minutes is the one the other stand-ins (and WeChat Pay) use.
pub const TIMESTAMP_SKEW_SECS: i64 = 300;

/// How the gateway answers calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Normal,
    /// Every call gets HTTP 502 (the gateway is down).
    Down,
    /// Every call gets a signed business error.
    SystemError,
}

struct Trade {
    total_amount: String,
    trade_no: String,
    status: &'static str,
}

struct Gateway {
    app_key: PublicKey,
    alipay_key: PrivateKey,
    behaviour: Behaviour,
    trades: HashMap<String, Trade>,
    calls: Vec<String>,
}

pub struct AlipayStandIn {
    /// The gateway URL (`ORIGIN_ALIPAY_GATEWAY`).
    pub url: String,
    gateway: Arc<Mutex<Gateway>>,
}

/// Signed content: every given pair, sorted by name, `k=v` joined by `&`.
fn content<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    let mut pairs: Vec<_> = pairs.filter(|(_, value)| !value.is_empty()).collect();
    pairs.sort();
    pairs
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

impl AlipayStandIn {
    pub async fn start() -> AlipayStandIn {
        let gateway = Arc::new(Mutex::new(Gateway {
            app_key: PublicKey::from_pem(&fixture("alipay/TEST-ONLY-app-public-key.pem")).unwrap(),
            alipay_key: PrivateKey::from_pem(&fixture("alipay/TEST-ONLY-alipay-private-key.pem"))
                .unwrap(),
            behaviour: Behaviour::Normal,
            trades: HashMap::new(),
            calls: Vec::new(),
        }));
        let router = Router::new()
            .route("/gateway.do", post(call))
            .with_state(gateway.clone());
        let base = serve_router(router).await;
        AlipayStandIn {
            url: format!("{base}/gateway.do"),
            gateway,
        }
    }

    pub fn behave(&self, behaviour: Behaviour) {
        self.gateway.lock().unwrap().behaviour = behaviour;
    }

    /// The methods called so far (`alipay.trade.query`, …), or `refused: why` for refused calls.
    pub fn calls(&self) -> Vec<String> {
        self.gateway.lock().unwrap().calls.clone()
    }

    /// The app pays an order string: its signature is checked (as the Alipay app does), the
    /// trade recorded paid, and the signed notification Alipay would post is returned as form
    /// pairs, with `notify_url`.
    pub fn pay(&self, order_string: &str) -> Result<(String, Vec<(String, String)>), String> {
        let fields: BTreeMap<String, String> = form_urlencoded::parse(order_string.as_bytes())
            .into_owned()
            .collect();
        let mut gateway = self.gateway.lock().unwrap();
        gateway.check(&fields)?;
        if fields["method"] != "alipay.trade.app.pay" {
            return Err("not an app pay order".into());
        }
        let biz: Value = serde_json::from_str(&fields["biz_content"]).map_err(|e| e.to_string())?;
        let order_no = biz["out_trade_no"].as_str().unwrap().to_owned();
        let total_amount = biz["total_amount"].as_str().unwrap().to_owned();
        let trade_no = format!("2024{:024}", gateway.trades.len() + 1);
        gateway.trades.insert(
            order_no.clone(),
            Trade {
                total_amount: total_amount.clone(),
                trade_no: trade_no.clone(),
                status: "TRADE_SUCCESS",
            },
        );
        drop(gateway);
        let notice = self.notice_for(&order_no, &total_amount, &trade_no, "TRADE_SUCCESS", APP_ID);
        Ok((fields["notify_url"].clone(), notice))
    }

    /// A notification as Alipay signs it, with the fields given (for failure paths: another
    /// amount, another app, another status).
    pub fn notice_for(
        &self,
        order_no: &str,
        total_amount: &str,
        trade_no: &str,
        trade_status: &str,
        app_id: &str,
    ) -> Vec<(String, String)> {
        let mut fields: BTreeMap<String, String> = [
            ("notify_type", "trade_status_sync"),
            ("notify_id", "2024050100222120100012345678"),
            ("notify_time", "2024-05-01 12:01:01"),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("app_id", app_id),
            ("auth_app_id", app_id),
            ("out_trade_no", order_no),
            ("trade_no", trade_no),
            ("trade_status", trade_status),
            ("total_amount", total_amount),
            ("receipt_amount", total_amount),
            ("subject", "余额充值"),
            ("gmt_payment", "2024-05-01 12:01:00"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let signed = content(fields.iter());
        let sign = self
            .gateway
            .lock()
            .unwrap()
            .alipay_key
            .sign(signed.as_bytes());
        fields.insert("sign_type".into(), "RSA2".into());
        fields.insert("sign".into(), sign);
        fields.into_iter().collect()
    }
}

impl Gateway {
    /// What the open platform checks of every call: the app, the signature type, the signature.
    fn check(&self, fields: &BTreeMap<String, String>) -> Result<(), String> {
        if fields.get("app_id").map(String::as_str) != Some(APP_ID) {
            return Err("isv.invalid-app-id".into());
        }
        if fields.get("sign_type").map(String::as_str) != Some("RSA2") {
            return Err("isv.invalid-signature-type".into());
        }
        let sign = fields.get("sign").ok_or("isv.missing-signature")?;
        let signed = content(fields.iter().filter(|(name, _)| name.as_str() != "sign"));
        if !self.app_key.verify(signed.as_bytes(), sign) {
            return Err("isv.invalid-signature".into());
        }
        Ok(())
    }

    /// A gateway call's `timestamp`: present, `yyyy-MM-dd HH:mm:ss` in Beijing time, and within
    /// [`TIMESTAMP_SKEW_SECS`] of now.
    fn check_timestamp(fields: &BTreeMap<String, String>) -> Result<(), String> {
        let timestamp = fields
            .get("timestamp")
            .filter(|value| !value.is_empty())
            .ok_or("isv.missing-timestamp")?;
        let format =
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
        let beijing = time::UtcOffset::from_hms(8, 0, 0).expect("a valid offset");
        let at = time::PrimitiveDateTime::parse(timestamp, &format)
            .map_err(|_| "isv.invalid-timestamp")?
            .assume_offset(beijing);
        let skew = (time::OffsetDateTime::now_utc() - at).whole_seconds().abs();
        if skew > TIMESTAMP_SKEW_SECS {
            return Err("isv.invalid-timestamp".into());
        }
        Ok(())
    }

    /// `{"<method>_response": content, "sign": …}`, the content signed as written.
    fn signed(&self, method: &str, content: Value) -> Response {
        let text = content.to_string();
        let sign = self.alipay_key.sign(text.as_bytes());
        let key = format!("{}_response", method.replace('.', "_"));
        let body = format!("{{\"{key}\":{text},\"sign\":\"{sign}\"}}");
        (
            StatusCode::OK,
            [("content-type", "application/json;charset=utf-8")],
            body,
        )
            .into_response()
    }
}

async fn call(
    State(gateway): State<Arc<Mutex<Gateway>>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut fields: BTreeMap<String, String> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    fields.extend(form_urlencoded::parse(&body).into_owned());
    let mut gateway = gateway.lock().unwrap();
    let method = fields.get("method").cloned().unwrap_or_default();
    if gateway.behaviour == Behaviour::Down {
        gateway.calls.push(format!("down: {method}"));
        return StatusCode::BAD_GATEWAY.into_response();
    }
    let checked = gateway
        .check(&fields)
        .and_then(|()| Gateway::check_timestamp(&fields));
    if let Err(sub_code) = checked {
        gateway.calls.push(format!("refused: {sub_code}"));
        // Alipay's public error codes: a missing parameter is 40001, a bad one 40002.
        let error = match sub_code.as_str() {
            "isv.missing-timestamp" => {
                json!({ "code": "40001", "msg": "Missing Required Arguments", "sub_code": sub_code, "sub_msg": "缺少时间戳参数" })
            }
            "isv.invalid-timestamp" => {
                json!({ "code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": "非法的时间戳参数" })
            }
            _ => {
                json!({ "code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": "参数无效" })
            }
        };
        return gateway.signed("error", error);
    }
    gateway.calls.push(method.clone());
    if gateway.behaviour == Behaviour::SystemError {
        let error = json!({ "code": "40004", "msg": "Business Failed", "sub_code": "ACQ.SYSTEM_ERROR", "sub_msg": "系统错误" });
        return gateway.signed(&method, error);
    }
    if method != "alipay.trade.query" {
        let error = json!({ "code": "40004", "msg": "Business Failed", "sub_code": "isv.invalid-method", "sub_msg": "stand-in: unknown method" });
        return gateway.signed(&method, error);
    }
    let biz: Value =
        serde_json::from_str(fields.get("biz_content").map_or("", |v| v)).unwrap_or_default();
    let order_no = biz["out_trade_no"].as_str().unwrap_or_default();
    let answer = match gateway.trades.get(order_no) {
        Some(trade) => json!({
            "code": "10000", "msg": "Success", "out_trade_no": order_no,
            "trade_no": trade.trade_no, "trade_status": trade.status,
            "total_amount": trade.total_amount, "buyer_logon_id": "159****5620",
        }),
        None => json!({
            "code": "40004", "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_NOT_EXIST", "sub_msg": "交易不存在",
        }),
    };
    gateway.signed(&method, answer)
}
