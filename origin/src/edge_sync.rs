//! Delivers the edge outbox to the edge's invalidation endpoint: every half second (or at once
//! when woken by a write in this process, `origin_core::edge_sync::push`), with exponential
//! back-off per entry while the edge is unreachable. Nothing is lost: entries stay until the
//! edge accepts them.

use std::time::Duration;

use shared::headers::EDGE_SECRET;
use tokio::sync::watch;

use crate::AppState;
use crate::clock;
use crate::db::edge_outbox::{self, Pending};

const POLL_INTERVAL: Duration = Duration::from_millis(500);
const MAX_BACKOFF_SECS: i64 = 60;
pub const INVALIDATE_PATH: &str = "/__edge/invalidate";

/// Seconds to wait after the `attempts`-th failure: 1, 2, 4 … up to a minute.
pub fn backoff_secs(attempts: i64) -> i64 {
    2_i64
        .saturating_pow(attempts.clamp(0, 16) as u32)
        .min(MAX_BACKOFF_SECS)
}

fn client() -> Option<reqwest::Client> {
    match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(client) => Some(client),
        Err(error) => {
            tracing::error!(%error, "edge sync cannot start");
            None
        }
    }
}

/// Delivered entries are kept this long (for an operator looking into a delivery), then pruned.
const KEEP_DELIVERED_SECS: i64 = 86_400;
/// How often delivered entries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let Some(client) = client() else {
        return;
    };
    let mut pruned_at: Option<tokio::time::Instant> = None;
    loop {
        if let Err(error) = deliver_due(&state, &client).await {
            tracing::warn!(?error, "edge sync pass failed");
        }
        if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            pruned_at = Some(tokio::time::Instant::now());
            let before = clock::now() - KEEP_DELIVERED_SECS;
            let pruned = state
                .db
                .write(move |tx| edge_outbox::prune_delivered(tx, before))
                .await;
            if let Err(error) = pruned {
                tracing::warn!(?error, "pruning delivered edge instructions failed");
            }
        }
        tokio::select! {
            () = state.edge_wake.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

async fn deliver_due(state: &AppState, client: &reqwest::Client) -> origin_core::Result<()> {
    let due = state
        .db
        .read(|conn| edge_outbox::due(conn, clock::now(), 50))
        .await?;
    for entry in due {
        attempt(state, client, entry).await?;
    }
    Ok(())
}

/// Tries one entry and records the outcome; true when the edge accepted it.
async fn attempt(
    state: &AppState,
    client: &reqwest::Client,
    entry: Pending,
) -> origin_core::Result<bool> {
    let outcome = deliver(state, client, &entry).await;
    let delivered = outcome.is_ok();
    let Pending { id, attempts, .. } = entry;
    state
        .db
        .write(move |tx| match outcome {
            Ok(()) => edge_outbox::mark_delivered(tx, id, clock::now()),
            Err(error) => {
                let next = clock::now() + backoff_secs(attempts);
                tracing::warn!(id, attempts = attempts + 1, %error, "edge invalidation not delivered; will retry");
                edge_outbox::mark_failed(tx, id, next, &error)
            }
        })
        .await?;
    Ok(delivered)
}

/// How long `origin serve` gives the last delivery attempt when it stops.
pub const FLUSH_WITHIN: Duration = Duration::from_secs(5);

/// What the last attempt did: entries the edge accepted, and entries left for the next start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flushed {
    pub delivered: u64,
    pub left: u64,
}

/// The last delivery attempt before the server exits (after its listeners have drained, so no
/// request queues more): every undelivered entry is tried once, back-off or not, oldest first,
/// for at most `within`. What is not delivered stays in the outbox for the next start.
pub async fn flush(state: &AppState, within: Duration) -> Flushed {
    let mut flushed = Flushed::default();
    if let Some(client) = client() {
        let pass = async {
            let mut after = 0;
            loop {
                let batch = state
                    .db
                    .read(move |conn| edge_outbox::undelivered_after(conn, after, 50))
                    .await?;
                if batch.is_empty() {
                    return Ok::<_, origin_core::Error>(());
                }
                for entry in batch {
                    after = entry.id;
                    if attempt(state, &client, entry).await? {
                        flushed.delivered += 1;
                    }
                }
            }
        };
        match tokio::time::timeout(within, pass).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(?error, "last edge delivery failed"),
            Err(_) => tracing::warn!(?within, "last edge delivery ran out of time"),
        }
    }
    flushed.left = state
        .db
        .read(edge_outbox::undelivered)
        .await
        .unwrap_or_default();
    if flushed.delivered > 0 || flushed.left > 0 {
        tracing::info!(
            delivered = flushed.delivered,
            left = flushed.left,
            "edge outbox flushed before exit"
        );
    }
    flushed
}

async fn deliver(
    state: &AppState,
    client: &reqwest::Client,
    entry: &Pending,
) -> Result<(), String> {
    let response = client
        .post(format!("{}{INVALIDATE_PATH}", state.config.edge_url))
        .header(EDGE_SECRET, state.config.edge_secret.expose())
        .header("content-type", "application/json")
        .body(entry.instructions.clone())
        .send()
        .await
        .map_err(|error| error.to_string())?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("edge answered {}", response.status()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        assert_eq!(backoff_secs(0), 1);
        assert_eq!(backoff_secs(3), 8);
        assert_eq!(backoff_secs(6), 60);
        assert_eq!(backoff_secs(1000), 60);
    }
}
