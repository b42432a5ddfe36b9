//! The README's commands work when pasted: every ```sh block preceded by `<!-- runnable -->` is
//! run, in the README's order, by one `bash -euo pipefail` against a real `origin serve` (free
//! ports, a temporary data directory), as a newcomer would paste them into one shell. The blocks
//! call `./target/debug/origin` (the binary under test, linked into the shell's working directory)
//! and reach the servers through `ORIGIN_ADMIN` and `EDGE`; the edge is a stand-in that forwards to
//! the origin's public listener with the edge secret, as the Worker does.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::response::Response;
use reqwest::Client;
use shared::headers::{CLIENT_IP, EDGE_SECRET};

use crate::support::process::{self, PAY_SECRET, SECRET};

const MARKER: &str = "<!-- runnable -->";

/// The runnable blocks of `markdown`, each with the line its code starts on.
fn runnable_blocks(markdown: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == MARKER {
            let fence = lines.get(i + 1).map(|l| l.trim());
            assert_eq!(
                fence,
                Some("```sh"),
                "README.md line {}: `{MARKER}` must be followed at once by a ```sh block",
                i + 1
            );
            let start = i + 2;
            let mut end = start;
            while end < lines.len() && lines[end].trim() != "```" {
                end += 1;
            }
            assert!(end < lines.len(), "README.md line {start}: unclosed block");
            blocks.push((start + 1, lines[start..end].join("\n")));
            i = end;
        }
        i += 1;
    }
    blocks
}

/// What the Worker does for these requests: forward to the origin with the edge secret and the
/// client's address.
async fn forward(State((client, public)): State<(Client, String)>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20).await.unwrap();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = client.request(parts.method, format!("{public}{path}"));
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = outgoing
        .header(EDGE_SECRET, SECRET)
        .header(CLIENT_IP, "127.0.0.1")
        .body(body)
        .send()
        .await
        .unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            response = response.header(name, value);
        }
    }
    let bytes: Bytes = answer.bytes().await.unwrap();
    response.body(Body::from(bytes)).unwrap()
}

async fn stand_in_edge(public: String) -> String {
    let app = axum::Router::new()
        .fallback(forward)
        .with_state((Client::new(), public));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

#[test]
fn the_runnable_blocks_are_found() {
    let readme = include_str!("../../../README.md");
    let blocks = runnable_blocks(readme);
    assert!(blocks.len() >= 4, "{blocks:?}");
    assert!(blocks.iter().any(|(_, b)| b.contains("admin create")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_runnable_blocks_succeed_pasted_in_order() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let blocks = runnable_blocks(&readme);

    let dir = tempfile::tempdir().unwrap();
    // The shell's working directory stands for the repository root: the data directory is its
    // `data/`, as under `scripts/dev.sh`.
    let shell_dir = dir.path().join("shell");
    let data = shell_dir.join("data");
    std::fs::create_dir_all(shell_dir.join("target/debug")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_origin"),
        shell_dir.join("target/debug/origin"),
    )
    .unwrap();

    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let edge_url = "http://127.0.0.1:9";
    let origin = process::start(&data, edge_url, &[], &client).await;
    let edge = stand_in_edge(origin.public.clone()).await;

    // One shell, as pasted: variables set by a block are seen by the next. After each block it
    // prints a marker, so a failure names its block.
    let mut script = String::new();
    for (n, (_, block)) in blocks.iter().enumerate() {
        script.push_str(block);
        script.push_str(&format!("\necho '::block {n} ok' >&2\n"));
    }
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&shell_dir)
        .env("ORIGIN_DATA_DIR", &data)
        .env("ORIGIN_EDGE_URL", edge_url)
        .env("EDGE_SHARED_SECRET", SECRET)
        .env("ORIGIN_PAY_SANDBOX_SECRET", PAY_SECRET)
        .env("ORIGIN_HASH_WORKERS", "2")
        .env("RUST_LOG", "error")
        .env("RUST_BACKTRACE", "0")
        .env("ORIGIN_ADMIN", &origin.admin)
        .env("EDGE", &edge)
        .env("BACKUP", dir.path().join("backup"))
        .env("RESTORED", dir.path().join("restored"))
        .env_remove("ADMIN_TOKEN")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let passed = stderr.matches("::block ").count();
    if !output.status.success() || passed != blocks.len() {
        let (line, block) = blocks
            .get(passed)
            .map_or((0, ""), |(line, b)| (*line, b.as_str()));
        panic!(
            "README.md: the runnable block at line {line} failed ({}):\n{block}\n\
             --- stdout\n{stdout}\n--- stderr\n{stderr}",
            output.status
        );
    }
    // What the blocks did is there.
    assert!(stdout.contains("signed in"), "{stdout}");
    assert!(stdout.contains("user 2"), "{stdout}");
    assert!(stdout.contains("integrity ok"), "{stdout}");
    assert!(dir.path().join("restored/origin.sqlite3").is_file());
    drop(origin);
}
