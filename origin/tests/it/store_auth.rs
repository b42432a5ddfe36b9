//! The store dialect's identity endpoints over real HTTP against a real SQLite file.

use base64::Engine;
use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, json_of, store_error};

#[tokio::test]
async fn response_code_lists_every_documented_code() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::GET, "/api/response_code")
        .send()
        .await
        .unwrap();
    let body = json_of(response, 200).await;
    assert_eq!(body["code"], 20001);
    assert_eq!(body["message"], "操作成功");
    assert_eq!(body["data"]["10001"], "参数有误");
    assert_eq!(body["data"]["40005"], "请求过期");
    assert_eq!(body["data"].as_object().unwrap().len(), 8);
}

#[tokio::test]
async fn captcha_is_a_real_png_valid_for_five_minutes_with_its_answer_hashed() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::POST, "/api/captchas?username=ann")
        .send()
        .await
        .unwrap();
    let body = json_of(response, 201).await;
    let data = &body["data"];
    let image = data["captcha_image_content"].as_str().unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(image.strip_prefix("data:image/png;base64,").unwrap())
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let expired_at = time::OffsetDateTime::parse(
        data["expired_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let life = expired_at - time::OffsetDateTime::now_utc();
    assert!(
        life.whole_seconds() > 290 && life.whole_seconds() <= 300,
        "{life}"
    );
    assert!(data["expired_at"].as_str().unwrap().ends_with("+08:00"));
    let key = data["captcha_key"].as_str().unwrap();
    let answer = app.outbox_code(key).await;
    let stored: String = app
        .db()
        .query_row(
            "SELECT answer_hash FROM captchas WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!stored.contains(&answer) && stored.len() == 64);
}

#[tokio::test]
async fn captcha_needs_a_username() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::POST, "/api/captchas")
        .send()
        .await
        .unwrap();
    let body = store_error(response, 422, 10001).await;
    assert!(body["errors"]["username"].is_array());
    assert_eq!(app.count("SELECT count(*) FROM captchas"), 0);
}

