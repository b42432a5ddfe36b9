//! Cross-cutting rules: the edge secret, envelopes for malformed requests, body limits,
//! unknown routes and methods, request ids, JWKS, load shedding, the admin listener and the CLI.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::json;
use shared::policy::{Method as PolicyMethod, ROUTES};

use crate::support::{PASSWORD, TestApp, json_of, print_error, store_error};

#[tokio::test]
async fn the_public_listener_refuses_requests_without_the_edge_secret_in_each_dialect() {
    let app = TestApp::spawn().await;
    let store = app
        .client
        .get(format!("{}/api/response_code", app.public))
        .send()
        .await
        .unwrap();
    store_error(store, 403, 40001).await;
    let print = app
        .client
        .post(format!("{}/api/login", app.public))
        .send()
        .await
        .unwrap();
    print_error(print, 403, 999).await;
    let wrong = app
        .client
        .get(format!("{}/api/response_code", app.public))
        .header("x-edge-secret", "not-the-secret")
        .send()
        .await
        .unwrap();
    store_error(wrong, 403, 40001).await;
}

#[tokio::test]
async fn malformed_json_is_a_validation_error_in_the_dialect_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let store = app
        .request(Method::POST, "/api/captchas")
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    let body = store_error(store, 422, 10001).await;
    assert!(body["errors"]["body"].is_array());
    let print = app
        .request(Method::POST, "/api/sms")
        .header("content-type", "application/json")
        .body("[1, 2]")
        .send()
        .await
        .unwrap();
    print_error(print, 400, 999).await;
    assert_eq!(
        app.count("SELECT count(*) FROM captchas")
            + app.count("SELECT count(*) FROM verification_codes"),
        0
    );
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_in_the_dialect() {
    let app = TestApp::spawn().await;
    let big = json!({ "username": "x".repeat(70 * 1024) }).to_string();
    let store = app
        .request(Method::POST, "/api/auth/login")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    store_error(store, 413, 10001).await;
    let print = app
        .request(Method::POST, "/api/login")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    print_error(print, 413, 999).await;
}

