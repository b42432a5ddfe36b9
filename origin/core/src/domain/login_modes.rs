//! Binding and unbinding sign-in methods (print `POST` / `DELETE /login_modes`).
//!
//! An access token alone may add a channel the account does not have yet (with that channel's
//! code, as the document shows), but replacing or removing a bound phone or e-mail needs more
//! (SPEC §6): the account's current password when it has one, otherwise a code sent to the
//! channel being replaced. So a stolen token cannot move an account's recovery channel to the
//! thief. The replaced or removed channel is told, and so is the account's other channel when
//! one of a new kind is added; a channel bound to an existing account cannot reset its password
//! for a day (`identity::reset_password`).

use shared::Problem;

use crate::AppState;
use crate::clock;
use crate::db::codes::{self, Channel, CodeCheck};
use crate::db::users::{self, LoginColumn, UserRow};
use crate::domain::identity::{self, count_attempt};
use crate::error::Result;
use crate::notify::{Notification, NotificationChannel};
use crate::wechat::WechatKind;

/// What the caller offers to prove they own the account, beyond the access token.
#[derive(Debug, Clone, Default)]
pub enum Proof {
    #[default]
    None,
    /// The account's current password (`password`).
    Password(String),
    /// A code sent to the bound channel (`old_verification_token`, `old_verification_code`).
    Code { token: String, code: String },
    /// An authorization code of the bound WeChat (`old_wechat_code`, `old_wechat_type`): what
    /// replacing or removing WeChat takes on an account without a password (`domain::wechat`).
    Wechat { kind: WechatKind, code: String },
}

/// A proof checked as far as it can be without hashing: codes are checked (a wrong one counts
/// its try), a password still has to be verified.
enum Checked {
    NotNeeded,
    Code { token: String, hash: String },
    Password { password: String, hash: String },
}

fn column_of(channel: Channel) -> LoginColumn {
    match channel {
        Channel::Sms => LoginColumn::Phone,
        Channel::Mail => LoginColumn::Email,
    }
}

fn channel_of(column: LoginColumn) -> Channel {
    match column {
        LoginColumn::Phone => Channel::Sms,
        LoginColumn::Email => Channel::Mail,
    }
}

fn bound(user: &UserRow, column: LoginColumn) -> Option<&str> {
    match column {
        LoginColumn::Phone => user.phone.as_deref(),
        LoginColumn::Email => user.email.as_deref(),
    }
}

/// Checks, inside a write, the proof needed to replace or remove `current` (the bound value of
/// `column`). A wrong or foreign code counts its try and is `Ok(Err(…))`.
fn check_proof(
    tx: &rusqlite::Transaction<'_>,
    state: &AppState,
    user: &UserRow,
    column: LoginColumn,
    current: &str,
    proof: Proof,
) -> Result<Result<Checked, Problem>> {
    if let Some(hash) = &user.password_hash {
        return Ok(match proof {
            Proof::Password(password) => Ok(Checked::Password {
                password,
                hash: hash.clone(),
            }),
            _ => Err(Problem::invalid(
                "password",
                format!("更换或解绑已绑定的{}需要提供当前密码", label(column)),
            )),
        });
    }
    let Proof::Code { token, code } = proof else {
        return Ok(Err(Problem::invalid(
            "old_verification_code",
            format!(
                "更换或解绑已绑定的{}需要发送到该{}的验证码",
                label(column),
                label(column)
            ),
        )));
    };
    let hash = identity::code_hash(state, &token, &code);
    let wrong = || Problem::WrongCode {
        field: "old_verification_code".into(),
    };
    Ok(match codes::check_only(tx, &token, &hash, clock::now())? {
        CodeCheck::Valid { channel, target }
            if channel == channel_of(column) && target == current =>
        {
            Ok(Checked::Code { token, hash })
        }
        CodeCheck::Valid { .. } | CodeCheck::Wrong | CodeCheck::Dead => Err(wrong()),
    })
}

/// Verifies a password proof, counted on the account's sign-in attempts before hashing like a
/// sign-in. A right password clears them at once, in a write of its own, so an owner whose
/// change then fails (the phone was taken meanwhile) is not left with a counted failure.
async fn verify_password(state: &AppState, user_id: i64, checked: &Checked) -> Result<()> {
    let Checked::Password { password, hash } = checked else {
        return Ok(());
    };
    verify_account_password(state, user_id, password.clone(), hash.clone()).await
}

