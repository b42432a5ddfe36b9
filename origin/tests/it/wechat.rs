//! WeChat sign-in (`POST /api/wechat/login`) and WeChat as a bound way to sign in, against the
//! WeChat stand-in (`tests::wechat`): the adapter's base URL points at it, nothing else differs.

use std::time::{Duration, Instant};

use origin::config::Secret;
use origin::wechat::WechatApp;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use tests::wechat::{APP_ID, APP_SECRET, MINI_APP_ID, MINI_APP_SECRET, Person, WechatStandIn};

use crate::support::{PASSWORD, TestApp, json_of, print_error};

/// A test app whose WeChat adapter talks to a fresh stand-in (both apps configured).
async fn with_wechat() -> (TestApp, WechatStandIn) {
    let wechat = WechatStandIn::start().await.unwrap();
    let base = wechat.base_url.clone();
    let app = TestApp::spawn_with(|config| {
        config.wechat.api_base = base;
        config.wechat.app = Some(WechatApp {
            app_id: APP_ID.into(),
            app_secret: Secret::new(APP_SECRET),
        });
        config.wechat.mini = Some(WechatApp {
            app_id: MINI_APP_ID.into(),
            app_secret: Secret::new(MINI_APP_SECRET),
        });
        config.wechat.timeout = Duration::from_secs(2);
    })
    .await;
    (app, wechat)
}

