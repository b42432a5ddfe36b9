//! SQLite access: one writer connection owned by one thread, and a small pool of read-only
//! connections. WAL mode, `synchronous=FULL`.
//!
//! Group commit: the writer takes every write job that is waiting (up to [`MAX_BATCH`]),
//! runs each in its own savepoint inside one `BEGIN IMMEDIATE` transaction, commits once,
//! and only then answers each caller. A job that fails rolls back to its savepoint and
//! leaves the others alone; if the commit fails, every job in the batch gets the error, so
//! nothing is ever acknowledged that is not on disk. One fsync then serves many requests.
//!
//! Session epoch: a counter that moves after any committed change that could end a session
//! (an update or delete in `sessions`, `session_tokens` or `users`, seen by SQLite's update
//! hook on the writer connection), and after any commit by another process (the CLI), seen
//! through `PRAGMA data_version` within [`EXTERNAL_WRITE_NOTICE`]. It moves before the
//! writer answers, so whoever learns of a revocation also sees the new epoch. The cache of
//! verified access tokens keys its entries on it. Functions in the submodules are synchronous and take a `&Connection`
//! (or a transaction), so they are testable without tokio.

pub mod addresses;
pub mod audit;
pub mod captchas;
pub mod codes;
pub mod comments;
pub mod console_sessions;
pub mod coupons;
pub mod deliveries;
pub mod edge_outbox;
mod error;
pub mod gifts;
pub mod goods;
pub mod invitations;
pub mod ledgers;
pub mod messages;
pub mod migrate;
pub mod order_reads;
pub mod outbox;
pub mod recharge;
pub mod roles;
pub mod sessions;
pub mod sign_in;
pub mod uploads;
pub mod users;
pub mod wechat;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use anyhow::Context;
use rusqlite::hooks::Action;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::{Semaphore, oneshot};

pub use error::{StorageError, StorageResult, Unique, is_unique_violation};

/// Runs one write inside the batch's transaction (or learns that the batch could not
/// start) and returns what to do once the batch's fate is known.
type WriteJob = Box<dyn FnOnce(Result<&Transaction<'_>, &str>) -> Acknowledge + Send>;

/// Answers the caller, given whether the batch committed.
type Acknowledge = Box<dyn FnOnce(Result<(), &str>) + Send>;

const READERS: usize = 4;

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 64;

/// The most write jobs committed together.
pub const MAX_BATCH: usize = 64;

/// How soon a commit by another process moves the session epoch. Commands of the CLI that
/// end sessions wait this long before they report success.
pub const EXTERNAL_WRITE_NOTICE: std::time::Duration = std::time::Duration::from_millis(50);

/// SQLite's own default: a commit that leaves this many pages in the WAL checkpoints it.
pub const DEFAULT_WAL_AUTOCHECKPOINT: u32 = 1000;

/// Tables whose updated or deleted rows can end a session.
const SESSION_TABLES: [&str; 3] = ["sessions", "session_tokens", "users"];

/// A cheap-to-clone handle on the database.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Held shared for the life of the handle, so a restore cannot replace the file under it.
    _lock: crate::ops::backup::DataDirLock,
    writer: Mutex<mpsc::Sender<WriteJob>>,
    readers: Mutex<Vec<Connection>>,
    reader_slots: Semaphore,
    counters: Arc<Counters>,
}

/// Moved by the writer thread, read by anyone.
#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    session_epoch: AtomicU64,
    /// Batch sizes and commit latency, for metrics.
    writes: Mutex<crate::ops::metrics::WriterStats>,
}

fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    // Hot statements are prepared once per connection (`prepare_cached`); room for all of them.
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    connection.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database, applies migrations and starts the writer.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        Db::open_with(path, DEFAULT_WAL_AUTOCHECKPOINT)
    }

    /// [`Db::open`], with the writer checkpointing the WAL once it holds `wal_autocheckpoint`
    /// pages, or never (0: Litestream, when it runs, is then the only one to checkpoint).
    pub fn open_with(path: &Path, wal_autocheckpoint: u32) -> anyhow::Result<Db> {
        let lock = crate::ops::backup::DataDirLock::shared(path)?;
        let mut writer = Connection::open(path)
            .with_context(|| format!("opening database {}", path.display()))?;
        let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        anyhow::ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "could not switch to WAL (got {mode})"
        );
        writer.pragma_update(None, "synchronous", "FULL")?;
        writer.pragma_update(None, "wal_autocheckpoint", wal_autocheckpoint)?;
        configure(&writer)?;
        migrate::apply(&mut writer)?;

        let touched = Arc::new(AtomicBool::new(false));
        let hook = touched.clone();
        writer.update_hook(Some(move |action, _: &str, table: &str, _| {
            if action != Action::SQLITE_INSERT && SESSION_TABLES.contains(&table) {
                hook.store(true, Ordering::Relaxed);
            }
        }));
        let (sender, receiver) = mpsc::channel::<WriteJob>();
        let counters = Arc::new(Counters::default());
        let mut thread = WriterThread {
            data_version: data_version(&writer)?,
            connection: writer,
            counters: counters.clone(),
            touched,
        };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || thread.run(&receiver))
            .context("starting the writer thread")?;

        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                _lock: lock,
                writer: Mutex::new(sender),
                readers: Mutex::new(Vec::new()),
                reader_slots: Semaphore::new(READERS),
                counters,
            }),
        })
    }

    /// Runs `work` on the writer thread, atomically: its changes are kept if it returns `Ok`
    /// and undone otherwise. Answers only once the batch holding it has committed (or with
    /// an error if that commit failed). A refusal that must still persist something (a
    /// burnt captcha, a counted wrong code) returns `Ok(Err(problem))`.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
    {
        let failed = |error: anyhow::Error| E::from(StorageError::Failed(error));
        let (reply, answer) = oneshot::channel();
        let job: WriteJob = Box::new(move |transaction| {
            let outcome = match transaction {
                Ok(transaction) => in_savepoint(transaction, work),
                Err(error) => Err(failed(anyhow::anyhow!("could not begin a write: {error}"))),
            };
            Box::new(move |committed: Result<(), &str>| {
                let answer = match committed {
                    Ok(()) => outcome,
                    // Whatever the job did is gone with the batch.
                    Err(error) => Err(failed(anyhow::anyhow!(
                        "the write was not committed: {error}"
                    ))),
                };
                let _ = reply.send(answer);
            })
        });
        self.inner
            .writer
            .lock()
            .map_err(|_| failed(anyhow::anyhow!("writer lock poisoned")))?
            .send(job)
            .map_err(|_| failed(anyhow::anyhow!("the writer thread has stopped")))?;
        answer
            .await
            .map_err(|_| failed(anyhow::anyhow!("the writer dropped a job")))?
    }

    /// How many write transactions (batches) have committed since the database was opened.
    pub fn batches_committed(&self) -> u64 {
        self.inner.counters.batches.load(Ordering::Relaxed)
    }

    /// Batch sizes, commit latency and failed commits so far (for metrics).
    pub fn writer_stats(&self) -> crate::ops::metrics::WriterStats {
        self.inner
            .counters
            .writes
            .lock()
            .map(|stats| stats.clone())
            .unwrap_or_default()
    }

    /// The session epoch (see the module's documentation). Read it before reading a
    /// session, and trust what was read only while the epoch has not moved.
    pub fn session_epoch(&self) -> u64 {
        self.inner.counters.session_epoch.load(Ordering::SeqCst)
    }

    /// Runs `work` on a read-only connection right here, on the calling runtime thread: for
    /// the short reads of the hot path (a session, a profile, a user's few rows by index),
    /// which take microseconds, while handing them to the blocking pool and back costs two
    /// thread wake-ups and the pool's lock, more than the read itself (issue 20's profile).
    /// Anything that may scan or take long goes through [`Db::read`]. When every reader is
    /// busy, or with `ORIGIN_INLINE_READS=0`, this is [`Db::read`].
    pub async fn read_short<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        if !inline_reads() {
            return self.read(work).await;
        }
        let Ok(_slot) = self.inner.reader_slots.try_acquire() else {
            return self.read(work).await;
        };
        let connection = match self
            .inner
            .readers
            .lock()
            .ok()
            .and_then(|mut pool| pool.pop())
        {
            Some(connection) => connection,
            None => open_reader(&self.inner.path).map_err(E::from)?,
        };
        let result = work(&connection);
        // A connection left inside a transaction (its end failed) is not reused.
        if connection.is_autocommit()
            && let Ok(mut pool) = self.inner.readers.lock()
        {
            pool.push(connection);
        }
        result
    }

    /// Runs `work` on a read-only connection, off the async runtime.
    pub async fn read<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StorageError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let failed = |error: anyhow::Error| E::from(StorageError::Failed(error));
        let _slot = self
            .inner
            .reader_slots
            .acquire()
            .await
            .map_err(|error| failed(error.into()))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let connection = match inner.readers.lock().ok().and_then(|mut pool| pool.pop()) {
                Some(connection) => connection,
                None => open_reader(&inner.path).map_err(E::from)?,
            };
            let result = work(&connection);
            // A connection left inside a transaction (its end failed) is not reused.
            if connection.is_autocommit()
                && let Ok(mut pool) = inner.readers.lock()
            {
                pool.push(connection);
            }
            result
        })
        .await
        .map_err(|error| failed(error.into()))?
    }
}

