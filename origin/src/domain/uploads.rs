//! Uploads: received parts become stored blobs and upload rows owned by the uploader.

use std::path::PathBuf;

use anyhow::Context;
use shared::Problem;

use crate::AppState;
use crate::clock;
use crate::db::uploads::{self, Blob, Kind, UploadRow};
use crate::error::AppResult;
use crate::storage::{self, SealedBlob};

/// One received part: its (cleaned) file name and its bytes on disk.
#[derive(Debug)]
pub struct Received {
    pub name: String,
    pub blob: SealedBlob,
}

/// Moves every part into storage, then records them all in one transaction. A part's file is in
/// place before the row naming it commits.
pub async fn save(
    state: &AppState,
    user_id: i64,
    kind: Kind,
    mut parts: Vec<Received>,
) -> AppResult<Vec<UploadRow>> {
    for part in &mut parts {
        state
            .blobs
            .commit(&mut part.blob)
            .await
            .context("storing an upload")?;
    }
    let now = clock::now();
    state
        .db
        .write(move |tx| {
            let mut rows = Vec::with_capacity(parts.len());
            for part in &parts {
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
pub async fn find(state: &AppState, key: &str) -> AppResult<(Blob, PathBuf)> {
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