async fn wechat_login(app: &TestApp, body: Value) -> Response {
    app.request(Method::POST, "/api/wechat/login")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Signs `person` in through the app (`type` omitted: the default) and returns the tokens.
async fn sign_in(app: &TestApp, wechat: &WechatStandIn, person: &Person) -> Value {
    let code = wechat.code(APP_ID, person);
    json_of(wechat_login(app, json!({ "code": code })).await, 200).await["data"].clone()
}

async fn me(app: &TestApp, tokens: &Value) -> Value {
    let token = tokens["access_token"].as_str().unwrap();
    json_of(app.get_with_token("/api/users/self", token).await, 200).await["data"].clone()
}

async fn login_modes(app: &TestApp, method: Method, token: &str, body: Value) -> Response {
    app.request(method, "/api/login_modes")
        .header("token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The newest notice the outbox holds for `to`.
fn last_notice(app: &TestApp, to: &str) -> String {
    app.db()
        .query_row(
            "SELECT body FROM outbox WHERE recipient = ?1 ORDER BY id DESC LIMIT 1",
            [to],
            |row| row.get(0),
        )
        .unwrap_or_default()
}

#[tokio::test]
async fn the_first_sign_in_creates_the_account_from_wechat_and_answers_like_login() {
    let (app, wechat) = with_wechat().await;
    let person = wechat.person("小明", true);
    let tokens = sign_in(&app, &wechat, &person).await;
    let mut keys: Vec<_> = tokens.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["access_token", "access_token_expire", "refresh_token"],
        "{tokens}"
    );
    assert_eq!(tokens["access_token_expire"], 7200);
    let profile = me(&app, &tokens).await;
    assert_eq!(profile["nickname"], "小明");
    assert_eq!(profile["avatar"], person.headimgurl.as_str());
    assert_eq!(profile["sex"], 1);
    assert_eq!(profile["is_bind_wx"], true);
    assert_eq!(profile["is_bind_phone"], false);
    assert_eq!(profile["account"], Value::Null);
    let stored: (String, String, String) = app
        .db()
        .query_row(
            "SELECT u.wechat_unionid, w.app_id, w.openid
             FROM users AS u JOIN wechat_openids AS w ON w.user_id = u.id",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        stored,
        (
            person.unionid.clone().unwrap(),
            APP_ID.to_owned(),
            wechat.openid(APP_ID, &person)
        )
    );
    assert_eq!(wechat.calls("/sns/oauth2/access_token"), 1);
    assert_eq!(wechat.calls("/sns/userinfo"), 1);
    // The refresh token works like any other session's.
    let refreshed = app
        .request(Method::POST, "/api/refresh")
        .header("token", tokens["refresh_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    json_of(refreshed, 200).await;
}

#[tokio::test]
async fn wechat_credentials_and_the_session_key_never_leave_the_origin() {
    let (app, wechat) = with_wechat().await;
    let person = wechat.person("安全", true);
    let app_answer = wechat_login(&app, json!({ "code": wechat.code(APP_ID, &person) })).await;
    let app_text = app_answer.text().await.unwrap();
    let mini_code = wechat.code(MINI_APP_ID, &person);
    let mini_answer = wechat_login(&app, json!({ "code": mini_code, "type": "mini" })).await;
    let mini_text = mini_answer.text().await.unwrap();
    let credentials = wechat.credentials();
    assert_eq!(credentials.len(), 2, "an access token and a session key");
    // Everything the origin stored, WAL included.
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            stored.extend(std::fs::read(&path).unwrap());
        }
    }
    let stored = String::from_utf8_lossy(&stored);
    for credential in &credentials {
        assert!(!app_text.contains(credential.as_str()), "{app_text}");
        assert!(!mini_text.contains(credential.as_str()), "{mini_text}");
        assert!(!stored.contains(credential.as_str()));
    }
    assert!(!stored.contains(APP_SECRET) && !stored.contains(MINI_APP_SECRET));
    assert!(!format!("{:?}", app.state.config).contains(APP_SECRET));
}

#[tokio::test]
async fn a_later_sign_in_finds_the_same_account_and_each_code_works_once() {
    let (app, wechat) = with_wechat().await;
    let person = wechat.person("回头客", false);
    let first_code = wechat.code(APP_ID, &person);
    let first = json_of(wechat_login(&app, json!({ "code": first_code })).await, 200).await;
    let again = sign_in(&app, &wechat, &person).await;
    assert_eq!(
        me(&app, &first["data"]).await["id"],
        me(&app, &again).await["id"]
    );
    assert_eq!(app.user_count(), 1);

    // A used code is WeChat's 40163; an unknown or expired one its 40029: both 400 naming `code`.
    let reused = print_error(
        wechat_login(&app, json!({ "code": first_code })).await,
        400,
        999,
    )
    .await;
    assert!(reused["errors"]["code"].is_array(), "{reused}");
    let unknown = wechat_login(&app, json!({ "code": "0a1b2c3d4e5f" })).await;
    print_error(unknown, 400, 999).await;
    let stale = wechat.code(APP_ID, &person);
    wechat.expire_codes();
    print_error(wechat_login(&app, json!({ "code": stale })).await, 400, 999).await;
    // A code of the app is not one of the mini program.
    let crossed = wechat.code(APP_ID, &person);
    let crossed = wechat_login(&app, json!({ "code": crossed, "type": "mini" })).await;
    print_error(crossed, 400, 999).await;
    assert_eq!(app.user_count(), 1);
}

#[tokio::test]
async fn the_unionid_joins_the_app_and_the_mini_program_and_without_it_they_stay_apart() {
    let (app, wechat) = with_wechat().await;
    let joined = wechat.person("同一人", true);
    let by_app = sign_in(&app, &wechat, &joined).await;
    let code = wechat.code(MINI_APP_ID, &joined);
    let by_mini = wechat_login(&app, json!({ "code": code, "type": "mini" })).await;
    let by_mini = json_of(by_mini, 200).await["data"].clone();
    assert_eq!(
        me(&app, &by_app).await["id"],
        me(&app, &by_mini).await["id"]
    );
    assert_eq!(app.count("SELECT count(*) FROM wechat_openids"), 2);
    assert_eq!(wechat.calls("/sns/jscode2session"), 1);

    // Without a unionid the identity is (app id, openid): two accounts. A mini program gives
    // no profile, so the account it makes is 微信用户 without an avatar.
    let apart = wechat.person("两个号", false);
    let by_app = sign_in(&app, &wechat, &apart).await;
    let code = wechat.code(MINI_APP_ID, &apart);
    let by_mini = wechat_login(&app, json!({ "code": code, "type": "mini" })).await;
    let mini_profile = me(&app, &json_of(by_mini, 200).await["data"]).await;
    assert_ne!(me(&app, &by_app).await["id"], mini_profile["id"]);
    assert_eq!(mini_profile["nickname"], "微信用户");
    assert_eq!(mini_profile["avatar"], "");
    assert_eq!(app.user_count(), 3);
}

#[tokio::test]
async fn wechat_errors_are_clear_400s_an_outage_is_502_and_it_recovers() {
    let (app, wechat) = with_wechat().await;
    let person = wechat.person("出错", true);
    let cases = [
        (-1, "system error", "繁忙"),
        (45011, "api minute-quota reach limit", "频繁"),
        (40226, "code blocked", "风险"),
        (40125, "invalid appsecret", "40125"),
    ];
    for (errcode, errmsg, said) in cases {
        wechat.fail_next(errcode, errmsg);
        let code = wechat.code(APP_ID, &person);
        let body = print_error(wechat_login(&app, json!({ "code": code })).await, 400, 999).await;
        assert!(body["message"].as_str().unwrap().contains(said), "{body}");
    }
    wechat.set_down(true);
    let code = wechat.code(APP_ID, &person);
    print_error(wechat_login(&app, json!({ "code": code })).await, 502, 999).await;
    wechat.set_down(false);
    let code = wechat.code(APP_ID, &person);
    json_of(wechat_login(&app, json!({ "code": code })).await, 200).await;

    let body = print_error(wechat_login(&app, json!({ "type": "app" })).await, 400, 999).await;
    assert!(body["errors"]["code"].is_array(), "{body}");
    let body = wechat_login(&app, json!({ "code": "x", "type": "web" })).await;
    assert!(print_error(body, 400, 999).await["errors"]["type"].is_array());
}

#[tokio::test]
async fn the_stand_in_checks_the_secret_and_a_silent_wechat_times_out() {
    let wechat = WechatStandIn::start().await.unwrap();
    let base = wechat.base_url.clone();
    let app = TestApp::spawn_with(|config| {
        config.wechat.api_base = base;
        config.wechat.mini = Some(WechatApp {
            app_id: MINI_APP_ID.into(),
            app_secret: Secret::new("not-the-secret"),
        });
    })
    .await;
    let code = wechat.code(MINI_APP_ID, &wechat.person("错密钥", false));
    let refused = wechat_login(&app, json!({ "code": code, "type": "mini" })).await;
    let body = print_error(refused, 400, 999).await;
    assert!(
        body["message"].as_str().unwrap().contains("40125"),
        "{body}"
    );
    // Only the mini program is configured: the app's sign-in is not available.
    print_error(wechat_login(&app, json!({ "code": "x" })).await, 501, 999).await;

    // A WeChat that accepts the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_base = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let app = TestApp::spawn_with(|config| {
        config.wechat.api_base = silent_base;
        config.wechat.app = Some(WechatApp {
            app_id: APP_ID.into(),
            app_secret: Secret::new(APP_SECRET),
        });
        config.wechat.timeout = Duration::from_millis(500);
    })
    .await;
    let started = Instant::now();
    print_error(wechat_login(&app, json!({ "code": "x" })).await, 502, 999).await;
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn without_a_wechat_app_configured_sign_in_and_binding_answer_501() {
    let app = TestApp::spawn().await;
    print_error(wechat_login(&app, json!({ "code": "x" })).await, 501, 999).await;
    print_error(wechat_login(&app, json!({})).await, 501, 999).await;
    let (token, _) = app.member().await;
    let bind = login_modes(&app, Method::POST, &token, json!({ "wechat_code": "x" })).await;
    print_error(bind, 501, 999).await;
}

#[tokio::test]
async fn a_member_binds_wechat_signs_in_with_it_and_the_phone_is_told() {
    let (app, wechat) = with_wechat().await;
    let phone = app.phone();
    let token = app.register_print(&phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let person = wechat.person("绑定者", true);
    let code = wechat.code(APP_ID, &person);
    let bound = login_modes(&app, Method::POST, &token, json!({ "wechat_code": code })).await;
    assert!(
        bound.headers()["x-edge-invalidate"]
            .to_str()
            .unwrap()
            .contains("bump")
    );
    json_of(bound, 200).await;
    assert!(last_notice(&app, &phone).contains("绑定了微信"));
    let profile = json_of(app.get_with_token("/api/users/self", &token).await, 200).await;
    assert_eq!(profile["data"]["is_bind_wx"], true);
    // The member keeps their own nickname; WeChat now signs in to the same account.
    assert_eq!(
        me(&app, &sign_in(&app, &wechat, &person).await).await["id"],
        profile["data"]["id"]
    );
    // The mini program of the same WeChat user (same unionid) is the same WeChat: no proof.
    let code = wechat.code(MINI_APP_ID, &person);
    let body = json!({ "wechat_code": code, "type": "mini" });
    json_of(login_modes(&app, Method::POST, &token, body).await, 200).await;
    assert_eq!(app.user_count(), 1);

    // WeChat another account holds is 20002.
    let (other, _) = app.member().await;
    let code = wechat.code(APP_ID, &person);
    let taken = login_modes(&app, Method::POST, &other, json!({ "wechat_code": code })).await;
    print_error(taken, 400, 20002).await;
    // One request binds one way in.
    let both = json!({ "wechat_code": "x", "verification_token": "t", "verification_code": "1" });
    let both = print_error(
        login_modes(&app, Method::POST, &token, both).await,
        400,
        999,
    )
    .await;
    assert!(both["errors"]["wechat_code"].is_array(), "{both}");
}

#[tokio::test]
async fn replacing_a_bound_wechat_needs_the_password() {
    let (app, wechat) = with_wechat().await;
    let (token, user_id) = app.member().await;
    let first = wechat.person("旧微信", true);
    let second = wechat.person("新微信", true);
    let code = wechat.code(APP_ID, &first);
    json_of(
        login_modes(&app, Method::POST, &token, json!({ "wechat_code": code })).await,
        200,
    )
    .await;

    let code = wechat.code(APP_ID, &second);
    let bare = login_modes(&app, Method::POST, &token, json!({ "wechat_code": code })).await;
    assert!(print_error(bare, 400, 999).await["errors"]["password"].is_array());
    let code = wechat.code(APP_ID, &second);
    let body = json!({ "wechat_code": code, "password": "wrong-password-1" });
    print_error(
        login_modes(&app, Method::POST, &token, body).await,
        400,
        20001,
    )
    .await;
    let code = wechat.code(APP_ID, &second);
    let body = json!({ "wechat_code": code, "password": PASSWORD });
    json_of(login_modes(&app, Method::POST, &token, body).await, 200).await;

    assert_eq!(
        me(&app, &sign_in(&app, &wechat, &second).await).await["id"],
        user_id
    );
    // The replaced WeChat is nobody's now: it makes a new account.
    assert_ne!(
        me(&app, &sign_in(&app, &wechat, &first).await).await["id"],
        user_id
    );
}

#[tokio::test]
async fn an_account_without_a_password_replaces_its_wechat_with_a_code_of_the_bound_one() {
    let (app, wechat) = with_wechat().await;
    let bound = wechat.person("原来的", false);
    let tokens = sign_in(&app, &wechat, &bound).await;
    let token = tokens["access_token"].as_str().unwrap();
    let next = wechat.person("新来的", false);
    let stranger = wechat.person("陌生人", false);

    let code = wechat.code(APP_ID, &next);
    let bare = login_modes(&app, Method::POST, token, json!({ "wechat_code": code })).await;
    assert!(print_error(bare, 400, 999).await["errors"]["old_wechat_code"].is_array());
    let body = json!({
        "wechat_code": wechat.code(APP_ID, &next),
        "old_wechat_code": wechat.code(APP_ID, &stranger),
    });
    let foreign = login_modes(&app, Method::POST, token, body).await;
    assert!(print_error(foreign, 400, 999).await["errors"]["old_wechat_code"].is_array());
    let body = json!({
        "wechat_code": wechat.code(APP_ID, &next),
        "old_wechat_code": wechat.code(MINI_APP_ID, &bound),
        "old_wechat_type": "mini",
    });
    // Without a unionid the mini program's openid is another identity: not the bound one.
    let other_app = login_modes(&app, Method::POST, token, body).await;
    print_error(other_app, 400, 999).await;
    let body = json!({
        "wechat_code": wechat.code(APP_ID, &next),
        "old_wechat_code": wechat.code(APP_ID, &bound),
    });
    json_of(login_modes(&app, Method::POST, token, body).await, 200).await;
    let id = me(&app, &tokens).await["id"].clone();
    assert_eq!(
        me(&app, &sign_in(&app, &wechat, &next).await).await["id"],
        id
    );
}

#[tokio::test]
async fn unbinding_wechat_needs_a_proof_and_never_removes_the_last_way_in() {
    let (app, wechat) = with_wechat().await;
    // A WeChat-only account cannot drop WeChat.
    let only = wechat.person("只有微信", false);
    let tokens = sign_in(&app, &wechat, &only).await;
    let only_token = tokens["access_token"].as_str().unwrap().to_owned();
    let body = json!({ "type": "wechat", "old_wechat_code": wechat.code(APP_ID, &only) });
    let last = print_error(
        login_modes(&app, Method::DELETE, &only_token, body).await,
        400,
        999,
    )
    .await;
    assert!(last["message"].as_str().unwrap().contains("唯一"), "{last}");

    // It binds a phone (a new kind: that phone's code alone); then the phone may go, since
    // WeChat remains, with a code sent to it (the account has no password).
    let phone = app.phone();
    let (verification_token, code) = app.sms_code(&phone, true).await;
    let body = json!({ "verification_token": verification_token, "verification_code": code });
    json_of(
        login_modes(&app, Method::POST, &only_token, body).await,
        200,
    )
    .await;
    app.age_codes();
    let (old_token, old_code) = app.sms_code(&phone, false).await;
    let body = json!({
        "type": "phone", "old_verification_token": old_token, "old_verification_code": old_code,
    });
    json_of(
        login_modes(&app, Method::DELETE, &only_token, body).await,
        200,
    )
    .await;

    // A member with a password unbinds WeChat with it; its phone is told.
    let phone = app.phone();
    let token = app.register_print(&phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let person = wechat.person("要解绑", true);
    let code = wechat.code(APP_ID, &person);
    json_of(
        login_modes(&app, Method::POST, &token, json!({ "wechat_code": code })).await,
        200,
    )
    .await;
    let bare = login_modes(&app, Method::DELETE, &token, json!({ "type": "wechat" })).await;
    assert!(print_error(bare, 400, 999).await["errors"]["password"].is_array());
    let body = json!({ "type": "wechat", "password": PASSWORD });
    json_of(
        login_modes(&app, Method::DELETE, &token, body.clone()).await,
        200,
    )
    .await;
    assert!(last_notice(&app, &phone).contains("已解绑微信"));
    let profile = json_of(app.get_with_token("/api/users/self", &token).await, 200).await;
    assert_eq!(profile["data"]["is_bind_wx"], false);
    let again = print_error(
        login_modes(&app, Method::DELETE, &token, body).await,
        400,
        999,
    )
    .await;
    assert!(
        again["message"].as_str().unwrap().contains("未绑定微信"),
        "{again}"
    );
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_with_wechat() {
    let (app, wechat) = with_wechat().await;
    let person = wechat.person("被禁用", true);
    let user_id = me(&app, &sign_in(&app, &wechat, &person).await).await["id"]
        .as_i64()
        .unwrap();
    let root = app.admin_token().await;
    let path = format!("/admin/users/{user_id}");
    let disabled = app
        .admin_call(&root, Method::PUT, &path, json!({ "disabled": true }))
        .await;
    json_of(disabled, 200).await;
    let code = wechat.code(APP_ID, &person);
    print_error(wechat_login(&app, json!({ "code": code })).await, 403, 999).await;
}
