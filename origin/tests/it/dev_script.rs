//! `scripts/lib/origin.sh`, which `scripts/dev.sh` starts the origin with: it reports ready
//! only when the process it started answers, and fails clearly when another program holds one
//! of the origin's ports (whether that program answers HTTP or not).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

fn free_address() -> String {
    format!("127.0.0.1:{}", tests::free_port().unwrap())
}

/// A program that is not the origin but answers every HTTP request with 200.
fn foreign_http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = [0u8; 1024];
            let _ = stream.read(&mut buffer);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 19\r\nconnection: close\r\n\r\n{\"status\":\"alive\"}\n",
            );
        }
    });
    address
}

/// Sources the script, starts the origin, and stops it again if it started.
fn start_origin(data_dir: &Path, public: &str, admin: &str) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new("bash")
        .arg("-c")
        .arg(
            "set -u; . scripts/lib/origin.sh; \
             if start_origin; then echo \"started $origin_pid\"; kill -TERM \"$origin_pid\"; wait \"$origin_pid\"; \
             else status=$?; [ -n \"${origin_pid:-}\" ] && wait \"$origin_pid\" 2>/dev/null; exit $status; fi",
        )
        .current_dir(root)
        .env("ORIGIN_BIN", env!("CARGO_BIN_EXE_origin"))
        .env("ORIGIN_DATA_DIR", data_dir)
        .env("ORIGIN_PUBLIC_ADDR", public)
        .env("ORIGIN_ADMIN_ADDR", admin)
        .env("RUST_LOG", "error")
        .output()
        .unwrap()
}

#[test]
fn with_free_ports_the_started_origin_is_the_one_that_answers() {
    let dir = tempfile::tempdir().unwrap();
    let output = start_origin(dir.path(), &free_address(), &free_address());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.starts_with("started "),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_foreign_server_answering_on_the_public_port_is_reported_not_mistaken_for_the_origin() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = foreign_http_server();
    let output = start_origin(dir.path(), &foreign, &free_address());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("something already answers on {foreign}")),
        "{stderr}"
    );
}

#[test]
fn a_silent_program_holding_the_admin_port_makes_the_start_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    // Bound and listening, never answering: it passes for free, and the origin cannot bind.
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let held = holder.local_addr().unwrap().to_string();
    let output = start_origin(dir.path(), &free_address(), &held);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("exited before it was ready"), "{stderr}");
    drop(holder);
}
