//! The signed-in user's own view of themselves.

use crate::AppState;
use crate::db::roles;
use crate::db::users::{self, MemberLevel, UserRow, Wallet};
use crate::error::{Error, Result};
use shared::Problem;

pub struct Profile {
    pub user: UserRow,
    pub wallet: Wallet,
    pub level: MemberLevel,
}

pub async fn load(state: &AppState, user_id: i64) -> Result<Profile> {
    state
        .db
        .read_short(move |conn| {
            // Four statements, one snapshot (and one set of read locks).
            crate::db::in_read_transaction(conn, |conn| {
                let user =
                    users::by_id(conn, user_id)?.ok_or(Error::from(Problem::Unauthenticated))?;
                let wallet = users::wallet(conn, user_id)?;
                let level = users::member_level(conn, wallet.history_points)?;
                Ok(Profile {
                    user,
                    wallet,
                    level,
                })
            })
        })
        .await
}

pub async fn user(state: &AppState, user_id: i64) -> Result<UserRow> {
    state
        .db
        .read_short(move |conn| {
            users::by_id(conn, user_id)?.ok_or(Error::from(Problem::Unauthenticated))
        })
        .await
}

/// Permission names of an admin session; anyone else is refused.
pub async fn permissions(
    state: &AppState,
    user_id: i64,
    admin_session: bool,
) -> Result<Vec<String>> {
    if !admin_session {
        return Err(Problem::PermissionDenied.into());
    }
    Ok(state
        .db
        .read(move |conn| roles::permissions(conn, user_id))
        .await?)
}

/// A change to one's own profile; absent fields stay as they are.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub nickname: Option<String>,
    pub sex: Option<i64>,
    pub avatar: Option<String>,
}

/// Applies a profile change (the write layer tells the edge the user's data changed).
pub async fn update(state: &AppState, user_id: i64, change: ProfileChange) -> Result<()> {
    state
        .db
        .write(move |tx| {
            users::update_profile(
                tx,
                user_id,
                change.nickname.as_deref(),
                change.sex,
                change.avatar.as_deref(),
            )
        })
        .await?;
    Ok(())
}
