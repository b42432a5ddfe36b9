//! The `origin` binary: serve both listeners, or run an operator task.

use std::io::Read;

use anyhow::Context;
use clap::{Parser, Subcommand};
use origin::config::Config;
use origin::db::audit::Actor;
use origin::db::ledgers::Ledger;
use origin::domain::admin::{self, NewGift, NewGoods, NewInvitation, NewMessage, Recipients};
use origin::http::openapi;
use origin::{AppState, domain::identity};
use origin_core::Error;
use shared::money::{format_cents, parse_cents};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// mimalloc instead of glibc's malloc: on the read path glibc's allocator took ~11 % of the
/// origin's CPU (every hyper read buffer of 8 KiB is a "large" request that first consolidates
/// the fast bins), see BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Back-office actions on one user (audited as "cli", delivered to the edge by the server).
    User {
        /// The user's id.
        #[arg(long)]
        id: i64,
        #[command(subcommand)]
        action: UserAction,
    },
    /// In-site messages.
    Message {
        #[command(subcommand)]
        action: MessageAction,
    },
    /// Goods that comments are about.
    Goods {
        #[command(subcommand)]
        action: GoodsAction,
    },
    /// Gifts for points, and shipping their orders.
    Gift {
        #[command(subcommand)]
        action: GiftAction,
    },
    /// Write a consistent, verified snapshot of the database to FILE (while the server runs).
    Backup {
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
    },
    /// Put the snapshot FILE in place as the database (server stopped; the old file is kept).
    Restore {
        #[arg(long, value_name = "FILE")]
        from: std::path::PathBuf,
    },
    /// Print an API's OpenAPI document (or, with --postman, a Postman collection) to stdout.
    Openapi {
        #[arg(value_enum)]
        api: ApiName,
        #[arg(long)]
        postman: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ApiName {
    Store,
    Print,
    Admin,
}

#[derive(Subcommand)]
enum UserAction {
    /// Disable the account and revoke every session.
    Disable,
    /// Enable a disabled account.
    Enable,
    /// Replace the user's roles (none: no back-office access).
    Roles { roles: Vec<String> },
    /// Add (or, negative, take) points; refused below zero.
    Points {
        #[arg(long, allow_hyphen_values = true)]
        number: i64,
        #[arg(long)]
        describe: String,
    },
    /// Add (or, negative, take) balance, as a money string; refused below zero.
    Balance {
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        describe: String,
    },
}

#[derive(Subcommand)]
enum MessageAction {
    /// Send to one user (--user-id) or to every active user (--all).
    Send {
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        user_id: Option<i64>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        title: String,
        #[arg(long)]
        body: String,
        #[arg(long, default_value = "系统")]
        sender: String,
    },
}

#[derive(Subcommand)]
enum GoodsAction {
    /// Create goods; prints the id.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        price: String,
    },
}

