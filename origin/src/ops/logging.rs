//! The log subscriber: human-readable lines by default, JSON lines with
//! `ORIGIN_LOG_FORMAT=json` (for a log shipper). Either way to stderr, filtered by `RUST_LOG`,
//! and with ANSI colours only when stderr is a terminal (not in a file, a pipe or journald).
//! A line logged while a request is handled carries the request's span, whose `id` is the
//! request id echoed in `x-request-id`: in JSON, `"span":{"id":…,"method":…,"path":…}`.

use std::io::IsTerminal;

use anyhow::bail;
use tracing_subscriber::EnvFilter;

/// Installs the subscriber for the process. Call once, before anything logs.
pub fn init() -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=info".into());
    let format = std::env::var("ORIGIN_LOG_FORMAT").unwrap_or_default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format.trim() {
        "" | "text" => builder.init(),
        "json" => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        other => bail!("ORIGIN_LOG_FORMAT={other}: want `text` or `json`"),
    }
    Ok(())
}