#[tokio::test]
async fn captchas_are_limited_per_client_ip_with_retry_after() {
    let app = TestApp::spawn().await;
    for _ in 0..10 {
        let response = app
            .request(Method::POST, "/api/captchas?username=ann")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let response = app
        .request(Method::POST, "/api/captchas?username=ann")
        .send()
        .await
        .unwrap();
    let retry_after = crate::support::retry_after(&response);
    assert!((1..=60).contains(&retry_after));
    store_error(response, 429, 40001).await;
    let other_ip = app
        .request_from(Method::POST, "/api/captchas?username=ann", "203.0.113.99")
        .send()
        .await
        .unwrap();
    assert_eq!(other_ip.status(), 201);
}

#[tokio::test]
async fn register_with_parameters_in_the_query_string_returns_user_and_token() {
    let app = TestApp::spawn().await;
    let invitation = app.invitation(1).await;
    let (key, answer) = app.captcha("ann2026").await;
    let registration = app.store_registration("ann2026", &invitation, &key, &answer);
    let query: Vec<(String, String)> = registration
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let response = app
        .request(Method::POST, "/api/auth/register")
        .query(&query)
        .send()
        .await
        .unwrap();
    let body = json_of(response, 201).await;
    assert_eq!(body["code"], 20001);
    let data = &body["data"];
    assert_eq!(data["token_type"], "bearer");
    assert_eq!(data["expires_in"], 7200);
    assert_eq!(data["user"]["username"], "ann2026");
    assert_eq!(data["user"]["name"], "Ann");
    let token = data["access_token"].as_str().unwrap();
    let me = json_of(app.get_with_bearer("/api/auth/me", token).await, 200).await;
    assert_eq!(me["data"]["username"], "ann2026");
    assert_eq!(me["data"]["id"], data["user"]["id"]);
    for field in [
        "id",
        "name",
        "username",
        "phone",
        "email",
        "avatar",
        "created_at",
    ] {
        assert!(me["data"].get(field).is_some(), "me lacks {field}");
    }
    assert_eq!(app.count("SELECT uses_left FROM invitation_codes"), 0);
}

#[tokio::test]
async fn a_wrong_captcha_answer_is_refused_and_burns_the_captcha() {
    let app = TestApp::spawn().await;
    let invitation = app.invitation(5).await;
    let (key, answer) = app.captcha("bob2026").await;
    let wrong = app.store_registration("bob2026", &invitation, &key, "zzzzz");
    let response = app
        .request(Method::POST, "/api/auth/register")
        .json(&wrong)
        .send()
        .await
        .unwrap();
    let body = store_error(response, 422, 10001).await;
    assert!(body["errors"]["captcha_code"].is_array());
    // The right answer no longer helps: one attempt per key.
    let right = app.store_registration("bob2026", &invitation, &key, &answer);
    let response = app
        .request(Method::POST, "/api/auth/register")
        .json(&right)
        .send()
        .await
        .unwrap();
    store_error(response, 422, 40005).await;
    assert_eq!(app.user_count(), 0);
    assert_eq!(app.count("SELECT uses_left FROM invitation_codes"), 5);
}

#[tokio::test]
async fn an_expired_captcha_is_refused_as_expired() {
    let app = TestApp::spawn().await;
    let invitation = app.invitation(1).await;
    let (key, answer) = app.captcha("cat2026").await;
    app.db()
        .execute("UPDATE captchas SET expires_at = expires_at - 301", [])
        .unwrap();
    let response = app
        .request(Method::POST, "/api/auth/register")
        .json(&app.store_registration("cat2026", &invitation, &key, &answer))
        .send()
        .await
        .unwrap();
    store_error(response, 422, 40005).await;
}

#[tokio::test]
async fn bad_fields_are_refused_before_the_captcha_is_spent() {
    let app = TestApp::spawn().await;
    let invitation = app.invitation(1).await;
    let (key, answer) = app.captcha("dan2026").await;
    let cases = [
        ("username", json!("no spaces")),
        ("username", json!("13800138000")),
        ("password", json!("short")),
        ("password_confirmation", json!("different-password")),
        ("name", json!("")),
        ("name", json!("名".repeat(33))),
    ];
    for (field, value) in cases {
        let mut registration = app.store_registration("dan2026", &invitation, &key, &answer);
        registration[field] = value;
        let response = app
            .request(Method::POST, "/api/auth/register")
            .json(&registration)
            .send()
            .await
            .unwrap();
        let body = store_error(response, 422, 10001).await;
        assert!(body["errors"][field].is_array(), "{field}: {body}");
    }
    // Nothing was spent: the captcha still works.
    let response = app
        .request(Method::POST, "/api/auth/register")
        .json(&app.store_registration("dan2026", &invitation, &key, &answer))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await;
}

#[tokio::test]
async fn unknown_exhausted_and_expired_invitations_are_refused_and_create_nobody() {
    let app = TestApp::spawn().await;
    app.register_store("first2026").await;
    let exhausted: String = app
        .db()
        .query_row(
            "SELECT code FROM invitation_codes WHERE uses_left = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let expired = app.invitation(3).await;
    app.db()
        .execute(
            "UPDATE invitation_codes SET expires_at = 1 WHERE code = ?1",
            [&expired],
        )
        .unwrap();
    for (invitation, code) in [
        ("NOPE", 10001),
        (exhausted.as_str(), 10001),
        (expired.as_str(), 40005),
    ] {
        let (key, answer) = app.captcha("eve2026").await;
        let response = app
            .request(Method::POST, "/api/auth/register")
            .json(&app.store_registration("eve2026", invitation, &key, &answer))
            .send()
            .await
            .unwrap();
        store_error(response, 422, code).await;
    }
    assert_eq!(app.user_count(), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT uses_left FROM invitation_codes WHERE code = '{expired}'"
        )),
        3
    );
}

#[tokio::test]
async fn a_taken_username_is_a_data_conflict_and_keeps_the_invitation_use() {
    let app = TestApp::spawn().await;
    app.register_store("frank2026").await;
    let invitation = app.invitation(1).await;
    let (key, answer) = app.captcha("frank2026").await;
    let response = app
        .request(Method::POST, "/api/auth/register")
        .json(&app.store_registration("frank2026", &invitation, &key, &answer))
        .send()
        .await
        .unwrap();
    let body = store_error(response, 422, 10003).await;
    assert!(body["errors"]["username"].is_array());
    assert_eq!(
        app.count(&format!(
            "SELECT uses_left FROM invitation_codes WHERE code = '{invitation}'"
        )),
        1
    );
}

