//! The origin server: the source of truth behind the edge. `router`s and `serve` are here;
//! `main.rs` only parses the command line, loads the configuration and binds.

pub mod captcha;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod edge_sync;
pub mod error;
pub mod http;
pub mod ids;
pub mod notify;
pub mod passwords;
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
    /// Uploaded files, content-addressed under the data directory.
    pub blobs: BlobStore,
    /// Wakes the edge-sync task after a write queued instructions for the edge.
    pub edge_wake: tokio::sync::Notify,
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
            edge_wake: tokio::sync::Notify::new(),
        })))
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
