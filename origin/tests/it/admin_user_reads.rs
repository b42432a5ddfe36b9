//! The back office's reads about one user and the audit log's filters (the web console calls
//! the same domain functions): each needs its permission before any parameter is read, names
//! an unknown user 404, renders no secret; ending sessions really ends them, at the origin and
//! for the edge, within SPEC §7's super-admin boundary.

use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, json_of, print_error};
use crate::trust_boundaries::{admin_holding, root_id};

fn audit_entries(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM audit_log")
}

fn phone_of(app: &TestApp, user_id: i64) -> String {
    app.db()
        .query_row("SELECT phone FROM users WHERE id = ?1", [user_id], |row| {
            row.get(0)
        })
        .unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str, query: &[(&str, &str)]) -> Response {
    app.admin_request(Method::GET, path)
        .header("token", token)
        .query(query)
        .send()
        .await
        .unwrap()
}

async fn delete(app: &TestApp, token: &str, path: &str) -> Response {
    app.admin_request(Method::DELETE, path)
        .header("token", token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn each_user_read_needs_its_permission_before_any_parameter_is_read() {
    let app = TestApp::spawn().await;
    let (support, _) = admin_holding(&app, "客服", &["客服工具管理"]).await;
    let (points, _) = admin_holding(&app, "积分", &["积分管理"]).await;
    let (_, member) = app.member().await;
    let root = app.admin_token().await;
    // (path, bad query, the permission's holder among the two, what root gets for the bad query)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, Option<&'a String>, u16);
    let cases: Vec<Case> = vec![
        ("/admin/users/abc".into(), vec![], None, 404),
        (format!("/admin/users/{member}/sessions"), vec![], None, 200),
        (
            format!("/admin/users/{member}/points_ledger"),
            vec![("page", "0")],
            Some(&points),
            400,
        ),
        (
            format!("/admin/users/{member}/balance_ledger"),
            vec![("limit", "many")],
            None,
            400,
        ),
        (
            format!("/admin/users/{member}/coupons"),
            vec![("page", "-1")],
            None,
            400,
        ),
        (
            format!("/admin/users/{member}/messages"),
            vec![("page", "x")],
            Some(&support),
            400,
        ),
        (
            format!("/admin/users/{member}/uploads"),
            vec![("limit", "1000")],
            Some(&support),
            400,
        ),
        (
            "/admin/audit_log".into(),
            vec![("from", "yesterday")],
            None,
            400,
        ),
        ("/admin/audit_log/abc".into(), vec![], None, 404),
    ];
    for (path, query, holder, root_answer) in cases {
        for token in [&support, &points] {
            if holder == Some(token) {
                continue;
            }
            let refused = get(&app, token, &path, &query).await;
            print_error(refused, 403, 10003).await;
        }
        if let Some(holder) = holder {
            // The holder gets past the permission, to the parameters.
            let answer = get(&app, holder, &path, &query).await;
            assert_eq!(answer.status().as_u16(), root_answer, "{path}");
        }
        let answer = get(&app, &root, &path, &query).await;
        assert_eq!(answer.status().as_u16(), root_answer, "{path} {query:?}");
    }
    for path in [
        format!("/admin/users/{member}/sessions"),
        format!("/admin/users/{member}/sessions/nope"),
        "/admin/users/abc/sessions".into(),
    ] {
        print_error(delete(&app, &support, &path).await, 403, 10003).await;
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = {member} AND revoked_at IS NOT NULL"
        )),
        0
    );
}

