//! Verification codes (print): sending them, and registering, signing in and resetting a password with one.

use super::*;

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
    let too_fresh = move |user: &users::UserRow| {
        column
            .bound_at(user)
            .is_some_and(|at| at > clock::now() - FRESH_CHANNEL_SECS)
    };
    let refused_fresh = || {
        Problem::refused(
            "该手机号或邮箱绑定未满 24 小时，暂不能用于找回密码，请使用原有方式或联系客服",
        )
    };
    if too_fresh(&owner) {
        return Err(refused_fresh().into());
    }
    let owner_id = owner.id;
    let password_hash = state.hasher.hash(password).await?;
    let outcome = state
        .db
        .write(move |tx| -> Result<_> {
            let user = match user_for_code(tx, &token, &hash)? {
                Ok(user) => user,
                Err(problem) => return Ok(Err(problem)),
            };
            // While the password hashed, the channel may have moved to another account (an
            // unbind, then a bind elsewhere with a stolen token): the password is set only for
            // the account checked above, and only if the channel is still not fresh there.
            if user.id != owner_id {
                return Ok(Err(Problem::UnknownAccount));
            }
            if too_fresh(&user) {
                return Ok(Err(refused_fresh()));
            }
            users::set_password(tx, user.id, &password_hash)?;
            clear_sign_in_locks(tx, user.id)?;
            let sids = sessions::revoke_all(tx, user.id, "password_changed", clock::now())?;
            let instructions = revocations(user.id, sids);
            super::keep_for_the_edge(tx, &instructions)?;
            Ok(Ok(instructions))
        })
        .await?;
    state.edge_wake.notify_one();
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
