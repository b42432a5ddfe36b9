//! Limits the edge enforces before the origin is asked: per-client rate limits (an IPv6 /64 as one
//! client) and body limits, chunked bodies included.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::json;
use tests::{System, json_of};

use crate::Named;
use crate::support::{answered_by_edge, expect_status, print_error};

pub const SCENARIOS: &[Named] = scenarios![
    per_ip_rate_limits_are_exact_at_the_edge,
    bodies_over_the_route_limit_stop_at_the_edge,
    an_ipv6_64_shares_one_budget_at_the_edge,
    a_chunked_body_over_a_small_limit_is_refused_before_it_is_read,
];

async fn per_ip_rate_limits_are_exact_at_the_edge(system: Arc<System>) -> anyhow::Result<()> {
    let ip = system.fresh_ip();
    for attempt in 1..=10 {
        let response = system
            .edge_from(Method::POST, "/api/captchas?username=limit", &ip)
            .send()
            .await?;
        ensure!(
            response.status() == 201,
            "captcha {attempt} of 10 refused: {}",
            response.status()
        );
    }
    let limited = system
        .edge_from(Method::POST, "/api/captchas?username=limit", &ip)
        .send()
        .await?;
    ensure!(
        answered_by_edge(&system, &limited),
        "the edge should count and refuse"
    );
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .context("Retry-After")?
        .to_str()?
        .parse()?;
    ensure!((1..=60).contains(&retry_after), "{retry_after}");
    let body = json_of(limited, 429).await?;
    ensure!(body["code"] == 40001, "{body}");
    let other = system
        .edge_from(
            Method::POST,
            "/api/captchas?username=limit",
            &system.fresh_ip(),
        )
        .send()
        .await?;
    ensure!(other.status() == 201);

    let sms_ip = system.fresh_ip();
    let send = |phone: String| {
        system
            .edge_from(Method::POST, "/api/sms", &sms_ip)
            .json(&json!({ "phone": phone, "is_register": true }))
            .send()
    };
    expect_status(send(system.fresh_phone()).await?, 201).await?;
    let limited = send(system.fresh_phone()).await?;
    ensure!(answered_by_edge(&system, &limited) && limited.headers().contains_key("retry-after"));
    print_error(limited, 429, 999).await?;
    let mail = system
        .edge_from(Method::POST, "/api/mail", &sms_ip)
        .json(&json!({ "email": format!("{}@example.com", system.fresh_name("m")), "is_register": true }))
        .send()
        .await?;
    expect_status(mail, 201)
        .await
        .context("mail has its own limit")?;
    Ok(())
}

async fn bodies_over_the_route_limit_stop_at_the_edge(system: Arc<System>) -> anyhow::Result<()> {
    let big = json!({ "username": "x".repeat(70 * 1024), "password": "y" }).to_string();
    let print = system
        .edge(Method::POST, "/api/login")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await?;
    ensure!(answered_by_edge(&system, &print));
    print_error(print, 413, 999).await?;
    let store = system
        .edge(Method::POST, "/api/auth/login")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await?;
    ensure!(answered_by_edge(&system, &store));
    ensure!(json_of(store, 413).await?["code"] == 10001);
    Ok(())
}

/// SPEC §6: an IPv6 address counts as its /64. Ten captchas from ten addresses of one /64 spend
/// the network's budget (10/60), the eleventh from yet another address of it is refused by the
/// edge; the next /64 of the same /48 is another client.
async fn an_ipv6_64_shares_one_budget_at_the_edge(system: Arc<System>) -> anyhow::Result<()> {
    let network = system.fresh_network();
    for host in 1..=10 {
        let address = format!("{network}:{host:x}:0:0:{host:x}");
        let response = system
            .edge_from(Method::POST, "/api/captchas?username=sixtyfour", &address)
            .send()
            .await?;
        ensure!(
            response.status() == 201,
            "captcha {host} of 10 from {address}: {}",
            response.status()
        );
    }
    let sibling = format!("{network}:ffff:ffff:ffff:fffe");
    let limited = system
        .edge_from(Method::POST, "/api/captchas?username=sixtyfour", &sibling)
        .send()
        .await?;
    ensure!(
        answered_by_edge(&system, &limited),
        "the edge should count the /64 and refuse {sibling} itself ({})",
        limited.status()
    );
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .context("Retry-After")?
        .to_str()?
        .parse()?;
    ensure!((1..=60).contains(&retry_after), "{retry_after}");
    ensure!(json_of(limited, 429).await?["code"] == 40001);
    let (prefix, _) = network.rsplit_once(':').context("network prefix")?;
    let next_64 = format!("{prefix}:1::1");
    let other = system
        .edge_from(Method::POST, "/api/captchas?username=sixtyfour", &next_64)
        .send()
        .await?;
    ensure!(other.status() == 201, "{next_64}: {}", other.status());
    Ok(())
}

