//! A stand-in WeChat Pay API v3, written from WeChat Pay's published protocol rather than from
//! the adapter: every call must carry `Authorization: WECHATPAY2-SHA256-RSA2048 …` for our
//! merchant and certificate serial, signed with the merchant key over
//! `method\nurl\ntimestamp\nnonce\nbody\n`, with a timestamp within five minutes and a nonce
//! never seen before (else 401 `SIGN_ERROR`). Answers are signed with "WeChat Pay's" TEST-ONLY
//! key (`Wechatpay-*` headers); a paid order's callback is signed the same way and its
//! transaction encrypted `AEAD_AES_256_GCM` with the API v3 key. It can be told to fail: an
//! outage (HTTP 503) or a refusal (400 `PARAM_ERROR`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use origin::payments::keys::{PrivateKey, PublicKey};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde_json::{Value, json};

use super::{fixture, serve_router};

pub const MCH_ID: &str = "1900000001";
pub const APP_ID: &str = "wxd678efh567hg6787";
pub const MCH_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const API_V3_KEY: &str = "TESTONLYapiV3key0123456789abcdef";
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000000012024050100000000000001";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Normal,
    /// Every call gets HTTP 503.
    Down,
    /// Every call is refused with 400 `PARAM_ERROR`.
    Refuse,
}

struct Order {
    total: i64,
    prepay_id: String,
    transaction_id: Option<String>,
}

struct Api {
    merchant_key: PublicKey,
    platform_key: PrivateKey,
    behaviour: Behaviour,
    nonces: HashSet<String>,
    orders: HashMap<String, Order>,
    calls: Vec<String>,
}

pub struct WechatPayStandIn {
    /// `ORIGIN_WECHATPAY_API_BASE`.
    pub url: String,
    api: Arc<Mutex<Api>>,
}

impl WechatPayStandIn {
    pub async fn start() -> WechatPayStandIn {
        let api = Arc::new(Mutex::new(Api {
            merchant_key: PublicKey::from_pem(&fixture(
                "wechatpay/TEST-ONLY-merchant-public-key.pem",
            ))
            .unwrap(),
            platform_key: PrivateKey::from_pem(&fixture(
                "wechatpay/TEST-ONLY-platform-private-key.pem",
            ))
            .unwrap(),
            behaviour: Behaviour::Normal,
            nonces: HashSet::new(),
            orders: HashMap::new(),
            calls: Vec::new(),
        }));
        let router = Router::new()
            .route("/v3/pay/transactions/app", post(create))
            .route("/v3/pay/transactions/out-trade-no/{order_no}", get(query))
            .with_state(api.clone());
        WechatPayStandIn {
            url: serve_router(router).await,
            api,
        }
    }

    pub fn behave(&self, behaviour: Behaviour) {
        self.api.lock().unwrap().behaviour = behaviour;
    }

    /// Each call as `METHOD path` (or `refused: why`).
    pub fn calls(&self) -> Vec<String> {
        self.api.lock().unwrap().calls.clone()
    }

    /// The app pays with its pay parameters: their signature is checked (as WeChat does), the
    /// order becomes paid, and the callback WeChat Pay would send is returned (headers, body).
    pub fn pay(&self, params: &Value, now: i64) -> Result<(Vec<(String, String)>, String), String> {
        let text = |name: &str| params[name].as_str().unwrap_or_default().to_owned();
        let message = format!(
            "{}\n{}\n{}\n{}\n",
            text("appid"),
            text("timestamp"),
            text("noncestr"),
            text("prepayid")
        );
        let mut api = self.api.lock().unwrap();
        if !api.merchant_key.verify(message.as_bytes(), &text("sign")) {
            return Err("pay parameters not signed by the merchant".into());
        }
        let (order_no, order) = api
            .orders
            .iter_mut()
            .find(|(_, order)| order.prepay_id == text("prepayid"))
            .ok_or("unknown prepay_id")?;
        let transaction_id = format!("42000000002024{:014}", order.total);
        order.transaction_id = Some(transaction_id.clone());
        let transaction = transaction(order_no, &transaction_id, "SUCCESS", order.total);
        drop(api);
        Ok(self.callback(&transaction, now))
    }

    /// A callback as WeChat Pay signs and encrypts it, carrying `transaction` (for failure
    /// paths: another amount, another merchant) and signed at `now`.
    pub fn callback(&self, transaction: &Value, now: i64) -> (Vec<(String, String)>, String) {
        let nonce = "fdasflkja484";
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, API_V3_KEY.as_bytes()).unwrap());
        let mut data = transaction.to_string().into_bytes();
        key.seal_in_place_append_tag(
            Nonce::try_assume_unique_for_key(nonce.as_bytes()).unwrap(),
            Aad::from(b"transaction"),
            &mut data,
        )
        .unwrap();
        let body = json!({
            "id": "EV-2018022511223320873", "create_time": "2024-05-01T12:01:01+08:00",
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": STANDARD.encode(data), "associated_data": "transaction", "nonce": nonce,
            },
        })
        .to_string();
        let headers = self.api.lock().unwrap().signature_headers(&body, now);
        (headers, body)
    }
}

