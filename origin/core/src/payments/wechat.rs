//! WeChat Pay API v3, app pay: `POST /v3/pay/transactions/app` for a `prepay_id`, the app's
//! signed pay parameters, the payment callback (signed headers, `AEAD_AES_256_GCM` resource), and
//! `GET /v3/pay/transactions/out-trade-no/{no}` for reconciliation. Amounts are integer fen.
//!
//! Our calls carry `Authorization: WECHATPAY2-SHA256-RSA2048 …`, signed with the merchant key
//! over `method\npath\ntimestamp\nnonce\nbody\n`; WeChat Pay's answers and callbacks are signed
//! with its public key (`ORIGIN_WECHATPAY_PUBLIC_KEY`, id `…_PUBLIC_KEY_ID`) over
//! `timestamp\nnonce\nbody\n`, and are believed only within five minutes of our clock.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::keys::{PrivateKey, PublicKey};
use super::{
    Answer, BoxFuture, Callback, NewOrder, Notification, Outcome, PaymentProvider, ProviderError,
    Verified, WechatPaySettings, http_client, nonce,
};
use crate::clock;
use crate::config::Secret;

/// How far a signed timestamp may be from our clock, in seconds.
pub const MAX_SKEW_SECS: i64 = 300;

pub const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";

pub struct WechatPay {
    mch_id: String,
    app_id: String,
    mch_serial: String,
    private_key: PrivateKey,
    api_v3_key: Secret,
    platform_key: PublicKey,
    public_key_id: String,
    api_base: String,
    notify_url: String,
    client: reqwest::Client,
    /// `Wechatpay-Nonce` → `Wechatpay-Timestamp` of the callbacks accepted in the last
    /// [`MAX_SKEW_SECS`]: a callback carrying one of them again is a replay, refused. Older
    /// ones are dropped, since their timestamps are refused anyway. Kept in memory: a restart
    /// forgets them (a replay then credits nothing: one `transaction_id` pays one order).
    accepted_nonces: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

/// WeChat Pay's payment callback, a JSON body, with the headers `Wechatpay-Timestamp`,
/// `Wechatpay-Nonce`, `Wechatpay-Signature` (over `timestamp\nnonce\nbody\n`, by WeChat Pay's
/// key) and `Wechatpay-Serial` (that key's id).
#[derive(Debug, Deserialize, ToSchema)]
pub struct WechatPayNotice {
    pub id: String,
    pub create_time: String,
    /// `TRANSACTION.SUCCESS`.
    pub event_type: String,
    /// `encrypt-resource`.
    pub resource_type: String,
    pub summary: String,
    #[schema(inline)]
    pub resource: WechatPayResource,
}

/// The encrypted transaction: `appid`, `mchid`, `out_trade_no`, `transaction_id`,
/// `trade_state` (`SUCCESS` settles) and `amount.total` (fen) are checked against ours.
#[derive(Debug, Deserialize, ToSchema)]
pub struct WechatPayResource {
    /// `AEAD_AES_256_GCM`, keyed by the API v3 key.
    pub algorithm: String,
    /// Base64 of the ciphertext and its tag.
    pub ciphertext: String,
    pub associated_data: String,
    pub original_type: String,
    /// 12 characters.
    pub nonce: String,
}

/// `POST /v3/pay/transactions/app`'s body, fields in the documented order.
#[derive(Serialize)]
struct AppOrder<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    notify_url: &'a str,
    amount: Amount,
}

#[derive(Serialize)]
struct Amount {
    total: i64,
    currency: &'static str,
}

/// The decrypted (or queried) transaction, the fields we check.
#[derive(Deserialize)]
struct Transaction {
    appid: String,
    mchid: String,
    out_trade_no: String,
    #[serde(default)]
    transaction_id: String,
    trade_state: String,
    #[serde(default)]
    amount: Option<TransactionAmount>,
}

#[derive(Deserialize)]
struct TransactionAmount {
    total: i64,
    #[serde(default)]
    currency: Option<String>,
}

impl WechatPay {
    pub fn new(settings: &WechatPaySettings, notify_url: String) -> anyhow::Result<WechatPay> {
        Ok(WechatPay {
            mch_id: settings.mch_id.clone(),
            app_id: settings.app_id.clone(),
            mch_serial: settings.mch_serial.clone(),
            private_key: PrivateKey::from_file(
                &settings.private_key,
                "ORIGIN_WECHATPAY_PRIVATE_KEY",
            )?,
            api_v3_key: settings.api_v3_key.clone(),
            platform_key: PublicKey::from_file(
                &settings.public_key,
                "ORIGIN_WECHATPAY_PUBLIC_KEY",
            )?,
            public_key_id: settings.public_key_id.clone(),
            api_base: settings.api_base.clone(),
            notify_url,
            client: http_client()?,
            accepted_nonces: Default::default(),
        })
    }

