//! Prometheus metrics: the registry the server records into, and its text (exposition format
//! 0.0.4) that `ops::prometheus` serves at `GET /metrics` on the admin listener.
//!
//! A small registry of our own rather than the `metrics` facade: that facade's recorder is one
//! per process, while each `AppState` here owns its registry (every integration test runs its
//! own server in one process, and counts only its own requests), and the three kinds needed —
//! counters, gauges read at scrape time, fixed-bucket histograms — are a few dozen lines.
//!
//! What is counted as it happens: requests by route template, method and status with their
//! latency (a middleware on both listeners), the writer's batch sizes and commit latency (in
//! `db`), password hashes admitted and refused (in `passwords`), payment callbacks by provider
//! and result (in `http::commerce`), notifications by channel once their transaction has
//! committed (`notify::sent`), and each delivery attempt by channel, provider and result (the
//! delivery worker). What is read at scrape time:
//! the hashing queue, WAL and database sizes, free disk space, the edge-outbox and delivery
//! backlogs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::AppState;
use crate::clock;

/// Request latency buckets, seconds: 0.5 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Commit latency buckets, seconds (an fsync): 0.1 ms to 1 s.
pub const COMMIT_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Write jobs per committed batch: 1 to `db::MAX_BATCH`.
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// A histogram with fixed upper bounds (`le`), plus the implicit `+Inf`.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket, not cumulative; the last is above every bound.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let bucket = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket] += 1;
        self.sum += value;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `_bucket`, `_sum` and `_count` lines of this histogram with `labels` (already
    /// rendered, `name="value"` pairs separated by commas, or empty).
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let separator = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{separator}le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{separator}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = |labels: &str| {
            if labels.is_empty() {
                String::new()
            } else {
                format!("{{{labels}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {}", braces(labels), self.sum);
        let _ = writeln!(out, "{name}_count{} {}", braces(labels), self.count);
    }
}

/// What the database writer thread records about its batches.
#[derive(Debug, Clone)]
pub struct WriterStats {
    pub batch_sizes: Histogram,
    pub commit_seconds: Histogram,
    pub failed_commits: u64,
}

impl Default for WriterStats {
    fn default() -> WriterStats {
        WriterStats {
            batch_sizes: Histogram::new(BATCH_BUCKETS),
            commit_seconds: Histogram::new(COMMIT_BUCKETS),
            failed_commits: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RequestKey {
    route: String,
    method: &'static str,
    status: u16,
}

/// This server's request metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Registry>,
}

struct Registry {
    started_at: i64,
    requests: Mutex<BTreeMap<RequestKey, Histogram>>,
    backups: Mutex<BackupStatus>,
    /// (provider, result) → callbacks.
    payment_callbacks: Mutex<BTreeMap<(String, PaymentCallback), u64>>,
    /// channel → notifications committed.
    notifications: Mutex<BTreeMap<&'static str, u64>>,
}

/// How a payment provider's callback ended (`POST /api/payments/{provider}/notify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PaymentCallback {
    /// Verified, and it paid an order that was waiting.
    Settled,
    /// Verified, for an order already paid (a provider's retry): answered success, nothing done.
    Replayed,
    /// Not verified, or not matching its order: answered `fail`.
    Refused,
}

impl PaymentCallback {
    pub const ALL: [PaymentCallback; 3] = [
        PaymentCallback::Settled,
        PaymentCallback::Replayed,
        PaymentCallback::Refused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentCallback::Settled => "settled",
            PaymentCallback::Replayed => "replayed",
            PaymentCallback::Refused => "refused",
        }
    }
}

/// The notification channels, each reported even before its first message.
pub const NOTIFICATION_CHANNELS: [&str; 3] = ["sms", "mail", "captcha"];

/// How the scheduled snapshots went (`ops::backup::run_scheduled`).
#[derive(Debug, Clone, Default)]
pub struct BackupStatus {
    pub successes: u64,
    pub failures: u64,
    pub last_success_at: Option<i64>,
    pub last_bytes: u64,
    pub last_seconds: f64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            inner: Arc::new(Registry {
                started_at: clock::now(),
                requests: Mutex::new(BTreeMap::new()),
                backups: Mutex::new(BackupStatus::default()),
                payment_callbacks: Mutex::new(BTreeMap::new()),
                notifications: Mutex::new(BTreeMap::new()),
            }),
        }
    }
}

impl Metrics {
    /// Records a scheduled snapshot: its size and duration, or that it failed.
    pub fn record_backup(&self, outcome: Option<(u64, Duration)>) {
        if let Ok(mut status) = self.inner.backups.lock() {
            match outcome {
                Some((bytes, took)) => {
                    status.successes += 1;
                    status.last_success_at = Some(clock::now());
                    status.last_bytes = bytes;
                    status.last_seconds = took.as_secs_f64();
                }
                None => status.failures += 1,
            }
        }
    }