/// Runs `work`, which reads with several statements, in one read transaction: they see one
/// snapshot, and the locks a read transaction takes (on the WAL index, a `fcntl` system call
/// in and out) are taken once, not once a statement (issue 20's profile: the five statements
/// of a profile read spent 12 % of the origin's CPU in `fcntl`). One statement is its own
/// transaction already and needs none of this.
pub fn in_read_transaction<T, E, F>(connection: &Connection, work: F) -> Result<T, E>
where
    E: From<StorageError>,
    F: FnOnce(&Connection) -> Result<T, E>,
{
    let statement = |sql: &str| -> Result<(), E> {
        connection
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map(|_| ())
            .map_err(|error| E::from(StorageError::from(error)))
    };
    statement("BEGIN")?;
    let result = work(connection);
    // A read has nothing to keep: ending it either way only drops the snapshot.
    let ended = statement(if result.is_ok() { "COMMIT" } else { "ROLLBACK" });
    let value = result?;
    ended?;
    Ok(value)
}

/// Whether [`Db::read_short`] reads on the calling thread (`ORIGIN_INLINE_READS=0`: no).
fn inline_reads() -> bool {
    static INLINE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INLINE.get_or_init(|| std::env::var("ORIGIN_INLINE_READS").map_or(true, |v| v != "0"))
}

fn data_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row("PRAGMA data_version", [], |row| row.get(0))
}

/// The writer thread: one transaction per batch of waiting jobs.
struct WriterThread {
    connection: Connection,
    counters: Arc<Counters>,
    /// Set by the update hook when a batch changed a session table.
    touched: Arc<AtomicBool>,
    /// The writer's `PRAGMA data_version`, which changes only when another connection (in
    /// practice another process) commits.
    data_version: i64,
}

impl WriterThread {
    fn run(&mut self, jobs: &mpsc::Receiver<WriteJob>) {
        loop {
            let first = match jobs.recv_timeout(EXTERNAL_WRITE_NOTICE) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    self.notice_external_writes();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.notice_external_writes();
            self.commit(batch);
        }
    }

    fn commit(&mut self, batch: Vec<WriteJob>) {
        let transaction = match self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
        {
            Ok(transaction) => transaction,
            Err(error) => {
                let error = error.to_string();
                for job in batch {
                    job(Err(&error))(Err(&error));
                }
                return;
            }
        };
        let acknowledgements: Vec<Acknowledge> =
            batch.into_iter().map(|job| job(Ok(&transaction))).collect();
        let commit_began = std::time::Instant::now();
        let committed = transaction.commit().map_err(|error| error.to_string());
        if let Ok(mut stats) = self.counters.writes.lock() {
            match &committed {
                Ok(()) => {
                    stats.batch_sizes.observe(acknowledgements.len() as f64);
                    stats
                        .commit_seconds
                        .observe(commit_began.elapsed().as_secs_f64());
                }
                Err(_) => stats.failed_commits += 1,
            }
        }
        match &committed {
            Ok(()) => {
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::error!(%error, jobs = acknowledgements.len(), "a write batch failed to commit");
            }
        }
        // Before anyone hears of a revocation, the epoch has moved.
        if self.touched.swap(false, Ordering::Relaxed) {
            self.counters.session_epoch.fetch_add(1, Ordering::SeqCst);
        }
        for acknowledge in acknowledgements {
            acknowledge(committed.as_ref().map(|_| ()).map_err(String::as_str));
        }
    }