#[derive(Subcommand)]
enum GiftAction {
    /// Put a gift on offer; prints the id.
    Create {
        #[arg(long)]
        name: String,
        /// Points the gift costs (the API's `accumulate_points`).
        #[arg(long = "accumulate-points", alias = "points")]
        accumulate_points: i64,
        #[arg(long)]
        stock: i64,
    },
    /// Mark a gift order shipped.
    Ship {
        #[arg(long)]
        order_id: i64,
        #[arg(long)]
        express_company: String,
        #[arg(long)]
        tracking_no: String,
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

fn main() -> anyhow::Result<()> {
    // Before the runtime: `.env` may set ORIGIN_PIN_WORKERS, and pinning may have to warn.
    let _ = dotenvy::dotenv();
    origin::ops::logging::init()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    // One worker per CPU, each pinned to its own (see `origin::cpus`).
    if let Some(pinning) = origin::cpus::WorkerPinning::for_this_process()? {
        let pinning = std::sync::Arc::new(pinning);
        let starting = pinning.clone();
        runtime
            .worker_threads(pinning.workers())
            .on_thread_start(move || starting.unpin_current())
            .on_thread_park(move || pinning.pin_current());
    }
    runtime.build()?.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi { api, postman }) = cli.command {
        let api = match api {
            ApiName::Store => openapi::Api::Store,
            ApiName::Print => openapi::Api::Print,
            ApiName::Admin => openapi::Api::Admin,
        };
        let document = openapi::document(api);
        let output = if postman {
            serde_json::to_string_pretty(&openapi::postman::collection(api, document))?
        } else {
            serde_json::to_string_pretty(document)?
        };
        println!("{output}");
        return Ok(());
    }
    // Before the configuration: it would generate secrets into an empty data directory.
    if let Some(Command::Backup { to }) = &cli.command {
        return origin::ops::backup::command_backup(to);
    }
    if let Some(Command::Restore { from }) = &cli.command {
        return origin::ops::backup::command_restore(from);
    }
    let config = Config::from_env()?;
    let state = AppState::open(config)?;
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Serve = command {
        return serve(state).await;
    }
    // An operator task delivers what it queues for the edge itself (a running server would too,
    // from the same outbox; instructions are idempotent).
    let (stop, stopped) = watch::channel(false);
    let edge_sync = tokio::spawn(origin::edge_sync::run(state.clone(), stopped));
    let outcome = task(&state, command).await;
    // A running server notices another process's commits within EXTERNAL_WRITE_NOTICE (its
    // cache of verified tokens keys on that); exit only after it has, so a session this
    // command ended is refused by the time the operator sees the command finish.
    tokio::time::sleep(2 * origin::db::EXTERNAL_WRITE_NOTICE).await;
    let _ = stop.send(true);
    let _ = edge_sync.await;
    outcome
}

async fn task(state: &AppState, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve
        | Command::Openapi { .. }
        | Command::Backup { .. }
        | Command::Restore { .. } => unreachable!("handled before the state opens"),
        Command::Admin {
            action: AdminAction::Create { username },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from stdin")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let user_id = identity::create_super_admin(state, username.clone(), password)
                .await
                .map_err(task_error)?;
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
            let invitation =
                NewInvitation::new(uses, expires_in_days).map_err(|p| task_error(p.into()))?;
            let invitation = admin::create_invitation(state, Actor::cli(), invitation)
                .await
                .map_err(task_error)?;
            println!("{}", invitation.code);
            Ok(())
        }
        Command::User { id, action } => user_task(state, id, action).await,
        Command::Message {
            action:
                MessageAction::Send {
                    user_id,
                    all: _,
                    title,
                    body,
                    sender,
                },
        } => {
            let recipients = user_id.map_or(Recipients::All, Recipients::One);
            let message =
                NewMessage::new(Some(&sender), &title, &body).map_err(|p| task_error(p.into()))?;
            let count = admin::send_message(state, Actor::cli(), recipients, message)
                .await
                .map_err(task_error)?;
            println!("sent to {count} user(s)");
            Ok(())
        }
        Command::Goods {
            action: GoodsAction::Create { name, price },
        } => {
            let price = parse_cents("price", &price).map_err(|p| task_error(p.into()))?;
            let goods = NewGoods::new(&name, price).map_err(|p| task_error(p.into()))?;
            let id = admin::create_goods(state, Actor::cli(), goods)
                .await
                .map_err(task_error)?;
            println!("{id}");
            Ok(())
        }
        Command::Gift { action } => gift_task(state, action).await,
    }
}

/// An error as a person at a terminal should read it: the field and what is wrong with it,
/// never a Rust value.
fn task_error(error: Error) -> anyhow::Error {
    match error {
        Error::Problem(problem, _) => match problem.field() {
            Some(field) => anyhow::anyhow!("{field}: {}", problem.message()),
            None => anyhow::anyhow!("{}", problem.message()),
        },
        Error::Internal(error) => error,
    }
}

/// [`task_error`], saying which user was not found.
fn user_error(id: i64) -> impl Fn(Error) -> anyhow::Error {
    move |error| match error {
        Error::Problem(shared::Problem::NotFound, _) => {
            anyhow::anyhow!("there is no user with id {id}")
        }
        other => task_error(other),
    }
}

