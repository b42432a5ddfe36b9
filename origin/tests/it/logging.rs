//! Logs of `origin serve` itself: with `ORIGIN_LOG_FORMAT=json` every line is a JSON object and
//! the lines of a request carry its request id (the one echoed in `x-request-id`); in either
//! format, no ANSI colour codes when stderr is not a terminal.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use reqwest::Client;
use serde_json::Value;
use shared::headers::{EDGE_SECRET, REQUEST_ID};

use crate::support::process;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `origin serve` with `format`, sends one request through the public listener, stops the
/// server, and returns its stderr and the request id it answered with.
async fn one_request_logged(dir: &Path, format: &str) -> (String, String) {
    let client = Client::new();
    let log = dir.join(format!("stderr-{format}.log"));
    for _ in 0..5 {
        let (public, admin) = (free_port(), free_port());
        let mut child = process::command(dir, "http://127.0.0.1:9")
            .env("ORIGIN_LOG_FORMAT", format)
            .env("RUST_LOG", "info,tower_http=debug")
            .env("ORIGIN_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
            .env("ORIGIN_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut up = false;
        for _ in 0..500 {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            let health = client
                .get(format!("http://127.0.0.1:{admin}/healthz"))
                .send()
                .await;
            if health.is_ok_and(|r| r.status() == 200) {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !up {
            let _ = child.kill();
            let _ = child.wait();
            continue;
        }
        let response = client
            .get(format!("http://127.0.0.1:{public}/api/response_code"))
            .header(EDGE_SECRET, process::SECRET)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let request_id = response.headers()[REQUEST_ID].to_str().unwrap().to_owned();
        // Let the response's log line be written before the kill.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = child.kill();
        let _ = child.wait();
        return (std::fs::read_to_string(&log).unwrap(), request_id);
    }
    panic!("the origin did not come up");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_a_requests_lines_carry_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let (log, request_id) = one_request_logged(dir.path(), "json").await;
    assert!(!log.contains('\u{1b}'), "ANSI codes in a file: {log}");
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|line| line["level"].is_string() && line["timestamp"].is_string())
    );
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["path"] == "/api/response_code")
        .collect();
    assert!(of_request.len() >= 2, "the request's start and end: {log}");
    for line in of_request {
        assert_eq!(line["span"]["id"], request_id.as_str(), "{line}");
    }
}

#[tokio::test]
async fn text_logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (log, request_id) = one_request_logged(dir.path(), "text").await;
    assert!(log.contains(&request_id), "{log}");
    assert!(!log.contains('\u{1b}'), "ANSI codes in a file: {log}");
}

#[test]
fn an_unknown_log_format_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = process::command(dir.path(), "http://127.0.0.1:9")
        .env("ORIGIN_LOG_FORMAT", "yaml")
        .arg("serve")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("ORIGIN_LOG_FORMAT=yaml"));
}