#[tokio::test]
async fn a_user_is_shown_with_figures_sign_in_modes_and_roles_but_no_secret() {
    let app = TestApp::spawn().await;
    let (_, user_id) = app.member().await;
    let root = app.admin_token().await;
    for (path, body) in [
        (
            format!("/admin/users/{user_id}/points"),
            json!({ "number": 1200, "describe": "活动" }),
        ),
        (
            format!("/admin/users/{user_id}/balance"),
            json!({ "amount": "8.50", "describe": "补偿" }),
        ),
    ] {
        json_of(app.admin_call(&root, Method::POST, &path, body).await, 201).await;
    }
    let response = get(&app, &root, &format!("/admin/users/{user_id}"), &[]).await;
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("argon2") && !text.contains("password_hash"),
        "{text}"
    );
    let user: Value = serde_json::from_str(&text).unwrap();
    let data = &user["data"];
    assert_eq!(data["id"], user_id);
    assert_eq!(data["phone"], phone_of(&app, user_id));
    assert_eq!(data["points"], 1200);
    assert_eq!(data["balance"], "8.50");
    assert_eq!(data["member_level"]["name"], "白银会员");
    assert_eq!(data["disabled"], false);
    assert_eq!(
        data["sign_in"],
        json!({ "password": true, "phone": true, "email": false, "wechat": false })
    );
    assert_eq!(data["roles"], json!([]));
    assert!(data["created_at"].as_str().unwrap().ends_with("+08:00"));
    let root_view = json_of(
        get(&app, &root, &format!("/admin/users/{}", root_id(&app)), &[]).await,
        200,
    )
    .await;
    assert_eq!(root_view["data"]["roles"], json!(["super-admin"]));
    assert_eq!(root_view["data"]["account"], "root");

    for path in [
        "/admin/users/99999".to_owned(),
        "/admin/users/99999/sessions".into(),
        "/admin/users/99999/points_ledger".into(),
        "/admin/users/99999/balance_ledger".into(),
        "/admin/users/99999/coupons".into(),
        "/admin/users/99999/messages".into(),
        "/admin/users/99999/uploads".into(),
    ] {
        print_error(get(&app, &root, &path, &[]).await, 404, 999).await;
    }
    let before = audit_entries(&app);
    for path in [
        "/admin/users/99999/sessions",
        "/admin/users/99999/sessions/abc",
    ] {
        print_error(delete(&app, &root, path).await, 404, 999).await;
    }
    assert_eq!(audit_entries(&app), before, "a 404 audits nothing");
}

#[tokio::test]
async fn ending_a_session_ends_it_at_the_origin_and_tells_the_edge() {
    let app = TestApp::spawn().await;
    let (first, user_id) = app.member().await;
    let phone = phone_of(&app, user_id);
    let second = app.print_login(&phone, PASSWORD, false).await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let third = app.print_login(&phone, PASSWORD, false).await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let root = app.admin_token().await;
    let sessions_path = format!("/admin/users/{user_id}/sessions");
    let listed = json_of(get(&app, &root, &sessions_path, &[]).await, 200).await;
    let listed = listed["data"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|session| session["admin"] == false));
    assert!(
        listed
            .iter()
            .all(|session| session["expires_at"].as_str().unwrap()
                > session["issued_at"].as_str().unwrap())
    );
    let text = serde_json::to_string(&listed).unwrap();
    assert!(!text.contains("jti"), "no token id is shown: {text}");
    // The newest first: the third sign-in's session.
    let newest: String = app
        .db()
        .query_row(
            "SELECT id FROM sessions WHERE user_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
            [user_id],
            |row| row.get(0),
        )
        .unwrap();
    let sid = listed
        .iter()
        .map(|session| session["sid"].as_str().unwrap().to_owned())
        .find(|sid| *sid == newest)
        .expect("the newest session is listed");

    let ended = delete(&app, &root, &format!("{sessions_path}/{sid}")).await;
    json_of(ended, 200).await;
    print_error(
        app.get_with_token("/api/users/self", &third).await,
        401,
        999,
    )
    .await;
    json_of(app.get_with_token("/api/users/self", &first).await, 200).await;
    let told = app.count(&format!(
        "SELECT count(*) FROM edge_outbox WHERE instructions LIKE '%revoke_session%' AND instructions LIKE '%{sid}%'"
    ));
    assert_eq!(told, 1, "the revocation is queued for the edge");
    let audited = app.count(&format!(
        "SELECT count(*) FROM audit_log WHERE action = 'user.session.revoke' AND target_user = {user_id} AND detail LIKE '%{sid}%'"
    ));
    assert_eq!(audited, 1);
    let listed = json_of(get(&app, &root, &sessions_path, &[]).await, 200).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    // Ended already, or not this user's: not found, and nothing audited.
    let before = audit_entries(&app);
    print_error(
        delete(&app, &root, &format!("{sessions_path}/{sid}")).await,
        404,
        999,
    )
    .await;
    let roots_sid: String = app
        .db()
        .query_row(
            "SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL LIMIT 1",
            [root_id(&app)],
            |row| row.get(0),
        )
        .unwrap();
    print_error(
        delete(&app, &root, &format!("{sessions_path}/{roots_sid}")).await,
        404,
        999,
    )
    .await;
    assert_eq!(audit_entries(&app), before);

    let all = json_of(delete(&app, &root, &sessions_path).await, 200).await;
    assert_eq!(all["data"]["revoked"], 2);
    for token in [&first, &second] {
        print_error(app.get_with_token("/api/users/self", token).await, 401, 999).await;
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM edge_outbox WHERE instructions LIKE '%revoke_session%' AND instructions LIKE '%\"user\":{user_id}%'"
        )),
        2,
        "one row for the one session, one for the two"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'user.sessions.revoke' AND target_user = {user_id}"
        )),
        1
    );
    let listed = json_of(get(&app, &root, &sessions_path, &[]).await, 200).await;
    assert_eq!(listed["data"], json!([]));
    // The user signs in again as before.
    app.print_login(&phone, PASSWORD, false).await;
}

