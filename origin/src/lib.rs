//! The origin server: the source of truth behind the edge. `router`s and `serve` are here;
//! `main.rs` only parses the command line, loads the configuration and binds.

pub mod captcha;
pub mod clock;
pub mod config;
pub mod cpus;
pub mod db;
pub mod domain;
pub mod edge_sync;
pub mod error;
pub mod http;
pub mod ids;
pub mod notify;
pub mod passwords;
pub mod payments;
pub mod storage;
pub mod tokens;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::{Config, NotifierKind};
use crate::db::Db;
use crate::notify::{Notifier, OutboxNotifier};
use crate::passwords::Hasher;
use crate::payments::{PaymentProvider, SandboxProvider};
use crate::storage::BlobStore;
use crate::tokens::Keys;

/// Everything a request handler may need, shared by both listeners.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

pub struct Services {
    pub config: Config,
    pub db: Db,
    pub keys: Keys,
    pub hasher: Hasher,
    pub notifier: Box<dyn Notifier>,
    /// Payment providers; the first is the one new orders use.
    pub payments: Vec<Box<dyn PaymentProvider>>,
    /// Uploaded files, content-addressed under the data directory.
    pub blobs: BlobStore,
    /// Wakes the edge-sync task after a write queued instructions for the edge.
    pub edge_wake: tokio::sync::Notify,
    /// Access tokens already verified, so a hot token is not re-verified per request.
    pub verified: http::auth::VerifiedTokens,
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
        let db = Db::open(&config.database_path())?;
        let keys = Keys::load_or_create(&config.data_dir)?;
        let hasher = Hasher::new(config.hash_workers, config.hash_queue)?;
        let blobs = BlobStore::open(&config.storage_dir())?;
        let payments: Vec<Box<dyn PaymentProvider>> = vec![Box::new(SandboxProvider::new(
            config.pay_sandbox_secret.clone(),
        ))];
        let notifier: Box<dyn Notifier> = match config.notifier {
            NotifierKind::Outbox => Box::new(OutboxNotifier),
        };
        Ok(AppState(Arc::new(Services {
            config,
            db,
            keys,
            hasher,
            notifier,
            blobs,
            payments,
            edge_wake: tokio::sync::Notify::new(),
            verified: http::auth::VerifiedTokens::default(),
        })))
    }
}

impl Services {
    /// The provider that settles orders of `pay_type`. Every pay type goes to the sandbox until
    /// real Alipay and WeChat adapters exist.
    pub fn payment_provider_for(&self, _pay_type: &str) -> &dyn PaymentProvider {
        self.payments[0].as_ref()
    }

    /// The provider named in a callback's path.
    pub fn payment_provider(&self, name: &str) -> Option<&dyn PaymentProvider> {
        self.payments
            .iter()
            .find(|provider| provider.name() == name)
            .map(|provider| provider.as_ref())
    }
}

pub use http::{admin_router, public_router};

/// Serves `router` on `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