    /// The `Authorization` header of a call (fields in the official SDK's order).
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        body: &str,
        timestamp: i64,
        nonce: &str,
    ) -> String {
        let message = format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n");
        let signature = self.private_key.sign(message.as_bytes());
        format!(
            "{SIGNATURE_TYPE} mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
            self.mch_id, self.mch_serial
        )
    }

    /// The app's pay parameters for a `prepay_id` (`sign` over `appid\ntimestamp\nnonce\nprepayid\n`).
    pub fn app_params(&self, prepay_id: &str, timestamp: i64, nonce: &str) -> Value {
        let message = format!("{}\n{timestamp}\n{nonce}\n{prepay_id}\n", self.app_id);
        json!({
            "provider": self.name(),
            "appid": self.app_id,
            "partnerid": self.mch_id,
            "prepayid": prepay_id,
            "package": "Sign=WXPay",
            "noncestr": nonce,
            "timestamp": timestamp.to_string(),
            "sign": self.private_key.sign(message.as_bytes()),
        })
    }

    /// Checks WeChat Pay's signature headers over `body`: the key id, the clock, the signature.
    pub fn check_signed(
        &self,
        header: impl Fn(&str) -> Option<String>,
        body: &[u8],
        now: i64,
    ) -> Result<(), String> {
        let required = |name: &str| header(name).ok_or_else(|| format!("missing {name}"));
        if let Some(kind) = header("wechatpay-signature-type")
            && kind != SIGNATURE_TYPE
        {
            return Err(format!("signature type {kind} is not {SIGNATURE_TYPE}"));
        }
        if required("wechatpay-serial")? != self.public_key_id {
            return Err("Wechatpay-Serial is not our WeChat Pay public key id".into());
        }
        let timestamp = required("wechatpay-timestamp")?;
        let at: i64 = timestamp.parse().map_err(|_| "bad Wechatpay-Timestamp")?;
        if now.abs_diff(at) > MAX_SKEW_SECS.unsigned_abs() {
            return Err("Wechatpay-Timestamp too far from our clock".into());
        }
        let nonce = required("wechatpay-nonce")?;
        let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
        message.extend_from_slice(body);
        message.push(b'\n');
        if !self
            .platform_key
            .verify(&message, &required("wechatpay-signature")?)
        {
            return Err("bad signature".into());
        }
        Ok(())
    }

    /// The accepted callbacks' nonces still within the clock window at `now`.
    fn nonces(
        &self,
        now: i64,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, i64>> {
        let mut nonces = self
            .accepted_nonces
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        nonces.retain(|_, at| now.abs_diff(*at) <= MAX_SKEW_SECS.unsigned_abs());
        nonces
    }

    /// Decrypts a callback's `AEAD_AES_256_GCM` resource with the API v3 key.
    pub fn decrypt(&self, resource: &WechatPayResource) -> Result<String, String> {
        if resource.algorithm != "AEAD_AES_256_GCM" {
            return Err(format!("unknown algorithm {}", resource.algorithm));
        }
        let key = UnboundKey::new(&AES_256_GCM, self.api_v3_key.expose().as_bytes())
            .map_err(|_| "the API v3 key is not 32 bytes")?;
        let nonce = Nonce::try_assume_unique_for_key(resource.nonce.as_bytes())
            .map_err(|_| "resource nonce is not 12 bytes")?;
        let mut data = STANDARD
            .decode(&resource.ciphertext)
            .map_err(|_| "ciphertext is not base64")?;
        let plain = LessSafeKey::new(key)
            .open_in_place(
                nonce,
                Aad::from(resource.associated_data.as_bytes()),
                &mut data,
            )
            .map_err(|_| "resource does not decrypt with our API v3 key")?;
        String::from_utf8(plain.to_vec()).map_err(|_| "resource is not UTF-8".into())
    }

    /// A transaction (from a callback or a query) into what settling needs.
    fn transaction(&self, transaction: Transaction) -> Result<Verified, String> {
        if transaction.mchid != self.mch_id || transaction.appid != self.app_id {
            return Err("transaction of another mchid or appid".into());
        }
        if transaction.out_trade_no.is_empty() {
            return Err("missing out_trade_no".into());
        }
        if transaction.trade_state != "SUCCESS" {
            return Ok(Verified::NotPaid {
                order_no: transaction.out_trade_no,
                state: transaction.trade_state,
            });
        }
        let amount = transaction.amount.ok_or("missing amount")?;
        if amount
            .currency
            .as_deref()
            .is_some_and(|currency| currency != "CNY")
        {
            return Err("amount not in CNY".into());
        }
        if transaction.transaction_id.is_empty() {
            return Err("missing transaction_id".into());
        }
        Ok(Verified::Paid(Notification {
            order_no: transaction.out_trade_no,
            amount_cents: amount.total,
            trade_no: transaction.transaction_id,
        }))
    }

    /// One signed call; a 2xx answer's body once its signature is checked.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<String, ProviderError> {
        let unavailable = |error: reqwest::Error| ProviderError::Unavailable(error.to_string());
        let text = body.clone().unwrap_or_default();
        let authorization =
            self.authorization(method.as_str(), path, &text, clock::now(), &nonce(32));
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.api_base))
            .header("authorization", authorization)
            .header("accept", "application/json")
            .header("wechatpay-serial", &self.public_key_id);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(unavailable)?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(unavailable)?;
        if status.is_server_error() {
            return Err(ProviderError::Unavailable(format!("HTTP {status}")));
        }
        if !status.is_success() {
            let error: Value = serde_json::from_str(&body).unwrap_or_default();
            let field = |name| error[name].as_str().unwrap_or_default().to_owned();
            return Err(ProviderError::Refused {
                code: field("code"),
                message: field("message"),
            });
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        self.check_signed(header, body.as_bytes(), clock::now())
            .map_err(ProviderError::Unauthentic)?;
        Ok(body)
    }

    async fn open(&self, order: NewOrder<'_>) -> Result<Value, ProviderError> {
        let body = serde_json::to_string(&AppOrder {
            appid: &self.app_id,
            mchid: &self.mch_id,
            description: order.subject,
            out_trade_no: order.order_no,
            notify_url: &self.notify_url,
            amount: Amount {
                total: order.price_cents,
                currency: "CNY",
            },
        })
        .expect("plain fields serialise");
        let answer = self
            .call(
                reqwest::Method::POST,
                "/v3/pay/transactions/app",
                Some(body),
            )
            .await?;
        let answer: Value = serde_json::from_str(&answer).unwrap_or_default();
        let prepay_id = answer["prepay_id"]
            .as_str()
            .ok_or_else(|| ProviderError::Unauthentic("no prepay_id".into()))?;
        Ok(self.app_params(prepay_id, clock::now(), &nonce(32)))
    }

    async fn ask(&self, order_no: &str) -> Result<Verified, ProviderError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}?mchid={}",
            form_urlencoded::byte_serialize(order_no.as_bytes()).collect::<String>(),
            self.mch_id
        );
        let body = match self.call(reqwest::Method::GET, &path, None).await {
            Err(ProviderError::Refused { code, .. }) if code == "ORDER_NOT_EXIST" => {
                return Ok(Verified::NotPaid {
                    order_no: order_no.to_owned(),
                    state: code,
                });
            }
            other => other?,
        };
        let transaction: Transaction = serde_json::from_str(&body)
            .map_err(|error| ProviderError::Unauthentic(format!("bad transaction: {error}")))?;
        if transaction.out_trade_no != order_no {
            return Err(ProviderError::Unauthentic(
                "answer about another order".into(),
            ));
        }
        self.transaction(transaction)
            .map_err(ProviderError::Unauthentic)
    }
}

