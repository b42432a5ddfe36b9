//! WeChat as a way to sign in: `POST /api/wechat/login`, and binding or unbinding WeChat on a
//! signed-in account (`POST` / `DELETE /api/login_modes`).
//!
//! A WeChat user is the unionid when WeChat gives one, else (app id, openid) (`db::wechat`).
//! The first sign-in creates the account (nickname, avatar and sex from WeChat's user
//! information; a mini program gives none, so it is 微信用户 without an avatar); later ones find
//! it, through whichever of our apps. The answer is the tokens of `POST /api/login`: a session
//! like any other, refused for a disabled account.
//!
//! Binding follows the rules of phone and e-mail (SPEC §6, `login_modes`): a first WeChat needs
//! only its own code, and the account's phone and e-mail are told; replacing or removing a bound
//! WeChat needs the account's password when it has one, otherwise a code of the bound WeChat
//! (`old_wechat_code`), and the account's phone and e-mail are told; WeChat another account
//! holds is 20002; the last way to sign in cannot be removed. An account holds one WeChat
//! identity: a code of a WeChat that is not the bound one (another unionid, or another openid
//! where no unionid links them) replaces it.
//!
//! WeChat's refusals (`errcode`) are 400 / 999 naming what to do; no usable answer at all
//! (timeout, outage, nonsense) is 502. Nothing WeChat sends but the ids and the profile is kept.

use shared::Problem;

use crate::AppState;
use crate::clock;
use crate::db::sessions;
use crate::db::users::{self, LoginColumn, NewUser, UserRow};
use crate::db::wechat::{self, WechatKey};
use crate::domain::identity::{self, IssuedTokens};
use crate::domain::login_modes::{self, Proof};
use crate::error::{Error, Result};
use crate::wechat::{WechatError, WechatIdentity, WechatKind};

/// The nickname of an account WeChat gave none for.
const DEFAULT_NICKNAME: &str = "微信用户";

fn key_of(identity: &WechatIdentity) -> WechatKey<'_> {
    WechatKey {
        app_id: &identity.app_id,
        openid: &identity.openid,
        unionid: identity.unionid.as_deref(),
    }
}

/// Asks WeChat who the code of `kind` belongs to. Not configured (that kind, or WeChat at all)
/// is 501; `field` names the code in the answer.
async fn identify(
    state: &AppState,
    kind: WechatKind,
    code: &str,
    field: &'static str,
) -> Result<WechatIdentity> {
    let client = state.wechat.as_ref().ok_or(Problem::NotImplemented)?;
    let app = client.app(kind).ok_or(Problem::NotImplemented)?;
    client
        .identify(kind, app, code)
        .await
        .map_err(|error| refusal(kind, error, field))
}

/// WeChat's `errcode`s that say our AppID or AppSecret is wrong (or the app lacks the right):
/// no client can fix those, so they are logged as errors.
const CONFIGURATION_ERRCODES: [i64; 7] = [40001, 40002, 40013, 40125, 41002, 41004, 48001];

fn refusal(kind: WechatKind, error: WechatError, field: &'static str) -> Error {
    let kind = kind.as_str();
    match error {
        WechatError::Refused { errcode, errmsg } => {
            if CONFIGURATION_ERRCODES.contains(&errcode) {
                tracing::error!(
                    kind,
                    errcode,
                    errmsg,
                    "WeChat refused our app's credentials"
                );
            } else {
                tracing::info!(kind, errcode, errmsg, "WeChat refused a code");
            }
            let problem = match errcode {
                40029 | 40163 | 42003 => {
                    Problem::invalid(field, "微信授权码无效、已使用或已过期，请重新授权")
                }
                45011 => Problem::refused("微信登录过于频繁，请稍后再试"),
                40226 => Problem::refused("微信判定该账号存在风险，已拦截本次登录"),
                -1 => Problem::refused("微信系统繁忙，请稍后再试"),
                _ => Problem::refused(format!("微信登录失败（errcode {errcode}），请稍后再试")),
            };
            problem.into()
        }
        WechatError::Unreachable(reason) => {
            tracing::warn!(kind, reason, "WeChat gave no usable answer");
            Problem::BadGateway.into()
        }
    }
}