#[tokio::test]
async fn only_a_super_admin_ends_a_super_admins_sessions() {
    let app = TestApp::spawn().await;
    let (users_admin, _) = admin_holding(&app, "用户", &["用户管理"]).await;
    let (member_token, member) = app.member().await;
    let root = app.admin_token().await;
    let root_id = root_id(&app);
    let roots_sid: String = app
        .db()
        .query_row(
            "SELECT id FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL LIMIT 1",
            [root_id],
            |row| row.get(0),
        )
        .unwrap();
    let before = audit_entries(&app);
    let revoked = || {
        app.count(&format!(
            "SELECT count(*) FROM sessions WHERE user_id = {root_id} AND revoked_at IS NOT NULL"
        ))
    };
    let revoked_before = revoked();
    for path in [
        format!("/admin/users/{root_id}/sessions"),
        format!("/admin/users/{root_id}/sessions/{roots_sid}"),
    ] {
        let refused = delete(&app, &users_admin, &path).await;
        print_error(refused, 403, 10003).await;
    }
    assert_eq!(audit_entries(&app), before, "refusals leave no audit entry");
    assert_eq!(revoked(), revoked_before, "nothing changed");
    json_of(get(&app, &root, "/admin/roles", &[]).await, 200).await;

    // Within its powers: a plain member's sessions.
    let ended = delete(
        &app,
        &users_admin,
        &format!("/admin/users/{member}/sessions"),
    )
    .await;
    assert_eq!(json_of(ended, 200).await["data"]["revoked"], 1);
    print_error(
        app.get_with_token("/api/users/self", &member_token).await,
        401,
        999,
    )
    .await;
    // A super-admin may end a super-admin's sessions (its own here).
    let own = delete(
        &app,
        &root,
        &format!("/admin/users/{root_id}/sessions/{roots_sid}"),
    )
    .await;
    json_of(own, 200).await;
    print_error(get(&app, &root, "/admin/roles", &[]).await, 401, 999).await;
}

#[tokio::test]
async fn a_users_admin_cannot_sign_out_an_admin_with_powers_it_lacks() {
    // Disabling a 财务 admin needs 财务管理 (update_user); ending their sessions, again and
    // again, took their powers away just the same and needed only 用户管理.
    let app = TestApp::spawn().await;
    let (users_admin, _) = admin_holding(&app, "用户", &["用户管理"]).await;
    let (finance_token, finance) = admin_holding(&app, "财务", &["财务管理"]).await;
    let (peer_token, peer) = admin_holding(&app, "用户二", &["用户管理"]).await;
    let before = audit_entries(&app);
    let refused = delete(
        &app,
        &users_admin,
        &format!("/admin/users/{finance}/sessions"),
    )
    .await;
    print_error(refused, 403, 10003).await;
    assert_eq!(
        audit_entries(&app),
        before,
        "a refusal leaves no audit entry"
    );
    json_of(
        app.get_with_token("/api/users/self", &finance_token).await,
        200,
    )
    .await;
    // An admin whose roles it could hand out itself is within its powers.
    let ended = delete(&app, &users_admin, &format!("/admin/users/{peer}/sessions")).await;
    assert!(
        json_of(ended, 200).await["data"]["revoked"]
            .as_i64()
            .unwrap()
            >= 1
    );
    print_error(
        app.get_with_token("/api/users/self", &peer_token).await,
        401,
        999,
    )
    .await;
}

