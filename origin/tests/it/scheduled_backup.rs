//! Scheduled snapshots by the server: written under writes, each verified, the newest
//! `ORIGIN_BACKUP_KEEP` kept, the outcome in `/metrics`; a failing one is counted, not fatal.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;

use crate::support::TestApp;

fn scheduled_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap();
            name.starts_with("origin-") && name.ends_with(".sqlite3")
        })
        .collect();
    files.sort();
    files
}

async fn wait_for_successes(app: &TestApp, at_least: u64) {
    for _ in 0..200 {
        if app.state.metrics.backup_status().successes >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no {at_least} scheduled snapshots: {:?}",
        app.state.metrics.backup_status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_snapshots_on_schedule_verifies_each_and_keeps_the_newest() {
    let backups = tempfile::tempdir().unwrap();
    let backup_dir = backups.path().join("scheduled");
    let app = TestApp::spawn_with(|config| {
        config.ops.backup_dir = Some(backup_dir.clone());
        config.ops.backup_interval = Duration::from_millis(200);
        config.ops.backup_keep = 2;
    })
    .await;
    // Something else in the directory is never pruned.
    std::fs::create_dir_all(&backup_dir).unwrap();
    std::fs::write(backup_dir.join("manual.sqlite3"), b"kept").unwrap();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let scheduler = tokio::spawn(origin::ops::backup::run_scheduled(
        app.state.clone(),
        stopped,
    ));

    let app = Arc::new(app);
    let written = Arc::new(Mutex::new(Vec::new()));
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (app, written, writing) = (app.clone(), written.clone(), writing.clone());
        tokio::spawn(async move {
            while writing.load(Ordering::SeqCst) {
                let code = app.invitation(1).await;
                written.lock().unwrap().push(code);
            }
        })
    };
    wait_for_successes(&app, 3).await;
    writing.store(false, Ordering::SeqCst);
    writer.await.unwrap();
    // A snapshot that began after the last write was acknowledged.
    let done = app.state.metrics.backup_status().successes;
    wait_for_successes(&app, done + 2).await;
    let _ = stop.send(true);
    scheduler.await.unwrap();

    let files = scheduled_files(&backup_dir);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(backup_dir.join("manual.sqlite3").exists());
    for file in &files {
        let verified = origin::ops::backup::verify(file).unwrap();
        assert_eq!(
            verified.schema_version,
            origin::db::migrate::latest_version()
        );
    }
    let newest = rusqlite::Connection::open(files.last().unwrap()).unwrap();
    let written = std::mem::take(&mut *written.lock().unwrap());
    assert!(written.len() >= 5, "{} writes", written.len());
    for code in written.iter() {
        let found: i64 = newest
            .query_row(
                "SELECT count(*) FROM invitation_codes WHERE code = ?1",
                [code],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(found, 1, "code {code} missing from the newest snapshot");
    }

    let metrics = app
        .admin_request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let status = app.state.metrics.backup_status();
    assert!(metrics.contains(&format!(
        "origin_backup_successes_total {}",
        status.successes
    )));
    assert!(metrics.contains("origin_backup_failures_total 0"));
    assert!(metrics.contains(&format!(
        "origin_backup_last_success_time_seconds {}",
        status.last_success_at.unwrap()
    )));
}

#[tokio::test]
async fn a_snapshot_that_cannot_be_written_is_counted_as_a_failure() {
    let blocker = tempfile::NamedTempFile::new().unwrap();
    // A directory cannot be created under a regular file.
    let backup_dir = blocker.path().join("scheduled");
    let app = TestApp::spawn_with(|config| {
        config.ops.backup_dir = Some(backup_dir.clone());
    })
    .await;
    let error = origin::ops::backup::scheduled_once(&app.state, &backup_dir)
        .await
        .unwrap_err();
    assert!(format!("{error:#}").contains("creating"), "{error:#}");
    let status = app.state.metrics.backup_status();
    assert_eq!((status.successes, status.failures), (0, 1));
    let metrics = app
        .admin_request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("origin_backup_failures_total 1"),
        "{metrics}"
    );
}
