//! The delivery worker: sends the SMS and e-mail that `notify::Notifier` recorded in
//! `deliveries`, through the configured provider (`aliyun`, `tencent`, `smtp`). It wakes when a
//! write queued a message (`notify::sent`) and polls twice a second; each due message is
//! leased, sent (every call has a timeout), and its attempt recorded. A failure another try
//! can mend (network, timeout, 5xx, throttling) is retried with doubling back-off until the
//! code expires (a notice: `notice_give_up_secs`); one it cannot (a refused signature, a bad
//! number) abandons the message at once. Sent or abandoned, the row drops its sealed code.
//! A provider outage therefore delays codes but never loses one nor blocks a request.

pub mod aliyun;
pub mod smtp;
pub mod tencent;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::AppState;
use crate::clock;
use crate::db::deliveries::{self, Due, Outcome};
use crate::notify::{MailProvider, Settings, SmsProvider};

const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long a claimed message is reserved for its sender (well over a call's timeout).
const LEASE_SECS: i64 = 120;
/// Messages sent at once per pass.
const BATCH: u32 = 16;

/// One message as a provider sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// A canonical phone (`13800138000`, `+85291234567`) or an e-mail address.
    pub to: String,
    pub kind: MessageKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    Code { code: String, lifetime_minutes: i64 },
    Notice { body: String },
}

impl Message {
    pub fn code(to: &str, code: &str, lifetime_minutes: i64) -> Message {
        Message {
            to: to.to_owned(),
            kind: MessageKind::Code {
                code: code.to_owned(),
                lifetime_minutes,
            },
        }
    }
}

/// Why a try failed, and whether another may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Transient(String),
    Permanent(String),
}

enum SmsSender {
    Aliyun(aliyun::Client),
    Tencent(tencent::Client),
}

/// The configured providers' clients, built once at start (a bad setting stops the start).
pub struct Senders {
    sms: Option<SmsSender>,
    mail: Option<smtp::Mailer>,
}

impl Senders {
    pub fn new(settings: &Settings) -> anyhow::Result<Senders> {
        let timeout = Duration::from_secs(settings.timeout_secs);
        let sms = match &settings.sms {
            SmsProvider::Outbox => None,
            SmsProvider::Aliyun(aliyun) => Some(SmsSender::Aliyun(aliyun::Client::new(
                aliyun.clone(),
                timeout,
            )?)),
            SmsProvider::Tencent(tencent) => Some(SmsSender::Tencent(tencent::Client::new(
                tencent.clone(),
                timeout,
            )?)),
        };
        let mail = match &settings.mail {
            MailProvider::Outbox => None,
            MailProvider::Smtp(smtp) => Some(smtp::Mailer::new(smtp, timeout)?),
        };
        Ok(Senders { sms, mail })
    }

    async fn send(&self, channel: &str, message: &Message) -> Result<Option<String>, Failure> {
        match (channel, &self.sms, &self.mail) {
            ("sms", Some(SmsSender::Aliyun(client)), _) => client.send(message).await,
            ("sms", Some(SmsSender::Tencent(client)), _) => client.send(message).await,
            ("mail", _, Some(mailer)) => mailer.send(message).await,
            _ => Err(Failure::Permanent(format!(
                "no provider is configured for {channel} any more"
            ))),
        }
    }
}

/// An HTTP client for a provider: rustls, and a timeout on every call.
fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .build()?)
}

/// `host` or `host:port` of a base URL, as the `Host` header carries it.
pub fn host_of(endpoint: &str) -> String {
    endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .trim_end_matches('/')
        .to_owned()
}

/// A transport error, shortly.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "cannot connect".to_owned()
    } else {
        // The URL is the provider's endpoint with our parameters: not worth repeating.
        let mut error_text = error.to_string();
        if let Some(url) = error.url() {
            error_text = error_text.replace(url.as_str(), "");
        }
        error_text
    }
}

/// Seconds to wait after the `failures`-th failure: `first`, doubling, at most `max`.
pub fn backoff_secs(settings: &Settings, failures: i64) -> i64 {
    let doublings = (failures - 1).clamp(0, 20) as u32;
    settings
        .retry_first_secs
        .saturating_mul(2_i64.saturating_pow(doublings))
        .min(settings.retry_max_secs)
}

