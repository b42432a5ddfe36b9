//! Delivers the edge outbox to the edge's invalidation endpoint: every half second (or at once
//! when woken by a write in this process), with exponential back-off per entry while the edge
//! is unreachable. Nothing is lost: entries stay until the edge accepts them.

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

pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "edge sync cannot start");
            return;
        }
    };
    loop {
        if let Err(error) = deliver_due(&state, &client).await {
            tracing::warn!(?error, "edge sync pass failed");
        }
        tokio::select! {
            () = state.edge_wake.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

async fn deliver_due(state: &AppState, client: &reqwest::Client) -> crate::error::AppResult<()> {
    let due = state
        .db
        .read(|conn| edge_outbox::due(conn, clock::now(), 50))
        .await?;
    for entry in due {
        let outcome = deliver(state, client, &entry).await;
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
    }
    Ok(())
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
