//! Binding and unbinding sign-in methods (print `POST` / `DELETE /login_modes`).

use shared::Problem;
use shared::invalidate::Instruction;

use crate::AppState;
use crate::db::codes::Channel;
use crate::db::users::{self, LoginColumn};
use crate::domain::identity;
use crate::error::AppResult;

/// Binds the phone or e-mail a verification code proves to the caller's account. One another
/// account owns is `Taken` (20002), and the code stays unused.
pub async fn bind(
    state: &AppState,
    user_id: i64,
    token: String,
    code: String,
) -> AppResult<Vec<Instruction>> {
    let hash = identity::code_hash(state, &token, &code);
    let outcome = state
        .db
        .write(move |tx| {
            let (channel, target) = match identity::check_code(tx, &token, &hash)? {
                Ok(found) => found,
                Err(problem) => return Ok(Err(problem)),
            };
            let column = match channel {
                Channel::Sms => LoginColumn::Phone,
                Channel::Mail => LoginColumn::Email,
            };
            users::set_login(tx, user_id, column, Some(&target))?;
            Ok(Ok(()))
        })
        .await?;
    outcome?;
    Ok(vec![Instruction::Bump { user: user_id }])
}

/// Unbinds the phone or e-mail, unless the account would be left with no way to sign in: it
/// keeps at least one of a phone, an e-mail, WeChat, or an account name with a password.
pub async fn unbind(
    state: &AppState,
    user_id: i64,
    column: LoginColumn,
) -> AppResult<Vec<Instruction>> {
    state
        .db
        .write(move |tx| {
            let user = users::by_id(tx, user_id)?.ok_or(Problem::Unauthenticated)?;
            let (bound, other) = match column {
                LoginColumn::Phone => (user.phone.is_some(), user.email.is_some()),
                LoginColumn::Email => (user.email.is_some(), user.phone.is_some()),
            };
            if !bound {
                return Err(Problem::refused(format!("未绑定{}", label(column))).into());
            }
            let account_sign_in = user.account.is_some() && user.password_hash.is_some();
            if !(other || account_sign_in || user.wechat_openid.is_some()) {
                return Err(Problem::refused(format!(
                    "{}是该账号唯一的登录方式，不能解绑",
                    label(column)
                ))
                .into());
            }
            users::set_login(tx, user_id, column, None)
        })
        .await?;
    Ok(vec![Instruction::Bump { user: user_id }])
}

fn label(column: LoginColumn) -> &'static str {
    match column {
        LoginColumn::Phone => "手机号",
        LoginColumn::Email => "邮箱",
    }
}
