//! The WeChat sign-in adapter: turns an authorization code from the WeChat SDK into who signed
//! in, over WeChat's published server API (`https://api.weixin.qq.com`).
//!
//! - A mobile app (open platform, `type=app`): `GET /sns/oauth2/access_token` (`appid`,
//!   `secret`, `code`, `grant_type=authorization_code`) gives `access_token`, `openid` and, for
//!   apps on an open-platform account, `unionid`; `GET /sns/userinfo` (`access_token`,
//!   `openid`, `lang`) gives the nickname, sex and avatar (`headimgurl`).
//! - A mini program (`type=mini`): `GET /sns/jscode2session` (`appid`, `secret`, `js_code`,
//!   `grant_type=authorization_code`) gives `openid`, `session_key` and maybe `unionid`. The
//!   `session_key` is never read out of the answer (it would let its holder decrypt the user's
//!   data), so it cannot be kept, logged or sent anywhere.
//!
//! WeChat answers errors as HTTP 200 with `{"errcode": N, "errmsg": "…"}` (40029 invalid code,
//! 40163 code already used, 45011 too frequent, -1 busy, …); those are [`WechatError::Refused`].
//! An answer that is not such JSON, an HTTP error status, a timeout or a refused connection is
//! [`WechatError::Unreachable`]. Every call has a timeout, the answer is read up to 64 KiB, and
//! errors never carry the URL (its query holds the app secret or an access token).
//!
//! Only the base URL (`ORIGIN_WECHAT_API_BASE`) differs between production and the tests' stand-in.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::Secret;

pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";
/// An answer larger than this is not one of WeChat's small JSON documents.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Nicknames are kept to the profile's limit (SPEC §1: names 32 characters).
const NICKNAME_MAX_CHARS: usize = shared::validate::NAME_MAX_CHARS;
/// The profile's avatar limit (`PUT /api/users/self`).
const AVATAR_MAX_CHARS: usize = 255;

/// Which of our WeChat clients a code comes from (`type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WechatKind {
    /// The mobile app, signed in through the open platform's OAuth.
    App,
    /// The mini program (`wx.login`).
    Mini,
}

impl WechatKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WechatKind::App => "app",
            WechatKind::Mini => "mini",
        }
    }
}

/// One WeChat application of ours: its AppID and AppSecret.
#[derive(Debug, Clone)]
pub struct WechatApp {
    pub app_id: String,
    pub app_secret: Secret,
}

/// `ORIGIN_WECHAT_*`. Neither app configured: WeChat sign-in answers 501.
#[derive(Debug, Clone)]
pub struct WechatConfig {
    /// `ORIGIN_WECHAT_API_BASE`, without a trailing slash.
    pub api_base: String,
    /// `ORIGIN_WECHAT_APP_ID` / `ORIGIN_WECHAT_APP_SECRET` (open platform, mobile app).
    pub app: Option<WechatApp>,
    /// `ORIGIN_WECHAT_MINI_APP_ID` / `ORIGIN_WECHAT_MINI_APP_SECRET` (mini program).
    pub mini: Option<WechatApp>,
    /// How long one call to WeChat may take, connecting included.
    pub timeout: Duration,
}

impl Default for WechatConfig {
    fn default() -> WechatConfig {
        WechatConfig {
            api_base: DEFAULT_API_BASE.into(),
            app: None,
            mini: None,
            timeout: Duration::from_secs(5),
        }
    }
}

impl WechatConfig {
    /// Reads `ORIGIN_WECHAT_*` through `var` (unset and blank are alike).
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<WechatConfig> {
        let mut config = WechatConfig::default();
        if let Some(base) = var("ORIGIN_WECHAT_API_BASE") {
            let base = base.trim().trim_end_matches('/');
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                bail!("ORIGIN_WECHAT_API_BASE={base}: want an http(s) URL");
            }
            config.api_base = base.to_owned();
        }
        config.app = app_from_env(var, "ORIGIN_WECHAT_APP_ID", "ORIGIN_WECHAT_APP_SECRET")?;
        config.mini = app_from_env(
            var,
            "ORIGIN_WECHAT_MINI_APP_ID",
            "ORIGIN_WECHAT_MINI_APP_SECRET",
        )?;
        Ok(config)
    }
}

fn app_from_env(
    var: &dyn Fn(&str) -> Option<String>,
    id_name: &str,
    secret_name: &str,
) -> anyhow::Result<Option<WechatApp>> {
    match (var(id_name), var(secret_name)) {
        (None, None) => Ok(None),
        (Some(app_id), Some(secret)) => Ok(Some(WechatApp {
            app_id: app_id.trim().to_owned(),
            app_secret: Secret::new(secret.trim()),
        })),
        (Some(_), None) => bail!("{id_name} is set but {secret_name} is not"),
        (None, Some(_)) => bail!("{secret_name} is set but {id_name} is not"),
    }
}

