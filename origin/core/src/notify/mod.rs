//! Delivering verification codes and notices. The domain hands a `Notification` to
//! `Notifier::enqueue` inside the transaction that made it; what happens next depends on the
//! channel's provider (`settings`):
//! - the development outbox writes the message to the `outbox` table at once (and logs it as
//!   sent in `deliveries`);
//! - a real provider (Aliyun or Tencent SMS, SMTP) records a pending row in `deliveries`, the
//!   code sealed (`seal`), which the origin's delivery worker sends with retries and back-off.
//!   The code is unsealed only in the worker's memory and dropped from the row once the
//!   message is sent or abandoned.

pub mod metrics;
pub mod seal;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::Mutex;

use rusqlite::Transaction;

use crate::config::Secret;
use crate::db::deliveries::{self, NewDelivery};
use crate::db::outbox::{self, OutboxRow};
use crate::error::Result;
pub use settings::{MailProvider, Settings, SmsProvider};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationChannel {
    Sms,
    Mail,
    /// Captcha answers: recorded only while both channels use the development outbox, so
    /// tools and tests can solve captchas; with a real provider they go nowhere.
    Captcha,
}

impl NotificationChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationChannel::Sms => "sms",
            NotificationChannel::Mail => "mail",
            NotificationChannel::Captcha => "captcha",
        }
    }
}

/// Counts a notification in `/metrics` (`origin_notifications_total`) and wakes the delivery
/// worker. Call it once the transaction that enqueued the notification has committed: one
/// rolled back was never sent. A captcha answer is counted only when something recorded it.
pub fn sent(state: &crate::AppState, channel: NotificationChannel) {
    if channel == NotificationChannel::Captcha && !state.notifier.records_captchas() {
        return;
    }
    state.metrics.count_notification(channel.as_str());
    state.notifier.wake();
}

#[derive(Debug, Clone)]
pub struct Notification {
    pub channel: NotificationChannel,
    pub to: String,
    /// The code, or empty for a notice.
    pub code: String,
    /// The text the development outbox shows; real providers make their own from the code
    /// (SMS templates, the e-mail's body), or send it as is for a notice (e-mail).
    pub body: String,
    /// When the code stops working (`None` for notices and captcha answers): a code still
    /// undelivered then is abandoned, and its message says how long it lasts.
    pub expires_at: Option<i64>,
}

/// Where notifications go, per the configuration; shared by the domain (enqueue) and the
/// delivery worker (unseal, wake, count).
pub struct Notifier {
    sms: &'static str,
    mail: &'static str,
    sms_sends_notices: bool,
    notice_give_up_secs: i64,
    seal: seal::Seal,
    wake: tokio::sync::Notify,
    /// (channel, provider, result) → delivery attempts, for `/metrics`.
    attempts: Mutex<BTreeMap<(String, String, &'static str), u64>>,
}

impl Notifier {
    pub fn new(settings: &Settings, pepper: &Secret) -> Notifier {
        Notifier {
            sms: settings.sms.name(),
            mail: settings.mail.name(),
            sms_sends_notices: settings.sms.sends_notices(),
            notice_give_up_secs: settings.notice_give_up_secs,
            seal: seal::Seal::new(pepper),
            wake: tokio::sync::Notify::new(),
            attempts: Mutex::new(BTreeMap::new()),
        }
    }

    /// The provider a channel's messages go through (`outbox`, `aliyun`, `tencent`, `smtp`).
    pub fn provider(&self, channel: NotificationChannel) -> &'static str {
        match channel {
            NotificationChannel::Sms => self.sms,
            NotificationChannel::Mail => self.mail,
            NotificationChannel::Captcha => "outbox",
        }
    }

    /// Whether `/admin/outbox` has anything to show: some channel uses the outbox.
    pub fn has_outbox(&self) -> bool {
        self.sms == "outbox" || self.mail == "outbox"
    }

    /// Captcha answers are written down only in a purely development setup.
    pub fn records_captchas(&self) -> bool {
        self.sms == "outbox" && self.mail == "outbox"
    }

    /// Records `notification` for delivery inside the caller's transaction.
    pub fn enqueue(
        &self,
        transaction: &Transaction<'_>,
        notification: &Notification,
        now: i64,
    ) -> Result<()> {
        let channel = notification.channel;
        if channel == NotificationChannel::Captcha {
            if self.records_captchas() {
                self.write_outbox(transaction, notification, now)?;
            }
            return Ok(());
        }
        let provider = self.provider(channel);
        let kind = if notification.code.is_empty() {
            "notice"
        } else {
            "code"
        };
        let (give_up_at, lifetime) = match notification.expires_at {
            Some(expires_at) => (expires_at, expires_at - now),
            None => (now + self.notice_give_up_secs, 0),
        };
        let mut row = NewDelivery {
            channel: channel.as_str(),
            kind,
            recipient: &notification.to,
            provider,
            status: "pending",
            sealed: None,
            body: (kind == "notice").then_some(notification.body.as_str()),
            give_up_at,
            code_lifetime_secs: lifetime,
            error: None,
            now,
        };
        let sealed;
        if provider == "outbox" {
            self.write_outbox(transaction, notification, now)?;
            row.status = "sent";
        } else if kind == "notice" && channel == NotificationChannel::Sms && !self.sms_sends_notices
        {
            row.status = "skipped";
            row.error = Some("no SMS notice template is configured for this provider");
        } else if kind == "code" {
            sealed = self.seal.seal(&notification.code)?;
            row.sealed = Some(&sealed);
        }
        deliveries::insert(transaction, &row)?;
        tracing::info!(
            channel = channel.as_str(),
            provider,
            kind,
            status = row.status,
            "notification recorded"
        );
        Ok(())
    }