    /// Moves the session epoch if another process has committed since the last look.
    fn notice_external_writes(&mut self) {
        match data_version(&self.connection) {
            Ok(version) if version != self.data_version => {
                self.data_version = version;
                self.counters.session_epoch.fetch_add(1, Ordering::SeqCst);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not read data_version"),
        }
    }
}

/// Runs `work` inside a savepoint of the batch: kept if it returns `Ok`, undone otherwise
/// (a panic included) without touching the batch's other jobs. A refusal that must still
/// persist something (a burnt captcha, a counted wrong code) returns `Ok(Err(problem))`.
fn in_savepoint<T, E: From<StorageError>>(
    transaction: &Transaction<'_>,
    work: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
) -> Result<T, E> {
    let savepoint = |sql: &str| -> Result<(), E> {
        transaction
            .prepare_cached(sql)
            .and_then(|mut statement| statement.execute([]))
            .map_err(|error| E::from(error.into()))?;
        Ok(())
    };
    savepoint("SAVEPOINT job")?;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(transaction)))
        .unwrap_or_else(|_| {
            Err(E::from(StorageError::Failed(anyhow::anyhow!(
                "a write job panicked"
            ))))
        });
    let result = result.and_then(|value| {
        savepoint("RELEASE job")?;
        Ok(value)
    });
    if result.is_err() {
        // If even this fails the transaction is gone, and the commit reports it to all.
        let _ = transaction.execute_batch("ROLLBACK TO job; RELEASE job");
    }
    result
}

fn open_reader(path: &Path) -> StorageResult<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )?;
    configure(&connection)?;
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(transaction: &Transaction<'_>) -> StorageResult<i64> {
        Ok(transaction.query_row("SELECT count(*) FROM scratch", [], |row| row.get(0))?)
    }

    #[tokio::test]
    async fn waiting_writes_commit_together_and_a_failed_one_is_undone_alone() {
        let directory = tempfile::tempdir().unwrap();
        let db = Db::open(&directory.path().join("group.db")).unwrap();
        db.write(|tx| -> StorageResult<()> {
            Ok(tx.execute_batch("CREATE TABLE scratch (n INTEGER PRIMARY KEY)")?)
        })
        .await
        .unwrap();
        let before = db.batches_committed();

        // Hold the writer inside a job so that the next writes queue up behind it.
        let (started, running) = oneshot::channel::<()>();
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let holder = tokio::spawn({
            let db = db.clone();
            async move {
                db.write(move |_| -> StorageResult<()> {
                    started.send(()).unwrap();
                    gate.lock().unwrap().recv().unwrap();
                    Ok(())
                })
                .await
            }
        });
        running.await.unwrap();
        let writes: Vec<_> = (1..=10_i64)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(move |tx| -> StorageResult<i64> {
                        tx.execute("INSERT INTO scratch (n) VALUES (?1)", [n])?;
                        match n {
                            5 => Err(anyhow::anyhow!("refused").into()),
                            7 => panic!("job 7 panics after its insert"),
                            _ => count(tx),
                        }
                    })
                    .await
                })
            })
            .collect();
        // Every spawned write sends its job on its first poll; give them that poll.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        release.send(()).unwrap();
        holder.await.unwrap().unwrap();

        let mut seen = Vec::new();
        for (n, write) in (1..=10).zip(writes) {
            match write.await.unwrap() {
                Ok(rows) => seen.push((n, rows)),
                Err(_) => assert!(n == 5 || n == 7, "write {n} failed"),
            }
        }
        // Each job saw the batch's earlier kept rows, and none of the undone ones.
        assert_eq!(
            seen,
            vec![
                (1, 1),
                (2, 2),
                (3, 3),
                (4, 4),
                (6, 5),
                (8, 6),
                (9, 7),
                (10, 8)
            ]
        );
        assert_eq!(
            db.batches_committed() - before,
            2,
            "the holder alone, then the ten queued writes in one transaction"
        );
        let stored: Vec<i64> = db
            .read(|connection| -> StorageResult<_> {
                let mut statement = connection.prepare("SELECT n FROM scratch ORDER BY n")?;
                let rows = statement.query_map([], |row| row.get(0))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .await
            .unwrap();
        assert_eq!(stored, vec![1, 2, 3, 4, 6, 8, 9, 10]);

        // The writer survived the panic.
        assert_eq!(db.write(count).await.unwrap(), 8);
    }
}
