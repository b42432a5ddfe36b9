//! Snapshots of the database and restoring one.
//!
//! `snapshot` runs while the server runs and writes: `VACUUM INTO` copies the database as one
//! read transaction sees it (in WAL mode a reader blocks no writer, and the copy holds exactly
//! the transactions committed before that read began), into a temporary file next to the target
//! that is switched to a rollback journal (so the snapshot is one self-contained file), synced,
//! checked like a restore would check it, and only then renamed into place.
//!
//! `restore` is for a stopped server: it checks the snapshot (`PRAGMA integrity_check`, foreign
//! keys, a schema version this binary knows), takes the data directory's lock exclusively (a
//! running server or CLI command holds it shared, so a restore under one is refused), copies
//! the snapshot beside the live file and checks the copy, moves the live file's WAL aside, and
//! renames the copy over the live file (one atomic rename). The file it replaces is kept as
//! `origin.sqlite3.before-restore-<unix time>` (with its `-wal`, if it had one, and Litestream's
//! `.origin.sqlite3-litestream` state, if Litestream ran).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::watch;

use crate::AppState;
use crate::clock;
use crate::db::migrate;

/// Scheduled snapshots are `origin-<UTC time>.sqlite3`; only files named so are pruned.
const SCHEDULED_PREFIX: &str = "origin-";
const SCHEDULED_SUFFIX: &str = ".sqlite3";

/// The server's own snapshots (`ORIGIN_BACKUP_DIR`, every `ORIGIN_BACKUP_INTERVAL`, the newest
/// `ORIGIN_BACKUP_KEEP` kept): each is written and verified by [`snapshot`] before it counts,
/// and older ones are deleted only after a new one has been verified. Does nothing when no
/// directory is configured; returns when `stop` turns true.
pub async fn run_scheduled(state: AppState, mut stop: watch::Receiver<bool>) {
    let Some(dir) = state.config.ops.backup_dir.clone() else {
        return;
    };
    let interval = state.config.ops.backup_interval;
    tracing::info!(dir = %dir.display(), ?interval, keep = state.config.ops.backup_keep, "scheduled snapshots on");
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        match scheduled_once(&state, &dir).await {
            Ok(path) => {
                tracing::info!(path = %path.display(), "scheduled snapshot written and verified")
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "scheduled snapshot failed")
            }
        }
    }
}

/// One scheduled snapshot, then pruning; records the outcome for metrics.
pub async fn scheduled_once(state: &AppState, dir: &Path) -> anyhow::Result<PathBuf> {
    let database = state.config.database_path();
    let keep = state.config.ops.backup_keep;
    let dir = dir.to_owned();
    let started = std::time::Instant::now();
    // In the idle class, like the hashing: see `cpus::in_background`.
    let outcome = crate::cpus::in_background(
        "snapshot",
        move || -> anyhow::Result<(PathBuf, Verified)> {
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(scheduled_name()?);
            let verified = snapshot(&database, &path)?;
            prune(&dir, keep)?;
            Ok((path, verified))
        },
    )
    .await
    .map_err(anyhow::Error::from)
    .and_then(|outcome| outcome);
    match outcome {
        Ok((path, verified)) => {
            state
                .metrics
                .record_backup(Some((verified.bytes, started.elapsed())));
            Ok(path)
        }
        Err(error) => {
            state.metrics.record_backup(None);
            Err(error)
        }
    }
}

fn scheduled_name() -> anyhow::Result<String> {
    let format = time::macros::format_description!(
        "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
    );
    let now = time::OffsetDateTime::now_utc().format(&format)?;
    Ok(format!("{SCHEDULED_PREFIX}{now}{SCHEDULED_SUFFIX}"))
}

/// Deletes all but the newest `keep` scheduled snapshots in `dir` (names sort by time).
fn prune(dir: &Path, keep: usize) -> anyhow::Result<()> {
    let mut scheduled: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| {
                    name.starts_with(SCHEDULED_PREFIX) && name.ends_with(SCHEDULED_SUFFIX)
                })
        })
        .collect();
    scheduled.sort();
    let excess = scheduled.len().saturating_sub(keep);
    for old in &scheduled[..excess] {
        fs::remove_file(old).with_context(|| format!("deleting {}", old.display()))?;
    }
    Ok(())
}

/// The database `origin serve` uses, `$ORIGIN_DATA_DIR/origin.sqlite3` (as
/// `Config::database_path`), found without creating the directory or generating secrets.
pub fn database_path_from_env() -> PathBuf {
    let data_dir = std::env::var("ORIGIN_DATA_DIR")
        .ok()
        .filter(|dir| !dir.trim().is_empty())
        .unwrap_or_else(|| "./data".into());
    PathBuf::from(data_dir).join(DATABASE_FILE)
}

const DATABASE_FILE: &str = "origin.sqlite3";