/// A request body without a length, produced lazily in 64 KiB chunks: `first` bytes at once,
/// then a pause, then the rest unless the answer has come (`answered`). `produced` counts what
/// the client handed to the connection. The pause lets an early answer reach the client while
/// it is not writing: a server that stops reading may reset the connection, and a client in the
/// middle of a write then sees only the reset.
struct LazyBody {
    first: u64,
    rest: u64,
    chunk: bytes::Bytes,
    pause: std::sync::Mutex<Pin<Box<tokio::time::Sleep>>>,
    answered: Arc<std::sync::atomic::AtomicBool>,
    produced: Arc<std::sync::atomic::AtomicU64>,
}

impl http_body::Body for LazyBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        use std::sync::atomic::Ordering::SeqCst;
        use std::task::Poll;
        let left = if self.first > 0 {
            &mut self.first
        } else {
            if self.rest == 0 || self.answered.load(SeqCst) {
                return Poll::Ready(None);
            }
            if self
                .pause
                .lock()
                .unwrap()
                .as_mut()
                .poll(context)
                .is_pending()
            {
                return Poll::Pending;
            }
            if self.answered.load(SeqCst) {
                return Poll::Ready(None);
            }
            &mut self.rest
        };
        let length = (*left).min(64 * 1024);
        *left -= length;
        let data = self.chunk.slice(..length as usize);
        self.produced.fetch_add(length, SeqCst);
        Poll::Ready(Some(Ok(http_body::Frame::data(data))))
    }
}

/// A lazy chunked body (see [`LazyBody`]) of `total` bytes, `first` of them before a pause.
struct Lazy {
    body: reqwest::Body,
    answered: Arc<std::sync::atomic::AtomicBool>,
    produced: Arc<std::sync::atomic::AtomicU64>,
}

fn lazy_body(total: u64, first: u64, pause: Duration) -> Lazy {
    let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let produced = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let body = LazyBody {
        first: first.min(total),
        rest: total - first.min(total),
        chunk: bytes::Bytes::from(vec![b'x'; 64 * 1024]),
        pause: std::sync::Mutex::new(Box::pin(tokio::time::sleep(pause))),
        answered: answered.clone(),
        produced: produced.clone(),
    };
    Lazy {
        body: reqwest::Body::wrap(body),
        answered,
        produced,
    }
}

/// SPEC §5: bodies are counted as they stream, chunked ones included. A 512 MiB chunked body
/// to a 64 KiB route: the client sends 192 KiB and pauses for 5 s before the rest; the edge's
/// 413 arrives during the pause, so the rest is never sent (an edge that reads bodies whole
/// answers only after all 512 MiB).
async fn a_chunked_body_over_a_small_limit_is_refused_before_it_is_read(
    system: Arc<System>,
) -> anyhow::Result<()> {
    const TOTAL: u64 = 512 * 1024 * 1024;
    const PAUSE: Duration = Duration::from_secs(5);
    for path in ["/api/login", "/api/auth/login"] {
        // A connection of its own: one the server stopped reading is not reused.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let lazy = lazy_body(TOTAL, 192 * 1024, PAUSE);
        let started = Instant::now();
        let sent = client
            .post(format!("{}{path}", system.edge))
            .header("cf-connecting-ip", system.fresh_ip())
            .header("content-type", "application/json")
            .body(lazy.body)
            .send();
        let response = tokio::time::timeout(Duration::from_secs(30), sent).await;
        lazy.answered
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let response = response
            .with_context(|| format!("{path}: no answer within 30 s"))?
            .with_context(|| format!("{path}: no answer"))?;
        let elapsed = started.elapsed();
        let produced = lazy.produced.load(std::sync::atomic::Ordering::SeqCst);
        ensure!(
            produced < TOTAL / 8 && elapsed < PAUSE,
            "{path}: the answer came after {elapsed:?}, when {produced} of {TOTAL} bytes were sent"
        );
        ensure!(
            answered_by_edge(&system, &response),
            "{path}: the origin was asked"
        );
        let body = json_of(response, 413).await?;
        let refused = match path {
            "/api/login" => body["code"] == 413 && body["error_code"] == 999,
            _ => body["code"] == 10001,
        };
        ensure!(refused, "{path}: {body}");
    }
    Ok(())
}