#[tokio::test]
async fn one_invitation_use_is_consumed_exactly_once_under_concurrent_registrations() {
    let app = TestApp::spawn().await;
    let invitation = app.invitation(1).await;
    let mut forms = Vec::new();
    for index in 0..4 {
        let username = format!("race{index}x");
        let (key, answer) = app.captcha(&username).await;
        forms.push(app.store_registration(&username, &invitation, &key, &answer));
    }
    let pending: Vec<_> = forms
        .iter()
        .map(|form| {
            tokio::spawn(
                app.request(Method::POST, "/api/auth/register")
                    .json(form)
                    .send(),
            )
        })
        .collect();
    let mut created = 0;
    for response in pending {
        let response = response.await.unwrap().unwrap();
        if response.status() == 201 {
            created += 1;
        } else {
            store_error(response, 422, 10001).await;
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.user_count(), 1);
    assert_eq!(app.count("SELECT uses_left FROM invitation_codes"), 0);
}

#[tokio::test]
async fn login_by_username_and_wrong_credentials_look_the_same_for_known_and_unknown_users() {
    let app = TestApp::spawn().await;
    app.register_store("gina2026").await;
    let ok = json_of(app.store_login("gina2026", PASSWORD).await, 200).await;
    assert_eq!(ok["data"]["token_type"], "bearer");
    assert!(
        ok["data"]["access_token"]
            .as_str()
            .unwrap()
            .split('.')
            .count()
            == 3
    );
    let wrong = store_error(
        app.store_login("gina2026", "wrong-password").await,
        422,
        10001,
    )
    .await;
    let unknown = store_error(
        app.store_login("nobody2026", "wrong-password").await,
        422,
        10001,
    )
    .await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["message"], "用户名或密码错误");
}

#[tokio::test]
async fn me_without_or_with_a_bad_token_is_exactly_unauthenticated() {
    let app = TestApp::spawn().await;
    let none = app
        .request(Method::GET, "/api/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(none, 401).await,
        json!({ "message": "Unauthenticated." })
    );
    let bad = app.get_with_bearer("/api/auth/me", "abc.def.ghi").await;
    assert_eq!(
        json_of(bad, 401).await,
        json!({ "message": "Unauthenticated." })
    );
}

#[tokio::test]
async fn logout_revokes_the_presented_token() {
    let app = TestApp::spawn().await;
    let data = app.register_store("hank2026").await;
    let token = data["access_token"].as_str().unwrap();
    let response = app
        .request(Method::DELETE, "/api/auth/logout")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let instructions = response.headers()["x-edge-invalidate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(instructions.contains("revoke_session"), "{instructions}");
    json_of(response, 200).await;
    json_of(app.get_with_bearer("/api/auth/me", token).await, 401).await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE revoked_reason = 'logout'"),
        1
    );
    // Also kept for the edge in the outbox, in case the header's instruction is lost there.
    assert_eq!(
        app.count(
            "SELECT count(*) FROM edge_outbox WHERE instructions LIKE '%revoke_session%'
               AND instructions LIKE '%' || (SELECT id FROM sessions WHERE revoked_reason = 'logout') || '%'"
        ),
        1
    );
}

#[tokio::test]
async fn refresh_rotates_the_token_and_revokes_the_old_one() {
    let app = TestApp::spawn().await;
    let data = app.register_store("ivan2026").await;
    let old = data["access_token"].as_str().unwrap();
    let response = app
        .request(Method::PUT, "/api/auth/refresh")
        .bearer_auth(old)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["x-edge-invalidate"]
            .to_str()
            .unwrap()
            .contains("revoke_token")
    );
    let body = json_of(response, 200).await;
    let new = body["data"]["access_token"].as_str().unwrap();
    assert_ne!(new, old);
    assert_eq!(body["data"]["expires_in"], 7200);
    json_of(app.get_with_bearer("/api/auth/me", new).await, 200).await;
    json_of(app.get_with_bearer("/api/auth/me", old).await, 401).await;
}

