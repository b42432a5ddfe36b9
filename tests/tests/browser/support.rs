//! The origin the browser scenarios drive: the real routers (`origin::admin_router`,
//! `origin::public_router`, as `origin serve` runs them) on free loopback ports, in this process,
//! with a fresh data directory, its background workers, and a super-admin to sign in as.
//! In-process rather than the `origin` binary, so `cargo test -p tests --test browser` always
//! runs the console as the source stands (a stale `target/debug/origin` cannot be picked up).

use origin::AppState;
use origin::config::Config;
use tempfile::TempDir;
use tokio::net::TcpListener;

/// The super-admin every scenario may sign in as (created at start).
pub const ADMIN_USERNAME: &str = "root";
pub const ADMIN_PASSWORD: &str = tests::ADMIN_PASSWORD;

/// The origin, serving; its tasks end with the runtime.
pub struct Origin {
    /// The admin listener, `http://127.0.0.1:PORT` (the console and the admin API).
    pub admin: String,
    /// The origin's state, for a scenario that checks what the console stored (its database,
    /// `state.config.data_dir`) or prepares data through the domain.
    #[allow(dead_code, reason = "for the console's scenarios")]
    pub state: AppState,
    _dir: TempDir,
    _stop: tokio::sync::watch::Sender<bool>,
}

impl Origin {
    pub async fn start() -> anyhow::Result<Origin> {
        let dir = tempfile::tempdir()?;
        let mut config = Config::with_defaults(dir.path())?;
        config.hash_workers = 2;
        // Nothing listens on the discard port: edge deliveries fail at once and stay queued.
        config.edge_url = "http://127.0.0.1:9".into();
        let state = AppState::open(config)?;
        let public = TcpListener::bind("127.0.0.1:0").await?;
        let admin = TcpListener::bind("127.0.0.1:0").await?;
        let admin_url = format!("http://{}", admin.local_addr()?);
        let limits = origin::ListenerLimits::of(&state.config);
        tokio::spawn(origin::serve(
            public,
            origin::public_router(state.clone()),
            limits,
            std::future::pending(),
        ));
        tokio::spawn(origin::serve(
            admin,
            origin::admin_router(state.clone()),
            limits,
            std::future::pending(),
        ));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(origin::edge_sync::run(state.clone(), stopped.clone()));
        let senders = origin::delivery::Senders::new(&state.config.notify)?;
        tokio::spawn(origin::delivery::run(
            state.clone(),
            std::sync::Arc::new(senders),
            stopped,
        ));
        origin::domain::identity::create_super_admin(
            &state,
            ADMIN_USERNAME.into(),
            ADMIN_PASSWORD.into(),
        )
        .await
        .map_err(|error| anyhow::anyhow!("creating the super-admin: {error:?}"))?;
        Ok(Origin {
            admin: admin_url,
            state,
            _dir: dir,
            _stop: stop,
        })
    }

    /// The address of `path` on the admin listener: `origin.at("/console/")`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.admin)
    }
}
