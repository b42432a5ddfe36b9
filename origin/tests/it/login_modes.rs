//! Binding a verified phone or e-mail to an account, and unbinding without stranding it.

use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, json_of, print_error};

async fn bind(
    app: &TestApp,
    token: &str,
    verification_token: &str,
    code: &str,
) -> reqwest::Response {
    app.request(Method::POST, "/api/login_modes")
        .header("token", token)
        .json(&json!({ "verification_token": verification_token, "verification_code": code }))
        .send()
        .await
        .unwrap()
}

/// Unbinds with the account's password, which removing a bound channel needs (SPEC §6;
/// `trust_boundaries.rs` attacks the rule itself).
async fn unbind(app: &TestApp, token: &str, kind: &str) -> reqwest::Response {
    app.request(Method::DELETE, "/api/login_modes")
        .header("token", token)
        .json(&json!({ "type": kind, "password": PASSWORD }))
        .send()
        .await
        .unwrap()
}

async fn mail_code(app: &TestApp, email: &str) -> (String, String) {
    let response = app
        .request_from(Method::POST, "/api/mail", &app.fresh_ip())
        .json(&json!({ "email": email, "is_register": true }))
        .send()
        .await
        .unwrap();
    let token = json_of(response, 201).await["data"]["verification_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (token, app.outbox_code(email).await)
}

#[tokio::test]
async fn a_store_user_binds_a_phone_and_then_signs_in_with_it() {
    let app = TestApp::spawn().await;
    let token = app.register_store("bindme1").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = app.phone();
    let (verification_token, code) = app.sms_code(&phone, true).await;
    let bound = bind(&app, &token, &verification_token, &code).await;
    assert!(
        bound.headers()["x-edge-invalidate"]
            .to_str()
            .unwrap()
            .contains("bump")
    );
    json_of(bound, 200).await;
    let me = json_of(app.get_with_token("/api/users/self", &token).await, 200).await;
    assert_eq!(me["data"]["phone"], phone.as_str());
    assert_eq!(me["data"]["is_bind_phone"], true);
    assert_eq!(me["data"]["is_bind_account"], true);
    json_of(app.store_login(&phone, PASSWORD).await, 200).await;
}

#[tokio::test]
async fn a_phone_another_account_owns_is_20002_and_a_wrong_code_is_20006() {
    let app = TestApp::spawn().await;
    let taken = app.phone();
    app.register_print(&taken).await;
    let token = app.register_store("bindme2").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // A code for a registered phone is sent only without is_register (it signs in that user).
    app.age_codes();
    let (verification_token, code) = app.sms_code(&taken, false).await;
    print_error(
        bind(&app, &token, &verification_token, "000000x").await,
        400,
        20006,
    )
    .await;
    print_error(
        bind(&app, &token, &verification_token, &code).await,
        400,
        20002,
    )
    .await;
    let me = json_of(app.get_with_token("/api/users/self", &token).await, 200).await;
    assert_eq!(me["data"]["phone"], serde_json::Value::Null);
    print_error(bind(&app, &token, "", "").await, 400, 999).await;
}

#[tokio::test]
async fn unbinding_is_refused_when_it_would_leave_no_way_to_sign_in() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    let token = app.register_print(&phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    print_error(unbind(&app, &token, "phone").await, 400, 999).await;
    print_error(unbind(&app, &token, "email").await, 400, 999).await;
    let error = print_error(unbind(&app, &token, "wechat").await, 400, 999).await;
    assert_eq!(error["message"], "未绑定微信", "{error}");

    let (verification_token, code) = mail_code(&app, "keep@example.com").await;
    json_of(bind(&app, &token, &verification_token, &code).await, 200).await;
    json_of(unbind(&app, &token, "phone").await, 200).await;
    let me = json_of(app.get_with_token("/api/users/self", &token).await, 200).await;
    assert_eq!(me["data"]["is_bind_phone"], false);
    assert_eq!(me["data"]["email"], "keep@example.com");
    json_of(
        app.request(Method::POST, "/api/login")
            .json(&json!({ "username": "keep@example.com", "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    print_error(
        app.request(Method::POST, "/api/login")
            .json(&json!({ "username": phone, "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
        400,
        20000,
    )
    .await;
    // The freed phone can register a new account.
    app.age_codes();
    app.register_print(&phone).await;
}

#[tokio::test]
async fn an_account_with_a_password_may_drop_both_phone_and_email() {
    let app = TestApp::spawn().await;
    let token = app.register_store("bindme3").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (verification_token, code) = mail_code(&app, "drop@example.com").await;
    json_of(bind(&app, &token, &verification_token, &code).await, 200).await;
    json_of(unbind(&app, &token, "email").await, 200).await;
    json_of(app.store_login("bindme3", PASSWORD).await, 200).await;
}
