//! `origin serve` on SIGTERM (what systemd sends, `deploy/origin.service`): requests already
//! received are finished and answered, new connections are refused, what the edge has not heard
//! is delivered, and the process exits 0.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::json;
use shared::headers::{CLIENT_IP, EDGE_SECRET};

use crate::support::PASSWORD;
use crate::support::process::{self, SECRET};

const SIGN_INS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_requests_in_flight_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    process::create_admin(dir.path(), "http://127.0.0.1:9");
    // One hashing thread: the sign-ins queue behind each other, so they are still in flight
    // when the signal arrives.
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut origin = process::start(
        dir.path(),
        "http://127.0.0.1:9",
        &[("ORIGIN_HASH_WORKERS", "1")],
        &client,
    )
    .await;

    let sign_ins: Vec<_> = (0..SIGN_INS)
        .map(|n| {
            // A client of its own each: no connection is shared or kept for later.
            let client = Client::builder().pool_max_idle_per_host(0).build().unwrap();
            let url = format!("{}/api/login", origin.public);
            tokio::spawn(async move {
                client
                    .post(url)
                    .header(EDGE_SECRET, SECRET)
                    .header(CLIENT_IP, format!("192.0.2.{}", n + 1))
                    .json(&json!({ "username": "root", "password": PASSWORD }))
                    .send()
                    .await
                    .map(|response| response.status().as_u16())
            })
        })
        .collect();
    // Wait until the server holds every sign-in (admitted to the hasher, not yet answered).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = client
            .get(format!("{}/metrics", origin.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let in_flight = metrics
            .lines()
            .find_map(|line| line.strip_prefix("origin_password_hashes_in_flight "))
            .and_then(|value| value.parse::<usize>().ok())
            .unwrap_or(0);
        if in_flight >= SIGN_INS - 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the sign-ins never queued up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &origin.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for sign_in in sign_ins {
        let status = sign_in
            .await
            .unwrap()
            .expect("a request in flight was dropped");
        assert_eq!(status, 200, "a request in flight was not finished");
    }
    let exit = loop {
        if let Some(status) = origin.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(35),
            "still running 35 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    // Nothing listens any more.
    let after = client.get(format!("{}/healthz", origin.admin)).send().await;
    assert!(after.is_err());
}

/// A stand-in edge that refuses invalidations until told to accept them.
#[derive(Clone, Default)]
struct StandInEdge {
    accepting: Arc<AtomicBool>,
    refused: Arc<AtomicU32>,
    received: Arc<Mutex<Vec<(String, String)>>>,
}

async fn spawn_stand_in_edge() -> (String, StandInEdge) {
    let edge = StandInEdge::default();
    let state = edge.clone();
    let router = axum::Router::new().route(
        "/__edge/invalidate",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let state = state.clone();
            async move {
                if !state.accepting.load(Ordering::SeqCst) {
                    state.refused.fetch_add(1, Ordering::SeqCst);
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE;
                }
                let secret = headers
                    .get(EDGE_SECRET)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default();
                state.received.lock().unwrap().push((secret, body));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, edge)
}

/// On SIGTERM, after the listeners drain, the server tries once more to deliver what the edge
/// has not heard — even an entry still backing off — before it exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_delivers_the_pending_edge_outbox_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let (edge_url, edge) = spawn_stand_in_edge().await;
    process::create_admin(dir.path(), &edge_url);
    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut origin = process::start(dir.path(), &edge_url, &[], &client).await;

    // A back-office write queues an instruction for the edge, which refuses it.
    let disable = process::command(dir.path(), &edge_url)
        .args(["user", "--id", "1", "disable"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(disable.success());
    // Three refusals: the entry now backs off for 4 s, so the server's own loop will not try it
    // again before it stops.
    let deadline = Instant::now() + Duration::from_secs(20);
    while edge.refused.load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "the edge was never asked");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    edge.accepting.store(true, Ordering::SeqCst);
    let signalled = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &origin.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let exit = loop {
        if let Some(status) = origin.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "still running 20 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    // Well before the entry's back-off would have let the running loop try it.
    assert!(signalled.elapsed() < Duration::from_secs(4));

    let received = edge.received.lock().unwrap().clone();
    assert!(!received.is_empty(), "nothing was delivered on the way out");
    assert!(received.iter().all(|(secret, _)| secret == SECRET));
    let db = rusqlite::Connection::open(dir.path().join("origin.sqlite3")).unwrap();
    let left: i64 = db
        .query_row(
            "SELECT count(*) FROM edge_outbox WHERE delivered_at IS NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "instructions left undelivered");
}