#[tokio::test]
async fn ledgers_coupons_messages_and_uploads_are_listed_newest_first_in_pages() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let root = app.admin_token().await;
    for (number, describe) in [(100, "一"), (-30, "二"), (5, "三")] {
        let body = json!({ "number": number, "describe": describe });
        let path = format!("/admin/users/{user_id}/points");
        json_of(app.admin_call(&root, Method::POST, &path, body).await, 201).await;
    }
    let body = json!({ "amount": "3.00", "describe": "补" });
    let path = format!("/admin/users/{user_id}/balance");
    json_of(app.admin_call(&root, Method::POST, &path, body).await, 201).await;
    for name in ["旧券", "新券"] {
        let body =
            json!({ "name": name, "type": "抵扣", "quota": "5", "finished_at": "2999-01-01" });
        let path = format!("/admin/users/{user_id}/coupons");
        json_of(app.admin_call(&root, Method::POST, &path, body).await, 201).await;
    }
    let body = json!({ "title": "你好", "body": "欢迎", "user_id": user_id });
    json_of(
        app.admin_call(&root, Method::POST, "/admin/messages", body)
            .await,
        201,
    )
    .await;
    let png = reqwest::multipart::Part::bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec())
        .file_name("me.png");
    let uploaded = app
        .request(Method::POST, "/api/images")
        .header("token", &token)
        .multipart(reqwest::multipart::Form::new().part("image", png))
        .send()
        .await
        .unwrap();
    let image = json_of(uploaded, 201).await["data"][0].clone();

    let points = json_of(
        get(
            &app,
            &root,
            &format!("/admin/users/{user_id}/points_ledger"),
            &[("limit", "2")],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(points["data"]["total"], 3);
    assert_eq!(points["data"]["last_page"], 2);
    let rows = &points["data"]["data"];
    assert_eq!(rows[0]["describe"], "三");
    assert_eq!(rows[0]["surplus"], 75);
    assert_eq!(rows[1]["type"], "支出");
    assert_eq!(rows[1]["number"], 30);
    let second_page = json_of(
        get(
            &app,
            &root,
            &format!("/admin/users/{user_id}/points_ledger"),
            &[("limit", "2"), ("page", "2")],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(second_page["data"]["data"][0]["describe"], "一");
    let balance = json_of(
        get(
            &app,
            &root,
            &format!("/admin/users/{user_id}/balance_ledger"),
            &[],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(balance["data"]["data"][0]["number"], "3.00");
    assert_eq!(balance["data"]["data"][0]["surplus"], "3.00");
    let coupons = json_of(
        get(&app, &root, &format!("/admin/users/{user_id}/coupons"), &[]).await,
        200,
    )
    .await;
    assert_eq!(coupons["data"]["total"], 2);
    assert_eq!(coupons["data"]["data"][0]["name"], "新券");
    assert_eq!(coupons["data"]["data"][0]["status"], "可使用");
    let messages = json_of(
        get(
            &app,
            &root,
            &format!("/admin/users/{user_id}/messages"),
            &[],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(messages["data"]["data"][0]["title"], "你好");
    assert_eq!(messages["data"]["data"][0]["is_read"], false);
    let uploads = json_of(
        get(&app, &root, &format!("/admin/users/{user_id}/uploads"), &[]).await,
        200,
    )
    .await;
    let upload = &uploads["data"]["data"][0];
    assert_eq!(upload["id"], image["id"]);
    assert_eq!(upload["src"], image["src"]);
    assert_eq!(upload["kind"], "image");
    assert_eq!(upload["name"], "me.png");
    assert_eq!(upload["mime"], "image/png");
    assert_eq!(upload["size"], 16);
    // Another user's lists are theirs alone.
    let (_, other) = app.member().await;
    let root = app.admin_token().await;
    for list in [
        "points_ledger",
        "balance_ledger",
        "coupons",
        "messages",
        "uploads",
    ] {
        let page = json_of(
            get(&app, &root, &format!("/admin/users/{other}/{list}"), &[]).await,
            200,
        )
        .await;
        assert_eq!(page["data"]["total"], 0, "{list}");
    }
}

/// Writes an audit entry as of `created_at` (Unix seconds).
fn audit_at(
    app: &TestApp,
    actor: (Option<i64>, &str),
    action: &str,
    user: Option<i64>,
    created_at: i64,
) {
    app.db()
        .execute(
            "INSERT INTO audit_log (actor_id, actor, action, target_user, detail, ip, created_at)
             VALUES (?1, ?2, ?3, ?4, '{\"n\":1}', '127.0.0.1', ?5)",
            rusqlite::params![actor.0, actor.1, action, user, created_at],
        )
        .unwrap();
}

#[tokio::test]
async fn the_audit_log_is_filtered_by_actor_action_user_and_day_in_the_servers_offset() {
    let app = TestApp::spawn().await;
    let (_, alice) = app.member().await;
    let (_, bob) = app.member().await;
    let root = app.admin_token().await;
    let root_id = root_id(&app);
    // 2026-01-31 23:59:59 and 2026-02-01 00:00:00 at +08:00 (the default offset).
    let last_of_january = 1_769_875_199;
    audit_at(
        &app,
        (Some(root_id), "root"),
        "user.points",
        Some(alice),
        last_of_january,
    );
    audit_at(
        &app,
        (Some(root_id), "root"),
        "user.balance",
        Some(bob),
        last_of_january + 1,
    );
    audit_at(
        &app,
        (None, "cli"),
        "user.points",
        Some(bob),
        last_of_january + 1,
    );
    let search = |query: Vec<(&'static str, String)>| {
        let app = &app;
        let root = &root;
        async move {
            let response = app
                .admin_request(Method::GET, "/admin/audit_log")
                .header("token", root)
                .query(&query)
                .send()
                .await
                .unwrap();
            let body = json_of(response, 200).await;
            body["data"]["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| {
                    (
                        row["action"].as_str().unwrap().to_owned(),
                        row["target_user_id"].as_i64(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let points = |user: i64| ("user.points".to_owned(), Some(user));
    let balance = |user: i64| ("user.balance".to_owned(), Some(user));
    assert_eq!(
        search(vec![("action", "user.points".into())]).await,
        [points(bob), points(alice)]
    );
    assert_eq!(
        search(vec![("user_id", alice.to_string())]).await,
        [points(alice)]
    );
    assert_eq!(
        search(vec![("actor", "cli".into()), ("user_id", bob.to_string())]).await,
        [points(bob)]
    );
    assert_eq!(
        search(vec![
            ("actor", root_id.to_string()),
            ("action", "user.balance".into())
        ])
        .await,
        [balance(bob)]
    );
    assert_eq!(
        search(vec![("actor", "root".into()), ("to", "2026-02-01".into())]).await,
        [balance(bob), points(alice)]
    );
    assert_eq!(
        search(vec![("to", "2026-01-31".into())]).await,
        [points(alice)],
        "the last second of the 31st in +08:00, not the first of February"
    );
    assert_eq!(
        search(vec![
            ("from", "2026-02-01".into()),
            ("to", "2026-02-01".into())
        ])
        .await,
        [points(bob), balance(bob)]
    );
    assert!(
        search(vec![
            ("from", "2026-01-30".into()),
            ("to", "2026-01-30".into())
        ])
        .await
        .is_empty()
    );
    // Today's entries (the outbox reads of the fixtures) are after February 2026's first day.
    let today = search(vec![
        ("from", "2026-02-02".into()),
        ("action", "outbox.read".into()),
    ])
    .await;
    assert!(!today.is_empty());

    for (field, query) in [
        ("from", vec![("from", "2026-02-30")]),
        ("from", vec![("from", "yesterday")]),
        ("to", vec![("to", "2026/01/31")]),
        ("to", vec![("from", "2026-02-02"), ("to", "2026-02-01")]),
        ("user_id", vec![("user_id", "abc")]),
        ("user_id", vec![("user_id", "0")]),
        ("page", vec![("page", "0")]),
    ] {
        let refused = get(&app, &root, "/admin/audit_log", &query).await;
        let error = print_error(refused, 400, 999).await;
        assert!(error["errors"][field].is_array(), "{query:?}: {error}");
    }
    let long = "a".repeat(101);
    let refused = get(&app, &root, "/admin/audit_log", &[("actor", &long)]).await;
    print_error(refused, 400, 999).await;

    // One entry, with its whole detail.
    let id =
        app.count("SELECT max(id) FROM audit_log WHERE actor = 'cli' AND action = 'user.points'");
    let entry = json_of(
        get(&app, &root, &format!("/admin/audit_log/{id}"), &[]).await,
        200,
    )
    .await;
    assert_eq!(entry["data"]["id"], id);
    assert_eq!(entry["data"]["actor"], json!({ "id": null, "name": "cli" }));
    assert_eq!(entry["data"]["detail"], json!({ "n": 1 }));
    assert_eq!(entry["data"]["created_at"], "2026-02-01T00:00:00+08:00");
    print_error(
        get(&app, &root, "/admin/audit_log/999999", &[]).await,
        404,
        999,
    )
    .await;
}
