//! The print dialect (`003_…`): parameters in, `{status, code, data | message}` out.

use axum::extract::{FromRequestParts, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use shared::Problem;
use shared::validate;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use crate::AppState;
use crate::db::codes::Channel;
use crate::db::users::LoginColumn;
use crate::domain::identity::{self, RefreshStyle, SignInDoor};
use crate::domain::{login_modes, profile, wechat};
use crate::error::{AppError, AppResult};
use crate::http::ClientNetwork;
use crate::http::auth::{Caller, presented_token};
use crate::http::endpoint::DescribeArg;
use crate::http::input::{
    Email, Field, Flag, FromParams, Given, Input, OptionalInt, Password, Phone, Secret, Text,
};
use crate::http::params::Params;
use crate::http::reply::{PrintDone, PrintOk};
use crate::http::views;
use crate::input;
use crate::wechat::WechatKind;

input! {
    pub struct SmsRequest {
        phone: Phone,
        /// The code is for a new account: refused if the phone is already registered.
        is_register: Flag,
    }
}

pub async fn sms(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    Input(request): Input<SmsRequest>,
) -> AppResult<PrintOk<views::VerificationToken, 201>> {
    let channel = Channel::Sms;
    let token =
        identity::send_code(&state, channel, request.phone, request.is_register, network).await?;
    Ok(PrintOk::new(views::VerificationToken {
        verification_token: token,
    }))
}

input! {
    pub struct MailRequest {
        email: Email,
        /// The code is for a new account: refused if the address is already registered.
        is_register: Flag,
    }
}

pub async fn mail(
    State(state): State<AppState>,
    ClientNetwork(network): ClientNetwork,
    Input(request): Input<MailRequest>,
) -> AppResult<PrintOk<views::VerificationToken, 201>> {
    let channel = Channel::Mail;
    let token =
        identity::send_code(&state, channel, request.email, request.is_register, network).await?;
    Ok(PrintOk::new(views::VerificationToken {
        verification_token: token,
    }))
}

/// A verification token from `POST /api/sms` or `POST /api/mail`.
type VerificationToken = Text<64>;
/// The code that was sent.
type VerificationCode = Text<16>;

input! {
    /// A verified phone or e-mail and a new password (registration and password reset).
    pub struct PrintRegisterRequest {
        /// From `POST /api/sms` or `POST /api/mail`.
        verification_token: VerificationToken,
        verification_code: VerificationCode,
        password: Password,
    }
}

pub async fn register(
    State(state): State<AppState>,
    Input(request): Input<PrintRegisterRequest>,
) -> AppResult<PrintOk<views::PrintTokens, 201>> {
    let tokens = identity::register_with_code(
        &state,
        request.verification_token,
        request.verification_code,
        request.password,
    )
    .await?;
    Ok(PrintOk::new(views::PrintTokens::of(&tokens)))
}

/// Either a code or a password; a code is used when either code field is present.
pub enum PrintLoginRequest {
    Code {
        token: String,
        code: String,
    },
    Password {
        username: String,
        password: String,
        as_admin: bool,
    },
}

impl FromParams for PrintLoginRequest {
    fn from_params(params: &Params) -> Result<Self, Problem> {
        if params.get("verification_token").is_some() || params.get("verification_code").is_some() {
            return Ok(PrintLoginRequest::Code {
                token: VerificationToken::read(params, "verification_token")?,
                code: VerificationCode::read(params, "verification_code")?,
            });
        }
        Ok(PrintLoginRequest::Password {
            username: Text::<{ validate::EMAIL_MAX_CHARS }>::read(params, "username")?,
            password: Secret::read(params, "password")?,
            as_admin: Flag::read(params, "is_admin")?,
        })
    }
}

impl utoipa::PartialSchema for PrintLoginRequest {
    fn schema() -> RefOr<Schema> {
        let object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Either a code (`verification_token` + `verification_code`) or a password \
             (`username` + `password`); a code is used when either code field is present.",
            ));
        let object = object.examples([serde_json::json!({
            "username": "alice01",
            "password": "password123",
        })]);
        let object = Given::<VerificationToken>::document("verification_token", "", object);
        let object = Given::<VerificationCode>::document("verification_code", "", object);
        let object = Given::<Text<{ validate::EMAIL_MAX_CHARS }>>::document(
            "username",
            "Account name, phone or e-mail.",
            object,
        );
        let object = Given::<Secret>::document("password", "", object);
        Flag::document(
            "is_admin",
            "Sign in to the back office: refused unless the user holds a role.",
            object,
        )
        .into()
    }
}