/// Who WeChat says signed in, to which of our apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatIdentity {
    pub app_id: String,
    pub openid: String,
    /// The same person across every app of our open-platform account, when WeChat gives it.
    pub unionid: Option<String>,
    pub profile: WechatProfile,
}

/// What a new account takes from WeChat (the app flow's `sns/userinfo`; a mini program gives
/// none of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WechatProfile {
    pub nickname: Option<String>,
    /// An http(s) URL of at most 255 characters.
    pub avatar: Option<String>,
    /// 0 unknown, 1 male, 2 female.
    pub sex: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    /// WeChat answered `errcode` (not 0).
    #[error("WeChat refused the request: errcode {errcode} ({errmsg})")]
    Refused { errcode: i64, errmsg: String },
    /// No usable answer: a timeout, a refused connection, an HTTP error, or not WeChat's JSON.
    #[error("WeChat did not answer usefully: {0}")]
    Unreachable(String),
}

/// The client for WeChat's sign-in API; present when at least one app is configured.
pub struct WechatClient {
    http: reqwest::Client,
    api_base: String,
    app: Option<WechatApp>,
    mini: Option<WechatApp>,
}

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient")
            .field("api_base", &self.api_base)
            .field("app", &self.app)
            .field("mini", &self.mini)
            .finish_non_exhaustive()
    }
}

/// `sns/oauth2/access_token` and `sns/jscode2session`, as far as they are read. No `Debug`:
/// the access token is a credential.
#[derive(Deserialize)]
struct CodeAnswer {
    #[serde(default)]
    access_token: Option<String>,
    openid: String,
    #[serde(default)]
    unionid: Option<String>,
}

/// `sns/userinfo`, as far as it is read.
#[derive(Deserialize)]
struct UserInfo {
    openid: String,
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    sex: Option<i64>,
    #[serde(default)]
    headimgurl: Option<String>,
    #[serde(default)]
    unionid: Option<String>,
}