/// Verifies the account's password offered as a proof, counted like a sign-in (see
/// [`verify_password`]).
pub(crate) async fn verify_account_password(
    state: &AppState,
    user_id: i64,
    password: String,
    hash: String,
) -> Result<()> {
    let attempt = count_attempt(state, format!("u:{user_id}")).await?;
    let (matches, key) = attempt.verify(state, password, Some(hash)).await?;
    if !matches {
        return Err(Problem::WrongPassword.into());
    }
    Ok(state
        .db
        .write(move |tx| crate::db::sign_in::clear(tx, &key))
        .await?)
}

/// Spends a code proof inside the final write; a password proof still holds only if the
/// password is the one it was checked against (a reset may have committed while it hashed).
fn spend_proof(
    tx: &rusqlite::Transaction<'_>,
    user: &UserRow,
    checked: &Checked,
) -> Result<Result<(), Problem>> {
    if let Checked::Password { hash, .. } = checked
        && user.password_hash.as_ref() != Some(hash)
    {
        return Ok(Err(Problem::WrongPassword));
    }
    if let Checked::Code { token, hash } = checked
        && !matches!(
            codes::check_and_consume(tx, token, hash, clock::now())?,
            CodeCheck::Valid { .. }
        )
    {
        return Ok(Err(Problem::WrongCode {
            field: "old_verification_code".into(),
        }));
    }
    Ok(Ok(()))
}

/// The channel a notice about `column` goes by.
pub(crate) fn notice_channel(column: LoginColumn) -> NotificationChannel {
    match column {
        LoginColumn::Phone => NotificationChannel::Sms,
        LoginColumn::Email => NotificationChannel::Mail,
    }
}

/// Tells a channel of the account about a change to its sign-in methods, in the same
/// transaction as the change.
pub(crate) fn tell(
    tx: &rusqlite::Transaction<'_>,
    state: &AppState,
    column: LoginColumn,
    old: &str,
    change: &str,
) -> Result<()> {
    let notice = Notification {
        channel: notice_channel(column),
        to: old.to_owned(),
        code: String::new(),
        body: format!("您的账号{change}。如非本人操作，请立即修改密码并联系客服。"),
        expires_at: None,
    };
    state.notifier.enqueue(tx, &notice, clock::now())
}

/// `138****8000` / `a***@example.com`: enough for the owner to recognise, not to reuse.
fn masked(column: LoginColumn, value: &str) -> String {
    match column {
        LoginColumn::Phone if value.len() > 7 => {
            format!("{}****{}", &value[..3], &value[value.len() - 4..])
        }
        LoginColumn::Email => match value.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        },
        LoginColumn::Phone => "***".into(),
    }
}

/// Binds the phone or e-mail a verification code proves to the caller's account. One another
/// account owns is `Taken` (20002), and the code stays unused. Replacing a bound value needs a
/// proof (module docs); the code is checked before any password is hashed.
pub async fn bind(
    state: &AppState,
    user_id: i64,
    token: String,
    code: String,
    proof: Proof,
) -> Result<()> {
    let hash = identity::code_hash(state, &token, &code);
    let state_for_check = state.clone();
    let (token_for_check, hash_for_check) = (token.clone(), hash.clone());
    let checked = state
        .db
        .write(move |tx| -> Result<_> {
            let (channel, target) =
                match codes::check_only(tx, &token_for_check, &hash_for_check, clock::now())? {
                    CodeCheck::Valid { channel, target } => (channel, target),
                    CodeCheck::Wrong | CodeCheck::Dead => {
                        return Ok(Err(Problem::WrongCode {
                            field: "verification_code".into(),
                        }));
                    }
                };
            let user = users::by_id(tx, user_id)?.ok_or(Problem::Unauthenticated)?;
            let column = column_of(channel);
            let proof = match bound(&user, column) {
                Some(current) if current != target => {
                    match check_proof(tx, &state_for_check, &user, column, current, proof)? {
                        Ok(checked) => checked,
                        Err(problem) => return Ok(Err(problem)),
                    }
                }
                _ => Checked::NotNeeded,
            };
            Ok(Ok(proof))
        })
        .await??;
    verify_password(state, user_id, &checked).await?;
    let state_for_write = state.clone();
    let outcome = state
        .db
        .write(move |tx| -> Result<_> {
            let (channel, target) = match identity::check_code(tx, &token, &hash)? {
                Ok(found) => found,
                Err(problem) => return Ok(Err(problem)),
            };
            let column = column_of(channel);
            let user = users::by_id(tx, user_id)?.ok_or(Problem::Unauthenticated)?;
            let old = bound(&user, column).map(str::to_owned);
            let mut told = None;
            let now = clock::now();
            if let Some(old) = old.as_deref().filter(|old| *old != target) {
                if matches!(checked, Checked::NotNeeded) {
                    // Bound by another request since the check: prove again.
                    return Ok(Err(Problem::refused("登录方式已变化，请重试")));
                }
                if let Err(problem) = spend_proof(tx, &user, &checked)? {
                    return Ok(Err(problem));
                }
                let change = format!(
                    "绑定的{}已更换为 {}",
                    label(column),
                    masked(column, &target)
                );
                tell(tx, &state_for_write, column, old, &change)?;
                told = Some(column);
            } else if old.is_none() {
                // A channel of a new kind needs only its own code (SPEC §6), so the account's
                // other channel is told: a stolen token adding a way in does not go unseen.
                let other = match column {
                    LoginColumn::Phone => LoginColumn::Email,
                    LoginColumn::Email => LoginColumn::Phone,
                };
                if let Some(existing) = bound(&user, other) {
                    let change = format!("绑定了新的{} {}", label(column), masked(column, &target));
                    tell(tx, &state_for_write, other, existing, &change)?;
                    told = Some(other);
                }
            }
            users::set_login(tx, user_id, column, Some(&target), now)?;
            Ok(Ok(told))
        })
        .await?;
    if let Some(told) = outcome? {
        crate::notify::sent(state, notice_channel(told));
    }
    Ok(())
}