    pub fn backup_status(&self) -> BackupStatus {
        self.inner
            .backups
            .lock()
            .map(|status| status.clone())
            .unwrap_or_default()
    }

    pub fn count_payment_callback(&self, provider: &str, result: PaymentCallback) {
        if let Ok(mut callbacks) = self.inner.payment_callbacks.lock() {
            *callbacks.entry((provider.to_owned(), result)).or_default() += 1;
        }
    }

    /// Counts a notification whose transaction has committed (`notify::sent`).
    pub fn count_notification(&self, channel: &'static str) {
        if let Ok(mut notifications) = self.inner.notifications.lock() {
            *notifications.entry(channel).or_default() += 1;
        }
    }

    pub fn observe_request(
        &self,
        route: String,
        method: &'static str,
        status: u16,
        took: Duration,
    ) {
        if let Ok(mut requests) = self.inner.requests.lock() {
            requests
                .entry(RequestKey {
                    route,
                    method,
                    status,
                })
                .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
                .observe(took.as_secs_f64());
        }
    }
}

/// A label value with `\`, `"` and newlines escaped.
pub(crate) fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

pub(crate) fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

pub(crate) fn single(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    value: impl std::fmt::Display,
) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// The edge outbox as a scrape sees it.
struct Backlog {
    pending: u64,
    retrying: u64,
    oldest_age_secs: i64,
}

/// The exposition text: what is counted so far, and what a scrape reads now.
pub async fn exposition(state: &AppState) -> String {
    let backlog = state
        .db
        .read(|connection| -> crate::db::StorageResult<_> {
            Ok(connection.query_row(
                "SELECT count(*), count(*) FILTER (WHERE attempts > 0), min(created_at)
                 FROM edge_outbox WHERE delivered_at IS NULL",
                [],
                |row| {
                    Ok((
                        row.get::<_, u64>(0)?,
                        row.get::<_, u64>(1)?,
                        row.get::<_, Option<i64>>(2)?,
                    ))
                },
            )?)
        })
        .await;
    let backlog = match backlog {
        Ok((pending, retrying, oldest)) => Some(Backlog {
            pending,
            retrying,
            oldest_age_secs: oldest.map_or(0, |created| (clock::now() - created).max(0)),
        }),
        Err(error) => {
            tracing::warn!(?error, "metrics: cannot read the edge outbox");
            None
        }
    };
    let mut out = render(state, backlog.as_ref());
    crate::notify::metrics::render(state, &mut out).await;
    out
}

