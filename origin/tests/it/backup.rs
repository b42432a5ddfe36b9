//! The restore drill, on the real binary: writers run against `origin serve` while
//! `origin backup` takes a snapshot; the snapshot is restored into a fresh data directory with
//! `origin restore`, which must hold every write acknowledged before the backup began and none
//! sent after it ended, pass its integrity check, and serve (`/readyz` 200). Then the refusals:
//! a restore under a running server, and a damaged snapshot.

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;

use crate::support::process;

const WRITERS: usize = 4;

/// An invitation code the server created, with when its request was sent and answered.
struct Written {
    code: String,
    sent: Instant,
    acknowledged: Instant,
}

fn run_origin(dir: &Path, args: &[&str]) -> Output {
    process::command(dir, "http://127.0.0.1:9")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn create_admin(dir: &Path) {
    process::create_admin(dir, "http://127.0.0.1:9");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_taken_under_writes_restores_with_every_write_acknowledged_before_it() {
    let live = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    create_admin(live.path());
    let origin = process::start(live.path(), "http://127.0.0.1:9", &[], &client).await;
    let token = process::admin_token(&client, &origin.admin).await;

    let written = Arc::new(Mutex::new(Vec::<Written>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (client, written, stop) = (client.clone(), written.clone(), stop.clone());
            let url = format!("{}/admin/invitation_codes", origin.admin);
            let token = token.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .header("token", &token)
                        .form(&[("uses", "1")])
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 201);
                    let body: Value = response.json().await.unwrap();
                    let code = body["data"]["code"].as_str().unwrap().to_owned();
                    written.lock().unwrap().push(Written {
                        code,
                        sent,
                        acknowledged: Instant::now(),
                    });
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(800)).await;
    let snapshot = backups.path().join("drill.sqlite3");
    let backup_began = Instant::now();
    let backup = {
        let (dir, snapshot) = (live.path().to_owned(), snapshot.clone());
        tokio::task::spawn_blocking(move || {
            run_origin(&dir, &["backup", "--to", snapshot.to_str().unwrap()])
        })
        .await
        .unwrap()
    };
    let backup_ended = Instant::now();
    assert!(
        backup.status.success(),
        "backup failed: {}",
        String::from_utf8_lossy(&backup.stderr)
    );
    assert!(String::from_utf8_lossy(&backup.stdout).contains("integrity ok"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer's assertion failed");
    }

    // A restore under the running server is refused, and changes nothing.
    let live_codes_before =
        process::codes_in::<Vec<String>>(&live.path().join("origin.sqlite3")).len();
    let refused = run_origin(
        live.path(),
        &["restore", "--from", snapshot.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("stop the server first"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert_eq!(
        process::codes_in::<Vec<String>>(&live.path().join("origin.sqlite3")).len(),
        live_codes_before
    );

    // Restore into a fresh data directory.
    let fresh = tempfile::tempdir().unwrap();
    let restored = run_origin(
        fresh.path(),
        &["restore", "--from", snapshot.to_str().unwrap()],
    );
    assert!(
        restored.status.success(),
        "restore failed: {}",
        String::from_utf8_lossy(&restored.stderr)
    );
    // A restore generates no secrets: the operator copies the old ones back.
    assert!(!fresh.path().join("secrets").exists());
    assert!(String::from_utf8_lossy(&restored.stdout).contains("copy the keys and secrets back"));
    let database = fresh.path().join("origin.sqlite3");
    let connection = rusqlite::Connection::open(&database).unwrap();
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    drop(connection);
    let in_snapshot: std::collections::HashSet<String> =
        process::codes_in::<Vec<String>>(&database)
            .into_iter()
            .collect();
    let written = std::mem::take(&mut *written.lock().unwrap());
    let before: Vec<&Written> = written
        .iter()
        .filter(|w| w.acknowledged < backup_began)
        .collect();
    let after: Vec<&Written> = written.iter().filter(|w| w.sent > backup_ended).collect();
    assert!(
        before.len() >= 10 && !after.is_empty(),
        "the writers must have written before and after the backup ({} / {})",
        before.len(),
        after.len()
    );
    for write in &before {
        assert!(
            in_snapshot.contains(&write.code),
            "code {} was acknowledged before the backup began but is not in the snapshot",
            write.code
        );
    }
    for write in &after {
        assert!(
            !in_snapshot.contains(&write.code),
            "code {} was sent after the backup ended but is in the snapshot",
            write.code
        );
    }
    println!(
        "drill: {} writes, {} acknowledged before the backup, {} in the snapshot, {} sent after it",
        written.len(),
        before.len(),
        in_snapshot.len(),
        after.len()
    );

    // The restored directory serves, at the current schema.
    let restored_origin = process::start(fresh.path(), "http://127.0.0.1:9", &[], &client).await;
    let ready = client
        .get(format!("{}/readyz", restored_origin.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    drop(restored_origin);
    drop(origin);
}

#[tokio::test]
async fn a_restore_keeps_the_replaced_database_aside_and_refuses_a_damaged_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let backups = tempfile::tempdir().unwrap();
    create_admin(dir.path());
    let snapshot = backups.path().join("one.sqlite3");
    let made = run_origin(dir.path(), &["backup", "--to", snapshot.to_str().unwrap()]);
    assert!(made.status.success());
    // A change after the snapshot, which the restore takes away again.
    assert!(
        run_origin(dir.path(), &["invite", "create", "--uses", "1"])
            .status
            .success()
    );
    let database = dir.path().join("origin.sqlite3");
    assert_eq!(process::codes_in::<Vec<String>>(&database).len(), 1);

    // Litestream's state about the old file, as Litestream leaves it beside the database.
    let litestream_state = dir.path().join(".origin.sqlite3-litestream");
    std::fs::create_dir(&litestream_state).unwrap();

    let restored = run_origin(
        dir.path(),
        &["restore", "--from", snapshot.to_str().unwrap()],
    );
    assert!(restored.status.success());
    assert_eq!(process::codes_in::<Vec<String>>(&database).len(), 0);
    assert!(!litestream_state.exists());
    assert!(std::fs::read_dir(dir.path()).unwrap().any(|entry| {
        entry
            .unwrap()
            .file_name()
            .to_str()
            .unwrap()
            .starts_with(".origin.sqlite3-litestream.before-restore-")
    }));
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| {
            name.starts_with("origin.sqlite3.before-restore-")
                && !name.contains("-wal")
                && !name.contains("-shm")
        })
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(
        process::codes_in::<Vec<String>>(&dir.path().join(&aside[0])).len(),
        1
    );

    // A damaged snapshot: pages overwritten in the middle of the file.
    let damaged = backups.path().join("damaged.sqlite3");
    let mut bytes = std::fs::read(&snapshot).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4096].fill(0xA5);
    std::fs::write(&damaged, bytes).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let refused = run_origin(
        fresh.path(),
        &["restore", "--from", damaged.to_str().unwrap()],
    );
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("integrity") || stderr.contains("not a readable SQLite database"),
        "{stderr}"
    );
    assert!(!fresh.path().join("origin.sqlite3").exists());
}
