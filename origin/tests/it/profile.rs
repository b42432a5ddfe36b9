//! `PUT /api/users/self`: the profile as its owner changes it.

use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, json_of, print_error};

#[tokio::test]
async fn a_profile_change_is_read_back_and_tells_the_edge_to_drop_cached_reads() {
    let app = TestApp::spawn().await;
    let tokens = app.register_print(&app.phone()).await;
    let token = tokens["access_token"].as_str().unwrap();
    let response = app
        .request(Method::PUT, "/api/users/self")
        .header("token", token)
        .json(
            &json!({ "nickname": "  小明 ", "sex": 1, "avatar": "https://img.example.com/a.png" }),
        )
        .send()
        .await
        .unwrap();
    let instructions = response.headers()["x-edge-invalidate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(instructions.contains(r#""op":"bump""#), "{instructions}");
    let body = json_of(response, 200).await;
    assert_eq!(body["status"], "success");
    assert!(body["message"].is_string() && body.get("data").is_none());
    let me = json_of(app.get_with_token("/api/users/self", token).await, 200).await;
    assert_eq!(me["data"]["nickname"], "小明");
    assert_eq!(me["data"]["sex"], 1);
    assert_eq!(me["data"]["avatar"], "https://img.example.com/a.png");

    // Only what is sent changes; the store view shows the same user.
    let partial = app
        .request(Method::PUT, "/api/users/self")
        .header("token", token)
        .json(&json!({ "sex": 2 }))
        .send()
        .await
        .unwrap();
    json_of(partial, 200).await;
    let me = json_of(app.get_with_bearer("/api/auth/me", token).await, 200).await;
    assert_eq!(me["data"]["name"], "小明");
}

#[tokio::test]
async fn bad_profile_fields_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let tokens = app.register_print(&app.phone()).await;
    let token = tokens["access_token"].as_str().unwrap();
    for (field, value) in [
        ("nickname", json!("")),
        ("nickname", json!("名".repeat(33))),
        ("sex", json!(3)),
        ("sex", json!("male")),
        ("avatar", json!("javascript:alert(1)")),
        ("avatar", json!(format!("https://x.cn/{}", "a".repeat(300)))),
    ] {
        let mut body = json!({ "nickname": "ok", "sex": 1 });
        body[field] = value;
        let response = app
            .request(Method::PUT, "/api/users/self")
            .header("token", token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = print_error(response, 400, 999).await;
        assert!(error["errors"][field].is_array(), "{field}: {error}");
    }
    let me = json_of(app.get_with_token("/api/users/self", token).await, 200).await;
    assert_eq!(me["data"]["sex"], 0);
    assert_ne!(me["data"]["nickname"], "ok");
    print_error(
        app.request(Method::PUT, "/api/users/self")
            .json(&json!({ "sex": 1 }))
            .send()
            .await
            .unwrap(),
        401,
        999,
    )
    .await;
}