impl utoipa::ToSchema for PrintLoginRequest {}

pub async fn login(
    State(state): State<AppState>,
    Input(request): Input<PrintLoginRequest>,
) -> AppResult<PrintOk<views::PrintTokens>> {
    let tokens = match request {
        PrintLoginRequest::Code { token, code } => {
            identity::login_with_code(&state, token, code).await?
        }
        PrintLoginRequest::Password {
            username,
            password,
            as_admin,
        } => {
            let door = SignInDoor::Public;
            identity::login_with_password(&state, username, password, as_admin, door).await?
        }
    };
    Ok(PrintOk::new(views::PrintTokens::of(&tokens)))
}

pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<PrintOk<views::PrintTokens>> {
    let token = presented_token(&headers).ok_or(Problem::Unauthenticated)?;
    let (tokens, instructions) =
        identity::refresh(&state, RefreshStyle::PrintRefreshToken, token).await?;
    Ok(PrintOk::new(views::PrintTokens::of(&tokens)).invalidate(instructions))
}

pub async fn repassword(
    State(state): State<AppState>,
    Input(request): Input<PrintRegisterRequest>,
) -> AppResult<PrintDone> {
    let instructions = identity::reset_password(
        &state,
        request.verification_token,
        request.verification_code,
        request.password,
    )
    .await?;
    Ok(PrintDone::new("密码修改成功").invalidate(instructions))
}

/// Answers 501 before anything is read while no WeChat app is configured (`ORIGIN_WECHAT_*`),
/// so WeChat sign-in is "not available" whatever a request carries.
pub struct WechatConfigured;

impl FromRequestParts<AppState> for WechatConfigured {
    type Rejection = AppError;

    async fn from_request_parts(_parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match state.wechat {
            Some(_) => Ok(WechatConfigured),
            None => Err(Problem::NotImplemented.into()),
        }
    }
}

impl DescribeArg for WechatConfigured {}

/// An authorization code from the WeChat SDK (`SendAuth` in the app, `wx.login` in the mini
/// program); usable once, for minutes.
type WechatCode = Text<128>;

/// `type`: which of our WeChat clients a code comes from, `app` (default) or `mini`.
pub struct WechatType;

impl Field for WechatType {
    type Value = WechatKind;

    fn read(params: &Params, name: &'static str) -> Result<WechatKind, Problem> {
        match params.get(name).map(str::trim) {
            None | Some("") | Some("app") => Ok(WechatKind::App),
            Some("mini") => Ok(WechatKind::Mini),
            Some(_) => Err(Problem::invalid(name, format!("{name} 只能是 app 或 mini"))),
        }
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .pattern(Some("^(app|mini)?$"))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property)
    }
}

input! {
    /// A WeChat authorization code. The first sign-in creates the account.
    pub struct WechatLoginRequest {
        /// From the WeChat SDK: `SendAuth` (app, scope `snsapi_userinfo`) or `wx.login` (mini
        /// program).
        code: WechatCode,
        /// `app` (the mobile app, default) or `mini` (the mini program).
        kind as "type": WechatType,
    }
}

pub async fn wechat_login(
    State(state): State<AppState>,
    _configured: WechatConfigured,
    Input(request): Input<WechatLoginRequest>,
) -> AppResult<PrintOk<views::PrintTokens>> {
    let tokens = wechat::sign_in(&state, request.kind, request.code).await?;
    Ok(PrintOk::new(views::PrintTokens::of(&tokens)))
}