impl PaymentProvider for WechatPay {
    fn name(&self) -> &'static str {
        "wechat"
    }

    fn create_order<'a>(
        &'a self,
        order: NewOrder<'a>,
    ) -> BoxFuture<'a, Result<Value, ProviderError>> {
        Box::pin(self.open(order))
    }

    fn verify(&self, callback: &Callback<'_>, now: i64) -> Result<Verified, String> {
        self.check_signed(
            |name| callback.header(name).map(str::to_owned),
            callback.body,
            now,
        )?;
        let nonce = callback.header("wechatpay-nonce").unwrap_or_default();
        if self.nonces(now).contains_key(nonce) {
            return Err("Wechatpay-Nonce already used".into());
        }
        let notice: WechatPayNotice =
            serde_json::from_slice(callback.body).map_err(|error| format!("bad body: {error}"))?;
        let plain = self.decrypt(&notice.resource)?;
        let transaction: Transaction =
            serde_json::from_str(&plain).map_err(|error| format!("bad transaction: {error}"))?;
        self.transaction(transaction)
    }

    fn accepted(&self, callback: &Callback<'_>, now: i64) {
        let header = |name| callback.header(name).unwrap_or_default();
        if let Ok(at) = header("wechatpay-timestamp").parse() {
            self.nonces(now)
                .insert(header("wechatpay-nonce").to_owned(), at);
        }
    }

    fn answer(&self, outcome: &Outcome) -> Answer {
        let fail = |status, message: &str| Answer {
            status,
            content_type: Some("application/json"),
            body: json!({ "code": "FAIL", "message": message })
                .to_string()
                .into_bytes(),
        };
        match outcome {
            Outcome::Accepted => Answer {
                status: 204,
                content_type: None,
                body: Vec::new(),
            },
            Outcome::Refused(reason) => fail(400, reason),
            Outcome::Failed => fail(500, "暂时无法处理，请稍后重试"),
        }
    }

    fn query<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, Result<Verified, ProviderError>> {
        Box::pin(self.ask(order_no))
    }
}
