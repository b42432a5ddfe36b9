//! Content-addressed storage of uploads on disk (SPEC §5).
//!
//! A part is streamed into a temporary file while it is hashed and counted, so a part over its
//! cap is refused after reading at most the cap, never buffered whole. A finished part becomes
//! `storage/<aa>/<sha256>` by an atomic rename; the same bytes uploaded twice are stored once.
//! Files are renamed into place *before* the database row that names them is committed, so a
//! row never points at a missing file (a crash in between leaves an unreferenced file, which a
//! later upload of the same bytes adopts).
//!
//! `storage/tmp` holds the parts running servers are receiving. Every command of the binary
//! opens the store, so opening it leaves that directory alone; only a server clears it, at its
//! start, and only when no other server is using the data directory
//! ([`BlobStore::lock_for_serving`]).

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// Bytes kept from the start of a part for type sniffing.
const HEAD_BYTES: usize = 8 * 1024;

/// What the bytes of a part turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sniffed {
    pub mime: &'static str,
    pub ext: &'static str,
}

impl Sniffed {
    const UNKNOWN: Sniffed = Sniffed {
        mime: "application/octet-stream",
        ext: "bin",
    };

    /// Judges the type from the first bytes, never from a name or a declared type.
    pub fn from_head(head: &[u8]) -> Sniffed {
        infer::get(head).map_or(Sniffed::UNKNOWN, |kind| Sniffed {
            mime: kind.mime_type(),
            ext: kind.extension(),
        })
    }

    /// PNG, JPEG, GIF or WebP: the images `POST /images` accepts.
    pub fn is_accepted_image(&self) -> bool {
        matches!(
            self.mime,
            "image/png" | "image/jpeg" | "image/gif" | "image/webp"
        )
    }

    /// Whether a browser may render it inline from our domain. Anything else is served as a
    /// download, so an uploaded HTML or SVG file cannot run script on the API's origin.
    pub fn is_inline_safe(mime: &str) -> bool {
        matches!(
            mime,
            "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf"
        )
    }
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// Held by a serving process for its life: a shared lock on `storage/tmp.lock`, which tells
/// servers starting later that `storage/tmp` is in use.
#[derive(Debug)]
pub struct ServingLock {
    _file: File,
}

impl BlobStore {
    /// Opens (creating) `root` and its temporary directory. The temporary directory's contents
    /// are left alone: they may be the parts a running server is receiving.
    pub fn open(root: &Path) -> io::Result<BlobStore> {
        std::fs::create_dir_all(root.join("tmp"))?;
        Ok(BlobStore {
            root: root.to_owned(),
        })
    }

    /// Declares this process a server of the store until the returned lock is dropped, first
    /// clearing leftovers of a crash from `storage/tmp` if no other server is using it. Every
    /// server holds a shared lock on `storage/tmp.lock`; clearing needs the exclusive lock, so
    /// it happens only while no server holds the shared one (the kernel drops a killed
    /// process's locks). Blocking: call it before serving, off the async runtime.
    pub fn lock_for_serving(&self) -> io::Result<ServingLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join("tmp.lock"))?;
        match file.try_lock() {
            Ok(()) => {
                let cleared = self.clear_tmp()?;
                if cleared > 0 {
                    tracing::info!(cleared, "removed temporary upload files left by a crash");
                }
                // Another server starting now may take the exclusive lock before this one's
                // shared lock below, and clear the directory: this server has nothing there yet.
                file.unlock()?;
            }
            Err(TryLockError::WouldBlock) => {
                tracing::info!("another server uses this data directory: storage/tmp is kept");
            }
            Err(TryLockError::Error(error)) => return Err(error),
        }
        file.lock_shared()?;
        Ok(ServingLock { _file: file })
    }

    /// Removes every file in `storage/tmp`; returns how many there were.
    fn clear_tmp(&self) -> io::Result<usize> {
        let mut cleared = 0;
        for entry in std::fs::read_dir(self.root.join("tmp"))? {
            if std::fs::remove_file(entry?.path()).is_ok() {
                cleared += 1;
            }
        }
        Ok(cleared)
    }

    /// Bytes free for unprivileged users on the store's disk, where that can be known.
    pub async fn free_bytes(&self) -> io::Result<Option<u64>> {
        #[cfg(target_os = "linux")]
        {
            let root = self.root.clone();
            tokio::task::spawn_blocking(move || -> io::Result<Option<u64>> {
                let stats = nix::sys::statvfs::statvfs(&root)?;
                Ok(Some(
                    (stats.blocks_available() as u64).saturating_mul(stats.fragment_size() as u64),
                ))
            })
            .await
            .map_err(io::Error::other)?
        }
        #[cfg(not(target_os = "linux"))]
        {
            Ok(None)
        }
    }

    /// Where the blob with this hex digest lives.
    pub fn path_of(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }

    /// Starts receiving one part.
    pub async fn begin(&self, limit: u64) -> io::Result<PendingBlob> {
        let path = self
            .root
            .join("tmp")
            .join(uuid::Uuid::new_v4().simple().to_string());
        let file = tokio::fs::File::create(&path).await?;
        Ok(PendingBlob {
            file,
            temp: TempPath(Some(path)),
            hasher: Sha256::new(),
            size: 0,
            limit,
            head: Vec::new(),
        })
    }

    /// Moves a finished part into place, unless the same bytes are already stored (then its
    /// temporary file goes). Synchronous: it runs on the database's writer thread, in the
    /// transaction that checks the uploader's limits and records the upload, so a refused
    /// upload never places a file.
    pub fn place(&self, blob: &mut SealedBlob) -> io::Result<()> {
        let Some(temp) = blob.temp.0.as_deref() else {
            return Ok(());
        };
        let target = self.path_of(&blob.sha256);
        if target.try_exists()? {
            std::fs::remove_file(temp)?;
        } else {
            let dir = target.parent().unwrap_or(&self.root);
            std::fs::create_dir_all(dir)?;
            std::fs::rename(temp, &target)?;
            // Make the rename itself durable before the database row is committed.
            File::open(dir)?.sync_all()?;
        }
        blob.temp.0 = None;
        Ok(())
    }
}

