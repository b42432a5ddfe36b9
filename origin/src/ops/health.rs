//! `GET /healthz` (the process answers; no I/O) and `GET /readyz` (it can do its work: the
//! database answers a read, the writer thread commits a job, the schema is the one this binary
//! migrates to, the data directory has room, and edge instructions are being delivered).
//! Both answer JSON; 200 when all is well, 503 otherwise, so a load balancer or systemd
//! watchdog script can act on the status alone and an operator can read why.

use std::path::Path;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::clock;
use crate::db::migrate;
use crate::ops::free_bytes;

/// How long each readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Names the process, so a script that started one can tell it from another process holding
/// the port (`scripts/lib/origin.sh`).
pub async fn alive() -> Json<Value> {
    Json(json!({ "status": "alive", "pid": std::process::id() }))
}

pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (database, writer, edge_outbox) =
        tokio::join!(database(&state), writer(&state), edge_backlog(&state));
    let disk = disk(
        &state.config.data_dir,
        state.config.ops.ready_min_free_bytes,
    );
    let checks = [
        ("database", database),
        ("writer", writer),
        ("disk", disk),
        ("edge_outbox", edge_outbox),
    ];
    let ready = checks.iter().all(|(_, check)| check.ok);
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": checks
            .into_iter()
            .map(|(name, check)| (name.to_owned(), check.into_json()))
            .collect::<serde_json::Map<_, _>>(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// One check's verdict and what it saw.
struct Check {
    ok: bool,
    detail: Value,
}

impl Check {
    fn new(ok: bool, detail: Value) -> Check {
        Check { ok, detail }
    }

    fn failed(error: impl std::fmt::Display) -> Check {
        Check::new(false, json!({ "error": error.to_string() }))
    }

    fn into_json(self) -> Value {
        let mut detail = match self.detail {
            Value::Object(map) => map,
            other => [("detail".to_owned(), other)].into_iter().collect(),
        };
        detail.insert("ok".into(), Value::Bool(self.ok));
        Value::Object(detail)
    }
}

async fn timed<T>(
    future: impl Future<Output = crate::db::StorageResult<T>>,
) -> Result<(T, f64), String> {
    let started = Instant::now();
    match tokio::time::timeout(CHECK_TIMEOUT, future).await {
        Ok(Ok(value)) => Ok((value, started.elapsed().as_secs_f64() * 1000.0)),
        Ok(Err(error)) => Err(format!("{error:?}")),
        Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    }
}

/// A read connection answers, and the schema is the one this binary migrates to.
async fn database(state: &AppState) -> Check {
    let read = state.db.read(|connection| {
        Ok(connection.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))?)
    });
    match timed(read).await {
        Ok((version, millis)) => {
            let expected = migrate::latest_version();
            Check::new(
                version == expected,
                json!({ "schema_version": version, "expected_schema_version": expected, "ms": millis }),
            )
        }
        Err(error) => Check::failed(error),
    }
}

/// The writer thread takes a job, runs it in a transaction and commits it.
async fn writer(state: &AppState) -> Check {
    match timed(state.db.write(|_| Ok(()))).await {
        Ok(((), millis)) => Check::new(true, json!({ "ms": millis })),
        Err(error) => Check::failed(error),
    }
}

/// Undelivered edge instructions: how many, and how long the oldest has waited.
async fn edge_backlog(state: &AppState) -> Check {
    let max = state.config.ops.ready_max_edge_backlog;
    let read = state.db.read(|connection| {
        Ok(connection.query_row(
            "SELECT count(*), min(created_at) FROM edge_outbox WHERE delivered_at IS NULL",
            [],
            |row| Ok((row.get::<_, u64>(0)?, row.get::<_, Option<i64>>(1)?)),
        )?)
    });
    match timed(read).await {
        Ok(((pending, oldest), _)) => Check::new(
            pending <= max,
            json!({
                "pending": pending,
                "max_pending": max,
                "oldest_age_secs": oldest.map(|created| (clock::now() - created).max(0)),
            }),
        ),
        Err(error) => Check::failed(error),
    }
}

fn disk(data_dir: &Path, min_free: u64) -> Check {
    match free_bytes(data_dir) {
        Ok(free) => Check::new(
            free >= min_free,
            json!({ "free_bytes": free, "min_free_bytes": min_free }),
        ),
        Err(error) => Check::failed(error),
    }
}