fn render(state: &AppState, backlog: Option<&Backlog>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let metrics = &state.metrics.inner;

    single(
        &mut out,
        "origin_start_time_seconds",
        "gauge",
        "Unix time the server started.",
        metrics.started_at,
    );

    let requests = metrics
        .requests
        .lock()
        .map(|requests| requests.clone())
        .unwrap_or_default();
    let labelled: Vec<(String, &Histogram)> = requests
        .iter()
        .map(|(key, histogram)| {
            (
                format!(
                    "route=\"{}\",method=\"{}\",status=\"{}\"",
                    escape(&key.route),
                    key.method,
                    key.status
                ),
                histogram,
            )
        })
        .collect();
    family(
        &mut out,
        "origin_http_requests_total",
        "counter",
        "Requests answered, by route template, method and status (both listeners).",
    );
    for (labels, histogram) in &labelled {
        let _ = writeln!(
            out,
            "origin_http_requests_total{{{labels}}} {}",
            histogram.count()
        );
    }
    family(
        &mut out,
        "origin_http_request_duration_seconds",
        "histogram",
        "Time from a request's arrival to its response's headers.",
    );
    for (labels, histogram) in &labelled {
        histogram.render(&mut out, "origin_http_request_duration_seconds", labels);
    }

    let hasher = &state.hasher;
    single(
        &mut out,
        "origin_password_hashes_total",
        "counter",
        "Password hashes and verifications admitted since start.",
        hasher.started(),
    );
    single(
        &mut out,
        "origin_password_hash_refusals_total",
        "counter",
        "Sign-ins refused with 503 because the hashing queue was full.",
        hasher.refused(),
    );
    single(
        &mut out,
        "origin_password_hash_rescues_total",
        "counter",
        "Hashes run at ordinary priority because an idle-class hashing thread starved.",
        hasher.rescued(),
    );
    single(
        &mut out,
        "origin_password_hashes_in_flight",
        "gauge",
        "Admitted hashes running or waiting for a hashing thread.",
        hasher.in_flight(),
    );
    single(
        &mut out,
        "origin_password_hash_capacity",
        "gauge",
        "Hashes admitted at once (threads plus queue); past it, 503.",
        hasher.capacity(),
    );

    let writer = state.db.writer_stats();
    single(
        &mut out,
        "origin_db_write_batches_total",
        "counter",
        "Write transactions (group-committed batches) committed.",
        writer.batch_sizes.count(),
    );
    single(
        &mut out,
        "origin_db_commit_failures_total",
        "counter",
        "Write batches whose commit failed (every job in them got an error).",
        writer.failed_commits,
    );
    family(
        &mut out,
        "origin_db_write_batch_size",
        "histogram",
        "Write jobs per committed batch.",
    );
    writer
        .batch_sizes
        .render(&mut out, "origin_db_write_batch_size", "");
    family(
        &mut out,
        "origin_db_commit_seconds",
        "histogram",
        "Time to commit a batch (COMMIT, with its fsync).",
    );
    writer
        .commit_seconds
        .render(&mut out, "origin_db_commit_seconds", "");

    let database = state.config.database_path();
    let size = |path: std::path::PathBuf| std::fs::metadata(path).map_or(0, |m| m.len());
    single(
        &mut out,
        "origin_db_bytes",
        "gauge",
        "Size of the database file.",
        size(database.clone()),
    );
    single(
        &mut out,
        "origin_db_wal_bytes",
        "gauge",
        "Size of the write-ahead log (shrinks only when a checkpoint truncates it).",
        size(format!("{}-wal", database.display()).into()),
    );
    if let Ok(free) = super::free_bytes(&state.config.data_dir) {
        single(
            &mut out,
            "origin_data_dir_free_bytes",
            "gauge",
            "Free space on the data directory's file system.",
            free,
        );
    }
    if state.config.ops.backup_dir.is_some() {
        let backups = state.metrics.backup_status();
        single(
            &mut out,
            "origin_backup_successes_total",
            "counter",
            "Scheduled snapshots written and verified.",
            backups.successes,
        );
        single(
            &mut out,
            "origin_backup_failures_total",
            "counter",
            "Scheduled snapshots that failed (written or verified).",
            backups.failures,
        );
        single(
            &mut out,
            "origin_backup_last_success_time_seconds",
            "gauge",
            "Unix time of the last verified scheduled snapshot (0: none yet).",
            backups.last_success_at.unwrap_or(0),
        );
        single(
            &mut out,
            "origin_backup_last_bytes",
            "gauge",
            "Size of the last verified scheduled snapshot.",
            backups.last_bytes,
        );
        single(
            &mut out,
            "origin_backup_last_duration_seconds",
            "gauge",
            "Time the last scheduled snapshot took, verification included.",
            backups.last_seconds,
        );
    }
    let callbacks = metrics
        .payment_callbacks
        .lock()
        .map(|callbacks| callbacks.clone())
        .unwrap_or_default();
    family(
        &mut out,
        "origin_payment_callbacks_total",
        "counter",
        "Payment providers' callbacks, by provider and result (settled, replayed, refused).",
    );
    let mut providers: Vec<String> = state
        .payments
        .all()
        .map(|provider| provider.name().to_owned())
        .collect();
    providers.extend(callbacks.keys().map(|(provider, _)| provider.clone()));
    providers.sort();
    providers.dedup();
    for provider in &providers {
        for result in PaymentCallback::ALL {
            let count = callbacks
                .get(&(provider.clone(), result))
                .copied()
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "origin_payment_callbacks_total{{provider=\"{}\",result=\"{}\"}} {count}",
                escape(provider),
                result.as_str()
            );
        }
    }
    let notifications = metrics
        .notifications
        .lock()
        .map(|notifications| notifications.clone())
        .unwrap_or_default();
    family(
        &mut out,
        "origin_notifications_total",
        "counter",
        "Notifications committed for delivery (codes, notices, captcha answers), by channel.",
    );
    for channel in NOTIFICATION_CHANNELS {
        let count = notifications.get(channel).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "origin_notifications_total{{channel=\"{channel}\"}} {count}"
        );
    }

    if let Some(backlog) = backlog {
        single(
            &mut out,
            "origin_edge_outbox_pending",
            "gauge",
            "Edge instructions not yet delivered.",
            backlog.pending,
        );
        single(
            &mut out,
            "origin_edge_outbox_retrying",
            "gauge",
            "Undelivered edge instructions whose delivery has failed at least once.",
            backlog.retrying,
        );
        single(
            &mut out,
            "origin_edge_outbox_oldest_age_seconds",
            "gauge",
            "Age of the oldest undelivered edge instruction (0 when none).",
            backlog.oldest_age_secs,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_the_count() {
        let mut histogram = Histogram::new(&[1.0, 2.0]);
        for value in [0.5, 1.0, 1.5, 3.0] {
            histogram.observe(value);
        }
        let mut out = String::new();
        histogram.render(&mut out, "x", "a=\"b\"");
        assert_eq!(
            out,
            "x_bucket{a=\"b\",le=\"1\"} 2\nx_bucket{a=\"b\",le=\"2\"} 3\nx_bucket{a=\"b\",le=\"+Inf\"} 4\nx_sum{a=\"b\"} 6\nx_count{a=\"b\"} 4\n"
        );
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