/// Removes a temporary file on drop, unless it was moved into place.
#[derive(Debug)]
struct TempPath(Option<PathBuf>);

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A part being received.
#[derive(Debug)]
pub struct PendingBlob {
    file: tokio::fs::File,
    temp: TempPath,
    hasher: Sha256,
    size: u64,
    limit: u64,
    head: Vec<u8>,
}

/// The part went over its cap; what was written is discarded.
#[derive(Debug)]
pub enum WriteError {
    TooLarge,
    Io(io::Error),
}

impl PendingBlob {
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), WriteError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(WriteError::TooLarge);
        }
        if self.head.len() < HEAD_BYTES {
            let wanted = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..wanted]);
        }
        self.hasher.update(chunk);
        self.file.write_all(chunk).await.map_err(WriteError::Io)
    }

    /// Flushes the part to disk and names it by its digest.
    pub async fn seal(mut self) -> io::Result<SealedBlob> {
        self.file.flush().await?;
        self.file.sync_all().await?;
        Ok(SealedBlob {
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
            sniffed: Sniffed::from_head(&self.head),
            temp: self.temp,
        })
    }
}

/// A received part, on disk under a temporary name until committed.
#[derive(Debug)]
pub struct SealedBlob {
    pub sha256: String,
    pub size: u64,
    pub sniffed: Sniffed,
    temp: TempPath,
}

/// Is `key` a well-formed storage key (`<sha256 hex>.<ext>`)? Returns the digest and extension.
pub fn parse_key(key: &str) -> Option<(&str, &str)> {
    let (digest, ext) = key.split_once('.')?;
    let digest_ok = digest.len() == 64
        && digest
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let ext_ok = (1..=10).contains(&ext.len())
        && ext
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (digest_ok && ext_ok).then_some((digest, ext))
}

/// The storage key, and the public path it is served from.
pub fn key_of(sha256: &str, ext: &str) -> String {
    format!("{sha256}.{ext}")
}

pub fn src_of(sha256: &str, ext: &str) -> String {
    format!("/api/storage/{}", key_of(sha256, ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn types_come_from_bytes() {
        assert!(Sniffed::from_head(PNG).is_accepted_image());
        assert_eq!(Sniffed::from_head(b"GIF89a....").ext, "gif");
        assert_eq!(Sniffed::from_head(b"just text"), Sniffed::UNKNOWN);
        assert!(!Sniffed::from_head(b"%PDF-1.7\n").is_accepted_image());
    }

    #[test]
    fn keys_are_digest_dot_extension() {
        let digest = "a".repeat(64);
        assert_eq!(
            parse_key(&format!("{digest}.png")),
            Some((&digest[..], "png"))
        );
        assert_eq!(parse_key(&digest), None);
        assert_eq!(parse_key(&format!("{digest}.PNG")), None);
        assert_eq!(parse_key(&format!("{}.png", "A".repeat(64))), None);
        assert_eq!(parse_key("../../etc/passwd"), None);
        assert_eq!(parse_key(&format!("{digest}.png/..")), None);
    }

    #[tokio::test]
    async fn same_bytes_are_stored_once_and_oversize_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        for _ in 0..2 {
            let mut pending = store.begin(100).await.unwrap();
            pending.write(PNG).await.unwrap();
            let mut sealed = pending.seal().await.unwrap();
            store.place(&mut sealed).unwrap();
            assert!(store.path_of(&sealed.sha256).exists());
        }
        let mut pending = store.begin(4).await.unwrap();
        assert!(matches!(
            pending.write(PNG).await,
            Err(WriteError::TooLarge)
        ));
        drop(pending);
        let leftovers = std::fs::read_dir(dir.path().join("tmp")).unwrap().count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn only_a_server_alone_on_the_directory_clears_its_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = dir.path().join("tmp").join("left-by-a-crash");
        let first = BlobStore::open(dir.path()).unwrap();
        std::fs::write(&leftover, b"partial").unwrap();
        let serving = first.lock_for_serving().unwrap();
        assert!(!leftover.exists(), "alone, a server clears leftovers");

        // A part the first server is receiving survives opening the store (every command
        // does) and a second server starting on the same directory.
        std::fs::write(&leftover, b"in flight").unwrap();
        let second = BlobStore::open(dir.path()).unwrap();
        let also_serving = second.lock_for_serving().unwrap();
        assert!(leftover.exists());
        drop(serving);
        let third = BlobStore::open(dir.path())
            .unwrap()
            .lock_for_serving()
            .unwrap();
        assert!(leftover.exists(), "the second server still runs");

        drop((also_serving, third));
        let _last = BlobStore::open(dir.path())
            .unwrap()
            .lock_for_serving()
            .unwrap();
        assert!(!leftover.exists());
    }
}
