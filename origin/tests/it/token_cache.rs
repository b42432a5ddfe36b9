//! The origin remembers verified access tokens; every way of ending a session must still be
//! refused on the very next request, including a commit by another process (the CLI).

use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, json_of, print_error};

/// Uses `token` a few times, so the origin has it in its cache of verified tokens.
async fn warm(app: &TestApp, token: &str) {
    for _ in 0..3 {
        json_of(app.get_with_token("/api/users/self", token).await, 200).await;
    }
}

async fn refused(app: &TestApp, token: &str) {
    print_error(app.get_with_token("/api/users/self", token).await, 401, 999).await;
}

#[tokio::test]
async fn a_cached_token_is_refused_at_once_after_logout_password_change_or_disabling() {
    let app = TestApp::spawn().await;

    // Logout (store dialect, Bearer).
    let (token, _) = app.member().await;
    warm(&app, &token).await;
    let response = app
        .request(Method::DELETE, "/api/auth/logout")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    refused(&app, &token).await;

    // A password reset revokes every session of the user.
    let phone = app.phone();
    let first = app.register_print(&phone).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = app.print_login(&phone, PASSWORD, false).await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    warm(&app, &first).await;
    warm(&app, &second).await;
    app.age_codes();
    let (verification, code) = app.sms_code(&phone, false).await;
    let reset = app
        .request(Method::PUT, "/api/repassword")
        .json(&json!({ "verification_token": verification, "verification_code": code, "password": "a-new-password" }))
        .send()
        .await
        .unwrap();
    json_of(reset, 200).await;
    refused(&app, &first).await;
    refused(&app, &second).await;

    // An admin disables a user.
    let (token, user_id) = app.member().await;
    warm(&app, &token).await;
    let admin = app.admin_token().await;
    let disabled = app
        .admin_request(Method::PUT, &format!("/admin/users/{user_id}"))
        .header("token", &admin)
        .json(&json!({ "disabled": true }))
        .send()
        .await
        .unwrap();
    json_of(disabled, 200).await;
    refused(&app, &token).await;
}

#[tokio::test]
async fn a_cached_token_is_refused_once_the_cli_has_disabled_its_user() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let (bystander, _) = app.member().await;
    warm(&app, &token).await;
    warm(&app, &bystander).await;
    let output = Command::new(env!("CARGO_BIN_EXE_origin"))
        .args(["user", "--id", &user_id.to_string(), "disable"])
        .env("ORIGIN_DATA_DIR", app.dir.path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    refused(&app, &token).await;
    // The cache starting over costs a re-verification, not a refusal.
    json_of(app.get_with_token("/api/users/self", &bystander).await, 200).await;
}
