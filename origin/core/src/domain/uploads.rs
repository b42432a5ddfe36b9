//! Uploads: received parts become stored blobs and upload rows owned by the uploader, within
//! the uploader's limits (SPEC §5).
//!
//! Three limits, each refusing the whole request and storing nothing: a quota on the bytes of
//! the distinct blobs a user's uploads reference (413), a count of parts per user in any 24
//! hours (429), and a free-space reserve on the data directory's disk (507). What can be
//! known before the body is read is checked then ([`admit`]); what depends on the parts'
//! sizes is checked in the write transaction that records them ([`save`]), so concurrent
//! uploads of one user cannot pass the quota together.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::Context;
use rusqlite::Connection;
use shared::Problem;

use crate::AppState;
use crate::clock;
use crate::config::Config;
use crate::db::uploads::{self, Blob, Kind, UploadRow};
use crate::error::Result;
use crate::storage::{self, SealedBlob};

/// The window of the daily count: the last 24 hours, whatever the zone.
const DAY_SECS: i64 = 24 * 60 * 60;

/// One received part: its (cleaned) file name and its bytes on disk.
#[derive(Debug)]
pub struct Received {
    pub name: String,
    pub blob: SealedBlob,
}

/// A user's upload limits, from the configuration.
#[derive(Debug, Clone, Copy)]
struct Limits {
    quota_bytes: u64,
    per_day: u64,
}

impl Limits {
    fn of(config: &Config) -> Limits {
        Limits {
            quota_bytes: config.upload_quota_bytes,
            per_day: config.uploads_per_day,
        }
    }

    /// Refuses `parts` more parts holding `new_bytes` bytes the user does not store yet, if
    /// they would take the user past the quota or the daily count.
    fn check(
        self,
        connection: &Connection,
        user_id: i64,
        now: i64,
        parts: u64,
        new_bytes: u64,
    ) -> Result<()> {
        let stored = uploads::stored_bytes(connection, user_id)?;
        if stored.saturating_add(new_bytes) > self.quota_bytes {
            return Err(Problem::QuotaExceeded {
                quota_bytes: self.quota_bytes,
            }
            .into());
        }
        let recent = uploads::times_since(connection, user_id, now - DAY_SECS + 1)?;
        let excess = (recent.len() as u64 + parts).saturating_sub(self.per_day);
        if excess > 0 {
            // Room for these parts once the `excess` oldest uploads of the window have left it
            // (never, if the request alone has more parts than a day allows).
            let retry_after = usize::try_from(excess - 1)
                .ok()
                .and_then(|index| recent.get(index))
                .map_or(DAY_SECS, |oldest| oldest + DAY_SECS - now);
            return Err(Problem::UploadCountExceeded {
                per_day: self.per_day,
                retry_after: retry_after.max(1) as u64,
            }
            .into());
        }
        Ok(())
    }
}

/// Refuses an upload before its body is read when the answer is already known: the disk is
/// below its reserve, or the user has no room left for one more part of one byte.
pub async fn admit(state: &AppState, user_id: i64) -> Result<()> {
    ensure_free_space(state).await?;
    let limits = Limits::of(&state.config);
    let now = clock::now();
    state
        .db
        .read(move |connection| limits.check(connection, user_id, now, 1, 1))
        .await
}

/// Refuses uploads while the data directory's disk has less than `ORIGIN_MIN_FREE_MB` free.
async fn ensure_free_space(state: &AppState) -> Result<()> {
    let reserve = state.config.min_free_bytes;
    if reserve == 0 {
        return Ok(());
    }
    let free = state
        .blobs
        .free_bytes()
        .await
        .context("reading the free space of the data directory")?;
    match free {
        Some(free) if free < reserve => {
            tracing::warn!(
                free,
                reserve,
                "upload refused: the data directory's disk is below ORIGIN_MIN_FREE_MB"
            );
            Err(Problem::InsufficientStorage.into())
        }
        _ => Ok(()),
    }
}

/// Checks the user's limits against the received parts, then moves each part into storage
/// and records them all, in one write transaction: a part's file is in place before the row
/// naming it commits, and a refused request places no file (its temporary files go with it).
pub async fn save(
    state: &AppState,
    user_id: i64,
    kind: Kind,
    mut parts: Vec<Received>,
) -> Result<Vec<UploadRow>> {
    // Receiving the parts may have taken the disk below its reserve.
    ensure_free_space(state).await?;
    let limits = Limits::of(&state.config);
    let blobs = state.blobs.clone();
    let now = clock::now();
    state
        .db
        .write(move |tx| {
            let mut counted = HashSet::new();
            let mut new_bytes = 0;
            for part in &parts {
                let digest = part.blob.sha256.as_str();
                if counted.insert(digest) && !uploads::references(tx, user_id, digest)? {
                    new_bytes += part.blob.size;
                }
            }
            limits.check(tx, user_id, now, parts.len() as u64, new_bytes)?;
            let mut rows = Vec::with_capacity(parts.len());
            for part in &mut parts {
                blobs.place(&mut part.blob).context("storing an upload")?;
                let blob = Blob {
                    sha256: part.blob.sha256.clone(),
                    mime: part.blob.sniffed.mime.to_owned(),
                    ext: part.blob.sniffed.ext.to_owned(),
                    size: part.blob.size,
                };
                let id = uploads::insert(tx, user_id, kind, &part.name, &blob, now)?;
                rows.push(UploadRow {
                    id,
                    name: part.name.clone(),
                    sha256: blob.sha256,
                    ext: blob.ext,
                });
            }
            Ok(rows)
        })
        .await
}

/// The blob a storage key names, and its file. Unknown or malformed keys are not found.
pub async fn find(state: &AppState, key: &str) -> Result<(Blob, PathBuf)> {
    let (digest, ext) = storage::parse_key(key).ok_or(Problem::NotFound)?;
    let (digest, ext) = (digest.to_owned(), ext.to_owned());
    let blob = state
        .db
        .read(move |conn| uploads::blob(conn, &digest))
        .await?
        .filter(|blob| blob.ext == ext)
        .ok_or(Problem::NotFound)?;
    let path = state.blobs.path_of(&blob.sha256);
    Ok((blob, path))
}