/// `origin backup --to FILE`.
pub fn command_backup(to: &Path) -> anyhow::Result<()> {
    let verified = snapshot(&database_path_from_env(), to)?;
    println!(
        "snapshot {}: {} bytes, schema version {}, integrity ok",
        to.display(),
        verified.bytes,
        verified.schema_version
    );
    Ok(())
}

/// `origin restore --from FILE`.
pub fn command_restore(from: &Path) -> anyhow::Result<()> {
    let database = database_path_from_env();
    if let Some(data_dir) = database.parent() {
        fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    }
    let restored = restore(from, &database)?;
    println!(
        "restored {} to {} (schema version {}, integrity ok)",
        from.display(),
        database.display(),
        restored.verified.schema_version
    );
    if let Some(aside) = restored.kept_aside {
        println!("the database it replaced is kept as {}", aside.display());
    }
    let secrets = database.with_file_name("secrets");
    if !secrets.exists() {
        println!(
            "no {} yet: copy the keys and secrets back before the first start (README, Backups and restore)",
            secrets.display()
        );
    }
    Ok(())
}

/// What a checked snapshot holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub schema_version: i64,
    pub bytes: u64,
}

/// Writes a consistent snapshot of the live database at `database` to `to` (replacing it
/// atomically if it exists), verifies it, and says what it holds.
pub fn snapshot(database: &Path, to: &Path) -> anyhow::Result<Verified> {
    ensure!(
        database.exists(),
        "no database at {} (is ORIGIN_DATA_DIR right?)",
        database.display()
    );
    // Like any process reading the database: no restore may replace it meanwhile.
    let _lock = DataDirLock::shared(database)?;
    let partial = sibling(to, "partial")?;
    let _ = fs::remove_file(&partial);
    let outcome = write_snapshot(database, &partial).and_then(|()| verify(&partial));
    let verified = match outcome {
        Ok(verified) => verified,
        Err(error) => {
            let _ = fs::remove_file(&partial);
            return Err(error);
        }
    };
    fs::rename(&partial, to)
        .with_context(|| format!("moving the snapshot into place at {}", to.display()))?;
    sync_parent(to)?;
    Ok(verified)
}

fn write_snapshot(database: &Path, partial: &Path) -> anyhow::Result<()> {
    // Read-write without create: a missing database is an error, not a new empty one. Nothing
    // is written through this connection.
    let source = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {}", database.display()))?;
    source.busy_timeout(std::time::Duration::from_secs(10))?;
    let target = partial
        .to_str()
        .context("the snapshot path must be valid UTF-8")?;
    source
        .execute("VACUUM INTO ?1", [target])
        .context("VACUUM INTO")?;
    drop(source);
    // One self-contained file: no WAL beside it is needed to read it.
    let copy = Connection::open_with_flags(partial, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let mode: String = copy.query_row("PRAGMA journal_mode=DELETE", [], |row| row.get(0))?;
    ensure!(
        mode.eq_ignore_ascii_case("delete"),
        "the snapshot kept journal mode {mode}"
    );
    drop(copy);
    File::open(partial)?.sync_all()?;
    Ok(())
}

/// Checks a snapshot: it is an SQLite database, `PRAGMA integrity_check` says `ok`, no foreign
/// key dangles, and its schema version is one this binary can migrate from.
pub fn verify(path: &Path) -> anyhow::Result<Verified> {
    let bytes = fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", path.display()))?;
    let problems: Vec<String> = {
        let mut statement = connection
            .prepare("PRAGMA integrity_check")
            .with_context(|| format!("{} is not a readable SQLite database", path.display()))?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        rows.collect::<rusqlite::Result<_>>()
            .with_context(|| format!("{} is not a readable SQLite database", path.display()))?
    };
    ensure!(
        problems == ["ok"],
        "integrity check of {} failed: {}",
        path.display(),
        problems.join("; ")
    );
    let dangling: i64 =
        connection.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })?;
    ensure!(
        dangling == 0,
        "{} has {dangling} dangling foreign key(s)",
        path.display()
    );
    let schema_version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let latest = migrate::latest_version();
    ensure!(
        (1..=latest).contains(&schema_version),
        "{} is at schema version {schema_version}; this binary knows versions 1 to {latest}",
        path.display()
    );
    Ok(Verified {
        schema_version,
        bytes,
    })
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub verified: Verified,
    /// Where the database it replaced was kept, if there was one.
    pub kept_aside: Option<PathBuf>,
}