#[tokio::test]
async fn form_bodies_urlencoded_and_multipart_are_read_too() {
    let app = TestApp::spawn().await;
    let urlencoded = app
        .request(Method::POST, "/api/captchas")
        .form(&[("username", "ann")])
        .send()
        .await
        .unwrap();
    json_of(urlencoded, 201).await;
    let multipart = reqwest::multipart::Form::new().text("phone", "123");
    let response = app
        .request(Method::POST, "/api/sms")
        .multipart(multipart)
        .send()
        .await
        .unwrap();
    print_error(response, 400, 20007).await;
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_the_dialect_of_the_path() {
    let app = TestApp::spawn().await;
    store_error(
        app.request(Method::GET, "/api/auth/nothing")
            .send()
            .await
            .unwrap(),
        404,
        40004,
    )
    .await;
    print_error(
        app.request(Method::GET, "/api/nothing")
            .send()
            .await
            .unwrap(),
        404,
        999,
    )
    .await;
    store_error(
        app.request(Method::GET, "/api/auth/login")
            .send()
            .await
            .unwrap(),
        405,
        40001,
    )
    .await;
    print_error(
        app.request(Method::DELETE, "/api/login")
            .send()
            .await
            .unwrap(),
        405,
        999,
    )
    .await;
}

#[tokio::test]
async fn every_route_of_the_policy_table_is_mounted_on_the_origin() {
    let app = TestApp::spawn().await;
    // Things the ids in the paths name, so a mounted route cannot answer "not found".
    app.state
        .db
        .write(|tx| origin::db::goods::insert(tx, "goods", 100, 0))
        .await
        .unwrap();
    let (token, _) = app.member().await;
    let png = reqwest::multipart::Part::bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec())
        .file_name("a.png");
    let uploaded = app
        .request(Method::POST, "/api/images")
        .header("token", &token)
        .multipart(reqwest::multipart::Form::new().part("image", png))
        .send()
        .await
        .unwrap();
    let src = json_of(uploaded, 201).await["data"][0]["src"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = src.trim_start_matches("/api/storage/").to_owned();
    for route in ROUTES {
        let path = route
            .path
            .replace("{id}", "1")
            .replace("{key}", &key)
            .replace("{provider}", "sandbox")
            .replace("{document}", "store.json")
            .replace("{file}", "index.html");
        let method = match route.method {
            PolicyMethod::Get => Method::GET,
            PolicyMethod::Post => Method::POST,
            PolicyMethod::Put => Method::PUT,
            PolicyMethod::Delete => Method::DELETE,
        };
        let response = app.request(method, &path).send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        // The fallback answers 404 with the generic "not found" message; a mounted route
        // answers anything else (401 without a token, 4xx for missing parameters, 501 for
        // WeChat sign-in).
        assert!(
            !(status == 404 && body.contains("请求资源未找到")) && status != 405,
            "{} {path} is in the policy table but not mounted: {status} {body}",
            route.method.as_str()
        );
        assert!(status < 500 || status == 501, "{path}: {status} {body}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_given_one_is_echoed() {
    let app = TestApp::spawn().await;
    let generated = app
        .request(Method::GET, "/api/response_code")
        .send()
        .await
        .unwrap();
    assert!(!generated.headers()["x-request-id"].is_empty());
    let given = app
        .request(Method::GET, "/api/nothing")
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn jwks_publishes_the_ed25519_public_key_with_its_kid() {
    let app = TestApp::spawn().await;
    let body = json_of(
        app.request(Method::GET, "/.well-known/jwks.json")
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let key = &body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["kid"], app.state.keys.kid());
    assert!(key.get("d").is_none());
    // Tokens name that kid.
    let tokens = app.register_print(&app.phone()).await;
    let header = jsonwebtoken::decode_header(tokens["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some(app.state.keys.kid()));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
}

#[tokio::test]
async fn a_flood_of_sign_ins_past_the_hashing_queue_gets_503_with_retry_after() {
    let app = TestApp::spawn_with(|config| {
        config.hash_workers = 1;
        config.hash_queue = 0;
    })
    .await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let pending: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(
                app.request(Method::POST, "/api/login")
                    .json(&json!({ "username": phone, "password": PASSWORD }))
                    .send(),
            )
        })
        .collect();
    let mut busy = 0;
    let mut ok = 0;
    for response in pending {
        let response = response.await.unwrap().unwrap();
        match response.status().as_u16() {
            200 => ok += 1,
            503 => {
                assert!(response.headers().contains_key("retry-after"));
                print_error(response, 503, 999).await;
                busy += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
}

#[tokio::test]
async fn the_admin_api_needs_an_admin_session_with_the_permission() {
    let app = TestApp::spawn().await;
    let none = app
        .admin_request(Method::GET, "/admin/outbox")
        .send()
        .await
        .unwrap();
    print_error(none, 401, 999).await;
    let user = app.register_print(&app.phone()).await;
    let plain = app
        .admin_request(Method::POST, "/admin/invitation_codes")
        .header("token", user["access_token"].as_str().unwrap())
        .json(&json!({ "uses": 3 }))
        .send()
        .await
        .unwrap();
    print_error(plain, 403, 10003).await;

    let admin = app.admin_token().await;
    let created = app
        .admin_request(Method::POST, "/admin/invitation_codes")
        .header("token", &admin)
        .json(&json!({ "uses": 3, "expires_in_days": 7 }))
        .send()
        .await
        .unwrap();
    let body = json_of(created, 201).await;
    assert_eq!(body["data"]["uses"], 3);
    assert!(
        body["data"]["expires_at"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    let code = body["data"]["code"].as_str().unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT uses_left FROM invitation_codes WHERE code = '{code}'"
        )),
        3
    );

    for bad in [
        json!({}),
        json!({ "uses": 0 }),
        json!({ "uses": "many" }),
        json!({ "uses": 1, "expires_in_days": -1 }),
    ] {
        let response = app
            .admin_request(Method::POST, "/admin/invitation_codes")
            .header("token", &admin)
            .json(&bad)
            .send()
            .await
            .unwrap();
        print_error(response, 400, 999).await;
    }
    let bad_channel = app
        .admin_request(Method::GET, "/admin/outbox?channel=pigeon")
        .header("token", &admin)
        .send()
        .await
        .unwrap();
    print_error(bad_channel, 400, 999).await;
    print_error(
        app.admin_request(Method::GET, "/admin/nothing")
            .send()
            .await
            .unwrap(),
        404,
        999,
    )
    .await;
}

#[tokio::test]
async fn the_outbox_lists_codes_newest_first_filtered_by_recipient_and_channel() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    app.sms_code(&phone, true).await;
    app.age_codes();
    let (_, newest) = app.sms_code(&phone, true).await;
    let admin = app.admin_token().await;
    let response = app
        .admin_request(Method::GET, "/admin/outbox")
        .header("token", &admin)
        .query(&[("to", phone.as_str()), ("channel", "sms")])
        .send()
        .await
        .unwrap();
    let body = json_of(response, 200).await;
    let rows = body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["code"], newest.as_str());
    assert_eq!(rows[0]["channel"], "sms");
    assert!(rows[0]["body"].as_str().unwrap().contains(&newest));
}

#[tokio::test]
async fn the_cli_creates_an_idempotent_super_admin_and_invitation_codes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_origin"))
            .args(args)
            .env("ORIGIN_DATA_DIR", dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    run(
        &["admin", "create", "--username", "boss"],
        "first-password\n",
    );
    run(
        &["admin", "create", "--username", "boss"],
        "second-password\n",
    );
    let code = run(&["invite", "create", "--uses", "2"], "");
    let code = code.trim();
    assert_eq!(code.len(), 16);

    let database = rusqlite::Connection::open(dir.path().join("origin.sqlite3")).unwrap();
    let admins: i64 = database
        .query_row("SELECT count(*) FROM users u JOIN user_roles r ON r.user_id = u.id WHERE u.account = 'boss'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(admins, 1);
    let uses: i64 = database
        .query_row(
            "SELECT uses_left FROM invitation_codes WHERE code = ?1",
            [code],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(uses, 2);

    // The second password is the one that works, for an admin sign-in.
    let config = origin::config::Config::with_defaults(dir.path()).unwrap();
    let state = origin::AppState::open(config).unwrap();
    let tokens = origin::domain::identity::login_with_password(
        &state,
        "boss".into(),
        "second-password".into(),
        true,
        origin::domain::identity::SignInDoor::Public,
    )
    .await
    .unwrap();
    assert!(!tokens.access_token.is_empty());
    assert!(
        origin::domain::identity::login_with_password(
            &state,
            "boss".into(),
            "first-password".into(),
            true,
            origin::domain::identity::SignInDoor::Public,
        )
        .await
        .is_err()
    );
}
