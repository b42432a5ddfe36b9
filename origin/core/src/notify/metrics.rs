//! The delivery worker's figures in `/metrics` (`ops::metrics` calls `render`): attempts by
//! channel, provider and result, counted as they end, and the backlog read from the delivery
//! log at each scrape.

use std::fmt::Write as _;

use crate::AppState;
use crate::ops::metrics::{escape, family, single};

/// SMS and e-mail delivery: attempts so far, and the messages still waiting.
pub async fn render(state: &AppState, out: &mut String) {
    family(
        out,
        "origin_notification_attempts_total",
        "counter",
        "Delivery attempts of SMS and e-mail by a provider, by channel, provider and result (sent, retry, failed).",
    );
    for ((channel, provider, result), count) in state.notifier.attempt_counts() {
        let _ = writeln!(
            out,
            "origin_notification_attempts_total{{channel=\"{}\",provider=\"{}\",result=\"{result}\"}} {count}",
            escape(&channel),
            escape(&provider)
        );
    }
    match state.db.read(crate::db::deliveries::backlog).await {
        Ok((pending, retrying)) => {
            single(
                out,
                "origin_notifications_pending",
                "gauge",
                "SMS and e-mail recorded but not yet delivered.",
                pending,
            );
            single(
                out,
                "origin_notifications_retrying",
                "gauge",
                "Undelivered SMS and e-mail whose delivery has failed at least once.",
                retrying,
            );
        }
        Err(error) => tracing::warn!(?error, "metrics: cannot read the delivery backlog"),
    }
}