pub async fn show_self(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<PrintOk<views::PrintSelf>> {
    let profile = profile::load(&state, caller.user_id).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(views::PrintSelf::of(&profile, offset)))
}

/// What a request offers beyond its token to replace or remove a bound channel: `password`, or
/// a code sent to that channel (`old_verification_token`, `old_verification_code`).
pub struct ChannelProof;

impl Field for ChannelProof {
    type Value = login_modes::Proof;

    fn read(params: &Params, _name: &'static str) -> Result<login_modes::Proof, Problem> {
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
                token: VerificationToken::read(params, "old_verification_token")?,
                code: VerificationCode::read(params, "old_verification_code")?,
            });
        }
        if params.get("old_wechat_code").is_some() {
            return Ok(login_modes::Proof::Wechat {
                code: WechatCode::read(params, "old_wechat_code")?,
                kind: WechatType::read(params, "old_wechat_type")?,
            });
        }
        Ok(login_modes::Proof::None)
    }

    fn document(_name: &'static str, _description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let object = Given::<Text<{ validate::PASSWORD_MAX_CHARS }>>::document(
            "password",
            "The account's current password (required when it has one and a bound phone, \
             e-mail or WeChat is replaced or removed).",
            object,
        );
        let object = Given::<VerificationToken>::document(
            "old_verification_token",
            "Without a password: a code sent to the phone or e-mail being replaced or removed.",
            object,
        );
        let object = Given::<VerificationCode>::document("old_verification_code", "", object);
        let object = Given::<WechatCode>::document(
            "old_wechat_code",
            "Without a password: an authorization code of the WeChat being replaced or removed.",
            object,
        );
        WechatType::document(
            "old_wechat_type",
            "Which client `old_wechat_code` comes from: `app` (default) or `mini`.",
            object,
        )
    }
}

/// What `POST /api/login_modes` binds: WeChat when `wechat_code` is sent (with `type`; the
/// verification fields must then be left out), otherwise the phone or e-mail a verification
/// code proves (`verification_token` and `verification_code` required).
pub enum BindRequest {
    Channel {
        token: String,
        code: String,
        proof: login_modes::Proof,
    },
    Wechat {
        kind: WechatKind,
        code: String,
        proof: login_modes::Proof,
    },
}

impl FromParams for BindRequest {
    fn from_params(params: &Params) -> Result<Self, Problem> {
        if params.get("wechat_code").is_some() {
            if params.get("verification_token").is_some()
                || params.get("verification_code").is_some()
            {
                return Err(Problem::invalid(
                    "wechat_code",
                    "一次只能绑定一种登录方式：wechat_code 与 verification_code 不能同时提供",
                ));
            }
            return Ok(BindRequest::Wechat {
                code: WechatCode::read(params, "wechat_code")?,
                kind: WechatType::read(params, "type")?,
                proof: ChannelProof::read(params, "proof")?,
            });
        }
        Ok(BindRequest::Channel {
            token: VerificationToken::read(params, "verification_token")?,
            code: VerificationCode::read(params, "verification_code")?,
            proof: ChannelProof::read(params, "proof")?,
        })
    }
}

impl utoipa::PartialSchema for BindRequest {
    fn schema() -> RefOr<Schema> {
        let object = ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "Either a phone or e-mail (`verification_token` + `verification_code`, both \
                 required) or WeChat (`wechat_code` + `type`); WeChat is bound when \
                 `wechat_code` is sent, and sending it with a verification code is refused.",
            ))
            .examples([serde_json::json!({
                "verification_token": "3f2a9c0d1e4b5a6978877665544332211",
                "verification_code": "123456",
            })]);
        let object = Given::<VerificationToken>::document(
            "verification_token",
            "From `POST /api/sms` or `POST /api/mail`.",
            object,
        );
        let object = Given::<VerificationCode>::document("verification_code", "", object);
        let object = Given::<WechatCode>::document(
            "wechat_code",
            "A WeChat authorization code (`SendAuth` in the app, `wx.login` in the mini \
             program) of the WeChat to bind.",
            object,
        );
        let object = WechatType::document(
            "type",
            "With `wechat_code`: `app` (default) or `mini`.",
            object,
        );
        ChannelProof::document("proof", "", object).into()
    }
}

