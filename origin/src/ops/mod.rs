//! Running the origin for real: liveness and readiness (`health`), Prometheus metrics (the
//! registry in `metrics`, served by `prometheus`), consistent snapshots and restores of the
//! database (`backup`), and the log format (`logging`). The HTTP side is mounted on the admin
//! listener only ([`routes`]); the parts below HTTP live in `origin_core::ops`.

pub mod health;
pub mod logging;
pub mod prometheus;

pub use origin_core::ops::{Settings, backup, free_bytes, metrics};

use axum::Router;
use axum::routing::get;

use crate::AppState;

/// The operations endpoints of the admin listener: `GET /healthz`, `GET /readyz`,
/// `GET /metrics`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(health::alive))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(prometheus::scrape))
}
