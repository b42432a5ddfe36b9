//! Sign-up, sign-in and sessions for both dialects: captchas, invitation codes, verification
//! codes, passwords with lockout, token issue, rotation and revocation.

use shared::Problem;
use shared::claims::{REFRESH_GRACE_SECS, TokenType};
use shared::invalidate::Instruction;
use shared::policy::Limit;

use crate::AppState;
use crate::clock;
use crate::db::captchas::{self, CaptchaCheck, NewCaptcha};
use crate::db::codes::{self, Channel, CodeCheck, NewCode};
use crate::db::sessions::{self, Credential, Generation, Lifetimes, Rotation};
use crate::db::sign_in::{self, Lockout};
use crate::db::users::{self, LoginName, NewUser, UserRow};
use crate::db::{StorageResult, edge_outbox, invitations, roles};
use crate::domain::over_limit;
use crate::error::{Error, Result};
use crate::ids;
use crate::notify::{Notification, NotificationChannel};
use crate::passwords::Admission;
use crate::tokens::TokenError;

pub const CAPTCHA_LIFE_SECS: i64 = 300;
pub const CODE_LIFE_SECS: i64 = 300;
/// How long a phone or e-mail bound to an existing account cannot reset its password.
pub const FRESH_CHANNEL_SECS: i64 = 86_400;
const CODE_PER_TARGET_PER_MINUTE: u32 = 1;
const CODE_PER_TARGET_PER_DAY: u32 = 10;

/// Tokens handed to a client after a sign-in or a refresh.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub user_id: i64,
    pub access_token: String,
    pub refresh_token: String,
    pub access_ttl_secs: i64,
}

fn lifetimes(state: &AppState) -> Lifetimes {
    Lifetimes {
        access_secs: state.config.access_ttl_secs,
        refresh_secs: state.config.refresh_ttl_secs(),
    }
}

fn issue(state: &AppState, generation: &Generation) -> Result<IssuedTokens> {
    let (access_token, refresh_token) = state.keys.sign_generation(generation)?;
    Ok(IssuedTokens {
        user_id: generation.user_id,
        access_token,
        refresh_token,
        access_ttl_secs: generation.access_expires_at - generation.issued_at,
    })
}

// ---------------------------------------------------------------------------------------------
// Captchas (store).

pub struct IssuedCaptcha {
    pub key: String,
    pub expires_at: i64,
    pub png: Vec<u8>,
}

pub async fn create_captcha(
    state: &AppState,
    username: String,
    client_ip: String,
) -> Result<IssuedCaptcha> {
    let (answer, png) = tokio::task::spawn_blocking(crate::captcha::render)
        .await
        .map_err(|error| Error::Internal(error.into()))??;
    let key = ids::random_hex(16);
    let answer_hash = ids::keyed_hash(
        state.config.code_pepper.expose(),
        &format!("{key}:{}", answer.to_lowercase()),
    );
    let state_for_write = state.clone();
    let key_for_write = key.clone();
    let expires_at = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            let rule = state_for_write.config.rate_rules.rule(Limit::Captcha);
            let window = i64::from(rule.window_secs);
            let (count, oldest) = captchas::issued_to_ip(tx, &client_ip, now - window)?;
            if let Some(retry_after) = over_limit(count, oldest, rule.max, window, now) {
                return Err(Problem::RateLimited { retry_after }.into());
            }
            let expires_at = now + CAPTCHA_LIFE_SECS;
            captchas::insert(
                tx,
                &NewCaptcha {
                    key: &key_for_write,
                    answer_hash: &answer_hash,
                    username: &username,
                    client_ip: &client_ip,
                    now,
                    expires_at,
                },
            )?;
            let notification = Notification {
                channel: NotificationChannel::Captcha,
                to: key_for_write.clone(),
                code: answer.clone(),
                body: format!("captcha for {username}"),
                expires_at: None,
            };
            state_for_write.notifier.enqueue(tx, &notification, now)?;
            Ok(expires_at)
        })
        .await?;
    crate::notify::sent(state, NotificationChannel::Captcha);
    Ok(IssuedCaptcha {
        key,
        expires_at,
        png,
    })
}

// ---------------------------------------------------------------------------------------------
// Store registration and password sign-in (both dialects).

pub struct StoreRegistration {
    pub name: String,
    pub username: String,
    pub password: String,
    pub invitation_code: String,
    pub captcha_key: String,
    pub captcha_code: String,
}

