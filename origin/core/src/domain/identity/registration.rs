//! Store registration: captchas and invitation codes.

use super::*;

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
            crate::domain::usable_invitation(invitations::check(tx, &invitation, now)?)?;
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
            crate::domain::usable_invitation(invitations::consume(
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