async fn user_task(state: &AppState, id: i64, action: UserAction) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match action {
        UserAction::Disable | UserAction::Enable => {
            let disabled = matches!(action, UserAction::Disable);
            admin::update_user(state, actor, id, Some(disabled), None)
                .await
                .map_err(user_error(id))?;
            println!(
                "user {id} {}",
                if disabled { "disabled" } else { "enabled" }
            );
        }
        UserAction::Roles { roles } => {
            admin::update_user(state, actor, id, None, Some(roles))
                .await
                .map_err(user_error(id))?;
            println!("user {id} roles replaced");
        }
        UserAction::Points { number, describe } => {
            let surplus = admin::adjust(state, actor, id, Ledger::Points, number, describe)
                .await
                .map_err(user_error(id))?;
            println!("points now {surplus}");
        }
        UserAction::Balance { amount, describe } => {
            let delta = parse_cents("amount", &amount).map_err(|p| task_error(p.into()))?;
            let surplus = admin::adjust(state, actor, id, Ledger::Balance, delta, describe)
                .await
                .map_err(user_error(id))?;
            println!("balance now {}", format_cents(surplus));
        }
    }
    Ok(())
}

async fn gift_task(state: &AppState, action: GiftAction) -> anyhow::Result<()> {
    match action {
        GiftAction::Create {
            name,
            accumulate_points,
            stock,
        } => {
            let gift = NewGift::new(&name, accumulate_points, stock, None)
                .map_err(|p| task_error(p.into()))?;
            let id = admin::create_gift(state, Actor::cli(), gift)
                .await
                .map_err(task_error)?;
            println!("{id}");
        }
        GiftAction::Ship {
            order_id,
            express_company,
            tracking_no,
        } => {
            admin::ship_gift_order(state, Actor::cli(), order_id, express_company, tracking_no)
                .await
                .map_err(task_error)?;
            println!("gift order {order_id} shipped");
        }
    }
    Ok(())
}

async fn serve(state: AppState) -> anyhow::Result<()> {
    // Held until the server exits: no other server clears storage/tmp under this one.
    let blobs = state.blobs.clone();
    let _serving = tokio::task::spawn_blocking(move || blobs.lock_for_serving())
        .await?
        .context(
            "locking storage/tmp.lock (the data directory's file system must support file locks)",
        )?;
    let public_addr = state.config.public_addr;
    let admin_addr = state.config.admin_addr;
    // The SMS and e-mail providers' clients: a bad setting stops the start, not a delivery.
    let senders = std::sync::Arc::new(origin::delivery::Senders::new(&state.config.notify)?);
    // A live setup keeps no outbox row in the clear, old ones included (migration 0017).
    let sealed = origin::notify::Notifier::seal_clear_outbox(&state).await?;
    if sealed > 0 {
        tracing::info!(sealed, "outbox rows written in the clear are now sealed");
    }
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
    let limits = origin::ListenerLimits::of(&state.config);
    let public_server = tokio::spawn(origin::serve(
        public,
        origin::public_router(state.clone()),
        limits,
        wait(stopped.clone()),
    ));
    let edge_sync = tokio::spawn(origin::edge_sync::run(state.clone(), stopped.clone()));
    let delivery = tokio::spawn(origin::delivery::run(
        state.clone(),
        senders,
        stopped.clone(),
    ));
    let backups = tokio::spawn(origin::ops::backup::run_scheduled(
        state.clone(),
        stopped.clone(),
    ));
    let reconcile = tokio::spawn(origin::reconcile::run(state.clone(), stopped.clone()));
    let admin_server = tokio::spawn(origin::serve(
        admin,
        origin::admin_router(state.clone()),
        limits,
        wait(stopped),
    ));
    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop.send(true);
    public_server.await??;
    admin_server.await??;
    edge_sync.await?;
    delivery.await?;
    backups.await?;
    reconcile.await?;
    // The listeners have drained, so nothing queues more: one last attempt to deliver what the
    // edge has not heard yet (a revoked session should not outlive the restart at the edge).
    origin::edge_sync::flush(&state, origin::edge_sync::FLUSH_WITHIN).await;
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
