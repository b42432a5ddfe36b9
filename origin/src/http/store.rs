//! The store dialect (`000_…`): parameters in, `{code: 20001, message, data}` out.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use shared::Problem;
use shared::problem::STORE_CODES;
use shared::validate::{self, NAME_MAX_CHARS};

use crate::AppState;
use crate::clock;
use crate::domain::identity::{self, RefreshStyle, SignInDoor, StoreRegistration};
use crate::domain::profile;
use crate::error::{AppError, AppResult};
use crate::http::ClientNetwork;
use crate::http::auth::{Caller, presented_token};
use crate::http::params::Params;
use crate::http::reply::Reply;
use crate::http::views;

pub async fn response_code() -> Reply {
    let codes: Map<String, Value> = STORE_CODES
        .iter()
        .map(|(code, text)| (code.to_string(), Value::from(*text)))
        .collect();
    Reply::store(StatusCode::OK, Value::Object(codes))
}

pub async fn captchas(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    params: Params,
) -> AppResult<Reply> {
    let username = params.text("username", NAME_MAX_CHARS)?;
    let captcha = identity::create_captcha(&state, username, network).await?;
    Ok(Reply::store(
        StatusCode::CREATED,
        views::Captcha {
            captcha_key: captcha.key,
            expired_at: clock::format(captcha.expires_at, state.config.time_offset),
            captcha_image_content: format!(
                "data:image/png;base64,{}",
                STANDARD.encode(&captcha.png)
            ),
        },
    ))
}

/// The store document calls the account name `username`.
fn store_field_names(error: impl Into<AppError>) -> AppError {
    match error.into() {
        AppError::Problem(Problem::Taken { field, message }, instructions)
            if field == "account" =>
        {
            AppError::Problem(
                Problem::Taken {
                    field: "username".into(),
                    message,
                },
                instructions,
            )
        }
        other => other,
    }
}

pub async fn register(State(state): State<AppState>, params: Params) -> AppResult<Reply> {
    // Every field is checked before the captcha is spent: bad input changes nothing.
    let name = params.text("name", NAME_MAX_CHARS)?;
    let username = validate::account_name("username", params.required("username")?)?;
    let password = validate::password("password", params.required("password")?)?;
    if params.required("password_confirmation")? != password {
        return Err(Problem::invalid("password_confirmation", "两次输入的密码不一致").into());
    }
    let form = StoreRegistration {
        name,
        username,
        password,
        invitation_code: params.text("invitation_code", 64)?,
        captcha_key: params.text("captcha_key", 64)?,
        captcha_code: params.text("captcha_code", 16)?,
    };
    let (user, tokens) = identity::register_store(&state, form)
        .await
        .map_err(store_field_names)?;
    let data = views::StoreRegistered::of(
        &tokens,
        views::StoreUser::of(&user, state.config.time_offset),
    );
    Ok(Reply::store(StatusCode::CREATED, data))
}

pub async fn login(State(state): State<AppState>, params: Params) -> AppResult<Reply> {
    let username = params.text("username", validate::EMAIL_MAX_CHARS)?;
    let password = params.required("password")?.to_owned();
    let tokens =
        identity::login_with_password(&state, username, password, false, SignInDoor::Public)
            .await?;
    Ok(Reply::store(StatusCode::OK, views::StoreToken::of(&tokens)))
}

pub async fn logout(State(state): State<AppState>, caller: Caller) -> AppResult<Reply> {
    let instructions = identity::logout(&state, caller.user_id, caller.sid).await?;
    Ok(Reply::store(StatusCode::OK, ()).invalidate(instructions))
}

pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Reply> {
    let token = presented_token(&headers).ok_or(Problem::Unauthenticated)?;
    let (tokens, instructions) =
        identity::refresh(&state, RefreshStyle::StoreAccessToken, token).await?;
    Ok(Reply::store(StatusCode::OK, views::StoreToken::of(&tokens)).invalidate(instructions))
}

pub async fn me(State(state): State<AppState>, caller: Caller) -> AppResult<Reply> {
    let user = profile::user(&state, caller.user_id).await?;
    Ok(Reply::store(
        StatusCode::OK,
        views::StoreUser::of(&user, state.config.time_offset),
    ))
}
