//! The admin API (SPEC §7): permissions as data, every write audited and told to the edge,
//! disabling revokes sessions, and the operator CLI.

use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, json_of, print_error};
use crate::trust_boundaries::admin_holding;

/// Every admin endpoint, with a body that would succeed for a super-admin.
fn endpoints(user_id: i64) -> Vec<(Method, String, Value, &'static str)> {
    vec![
        (Method::GET, "/admin/users".into(), json!({}), "用户管理"),
        (
            Method::PUT,
            format!("/admin/users/{user_id}"),
            json!({ "disabled": false }),
            "用户管理",
        ),
        (
            Method::POST,
            format!("/admin/users/{user_id}/points"),
            json!({ "number": 5, "describe": "x" }),
            "积分管理",
        ),
        (
            Method::POST,
            format!("/admin/users/{user_id}/balance"),
            json!({ "amount": "1.00", "describe": "x" }),
            "财务管理",
        ),
        (
            Method::POST,
            format!("/admin/users/{user_id}/coupons"),
            json!({ "name": "券", "type": "抵扣", "quota": "5", "finished_at": "2999-01-01" }),
            "优惠券管理",
        ),
        (
            Method::POST,
            "/admin/messages".into(),
            json!({ "title": "t", "body": "b", "user_id": user_id }),
            "客服工具管理",
        ),
        (
            Method::POST,
            "/admin/goods".into(),
            json!({ "name": "g", "price": "1" }),
            "商品管理",
        ),
        (
            Method::POST,
            "/admin/gifts".into(),
            json!({ "name": "g", "accumulate_points": 1, "stock": 1 }),
            "积分管理",
        ),
        (
            Method::PUT,
            "/admin/gift_orders/1/ship".into(),
            json!({ "express_company": "e", "tracking_no": "t" }),
            "配送管理",
        ),
        (
            Method::GET,
            "/admin/audit_log".into(),
            json!({}),
            "数据中心",
        ),
        (Method::GET, "/admin/roles".into(), json!({}), "用户管理"),
        (
            Method::POST,
            "/admin/roles".into(),
            json!({ "name": "r", "permissions": [] }),
            "用户管理",
        ),
        (
            Method::GET,
            "/admin/outbox".into(),
            json!({}),
            "客服工具管理",
        ),
        (
            Method::GET,
            "/admin/deliveries".into(),
            json!({}),
            "客服工具管理",
        ),
        (
            Method::POST,
            "/admin/invitation_codes".into(),
            json!({ "uses": 1 }),
            "用户管理",
        ),
        (
            Method::GET,
            format!("/admin/users/{user_id}"),
            json!({}),
            "用户管理",
        ),
        (
            Method::GET,
            format!("/admin/users/{user_id}/sessions"),
            json!({}),
            "用户管理",
        ),
        (
            Method::DELETE,
            format!("/admin/users/{user_id}/sessions/0123456789abcdef"),
            json!({}),
            "用户管理",
        ),
        (
            Method::GET,
            format!("/admin/users/{user_id}/points_ledger"),
            json!({}),
            "积分管理",
        ),
        (
            Method::GET,
            format!("/admin/users/{user_id}/balance_ledger"),
            json!({}),
            "财务管理",
        ),
        (
            Method::GET,
            "/admin/recharge_orders".into(),
            json!({}),
            "财务管理",
        ),
        (
            Method::GET,
            format!("/admin/users/{user_id}/coupons"),
            json!({}),
            "优惠券管理",
        ),
        (
            Method::GET,
            format!("/admin/users/{user_id}/messages"),
            json!({}),
            "客服工具管理",
        ),
        (
            Method::GET,
            format!("/admin/users/{user_id}/uploads"),
            json!({}),
            "客服工具管理",
        ),
        (
            Method::GET,
            "/admin/audit_log/1".into(),
            json!({}),
            "数据中心",
        ),
        (
            Method::GET,
            "/admin/gift_orders".into(),
            json!({}),
            "配送管理",
        ),
        (
            Method::GET,
            "/admin/gift_orders/export".into(),
            json!({}),
            "配送管理",
        ),
        (Method::GET, "/admin/goods".into(), json!({}), "商品管理"),
        (
            Method::PUT,
            "/admin/goods/1".into(),
            json!({ "name": "g", "price": "1" }),
            "商品管理",
        ),
        (Method::GET, "/admin/gifts".into(), json!({}), "积分管理"),
        (
            Method::PUT,
            "/admin/gifts/1".into(),
            json!({ "name": "g", "accumulate_points": 1, "stock": 1 }),
            "积分管理",
        ),
        (Method::GET, "/admin/stats".into(), json!({}), "数据中心"),
        // Last: it ends the member's sessions.
        (
            Method::DELETE,
            format!("/admin/users/{user_id}/sessions"),
            json!({}),
            "用户管理",
        ),
    ]
}

