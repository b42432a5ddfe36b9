//! Stand-ins for the payment gateways, one per provider, each implementing the provider's
//! published protocol on `127.0.0.1:0`: they check the caller's signatures as the real gateway
//! does, answer signed, make the signed (and for WeChat Pay encrypted) callbacks the gateway
//! would send, and can be told to fail. The origin's adapters reach them through their
//! configured base URL; nothing else differs from production. Keys are the TEST-ONLY fixtures
//! under `tests/vectors/` (made by `tests/vectors/generate.py`).

pub mod alipay;
pub mod wechatpay;

use std::path::PathBuf;

use axum::Router;

/// The directory of the TEST-ONLY keys and golden vectors.
pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// A TEST-ONLY fixture file under `tests/vectors/`.
pub fn fixture(name: &str) -> String {
    std::fs::read_to_string(vectors_dir().join(name)).unwrap()
}

/// Serves `router` on a free local port; its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}
