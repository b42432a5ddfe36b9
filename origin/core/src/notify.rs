//! Delivering verification codes. The `Notifier` trait is what the domain sees; the
//! development implementation writes to the outbox table, in the same transaction that created
//! the code. A real adapter (an SMS gateway over HTTP, SMTP) would record the message in the
//! same transaction and deliver it from a worker, behind the same trait.

use rusqlite::Transaction;

use crate::db::outbox::{self, OutboxRow};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationChannel {
    Sms,
    Mail,
    /// Captcha answers: recorded only by the development outbox, so tools and tests can solve
    /// captchas; a production notifier ignores them.
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

/// Counts a notification in `/metrics` (`origin_notifications_total`). Call it once the
/// transaction that enqueued the notification has committed: one rolled back was never sent.
pub fn sent(state: &crate::AppState, channel: NotificationChannel) {
    state.metrics.count_notification(channel.as_str());
}

#[derive(Debug, Clone)]
pub struct Notification {
    pub channel: NotificationChannel,
    pub to: String,
    pub code: String,
    pub body: String,
}

pub trait Notifier: Send + Sync {
    /// Records `notification` for delivery inside the caller's transaction.
    fn enqueue(
        &self,
        transaction: &Transaction<'_>,
        notification: &Notification,
        now: i64,
    ) -> Result<()>;

    /// Whether `/admin/outbox` can show what was sent.
    fn has_outbox(&self) -> bool;
}

pub struct OutboxNotifier;

impl Notifier for OutboxNotifier {
    fn enqueue(
        &self,
        transaction: &Transaction<'_>,
        notification: &Notification,
        now: i64,
    ) -> Result<()> {
        tracing::info!(channel = notification.channel.as_str(), to = %notification.to, "outbox message");
        Ok(outbox::insert(
            transaction,
            &OutboxRow {
                channel: notification.channel.as_str().into(),
                recipient: notification.to.clone(),
                code: notification.code.clone(),
                body: notification.body.clone(),
                created_at: now,
            },
        )?)
    }

    fn has_outbox(&self) -> bool {
        true
    }
}