fn phone_of(app: &TestApp, user_id: i64) -> String {
    app.db()
        .query_row("SELECT phone FROM users WHERE id = ?1", [user_id], |row| {
            row.get(0)
        })
        .unwrap()
}

/// Signs `user_id` (a store user with a password) in as an admin after giving them `role`.
async fn admin_with_role(app: &TestApp, role: &str, permissions: &[&str]) -> (String, i64) {
    let (_, user_id) = app.member().await;
    let phone = phone_of(app, user_id);
    let root = app.admin_token().await;
    let saved = app
        .admin_call(
            &root,
            Method::POST,
            "/admin/roles",
            json!({ "name": role, "permissions": permissions }),
        )
        .await;
    json_of(saved, 201).await;
    let assigned = app
        .admin_call(
            &root,
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

#[tokio::test]
async fn every_endpoint_needs_an_admin_token_holding_its_permission() {
    let app = TestApp::spawn().await;
    let (member_token, user_id) = app.member().await;
    let (support_token, _) = admin_with_role(&app, "客服", &["客服工具管理"]).await;
    for (method, path, body, permission) in endpoints(user_id) {
        let anonymous = app
            .admin_request(method.clone(), &path)
            .send()
            .await
            .unwrap();
        print_error(anonymous, 401, 999).await;
        let member = app
            .admin_call(&member_token, method.clone(), &path, body.clone())
            .await;
        print_error(member, 403, 10003).await;
        let support = app
            .admin_call(&support_token, method.clone(), &path, body.clone())
            .await;
        if permission == "客服工具管理" {
            assert!(
                support.status().is_success(),
                "{path}: {}",
                support.status()
            );
        } else {
            print_error(support, 403, 10003).await;
        }
    }
    // The super-admin holds all 15, so each endpoint gets past the check (the ship call finds no
    // order: 404, not 403).
    let root = app.admin_token().await;
    for (method, path, body, _) in endpoints(user_id) {
        let response = app.admin_call(&root, method, &path, body).await;
        let status = response.status().as_u16();
        assert!(status != 401 && status != 403, "{path}: {status}");
    }
}

#[tokio::test]
async fn disabling_a_user_revokes_every_session_and_enabling_lets_them_back() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let phone = phone_of(&app, user_id);
    let root = app.admin_token().await;
    let path = format!("/admin/users/{user_id}");
    json_of(
        app.admin_call(&root, Method::PUT, &path, json!({ "disabled": true }))
            .await,
        200,
    )
    .await;
    print_error(
        app.get_with_token("/api/users/self", &token).await,
        401,
        999,
    )
    .await;
    let login = app
        .request(Method::POST, "/api/login")
        .json(&json!({ "username": phone, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    print_error(login, 403, 999).await;
    let revoked = app.count(&format!(
        "SELECT count(*) FROM edge_outbox WHERE instructions LIKE '%revoke_session%' AND instructions LIKE '%\"user\":{user_id}%'"
    ));
    assert!(revoked >= 1, "the revocation is queued for the edge");

    json_of(
        app.admin_call(&root, Method::PUT, &path, json!({ "disabled": false }))
            .await,
        200,
    )
    .await;
    app.print_login(&phone, PASSWORD, false).await;

    // An admin cannot disable themselves; unknown users and roles are refused.
    let root_id = app.count("SELECT id FROM users WHERE account = 'root'");
    let own = app
        .admin_call(
            &root,
            Method::PUT,
            &format!("/admin/users/{root_id}"),
            json!({ "disabled": true }),
        )
        .await;
    print_error(own, 400, 999).await;
    let unknown = app
        .admin_call(
            &root,
            Method::PUT,
            "/admin/users/99999",
            json!({ "disabled": true }),
        )
        .await;
    print_error(unknown, 404, 999).await;
    let bad_role = app
        .admin_call(&root, Method::PUT, &path, json!({ "roles": ["nope"] }))
        .await;
    print_error(bad_role, 400, 999).await;
    let nothing = app.admin_call(&root, Method::PUT, &path, json!({})).await;
    print_error(nothing, 400, 999).await;
}

#[tokio::test]
async fn a_gift_edit_made_on_a_stale_stock_does_not_undo_redemptions() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    let created = app
        .admin_call(
            &root,
            Method::POST,
            "/admin/gifts",
            json!({ "name": "杯子", "accumulate_points": 5, "stock": 5 }),
        )
        .await;
    let gift_id = json_of(created, 201).await["data"]["id"].as_i64().unwrap();
    // The operator read stock 5; two redemptions happen before they save a new name.
    app.db()
        .execute(
            "UPDATE gifts SET stock = stock - 2 WHERE id = ?1",
            [gift_id],
        )
        .unwrap();
    let path = format!("/admin/gifts/{gift_id}");
    let edit = |stock: i64, seen: i64| json!({ "name": "保温杯", "accumulate_points": 5, "stock": stock, "seen_stock": seen });
    let stock = || app.count(&format!("SELECT stock FROM gifts WHERE id = {gift_id}"));
    let name = || {
        app.db()
            .query_row("SELECT name FROM gifts WHERE id = ?1", [gift_id], |row| {
                row.get::<_, String>(0)
            })
            .unwrap()
    };
    // A new stock (8) set on the 5 they read would undo the two redemptions: refused.
    let refused = app.admin_call(&root, Method::PUT, &path, edit(8, 5)).await;
    let body = print_error(refused, 400, 999).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("库存已从 5 变为 3"),
        "{body}"
    );
    assert_eq!((stock(), name()), (3, "杯子".to_owned()));
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift.update'"),
        0
    );
    // The stock left as they read it: the new name is saved, the redemptions stand.
    json_of(
        app.admin_call(&root, Method::PUT, &path, edit(5, 5)).await,
        200,
    )
    .await;
    assert_eq!((stock(), name()), (3, "保温杯".to_owned()));
    let audited = app.db().query_row(
        "SELECT detail FROM audit_log WHERE action = 'gift.update'",
        [],
        |row| row.get::<_, String>(0),
    );
    let audited: Value = serde_json::from_str(&audited.unwrap()).unwrap();
    assert_eq!(audited["after"]["stock"], 3, "{audited}");
    assert_eq!(
        (&audited["seen_stock"], &audited["stock_sent"]),
        (&json!(5), &json!(5)),
        "{audited}"
    );
    // Sending the stock it has now undoes nothing either.
    json_of(
        app.admin_call(&root, Method::PUT, &path, edit(3, 5)).await,
        200,
    )
    .await;
    assert_eq!(stock(), 3);
    // Having seen 3, the operator may set 5 on purpose (two more items arrived).
    json_of(
        app.admin_call(&root, Method::PUT, &path, edit(5, 3)).await,
        200,
    )
    .await;
    assert_eq!(stock(), 5);
}

#[tokio::test]
async fn a_retried_admin_write_with_its_idempotency_key_is_done_once() {
    // A script credits a balance, times out, and retries: without a key, twice the money.
    let app = TestApp::spawn().await;
    let (_, user_id) = app.member().await;
    let (finance, _) = admin_holding(&app, "财务", &["财务管理"]).await;
    let (member, _) = app.member().await;
    let root = app.admin_token().await;
    let path = format!("/admin/users/{user_id}/balance");
    let credit = |token: &str, key: &str| {
        app.admin_request(Method::POST, &path)
            .header("token", token)
            .header("Idempotency-Key", key)
            .json(&json!({ "amount": "5.00", "describe": "补偿" }))
            .send()
    };
    let entries = || {
        app.count(&format!(
            "SELECT count(*) FROM balance_records WHERE user_id = {user_id}"
        ))
    };
    json_of(credit(&root, "retry-0001").await.unwrap(), 201).await;
    let repeated = print_error(credit(&root, "retry-0001").await.unwrap(), 400, 999).await;
    assert!(
        repeated["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{repeated}"
    );
    assert_eq!(entries(), 1);
    // A new key is a new write; keys are the admin's own, so another admin's equal key acts.
    json_of(credit(&root, "retry-0002").await.unwrap(), 201).await;
    json_of(credit(&finance, "retry-0001").await.unwrap(), 201).await;
    assert_eq!(entries(), 3);
    // A caller without the permission hears 403 first, whatever key it sent.
    print_error(credit(&member, "bad key").await.unwrap(), 403, 10003).await;
    // A malformed key changes nothing.
    for bad in ["short", "has space in it", &"k".repeat(129)] {
        let refused = print_error(credit(&root, bad).await.unwrap(), 400, 999).await;
        assert!(refused["errors"]["Idempotency-Key"].is_array(), "{refused}");
    }
    assert_eq!(entries(), 3);
    // Reads ignore it: an audited read may be repeated.
    for _ in 0..2 {
        let read = app
            .admin_request(Method::GET, "/admin/outbox")
            .header("token", &root)
            .header("Idempotency-Key", "read-0001")
            .send()
            .await
            .unwrap();
        json_of(read, 200).await;
    }
}

#[tokio::test]
async fn a_coupon_ending_in_the_last_hour_of_year_9999_is_listed_not_a_500() {
    // Stored as UTC, shown at +08:00: one hour later is year 10000, which the formatter
    // refused with a panic, so every read of the user's coupons answered 500 from then on.
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let root = app.admin_token().await;
    json_of(
        app.admin_call(
            &root,
            Method::POST,
            &format!("/admin/users/{user_id}/coupons"),
            json!({ "name": "券", "type": "抵扣", "quota": "5", "finished_at": "9999-12-31T23:00:00Z" }),
        )
        .await,
        201,
    )
    .await;
    let listed = json_of(
        app.get_with_token("/api/users/self/coupons", &token).await,
        200,
    )
    .await;
    assert!(
        listed.to_string().contains("9999-12-31T23:00:00Z"),
        "{listed}"
    );
    let admin_list = app
        .admin_request(Method::GET, &format!("/admin/users/{user_id}/coupons"))
        .header("token", &root)
        .send()
        .await
        .unwrap();
    json_of(admin_list, 200).await;
}

#[tokio::test]
async fn ledger_adjustments_coupons_and_messages_reach_the_user_and_the_audit_log() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let root = app.admin_token().await;
    let points = format!("/admin/users/{user_id}/points");
    let balance = format!("/admin/users/{user_id}/balance");
    let body = json_of(
        app.admin_call(
            &root,
            Method::POST,
            &points,
            json!({ "number": 300, "describe": "活动奖励" }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(body["data"]["surplus"], 300);
    let refused = app
        .admin_call(
            &root,
            Method::POST,
            &points,
            json!({ "number": -301, "describe": "扣除" }),
        )
        .await;
    assert_eq!(print_error(refused, 400, 999).await["message"], "积分不足");
    json_of(
        app.admin_call(
            &root,
            Method::POST,
            &balance,
            json!({ "amount": "12.34", "describe": "补偿" }),
        )
        .await,
        201,
    )
    .await;
    let refused = app
        .admin_call(
            &root,
            Method::POST,
            &balance,
            json!({ "amount": "-12.35", "describe": "扣除" }),
        )
        .await;
    assert_eq!(print_error(refused, 400, 999).await["message"], "余额不足");
    for bad in [
        json!({ "number": 0, "describe": "x" }),
        json!({ "number": "ten", "describe": "x" }),
        json!({ "number": 5 }),
    ] {
        print_error(
            app.admin_call(&root, Method::POST, &points, bad).await,
            400,
            999,
        )
        .await;
    }
    print_error(
        app.admin_call(
            &root,
            Method::POST,
            &balance,
            json!({ "amount": "1.234", "describe": "x" }),
        )
        .await,
        400,
        999,
    )
    .await;
    // A zero change is refused naming the field that carried it.
    let zero = app
        .admin_call(
            &root,
            Method::POST,
            &balance,
            json!({ "amount": "0", "describe": "x" }),
        )
        .await;
    assert!(print_error(zero, 400, 999).await["errors"]["amount"].is_array());

    let coupons = format!("/admin/users/{user_id}/coupons");
    for bad in [
        json!({ "name": "券", "type": "满减", "quota": "5", "finished_at": "2999-01-01" }),
        json!({ "name": "券", "type": "打折", "quota": "5", "finished_at": "2999-01-01" }),
        json!({ "name": "券", "type": "抵扣", "quota": "0", "finished_at": "2999-01-01" }),
        json!({ "name": "券", "type": "抵扣", "quota": "5", "finished_at": "2000-01-01" }),
        json!({ "name": "券", "type": "抵扣", "quota": "5", "finished_at": "soon" }),
    ] {
        print_error(
            app.admin_call(&root, Method::POST, &coupons, bad).await,
            400,
            999,
        )
        .await;
    }
    json_of(
        app.admin_call(&root,
            Method::POST,
            &coupons,
            json!({ "name": "满百减十", "type": "满减", "quota": "10", "satisfy": "100", "finished_at": "2999-12-31 23:59:59" }),
        )
        .await,
        201,
    )
    .await;
    json_of(
        app.admin_call(
            &root,
            Method::POST,
            "/admin/messages",
            json!({ "title": "欢迎", "body": "你好", "user_id": user_id }),
        )
        .await,
        201,
    )
    .await;
    for bad in [
        json!({ "title": "t", "body": "b" }),
        json!({ "title": "t", "body": "b", "user_id": user_id, "all": true }),
        json!({ "title": "", "body": "b", "user_id": user_id }),
        json!({ "title": "t", "body": "b", "user_id": 99999 }),
    ] {
        let response = app
            .admin_call(&root, Method::POST, "/admin/messages", bad)
            .await;
        assert!(
            matches!(response.status().as_u16(), 400 | 404),
            "{}",
            response.status()
        );
    }

    let me = json_of(app.get_with_token("/api/users/self", &token).await, 200).await;
    assert_eq!(me["data"]["accumulate_points"], 300);
    assert_eq!(me["data"]["balance"], "12.34");
    let coupons = json_of(
        app.get_with_token("/api/users/self/coupons", &token).await,
        200,
    )
    .await;
    assert_eq!(coupons["data"]["data"][0]["name"], "满百减十");
    assert_eq!(coupons["data"]["data"][0]["satisfy"], "100.00");
    let messages = json_of(
        app.get_with_token("/api/users/self/messages", &token).await,
        200,
    )
    .await;
    assert_eq!(messages["data"]["data"][0]["title"], "欢迎");
    assert_eq!(messages["data"]["data"][0]["sender"], "系统");

    // Audited: who, what, to whom, from where — only the writes that happened.
    let audit = json_of(
        app.admin_request(Method::GET, "/admin/audit_log")
            .header("token", &root)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    // The fixtures' reads of the outbox (to fetch codes) are audited too (SPEC §7); the writes
    // are exactly the four this test made.
    let (reads, rows): (Vec<&Value>, Vec<&Value>) = audit["data"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .partition(|row| row["action"] == "outbox.read");
    assert!(!reads.is_empty());
    let actions: Vec<&str> = rows
        .iter()
        .map(|row| row["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["message.send", "user.coupon", "user.balance", "user.points"]
    );
    let points_row = rows[3];
    assert_eq!(points_row["actor"]["name"], "root");
    assert_eq!(points_row["target_user_id"], user_id);
    assert_eq!(points_row["detail"]["delta"], 300);
    assert_eq!(points_row["ip"], "127.0.0.1");
    // Each of these writes told the edge to drop the user's cached reads.
    let bumps = app.count(&format!(
        "SELECT count(*) FROM edge_outbox WHERE instructions LIKE '%\"bump\"%' AND instructions LIKE '%\"user\":{user_id}%'"
    ));
    assert_eq!(bumps, 4);
}

#[tokio::test]
async fn a_message_to_all_reaches_every_active_user() {
    let app = TestApp::spawn().await;
    let (first, _) = app.member().await;
    let (_, second_id) = app.member().await;
    let root = app.admin_token().await;
    let disable = app
        .admin_call(
            &root,
            Method::PUT,
            &format!("/admin/users/{second_id}"),
            json!({ "disabled": true }),
        )
        .await;
    json_of(disable, 200).await;
    let sent = app
        .admin_call(
            &root,
            Method::POST,
            "/admin/messages",
            json!({ "title": "公告", "body": "全体", "all": true, "sender": "运营" }),
        )
        .await;
    let active = app.count("SELECT count(*) FROM users WHERE disabled = 0");
    assert_eq!(json_of(sent, 201).await["data"]["recipients"], active);
    let unread = json_of(
        app.get_with_token("/api/users/self/messages/unread_count", &first)
            .await,
        200,
    )
    .await;
    assert_eq!(unread["data"]["count"], 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM messages WHERE user_id = {second_id}"
        )),
        0
    );
}

#[tokio::test]
async fn users_are_searched_and_roles_are_data() {
    let app = TestApp::spawn().await;
    let (_, user_id) = app.member().await;
    let phone = phone_of(&app, user_id);
    let root = app.admin_token().await;
    let found = json_of(
        app.admin_request(Method::GET, "/admin/users")
            .header("token", &root)
            .query(&[("q", &phone[3..])])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(found["data"]["total"], 1);
    assert_eq!(found["data"]["data"][0]["id"], user_id);
    assert_eq!(found["data"]["data"][0]["roles"], json!([]));
    let wildcard = json_of(
        app.admin_request(Method::GET, "/admin/users")
            .header("token", &root)
            .query(&[("q", "%")])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        wildcard["data"]["total"], 0,
        "LIKE wildcards are matched literally"
    );

    for bad in [
        json!({ "name": "r", "permissions": ["不存在的权限"] }),
        json!({ "name": "super-admin", "permissions": [] }),
        json!({ "permissions": [] }),
    ] {
        print_error(
            app.admin_call(&root, Method::POST, "/admin/roles", bad)
                .await,
            400,
            999,
        )
        .await;
    }
    json_of(
        app.admin_call(
            &root,
            Method::POST,
            "/admin/roles",
            json!({ "name": "财务", "permissions": ["财务管理", "数据中心"] }),
        )
        .await,
        201,
    )
    .await;
    let roles = json_of(
        app.admin_request(Method::GET, "/admin/roles")
            .header("token", &root)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let finance = roles["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|role| role["name"] == "财务")
        .unwrap();
    assert_eq!(finance["permissions"], json!(["财务管理", "数据中心"]));
    let super_admin = &roles["data"][0];
    assert_eq!(super_admin["permissions"].as_array().unwrap().len(), 15);
}

#[tokio::test]
async fn goods_and_gifts_are_created_with_validation() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    let goods = json_of(
        app.admin_call(
            &root,
            Method::POST,
            "/admin/goods",
            json!({ "name": "帆布袋", "price": "19.90" }),
        )
        .await,
        201,
    )
    .await;
    assert!(goods["data"]["id"].as_i64().unwrap() > 0);
    for bad in [
        json!({ "name": "x" }),
        json!({ "name": "x", "price": "-1" }),
        json!({ "price": "1" }),
    ] {
        print_error(
            app.admin_call(&root, Method::POST, "/admin/goods", bad)
                .await,
            400,
            999,
        )
        .await;
    }
    for bad in [
        json!({ "name": "g", "accumulate_points": 0, "stock": 1 }),
        json!({ "name": "g", "accumulate_points": 1, "stock": -1 }),
        json!({ "name": "g", "accumulate_points": 1, "stock": 1, "image": 424242 }),
    ] {
        print_error(
            app.admin_call(&root, Method::POST, "/admin/gifts", bad)
                .await,
            400,
            999,
        )
        .await;
    }
    assert_eq!(app.count("SELECT count(*) FROM gifts"), 0);
    // A gift's image is an image upload, shown as `{id, src}` in the public list.
    let png = reqwest::multipart::Part::bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec())
        .file_name("gift.png");
    let uploaded = app
        .request(Method::POST, "/api/images")
        .header("token", &root)
        .multipart(reqwest::multipart::Form::new().part("image", png))
        .send()
        .await
        .unwrap();
    let image = json_of(uploaded, 201).await["data"][0].clone();
    let gift =
        json!({ "name": "带图礼品", "accumulate_points": 5, "stock": 2, "image": image["id"] });
    json_of(
        app.admin_call(&root, Method::POST, "/admin/gifts", gift)
            .await,
        201,
    )
    .await;
    let gifts = json_of(
        app.request(Method::GET, "/api/gifts").send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(gifts["data"]["data"][0]["image"], image);
    assert_eq!(app.count("SELECT count(*) FROM goods"), 1);
    print_error(
        app.admin_call(
            &root,
            Method::PUT,
            "/admin/gift_orders/abc/ship",
            json!({ "express_company": "e", "tracking_no": "t" }),
        )
        .await,
        404,
        999,
    )
    .await;
}

#[tokio::test]
async fn the_cli_runs_back_office_tasks_with_an_audit_trail() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_origin"))
            .args(args)
            .env("ORIGIN_DATA_DIR", app.dir.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let id = user_id.to_string();
    let (ok, out, err) = run(&[
        "user",
        "--id",
        &id,
        "points",
        "--number",
        "40",
        "--describe",
        "补发",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "points now 40");
    let (ok, _, err) = run(&[
        "user",
        "--id",
        &id,
        "points",
        "--number",
        "-41",
        "--describe",
        "扣",
    ]);
    assert!(!ok);
    assert!(err.contains("积分不足"), "{err}");
    // Errors are written for a person: which user, which field, never a Rust value.
    let (ok, _, err) = run(&["user", "--id", "999999", "disable"]);
    assert!(!ok);
    assert!(err.contains("there is no user with id 999999"), "{err}");
    let (ok, _, err) = run(&["invite", "create", "--uses", "0"]);
    assert!(!ok);
    assert!(
        err.contains("uses: ") && !err.contains("Invalid {"),
        "{err}"
    );
    // Flags are named like the API fields they set (the old name still works).
    let (ok, out, err) = run(&[
        "gift",
        "create",
        "--name",
        "保温杯",
        "--accumulate-points",
        "500",
        "--stock",
        "2",
    ]);
    assert!(ok, "{err}");
    assert!(out.trim().parse::<i64>().is_ok(), "{out}");
    let (ok, out, _) = run(&[
        "user",
        "--id",
        &id,
        "balance",
        "--amount",
        "5.5",
        "--describe",
        "补",
    ]);
    assert!(ok);
    assert_eq!(out.trim(), "balance now 5.50");
    let (ok, out, _) = run(&["goods", "create", "--name", "杯子", "--price", "9.9"]);
    assert!(ok && out.trim().parse::<i64>().is_ok(), "{out}");
    // The CLI goes through the same rules as the admin API (they live in the domain).
    let (ok, _, err) = run(&["goods", "create", "--name", "杯子", "--price=-1"]);
    assert!(!ok && err.contains("price: "), "{err}");
    let (ok, _, err) = run(&[
        "gift",
        "create",
        "--name",
        "杯",
        "--accumulate-points",
        "1",
        "--stock=-1",
    ]);
    assert!(!ok && err.contains("stock: "), "{err}");
    let long_title = "题".repeat(101);
    let (ok, _, err) = run(&[
        "message",
        "send",
        "--user-id",
        &id,
        "--title",
        &long_title,
        "--body",
        "b",
    ]);
    assert!(!ok && err.contains("title: "), "{err}");
    let (ok, _, err) = run(&[
        "user",
        "--id",
        &id,
        "balance",
        "--amount=-100000001",
        "--describe",
        "补",
    ]);
    assert!(!ok && err.contains("amount: "), "{err}");
    let (ok, _, _) = run(&[
        "message",
        "send",
        "--user-id",
        &id,
        "--title",
        "t",
        "--body",
        "b",
    ]);
    assert!(ok);
    let (ok, _, err) = run(&["user", "--id", &id, "disable"]);
    assert!(ok, "{err}");
    print_error(
        app.get_with_token("/api/users/self", &token).await,
        401,
        999,
    )
    .await;

    let audited =
        app.count("SELECT count(*) FROM audit_log WHERE actor = 'cli' AND actor_id IS NULL");
    assert_eq!(
        audited, 6,
        "points, balance, gift, goods, message, disable; not the refused ones"
    );
}

#[tokio::test]
async fn unlocking_a_member_lifts_their_password_lock_and_code_limits_and_nothing_else() {
    // A stranger spends the owner's ten codes of the day and locks their password: the owner
    // can neither sign in nor reset. Support lets them back in without touching the password.
    let app = TestApp::spawn().await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let user_id: i64 = app
        .db()
        .query_row("SELECT id FROM users WHERE phone = ?1", [&phone], |row| {
            row.get(0)
        })
        .unwrap();
    let send_code = || {
        app.request_from(Method::POST, "/api/sms", &app.fresh_ip())
            .json(&json!({ "phone": phone, "is_register": false }))
            .send()
    };
    for _ in 0..9 {
        app.age_codes();
        json_of(send_code().await.unwrap(), 201).await;
    }
    app.age_codes();
    print_error(send_code().await.unwrap(), 429, 999).await;
    let sign_in = || {
        app.request(Method::POST, "/api/login")
            .json(&json!({ "username": phone, "password": PASSWORD }))
            .send()
    };
    let lock = |key: String| {
        app.db()
            .execute(
                "INSERT OR REPLACE INTO sign_in_locks (key, until) VALUES (?1, unixepoch() + 900)",
                [key],
            )
            .unwrap();
    };
    lock(format!("u:{user_id}"));
    print_error(sign_in().await.unwrap(), 429, 999).await;

    let (support, _) = admin_holding(&app, "客服", &["用户管理"]).await;
    let (member, _) = app.member().await;
    let root = app.admin_token().await;
    let root_id = app.count("SELECT id FROM users WHERE account = 'root'");
    let unlock = |token: String, user: i64| {
        app.admin_request(Method::POST, &format!("/admin/users/{user}/unlock"))
            .header("token", token)
            .send()
    };
    let detail = format!("/admin/users/{user_id}");
    let shown = json_of(
        app.admin_call(&root, Method::GET, &detail, json!({})).await,
        200,
    )
    .await;
    assert!(
        shown["data"]["sign_in"]["password_locked_until"].is_string(),
        "{shown}"
    );
    let audited = || app.count("SELECT count(*) FROM audit_log WHERE action = 'user.unlock'");
    // Without 用户管理: 403, nothing lifted.
    print_error(unlock(member, user_id).await.unwrap(), 403, 10003).await;
    // A super-admin's lock only a super-admin lifts.
    lock(format!("u:{root_id}"));
    print_error(unlock(support.clone(), root_id).await.unwrap(), 403, 10003).await;
    let locked = |user: i64| {
        app.count(&format!(
            "SELECT count(*) FROM sign_in_locks WHERE key = 'u:{user}'"
        ))
    };
    assert_eq!((locked(root_id), locked(user_id), audited()), (1, 1, 0));
    print_error(unlock(support.clone(), 99_999).await.unwrap(), 404, 999).await;

    let done = json_of(unlock(support.clone(), user_id).await.unwrap(), 200).await;
    assert_eq!(done["data"]["password_was_locked"], true, "{done}");
    assert_eq!(done["data"]["code_channels"], json!(["sms"]), "{done}");
    assert_eq!((locked(user_id), audited()), (0, 1));
    let detail_of_entry: Value = serde_json::from_str(
        &app.db()
            .query_row(
                "SELECT detail FROM audit_log WHERE action = 'user.unlock'",
                [],
                |row| row.get::<_, String>(0),
            )
            .unwrap(),
    )
    .unwrap();
    assert_eq!(detail_of_entry["phone"], json!(phone), "{detail_of_entry}");
    assert_eq!(detail_of_entry["password_was_locked"], true);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'user.unlock' AND target_user = {user_id}"
        )),
        1
    );
    let shown = json_of(
        app.admin_call(&root, Method::GET, &detail, json!({})).await,
        200,
    )
    .await;
    assert!(
        shown["data"]["sign_in"]["password_locked_until"].is_null(),
        "{shown}"
    );
    // The owner gets a code again and signs in with the password they always had.
    json_of(send_code().await.unwrap(), 201).await;
    json_of(sign_in().await.unwrap(), 200).await;
    // The lift counts the codes sent before it only: the limits hold again from here.
    print_error(send_code().await.unwrap(), 429, 999).await;

    // Unlocking is itself bounded, or an insider could guess ten passwords, unlock, and guess
    // again without end: once per 15 minutes…
    let again = unlock(support.clone(), user_id).await.unwrap();
    assert!(crate::support::retry_after(&again) > 800);
    print_error(again, 429, 999).await;
    // …and three times a day.
    let fifteen_minutes_pass = || {
        app.db()
            .execute(
                "UPDATE audit_log SET created_at = created_at - 901 WHERE action = 'user.unlock'",
                [],
            )
            .unwrap();
    };
    for _ in 0..2 {
        fifteen_minutes_pass();
        json_of(unlock(support.clone(), user_id).await.unwrap(), 200).await;
    }
    fifteen_minutes_pass();
    let daily = unlock(support, user_id).await.unwrap();
    assert!(crate::support::retry_after(&daily) > 80_000);
    print_error(daily, 429, 999).await;
    assert_eq!(audited(), 3);
}
