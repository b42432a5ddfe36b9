//! `origin serve` on SIGTERM (what systemd sends, `deploy/origin.service`): requests already
//! received are finished and answered, new connections are refused, and the process exits 0.

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::json;
use shared::headers::{CLIENT_IP, EDGE_SECRET};
use support::PASSWORD;
use support::process::{self, SECRET};

const SIGN_INS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_requests_in_flight_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut create = process::command(dir.path(), "http://127.0.0.1:9")
        .args(["admin", "create", "--username", "root"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(create.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    }
    assert!(create.wait().unwrap().success());
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
