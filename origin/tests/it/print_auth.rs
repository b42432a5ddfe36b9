//! The print dialect's identity endpoints over real HTTP against a real SQLite file.

use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, json_of, print_error};

#[tokio::test]
async fn sms_register_and_sign_in_with_code_or_password() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    let tokens = app.register_print(&phone).await;
    assert_eq!(tokens["access_token_expire"], 7200);
    assert!(tokens["refresh_token"].is_string());
    let me = json_of(
        app.get_with_token("/api/users/self", tokens["access_token"].as_str().unwrap())
            .await,
        200,
    )
    .await;
    assert_eq!(me["status"], "success");
    assert_eq!(me["code"], 200);
    assert_eq!(me["data"]["phone"], phone.as_str());
    assert_eq!(me["data"]["is_bind_phone"], true);
    assert_eq!(me["data"]["is_bind_account"], false);

    let by_password = app.print_login(&phone, PASSWORD, false).await;
    assert!(by_password["data"]["access_token"].is_string());
    // SPEC §3: print routes also accept `Authorization: Bearer`.
    let bearer = app
        .get_with_bearer(
            "/api/users/self",
            by_password["data"]["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(json_of(bearer, 200).await["data"]["phone"], phone.as_str());

    app.age_codes();
    let (token, code) = app.sms_code(&phone, false).await;
    let response = app
        .request(Method::POST, "/api/login")
        .json(&json!({ "verification_token": token, "verification_code": code }))
        .send()
        .await
        .unwrap();
    let body = json_of(response, 200).await;
    assert!(body["data"]["refresh_token"].is_string());
}

#[tokio::test]
async fn users_self_has_every_documented_field_with_zero_figures_from_the_ledgers() {
    let app = TestApp::spawn().await;
    let tokens = app.register_print(&app.phone()).await;
    let me = json_of(
        app.get_with_token("/api/users/self", tokens["access_token"].as_str().unwrap())
            .await,
        200,
    )
    .await;
    let data = &me["data"];
    for field in [
        "id",
        "nickname",
        "avatar",
        "sex",
        "account",
        "phone",
        "email",
        "member_level",
        "accumulate_points",
        "history_accumulate_points",
        "balance",
        "is_bind_account",
        "is_bind_phone",
        "is_bind_email",
        "is_bind_wx",
        "created_at",
    ] {
        assert!(
            data.get(field).is_some(),
            "users/self lacks {field}: {data}"
        );
    }
    assert_eq!(
        data["member_level"],
        json!({ "id": 1, "name": "普通会员", "accumulate_points": 0, "discount": "1.00" })
    );
    assert_eq!(data["balance"], "0.00");
    assert_eq!(data["accumulate_points"], 0);
    assert_eq!(data["sex"], 0);
}

#[tokio::test]
async fn users_self_reads_points_balance_and_level_from_the_ledgers() {
    let app = TestApp::spawn().await;
    let tokens = app.register_print(&app.phone()).await;
    let user_id: i64 = app
        .db()
        .query_row("SELECT id FROM users WHERE phone IS NOT NULL", [], |r| {
            r.get(0)
        })
        .unwrap();
    app.db()
        .execute_batch(&format!(
            "INSERT INTO points_records (user_id, number, surplus, describe, created_at) VALUES
                 ({user_id}, 1500, 1500, 'gift', 1), ({user_id}, -300, 1200, 'spent', 2);
             INSERT INTO balance_records (user_id, number, surplus, describe, created_at) VALUES
                 ({user_id}, 1250, 1250, 'recharge', 1);"
        ))
        .unwrap();
    let me = json_of(
        app.get_with_token("/api/users/self", tokens["access_token"].as_str().unwrap())
            .await,
        200,
    )
    .await;
    assert_eq!(me["data"]["accumulate_points"], 1200);
    assert_eq!(me["data"]["history_accumulate_points"], 1500);
    assert_eq!(me["data"]["balance"], "12.50");
    assert_eq!(me["data"]["member_level"]["name"], "白银会员");
    assert_eq!(me["data"]["member_level"]["discount"], "0.98");
}

#[tokio::test]
async fn sms_refuses_malformed_phones_registered_phones_for_registration_and_unknown_phones_for_sign_in()
 {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::POST, "/api/sms")
        .json(&json!({ "phone": "12345" }))
        .send()
        .await
        .unwrap();
    let body = print_error(response, 400, 20007).await;
    assert!(body["errors"]["phone"].is_array());

    let unknown = app.phone();
    let response = app
        .request_from(Method::POST, "/api/sms", &app.fresh_ip())
        .json(&json!({ "phone": unknown }))
        .send()
        .await
        .unwrap();
    print_error(response, 400, 20000).await;

    let registered = app.phone();
    app.register_print(&registered).await;
    app.age_codes();
    let response = app
        .request_from(Method::POST, "/api/sms", &app.fresh_ip())
        .json(&json!({ "phone": registered, "is_register": true }))
        .send()
        .await
        .unwrap();
    print_error(response, 400, 20002).await;
    assert_eq!(app.count("SELECT count(*) FROM verification_codes"), 1);
}

