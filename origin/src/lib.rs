//! The origin server: the source of truth behind the edge. `router`s and `serve` are here;
//! `main.rs` only parses the command line, loads the configuration and binds. Everything
//! below HTTP lives in `origin-core` (re-exported here), which has no axum.

pub mod console;
pub mod delivery;
pub mod edge_sync;
pub mod error;
pub mod http;
pub mod ops;
pub mod reconcile;

pub use origin_core::{
    AppState, Services, captcha, clock, config, cpus, db, domain, ids, limits, notify, passwords,
    payments, storage, tokens, wechat,
};

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service;

use crate::config::Config;

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
