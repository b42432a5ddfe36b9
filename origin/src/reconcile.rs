//! The reconciliation task `origin serve` runs: every `payments.reconcile_interval_secs`
//! (`ORIGIN_PAY_RECONCILE_INTERVAL_SECS`, a minute by default) it asks the gateways about orders
//! still pending (`domain::commerce::reconcile`), so a payment whose callback was lost (the
//! gateway gave up, this server was down) is still credited, exactly once.

use std::time::Duration;

use tokio::sync::watch;

use crate::AppState;
use crate::clock;
use crate::domain::commerce;

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    if !state.payments.all().any(|provider| provider.reconciles()) {
        return;
    }
    let every = Duration::from_secs(state.config.payments.reconcile_interval_secs);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        match commerce::reconcile(&state, clock::now()).await {
            Ok(report) if report.asked > 0 => tracing::info!(?report, "reconciliation pass"),
            Ok(_) => {}
            Err(error) => tracing::warn!(?error, "reconciliation pass failed"),
        }
    }
}