/// Unbinds the phone or e-mail, with a proof (module docs), unless the account would be left
/// with no way to sign in: it keeps at least one of a phone, an e-mail, WeChat, or an account
/// name with a password.
pub async fn unbind(
    state: &AppState,
    user_id: i64,
    column: LoginColumn,
    proof: Proof,
) -> Result<()> {
    let state_for_check = state.clone();
    let checked = state
        .db
        .write(move |tx| {
            let user = users::by_id(tx, user_id)?.ok_or(Problem::Unauthenticated)?;
            if let Err(problem) = keeps_a_way_in(&user, column) {
                return Ok(Err(problem));
            }
            let current = bound(&user, column).unwrap_or_default().to_owned();
            check_proof(tx, &state_for_check, &user, column, &current, proof)
        })
        .await??;
    verify_password(state, user_id, &checked).await?;
    let state_for_write = state.clone();
    let outcome = state
        .db
        .write(move |tx| -> Result<_> {
            let user = users::by_id(tx, user_id)?.ok_or(Problem::Unauthenticated)?;
            if let Err(problem) = keeps_a_way_in(&user, column) {
                return Ok(Err(problem));
            }
            if let Err(problem) = spend_proof(tx, &user, &checked)? {
                return Ok(Err(problem));
            }
            let old = bound(&user, column).unwrap_or_default().to_owned();
            tell(
                tx,
                &state_for_write,
                column,
                &old,
                &format!("已解绑{} {}", label(column), masked(column, &old)),
            )?;
            users::set_login(tx, user_id, column, None, clock::now())?;
            Ok(Ok(()))
        })
        .await?;
    outcome?;
    crate::notify::sent(state, notice_channel(column));
    Ok(())
}

/// Refuses to unbind what is not bound, or the last way to sign in.
fn keeps_a_way_in(user: &UserRow, column: LoginColumn) -> Result<(), Problem> {
    let other = match column {
        LoginColumn::Phone => user.email.is_some(),
        LoginColumn::Email => user.phone.is_some(),
    };
    if bound(user, column).is_none() {
        return Err(Problem::refused(format!("未绑定{}", label(column))));
    }
    let account_sign_in = user.account.is_some() && user.password_hash.is_some();
    if !(other || account_sign_in || user.wechat_bound) {
        return Err(Problem::refused(format!(
            "{}是该账号唯一的登录方式，不能解绑",
            label(column)
        )));
    }
    Ok(())
}

fn label(column: LoginColumn) -> &'static str {
    match column {
        LoginColumn::Phone => "手机号",
        LoginColumn::Email => "邮箱",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_show_only_enough_to_recognise() {
        assert_eq!(masked(LoginColumn::Phone, "13912345678"), "139****5678");
        assert_eq!(masked(LoginColumn::Phone, "+442079460000"), "+44****0000");
        assert_eq!(
            masked(LoginColumn::Email, "alice@example.com"),
            "a***@example.com"
        );
    }
}