#[tokio::test]
async fn a_client_ip_gets_one_code_a_minute_and_a_phone_one_a_minute_and_ten_a_day() {
    let app = TestApp::spawn().await;
    let send = |phone: String, ip: String| {
        app.request_from(Method::POST, "/api/sms", &ip)
            .json(&json!({ "phone": phone, "is_register": true }))
            .send()
    };
    json_of(send(app.phone(), "192.0.2.1".into()).await.unwrap(), 201).await;
    let limited = send(app.phone(), "192.0.2.1".into()).await.unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    print_error(limited, 429, 999).await;

    let phone = app.phone();
    json_of(send(phone.clone(), "192.0.2.2".into()).await.unwrap(), 201).await;
    print_error(
        send(phone.clone(), "192.0.2.3".into()).await.unwrap(),
        429,
        999,
    )
    .await;

    // Nine more (ten in all) pass once each minute has gone by; the eleventh waits a day.
    for _ in 0..9 {
        app.age_codes();
        json_of(send(phone.clone(), app.fresh_ip()).await.unwrap(), 201).await;
    }
    app.age_codes();
    let daily = send(phone.clone(), app.fresh_ip()).await.unwrap();
    let retry_after = crate::support::retry_after(&daily);
    assert!(
        retry_after > 60,
        "the daily limit waits for the day window: {retry_after}"
    );
    print_error(daily, 429, 999).await;
}

#[tokio::test]
async fn a_wrong_code_is_20006_and_five_wrong_tries_kill_the_code() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    let (token, code) = app.sms_code(&phone, true).await;
    let register = |code: &str| {
        app.request(Method::POST, "/api/register")
            .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
            .send()
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        print_error(register(wrong).await.unwrap(), 400, 20006).await;
    }
    print_error(register(&code).await.unwrap(), 400, 20006).await;
    assert_eq!(app.user_count(), 0);
    assert_eq!(app.count("SELECT attempts FROM verification_codes"), 5);
}

#[tokio::test]
async fn an_expired_or_used_code_is_refused() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    let (token, code) = app.sms_code(&phone, true).await;
    let body =
        json!({ "verification_token": token, "verification_code": code, "password": PASSWORD });
    app.db()
        .execute(
            "UPDATE verification_codes SET expires_at = expires_at - 301",
            [],
        )
        .unwrap();
    print_error(
        app.request(Method::POST, "/api/register")
            .json(&body)
            .send()
            .await
            .unwrap(),
        400,
        20006,
    )
    .await;
    app.db()
        .execute(
            "UPDATE verification_codes SET expires_at = expires_at + 301",
            [],
        )
        .unwrap();
    json_of(
        app.request(Method::POST, "/api/register")
            .json(&body)
            .send()
            .await
            .unwrap(),
        201,
    )
    .await;
    print_error(
        app.request(Method::POST, "/api/register")
            .json(&body)
            .send()
            .await
            .unwrap(),
        400,
        20006,
    )
    .await;
}

#[tokio::test]
async fn registering_a_phone_that_got_registered_meanwhile_is_20002_and_keeps_the_code() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    let (token, code) = app.sms_code(&phone, true).await;
    app.db()
        .execute(
            "INSERT INTO users (phone, nickname, created_at) VALUES (?1, 'x', 1)",
            [&phone],
        )
        .unwrap();
    let response = app
        .request(Method::POST, "/api/register")
        .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    print_error(response, 400, 20002).await;
    assert_eq!(
        app.count("SELECT count(*) FROM verification_codes WHERE consumed_at IS NULL"),
        1
    );
}