/// Signs in with a WeChat code: the account WeChat's user holds, created on the first sign-in.
pub async fn sign_in(state: &AppState, kind: WechatKind, code: String) -> Result<IssuedTokens> {
    let identity = identify(state, kind, &code, "code").await?;
    let lifetimes = identity::lifetimes(state);
    let generation = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            let key = key_of(&identity);
            let user_id = match wechat::owner(tx, &key)? {
                Some(user_id) => {
                    warn_of_a_second_account(tx, user_id, &key)?;
                    user_id
                }
                None => create_user(tx, &identity, now)?,
            };
            let user = users::by_id(tx, user_id)?
                .ok_or_else(|| anyhow::anyhow!("user {user_id} vanished"))?;
            if user.disabled {
                return Err(Problem::Forbidden {
                    message: "账号已被禁用".into(),
                }
                .into());
            }
            wechat::attach(tx, user_id, &key, now)?;
            Ok(sessions::create(tx, user_id, false, now, lifetimes)?)
        })
        .await?;
    identity::issue(state, &generation)
}

/// An account made through an app before WeChat gave its unionid keeps that app's openid when
/// the unionid later leads to another account of the same person; an operator may merge them.
fn warn_of_a_second_account(
    tx: &rusqlite::Transaction<'_>,
    user_id: i64,
    key: &WechatKey<'_>,
) -> Result<()> {
    let by_openid = WechatKey {
        unionid: None,
        ..key.clone()
    };
    if let Some(other) = wechat::owner(tx, &by_openid)?.filter(|other| *other != user_id) {
        tracing::warn!(
            user_id,
            other,
            app_id = key.app_id,
            "one WeChat user holds two accounts: the unionid names the first, the openid the second"
        );
    }
    Ok(())
}

fn create_user(tx: &rusqlite::Transaction<'_>, identity: &WechatIdentity, now: i64) -> Result<i64> {
    let profile = &identity.profile;
    let user = NewUser {
        nickname: profile
            .nickname
            .clone()
            .unwrap_or_else(|| DEFAULT_NICKNAME.into()),
        ..NewUser::default()
    };
    let user_id = users::insert(tx, &user, now)?;
    users::update_profile(tx, user_id, None, profile.sex, profile.avatar.as_deref())?;
    Ok(user_id)
}

fn taken() -> Problem {
    Problem::Taken {
        field: "wechat_code".into(),
        message: "该微信已绑定其他账号".into(),
    }
}

/// Binds the WeChat a code of `kind` names to the caller's account (module docs for the rules).
pub async fn bind(
    state: &AppState,
    user_id: i64,
    kind: WechatKind,
    code: String,
    proof: Proof,
) -> Result<()> {
    let identity = identify(state, kind, &code, "wechat_code").await?;
    let for_check = identity.clone();
    let (user, owner) = state
        .db
        .read(move |conn| -> Result<_> {
            let user = users::by_id(conn, user_id)?.ok_or(Problem::Unauthenticated)?;
            Ok((user, wechat::owner(conn, &key_of(&for_check))?))
        })
        .await?;
    if owner.is_some_and(|owner| owner != user_id) {
        return Err(taken().into());
    }
    let replacing = owner.is_none() && user.wechat_bound;
    if replacing {
        prove(state, &user, proof).await?;
    }
    let state_for_write = state.clone();
    let told = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            let key = key_of(&identity);
            let user = users::by_id(tx, user_id)?.ok_or(Problem::Unauthenticated)?;
            let owner = wechat::owner(tx, &key)?;
            if owner.is_some_and(|owner| owner != user_id) {
                return Err(taken().into());
            }
            let change = if owner == Some(user_id) {
                None
            } else if user.wechat_bound {
                if !replacing {
                    // Bound by another request since the check: prove again.
                    return Err(Problem::refused("登录方式已变化，请重试").into());
                }
                wechat::detach(tx, user_id)?;
                Some("绑定的微信已更换")
            } else {
                Some("绑定了微信")
            };
            wechat::attach(tx, user_id, &key, now)?;
            match change {
                Some(change) => tell_channels(tx, &state_for_write, &user, change),
                None => Ok(Vec::new()),
            }
        })
        .await?;
    count_notices(state, &told);
    Ok(())
}