/// A transaction as WeChat Pay reports it.
pub fn transaction(order_no: &str, transaction_id: &str, state: &str, total: i64) -> Value {
    json!({
        "appid": APP_ID, "mchid": MCH_ID, "out_trade_no": order_no,
        "transaction_id": transaction_id, "trade_type": "APP", "trade_state": state,
        "trade_state_desc": "", "bank_type": "OTHERS", "attach": "",
        "success_time": "2024-05-01T12:01:00+08:00",
        "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
        "amount": { "total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY" },
    })
}

impl Api {
    fn signature_headers(&self, body: &str, now: i64) -> Vec<(String, String)> {
        let nonce = format!("{:032X}", rand::random::<u128>());
        let signature = self
            .platform_key
            .sign(format!("{now}\n{nonce}\n{body}\n").as_bytes());
        [
            ("wechatpay-timestamp", now.to_string()),
            ("wechatpay-nonce", nonce),
            ("wechatpay-signature", signature),
            ("wechatpay-serial", PUBLIC_KEY_ID.to_owned()),
            (
                "wechatpay-signature-type",
                "WECHATPAY2-SHA256-RSA2048".to_owned(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// A signed JSON answer.
    fn answer(&self, status: StatusCode, body: Value) -> Response {
        let body = body.to_string();
        let mut response =
            (status, [("content-type", "application/json")], body.clone()).into_response();
        for (name, value) in self.signature_headers(&body, now()) {
            let name = axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
            response.headers_mut().insert(name, value.parse().unwrap());
        }
        response
    }

    fn error(&mut self, status: StatusCode, code: &str, message: &str) -> Response {
        self.calls.push(format!("refused: {code}: {message}"));
        let body = json!({ "code": code, "message": message }).to_string();
        (status, [("content-type", "application/json")], body).into_response()
    }

    /// The merchant's `Authorization` over this request, as WeChat Pay checks it.
    fn authorize(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), String> {
        let header = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .ok_or("missing Authorization")?;
        let fields = header
            .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
            .ok_or("not WECHATPAY2-SHA256-RSA2048")?;
        let fields: HashMap<&str, &str> = fields
            .split(',')
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                Some((name.trim(), value.trim().trim_matches('"')))
            })
            .collect();
        let field = |name: &str| fields.get(name).copied().ok_or(format!("missing {name}"));
        if field("mchid")? != MCH_ID || field("serial_no")? != MCH_SERIAL {
            return Err("unknown merchant or certificate serial".into());
        }
        let timestamp: i64 = field("timestamp")?.parse().map_err(|_| "bad timestamp")?;
        if (now() - timestamp).abs() > 300 {
            return Err("timestamp expired".into());
        }
        let nonce = field("nonce_str")?;
        let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
        let mut message = format!("{method}\n{path}\n{timestamp}\n{nonce}\n").into_bytes();
        message.extend_from_slice(body);
        message.push(b'\n');
        if !self.merchant_key.verify(&message, field("signature")?) {
            return Err("signature does not verify".into());
        }
        if !self.nonces.insert(nonce.to_owned()) {
            return Err("nonce already used".into());
        }
        Ok(())
    }

    /// The checks and failure modes every call shares: the refusal, if any.
    fn admit(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<Response> {
        match self.behaviour {
            Behaviour::Down => {
                self.calls.push(format!("down: {method} {}", uri.path()));
                return Some(StatusCode::SERVICE_UNAVAILABLE.into_response());
            }
            Behaviour::Refuse => {
                return Some(self.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "参数错误"));
            }
            Behaviour::Normal => {}
        }
        if let Err(why) = self.authorize(method, uri, headers, body) {
            return Some(self.error(StatusCode::UNAUTHORIZED, "SIGN_ERROR", &why));
        }
        self.calls.push(format!("{method} {}", uri.path()));
        None
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn create(
    State(api): State<Arc<Mutex<Api>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut api = api.lock().unwrap();
    if let Some(refusal) = api.admit(&method, &uri, &headers, &body) {
        return refusal;
    }
    let order: Value = serde_json::from_slice(&body).unwrap_or_default();
    let text = |name: &str| order[name].as_str().unwrap_or_default().to_owned();
    if text("appid") != APP_ID || text("mchid") != MCH_ID {
        return api.error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "appid和mch_id不匹配",
        );
    }
    let total = order["amount"]["total"].as_i64().unwrap_or(0);
    if total <= 0 || text("out_trade_no").is_empty() || !text("notify_url").starts_with("https://")
    {
        return api.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "参数错误");
    }
    let prepay_id = format!("wx{:030}", api.orders.len() + 1);
    api.orders.insert(
        text("out_trade_no"),
        Order {
            total,
            prepay_id: prepay_id.clone(),
            transaction_id: None,
        },
    );
    api.answer(StatusCode::OK, json!({ "prepay_id": prepay_id }))
}

async fn query(
    State(api): State<Arc<Mutex<Api>>>,
    Path(order_no): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut api = api.lock().unwrap();
    if let Some(refusal) = api.admit(&method, &uri, &headers, b"") {
        return refusal;
    }
    if query.as_deref() != Some(&format!("mchid={MCH_ID}")) {
        return api.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid 缺失");
    }
    let Some(order) = api.orders.get(&order_no) else {
        return api.error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在");
    };
    let answer = match &order.transaction_id {
        Some(id) => transaction(&order_no, id, "SUCCESS", order.total),
        None => transaction(&order_no, "", "NOTPAY", order.total),
    };
    api.answer(StatusCode::OK, answer)
}