#[tokio::test]
async fn mail_codes_register_by_email_case_insensitively() {
    let app = TestApp::spawn().await;
    let response = app
        .request(Method::POST, "/api/mail")
        .json(&json!({ "email": "Mia@Example.COM", "is_register": true }))
        .send()
        .await
        .unwrap();
    let token = json_of(response, 201).await["data"]["verification_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.outbox_code("mia@example.com").await;
    let response = app
        .request(Method::POST, "/api/register")
        .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await;
    let body = app.print_login("MIA@example.com", PASSWORD, false).await;
    let me = json_of(
        app.get_with_token(
            "/api/users/self",
            body["data"]["access_token"].as_str().unwrap(),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(me["data"]["email"], "mia@example.com");
    assert_eq!(me["data"]["is_bind_email"], true);
    let bad = app
        .request(Method::POST, "/api/mail")
        .json(&json!({ "email": "nope" }))
        .send()
        .await
        .unwrap();
    print_error(bad, 400, 20007).await;
}

#[tokio::test]
async fn password_sign_in_tells_unknown_account_from_wrong_password() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let login = |username: String, password: &'static str| {
        app.request(Method::POST, "/api/login")
            .json(&json!({ "username": username, "password": password }))
            .send()
    };
    print_error(login(app.phone(), PASSWORD).await.unwrap(), 400, 20000).await;
    print_error(
        login(phone.clone(), "wrong-password").await.unwrap(),
        400,
        20001,
    )
    .await;
    let missing = app
        .request(Method::POST, "/api/login")
        .json(&json!({ "username": phone }))
        .send()
        .await
        .unwrap();
    let body = print_error(missing, 400, 999).await;
    assert!(body["errors"]["password"].is_array());
}

#[tokio::test]
async fn ten_wrong_passwords_lock_password_sign_in_for_fifteen_minutes() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let login = |password: &'static str| {
        app.request(Method::POST, "/api/login")
            .json(&json!({ "username": phone, "password": password }))
            .send()
    };
    for _ in 0..10 {
        print_error(login("wrong-password").await.unwrap(), 400, 20001).await;
    }
    let locked = login(PASSWORD).await.unwrap();
    let retry_after = crate::support::retry_after(&locked);
    assert!(retry_after > 850 && retry_after <= 900, "{retry_after}");
    print_error(locked, 429, 999).await;
    // The store dialect sees the same lock.
    let store = app.store_login(&phone, PASSWORD).await;
    assert_eq!(store.status(), 429);
    // After the lock, the right password works again.
    app.db()
        .execute_batch("UPDATE sign_in_locks SET until = 1; UPDATE sign_in_attempts SET at = 1;")
        .unwrap();
    json_of(login(PASSWORD).await.unwrap(), 200).await;
}

