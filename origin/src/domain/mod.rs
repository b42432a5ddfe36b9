//! The one domain layer under both dialects. It takes plain values and returns plain values or
//! a dialect-free `Problem`; it knows nothing of envelopes or HTTP.

pub mod addresses;
pub mod admin;
pub mod comments;
pub mod commerce;
pub mod identity;
pub mod login_modes;
pub mod member;
pub mod profile;
pub mod uploads;

use shared::Problem;

use crate::db::ledgers::Ledger;
use crate::db::{StorageError, Unique};
use crate::error::AppError;

/// What a storage error means to a client: the one place constraints become problems. A
/// failure of the database itself is internal.
impl From<StorageError> for AppError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Duplicate(unique) => AppError::from(taken(unique)),
            StorageError::Shortfall(ledger) => AppError::from(shortfall(ledger)),
            StorageError::Failed(error) => AppError::Internal(error),
        }
    }
}

/// A sign-in name another user holds, named as the user's own field.
fn taken(unique: Unique) -> Problem {
    let field = match unique {
        Unique::UserAccount => "account",
        Unique::UserPhone => "phone",
        Unique::UserEmail => "email",
    };
    Problem::Taken {
        field: field.into(),
        message: "账号已被注册".into(),
    }
}

fn shortfall(ledger: Ledger) -> Problem {
    match ledger {
        Ledger::Points => Problem::refused("积分不足"),
        Ledger::Balance => Problem::refused("余额不足"),
    }
}

/// `Some(retry_after)` when `count` sends since the window opened reach `max`.
pub fn over_limit(
    count: u32,
    oldest: Option<i64>,
    max: u32,
    window_secs: i64,
    now: i64,
) -> Option<u64> {
    if count < max {
        return None;
    }
    let opens_again = oldest.unwrap_or(now) + window_secs;
    Some((opens_again - now).max(1) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_reached_says_when_the_window_opens_again() {
        assert_eq!(over_limit(0, None, 1, 60, 1_000), None);
        assert_eq!(over_limit(1, Some(990), 1, 60, 1_000), Some(50));
        assert_eq!(over_limit(10, Some(900), 10, 60, 1_000), Some(1));
        assert_eq!(over_limit(9, Some(990), 10, 60, 1_000), None);
    }
}
