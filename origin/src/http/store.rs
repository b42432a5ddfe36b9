//! The store dialect (`000_…`): parameters in, `{code: 20001, message, data}` out.

use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use shared::Problem;
use shared::problem::STORE_CODES;
use shared::validate::{self, NAME_MAX_CHARS};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::AppState;
use crate::clock;
use crate::domain::identity::{self, RefreshStyle, SignInDoor, StoreRegistration};
use crate::domain::profile;
use crate::error::{AppError, AppResult};
use crate::http::ClientNetwork;
use crate::http::auth::{Caller, presented_token};
use crate::http::input::{AccountName, Field, Input, Password, Secret, Text};
use crate::http::params::Params;
use crate::http::reply::{StoreOk, View};
use crate::http::views;
use crate::input;

/// `GET /api/response_code`: every code of the document with its text.
#[derive(Serialize)]
#[serde(transparent)]
pub struct CodeTable(std::collections::BTreeMap<String, &'static str>);

impl utoipa::PartialSchema for CodeTable {
    fn schema() -> RefOr<Schema> {
        let mut table = ObjectBuilder::new().schema_type(Type::Object);
        for (code, text) in STORE_CODES {
            table = table
                .property(
                    code.to_string(),
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some([text])),
                )
                .required(code.to_string());
        }
        table.into()
    }
}

impl utoipa::ToSchema for CodeTable {}
impl View for CodeTable {}

pub async fn response_code() -> StoreOk<CodeTable> {
    let codes = STORE_CODES
        .iter()
        .map(|(code, text)| (code.to_string(), *text))
        .collect();
    StoreOk::new(CodeTable(codes))
}

input! {
    pub struct CaptchaRequest {
        /// The account the captcha is for.
        username: Text<NAME_MAX_CHARS>,
    }
}

pub async fn captchas(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    Input(request): Input<CaptchaRequest>,
) -> AppResult<StoreOk<views::Captcha, 201>> {
    let captcha = identity::create_captcha(&state, request.username, network).await?;
    Ok(StoreOk::new(views::Captcha {
        captcha_key: captcha.key,
        expired_at: clock::format(captcha.expires_at, state.config.time_offset),
        captcha_image_content: format!("data:image/png;base64,{}", STANDARD.encode(&captcha.png)),
    }))
}

/// `password_confirmation`: must equal `password`.
pub struct PasswordConfirmation;

impl Field for PasswordConfirmation {
    type Value = ();

    fn read(params: &Params, name: &'static str) -> Result<(), Problem> {
        if params.required(name)? != params.get("password").unwrap_or_default() {
            return Err(Problem::invalid(name, "两次输入的密码不一致"));
        }
        Ok(())
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        Password::document(name, description, object)
    }
}

input! {
    /// Every field is checked before the captcha is spent: bad input changes nothing.
    pub struct StoreRegisterRequest {
        name: Text<NAME_MAX_CHARS>,
        /// 3–32 letters or digits, not shaped like a phone number.
        username: AccountName,
        password: Password,
        /// Must equal `password`.
        password_confirmation: PasswordConfirmation,
        invitation_code: Text<64>,
        captcha_key: Text<64>,
        captcha_code: Text<16>,
    }
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

pub async fn register(
    State(state): State<AppState>,
    Input(request): Input<StoreRegisterRequest>,
) -> AppResult<StoreOk<views::StoreRegistered, 201>> {
    let form = StoreRegistration {
        name: request.name,
        username: request.username,
        password: request.password,
        invitation_code: request.invitation_code,
        captcha_key: request.captcha_key,
        captcha_code: request.captcha_code,
    };
    let (user, tokens) = identity::register_store(&state, form)
        .await
        .map_err(store_field_names)?;
    let user = views::StoreUser::of(&user, state.config.time_offset);
    Ok(StoreOk::new(views::StoreRegistered::of(&tokens, user)))
}

input! {
    pub struct StoreLoginRequest {
        /// Account name, phone or e-mail.
        username: Text<{ validate::EMAIL_MAX_CHARS }>,
        password: Secret,
    }
}

pub async fn login(
    State(state): State<AppState>,
    Input(request): Input<StoreLoginRequest>,
) -> AppResult<StoreOk<views::StoreToken>> {
    let door = SignInDoor::Public;
    let tokens =
        identity::login_with_password(&state, request.username, request.password, false, door)
            .await?;
    Ok(StoreOk::new(views::StoreToken::of(&tokens)))
}

pub async fn logout(State(state): State<AppState>, caller: Caller) -> AppResult<StoreOk<()>> {
    let instructions = identity::logout(&state, caller.user_id, caller.sid).await?;
    Ok(StoreOk::new(()).invalidate(instructions))
}

pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<StoreOk<views::StoreToken>> {
    let token = presented_token(&headers).ok_or(Problem::Unauthenticated)?;
    let (tokens, instructions) =
        identity::refresh(&state, RefreshStyle::StoreAccessToken, token).await?;
    Ok(StoreOk::new(views::StoreToken::of(&tokens)).invalidate(instructions))
}

pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<StoreOk<views::StoreUser>> {
    let user = profile::user(&state, caller.user_id).await?;
    Ok(StoreOk::new(views::StoreUser::of(
        &user,
        state.config.time_offset,
    )))
}