impl utoipa::ToSchema for BindRequest {}

pub async fn bind_login_mode(
    State(state): State<AppState>,
    caller: Caller,
    Input(request): Input<BindRequest>,
) -> AppResult<PrintDone> {
    match request {
        BindRequest::Channel { token, code, proof } => {
            login_modes::bind(&state, caller.user_id, token, code, proof).await?
        }
        BindRequest::Wechat { kind, code, proof } => {
            wechat::bind(&state, caller.user_id, kind, code, proof).await?
        }
    }
    Ok(PrintDone::new("绑定成功"))
}

/// A way to sign in that can be unbound.
pub enum LoginMode {
    Channel(LoginColumn),
    Wechat,
}

/// `type`: `phone`, `email` or `wechat`.
pub struct ChannelKind;

impl Field for ChannelKind {
    type Value = LoginMode;

    fn read(params: &Params, name: &'static str) -> Result<LoginMode, Problem> {
        match params.required(name)? {
            "phone" => Ok(LoginMode::Channel(LoginColumn::Phone)),
            "email" => Ok(LoginMode::Channel(LoginColumn::Email)),
            "wechat" => Ok(LoginMode::Wechat),
            _ => Err(Problem::invalid(name, "type 只能是 phone、email 或 wechat")),
        }
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^(phone|email|wechat)$"))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property).required(name)
    }
}

input! {
    pub struct UnbindRequest {
        kind as "type": ChannelKind,
        proof: ChannelProof,
    }
}

pub async fn unbind_login_mode(
    State(state): State<AppState>,
    caller: Caller,
    Input(request): Input<UnbindRequest>,
) -> AppResult<PrintDone> {
    match request.kind {
        LoginMode::Channel(column) => {
            login_modes::unbind(&state, caller.user_id, column, request.proof).await?
        }
        LoginMode::Wechat => wechat::unbind(&state, caller.user_id, request.proof).await?,
    }
    Ok(PrintDone::new("解绑成功"))
}

/// An avatar is an absolute http(s) URL or a path on this host (an upload's `src`), or empty
/// to remove it; at most 255 characters.
pub struct Avatar;

impl Field for Avatar {
    type Value = Option<String>;

    fn read(params: &Params, name: &'static str) -> Result<Option<String>, Problem> {
        let Some(raw) = params.get(name) else {
            return Ok(None);
        };
        let avatar = raw.trim();
        let well_formed = avatar.is_empty()
            || ((avatar.starts_with("https://")
                || avatar.starts_with("http://")
                || avatar.starts_with('/'))
                && !avatar.chars().any(char::is_whitespace));
        if !well_formed || avatar.chars().count() > 255 {
            return Err(Problem::invalid(
                name,
                "avatar 必须是 http(s) 链接或本站路径，且不超过 255 个字符",
            ));
        }
        Ok(Some(avatar.to_owned()))
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        crate::http::input::OptionalText::<255>::document(name, description, object)
    }
}

input! {
    pub struct SelfUpdateRequest {
        nickname: Given<Text<{ validate::NAME_MAX_CHARS }>>,
        /// 0 unknown, 1 male, 2 female.
        sex: OptionalInt<0, 2>,
        /// An http(s) URL or a path on this host (an upload's `src`); empty removes it.
        avatar: Avatar,
    }
}

pub async fn update_self(
    State(state): State<AppState>,
    caller: Caller,
    Input(request): Input<SelfUpdateRequest>,
) -> AppResult<PrintDone> {
    let change = profile::ProfileChange {
        nickname: request.nickname,
        sex: request.sex,
        avatar: request.avatar,
    };
    profile::update(&state, caller.user_id, change).await?;
    Ok(PrintDone::new("资料已更新"))
}

pub async fn permissions(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<PrintOk<Vec<String>>> {
    let names = profile::permissions(&state, caller.user_id, caller.admin).await?;
    Ok(PrintOk::new(names))
}