/// Unbinds the account's WeChat, with a proof, unless it is the last way to sign in.
pub async fn unbind(state: &AppState, user_id: i64, proof: Proof) -> Result<()> {
    let user = state
        .db
        .read(move |conn| -> Result<_> {
            Ok(users::by_id(conn, user_id)?.ok_or(Problem::Unauthenticated)?)
        })
        .await?;
    keeps_a_way_in(&user)?;
    prove(state, &user, proof).await?;
    let state_for_write = state.clone();
    let told = state
        .db
        .write(move |tx| -> Result<_> {
            let user = users::by_id(tx, user_id)?.ok_or(Problem::Unauthenticated)?;
            keeps_a_way_in(&user)?;
            wechat::detach(tx, user_id)?;
            tell_channels(tx, &state_for_write, &user, "已解绑微信")
        })
        .await?;
    count_notices(state, &told);
    Ok(())
}

/// Refuses to unbind WeChat that is not bound, or that is the last way to sign in (a phone or
/// an e-mail signs in with a code, an account name with its password).
fn keeps_a_way_in(user: &UserRow) -> Result<(), Problem> {
    if !user.wechat_bound {
        return Err(Problem::refused("未绑定微信"));
    }
    let account_sign_in = user.account.is_some() && user.password_hash.is_some();
    if !(user.phone.is_some() || user.email.is_some() || account_sign_in) {
        return Err(Problem::refused("微信是该账号唯一的登录方式，不能解绑"));
    }
    Ok(())
}

/// The proof replacing or removing a bound WeChat needs: the account's password when it has
/// one (counted like a sign-in), otherwise a code of the bound WeChat itself.
async fn prove(state: &AppState, user: &UserRow, proof: Proof) -> Result<()> {
    if let Some(hash) = &user.password_hash {
        let Proof::Password(password) = proof else {
            return Err(
                Problem::invalid("password", "更换或解绑已绑定的微信需要提供当前密码").into(),
            );
        };
        return login_modes::verify_account_password(state, user.id, password, hash.clone()).await;
    }
    let Proof::Wechat { kind, code } = proof else {
        return Err(Problem::invalid(
            "old_wechat_code",
            "更换或解绑已绑定的微信需要该微信的授权码（old_wechat_code）",
        )
        .into());
    };
    let old = identify(state, kind, &code, "old_wechat_code").await?;
    let user_id = user.id;
    let owner = state
        .db
        .read(move |conn| -> Result<_> { Ok(wechat::owner(conn, &key_of(&old))?) })
        .await?;
    if owner != Some(user_id) {
        return Err(Problem::invalid("old_wechat_code", "该授权码不属于账号当前绑定的微信").into());
    }
    Ok(())
}

/// Tells the account's phone and e-mail about a change to its WeChat, in the change's
/// transaction; returns who was told.
fn tell_channels(
    tx: &rusqlite::Transaction<'_>,
    state: &AppState,
    user: &UserRow,
    change: &str,
) -> Result<Vec<LoginColumn>> {
    let mut told = Vec::new();
    for (column, bound) in [
        (LoginColumn::Phone, &user.phone),
        (LoginColumn::Email, &user.email),
    ] {
        if let Some(to) = bound {
            login_modes::tell(tx, state, column, to, change)?;
            told.push(column);
        }
    }
    Ok(told)
}

fn count_notices(state: &AppState, told: &[LoginColumn]) {
    for column in told {
        crate::notify::sent(state, login_modes::notice_channel(*column));
    }
}
