//! SQLite access: one writer connection owned by one thread (every write is a `BEGIN
//! IMMEDIATE` transaction there), and a small pool of read-only connections. WAL mode,
//! `synchronous=FULL`. Functions in the submodules are synchronous and take a `&Connection`
//! (or a transaction), so they are testable without tokio.

pub mod addresses;
pub mod audit;
pub mod captchas;
pub mod codes;
pub mod comments;
pub mod coupons;
pub mod edge_outbox;
pub mod gifts;
pub mod goods;
pub mod invitations;
pub mod ledgers;
pub mod messages;
pub mod migrate;
pub mod outbox;
pub mod recharge;
pub mod roles;
pub mod sessions;
pub mod uploads;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::{Semaphore, oneshot};

use crate::error::{AppError, AppResult};

type WriteJob = Box<dyn FnOnce(&mut Connection) + Send>;

const READERS: usize = 4;

/// A cheap-to-clone handle on the database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: Mutex<mpsc::Sender<WriteJob>>,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Semaphore,
}

fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database, applies migrations and starts the writer.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        let mut writer = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        anyhow::ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "could not switch to WAL (got {mode})"
        );
        writer.pragma_update(None, "synchronous", "FULL")?;
        configure(&writer)?;
        migrate::apply(&mut writer)?;

        let (sender, receiver) = mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                for job in receiver {
                    job(&mut writer);
                }
            })
            .context("starting the writer thread")?;

        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                writer: Mutex::new(sender),
                readers: Mutex::new(Vec::new()),
                reader_slots: Semaphore::new(READERS),
            }),
        })
    }

    /// Runs `work` in one `BEGIN IMMEDIATE` transaction on the writer thread. It commits if
    /// `work` returns `Ok` and rolls back otherwise. A refusal that must still persist
    /// something (a burnt captcha, a counted wrong code) returns `Ok(Err(problem))`.
    pub async fn write<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> AppResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: WriteJob = Box::new(move |connection| {
            let _ = reply.send(run_in_transaction(connection, work));
        });
        self.inner
            .writer
            .lock()
            .map_err(|_| anyhow::anyhow!("writer lock poisoned"))?
            .send(job)
            .map_err(|_| anyhow::anyhow!("the writer thread has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the writer dropped a job"))?
    }

    /// Runs `work` on a read-only connection, off the async runtime.
    pub async fn read<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> AppResult<T> + Send + 'static,
    {
        let _slot = self
            .inner
            .reader_slots
            .acquire()
            .await
            .map_err(anyhow::Error::from)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let connection = match inner.readers.lock().ok().and_then(|mut pool| pool.pop()) {
                Some(connection) => connection,
                None => open_reader(&inner.path)?,
            };
            let result = work(&connection);
            if let Ok(mut pool) = inner.readers.lock() {
                pool.push(connection);
            }
            result
        })
        .await
        .map_err(|error| AppError::Internal(error.into()))?
    }
}

fn run_in_transaction<T>(
    connection: &mut Connection,
    work: impl FnOnce(&Transaction<'_>) -> AppResult<T>,
) -> AppResult<T> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let result = work(&transaction);
    match result {
        Ok(value) => {
            transaction.commit()?;
            Ok(value)
        }
        Err(error) => {
            // Dropping the transaction rolls it back.
            drop(transaction);
            Err(error)
        }
    }
}

fn open_reader(path: &Path) -> AppResult<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    configure(&connection)?;
    Ok(connection)
}
