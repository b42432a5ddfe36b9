//! Payment providers. A provider creates an order at its gateway (a network call, or only a
//! signature), reads its gateway's callback from the raw body and headers into a verified
//! [`Verified`], answers the gateway in the gateway's own format, and can be asked about an order
//! (reconciliation). Settling is the domain's job (`domain::commerce`), the same for callbacks
//! and queries, so a payment credits once however it is learnt.
//!
//! `ORIGIN_PAYMENTS=sandbox` (the default) settles both pay types through the HMAC
//! [`SandboxProvider`]; `live` uses [`alipay::Alipay`] and [`wechat::WechatPay`], each only if
//! configured (see [`Settings`]).

pub mod alipay;
pub mod keys;
mod sandbox;
mod settings;
pub mod wechat;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;
use shared::Problem;

pub use sandbox::{SandboxNotice, SandboxProvider};
pub use settings::{AlipaySettings, Mode, Settings, WechatPaySettings};

use crate::config::Config;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How long any call to a gateway may take, connection included.
pub const GATEWAY_TIMEOUT: Duration = Duration::from_secs(10);

/// A payment the provider vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub order_no: String,
    pub amount_cents: i64,
    pub trade_no: String,
}

/// What a provider learnt from an authentic callback or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The order is paid: settle it.
    Paid(Notification),
    /// The gateway says the order is not paid (waiting, closed, unknown): nothing to settle.
    NotPaid { order_no: String, state: String },
}

/// A callback as it arrived: header names in lower case, the body untouched (signatures are
/// over its exact bytes).
pub struct Callback<'a> {
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

impl Callback<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// An order to open at the gateway.
#[derive(Debug, Clone)]
pub struct NewOrder<'a> {
    pub order_no: &'a str,
    pub price_cents: i64,
    pub pay_type: &'a str,
    /// What the payer sees (`余额充值`).
    pub subject: &'a str,
}

/// What became of a callback, for the provider to put in its gateway's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and settled (or already settled by this payment, or authentic news that the
    /// order is not paid): the gateway should stop sending it.
    Accepted,
    /// Not believed or not matching its order; nothing changed.
    Refused(String),
    /// We could not settle it now (storage failed); the gateway should retry.
    Failed,
}

/// An answer to a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// `None` for an empty answer (WeChat Pay's 204).
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            content_type: Some("text/plain; charset=utf-8"),
            body: body.as_bytes().to_vec(),
        }
    }
}

/// A gateway call that did not give an answer we can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// Not reached, timed out, or a 5xx: try again later.
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
    /// The gateway refused the call (its code and message).
    #[error("gateway refused: {code}: {message}")]
    Refused { code: String, message: String },
    /// An answer that is not authentic or not readable.
    #[error("gateway answer not believed: {0}")]
    Unauthentic(String),
}

impl From<ProviderError> for Problem {
    fn from(error: ProviderError) -> Problem {
        match error {
            ProviderError::Unavailable(_) => Problem::Unavailable,
            ProviderError::Refused { message, .. } => {
                Problem::refused(format!("支付渠道拒绝了订单：{message}"))
            }
            ProviderError::Unauthentic(_) => Problem::refused("支付渠道的应答无法验证，请稍后再试"),
        }
    }
}

pub trait PaymentProvider: Send + Sync {
    /// The `{provider}` in `POST /api/payments/{provider}/notify`.
    fn name(&self) -> &'static str;

    /// Opens the order at the gateway; what the client hands to the payment app.
    fn create_order<'a>(
        &'a self,
        order: NewOrder<'a>,
    ) -> BoxFuture<'a, Result<Value, ProviderError>>;

    /// Checks a callback (signatures, clock, our ids, its status). The error says why it was not
    /// believed. `now` is seconds since the epoch.
    fn verify(&self, callback: &Callback<'_>, now: i64) -> Result<Verified, String>;

    /// Told that a callback `verify` believed was accepted (settled, or already settled), so
    /// the provider can refuse the same signed callback again (WeChat Pay's nonces).
    fn accepted(&self, _callback: &Callback<'_>, _now: i64) {}

    /// The gateway's answer to a callback.
    fn answer(&self, outcome: &Outcome) -> Answer;

    /// Whether the gateway can be asked about orders (reconciliation); the sandbox cannot.
    fn reconciles(&self) -> bool {
        true
    }

    /// Asks the gateway about an order.
    fn query<'a>(&'a self, order_no: &'a str) -> BoxFuture<'a, Result<Verified, ProviderError>>;
}

/// The providers this process settles with, by pay type.
pub struct Providers {
    mode: Mode,
    sandbox: Option<SandboxProvider>,
    alipay: Option<alipay::Alipay>,
    wechat: Option<wechat::WechatPay>,
}

impl Providers {
    /// Builds what the configuration asks for, reading the key files.
    pub fn build(config: &Config) -> anyhow::Result<Providers> {
        let settings = &config.payments;
        let notify_url = |name: &str| {
            let base = settings.public_base_url.as_deref().unwrap_or_default();
            format!("{base}/api/payments/{name}/notify")
        };
        Ok(match settings.mode {
            Mode::Sandbox => Providers {
                mode: Mode::Sandbox,
                sandbox: Some(SandboxProvider::new(config.pay_sandbox_secret.clone())),
                alipay: None,
                wechat: None,
            },
            Mode::Live => Providers {
                mode: Mode::Live,
                sandbox: None,
                alipay: settings
                    .alipay
                    .as_ref()
                    .map(|alipay| alipay::Alipay::new(alipay, notify_url("alipay")))
                    .transpose()?,
                wechat: settings
                    .wechat
                    .as_ref()
                    .map(|wechat| wechat::WechatPay::new(wechat, notify_url("wechat")))
                    .transpose()?,
            },
        })
    }

    /// The provider that opens orders of `pay_type`; in live mode one not configured is refused.
    pub fn for_pay_type(&self, pay_type: &str) -> Result<&dyn PaymentProvider, Problem> {
        if let Some(sandbox) = &self.sandbox {
            return Ok(sandbox);
        }
        let (provider, label): (Option<&dyn PaymentProvider>, _) = match pay_type {
            "alipay" => (self.alipay.as_ref().map(|p| p as _), "支付宝"),
            _ => (self.wechat.as_ref().map(|p| p as _), "微信支付"),
        };
        provider.ok_or_else(|| {
            Problem::invalid("pay_type", format!("{label}未开通，请选择其他支付方式"))
        })
    }

    /// The provider named in a callback's path.
    pub fn named(&self, name: &str) -> Option<&dyn PaymentProvider> {
        self.all().find(|provider| provider.name() == name)
    }

    pub fn all(&self) -> impl Iterator<Item = &dyn PaymentProvider> {
        let sandbox = self.sandbox.iter().map(|p| p as &dyn PaymentProvider);
        let alipay = self.alipay.iter().map(|p| p as &dyn PaymentProvider);
        let wechat = self.wechat.iter().map(|p| p as &dyn PaymentProvider);
        sandbox.chain(alipay).chain(wechat)
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }
}

/// The HTTP client every gateway call goes through: rustls, a timeout on every call.
pub(crate) fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(GATEWAY_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("origin/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// A random string of letters and digits (nonces).
pub(crate) fn nonce(length: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..length)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod golden;
