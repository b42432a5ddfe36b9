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
pub mod limits;
pub mod notify;
pub mod ops;
pub mod passwords;
pub mod payments;
pub mod storage;
pub mod tokens;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

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
    pub verified: tokens::VerifiedTokens,
    /// Per-client-network counters of the sign-in family.
    pub limits: limits::NetworkLimits,
    /// Request counts and latencies for `GET /metrics` (`ops::metrics`).
    pub metrics: ops::metrics::Metrics,
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
            verified: tokens::VerifiedTokens::default(),
            limits: limits::NetworkLimits::default(),
            metrics: ops::metrics::Metrics::default(),
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

/// How much of a listener one client may hold (issue: slow clients). A client that has not
/// sent a request's headers within `header_timeout` is disconnected, and at most
/// `max_connections` connections are served at once: further clients wait in the kernel's
/// accept queue until a connection ends, instead of each taking memory and a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl ListenerLimits {
    pub fn of(config: &Config) -> ListenerLimits {
        ListenerLimits {
            header_timeout: Duration::from_secs(config.header_timeout_secs),
            max_connections: config.max_connections,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and drains
/// in-flight requests (at most 30 s).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let tower_service = match make_service.call(peer).await {
            Ok(service) => service,
            Err(infallible) => match infallible {},
        };
        let hyper_service = hyper_util::service::TowerToHyperService::new(tower_service);
        let connection =
            builder.serve_connection(hyper_util::rt::TokioIo::new(stream), hyper_service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open 30 s after shutdown began; closing them");
    }
    Ok(())
}
