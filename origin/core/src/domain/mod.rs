//! The one domain layer under both dialects. It takes plain values and returns plain values or
//! a dialect-free `Problem`; it knows nothing of envelopes or HTTP. What storage reports
//! (constraints, an invitation's standing) becomes a problem here, once.

pub mod addresses;
pub mod admin;
pub mod comments;
pub mod commerce;
pub mod console;
pub mod identity;
pub mod login_modes;
pub mod member;
pub mod profile;
pub mod uploads;
pub mod wechat;

use shared::Problem;

use crate::db::invitations::Standing;
use crate::db::ledgers::Ledger;
use crate::db::{StorageError, Unique};
use crate::error::Error;

/// What a storage error means to a client: the one place constraints become problems. A
/// failure of the database itself is internal.
impl From<StorageError> for Error {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Duplicate(unique) => Error::from(taken(unique)),
            StorageError::Shortfall(ledger) => Error::from(shortfall(ledger)),
            StorageError::Failed(error) => Error::Internal(error),
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

/// The problem an invitation code that cannot be used now answers with.
pub(crate) fn usable_invitation(standing: Standing) -> Result<(), Problem> {
    const FIELD: &str = "invitation_code";
    match standing {
        Standing::Usable => Ok(()),
        Standing::Unknown => Err(Problem::invalid(FIELD, "邀请码无效")),
        Standing::Expired => Err(Problem::Expired {
            field: FIELD.into(),
            message: "邀请码已过期".into(),
        }),
        Standing::UsedUp => Err(Problem::invalid(FIELD, "邀请码已用完")),
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