pub async fn register_store(
    state: &AppState,
    form: StoreRegistration,
) -> Result<(UserRow, IssuedTokens)> {
    // Everything else is checked before the captcha is spent (it has exactly one attempt), so a
    // registration that could not succeed does not burn it: the username must be free and the
    // invitation usable, in the same transaction that spends the captcha.
    let answer_hash = ids::keyed_hash(
        state.config.code_pepper.expose(),
        &format!(
            "{}:{}",
            form.captcha_key,
            form.captcha_code.trim().to_lowercase()
        ),
    );
    let key = form.captcha_key.clone();
    let username = LoginName::Account(form.username.clone());
    let invitation = form.invitation_code.clone();
    let check = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            if users::by_login_name(tx, &username)?.is_some() {
                return Err(Problem::Taken {
                    field: "account".into(),
                    message: "账号已被注册".into(),
                }
                .into());
            }
            super::usable_invitation(invitations::check(tx, &invitation, now)?)?;
            Ok(captchas::spend(tx, &key, &answer_hash, now)?)
        })
        .await?;
    match check {
        CaptchaCheck::Right => {}
        CaptchaCheck::Wrong => {
            return Err(Problem::WrongCode {
                field: "captcha_code".into(),
            }
            .into());
        }
        CaptchaCheck::Dead => {
            return Err(Problem::Expired {
                field: "captcha_key".into(),
                message: "验证码已失效，请重新获取".into(),
            }
            .into());
        }
    }
    let password_hash = state.hasher.hash(form.password).await?;
    let lifetimes = lifetimes(state);
    let (user, generation) = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            let user = NewUser {
                account: Some(form.username),
                nickname: form.name,
                password_hash: Some(password_hash),
                ..NewUser::default()
            };
            let user_id = users::insert(tx, &user, now)?;
            super::usable_invitation(invitations::consume(
                tx,
                &form.invitation_code,
                user_id,
                now,
            )?)?;
            let generation = sessions::create(tx, user_id, false, now, lifetimes)?;
            let user = users::by_id(tx, user_id)?
                .ok_or_else(|| anyhow::anyhow!("user {user_id} vanished"))?;
            Ok((user, generation))
        })
        .await?;
    Ok((user, issue(state, &generation)?))
}

/// Which counter a password sign-in is counted on. The admin listener's own sign-in has its own
/// (SPEC §7), so that nobody on the internet can lock an admin out of the back office.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInDoor {
    Public,
    AdminListener,
}

/// The attempt counter of a sign-in: the account's when the name belongs to one, else the
/// name's own, so unknown names are counted and locked exactly like accounts (SPEC §6).
fn attempt_key(door: SignInDoor, user: Option<&UserRow>, name: &LoginName) -> String {
    let key = match user {
        Some(user) => account_attempt_key(user.id),
        None => format!("n:{}", name.key()),
    };
    match door {
        SignInDoor::Public => key,
        SignInDoor::AdminListener => format!("admin:{key}"),
    }
}

fn account_attempt_key(user_id: i64) -> String {
    format!("u:{user_id}")
}

/// Counts a password attempt before the password is hashed; a locked key is refused (429)
/// without counting. A place in the hashing queue is taken first, so a sign-in the server is
/// too busy to evaluate (503) is neither counted nor written anywhere.
pub(crate) async fn count_attempt(state: &AppState, key: String) -> Result<Attempt> {
    let admission = state.hasher.admit()?;
    let key_for_write = key.clone();
    let reserved = state
        .db
        .write(move |tx| sign_in::reserve(tx, &key_for_write, clock::now(), Lockout::SPEC))
        .await?;
    match reserved {
        Ok(()) => Ok(Attempt { key, admission }),
        Err(retry_after) => Err(Problem::Locked { retry_after }.into()),
    }
}

/// A counted password attempt, with its place in the hashing queue.
pub(crate) struct Attempt {
    key: String,
    admission: Admission,
}

impl Attempt {
    /// Verifies `password` against `hash` (or the dummy hash when there is none). Returns
    /// whether it matched and the counter to clear when the caller succeeds.
    pub(crate) async fn verify(
        self,
        state: &AppState,
        password: String,
        hash: Option<String>,
    ) -> Result<(bool, String)> {
        let matches = state
            .hasher
            .verify_admitted(self.admission, password, hash)
            .await?;
        Ok((matches, self.key))
    }
}

