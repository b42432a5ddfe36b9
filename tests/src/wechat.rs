//! A stand-in for WeChat's sign-in API (`api.weixin.qq.com`), so the origin's WeChat adapter is
//! tested against the protocol it meets in production with only the base URL changed.
//!
//! It serves the three endpoints the adapter calls, as WeChat documents them:
//! `GET /sns/oauth2/access_token` and `GET /sns/userinfo` (open platform, mobile app) and
//! `GET /sns/jscode2session` (mini program). Like WeChat it checks the app id and secret and
//! `grant_type`, answers errors as HTTP 200 with `{"errcode": N, "errmsg": "…"}` (40029 invalid
//! code, 40163 code been used, 40013 invalid appid, 40125 invalid appsecret, 40014 invalid
//! access_token, 40003 invalid openid, 41002/41004/41008 missing parameters, 40002 invalid
//! grant_type), lets a code be used once and only within its life (10 minutes for the app, 5
//! for the mini program), gives each person a different openid per app and a `unionid` only to
//! people whose apps share an open-platform account, and labels every answer `text/plain`, as
//! WeChat's servers have been seen to, so the adapter cannot lean on the content type. A test can
//! also make it fail the next call with an error of its choice, or go down (an HTML 503 from the
//! gateway).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The stand-in's mobile app (open platform): `ORIGIN_WECHAT_APP_ID` / `…_APP_SECRET`.
pub const APP_ID: &str = "wx5tandin0000app";
pub const APP_SECRET: &str = "test-only-app-secret-0123456789ab";
/// The stand-in's mini program: `ORIGIN_WECHAT_MINI_APP_ID` / `…_MINI_APP_SECRET`.
pub const MINI_APP_ID: &str = "wx5tandin000mini";
pub const MINI_APP_SECRET: &str = "test-only-mini-secret-0123456789a";

const APP_CODE_LIFE: Duration = Duration::from_secs(600);
const MINI_CODE_LIFE: Duration = Duration::from_secs(300);
const ACCESS_TOKEN_LIFE: Duration = Duration::from_secs(7200);

/// A WeChat user as the stand-in knows them.
#[derive(Debug, Clone)]
pub struct Person {
    key: String,
    pub nickname: String,
    pub headimgurl: String,
    pub sex: i64,
    /// Present when the person's apps (ours) share an open-platform account.
    pub unionid: Option<String>,
}

struct IssuedCode {
    app_id: String,
    person: Person,
    expires: Instant,
    used: bool,
}

struct AccessToken {
    openid: String,
    person: Person,
    expires: Instant,
}

#[derive(Default)]
struct Inner {
    codes: HashMap<String, IssuedCode>,
    tokens: HashMap<String, AccessToken>,
    /// The error the next call answers with, whatever it asks.
    fail_next: Option<(i64, String)>,
    /// While set, every call gets the gateway's 503.
    down: bool,
    /// Calls per path.
    calls: HashMap<String, u64>,
    /// Every access token and session key handed out: none may leave the origin.
    credentials: Vec<String>,
}

type Shared = Arc<Mutex<Inner>>;

/// The running stand-in; it serves as long as the runtime that started it runs.
#[derive(Clone)]
pub struct WechatStandIn {
    /// What `ORIGIN_WECHAT_API_BASE` is set to.
    pub base_url: String,
    inner: Shared,
    counter: Arc<AtomicU64>,
}

impl WechatStandIn {
    /// Starts the stand-in on a free loopback port.
    pub async fn start() -> anyhow::Result<WechatStandIn> {
        let inner = Shared::default();
        let router = Router::new()
            .route("/sns/oauth2/access_token", get(access_token))
            .route("/sns/userinfo", get(userinfo))
            .route("/sns/jscode2session", get(jscode2session))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(WechatStandIn {
            base_url,
            inner,
            counter: Arc::new(AtomicU64::new(1)),
        })
    }

    fn unique(&self, what: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let digest = Sha256::digest(format!("{what}:{n}:{}", std::process::id()));
        hex::encode(&digest[..14])
    }

