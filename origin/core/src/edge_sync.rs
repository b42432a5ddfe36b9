//! The domain's side of edge delivery: a write that queued instructions in the edge outbox
//! wakes the delivery task (the `origin` crate's `edge_sync`) and waits for its attempt.

use std::time::Duration;

use crate::AppState;
use crate::db::edge_outbox;

/// How long a write that queued instructions waits for their first delivery attempt.
const PUSH_WAIT: Duration = Duration::from_secs(2);
const PUSH_POLL: Duration = Duration::from_millis(10);

/// Wakes the delivery task for entries just committed, and waits (at most `PUSH_WAIT`) until
/// delivery has been tried for each. So a back-office write or a payment callback is answered
/// after the edge has dropped the user's cached reads, and the user's next read sees it. If the
/// edge is down the attempt fails fast and the entry stays queued for the retries.
pub async fn push(state: &AppState, entries: Vec<i64>) {
    let (Some(&first), Some(&last)) = (entries.iter().min(), entries.iter().max()) else {
        return;
    };
    state.edge_wake.notify_one();
    let deadline = tokio::time::Instant::now() + PUSH_WAIT;
    while tokio::time::Instant::now() < deadline {
        match state
            .db
            .read(move |conn| edge_outbox::unattempted(conn, first, last))
            .await
        {
            Ok(0) => return,
            Ok(_) => tokio::time::sleep(PUSH_POLL).await,
            Err(error) => {
                tracing::warn!(?error, "cannot follow edge delivery");
                return;
            }
        }
    }
}