/// Password sign-in by account name, phone or e-mail, with lockout (SPEC §6): the attempt is
/// counted before the password is hashed, so concurrent guesses cannot get more than the
/// allowed number evaluated, and a right password that arrives while the key is locked is
/// refused like a wrong one.
pub async fn login_with_password(
    state: &AppState,
    login_name: String,
    password: String,
    as_admin: bool,
    door: SignInDoor,
) -> Result<IssuedTokens> {
    let name = LoginName::parse(&login_name);
    let lookup = name.clone();
    let user = state
        .db
        .read(move |conn| -> Result<_> {
            let user = users::by_login_name(conn, &lookup)?;
            // The back office's door knows only holders of a role: anyone else is an unknown
            // name there, so it neither tells whose password is right nor lends them a second
            // budget of guesses.
            match (door, user) {
                (SignInDoor::AdminListener, Some(user))
                    if !roles::holds_any_role(conn, user.id)? =>
                {
                    Ok(None)
                }
                (_, user) => Ok(user),
            }
        })
        .await?;
    let attempt = count_attempt(state, attempt_key(door, user.as_ref(), &name)).await?;
    let hash = user.as_ref().and_then(|user| user.password_hash.clone());
    let (matches, key) = attempt.verify(state, password, hash).await?;
    let Some(user) = user else {
        return Err(Problem::UnknownAccount.into());
    };
    if !matches {
        // The attempt stays counted: it was a failure.
        return Err(Problem::WrongPassword.into());
    }
    if user.disabled {
        return Err(Problem::Forbidden {
            message: "账号已被禁用".into(),
        }
        .into());
    }
    let user_id = user.id;
    if as_admin
        && !state
            .db
            .read(move |conn| roles::holds_any_role(conn, user_id))
            .await?
    {
        return Err(Problem::PermissionDenied.into());
    }
    // One transaction: the attempts are cleared with the session that proves success.
    let lifetimes = lifetimes(state);
    let generation = state
        .db
        .write(move |tx| {
            sign_in::clear(tx, &key)?;
            sessions::create(tx, user_id, as_admin, clock::now(), lifetimes)
        })
        .await?;
    issue(state, &generation)
}

// ---------------------------------------------------------------------------------------------
// Verification codes (print).

/// Sends a 6-digit code to a phone (SMS) or e-mail address and returns its verification token.
/// `target` must already be validated and normalised.
pub async fn send_code(
    state: &AppState,
    channel: Channel,
    target: String,
    is_register: bool,
    client_ip: String,
) -> Result<String> {
    let token = ids::random_hex(16);
    let code = ids::random_digits(6);
    let code_hash = ids::keyed_hash(
        state.config.code_pepper.expose(),
        &format!("{token}:{code}"),
    );
    let state_for_write = state.clone();
    let token_for_write = token.clone();
    state
        .db
        .write(move |tx| {
            let now = clock::now();
            let ip_rule = state_for_write.config.rate_rules.rule(match channel {
                Channel::Sms => Limit::Sms,
                Channel::Mail => Limit::Mail,
            });
            let ip_window = i64::from(ip_rule.window_secs);
            let limits = [
                (
                    codes::sent_from_ip(tx, channel, &client_ip, now - ip_window)?,
                    ip_rule.max,
                    ip_window,
                ),
                (
                    codes::sent_to_target(tx, channel, &target, now - 60)?,
                    CODE_PER_TARGET_PER_MINUTE,
                    60,
                ),
                (
                    codes::sent_to_target(tx, channel, &target, now - 86_400)?,
                    CODE_PER_TARGET_PER_DAY,
                    86_400,
                ),
            ];
            for (sent, max, window) in limits {
                if let Some(retry_after) = over_limit(sent.count, sent.oldest, max, window, now) {
                    return Err(Problem::RateLimited { retry_after }.into());
                }
            }
            let registered = match channel {
                Channel::Sms => users::by_phone(tx, &target)?,
                Channel::Mail => users::by_email(tx, &target)?,
            }
            .is_some();
            let field = match channel {
                Channel::Sms => "phone",
                Channel::Mail => "email",
            };
            if is_register && registered {
                return Err(Problem::Taken {
                    field: field.into(),
                    message: "账号已被注册".into(),
                }
                .into());
            }
            if !is_register && !registered {
                return Err(Problem::UnknownAccount.into());
            }
            codes::insert(
                tx,
                &NewCode {
                    token: &token_for_write,
                    channel,
                    target: &target,
                    code_hash: &code_hash,
                    client_ip: &client_ip,
                    now,
                    expires_at: now + CODE_LIFE_SECS,
                },
            )?;
            let notification = Notification {
                channel: match channel {
                    Channel::Sms => NotificationChannel::Sms,
                    Channel::Mail => NotificationChannel::Mail,
                },
                to: target.clone(),
                body: format!("您的验证码是 {code}，{} 分钟内有效。", CODE_LIFE_SECS / 60),
                code,
                expires_at: Some(now + CODE_LIFE_SECS),
            };
            state_for_write.notifier.enqueue(tx, &notification, now)
        })
        .await?;
    crate::notify::sent(
        state,
        match channel {
            Channel::Sms => NotificationChannel::Sms,
            Channel::Mail => NotificationChannel::Mail,
        },
    );
    Ok(token)
}

