//! WeChat identities bound to accounts: the unionid on the user row, one openid per app in
//! `wechat_openids` (migration 0011).

use rusqlite::{Connection, OptionalExtension, params};

use crate::db::StorageResult;

/// What WeChat says identifies a person to one of our apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatKey<'a> {
    pub app_id: &'a str,
    pub openid: &'a str,
    pub unionid: Option<&'a str>,
}

/// The account a WeChat identity belongs to: the holder of its unionid when it has one, else
/// the holder of its (app id, openid).
pub fn owner(connection: &Connection, key: &WechatKey<'_>) -> StorageResult<Option<i64>> {
    if let Some(unionid) = key.unionid
        && let Some(user_id) = unionid_holder(connection, unionid)?
    {
        return Ok(Some(user_id));
    }
    Ok(connection
        .prepare_cached("SELECT user_id FROM wechat_openids WHERE app_id = ?1 AND openid = ?2")?
        .query_row(params![key.app_id, key.openid], |row| row.get(0))
        .optional()?)
}

fn unionid_holder(connection: &Connection, unionid: &str) -> StorageResult<Option<i64>> {
    Ok(connection
        .prepare_cached("SELECT id FROM users WHERE wechat_unionid = ?1")?
        .query_row([unionid], |row| row.get(0))
        .optional()?)
}

/// Records `key` as the account's: its unionid when the account has none yet and no other
/// account holds it, and its openid unless that app's openid is already recorded (for this
/// account or, when a unionid led here, for an account made before the unionid was known).
pub fn attach(
    connection: &Connection,
    user_id: i64,
    key: &WechatKey<'_>,
    now: i64,
) -> StorageResult<()> {
    if let Some(unionid) = key.unionid
        && unionid_holder(connection, unionid)?.is_none()
    {
        connection.execute(
            "UPDATE users SET wechat_unionid = ?2 WHERE id = ?1 AND wechat_unionid IS NULL",
            params![user_id, unionid],
        )?;
    }
    connection.execute(
        "INSERT OR IGNORE INTO wechat_openids (app_id, openid, user_id, bound_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![key.app_id, key.openid, user_id, now],
    )?;
    Ok(())
}

/// Removes the account's WeChat identity.
pub fn detach(connection: &Connection, user_id: i64) -> StorageResult<()> {
    connection.execute("DELETE FROM wechat_openids WHERE user_id = ?1", [user_id])?;
    connection.execute(
        "UPDATE users SET wechat_unionid = NULL WHERE id = ?1",
        [user_id],
    )?;
    Ok(())
}
