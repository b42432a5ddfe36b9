//! Where the served process's threads run (see `origin::cpus`): read from `/proc` of a real
//! `origin serve`. With two CPUs or more, each runtime worker is pinned to a CPU of its own and
//! the argon2 threads keep off the first CPU; `ORIGIN_PIN_WORKERS=0` leaves the workers to the
//! kernel.

use std::collections::BTreeMap;

use reqwest::Client;

use crate::support::process;

/// The value of field `name` (with its colon) in a `/proc/…/status` text.
fn field(status: &str, name: &str) -> String {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .map(|value| value.trim().to_owned())
        .unwrap()
}

/// Each thread's name → the CPU lists its threads may run on (one entry per thread).
fn placement(pid: u32) -> BTreeMap<String, Vec<String>> {
    let mut threads: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        threads
            .entry(field(&status, "Name:"))
            .or_default()
            .push(field(&status, "Cpus_allowed_list:"));
    }
    threads
}

/// `0-3,5` → [0, 1, 2, 3, 5].
fn cpus(list: &str) -> Vec<usize> {
    list.split(',')
        .flat_map(|part| match part.split_once('-') {
            Some((low, high)) => (low.parse().unwrap()..=high.parse().unwrap()).collect(),
            None => vec![part.parse().unwrap()],
        })
        .collect()
}

async fn served(
    pin: &str,
) -> (
    process::Origin,
    BTreeMap<String, Vec<String>>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::new();
    let origin = process::start(
        dir.path(),
        "http://127.0.0.1:9",
        &[("ORIGIN_PIN_WORKERS", pin), ("ORIGIN_HASH_WORKERS", "1")],
        &client,
    )
    .await;
    // Database reads, so that the runtime has blocking threads (created from workers).
    let mut sign_ins = tokio::task::JoinSet::new();
    for _ in 0..4 {
        sign_ins.spawn(
            client
                .post(format!("{}/api/login", origin.public))
                .header(shared::headers::EDGE_SECRET, process::SECRET)
                .json(&serde_json::json!({ "username": "nobody", "password": "not-this-9" }))
                .send(),
        );
    }
    while let Some(answer) = sign_ins.join_next().await {
        assert_eq!(answer.unwrap().unwrap().status(), 400);
    }
    // Every worker has parked (and so placed itself) once the server went quiet.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let threads = placement(origin.child.id());
    (origin, threads, dir)
}

#[tokio::test]
async fn each_runtime_worker_has_a_cpu_of_its_own_and_hashing_keeps_off_the_first() {
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let allowed = cpus(&field(&own, "Cpus_allowed_list:"));
    let available = std::thread::available_parallelism().unwrap().get();
    let (_origin, threads, _dir) = served("1").await;
    let hashing = &threads["argon2-0"];
    let runtime = &threads["tokio-rt-worker"];
    if allowed.len() < 2 || allowed.len() != available {
        // Nothing to keep apart (or a CPU quota): every thread may run anywhere it was allowed.
        assert!(
            runtime.iter().all(|list| cpus(list) == allowed),
            "{threads:?}"
        );
        return;
    }
    assert_eq!(cpus(&hashing[0]), allowed[1..], "{threads:?}");
    // One worker per CPU, pinned there; the runtime's blocking threads (the readers) are free.
    assert!(
        runtime.len() > allowed.len(),
        "no blocking threads: {threads:?}"
    );
    let mut pinned: Vec<usize> = runtime
        .iter()
        .map(|list| cpus(list))
        .filter(|set| set.len() == 1)
        .map(|set| set[0])
        .collect();
    pinned.sort_unstable();
    assert_eq!(pinned, allowed, "{threads:?}");
    assert!(
        runtime
            .iter()
            .all(|list| cpus(list).len() == 1 || cpus(list) == allowed),
        "{threads:?}"
    );

    let (_origin, threads, _dir) = served("0").await;
    assert!(
        threads["tokio-rt-worker"]
            .iter()
            .all(|list| cpus(list) == allowed),
        "{threads:?}"
    );
    assert_eq!(cpus(&threads["argon2-0"][0]), allowed[1..], "{threads:?}");
}