    /// A new WeChat user; `with_unionid` when our apps share an open-platform account.
    pub fn person(&self, nickname: &str, with_unionid: bool) -> Person {
        let key = self.unique("person");
        Person {
            nickname: nickname.to_owned(),
            headimgurl: format!("https://thirdwx.qlogo.cn/mmopen/vi_32/{key}/132"),
            sex: 1,
            unionid: with_unionid.then(|| format!("oU{}", &key[..26])),
            key,
        }
    }

    /// The openid `person` has in the app `app_id` (different in every app, as WeChat's are).
    pub fn openid(&self, app_id: &str, person: &Person) -> String {
        openid_of(app_id, person)
    }

    /// An authorization code `person` hands the app `app_id` (what the SDK returns).
    pub fn code(&self, app_id: &str, person: &Person) -> String {
        let code = format!("0{}", &self.unique("code")[..27]);
        let life = if app_id == MINI_APP_ID {
            MINI_CODE_LIFE
        } else {
            APP_CODE_LIFE
        };
        self.inner.lock().unwrap().codes.insert(
            code.clone(),
            IssuedCode {
                app_id: app_id.to_owned(),
                person: person.clone(),
                expires: Instant::now() + life,
                used: false,
            },
        );
        code
    }

    /// Lets every code issued so far outlive its life.
    pub fn expire_codes(&self) {
        let past = Instant::now() - Duration::from_secs(1);
        for code in self.inner.lock().unwrap().codes.values_mut() {
            code.expires = past;
        }
    }

    /// The next call answers `{"errcode": errcode, "errmsg": errmsg}`.
    pub fn fail_next(&self, errcode: i64, errmsg: &str) {
        self.inner.lock().unwrap().fail_next = Some((errcode, errmsg.to_owned()));
    }

    /// Takes the service down (every call gets an HTML 503) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.inner.lock().unwrap().down = down;
    }

    /// Every access token and session key the stand-in has handed out.
    pub fn credentials(&self) -> Vec<String> {
        self.inner.lock().unwrap().credentials.clone()
    }

    /// How many calls `path` (`/sns/…`) has had.
    pub fn calls(&self, path: &str) -> u64 {
        self.inner
            .lock()
            .unwrap()
            .calls
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// WeChat labels its JSON `text/plain`; so does the stand-in.
fn answer(body: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain")],
        body.to_string(),
    )
        .into_response()
}

fn error(errcode: i64, errmsg: &str) -> Response {
    let rid = format!("rid: {:08x}", rand_like(errmsg));
    answer(json!({ "errcode": errcode, "errmsg": format!("{errmsg}, {rid}") }))
}

fn rand_like(seed: &str) -> u32 {
    let digest = Sha256::digest(format!("{seed}{:?}", Instant::now()));
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// An `errcode` and its `errmsg`, as WeChat answers a refused call.
struct Refusal(i64, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// What every call goes through first: counting, an outage, a forced error.
fn before(inner: &mut Inner, path: &str) -> Option<Response> {
    *inner.calls.entry(path.to_owned()).or_default() += 1;
    if inner.down {
        let page = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>";
        return Some(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/html")],
                page,
            )
                .into_response(),
        );
    }
    inner
        .fail_next
        .take()
        .map(|(errcode, errmsg)| error(errcode, &errmsg))
}

/// The app's credentials, checked as WeChat checks them.
fn check_app(query: &HashMap<String, String>, kind_app_id: &str) -> Result<String, Refusal> {
    let Some(app_id) = query.get("appid").filter(|id| !id.is_empty()) else {
        return Err(Refusal(41002, "appid missing"));
    };
    let Some(secret) = query.get("secret").filter(|secret| !secret.is_empty()) else {
        return Err(Refusal(41004, "appsecret missing"));
    };
    if app_id != kind_app_id {
        return Err(Refusal(40013, "invalid appid"));
    }
    let expected = if app_id == APP_ID {
        APP_SECRET
    } else {
        MINI_APP_SECRET
    };
    if secret != expected {
        return Err(Refusal(40125, "invalid appsecret"));
    }
    if query.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Err(Refusal(40002, "invalid grant_type"));
    }
    Ok(app_id.clone())
}