/// Puts the snapshot `from` in place as the database at `database`, for a stopped server.
pub fn restore(from: &Path, database: &Path) -> anyhow::Result<Restored> {
    verify(from)?;
    let _lock = DataDirLock::exclusive(database)?;
    let incoming = sibling(database, "restoring")?;
    let _ = fs::remove_file(&incoming);
    fs::copy(from, &incoming)
        .with_context(|| format!("copying {} to {}", from.display(), incoming.display()))?;
    File::open(&incoming)?.sync_all()?;
    let verified = match verify(&incoming) {
        Ok(verified) => verified,
        Err(error) => {
            let _ = fs::remove_file(&incoming);
            return Err(error.context("the copy in the data directory failed its check"));
        }
    };
    let kept_aside = if database.exists() {
        let aside = PathBuf::from(format!(
            "{}.before-restore-{}",
            database.display(),
            clock::now()
        ));
        // The WAL belongs to the old file: left beside the new one, SQLite would replay it
        // into it. It goes aside first, then the old file is linked aside, and one rename puts
        // the new one in place.
        for suffix in ["-wal", "-shm"] {
            let companion = PathBuf::from(format!("{}{suffix}", database.display()));
            if companion.exists() {
                fs::rename(&companion, format!("{}{suffix}", aside.display()))
                    .with_context(|| format!("moving {} aside", companion.display()))?;
            }
        }
        // Litestream's state about the old file (kept beside it when Litestream ran) would make
        // a restarted Litestream continue the old file's history: it goes aside too.
        if let Some(name) = database.file_name().and_then(|name| name.to_str()) {
            let state = database.with_file_name(format!(".{name}-litestream"));
            if state.exists() {
                let kept = database.with_file_name(format!(
                    ".{name}-litestream.before-restore-{}",
                    clock::now()
                ));
                fs::rename(&state, &kept)
                    .with_context(|| format!("moving {} aside", state.display()))?;
            }
        }
        fs::hard_link(database, &aside)
            .or_else(|_| fs::copy(database, &aside).map(|_| ()))
            .with_context(|| format!("keeping {} as {}", database.display(), aside.display()))?;
        Some(aside)
    } else {
        None
    };
    fs::rename(&incoming, database)
        .with_context(|| format!("moving the restored database to {}", database.display()))?;
    sync_parent(database)?;
    Ok(Restored {
        verified,
        kept_aside,
    })
}

/// The lock on a database's directory: every process that opens the database (the server, a
/// CLI command) holds it shared for its life; a restore holds it exclusively.
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    fn path(database: &Path) -> PathBuf {
        PathBuf::from(format!("{}.lock", database.display()))
    }

    fn open(database: &Path) -> anyhow::Result<File> {
        let path = DataDirLock::path(database);
        File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))
    }

    /// Held by every process using the database; fails while a restore runs.
    pub fn shared(database: &Path) -> anyhow::Result<DataDirLock> {
        let file = DataDirLock::open(database)?;
        match file.try_lock_shared() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => {
                bail!("a restore of {} is in progress", database.display())
            }
            Err(fs::TryLockError::Error(error)) => Err(error.into()),
        }
    }

    /// Held by a restore; fails while a server or CLI command has the database open.
    pub fn exclusive(database: &Path) -> anyhow::Result<DataDirLock> {
        let file = DataDirLock::open(database)?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => bail!(
                "{} is in use (a running `origin serve` or CLI command holds it); stop the server first",
                database.display()
            ),
            Err(fs::TryLockError::Error(error)) => Err(error.into()),
        }
    }
}

/// `dir/.name.kind-<pid>`: a temporary file on the same file system as `path`.
fn sibling(path: &Path, kind: &str) -> anyhow::Result<PathBuf> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .with_context(|| format!("{} is not a file path", path.display()))?;
    Ok(path.with_file_name(format!(".{name}.{kind}-{}", std::process::id())))
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> anyhow::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_path_is_the_one_the_configuration_names() {
        let directory = tempfile::tempdir().unwrap();
        let config = crate::config::Config::with_defaults(directory.path()).unwrap();
        assert_eq!(config.database_path(), directory.path().join(DATABASE_FILE));
    }

    #[test]
    fn a_snapshot_of_a_migrated_database_verifies_and_garbage_does_not() {
        let directory = tempfile::tempdir().unwrap();
        let database = directory.path().join("origin.sqlite3");
        let db = crate::db::Db::open(&database).unwrap();
        let snapshot_path = directory.path().join("snap.sqlite3");
        let verified = snapshot(&database, &snapshot_path).unwrap();
        assert_eq!(verified.schema_version, migrate::latest_version());
        assert!(!PathBuf::from(format!("{}-wal", snapshot_path.display())).exists());
        drop(db);

        let garbage = directory.path().join("garbage.sqlite3");
        fs::write(&garbage, vec![7u8; 8192]).unwrap();
        assert!(verify(&garbage).is_err());
        let empty = directory.path().join("empty.sqlite3");
        Connection::open(&empty)
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        let error = verify(&empty).unwrap_err().to_string();
        assert!(error.contains("schema version 0"), "{error}");
    }
}