    fn write_outbox(
        &self,
        transaction: &Transaction<'_>,
        notification: &Notification,
        now: i64,
    ) -> Result<()> {
        // Only a purely development setup keeps the outbox in the clear (migration 0017).
        let sealed = !self.records_captchas();
        let keep = |text: &String| -> Result<String> {
            match sealed {
                true => self.seal.seal(text),
                false => Ok(text.clone()),
            }
        };
        Ok(outbox::insert(
            transaction,
            &OutboxRow {
                channel: notification.channel.as_str().into(),
                recipient: notification.to.clone(),
                code: keep(&notification.code)?,
                body: keep(&notification.body)?,
                created_at: now,
                sealed,
            },
        )?)
    }

    /// Seals the outbox rows written in the clear, once some channel has a real provider: the
    /// rows of a purely development setup that went live, and those written before migration
    /// 0017. Run at start; in batches, each its own write. How many were sealed.
    pub async fn seal_clear_outbox(state: &crate::AppState) -> Result<usize> {
        if state.notifier.records_captchas() {
            return Ok(0);
        }
        let mut sealed = 0;
        loop {
            let state_in = state.clone();
            let batch = state
                .db
                .write(move |tx| -> Result<usize> {
                    let rows = outbox::clear_rows(tx, 500)?;
                    for (id, code, body) in &rows {
                        let seal = &state_in.notifier.seal;
                        outbox::seal_row(tx, *id, &seal.seal(code)?, &seal.seal(body)?)?;
                    }
                    Ok(rows.len())
                })
                .await?;
            sealed += batch;
            if batch < 500 {
                return Ok(sealed);
            }
        }
    }

    /// `row` with its code and body in the clear, for the super-admins who may read them; a
    /// row sealed under another pepper shows what happened instead of its text.
    pub fn open_outbox(&self, mut row: OutboxRow) -> OutboxRow {
        if row.sealed {
            let opened = self.seal.open(&row.code).zip(self.seal.open(&row.body));
            (row.code, row.body) = opened
                .unwrap_or_else(|| (String::new(), "（已加密，密钥已更换，无法打开）".to_owned()));
            row.sealed = false;
        }
        row
    }

    /// The code a pending row holds, in the clear, for the worker to send.
    pub fn unseal(&self, sealed: &str) -> Option<String> {
        self.seal.open(sealed)
    }

    /// Tells the delivery worker that a message may be waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when `wake` was called (at most one wake is remembered).
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Counts one delivery attempt for `/metrics`.
    pub fn count_attempt(&self, channel: &str, provider: &str, result: &'static str) {
        if let Ok(mut attempts) = self.attempts.lock() {
            *attempts
                .entry((channel.to_owned(), provider.to_owned(), result))
                .or_default() += 1;
        }
    }

    /// The attempt counts so far.
    pub fn attempt_counts(&self) -> BTreeMap<(String, String, &'static str), u64> {
        self.attempts
            .lock()
            .map(|attempts| attempts.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed_row(notifier: &Notifier) -> OutboxRow {
        OutboxRow {
            channel: "mail".into(),
            recipient: "a@example.com".into(),
            code: notifier.seal.seal("123456").unwrap(),
            body: notifier.seal.seal("您的验证码是 123456").unwrap(),
            created_at: 0,
            sealed: true,
        }
    }

    #[test]
    fn a_sealed_outbox_row_opens_only_under_its_own_pepper() {
        let settings = Settings::default();
        let notifier = Notifier::new(&settings, &Secret::new("pepper-one"));
        let opened = notifier.open_outbox(sealed_row(&notifier));
        assert_eq!((opened.code.as_str(), opened.sealed), ("123456", false));
        assert_eq!(opened.body, "您的验证码是 123456");

        let other = Notifier::new(&settings, &Secret::new("pepper-two"));
        let unopened = other.open_outbox(sealed_row(&notifier));
        assert_eq!(unopened.code, "");
        assert!(unopened.body.contains("密钥已更换"), "{}", unopened.body);

        let mut clear = sealed_row(&notifier);
        (clear.code, clear.sealed) = ("654321".into(), false);
        assert_eq!(other.open_outbox(clear).code, "654321");
    }
}
