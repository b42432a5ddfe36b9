//! The attacks of the security review (issue "close the trust boundaries"), each reproduced as an
//! attacker would try it and seen refused: privilege escalation in the back office, support
//! agents reading codes, concurrent password guessing, one network starving everyone's sign-in,
//! lockout revealing accounts, a stolen token taking an account over, one handset registering
//! twice, and slow clients holding the listeners.

use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use shared::policy::{Limit, RateRule};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{PASSWORD, TestApp, json_of, print_error, store_error};

fn audit_entries(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM audit_log")
}

/// A member given a role of `permissions` (created by root), signed in as an admin through the
/// public sign-in: `(token, user id)`. Fixtures that register users reset root (and so revoke
/// its earlier tokens): take a fresh root token after them.
pub(crate) async fn admin_holding(
    app: &TestApp,
    role: &str,
    permissions: &[&str],
) -> (String, i64) {
    let phone = app.phone();
    app.register_print(&phone).await;
    let root = &app.admin_token().await;
    let user_id: i64 = app
        .db()
        .query_row("SELECT id FROM users WHERE phone = ?1", [&phone], |row| {
            row.get(0)
        })
        .unwrap();
    let saved = app
        .admin_call(
            root,
            Method::POST,
            "/admin/roles",
            json!({ "name": role, "permissions": permissions }),
        )
        .await;
    json_of(saved, 201).await;
    let assigned = app
        .admin_call(
            root,
            Method::PUT,
            &format!("/admin/users/{user_id}"),
            json!({ "roles": [role] }),
        )
        .await;
    json_of(assigned, 200).await;
    let login = app.print_login(&phone, PASSWORD, true).await;
    (
        login["data"]["access_token"].as_str().unwrap().to_owned(),
        user_id,
    )
}

pub(crate) fn root_id(app: &TestApp) -> i64 {
    app.db()
        .query_row("SELECT id FROM users WHERE account = 'root'", [], |row| {
            row.get(0)
        })
        .unwrap()
}

fn permissions_of_role(app: &TestApp, role: &str) -> Vec<String> {
    let db = app.db();
    let mut statement = db
        .prepare(
            "SELECT p.name FROM permissions p JOIN role_permissions rp ON rp.permission_id = p.id
             JOIN roles r ON r.id = rp.role_id WHERE r.name = ?1 ORDER BY p.id",
        )
        .unwrap();
    statement
        .query_map([role], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

// -- 1. Privilege boundaries ------------------------------------------------------------------

#[tokio::test]
async fn an_admin_cannot_grant_itself_or_any_role_permissions_it_lacks() {
    let app = TestApp::spawn().await;
    let (token, _) = admin_holding(&app, "用户", &["用户管理"]).await;
    let audited = audit_entries(&app);

    // Its own role, with all 15 permissions: the self-promotion the review found.
    let own = app
        .admin_call(
            &token,
            Method::POST,
            "/admin/roles",
            json!({ "name": "用户", "permissions": shared::PERMISSIONS }),
        )
        .await;
    print_error(own, 403, 10003).await;
    // A new role holding a permission it lacks.
    let finance = app
        .admin_call(
            &token,
            Method::POST,
            "/admin/roles",
            json!({ "name": "财务", "permissions": ["财务管理"] }),
        )
        .await;
    print_error(finance, 403, 10003).await;
    // Even its own role with only the permission it has: it may not change a role it holds.
    let same = app
        .admin_call(
            &token,
            Method::POST,
            "/admin/roles",
            json!({ "name": "用户", "permissions": ["用户管理"] }),
        )
        .await;
    print_error(same, 403, 10003).await;

    assert_eq!(permissions_of_role(&app, "用户"), vec!["用户管理"]);
    assert_eq!(
        app.count("SELECT count(*) FROM roles WHERE name = '财务'"),
        0
    );
    assert_eq!(
        audit_entries(&app),
        audited,
        "refusals leave no audit entry"
    );
    // So it still cannot read the audit log or move money.
    let log = app
        .admin_call(&token, Method::GET, "/admin/audit_log", json!({}))
        .await;
    print_error(log, 403, 10003).await;

    // What it holds, it may hand out in a new role.
    let within = app
        .admin_call(
            &token,
            Method::POST,
            "/admin/roles",
            json!({ "name": "用户助理", "permissions": ["用户管理"] }),
        )
        .await;
    json_of(within, 201).await;
    assert_eq!(audit_entries(&app), audited + 1);
}

#[tokio::test]
async fn only_a_super_admin_touches_super_admin_and_roles_go_only_to_holders_of_their_powers() {
    let app = TestApp::spawn().await;
    let (token, _) = admin_holding(&app, "用户", &["用户管理"]).await;
    let (_, other) = app.member().await;
    let (_, member) = app.member().await;
    let root = app.admin_token().await;
    let root_id = root_id(&app);
    json_of(
        app.admin_call(
            &root,
            Method::POST,
            "/admin/roles",
            json!({ "name": "财务", "permissions": ["财务管理"] }),
        )
        .await,
        201,
    )
    .await;
    let audited = audit_entries(&app);

    let refused = [
        (
            format!("/admin/users/{other}"),
            json!({ "roles": ["super-admin"] }),
        ),
        (
            format!("/admin/users/{other}"),
            json!({ "roles": ["财务"] }),
        ),
        (
            format!("/admin/users/{root_id}"),
            json!({ "disabled": true }),
        ),
        (format!("/admin/users/{root_id}"), json!({ "roles": [] })),
        (
            format!("/admin/users/{root_id}"),
            json!({ "roles": ["super-admin", "用户"] }),
        ),
    ];
    for (path, body) in refused {
        let response = app
            .admin_call(&token, Method::PUT, &path, body.clone())
            .await;
        let error = print_error(response, 403, 10003).await;
        assert!(error["message"].is_string(), "{path} {body}: {error}");
    }
    assert_eq!(
        audit_entries(&app),
        audited,
        "refusals leave no audit entry"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM user_roles WHERE user_id = {other}"
        )),
        0
    );
    assert_eq!(
        app.count(&format!("SELECT disabled FROM users WHERE id = {root_id}")),
        0
    );
    // Taking away a role whose powers it lacks is refused too.
    json_of(
        app.admin_call(
            &root,
            Method::PUT,
            &format!("/admin/users/{other}"),
            json!({ "roles": ["财务"] }),
        )
        .await,
        200,
    )
    .await;
    let strip = app
        .admin_call(
            &token,
            Method::PUT,
            &format!("/admin/users/{other}"),
            json!({ "roles": [] }),
        )
        .await;
    print_error(strip, 403, 10003).await;

    // Within its powers it works: a role of 用户管理 only, and disabling a plain member.
    json_of(
        app.admin_call(
            &token,
            Method::PUT,
            &format!("/admin/users/{member}"),
            json!({ "roles": ["用户"], "disabled": true }),
        )
        .await,
        200,
    )
    .await;
    // And a super-admin may grant super-admin.
    json_of(
        app.admin_call(
            &root,
            Method::PUT,
            &format!("/admin/users/{member}"),
            json!({ "roles": ["super-admin"] }),
        )
        .await,
        200,
    )
    .await;
}

