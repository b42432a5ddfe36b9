//! The print dialect (`003_…`): parameters in, `{status, code, data | message}` out.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};

use shared::Problem;

use shared::validate;

use crate::AppState;

use crate::db::codes::Channel;
use crate::db::users::LoginColumn;
use crate::domain::identity::{self, RefreshStyle, SignInDoor};
use crate::domain::{login_modes, profile};
use crate::error::AppResult;
use crate::http::ClientNetwork;
use crate::http::auth::{Caller, presented_token};
use crate::http::params::Params;
use crate::http::reply::Reply;
use crate::http::views;

pub async fn sms(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    params: Params,
) -> AppResult<Reply> {
    let phone = validate::phone("phone", params.required("phone")?)?;
    let is_register = params.flag("is_register")?;
    let token = identity::send_code(&state, Channel::Sms, phone, is_register, network).await?;
    Ok(Reply::print(
        StatusCode::CREATED,
        views::VerificationToken {
            verification_token: token,
        },
    ))
}

pub async fn mail(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    params: Params,
) -> AppResult<Reply> {
    let email = validate::email("email", params.required("email")?)?;
    let is_register = params.flag("is_register")?;
    let token = identity::send_code(&state, Channel::Mail, email, is_register, network).await?;
    Ok(Reply::print(
        StatusCode::CREATED,
        views::VerificationToken {
            verification_token: token,
        },
    ))
}

/// `(verification_token, verification_code)`, both required.
fn code_params(params: &Params) -> Result<(String, String), Problem> {
    let token = params.text("verification_token", 64)?;
    let code = params.text("verification_code", 16)?;
    Ok((token, code))
}

pub async fn register(State(state): State<AppState>, params: Params) -> AppResult<Reply> {
    let (token, code) = code_params(&params)?;
    let password = validate::password("password", params.required("password")?)?;
    let tokens = identity::register_with_code(&state, token, code, password).await?;
    Ok(Reply::print(
        StatusCode::CREATED,
        views::PrintTokens::of(&tokens),
    ))
}

pub async fn login(State(state): State<AppState>, params: Params) -> AppResult<Reply> {
    let tokens = if params.get("verification_token").is_some()
        || params.get("verification_code").is_some()
    {
        let (token, code) = code_params(&params)?;
        identity::login_with_code(&state, token, code).await?
    } else {
        let username = params.text("username", validate::EMAIL_MAX_CHARS)?;
        let password = params.required("password")?.to_owned();
        let as_admin = params.flag("is_admin")?;
        identity::login_with_password(&state, username, password, as_admin, SignInDoor::Public)
            .await?
    };
    Ok(Reply::print(
        StatusCode::OK,
        views::PrintTokens::of(&tokens),
    ))
}

pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Reply> {
    let token = presented_token(&headers).ok_or(Problem::Unauthenticated)?;
    let (tokens, instructions) =
        identity::refresh(&state, RefreshStyle::PrintRefreshToken, token).await?;
    Ok(Reply::print(StatusCode::OK, views::PrintTokens::of(&tokens)).invalidate(instructions))
}

pub async fn repassword(State(state): State<AppState>, params: Params) -> AppResult<Reply> {
    let (token, code) = code_params(&params)?;
    let password = validate::password("password", params.required("password")?)?;
    let instructions = identity::reset_password(&state, token, code, password).await?;
    Ok(Reply::print_message(StatusCode::OK, "密码修改成功").invalidate(instructions))
}

pub async fn wechat_login() -> AppResult<Reply> {
    Err(Problem::NotImplemented.into())
}

pub async fn show_self(State(state): State<AppState>, caller: Caller) -> AppResult<Reply> {
    let profile = profile::load(&state, caller.user_id).await?;
    Ok(Reply::print(
        StatusCode::OK,
        views::PrintSelf::of(&profile, state.config.time_offset),
    ))
}

pub async fn bind_login_mode(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let (token, code) = code_params(&params)?;
    let proof = proof_params(&params)?;
    let instructions = login_modes::bind(&state, caller.user_id, token, code, proof).await?;
    Ok(Reply::print_message(StatusCode::OK, "绑定成功").invalidate(instructions))
}

pub async fn unbind_login_mode(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let column = match params.required("type")? {
        "phone" => LoginColumn::Phone,
        "email" => LoginColumn::Email,
        _ => return Err(Problem::invalid("type", "type 只能是 phone 或 email").into()),
    };
    let proof = proof_params(&params)?;
    let instructions = login_modes::unbind(&state, caller.user_id, column, proof).await?;
    Ok(Reply::print_message(StatusCode::OK, "解绑成功").invalidate(instructions))
}

/// What a request offers beyond its token to replace or remove a bound channel: `password`, or
/// a code sent to that channel (`old_verification_token`, `old_verification_code`).
fn proof_params(params: &Params) -> Result<login_modes::Proof, Problem> {
    if let Some(password) = params.get("password") {
        if password.chars().count() > validate::PASSWORD_MAX_CHARS {
            return Err(Problem::invalid(
                "password",
                "密码长度必须是 8 到 64 个字符",
            ));
        }
        return Ok(login_modes::Proof::Password(password.to_owned()));
    }
    if params.get("old_verification_token").is_some()
        || params.get("old_verification_code").is_some()
    {
        return Ok(login_modes::Proof::Code {
            token: params.text("old_verification_token", 64)?,
            code: params.text("old_verification_code", 16)?,
        });
    }
    Ok(login_modes::Proof::None)
}

pub async fn update_self(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let nickname = params
        .get("nickname")
        .map(|raw| validate::text("nickname", raw, validate::NAME_MAX_CHARS))
        .transpose()?;
    let sex = params.integer("sex", 0, 2)?;
    let avatar = params.get("avatar").map(validate_avatar).transpose()?;
    let change = profile::ProfileChange {
        nickname,
        sex,
        avatar,
    };
    let instructions = profile::update(&state, caller.user_id, change).await?;
    Ok(Reply::print_message(StatusCode::OK, "资料已更新").invalidate(instructions))
}

/// An avatar is an absolute http(s) URL or a path on this host (an upload's `src`), or empty
/// to remove it.
fn validate_avatar(raw: &str) -> Result<String, Problem> {
    let avatar = raw.trim();
    let well_formed = avatar.is_empty()
        || ((avatar.starts_with("https://")
            || avatar.starts_with("http://")
            || avatar.starts_with('/'))
            && !avatar.chars().any(char::is_whitespace));
    if !well_formed || avatar.chars().count() > 255 {
        return Err(Problem::invalid(
            "avatar",
            "avatar 必须是 http(s) 链接或本站路径，且不超过 255 个字符",
        ));
    }
    Ok(avatar.to_owned())
}

pub async fn permissions(State(state): State<AppState>, caller: Caller) -> AppResult<Reply> {
    let names = profile::permissions(&state, caller.user_id, caller.admin).await?;
    Ok(Reply::print(StatusCode::OK, names))
}
