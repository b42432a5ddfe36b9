//! What storage can fail with. Constraints a caller can run into are named by type, so the
//! domain decides what each means to a client (`impl From<StorageError>` in `domain`);
//! everything else is a failure of the database itself.

use crate::db::ledgers::Ledger;

/// A UNIQUE constraint a write can run into, named by what it keeps unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    /// `users.account`.
    UserAccount,
    /// `users.phone`.
    UserPhone,
    /// `users.email` (case-insensitive).
    UserEmail,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The write would have duplicated a value that must be unique; nothing was written.
    #[error("duplicate value for {0:?}")]
    Duplicate(Unique),
    /// A posting would have taken the ledger below zero; nothing was appended.
    #[error("the {0:?} ledger cannot go below zero")]
    Shortfall(Ledger),
    /// SQLite failed, or the writer could not run the job.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

pub type StorageResult<T> = Result<T, StorageError>;

impl From<rusqlite::Error> for StorageError {
    fn from(error: rusqlite::Error) -> Self {
        StorageError::Failed(error.into())
    }
}

/// True when a rusqlite error is a UNIQUE constraint violation (by SQLite's extended result
/// code; which constraint it was is for the caller to establish).
pub fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}