impl WechatClient {
    /// The client `config` asks for: `None` when no app is configured.
    pub fn new(config: &WechatConfig) -> anyhow::Result<Option<WechatClient>> {
        if config.app.is_none() && config.mini.is_none() {
            return Ok(None);
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(3)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("origin/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the WeChat HTTP client")?;
        Ok(Some(WechatClient {
            http,
            api_base: config.api_base.clone(),
            app: config.app.clone(),
            mini: config.mini.clone(),
        }))
    }

    /// The configured app of `kind`.
    pub fn app(&self, kind: WechatKind) -> Option<&WechatApp> {
        match kind {
            WechatKind::App => self.app.as_ref(),
            WechatKind::Mini => self.mini.as_ref(),
        }
    }

    /// Exchanges an authorization code of `app` (of `kind`) for who signed in.
    pub async fn identify(
        &self,
        kind: WechatKind,
        app: &WechatApp,
        code: &str,
    ) -> Result<WechatIdentity, WechatError> {
        let secret = app.app_secret.expose();
        let grant = ("grant_type", "authorization_code");
        match kind {
            WechatKind::Mini => {
                let query = [
                    ("appid", app.app_id.as_str()),
                    ("secret", secret),
                    ("js_code", code),
                    grant,
                ];
                let answer: CodeAnswer = self.get("sns/jscode2session", &query).await?;
                identity(app, answer.openid, answer.unionid, WechatProfile::default())
            }
            WechatKind::App => {
                let query = [
                    ("appid", app.app_id.as_str()),
                    ("secret", secret),
                    ("code", code),
                    grant,
                ];
                let answer: CodeAnswer = self.get("sns/oauth2/access_token", &query).await?;
                let token = answer
                    .access_token
                    .filter(|token| !token.is_empty())
                    .ok_or_else(|| {
                        WechatError::Unreachable("no access_token in the code's answer".into())
                    })?;
                let query = [
                    ("access_token", token.as_str()),
                    ("openid", answer.openid.as_str()),
                    ("lang", "zh_CN"),
                ];
                let info: UserInfo = self.get("sns/userinfo", &query).await?;
                if info.openid != answer.openid {
                    return Err(WechatError::Unreachable(
                        "sns/userinfo answered for another openid".into(),
                    ));
                }
                let profile = WechatProfile {
                    nickname: info.nickname.as_deref().and_then(nickname),
                    avatar: info.headimgurl.as_deref().and_then(avatar),
                    sex: info.sex.filter(|sex| (0..=2).contains(sex)),
                };
                // `unionid` comes with the token for apps of an open-platform account; the
                // user's information carries it too.
                identity(app, answer.openid, answer.unionid.or(info.unionid), profile)
            }
        }
    }

    /// `GET {base}/{path}?{query}`, read as WeChat answers: an `errcode` other than 0 is a
    /// refusal, whatever the content type says.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, WechatError> {
        // `without_url`: the query holds the app secret or an access token.
        let unreachable = |error: reqwest::Error| {
            WechatError::Unreachable(format!("{path}: {}", error.without_url()))
        };
        let mut response = self
            .http
            .get(format!("{}/{path}", self.api_base))
            .query(query)
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            return Err(WechatError::Unreachable(format!(
                "{path}: HTTP {}",
                response.status()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(WechatError::Unreachable(format!(
                    "{path}: answer over {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let value: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|_| WechatError::Unreachable(format!("{path}: the answer is not JSON")))?;
        let errcode = value
            .get("errcode")
            .and_then(serde_json::Value::as_i64)
            .unwrap_or(0);
        if errcode != 0 {
            let errmsg = value
                .get("errmsg")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            return Err(WechatError::Refused { errcode, errmsg });
        }
        serde_json::from_value(value).map_err(|error| {
            // The error names the missing or mistyped field, never a value.
            WechatError::Unreachable(format!("{path}: unexpected answer ({error})"))
        })
    }
}

/// An identity from WeChat's ids, which must look like ids (WeChat's are 28–32 characters).
fn identity(
    app: &WechatApp,
    openid: String,
    unionid: Option<String>,
    profile: WechatProfile,
) -> Result<WechatIdentity, WechatError> {
    let well_formed =
        |id: &str| (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic());
    if !well_formed(&openid) {
        return Err(WechatError::Unreachable("a malformed openid".into()));
    }
    let unionid = unionid.filter(|unionid| !unionid.is_empty());
    if unionid
        .as_deref()
        .is_some_and(|unionid| !well_formed(unionid))
    {
        return Err(WechatError::Unreachable("a malformed unionid".into()));
    }
    Ok(WechatIdentity {
        app_id: app.app_id.clone(),
        openid,
        unionid,
        profile,
    })
}

/// A WeChat nickname as a profile nickname: trimmed, at most 32 characters, not blank.
fn nickname(raw: &str) -> Option<String> {
    let nickname: String = raw.trim().chars().take(NICKNAME_MAX_CHARS).collect();
    let nickname = nickname.trim_end().to_owned();
    (!nickname.is_empty()).then_some(nickname)
}

/// A WeChat avatar URL as a profile avatar, if it fits the profile's rule (an http(s) URL of at
/// most 255 characters without whitespace).
fn avatar(raw: &str) -> Option<String> {
    let url = raw.trim();
    let fits = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().count() <= AVATAR_MAX_CHARS
        && !url.chars().any(char::is_whitespace);
    fits.then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn nothing_configured_is_no_client() {
        let config = WechatConfig::from_env(&env(&[])).unwrap();
        assert_eq!(config.api_base, DEFAULT_API_BASE);
        assert!(WechatClient::new(&config).unwrap().is_none());
    }

    #[test]
    fn an_app_id_without_its_secret_is_refused_at_start() {
        let error = WechatConfig::from_env(&env(&[("ORIGIN_WECHAT_MINI_APP_ID", "wx1")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("ORIGIN_WECHAT_MINI_APP_SECRET"), "{error}");
        assert!(
            WechatConfig::from_env(&env(&[("ORIGIN_WECHAT_API_BASE", "api.weixin.qq.com")]))
                .is_err()
        );
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let config = WechatConfig::from_env(&env(&[
            ("ORIGIN_WECHAT_APP_ID", "wxapp"),
            ("ORIGIN_WECHAT_APP_SECRET", "app-secret-value"),
            ("ORIGIN_WECHAT_API_BASE", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!(config.api_base, "http://127.0.0.1:9");
        let client = WechatClient::new(&config).unwrap().unwrap();
        let shown = format!("{config:?} {client:?}");
        assert!(shown.contains("wxapp"), "{shown}");
        assert!(!shown.contains("app-secret-value"), "{shown}");
    }

    #[test]
    fn profiles_keep_only_what_fits() {
        assert_eq!(nickname("  微信用户  ").as_deref(), Some("微信用户"));
        assert_eq!(nickname("   "), None);
        assert_eq!(nickname(&"长".repeat(40)).unwrap().chars().count(), 32);
        assert!(avatar("https://thirdwx.qlogo.cn/mmopen/abc/132").is_some());
        assert!(avatar("http://wx.qlogo.cn/mmopen/abc/0").is_some());
        assert_eq!(avatar(""), None);
        assert_eq!(avatar("javascript:alert(1)"), None);
        assert_eq!(avatar(&format!("https://a/{}", "x".repeat(300))), None);
    }
}
