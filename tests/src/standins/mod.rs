//! Local stand-ins for the SMS providers (`aliyun`, `tencent`) and the payment gateways
//! (`alipay`, `wechatpay`), for the origin's integration tests.
//!
//! The SMS stand-ins: Each implements
//! its provider's documented `SendSms` protocol as the provider checks it — it recomputes the
//! caller's signature from what arrived (its own code, not the adapter's: the golden vectors
//! in `tests/vectors/` anchor both to the official SDKs), refuses stale timestamps and (Aliyun)
//! repeated nonces, and answers in the provider's own success and error shapes. A test can
//! queue faults (an outage, a provider error) for the next calls. Only the base URL differs
//! from production.

pub mod alipay;
pub mod aliyun;
pub mod tencent;
pub mod wechatpay;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// What a stand-in does with the next call instead of its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The provider is down: 503 with a plain-text body.
    Outage,
    /// The provider refuses the message with this error code, in its own shape.
    Error(String),
}

/// A message a stand-in accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub phone: String,
    pub sign_name: String,
    pub template: String,
    /// Aliyun: the `TemplateParam` JSON; Tencent: `TemplateParamSet` as JSON.
    pub params: serde_json::Value,
    pub message_id: String,
}

/// What every stand-in records, shared with the test.
#[derive(Debug, Default)]
pub struct Log {
    pub accepted: Vec<Accepted>,
    /// Error codes the stand-in answered with, in order (signature checks and faults alike).
    pub refused: Vec<String>,
    pub faults: VecDeque<Fault>,
    pub seen_nonces: Vec<String>,
}

/// A running stand-in: its base URL and its log.
#[derive(Clone)]
pub struct StandIn {
    pub url: String,
    pub log: Arc<Mutex<Log>>,
}

impl StandIn {
    /// Makes the next `count` calls meet `fault`.
    pub fn fail_next(&self, count: usize, fault: Fault) {
        let mut log = self.log.lock().unwrap();
        for _ in 0..count {
            log.faults.push_back(fault.clone());
        }
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.log.lock().unwrap().accepted.clone()
    }

    pub fn refused(&self) -> Vec<String> {
        self.log.lock().unwrap().refused.clone()
    }

    /// Waits (up to `seconds`) until `count` messages were accepted.
    pub async fn wait_for_accepted(&self, count: usize, seconds: u64) -> Vec<Accepted> {
        for _ in 0..seconds * 20 {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "the stand-in accepted {} messages in {seconds} s, not {count}; refused: {:?}",
            self.accepted().len(),
            self.refused()
        );
    }
}

/// The request as it arrived.
pub struct Arrived {
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Arrived {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }
}

/// Serves `answer` for `POST /` on a free local port.
pub async fn serve(
    log: Arc<Mutex<Log>>,
    answer: impl Fn(&Arrived, &Mutex<Log>) -> (StatusCode, String) + Clone + Send + Sync + 'static,
) -> StandIn {
    let state = log.clone();
    let app = Router::new().route(
        "/",
        post(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let answer = answer.clone();
            let log = state.clone();
            async move {
                let arrived = Arrived { uri, headers, body };
                let (status, text) = answer(&arrived, &log);
                let response: Response =
                    (status, [("content-type", "application/json")], text).into_response();
                response
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    StandIn { url, log }
}

/// HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Seconds since the epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The directory of the TEST-ONLY keys and golden vectors (payment gateways).
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// A TEST-ONLY fixture file under `tests/vectors/`.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(vectors_dir().join(name)).unwrap()
}

/// Serves `router` on a free local port; its base URL (payment gateways).
async fn serve_router(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}