pub(crate) fn code_hash(state: &AppState, token: &str, code: &str) -> String {
    ids::keyed_hash(
        state.config.code_pepper.expose(),
        &format!("{token}:{}", code.trim()),
    )
}

/// Checks a code inside a write. A wrong code is committed (the try counts) and reported as
/// `Ok(Err(problem))`; the caller returns it after the transaction.
pub(crate) fn check_code(
    tx: &rusqlite::Transaction<'_>,
    token: &str,
    hash: &str,
) -> Result<Result<(Channel, String), Problem>> {
    match codes::check_and_consume(tx, token, hash, clock::now())? {
        CodeCheck::Valid { channel, target } => Ok(Ok((channel, target))),
        CodeCheck::Wrong | CodeCheck::Dead => Ok(Err(Problem::WrongCode {
            field: "verification_code".into(),
        })),
    }
}

/// The user a right code was sent to. A wrong code is `Ok(Err(…))` (its try must be committed);
/// a right code for an address nobody owns is `Err(UnknownAccount)` (rolled back, so the code
/// stays usable).
fn user_for_code(
    tx: &rusqlite::Transaction<'_>,
    token: &str,
    hash: &str,
) -> Result<Result<UserRow, Problem>> {
    let (channel, target) = match check_code(tx, token, hash)? {
        Ok(found) => found,
        Err(problem) => return Ok(Err(problem)),
    };
    let user = match channel {
        Channel::Sms => users::by_phone(tx, &target)?,
        Channel::Mail => users::by_email(tx, &target)?,
    };
    user.map(Ok).ok_or_else(|| Problem::UnknownAccount.into())
}

fn default_nickname(channel: Channel, target: &str) -> String {
    match channel {
        Channel::Sms => format!("用户{}", &target[target.len().saturating_sub(4)..]),
        Channel::Mail => target
            .split('@')
            .next()
            .unwrap_or("用户")
            .chars()
            .take(32)
            .collect(),
    }
}

/// The user a phone or e-mail belongs to.
fn owner_of(
    conn: &rusqlite::Connection,
    channel: Channel,
    target: &str,
) -> StorageResult<Option<UserRow>> {
    match channel {
        Channel::Sms => users::by_phone(conn, target),
        Channel::Mail => users::by_email(conn, target),
    }
}

/// Proves a code before any password is hashed (SPEC §6): a wrong code counts its try and is
/// refused here, so a flood of junk codes costs no hashing. A right code is not spent yet.
async fn prove_code(state: &AppState, token: &str, hash: &str) -> Result<(Channel, String)> {
    let (token, hash) = (token.to_owned(), hash.to_owned());
    let outcome = state
        .db
        .write(move |tx| -> Result<_> {
            match codes::check_only(tx, &token, &hash, clock::now())? {
                CodeCheck::Valid { channel, target } => Ok(Ok((channel, target))),
                CodeCheck::Wrong | CodeCheck::Dead => Ok(Err(Problem::WrongCode {
                    field: "verification_code".into(),
                })),
            }
        })
        .await?;
    Ok(outcome?)
}

