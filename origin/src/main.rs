//! The `origin` binary: serve both listeners, or run an operator task.

use std::io::Read;

use anyhow::Context;
use clap::{Parser, Subcommand};
use origin::config::Config;
use origin::{AppState, domain::identity};
use tokio::net::TcpListener;
use tokio::sync::watch;

#[derive(Parser)]
#[command(name = "origin", about = "Origin server of the membership platform")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the public (edge-only) and admin listeners (the default).
    Serve,
    /// Back-office accounts.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Invitation codes for store registration.
    Invite {
        #[command(subcommand)]
        action: InviteAction,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create or reset a super-admin; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
enum InviteAction {
    /// Print a new invitation code.
    Create {
        #[arg(long)]
        uses: i64,
        #[arg(long)]
        expires_in_days: Option<i64>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = Config::from_env()?;
    let state = AppState::open(config)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(state).await,
        Command::Admin {
            action: AdminAction::Create { username },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let user_id = identity::create_super_admin(&state, username.clone(), password)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            println!("super-admin {username} (user id {user_id}) is ready");
            Ok(())
        }
        Command::Invite {
            action:
                InviteAction::Create {
                    uses,
                    expires_in_days,
                },
        } => {
            let invitation = identity::create_invitation(&state, uses, expires_in_days)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            println!("{}", invitation.code);
            Ok(())
        }
    }
}

async fn serve(state: AppState) -> anyhow::Result<()> {
    let public_addr = state.config.public_addr;
    let admin_addr = state.config.admin_addr;
    let public = TcpListener::bind(public_addr)
        .await
        .with_context(|| format!("binding {public_addr}"))?;
    let admin = TcpListener::bind(admin_addr)
        .await
        .with_context(|| format!("binding {admin_addr}"))?;
    tracing::info!(%public_addr, %admin_addr, data_dir = %state.config.data_dir.display(), "origin listening");

    let (stop, stopped) = watch::channel(false);
    let wait = |mut stopped: watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let public_server = tokio::spawn(origin::serve(
        public,
        origin::public_router(state.clone()),
        wait(stopped.clone()),
    ));
    let edge_sync = tokio::spawn(origin::edge_sync::run(state.clone(), stopped.clone()));
    let admin_server = tokio::spawn(origin::serve(
        admin,
        origin::admin_router(state),
        wait(stopped),
    ));
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    public_server.await??;
    admin_server.await??;
    edge_sync.await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
