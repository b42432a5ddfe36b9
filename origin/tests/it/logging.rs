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

/// Runs `origin serve` with `format`, sends one request through the public listener, stops the
/// server, and returns its stderr and the request id it answered with.
async fn one_request_logged(dir: &Path, format: &str) -> (String, String) {
    let client = Client::new();
    let log = dir.join(format!("stderr-{format}.log"));
    let env = [
        ("ORIGIN_LOG_FORMAT", format),
        ("RUST_LOG", "info,tower_http=debug"),
    ];
    let mut origin =
        process::start_logged(dir, "http://127.0.0.1:9", &env, &client, Some(&log)).await;
    let response = client
        .get(format!("{}/api/response_code", origin.public))
        .header(EDGE_SECRET, process::SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let request_id = response.headers()[REQUEST_ID].to_str().unwrap().to_owned();
    // Let the response's log line be written before the kill.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = origin.child.kill();
    let _ = origin.child.wait();
    (std::fs::read_to_string(&log).unwrap(), request_id)
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