// -- 2. Code secrecy ---------------------------------------------------------------------------

#[tokio::test]
async fn support_agents_see_who_was_sent_a_code_but_not_the_code_and_every_read_is_audited() {
    let app = TestApp::spawn().await;
    let (support, support_id) = admin_holding(&app, "客服", &["客服工具管理"]).await;
    let root = app.admin_token().await;
    let phone = app.phone();
    app.request(Method::POST, "/api/sms")
        .json(&json!({ "phone": phone, "is_register": true }))
        .send()
        .await
        .unwrap();
    let before = audit_entries(&app);

    let seen = json_of(
        app.admin_request(Method::GET, "/admin/outbox")
            .header("token", &support)
            .query(&[("to", phone.as_str())])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let entry = &seen["data"][0];
    assert_eq!(entry["to"], phone.as_str());
    assert_eq!(entry["channel"], "sms");
    assert!(entry["code"].is_null(), "{entry}");
    assert!(entry["body"].is_null(), "{entry}");

    let as_root = json_of(
        app.admin_request(Method::GET, "/admin/outbox")
            .header("token", &root)
            .query(&[("to", phone.as_str())])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let code = as_root["data"][0]["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    // Any spelling of the phone finds it.
    let spelled = json_of(
        app.admin_request(Method::GET, "/admin/outbox")
            .header("token", &root)
            .query(&[("to", format!("+86 {}", &phone))])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(spelled["data"][0]["code"], code);
    assert!(as_root["data"][0]["body"].as_str().unwrap().contains(code));

    assert_eq!(audit_entries(&app), before + 3);
    let (actor, action, detail): (Option<i64>, String, String) = app
        .db()
        .query_row(
            "SELECT actor_id, action, detail FROM audit_log ORDER BY id DESC LIMIT 1 OFFSET 2",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!((actor, action.as_str()), (Some(support_id), "outbox.read"));
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["codes_shown"], false);
    assert_eq!(detail["to"], phone.as_str());

    // Invitations go through the same audited path as every other admin write.
    let invitation = json_of(
        app.admin_call(
            &root,
            Method::POST,
            "/admin/invitation_codes",
            json!({ "uses": 2 }),
        )
        .await,
        201,
    )
    .await;
    let code = invitation["data"]["code"].as_str().unwrap();
    let detail: String = app
        .db()
        .query_row(
            "SELECT detail FROM audit_log WHERE action = 'invitation.create'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(
        detail.contains(&code[..4]) && !detail.contains(code),
        "{detail}"
    );
}

// -- 3, 4, 5. Sign-in abuse -------------------------------------------------------------------

#[tokio::test]
async fn concurrent_wrong_passwords_get_at_most_ten_evaluations_and_the_right_one_is_then_refused()
{
    let app = TestApp::spawn().await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let hashes_before = app.state.hasher.started();
    let attempts = (0..60).map(|_| {
        app.request(Method::POST, "/api/login")
            .json(&json!({ "username": phone, "password": "wrong-password" }))
            .send()
    });
    let answers = futures_join_all(attempts).await;
    let mut evaluated = 0;
    let mut locked = 0;
    for answer in answers {
        match answer.status().as_u16() {
            400 => {
                print_error(answer, 400, 20001).await;
                evaluated += 1;
            }
            429 => {
                assert!(answer.headers().contains_key("retry-after"));
                locked += 1;
            }
            other => panic!("unexpected {other}: {}", answer.text().await.unwrap()),
        }
    }
    assert_eq!((evaluated, locked), (10, 50));
    assert_eq!(
        app.state.hasher.started() - hashes_before,
        10,
        "only ten hashes ran"
    );
    // The right password, arriving now, is refused: the account is locked.
    let right = app
        .request(Method::POST, "/api/login")
        .json(&json!({ "username": phone, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    print_error(right, 429, 999).await;
    // Its owner can still get in with a code.
    app.age_codes();
    let (token, code) = app.sms_code(&phone, false).await;
    let by_code = app
        .request(Method::POST, "/api/login")
        .json(&json!({ "verification_token": token, "verification_code": code }))
        .send()
        .await
        .unwrap();
    json_of(by_code, 200).await;
}

/// Runs the requests at once (each on its own task) and returns their answers.
async fn futures_join_all<F>(requests: impl Iterator<Item = F>) -> Vec<Response>
where
    F: std::future::Future<Output = reqwest::Result<Response>> + Send + 'static,
{
    let mut answers = Vec::new();
    let mut set = tokio::task::JoinSet::new();
    for request in requests {
        set.spawn(async move { request.await.unwrap() });
    }
    while let Some(answer) = set.join_next().await {
        answers.push(answer.unwrap());
    }
    answers
}

#[tokio::test]
async fn junk_codes_are_refused_before_any_password_is_hashed() {
    let app = TestApp::spawn().await;
    let hashes_before = app.state.hasher.started();
    let junk = (0..100).map(|n| {
        let (method, path) = if n % 2 == 0 {
            (Method::PUT, "/api/repassword")
        } else {
            (Method::POST, "/api/register")
        };
        app.request_from(method, path, &format!("203.0.113.{}", n % 50 + 1))
            .json(&json!({
                "verification_token": format!("{n:032x}"),
                "verification_code": "123456",
                "password": "a-fine-password",
            }))
            .send()
    });
    for answer in futures_join_all(junk).await {
        print_error(answer, 400, 20006).await;
    }
    assert_eq!(
        app.state.hasher.started(),
        hashes_before,
        "no junk request hashed"
    );
    // A right code still registers, and the wrong one before it counted a try.
    let phone = app.phone();
    app.age_codes();
    let (token, code) = app.sms_code(&phone, true).await;
    let wrong = app
        .request(Method::POST, "/api/register")
        .json(&json!({ "verification_token": token, "verification_code": "000000", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    if code != "000000" {
        print_error(wrong, 400, 20006).await;
    }
    let right = app
        .request(Method::POST, "/api/register")
        .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    json_of(right, 201).await;
}

#[tokio::test]
async fn the_sign_in_family_is_limited_per_network_and_other_networks_sign_in() {
    let app = TestApp::spawn_with(|config| {
        for limit in [Limit::SignIn, Limit::Register, Limit::PasswordReset] {
            config.rate_rules.set(
                limit,
                RateRule {
                    max: 3,
                    window_secs: 60,
                },
            );
        }
    })
    .await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let routes = [
        (Method::POST, "/api/login"),
        (Method::POST, "/api/auth/login"),
        (Method::POST, "/api/register"),
        (Method::POST, "/api/auth/register"),
        (Method::PUT, "/api/repassword"),
    ];
    for (index, (method, path)) in routes.into_iter().enumerate() {
        // Two addresses of one IPv6 /64 are one network.
        let sibling_a = format!("2001:db8:{index}:1::1");
        let sibling_b = format!("2001:db8:{index}:1:ffff::2");
        let send = |ip: String| {
            app.request_from(method.clone(), path, &ip)
                .json(&json!({ "username": "nobody", "password": "wrong-password" }))
                .send()
        };
        for ip in [&sibling_a, &sibling_b, &sibling_a] {
            let status = send(ip.clone()).await.unwrap().status().as_u16();
            assert_ne!(status, 429, "{path}");
        }
        let limited = send(sibling_b.clone()).await.unwrap();
        assert_eq!(limited.status(), 429, "{path}");
        assert!(limited.headers().contains_key("retry-after"), "{path}");
        // Another network is not affected.
        let status = send(format!("2001:db8:{index}:2::1"))
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_ne!(status, 429, "{path}");
    }
    // A user on an unaffected network signs in.
    json_of(
        app.request_from(Method::POST, "/api/login", "198.18.0.1")
            .json(&json!({ "username": phone, "password": PASSWORD }))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
}

#[tokio::test]
async fn wrong_passwords_from_the_internet_cannot_lock_an_admin_out_of_the_back_office() {
    let app = TestApp::spawn().await;
    app.admin_token().await;
    for n in 0..10 {
        let response = app
            .request_from(Method::POST, "/api/login", &format!("203.0.113.{}", n + 1))
            .json(&json!({ "username": "root", "password": "not-the-password" }))
            .send()
            .await
            .unwrap();
        print_error(response, 400, 20001).await;
    }
    let public = app
        .request(Method::POST, "/api/login")
        .json(&json!({ "username": "root", "password": PASSWORD, "is_admin": true }))
        .send()
        .await
        .unwrap();
    print_error(public, 429, 999).await;

    let login = |password: &str| {
        app.admin_request(Method::POST, "/admin/login")
            .json(&json!({ "username": "root", "password": password }))
            .send()
    };
    print_error(login("still-not-it").await.unwrap(), 400, 20001).await;
    let tokens = json_of(login(PASSWORD).await.unwrap(), 200).await;
    let token = tokens["data"]["access_token"].as_str().unwrap();
    json_of(
        app.admin_request(Method::GET, "/admin/users")
            .header("token", token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    // The back office's door knows only holders of a role: a member's right password there
    // answers exactly like a name nobody holds, so the door is no password oracle.
    let phone = app.phone();
    app.register_print(&phone).await;
    let at_admin_door = |username: String, password: &'static str| {
        app.admin_request(Method::POST, "/admin/login")
            .json(&json!({ "username": username, "password": password }))
            .send()
    };
    let right = print_error(
        at_admin_door(phone.clone(), PASSWORD).await.unwrap(),
        400,
        20000,
    )
    .await;
    let wrong = print_error(
        at_admin_door(phone, "wrong-password").await.unwrap(),
        400,
        20000,
    )
    .await;
    assert_eq!(right, wrong);
}

#[tokio::test]
async fn the_admin_listener_counts_sign_ins_by_peer_address_whatever_headers_say() {
    let app = TestApp::spawn_with(|config| {
        config.rate_rules.set(
            Limit::SignIn,
            RateRule {
                max: 3,
                window_secs: 60,
            },
        );
    })
    .await;
    for n in 0..3 {
        let response = app
            .admin_request(Method::POST, "/admin/login")
            .header("x-client-ip", format!("198.18.0.{n}"))
            .json(&json!({ "username": format!("nobody{n}"), "password": "wrong-password" }))
            .send()
            .await
            .unwrap();
        print_error(response, 400, 20000).await;
    }
    let spoofed = app
        .admin_request(Method::POST, "/admin/login")
        .header("x-client-ip", "198.18.9.9")
        .json(&json!({ "username": "nobody9", "password": "wrong-password" }))
        .send()
        .await
        .unwrap();
    print_error(spoofed, 429, 999).await;
}

#[tokio::test]
async fn a_rebinding_page_reaches_neither_the_admin_sign_in_nor_its_figures() {
    // A DNS-rebinding page in an operator's browser reaches the admin listener under its own
    // name. The JSON API needs a token, but its sign-in, health, metrics and documents did not.
    let app = TestApp::spawn().await;
    app.admin_token().await;
    let sessions = || app.count("SELECT count(*) FROM sessions");
    let before = sessions();
    let port = app.admin.rsplit(':').next().unwrap().to_owned();
    let rebound = format!("evil.example:{port}");
    let sign_in = app
        .admin_request(Method::POST, "/admin/login")
        .header("Host", &rebound)
        .json(&json!({ "username": "root", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let body = print_error(sign_in, 403, 999).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("ORIGIN_ADMIN_HOSTS"),
        "{body}"
    );
    assert_eq!(sessions(), before, "a refused sign-in made no session");
    for path in [
        "/metrics",
        "/healthz",
        "/readyz",
        "/admin/openapi.json",
        "/nowhere",
    ] {
        let response = app
            .admin_request(Method::GET, path)
            .header("Host", &rebound)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let text = response.text().await.unwrap();
        assert!(!text.contains("# TYPE"), "{path}: {text}");
    }
    // `localhost`, IP addresses and the listed names are answered.
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let metrics = app
            .admin_request(Method::GET, "/metrics")
            .header("Host", &host)
            .send()
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200, "{host}");
    }
    let listed = TestApp::spawn_with(|config| {
        config.admin_hosts = vec!["admin.example.com".into()];
    })
    .await;
    listed.admin_token().await;
    let named = listed
        .admin_request(Method::POST, "/admin/login")
        .header("Host", "Admin.Example.com")
        .json(&json!({ "username": "root", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    json_of(named, 200).await;
}

#[tokio::test]
async fn a_page_of_another_site_cannot_lock_the_admin_door_through_the_operators_browser() {
    // Any web page the operator opens can post a form to 127.0.0.1:8081 (a simple request: no
    // preflight); the browser names the page's origin. Ten wrong passwords would lock root out.
    let app = TestApp::spawn().await;
    app.admin_token().await;
    let failures = || app.count("SELECT count(*) FROM sign_in_attempts");
    let before = failures();
    for origin in ["https://evil.example", "null", "http://127.0.0.1:9"] {
        for _ in 0..5 {
            let response = app
                .admin_request(Method::POST, "/admin/login")
                .header("Origin", origin)
                .form(&[("username", "root"), ("password", "not-the-password")])
                .send()
                .await
                .unwrap();
            let body = print_error(response, 403, 999).await;
            assert!(
                body["message"].as_str().unwrap().contains("Origin"),
                "{body}"
            );
        }
    }
    // A sibling site of the same host (another port) is another origin too, even when the
    // browser only says so in `Sec-Fetch-Site`.
    let sibling = app
        .admin_request(Method::POST, "/admin/login")
        .header("Sec-Fetch-Site", "same-site")
        .json(&json!({ "username": "root", "password": "not-the-password" }))
        .send()
        .await
        .unwrap();
    print_error(sibling, 403, 999).await;
    assert_eq!(failures(), before, "no refused request was counted");
    // The API documents' own page (same origin) and scripts (no Origin) sign in.
    let own = format!("http://{}", app.admin.trim_start_matches("http://"));
    for origin in [Some(own.as_str()), None] {
        let mut request = app
            .admin_request(Method::POST, "/admin/login")
            .json(&json!({ "username": "root", "password": PASSWORD }));
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        json_of(request.send().await.unwrap(), 200).await;
    }
    // Reads are not affected: a page cannot read the answers (no CORS), and links still work.
    let metrics = app
        .admin_request(Method::GET, "/metrics")
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
}

/// An image upload by `token`'s user; its id.
async fn uploaded_image(app: &TestApp, token: &str, seed: u8) -> i64 {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.push(seed);
    let png = reqwest::multipart::Part::bytes(bytes).file_name("p.png");
    let uploaded = app
        .request(Method::POST, "/api/images")
        .header("token", token)
        .multipart(reqwest::multipart::Form::new().part("image", png))
        .send()
        .await
        .unwrap();
    json_of(uploaded, 201).await["data"][0]["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_gift_admin_cannot_publish_another_users_upload_as_a_gift_picture() {
    // 积分管理 may not read users' uploads (客服工具管理 may): naming a member's upload as a
    // gift's image would show its address in the answer and publish it at /api/gifts.
    let app = TestApp::spawn().await;
    let (member, _) = app.member().await;
    let private = uploaded_image(&app, &member, 1).await;
    let (points, _) = admin_holding(&app, "积分", &["积分管理"]).await;
    let gift =
        |image: i64| json!({ "name": "杯子", "accumulate_points": 5, "stock": 2, "image": image });
    let refused = app
        .admin_call(&points, Method::POST, "/admin/gifts", gift(private))
        .await;
    let body = print_error(refused, 400, 999).await;
    assert!(body["errors"]["image"].is_array(), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM gifts"), 0);

    // Their own upload is fine, and another gift admin may keep or reuse a gift's picture.
    let own = uploaded_image(&app, &points, 2).await;
    let created = app
        .admin_call(&points, Method::POST, "/admin/gifts", gift(own))
        .await;
    let gift_id = json_of(created, 201).await["data"]["id"].as_i64().unwrap();
    let (other, _) = admin_holding(&app, "积分二", &["积分管理"]).await;
    let path = format!("/admin/gifts/{gift_id}");
    json_of(
        app.admin_call(&other, Method::PUT, &path, gift(own)).await,
        200,
    )
    .await;
    let refused = app
        .admin_call(&other, Method::PUT, &path, gift(private))
        .await;
    print_error(refused, 400, 999).await;
    let shown: i64 = app
        .db()
        .query_row(
            "SELECT image_upload_id FROM gifts WHERE id = ?1",
            [gift_id],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(shown, own);
    let listed = json_of(
        app.request(Method::GET, "/api/gifts").send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(listed["data"]["data"][0]["image"]["id"], own, "{listed}");
}

/// Puts `count` sign-ins to names nobody holds into the hashing queue (the app has one hashing
/// thread), and waits until they are admitted: whatever is admitted next waits behind them.
async fn fill_hashing_queue(app: &TestApp, count: u64) -> Vec<tokio::task::JoinHandle<()>> {
    let before = app.state.hasher.started();
    let waiting: Vec<_> = (0..count)
        .map(|n| {
            let request = app
                .request_from(Method::POST, "/api/login", &app.fresh_ip())
                .json(&json!({ "username": format!("nobody-{n}"), "password": "whatever-1" }));
            tokio::spawn(async move {
                request.send().await.unwrap();
            })
        })
        .collect();
    while app.state.hasher.started() < before + count {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    waiting
}

/// Waits until the hasher has admitted `count` more jobs than `before`.
async fn admitted(app: &TestApp, before: u64, count: u64) {
    while app.state.hasher.started() < before + count {
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn a_sign_in_hashing_while_the_password_is_reset_gets_no_session() {
    // The sign-in read the old hash, then waited for the hashing thread; the reset committed
    // meanwhile (new password, every session revoked). A session made after that from the old
    // password would outlive the reset.
    let app = TestApp::spawn_with(|config| config.hash_workers = 1).await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let sessions = || {
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = (SELECT id FROM users WHERE phone = '{phone}')"
        ))
    };
    let ahead = fill_hashing_queue(&app, 4).await;
    let before = app.state.hasher.started();
    let sign_in = app
        .request_from(Method::POST, "/api/login", &app.fresh_ip())
        .json(&json!({ "username": phone, "password": PASSWORD }))
        .send();
    let sign_in = tokio::spawn(sign_in);
    admitted(&app, before, 1).await;
    let sessions_at_reset = sessions();
    app.db()
        .execute(
            "UPDATE users SET password_hash = password_hash || 'changed' WHERE phone = ?1",
            [&phone],
        )
        .unwrap();
    let response = sign_in.await.unwrap().unwrap();
    print_error(response, 400, 20001).await;
    assert_eq!(
        sessions(),
        sessions_at_reset,
        "no session from the old password"
    );
    for waiting in ahead {
        waiting.await.unwrap();
    }
}

#[tokio::test]
async fn a_reset_whose_channel_moved_to_another_account_while_hashing_sets_no_password() {
    // A reset proven for A's phone hashes its new password; meanwhile the phone leaves A and is
    // bound to V (with a stolen token). The password must not become V's.
    let app = TestApp::spawn_with(|config| config.hash_workers = 1).await;
    let phone = app.phone();
    app.register_print(&phone).await;
    app.age_codes();
    let (token, code) = app.sms_code(&phone, false).await;
    app.db()
        .execute(
            "INSERT INTO users (account, nickname, password_hash, created_at)
             SELECT 'victim', '', password_hash, 0 FROM users WHERE phone = ?1",
            [&phone],
        )
        .unwrap();
    let victim_hash = || -> String {
        app.db()
            .query_row(
                "SELECT password_hash FROM users WHERE account = 'victim'",
                [],
                |row| row.get(0),
            )
            .unwrap()
    };
    let hash_before = victim_hash();
    let ahead = fill_hashing_queue(&app, 4).await;
    let before = app.state.hasher.started();
    let reset = app
        .request(Method::PUT, "/api/repassword")
        .json(&json!({ "verification_token": token, "verification_code": code, "password": "attackers-choice" }))
        .send();
    let reset = tokio::spawn(reset);
    admitted(&app, before, 1).await;
    let connection = app.db();
    connection
        .execute("UPDATE users SET phone = NULL WHERE phone = ?1", [&phone])
        .unwrap();
    connection
        .execute(
            "UPDATE users SET phone = ?1, phone_bound_at = strftime('%s', 'now') WHERE account = 'victim'",
            [&phone],
        )
        .unwrap();
    let response = reset.await.unwrap().unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(
        victim_hash(),
        hash_before,
        "the victim's password is unchanged"
    );
    for waiting in ahead {
        waiting.await.unwrap();
    }
}

#[tokio::test]
async fn an_unbind_proven_by_a_password_reset_while_it_hashed_changes_nothing() {
    // The password proof was checked against the old hash; a reset committed meanwhile.
    let app = TestApp::spawn_with(|config| config.hash_workers = 1).await;
    let token = app.register_store("racer2026").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .request_from(Method::POST, "/api/mail", &app.fresh_ip())
        .json(&json!({ "email": "racer@example.com", "is_register": true }))
        .send()
        .await
        .unwrap();
    let verification_token = json_of(response, 201).await["data"]["verification_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.outbox_code("racer@example.com").await;
    let bound = app
        .request(Method::POST, "/api/login_modes")
        .header("token", &token)
        .json(&json!({ "verification_token": verification_token, "verification_code": code }))
        .send()
        .await
        .unwrap();
    json_of(bound, 200).await;
    let ahead = fill_hashing_queue(&app, 4).await;
    let before = app.state.hasher.started();
    let unbind = app
        .request(Method::DELETE, "/api/login_modes")
        .header("token", &token)
        .json(&json!({ "type": "email", "password": PASSWORD }))
        .send();
    let unbind = tokio::spawn(unbind);
    admitted(&app, before, 1).await;
    app.db()
        .execute(
            "UPDATE users SET password_hash = password_hash || 'changed' WHERE account = 'racer2026'",
            [],
        )
        .unwrap();
    let response = unbind.await.unwrap().unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(
        app.count(
            "SELECT count(*) FROM users WHERE account = 'racer2026' AND email = 'racer@example.com'"
        ),
        1,
        "the e-mail is still bound"
    );
    for waiting in ahead {
        waiting.await.unwrap();
    }
}

#[tokio::test]
async fn enabling_or_disabling_an_admin_needs_every_power_it_holds() {
    let app = TestApp::spawn().await;
    let (token, _) = admin_holding(&app, "用户", &["用户管理"]).await;
    let (_, finance) = app.member().await;
    let root = app.admin_token().await;
    json_of(
        app.admin_call(
            &root,
            Method::POST,
            "/admin/roles",
            json!({ "name": "财务", "permissions": ["财务管理"] }),
        )
        .await,
        201,
    )
    .await;
    json_of(
        app.admin_call(
            &root,
            Method::PUT,
            &format!("/admin/users/{finance}"),
            json!({ "roles": ["财务"], "disabled": true }),
        )
        .await,
        200,
    )
    .await;
    for disabled in [false, true] {
        let response = app
            .admin_call(
                &token,
                Method::PUT,
                &format!("/admin/users/{finance}"),
                json!({ "disabled": disabled }),
            )
            .await;
        print_error(response, 403, 10003).await;
    }
    assert_eq!(
        app.count(&format!("SELECT disabled FROM users WHERE id = {finance}")),
        1
    );
}

#[tokio::test]
async fn a_locked_name_answers_alike_whether_or_not_an_account_has_it() {
    let app = TestApp::spawn().await;
    app.register_store("realuser").await;
    let mut last = Vec::new();
    for name in ["realuser", "ghostuser"] {
        for _ in 0..10 {
            let response = app.store_login(name, "wrong-password").await;
            let body = store_error(response, 422, 10001).await;
            assert_eq!(body["message"], "用户名或密码错误");
        }
        let locked = app.store_login(name, "wrong-password").await;
        let retry_after = crate::support::retry_after(&locked);
        assert!((890..=900).contains(&retry_after), "{retry_after}");
        last.push(store_error(locked, 429, 40001).await);
    }
    assert_eq!(
        last[0], last[1],
        "a lock must not reveal which names are accounts"
    );
    // A name that differs only by case in an e-mail or spelling of a phone is the same name.
    let phone = app.phone();
    app.register_print(&phone).await;
    for _ in 0..10 {
        app.store_login(&format!("+86{phone}"), "wrong-password")
            .await;
    }
    let locked = app.store_login(&phone, PASSWORD).await;
    store_error(locked, 429, 40001).await;
}

// -- 6. Identity proof for bound channels ------------------------------------------------------

async fn bind(app: &TestApp, token: &str, body: Value) -> Response {
    app.request(Method::POST, "/api/login_modes")
        .header("token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn phone_of_user(app: &TestApp, user_id: i64) -> Option<String> {
    app.db()
        .query_row("SELECT phone FROM users WHERE id = ?1", [user_id], |row| {
            row.get(0)
        })
        .unwrap()
}

#[tokio::test]
async fn a_stolen_access_token_cannot_replace_or_remove_a_bound_phone_without_the_password() {
    let app = TestApp::spawn().await;
    let (stolen, victim) = app.member().await;
    let victim_phone = phone_of_user(&app, victim).unwrap();
    let thief_phone = app.phone();

    app.age_codes();

    let (token, code) = app.sms_code(&thief_phone, true).await;
    let bare = bind(
        &app,
        &stolen,
        json!({ "verification_token": token, "verification_code": code }),
    )
    .await;
    let body = print_error(bare, 400, 999).await;
    assert!(body["errors"]["password"].is_array(), "{body}");
    let guessed = bind(
        &app,
        &stolen,
        json!({ "verification_token": token, "verification_code": code, "password": "guess-guess" }),
    )
    .await;
    print_error(guessed, 400, 20001).await;
    assert_eq!(
        phone_of_user(&app, victim).as_deref(),
        Some(victim_phone.as_str())
    );
    let removal = app
        .request(Method::DELETE, "/api/login_modes")
        .header("token", &stolen)
        .json(&json!({ "type": "phone" }))
        .send()
        .await
        .unwrap();
    print_error(removal, 400, 999).await;
    assert_eq!(
        phone_of_user(&app, victim).as_deref(),
        Some(victim_phone.as_str())
    );

    // The owner, with the password, replaces it; the old phone is told.
    let replaced = bind(
        &app,
        &stolen,
        json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }),
    )
    .await;
    json_of(replaced, 200).await;
    assert_eq!(
        phone_of_user(&app, victim).as_deref(),
        Some(thief_phone.as_str())
    );
    let notice: String = app
        .db()
        .query_row(
            "SELECT body FROM outbox WHERE recipient = ?1 ORDER BY id DESC LIMIT 1",
            [&victim_phone],
            |row| row.get(0),
        )
        .unwrap();
    assert!(
        notice.contains("已更换") && notice.contains(&thief_phone[7..]),
        "{notice}"
    );
}

#[tokio::test]
async fn without_a_password_replacing_a_phone_needs_a_code_sent_to_it() {
    let app = TestApp::spawn().await;
    let (token, user) = app.member().await;
    let old_phone = phone_of_user(&app, user).unwrap();
    app.db()
        .execute(
            "UPDATE users SET password_hash = NULL WHERE id = ?1",
            [user],
        )
        .unwrap();
    let new_phone = app.phone();
    app.age_codes();
    let (new_token, new_code) = app.sms_code(&new_phone, true).await;
    // A code for some other phone is not proof.
    let other = app.phone();
    app.age_codes();
    let (other_token, other_code) = app.sms_code(&other, true).await;
    let foreign = bind(
        &app,
        &token,
        json!({
            "verification_token": new_token, "verification_code": new_code,
            "old_verification_token": other_token, "old_verification_code": other_code,
        }),
    )
    .await;
    print_error(foreign, 400, 20006).await;
    app.age_codes();
    let (old_token, old_code) = app.sms_code(&old_phone, false).await;
    let proven = bind(
        &app,
        &token,
        json!({
            "verification_token": new_token, "verification_code": new_code,
            "old_verification_token": old_token, "old_verification_code": old_code,
        }),
    )
    .await;
    json_of(proven, 200).await;
    assert_eq!(
        phone_of_user(&app, user).as_deref(),
        Some(new_phone.as_str())
    );
}

#[tokio::test]
async fn binding_a_first_e_mail_needs_only_its_code_and_removing_it_needs_the_password() {
    let app = TestApp::spawn().await;
    let (token, user) = app.member().await;
    let email = format!("user{user}@example.com");
    app.age_codes();
    let sent = app
        .request(Method::POST, "/api/mail")
        .json(&json!({ "email": email, "is_register": true }))
        .send()
        .await
        .unwrap();
    let verification = json_of(sent, 201).await["data"]["verification_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.outbox_code(&email).await;
    json_of(
        bind(
            &app,
            &token,
            json!({ "verification_token": verification, "verification_code": code }),
        )
        .await,
        200,
    )
    .await;
    let unbind = |body: Value| {
        app.request(Method::DELETE, "/api/login_modes")
            .header("token", &token)
            .json(&body)
            .send()
    };
    print_error(unbind(json!({ "type": "email" })).await.unwrap(), 400, 999).await;
    json_of(
        unbind(json!({ "type": "email", "password": PASSWORD }))
            .await
            .unwrap(),
        200,
    )
    .await;
    let told: i64 = app.count(&format!(
        "SELECT count(*) FROM outbox WHERE recipient = '{email}' AND body LIKE '%已解绑%'"
    ));
    assert_eq!(told, 1);
}

#[tokio::test]
async fn a_channel_added_with_a_stolen_token_is_announced_and_cannot_take_the_password_for_a_day() {
    let app = TestApp::spawn().await;
    let (stolen, victim) = app.member().await;
    let victim_phone = phone_of_user(&app, victim).unwrap();
    let thief_mail = "thief@example.com";
    app.age_codes();
    let sent = app
        .request(Method::POST, "/api/mail")
        .json(&json!({ "email": thief_mail, "is_register": true }))
        .send()
        .await
        .unwrap();
    let verification = json_of(sent, 201).await["data"]["verification_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.outbox_code(thief_mail).await;
    // SPEC: a channel of a new kind needs only its own code...
    json_of(
        bind(
            &app,
            &stolen,
            json!({ "verification_token": verification, "verification_code": code }),
        )
        .await,
        200,
    )
    .await;
    // ...but the phone the account already had is told,
    let notice: String = app
        .db()
        .query_row(
            "SELECT body FROM outbox WHERE recipient = ?1 ORDER BY id DESC LIMIT 1",
            [&victim_phone],
            |row| row.get(0),
        )
        .unwrap();
    assert!(
        notice.contains("绑定了新的邮箱") && notice.contains("t***@example.com"),
        "{notice}"
    );
    // ...and the new channel cannot reset the password yet.
    let reset = |token: String, code: String| {
        app.request(Method::PUT, "/api/repassword")
            .json(&json!({ "verification_token": token, "verification_code": code, "password": "thiefs-password" }))
            .send()
    };
    app.age_codes();
    let sent = app
        .request(Method::POST, "/api/mail")
        .json(&json!({ "email": thief_mail }))
        .send()
        .await
        .unwrap();
    let token = json_of(sent, 201).await["data"]["verification_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app.outbox_code(thief_mail).await;
    print_error(reset(token.clone(), code.clone()).await.unwrap(), 400, 999).await;
    json_of(app.store_login(&victim_phone, PASSWORD).await, 200).await;
    // A day later it can (the code was not spent by the refusal).
    app.db()
        .execute(
            "UPDATE users SET email_bound_at = email_bound_at - 86401",
            [],
        )
        .unwrap();
    json_of(reset(token, code).await.unwrap(), 200).await;
}

#[tokio::test]
async fn a_code_for_a_taken_phone_is_refused_at_registration_before_any_hashing() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    app.register_print(&phone).await;
    app.age_codes();
    let (token, code) = app.sms_code(&phone, false).await;
    let hashes = app.state.hasher.started();
    for _ in 0..3 {
        let again = app
            .request(Method::POST, "/api/register")
            .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        print_error(again, 400, 20002).await;
    }
    assert_eq!(app.state.hasher.started(), hashes);
}

#[tokio::test]
async fn an_account_named_like_a_phone_before_phones_were_canonical_still_signs_in() {
    let app = TestApp::spawn().await;
    let hash = app.state.hasher.hash(PASSWORD.into()).await.unwrap();
    app.db()
        .execute(
            "INSERT INTO users (account, nickname, password_hash, created_at)
             VALUES ('8613900000009', 'legacy', ?1, 1)",
            [&hash],
        )
        .unwrap();
    json_of(app.store_login("8613900000009", PASSWORD).await, 200).await;
    store_error(
        app.store_login("8613900000009", "wrong-password").await,
        422,
        10001,
    )
    .await;
}

// -- 7. Canonical phones -----------------------------------------------------------------------

#[tokio::test]
async fn one_handset_is_one_phone_in_every_spelling() {
    let app = TestApp::spawn().await;
    let phone = "13912345678";
    app.register_print(phone).await;
    for spelling in [
        "+8613912345678",
        "008613912345678",
        "8613912345678",
        "139 1234-5678",
    ] {
        app.age_codes();
        let again = app
            .request_from(Method::POST, "/api/sms", &app.fresh_ip())
            .json(&json!({ "phone": spelling, "is_register": true }))
            .send()
            .await
            .unwrap();
        print_error(again, 400, 20002).await;
        let signed_in = app.print_login(spelling, PASSWORD, false).await;
        assert!(signed_in["data"]["access_token"].is_string(), "{spelling}");
    }
    // One budget per handset: a code to one spelling spends the minute of every spelling.
    app.age_codes();
    let first = app
        .request_from(Method::POST, "/api/sms", &app.fresh_ip())
        .json(&json!({ "phone": "+86 139 1234 5678" }))
        .send()
        .await
        .unwrap();
    json_of(first, 201).await;
    let second = app
        .request_from(Method::POST, "/api/sms", &app.fresh_ip())
        .json(&json!({ "phone": phone }))
        .send()
        .await
        .unwrap();
    print_error(second, 429, 999).await;
    assert_eq!(
        app.count("SELECT count(*) FROM verification_codes WHERE target <> '13912345678'"),
        0
    );
    // The back office finds the user by any spelling.
    let root = app.admin_token().await;
    let found = json_of(
        app.admin_request(Method::GET, "/admin/users")
            .header("token", &root)
            .query(&[("q", "+86 139-1234-5678")])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(found["data"]["total"], 1, "{found}");
}

#[test]
fn the_migration_brings_stored_phones_to_one_form_and_keeps_the_older_account_on_a_clash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite3");
    let mut connection = rusqlite::Connection::open(&path).unwrap();
    let migrations =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("core/src/db/migrations");
    for name in [
        "0001_identity.sql",
        "0002_edge_outbox.sql",
        "0003_addresses.sql",
        "0004_member_centre.sql",
        "0005_uploads_comments.sql",
        "0006_commerce_admin.sql",
    ] {
        connection
            .execute_batch(&std::fs::read_to_string(migrations.join(name)).unwrap())
            .unwrap();
    }
    connection.pragma_update(None, "user_version", 6).unwrap();
    connection
        .execute_batch(
            "INSERT INTO users (id, phone, nickname, created_at) VALUES
                 (1, '13900000001', 'a', 1), (2, '+8613900000001', 'b', 2),
                 (3, '+8613900000003', 'c', 3), (4, '+442079460000', 'd', 4),
                 (5, '+8613900000005', 'e', 5), (6, '13900000005', 'f', 6);
             INSERT INTO login_failures (user_id, at) VALUES (3, 100);
             UPDATE users SET locked_until = 999999999999 WHERE id = 3;",
        )
        .unwrap();
    origin::db::migrate::apply(&mut connection).unwrap();
    let phones: Vec<Option<String>> = connection
        .prepare("SELECT phone FROM users ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        phones,
        vec![
            Some("13900000001".into()),
            None,
            Some("13900000003".into()),
            Some("+442079460000".into()),
            Some("13900000005".into()),
            None,
        ]
    );
    let losers: Vec<(i64, String)> = connection
        .prepare(
            "SELECT target_user, detail FROM audit_log WHERE action = 'user.phone_unbound'
             ORDER BY target_user",
        )
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(losers.len(), 2, "{losers:?}");
    assert_eq!((losers[0].0, losers[1].0), (2, 6));
    let detail: Value = serde_json::from_str(&losers[0].1).unwrap();
    assert_eq!(detail["other_sign_in"], false, "{detail}");
    let locked: i64 = connection
        .query_row(
            "SELECT count(*) FROM sign_in_locks WHERE key = 'u:3'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(
        locked, 1,
        "an account locked before the migration stays locked"
    );
}

// -- 14. Slow clients --------------------------------------------------------------------------

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off_and_cannot_hold_the_listener() {
    let app = TestApp::spawn_with(|config| {
        config.header_timeout_secs = 1;
        config.max_connections = 1;
    })
    .await;
    let address = app.admin.trim_start_matches("http://").to_owned();
    // A slowloris: one header line, then silence. It takes the listener's only slot.
    let mut slow = TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /admin/openapi.json HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // A real client waits while the slot is held...
    let client = reqwest::Client::new();
    let waiting = tokio::spawn(async move {
        client
            .get(format!("http://{address}/admin/openapi.json"))
            .send()
            .await
            .map(|response| response.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "served although the only slot was held"
    );
    // ...until the slow one is cut off at the header timeout, and is then served.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the slow connection was not closed");
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting client was never served")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

// -- Input exactness (typed-endpoints issue) ---------------------------------------------------

#[tokio::test]
async fn a_path_id_that_is_not_a_positive_integer_is_the_dialects_404() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    for path in [
        "/api/goods/%FF/comments",
        "/api/goods/0/comments",
        "/api/goods/1e3/comments",
    ] {
        let response = app.request(Method::GET, path).send().await.unwrap();
        print_error(response, 404, 999).await;
    }
    let store = app
        .request(Method::PUT, "/api/user_addresses/%FF")
        .bearer_auth(&token)
        .json(&json!({ "city": "x" }))
        .send()
        .await
        .unwrap();
    store_error(store, 404, 40004).await;
    let root = app.admin_token().await;
    let admin = app
        .admin_call(
            &root,
            Method::PUT,
            "/admin/users/%FF",
            json!({ "disabled": true }),
        )
        .await;
    print_error(admin, 404, 999).await;
}

#[tokio::test]
async fn a_registration_that_would_fail_does_not_spend_its_captcha() {
    let app = TestApp::spawn().await;
    app.register_store("takenname").await;
    let invitation = app.invitation(1).await;
    let (key, answer) = app.captcha("someone").await;
    let attempt = |username: &str, invitation: &str| {
        app.request(Method::POST, "/api/auth/register")
            .json(&app.store_registration(username, invitation, &key, &answer))
            .send()
    };
    let taken = attempt("takenname", &invitation).await.unwrap();
    let body = store_error(taken, 422, 10003).await;
    assert!(body["errors"]["username"].is_array(), "{body}");
    let unknown = attempt("freshname", "NOSUCHCODE").await.unwrap();
    let body = store_error(unknown, 422, 10001).await;
    assert!(body["errors"]["invitation_code"].is_array(), "{body}");
    // The captcha survived both: the right registration still passes with it.
    json_of(attempt("freshname", &invitation).await.unwrap(), 201).await;
}

#[tokio::test]
async fn bodies_are_read_exactly_in_both_dialects() {
    let app = TestApp::spawn().await;
    let users = app.user_count();
    // A content type the API does not read is 415, not an empty body.
    let xml = app
        .request(Method::POST, "/api/auth/login")
        .header("content-type", "text/xml")
        .body("<username>ann</username>")
        .send()
        .await
        .unwrap();
    store_error(xml, 415, 10001).await;
    let xml = app
        .request(Method::POST, "/api/login")
        .header("content-type", "application/xml")
        .body("<username>ann</username>")
        .send()
        .await
        .unwrap();
    print_error(xml, 415, 999).await;
    // A JSON object where a value belongs is a validation error naming the field, not a
    // business answer about an account called `{"a":1}`.
    let object = app
        .request(Method::POST, "/api/login")
        .json(&json!({ "username": { "a": 1 }, "password": "whatever-it-is" }))
        .send()
        .await
        .unwrap();
    let body = print_error(object, 400, 999).await;
    assert!(body["errors"]["username"].is_array(), "{body}");
    // Form text that is not UTF-8 is refused like malformed JSON, not stored mangled.
    let (token, _) = app.member().await;
    let mangled = app
        .request(Method::PUT, "/api/users/self")
        .header("token", &token)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("nickname=%FF%FEname")
        .send()
        .await
        .unwrap();
    let body = print_error(mangled, 400, 999).await;
    assert!(body["errors"]["body"].is_array(), "{body}");
    let nickname: String = app
        .db()
        .query_row(
            "SELECT nickname FROM users ORDER BY id DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(!nickname.contains('\u{FFFD}'), "{nickname}");
    assert_eq!(app.user_count(), users + 1);
}

#[tokio::test]
async fn every_asset_the_docs_pages_name_is_served() {
    let app = TestApp::spawn().await;
    for (base, index) in [(&app.public, "/api/docs"), (&app.admin, "/admin/docs")] {
        let page = app
            .client
            .get(format!("{base}{index}"))
            .header(
                shared::headers::EDGE_SECRET,
                app.state.config.edge_secret.expose(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{index}");
        // Not framed by another site; not sniffed; no referrer.
        for (name, value) in [
            ("x-frame-options", "DENY"),
            ("x-content-type-options", "nosniff"),
            ("referrer-policy", "no-referrer"),
        ] {
            assert_eq!(page.headers()[name], value, "{index}: {name}");
        }
        let html = page.text().await.unwrap();
        let assets: Vec<&str> = html
            .split(['"', '\''])
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|pair| pair[0].ends_with("href=") || pair[0].ends_with("src="))
            .map(|pair| pair[1])
            .collect();
        assert!(assets.len() >= 5, "{index}: {assets:?}");
        for asset in assets {
            assert!(asset.starts_with(&format!("{index}/")), "{index}: {asset}");
            let response = app
                .client
                .get(format!("{base}{asset}"))
                .header(
                    shared::headers::EDGE_SECRET,
                    app.state.config.edge_secret.expose(),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{asset}");
        }
    }
}

/// The permission is the back-office handler's first extractor: a caller without it gets 403
/// for a request whose parameters are also wrong, never a validation answer that would tell
/// them what the endpoint takes (typed-endpoints issue: parameters are now read by an
/// extractor, so the order is the extractors').
#[tokio::test]
async fn a_back_office_caller_without_the_permission_learns_nothing_from_bad_parameters() {
    let app = TestApp::spawn().await;
    let (token, _) = admin_holding(&app, "客服", &["客服工具管理"]).await;
    let root = app.admin_token().await;
    let member: i64 = app
        .db()
        .query_row(
            "SELECT id FROM users WHERE id <> 1 ORDER BY id LIMIT 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    for (path, body) in [
        (
            format!("/admin/users/{member}/points"),
            json!({ "number": "lots" }),
        ),
        (
            format!("/admin/users/{member}/balance"),
            json!({ "amount": {"a": 1} }),
        ),
        ("/admin/goods".to_owned(), json!({ "price": "-1" })),
    ] {
        let refused = app
            .admin_call(&token, Method::POST, &path, body.clone())
            .await;
        print_error(refused, 403, 10003).await;
        // The same body from root is a validation answer: the 403 above was the permission.
        let invalid = app.admin_call(&root, Method::POST, &path, body).await;
        print_error(invalid, 400, 999).await;
    }
}
