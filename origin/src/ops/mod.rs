//! Running the origin for real: liveness and readiness (`health`), Prometheus metrics
//! (`metrics`), consistent snapshots and restores of the database (`backup`), and the log
//! format (`logging`). The HTTP side is mounted on the admin listener only ([`routes`]).

pub mod backup;
pub mod health;
pub mod logging;
pub mod metrics;

use anyhow::Context;
use axum::Router;
use axum::routing::get;

use crate::AppState;

/// Operations settings, read from the environment with the rest of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `/readyz` fails while the data directory's file system has less free space than this.
    pub ready_min_free_bytes: u64,
    /// `/readyz` fails while more edge instructions than this wait for delivery.
    pub ready_max_edge_backlog: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            ready_min_free_bytes: 256 * 1024 * 1024,
            ready_max_edge_backlog: 1000,
        }
    }
}

impl Settings {
    /// Reads `ORIGIN_READY_*` through `var` (which yields a variable's non-empty value).
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let mut settings = Settings::default();
        if let Some(mb) = var("ORIGIN_READY_MIN_FREE_MB") {
            let mb: u64 = mb.parse().context("ORIGIN_READY_MIN_FREE_MB")?;
            settings.ready_min_free_bytes = mb.saturating_mul(1024 * 1024);
        }
        if let Some(max) = var("ORIGIN_READY_MAX_EDGE_BACKLOG") {
            settings.ready_max_edge_backlog =
                max.parse().context("ORIGIN_READY_MAX_EDGE_BACKLOG")?;
        }
        Ok(settings)
    }
}

/// The operations endpoints of the admin listener: `GET /healthz`, `GET /readyz`,
/// `GET /metrics`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::scrape))
}