/// Spends a code of `app_id`: unknown, foreign or expired is 40029, used is 40163.
fn spend(inner: &mut Inner, app_id: &str, code: Option<&String>) -> Result<Person, Refusal> {
    let Some(code) = code.filter(|code| !code.is_empty()) else {
        return Err(Refusal(41008, "missing code"));
    };
    let Some(issued) = inner.codes.get_mut(code) else {
        return Err(Refusal(40029, "invalid code"));
    };
    if issued.app_id != app_id || issued.expires < Instant::now() {
        return Err(Refusal(40029, "invalid code"));
    }
    if issued.used {
        return Err(Refusal(40163, "code been used"));
    }
    issued.used = true;
    Ok(issued.person.clone())
}

fn openid_of(app_id: &str, person: &Person) -> String {
    let digest = Sha256::digest(format!("{app_id}:{}", person.key));
    format!("o{}", &hex::encode(digest)[..27])
}

async fn access_token(
    State(inner): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Some(response) = before(&mut inner, "/sns/oauth2/access_token") {
        return response;
    }
    let result = check_app(&query, APP_ID)
        .and_then(|app_id| spend(&mut inner, &app_id, query.get("code")).map(|p| (app_id, p)));
    let (app_id, person) = match result {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let openid = openid_of(&app_id, &person);
    let token = hex::encode(Sha256::digest(format!(
        "token:{openid}:{:?}",
        Instant::now()
    )));
    inner.credentials.push(token.clone());
    inner.tokens.insert(
        token.clone(),
        AccessToken {
            openid: openid.clone(),
            person: person.clone(),
            expires: Instant::now() + ACCESS_TOKEN_LIFE,
        },
    );
    let mut body = json!({
        "access_token": token,
        "expires_in": ACCESS_TOKEN_LIFE.as_secs(),
        "refresh_token": hex::encode(Sha256::digest(format!("refresh:{token}"))),
        "openid": openid,
        "scope": "snsapi_userinfo",
    });
    if let Some(unionid) = &person.unionid {
        body["unionid"] = json!(unionid);
    }
    answer(body)
}

async fn userinfo(
    State(inner): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Some(response) = before(&mut inner, "/sns/userinfo") {
        return response;
    }
    let Some(token) = query.get("access_token").filter(|token| !token.is_empty()) else {
        return error(41001, "access_token missing");
    };
    let Some(granted) = inner.tokens.get(token) else {
        return error(40014, "invalid access_token");
    };
    if granted.expires < Instant::now() {
        return error(42001, "access_token expired");
    }
    if query.get("openid") != Some(&granted.openid) {
        return error(40003, "invalid openid");
    }
    let person = &granted.person;
    let mut body = json!({
        "openid": granted.openid,
        "nickname": person.nickname,
        "sex": person.sex,
        "language": "",
        "city": "",
        "province": "",
        "country": "",
        "headimgurl": person.headimgurl,
        "privilege": [],
    });
    if let Some(unionid) = &person.unionid {
        body["unionid"] = json!(unionid);
    }
    answer(body)
}

async fn jscode2session(
    State(inner): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Some(response) = before(&mut inner, "/sns/jscode2session") {
        return response;
    }
    let result = check_app(&query, MINI_APP_ID).and_then(|app_id| {
        spend(&mut inner, &app_id, query.get("js_code")).map(|person| (app_id, person))
    });
    let (app_id, person) = match result {
        Ok(found) => found,
        Err(refusal) => return refusal.into_response(),
    };
    let openid = openid_of(&app_id, &person);
    let session_key = base64_like(&format!("session:{openid}:{:?}", Instant::now()));
    inner.credentials.push(session_key.clone());
    let mut body = json!({ "session_key": session_key, "openid": openid });
    if let Some(unionid) = &person.unionid {
        body["unionid"] = json!(unionid);
    }
    answer(body)
}

/// A session key's shape (24 characters of base64); the origin must never show it.
fn base64_like(seed: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(&Sha256::digest(seed)[..18])
}