#[tokio::test]
async fn refresh_rotates_and_a_replay_within_grace_returns_the_same_pair() {
    let app = TestApp::spawn().await;
    let tokens = app.register_print(&app.phone()).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let refresh = || {
        app.request(Method::POST, "/api/refresh")
            .header("token", refresh_token)
            .send()
    };
    let first = json_of(refresh().await.unwrap(), 200).await;
    let second = json_of(refresh().await.unwrap(), 200).await;
    assert_eq!(first["data"], second["data"]);
    assert_ne!(first["data"]["refresh_token"], tokens["refresh_token"]);
    // The new pair works; the old access token is spent.
    let new_access = first["data"]["access_token"].as_str().unwrap();
    json_of(app.get_with_token("/api/users/self", new_access).await, 200).await;
    print_error(
        app.get_with_token("/api/users/self", tokens["access_token"].as_str().unwrap())
            .await,
        401,
        999,
    )
    .await;
    // The successor refreshes in turn.
    let next = app
        .request(Method::POST, "/api/refresh")
        .header("token", first["data"]["refresh_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    json_of(next, 200).await;
}

#[tokio::test]
async fn refresh_token_reuse_after_grace_revokes_every_token_of_the_session() {
    let app = TestApp::spawn().await;
    let tokens = app.register_print(&app.phone()).await;
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let first = json_of(
        app.request(Method::POST, "/api/refresh")
            .header("token", refresh_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    app.db()
        .execute(
            "UPDATE session_tokens SET spent_at = spent_at - 11 WHERE spent_at IS NOT NULL",
            [],
        )
        .unwrap();
    let reuse = app
        .request(Method::POST, "/api/refresh")
        .header("token", refresh_token)
        .send()
        .await
        .unwrap();
    let instructions = reuse.headers()["x-edge-invalidate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(instructions.contains("revoke_session"));
    assert_eq!(
        app.count("SELECT count(*) FROM edge_outbox WHERE instructions LIKE '%revoke_session%'"),
        1,
        "the revocation is also kept for the edge in the outbox"
    );
    let body = print_error(reuse, 401, 999).await;
    assert_eq!(body["message"], "未登录或登录已过期");
    print_error(
        app.get_with_token(
            "/api/users/self",
            first["data"]["access_token"].as_str().unwrap(),
        )
        .await,
        401,
        999,
    )
    .await;
    let successor = app
        .request(Method::POST, "/api/refresh")
        .header("token", first["data"]["refresh_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    print_error(successor, 401, 999).await;
}

#[tokio::test]
async fn an_access_token_is_not_a_refresh_token() {
    let app = TestApp::spawn().await;
    let tokens = app.register_print(&app.phone()).await;
    let response = app
        .request(Method::POST, "/api/refresh")
        .header("token", tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    print_error(response, 401, 999).await;
    let response = app
        .get_with_token("/api/users/self", tokens["refresh_token"].as_str().unwrap())
        .await;
    print_error(response, 401, 999).await;
}

#[tokio::test]
async fn repassword_sets_the_password_and_revokes_every_session() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    let first = app.register_print(&phone).await;
    let second = app.print_login(&phone, PASSWORD, false).await;
    app.age_codes();
    let (token, code) = app.sms_code(&phone, false).await;
    let response = app
        .request(Method::PUT, "/api/repassword")
        .json(&json!({ "verification_token": token, "verification_code": code, "password": "a-new-password" }))
        .send()
        .await
        .unwrap();
    let instructions = response.headers()["x-edge-invalidate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        instructions.matches("revoke_session").count(),
        2,
        "{instructions}"
    );
    let kept: String = app
        .db()
        .query_row(
            "SELECT group_concat(instructions) FROM edge_outbox
             WHERE instructions LIKE '%\"user\":' || (SELECT id FROM users WHERE phone = ?1) || '}%'
                OR instructions LIKE '%\"user\":' || (SELECT id FROM users WHERE phone = ?1) || ',%'",
            [&phone],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(kept.matches("revoke_session").count(), 2, "{kept}");
    let body = json_of(response, 200).await;
    assert_eq!(body["status"], "success");
    assert!(body["message"].is_string());
    for access in [&first["access_token"], &second["data"]["access_token"]] {
        print_error(
            app.get_with_token("/api/users/self", access.as_str().unwrap())
                .await,
            401,
            999,
        )
        .await;
    }
    print_error(
        app.request(Method::POST, "/api/login")
            .json(&json!({ "username": phone, "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
        400,
        20001,
    )
    .await;
    json_of(
        app.request(Method::POST, "/api/login")
            .json(&json!({ "username": phone, "password": "a-new-password" }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
}

#[tokio::test]
async fn permissions_are_for_admin_sessions_only() {
    let app = TestApp::spawn().await;
    let tokens = app.register_print(&app.phone()).await;
    let response = app
        .get_with_token(
            "/api/users/self/permissions",
            tokens["access_token"].as_str().unwrap(),
        )
        .await;
    print_error(response, 403, 10003).await;

    let admin = app.admin_token().await;
    let body = json_of(
        app.get_with_token("/api/users/self/permissions", &admin)
            .await,
        200,
    )
    .await;
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, shared::PERMISSIONS);
    // An admin who signs in without is_admin gets an ordinary session.
    let plain = app.print_login("root", PASSWORD, false).await;
    let response = app
        .get_with_token(
            "/api/users/self/permissions",
            plain["data"]["access_token"].as_str().unwrap(),
        )
        .await;
    print_error(response, 403, 10003).await;
}

#[tokio::test]
async fn is_admin_sign_in_is_refused_for_users_without_a_role() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let response = app
        .request(Method::POST, "/api/login")
        .json(&json!({ "username": phone, "password": PASSWORD, "is_admin": true }))
        .send()
        .await
        .unwrap();
    print_error(response, 403, 10003).await;
}