/// Print registration: creates the user owning the verified phone or e-mail.
pub async fn register_with_code(
    state: &AppState,
    token: String,
    code: String,
    password: String,
) -> Result<IssuedTokens> {
    let hash = code_hash(state, &token, &code);
    let (channel, target) = prove_code(state, &token, &hash).await?;
    // A code for a phone or e-mail that is taken would pass the proof again and again (the
    // failed registration rolls back, so the code stays usable): refuse it before hashing.
    let field = match channel {
        Channel::Sms => "phone",
        Channel::Mail => "email",
    };
    if state
        .db
        .read(move |conn| owner_of(conn, channel, &target))
        .await?
        .is_some()
    {
        return Err(Problem::Taken {
            field: field.into(),
            message: "账号已被注册".into(),
        }
        .into());
    }
    let password_hash = state.hasher.hash(password).await?;
    let lifetimes = lifetimes(state);
    let outcome = state
        .db
        .write(move |tx| -> Result<_> {
            let (channel, target) = match check_code(tx, &token, &hash)? {
                Ok(found) => found,
                Err(problem) => return Ok(Err(problem)),
            };
            let now = clock::now();
            let mut user = NewUser {
                nickname: default_nickname(channel, &target),
                password_hash: Some(password_hash),
                ..NewUser::default()
            };
            match channel {
                Channel::Sms => user.phone = Some(target),
                Channel::Mail => user.email = Some(target),
            }
            // A taken phone rolls the whole transaction back, so the code stays usable.
            let user_id = users::insert(tx, &user, now)?;
            Ok(Ok(sessions::create(tx, user_id, false, now, lifetimes)?))
        })
        .await?;
    issue(state, &outcome?)
}

pub async fn login_with_code(
    state: &AppState,
    token: String,
    code: String,
) -> Result<IssuedTokens> {
    let hash = code_hash(state, &token, &code);
    let lifetimes = lifetimes(state);
    let outcome = state
        .db
        .write(move |tx| -> Result<_> {
            let user = match user_for_code(tx, &token, &hash)? {
                Ok(user) => user,
                Err(problem) => return Ok(Err(problem)),
            };
            if user.disabled {
                return Err(Problem::Forbidden {
                    message: "账号已被禁用".into(),
                }
                .into());
            }
            Ok(Ok(sessions::create(
                tx,
                user.id,
                false,
                clock::now(),
                lifetimes,
            )?))
        })
        .await?;
    issue(state, &outcome?)
}

/// Sets the password of the account the code was sent to, revokes all its sessions and lifts
/// its sign-in locks. The code (and that it names an account) is proven before the new password
/// is hashed.
pub async fn reset_password(
    state: &AppState,
    token: String,
    code: String,
    password: String,
) -> Result<Vec<Instruction>> {
    let hash = code_hash(state, &token, &code);
    let (channel, target) = prove_code(state, &token, &hash).await?;
    let owner = state
        .db
        .read(move |conn| owner_of(conn, channel, &target))
        .await?;
    let Some(owner) = owner else {
        return Err(Problem::UnknownAccount.into());
    };
    // A phone or e-mail added to an existing account cannot take its password for a day: a
    // stolen access token may add a channel with only that channel's code (SPEC §6), and must
    // not turn it into the password at once; the owner, told of the new channel, has that day.
    let column = match channel {
        Channel::Sms => users::LoginColumn::Phone,
        Channel::Mail => users::LoginColumn::Email,
    };
    if column
        .bound_at(&owner)
        .is_some_and(|at| at > clock::now() - FRESH_CHANNEL_SECS)
    {
        return Err(Problem::refused(
            "该手机号或邮箱绑定未满 24 小时，暂不能用于找回密码，请使用原有方式或联系客服",
        )
        .into());
    }
    let password_hash = state.hasher.hash(password).await?;
    let outcome = state
        .db
        .write(move |tx| -> Result<_> {
            let user = match user_for_code(tx, &token, &hash)? {
                Ok(user) => user,
                Err(problem) => return Ok(Err(problem)),
            };
            users::set_password(tx, user.id, &password_hash)?;
            clear_sign_in_locks(tx, user.id)?;
            let sids = sessions::revoke_all(tx, user.id, "password_changed", clock::now())?;
            Ok(Ok(revocations(user.id, sids)))
        })
        .await?;
    Ok(outcome?)
}

/// A new password lifts every lock of the account, on both doors.
pub(crate) fn clear_sign_in_locks(
    tx: &rusqlite::Transaction<'_>,
    user_id: i64,
) -> StorageResult<()> {
    let key = account_attempt_key(user_id);
    sign_in::clear(tx, &key)?;
    sign_in::clear(tx, &format!("admin:{key}"))
}