pub async fn run(state: AppState, senders: Arc<Senders>, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = deliver_due(&state, &senders).await {
            tracing::warn!(?error, "delivery pass failed");
        }
        tokio::select! {
            () = state.notifier.woken() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

/// Sends every message due now; how many were tried.
pub async fn deliver_due(state: &AppState, senders: &Arc<Senders>) -> origin_core::Result<usize> {
    let now = clock::now();
    // Most passes find nothing: ask a reader first, so an idle worker never takes the writer.
    let any_due = state
        .db
        .read(move |conn| -> origin_core::Result<_> { Ok(deliveries::any_due(conn, now)?) })
        .await?;
    if !any_due {
        return Ok(0);
    }
    let due = state
        .db
        .write(move |tx| -> origin_core::Result<_> {
            Ok(deliveries::claim_due(tx, now, now + LEASE_SECS, BATCH)?)
        })
        .await?;
    let count = due.len();
    let mut attempts = JoinSet::new();
    for row in due {
        attempts.spawn(attempt(state.clone(), senders.clone(), row));
    }
    while let Some(joined) = attempts.join_next().await {
        match joined {
            Ok(Err(error)) => tracing::warn!(?error, "recording a delivery attempt failed"),
            Err(error) => tracing::error!(%error, "a delivery attempt panicked"),
            Ok(Ok(())) => {}
        }
    }
    Ok(count)
}

/// The message a row asks for, or why it cannot be made.
fn message_of(state: &AppState, row: &Due) -> Result<Message, String> {
    let kind = match (row.kind.as_str(), &row.sealed, &row.body) {
        ("code", Some(sealed), _) => MessageKind::Code {
            code: state
                .notifier
                .unseal(sealed)
                .ok_or("the sealed code cannot be opened (was the code pepper replaced?)")?,
            lifetime_minutes: (row.code_lifetime_secs / 60).max(1),
        },
        ("notice", _, Some(body)) => MessageKind::Notice { body: body.clone() },
        _ => return Err("the row holds nothing to send".to_owned()),
    };
    Ok(Message {
        to: row.recipient.clone(),
        kind,
    })
}

/// Tries one message and records the outcome.
async fn attempt(state: AppState, senders: Arc<Senders>, row: Due) -> origin_core::Result<()> {
    let abandoned = if row.kind == "code" {
        "expired"
    } else {
        "failed"
    };
    if clock::now() >= row.give_up_at {
        let (id, reason) = (row.id, "gave up: its time ran out before it could be sent");
        return state
            .db
            .write(move |tx| -> origin_core::Result<()> {
                Ok(deliveries::abandon(
                    tx,
                    id,
                    abandoned,
                    reason,
                    clock::now(),
                )?)
            })
            .await;
    }
    let started = Instant::now();
    let result = match message_of(&state, &row) {
        Ok(message) => senders.send(&row.channel, &message).await,
        Err(reason) => Err(Failure::Permanent(reason)),
    };
    let took_ms = started.elapsed().as_millis() as i64;
    let outcome = match result {
        Ok(message_id) => Outcome::Sent { message_id },
        Err(Failure::Permanent(error)) => Outcome::GiveUp {
            error,
            status: "failed",
        },
        Err(Failure::Transient(error)) => {
            let next_attempt_at =
                clock::now() + backoff_secs(&state.config.notify, row.attempts + 1);
            if next_attempt_at >= row.give_up_at {
                Outcome::GiveUp {
                    error,
                    status: abandoned,
                }
            } else {
                Outcome::Retry {
                    error,
                    next_attempt_at,
                }
            }
        }
    };
    match &outcome {
        Outcome::Sent { message_id } => tracing::info!(
            id = row.id, channel = %row.channel, provider = %row.provider,
            message_id = message_id.as_deref().unwrap_or(""), took_ms, "message delivered"
        ),
        Outcome::Retry { error, .. } | Outcome::GiveUp { error, .. } => tracing::warn!(
            id = row.id, channel = %row.channel, provider = %row.provider,
            attempt = row.attempts + 1, outcome = outcome.label(), %error, "delivery failed"
        ),
    }
    state
        .notifier
        .count_attempt(&row.channel, &row.provider, outcome.label());
    let id = row.id;
    state
        .db
        .write(move |tx| -> origin_core::Result<()> {
            deliveries::record_attempt(tx, id, &outcome, took_ms, clock::now())?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_from_the_first_wait_up_to_the_most() {
        let settings = Settings::default();
        let waits: Vec<i64> = (1..=10).map(|n| backoff_secs(&settings, n)).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(host_of("http://127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(
            host_of("https://dysmsapi.aliyuncs.com"),
            "dysmsapi.aliyuncs.com"
        );
    }
}
