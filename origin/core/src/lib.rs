//! The origin below HTTP: configuration, SQLite storage (`db`), the domain both dialects share,
//! and the services it uses (password hashing, tokens, blobs, notifications, payments, edge
//! sync). This crate does not depend on axum: the `origin` crate's `http` is the only place a
//! problem becomes a response.

pub mod captcha;
pub mod clock;
pub mod config;
pub mod cpus;
pub mod db;
pub mod domain;
pub mod edge_sync;
pub mod error;
pub mod ids;
pub mod limits;
pub mod notify;
pub mod ops;
pub mod passwords;
pub mod payments;
pub mod storage;
pub mod tokens;
pub mod wechat;

use std::ops::Deref;
use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::notify::Notifier;
use crate::passwords::Hasher;
use crate::payments::{PaymentProvider, Providers};
use crate::storage::BlobStore;
use crate::tokens::Keys;

pub use crate::error::{Error, Result};

/// The services the domain and both listeners share; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

pub struct Services {
    pub config: Config,
    pub db: Db,
    pub keys: Keys,
    pub hasher: Hasher,
    /// Where SMS and e-mail go; the origin's delivery worker sends what it queues.
    pub notifier: Notifier,
    /// Payment providers, by pay type (sandbox, or the configured live gateways).
    pub payments: Providers,
    /// Uploaded files, content-addressed under the data directory.
    pub blobs: BlobStore,
    /// Wakes the edge-sync task after a write queued instructions for the edge.
    pub edge_wake: tokio::sync::Notify,
    /// Access tokens already verified, so a hot token is not re-verified per request.
    pub verified: tokens::VerifiedTokens,
    /// Per-client-network counters of the sign-in family.
    pub limits: limits::NetworkLimits,
    /// Request counts and latencies for `GET /metrics` (`ops::metrics`).
    pub metrics: ops::metrics::Metrics,
    /// WeChat sign-in; `None` when no WeChat app is configured (the routes answer 501).
    pub wechat: Option<wechat::WechatClient>,
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

impl AppState {
    /// Opens the database (migrating it), loads or creates the signing key, and builds the
    /// services the configuration asks for.
    pub fn open(config: Config) -> anyhow::Result<AppState> {
        let db = Db::open_with(&config.database_path(), config.ops.wal_autocheckpoint)?;
        let keys = Keys::load_or_create(&config.data_dir)?;
        let hasher = Hasher::new(config.hash_workers, config.hash_queue)?;
        let blobs = BlobStore::open(&config.storage_dir())?;
        let payments = Providers::build(&config)?;
        let wechat = wechat::WechatClient::new(&config.wechat)?;
        let notifier = Notifier::new(&config.notify, &config.code_pepper);
        Ok(AppState(Arc::new(Services {
            config,
            db,
            keys,
            hasher,
            notifier,
            blobs,
            payments,
            edge_wake: tokio::sync::Notify::new(),
            verified: tokens::VerifiedTokens::default(),
            limits: limits::NetworkLimits::default(),
            metrics: ops::metrics::Metrics::default(),
            wechat,
        })))
    }
}

impl Services {
    /// The provider that opens orders of `pay_type`: the sandbox for both in sandbox mode; in
    /// live mode the configured gateway, or a refusal naming the pay type.
    pub fn payment_provider_for(
        &self,
        pay_type: &str,
    ) -> std::result::Result<&dyn PaymentProvider, shared::Problem> {
        self.payments.for_pay_type(pay_type)
    }

    /// The provider named in a callback's path.
    pub fn payment_provider(&self, name: &str) -> Option<&dyn PaymentProvider> {
        self.payments.named(name)
    }
}