pub(crate) fn revocations(user_id: i64, sids: Vec<String>) -> Vec<Instruction> {
    sids.into_iter()
        .map(|sid| Instruction::RevokeSession { user: user_id, sid })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Refresh and sign-out.

/// Which dialect refreshes: the store presents its (possibly expired) access token, the print
/// dialect its refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStyle {
    StoreAccessToken,
    PrintRefreshToken,
}

pub async fn refresh(
    state: &AppState,
    style: RefreshStyle,
    token: &str,
) -> Result<(IssuedTokens, Vec<Instruction>)> {
    let now = clock::now();
    let (expected, extra_life, credential) = match style {
        RefreshStyle::StoreAccessToken => (
            TokenType::Access,
            state.config.refresh_ttl_secs(),
            Credential::Access,
        ),
        RefreshStyle::PrintRefreshToken => (TokenType::Refresh, 0, Credential::Refresh),
    };
    let claims = match state.keys.verify(token, expected, now, extra_life) {
        Ok(claims) => claims,
        Err(TokenError::Claims(shared::claims::ClaimError::Expired))
            if style == RefreshStyle::StoreAccessToken =>
        {
            return Err(Problem::Expired {
                field: "token".into(),
                message: "令牌已超过可刷新期限，请重新登录".into(),
            }
            .into());
        }
        Err(_) => return Err(Problem::Unauthenticated.into()),
    };
    let lifetimes = lifetimes(state);
    let jti = claims.jti.clone();
    let rotation = state
        .db
        .write(move |tx| {
            sessions::rotate(
                tx,
                credential,
                &jti,
                clock::now(),
                REFRESH_GRACE_SECS,
                lifetimes,
            )
        })
        .await?;
    match rotation {
        Rotation::Rotated { spent, next } => {
            // The spent generation's access token dies now, at the edge too.
            let instructions = vec![Instruction::RevokeToken {
                user: spent.user_id,
                jti: spent.access_jti,
                exp: spent.access_expires_at,
            }];
            Ok((issue(state, &next)?, instructions))
        }
        Rotation::Replayed { next } => Ok((issue(state, &next)?, Vec::new())),
        Rotation::Reused { user_id, sid } => {
            tracing::warn!(user_id, sid, "refresh token reused: session revoked");
            Err(Error::Problem(
                Problem::Unauthenticated,
                vec![Instruction::RevokeSession { user: user_id, sid }],
            ))
        }
        Rotation::Invalid => Err(Problem::Unauthenticated.into()),
    }
}

/// Revokes the caller's session.
pub async fn logout(state: &AppState, user_id: i64, sid: String) -> Result<Vec<Instruction>> {
    let sid_for_write = sid.clone();
    state
        .db
        .write(move |tx| sessions::revoke(tx, &sid_for_write, "logout", clock::now()))
        .await?;
    Ok(vec![Instruction::RevokeSession { user: user_id, sid }])
}

// ---------------------------------------------------------------------------------------------
// Operator tasks (CLI and admin API).

/// Creates or resets a super-admin with this account name. Idempotent. Sessions ended by a
/// reset are revoked at the edge through the edge outbox (an operator command does not pass
/// through the edge).
pub async fn create_super_admin(
    state: &AppState,
    account: String,
    password: String,
) -> Result<i64> {
    let account = shared::validate::account_name("username", &account)?;
    let password = shared::validate::password("password", &password)?;
    let hash = state.hasher.hash(password).await?;
    let (user_id, entry) = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            let user_id = users::upsert_by_account(tx, &account, &hash, now)?;
            clear_sign_in_locks(tx, user_id)?;
            roles::grant_role(tx, user_id, roles::SUPER_ADMIN_ROLE)?;
            // A reset password ends the sessions made with the old one.
            let sids = sessions::revoke_all(tx, user_id, "password_changed", now)?;
            let entry = edge_outbox::enqueue(tx, &revocations(user_id, sids), now)?;
            Ok((user_id, entry))
        })
        .await?;
    crate::edge_sync::push(state, entry.into_iter().collect()).await;
    Ok(user_id)
}

/// An invitation code as created (`domain::admin::create_invitation`).
pub struct Invitation {
    pub code: String,
    pub uses: i64,
    pub expires_at: Option<i64>,
}