#[tokio::test]
async fn a_refresh_replayed_within_ten_seconds_gets_the_same_successor_and_after_that_revokes_the_session()
 {
    let app = TestApp::spawn().await;
    let data = app.register_store("judy2026").await;
    let old = data["access_token"].as_str().unwrap();
    let refresh = || {
        app.request(Method::PUT, "/api/auth/refresh")
            .bearer_auth(old)
            .send()
    };
    let first = json_of(refresh().await.unwrap(), 200).await;
    let again = json_of(refresh().await.unwrap(), 200).await;
    assert_eq!(first["data"]["access_token"], again["data"]["access_token"]);
    assert_eq!(app.count("SELECT count(*) FROM session_tokens t JOIN sessions s ON s.id = t.session_id WHERE s.admin = 0"), 2);

    app.db()
        .execute(
            "UPDATE session_tokens SET spent_at = spent_at - 11 WHERE spent_at IS NOT NULL",
            [],
        )
        .unwrap();
    let reuse = refresh().await.unwrap();
    assert!(
        reuse.headers()["x-edge-invalidate"]
            .to_str()
            .unwrap()
            .contains("revoke_session")
    );
    assert_eq!(
        json_of(reuse, 401).await,
        json!({ "message": "Unauthenticated." })
    );
    // The whole session is gone, the successor included.
    let successor = first["data"]["access_token"].as_str().unwrap();
    json_of(app.get_with_bearer("/api/auth/me", successor).await, 401).await;
    assert_eq!(
        app.count("SELECT count(*) FROM sessions WHERE revoked_reason = 'refresh_reuse'"),
        1
    );
}

#[tokio::test]
async fn an_expired_access_token_refreshes_within_the_window_and_is_expired_after_it() {
    let app = TestApp::spawn().await;
    let data = app.register_store("kim2026").await;
    let user_id = data["user"]["id"].as_i64().unwrap();
    // Age the session: issued long ago, access expired an hour ago (inside the window).
    let now = origin::clock::now();
    app.db()
        .execute(
            "UPDATE session_tokens SET issued_at = ?1, access_expires_at = ?2, refresh_expires_at = ?3",
            [now - 10_800, now - 3_600, now + 60_000],
        )
        .unwrap();
    let generation = |iat, exp| {
        let row = app
            .db()
            .query_row(
                "SELECT session_id, access_jti, refresh_jti FROM session_tokens",
                [],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .unwrap();
        origin::db::sessions::Generation {
            sid: row.0,
            user_id,
            admin: false,
            generation: 1,
            access_jti: row.1,
            refresh_jti: row.2,
            issued_at: iat,
            access_expires_at: exp,
            refresh_expires_at: exp + 60_000,
        }
    };
    let (expired_token, _) = app
        .state
        .keys
        .sign_generation(&generation(now - 10_800, now - 3_600))
        .unwrap();
    json_of(
        app.get_with_bearer("/api/auth/me", &expired_token).await,
        401,
    )
    .await;
    let refreshed = app
        .request(Method::PUT, "/api/auth/refresh")
        .bearer_auth(&expired_token)
        .send()
        .await
        .unwrap();
    json_of(refreshed, 200).await;

    let window = 7_200 * 10;
    let (too_old, _) = app
        .state
        .keys
        .sign_generation(&generation(now - window - 9_000, now - window - 100))
        .unwrap();
    let response = app
        .request(Method::PUT, "/api/auth/refresh")
        .bearer_auth(&too_old)
        .send()
        .await
        .unwrap();
    store_error(response, 422, 40005).await;
}

#[tokio::test]
async fn a_store_user_signs_in_through_the_print_dialect_with_the_same_account() {
    let app = TestApp::spawn().await;
    app.register_store("lily2026").await;
    let body = app.print_login("lily2026", PASSWORD, false).await;
    let token = body["data"]["access_token"].as_str().unwrap();
    let me = json_of(app.get_with_token("/api/users/self", token).await, 200).await;
    assert_eq!(me["data"]["account"], "lily2026");
    assert_eq!(me["data"]["nickname"], "Ann");
}
