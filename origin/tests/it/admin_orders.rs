//! The back office's orders, catalogue and dashboard: recharge orders (财务管理), the shipping
//! queue and its CSV export (配送管理), goods and gifts with their updates, the dashboard
//! (数据中心), and the indexes their lists read (EXPLAIN QUERY PLAN).

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, json_of, print_address, print_error};

/// A unix time from a wall-clock time in the app's offset (+08:00 by default).
fn at(app: &TestApp, wall: &str) -> i64 {
    origin::clock::parse(wall, app.state.config.time_offset).unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.admin_request(Method::GET, path)
        .header("token", token)
        .send()
        .await
        .unwrap()
}

async fn rows(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let body = json_of(get(app, token, path).await, 200).await;
    body["data"]["data"].as_array().unwrap().clone()
}

fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|row| row["id"].as_i64().unwrap()).collect()
}

/// Users 1001 (小明), 1002 (account `acct2`, no nickname) and 1003 (neither).
fn seed_users(app: &TestApp) {
    let now = origin::clock::now();
    app.db()
        .execute(
            "INSERT INTO users (id, nickname, account, created_at)
             VALUES (1001, '小明', NULL, ?1), (1002, '', 'acct2', ?1), (1003, '', NULL, ?1)",
            [now],
        )
        .unwrap();
}

/// Recharge orders 1..=4: (user, cents, pay type, created, paid).
fn seed_recharges(app: &TestApp) {
    let orders = [
        (
            1,
            1001,
            1000,
            "alipay",
            "2026-03-01 10:00:00",
            Some("2026-03-01 10:05:00"),
        ),
        (2, 1002, 2050, "wechat", "2026-03-02 00:30:00", None),
        (
            3,
            1001,
            300,
            "wechat",
            "2026-03-03 23:59:59",
            Some("2026-03-04 00:10:00"),
        ),
        (4, 1003, 99, "alipay", "2026-03-04 08:00:00", None),
    ];
    let db = app.db();
    for (id, user, cents, pay_type, created, paid) in orders {
        let paid_at = paid.map(|paid| at(app, paid));
        db.execute(
            "INSERT INTO recharge_orders (id, order_no, user_id, price_cents, pay_type, provider,
                 trade_no, paid_at, created_at)
             VALUES (?1, 'R' || ?1, ?2, ?3, ?4, 'sandbox', ?5, ?6, ?7)",
            rusqlite::params![
                id,
                user,
                cents,
                pay_type,
                paid.map(|_| format!("T-{id}")),
                paid_at,
                at(app, created)
            ],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn recharge_orders_are_listed_newest_first_with_filters() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    seed_users(&app);
    seed_recharges(&app);

    let all = rows(&app, &root, "/admin/recharge_orders").await;
    assert_eq!(ids(&all), [4, 3, 2, 1]);
    let first = &all[3];
    assert_eq!(first["order_no"], "R1");
    assert_eq!(first["user"], json!({ "id": 1001, "name": "小明" }));
    assert_eq!(first["amount"], "10.00");
    assert_eq!(first["pay_type"], "alipay");
    assert_eq!(first["provider"], "sandbox");
    assert_eq!(first["trade_no"], "T-1");
    assert_eq!(first["status"], "paid");
    assert_eq!(first["created_at"], "2026-03-01T10:00:00+08:00");
    assert_eq!(first["paid_at"], "2026-03-01T10:05:00+08:00");
    assert_eq!(all[2]["user"]["name"], "acct2");
    assert_eq!(all[2]["status"], "pending");
    assert_eq!(all[2]["paid_at"], Value::Null);
    assert_eq!(all[0]["user"]["name"], "用户 1003");
    assert_eq!(all[0]["amount"], "0.99");

    for (query, expected) in [
        ("status=paid", vec![3, 1]),
        ("status=pending", vec![4, 2]),
        ("user_id=1001", vec![3, 1]),
        ("pay_type=wechat", vec![3, 2]),
        // Days in the configured offset: 00:30 on the 2nd (+08:00) is on the 2nd.
        ("from=2026-03-02&to=2026-03-03", vec![3, 2]),
        ("from=2026-03-02", vec![4, 3, 2]),
        ("to=2026-03-01", vec![1]),
        ("status=pending&pay_type=alipay&user_id=1003", vec![4]),
        ("limit=2&page=2", vec![2, 1]),
    ] {
        let path = format!("/admin/recharge_orders?{query}");
        assert_eq!(ids(&rows(&app, &root, &path).await), expected, "{query}");
    }
    let paged = json_of(
        get(&app, &root, "/admin/recharge_orders?limit=3").await,
        200,
    )
    .await;
    assert_eq!(paged["data"]["total"], 4);
    assert_eq!(paged["data"]["last_page"], 2);

    for (query, field) in [
        ("status=done", "status"),
        ("pay_type=cash", "pay_type"),
        ("user_id=abc", "user_id"),
        ("from=2026-02-30", "from"),
        ("to=03/01/2026", "to"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("page=0", "page"),
    ] {
        let path = format!("/admin/recharge_orders?{query}");
        let error = print_error(get(&app, &root, &path).await, 400, 999).await;
        assert!(error["errors"][field].is_array(), "{query}: {error}");
    }
}

/// Gift 1 (杯子, 10 points now) and orders 1..=5 (see the queue order in the test).
fn seed_gift_orders(app: &TestApp) {
    let db = app.db();
    db.execute(
        "INSERT INTO gifts (id, name, accumulate_points, stock, created_at) VALUES (1, '杯子', 10, 5, 0)",
        [],
    )
    .unwrap();
    let orders = [
        // (id, user, name, phone, detail, tracking, created, shipped)
        (
            1,
            1001,
            "张三",
            "13800001111",
            "科技园 1 号",
            None,
            "2026-03-01 10:00:00",
            None,
        ),
        (
            2,
            1002,
            "王五",
            "13800003333",
            "南山 2 号",
            None,
            "2026-03-02 10:00:00",
            None,
        ),
        (
            3,
            1001,
            "张三",
            "13800001111",
            "科技园 1 号",
            Some("SF1"),
            "2026-02-20 10:00:00",
            Some("2026-03-05 10:00:00"),
        ),
        (
            4,
            1003,
            "李四",
            "13900001111",
            "福田 3 号",
            Some("SF2"),
            "2026-02-21 10:00:00",
            Some("2026-03-06 10:00:00"),
        ),
        (
            5,
            1003,
            "=HYPERLINK(\"x\")",
            "13800002222",
            "+1 楼",
            None,
            "2026-03-03 10:00:00",
            None,
        ),
    ];
    for (id, user, name, phone, detail, tracking, created, shipped) in orders {
        db.execute(
            "INSERT INTO gift_orders (id, order_no, user_id, gift_id, accumulate_points, ship_name,
                 ship_phone, ship_province, ship_city, ship_county, ship_detail, express_company,
                 tracking_no, shipped_at, created_at)
             VALUES (?1, 'G' || ?1, ?2, 1, 8, ?3, ?4, '广东省', '深圳市', '南山区', ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![
                id,
                user,
                name,
                phone,
                detail,
                tracking.map(|_| "顺丰"),
                tracking,
                shipped.map(|shipped| at(app, shipped)),
                at(app, created)
            ],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn the_shipping_queue_puts_unshipped_orders_first_oldest_first() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    seed_users(&app);
    seed_gift_orders(&app);

    let queue = rows(&app, &root, "/admin/gift_orders").await;
    assert_eq!(ids(&queue), [1, 2, 5, 4, 3]);
    let shipped = &queue[3];
    assert_eq!(shipped["order_no"], "G4");
    assert_eq!(shipped["user"], json!({ "id": 1003, "name": "用户 1003" }));
    assert_eq!(
        shipped["address"],
        json!({ "name": "李四", "phone": "13900001111", "province": "广东省", "city": "深圳市",
                "county": "南山区", "detail": "福田 3 号" })
    );
    assert_eq!(shipped["gift"], json!({ "id": 1, "name": "杯子" }));
    // The points the order cost, not what the gift costs today.
    assert_eq!(shipped["accumulate_points"], 8);
    assert_eq!(shipped["status"], "已发货");
    assert_eq!(shipped["express_company"], "顺丰");
    assert_eq!(shipped["tracking_no"], "SF2");
    assert_eq!(shipped["shipped_at"], "2026-03-06T10:00:00+08:00");
    assert_eq!(queue[0]["status"], "未发货");
    assert_eq!(queue[0]["shipped_at"], Value::Null);

    for (query, expected) in [
        // Pages straddle the two parts of the queue.
        ("limit=2&page=1", vec![1, 2]),
        ("limit=2&page=2", vec![5, 4]),
        ("limit=2&page=3", vec![3]),
        ("limit=2&page=4", vec![]),
        ("status=1", vec![1, 2, 5]),
        ("status=2", vec![4, 3]),
        ("user_id=1001", vec![1, 3]),
        ("q=SF2", vec![4]),
        ("q=G2", vec![2]),
        ("q=%E6%9D%8E%E5%9B%9B", vec![4]),
        // A phone in any spelling finds its canonical form.
        ("q=%2B86%20139%200000%201111", vec![4]),
        ("q=13800001111&status=2", vec![3]),
        ("from=2026-03-02", vec![2, 5]),
        ("from=2026-02-21&to=2026-03-01", vec![1, 4]),
    ] {
        let path = format!("/admin/gift_orders?{query}");
        assert_eq!(ids(&rows(&app, &root, &path).await), expected, "{query}");
    }
    let page = json_of(get(&app, &root, "/admin/gift_orders?limit=2").await, 200).await;
    assert_eq!(page["data"]["total"], 5);

    let long = "x".repeat(101);
    for (query, field) in [
        ("status=3", "status"),
        ("status=shipped", "status"),
        ("user_id=0", "user_id"),
        (&format!("q={long}") as &str, "q"),
        ("from=2026-3-1x", "from"),
        ("from=2026-03-05&to=2026-03-04", "to"),
    ] {
        for endpoint in ["/admin/gift_orders", "/admin/gift_orders/export"] {
            let path = format!("{endpoint}?{query}");
            let error = print_error(get(&app, &root, &path).await, 400, 999).await;
            assert!(error["errors"][field].is_array(), "{path}: {error}");
        }
    }
    // Refused exports read nothing and log nothing.
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift_orders.export'"),
        0
    );
}

#[tokio::test]
async fn the_export_is_excel_csv_safe_from_formulas_and_audited() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    seed_users(&app);
    seed_gift_orders(&app);
    app.db()
        .execute(
            "UPDATE gift_orders SET ship_name = '@cmd', ship_county = '-2', express_company = char(9) || 'x'
             WHERE id = 2",
            [],
        )
        .unwrap();

    let response = get(&app, &root, "/admin/gift_orders/export").await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"gift_orders-")
    );
    assert_eq!(headers["cache-control"], "no-store");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        &bytes[..3],
        b"\xEF\xBB\xBF",
        "a UTF-8 byte-order mark for Excel"
    );
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(
        lines[0],
        "订单ID,订单号,用户ID,用户,礼品,积分,收货人,电话,省,市,区县,详细地址,状态,快递公司,快递单号,下单时间,发货时间"
    );
    assert_eq!(
        lines[1],
        "1,G1,1001,小明,杯子,8,张三,13800001111,广东省,深圳市,南山区,科技园 1 号,未发货,,,2026-03-01T10:00:00+08:00,"
    );
    // Cells a spreadsheet would run as formulas are text: a leading ', then quoted if needed.
    assert!(lines[2].contains(",'@cmd,"), "{}", lines[2]);
    assert!(lines[2].contains(",'-2,"), "{}", lines[2]);
    assert!(lines[2].contains(",'\tx,"), "{}", lines[2]);
    assert!(
        lines[3].contains(",\"'=HYPERLINK(\"\"x\"\")\",13800002222,"),
        "{}",
        lines[3]
    );
    assert!(lines[3].contains(",'+1 楼,"), "{}", lines[3]);
    assert!(lines[4].starts_with("4,G4,") && lines[4].ends_with(",2026-03-06T10:00:00+08:00"));

    // The same filters as the list.
    let filtered = get(
        &app,
        &root,
        "/admin/gift_orders/export?status=2&user_id=1001",
    )
    .await;
    let filtered = filtered.text().await.unwrap();
    assert_eq!(filtered.split_terminator("\r\n").count(), 2, "{filtered}");

    // Each export is a read of personal data in the audit log: who, which filter, how many.
    let db = app.db();
    let mut statement = db
        .prepare(
            "SELECT actor, detail FROM audit_log WHERE action = 'gift_orders.export' ORDER BY id",
        )
        .unwrap();
    let audited: Vec<(String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(audited.len(), 2);
    assert_eq!(audited[0].0, "root");
    let first: Value = serde_json::from_str(&audited[0].1).unwrap();
    assert_eq!(first["rows"], 5);
    let second: Value = serde_json::from_str(&audited[1].1).unwrap();
    assert_eq!(
        (&second["rows"], &second["shipped"], &second["user_id"]),
        (&json!(1), &json!(true), &json!(1001))
    );
}

#[tokio::test]
async fn an_export_over_the_cap_is_refused_whole() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    seed_users(&app);
    seed_gift_orders(&app);
    let mut db = app.db();
    let tx = db.transaction().unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 1 FROM n WHERE i < 50099)
         INSERT INTO gift_orders (id, order_no, user_id, gift_id, accumulate_points, ship_name,
             ship_phone, ship_province, ship_city, ship_county, ship_detail, created_at)
         SELECT i, 'B' || i, 1001, 1, 8, 'n', 'p', 'a', 'b', 'c', 'd', i FROM n",
        [],
    )
    .unwrap();
    tx.commit().unwrap();
    assert_eq!(app.count("SELECT count(*) FROM gift_orders"), 50_005);
    let error = print_error(
        get(&app, &root, "/admin/gift_orders/export").await,
        400,
        999,
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("50000"),
        "{error}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift_orders.export'"),
        0
    );
    // A narrower filter goes through.
    let ok = get(&app, &root, "/admin/gift_orders/export?user_id=1003").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift_orders.export'"),
        1
    );
}

/// A store user holding only `permissions` (through a role named `role`), signed in as admin.
async fn admin_holding(app: &TestApp, role: &str, permissions: &[&str]) -> String {
    let (_, user_id) = app.member().await;
    let phone: String = app
        .db()
        .query_row("SELECT phone FROM users WHERE id = ?1", [user_id], |row| {
            row.get(0)
        })
        .unwrap();
    let root = app.admin_token().await;
    let body = json!({ "name": role, "permissions": permissions });
    json_of(
        app.admin_call(&root, Method::POST, "/admin/roles", body)
            .await,
        201,
    )
    .await;
    let roles = json!({ "roles": [role] });
    let path = format!("/admin/users/{user_id}");
    json_of(app.admin_call(&root, Method::PUT, &path, roles).await, 200).await;
    let login = app.print_login(&phone, PASSWORD, true).await;
    login["data"]["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_endpoint_refuses_a_missing_permission_before_reading_its_input() {
    let app = TestApp::spawn().await;
    // Bad input everywhere: a caller without the permission gets 403, never the 400 that
    // would tell them about the parameters.
    let endpoints = [
        (
            Method::GET,
            "/admin/recharge_orders?status=bogus",
            "财务管理",
        ),
        (Method::GET, "/admin/gift_orders?status=9", "配送管理"),
        (Method::GET, "/admin/gift_orders/export?from=x", "配送管理"),
        (Method::GET, "/admin/goods?page=0", "商品管理"),
        (Method::PUT, "/admin/goods/1", "商品管理"),
        (Method::GET, "/admin/gifts?page=0", "积分管理"),
        (Method::PUT, "/admin/gifts/1", "积分管理"),
        (Method::GET, "/admin/stats?days=0", "数据中心"),
    ];
    let support = admin_holding(&app, "客服", &["客服工具管理"]).await;
    for (method, path, permission) in &endpoints {
        let refused = app
            .admin_call(&support, method.clone(), path, json!({ "price": "-1" }))
            .await;
        print_error(refused, 403, 10003).await;
        // The holder of the permission gets as far as the input.
        let holder = admin_holding(&app, &format!("r-{permission}"), &[permission]).await;
        let read = app
            .admin_call(&holder, method.clone(), path, json!({ "price": "-1" }))
            .await;
        print_error(read, 400, 999).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM goods"), 0);
}

#[tokio::test]
async fn goods_are_listed_updated_retired_and_audited() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    let create = json!({ "name": "帆布袋", "price": "19.90" });
    let created = app
        .admin_call(&root, Method::POST, "/admin/goods", create)
        .await;
    let id = json_of(created, 201).await["data"]["id"].as_i64().unwrap();

    let listed = rows(&app, &root, "/admin/goods").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "帆布袋");
    assert_eq!(listed[0]["price"], "19.90");
    assert_eq!(listed[0]["retired"], false);

    let path = format!("/admin/goods/{id}");
    let update = json!({ "name": "大帆布袋", "price": "25", "retired": true });
    json_of(app.admin_call(&root, Method::PUT, &path, update).await, 200).await;
    let listed = rows(&app, &root, "/admin/goods").await;
    assert_eq!(
        (
            &listed[0]["name"],
            &listed[0]["price"],
            &listed[0]["retired"]
        ),
        (&json!("大帆布袋"), &json!("25.00"), &json!(true))
    );
    let detail: String = app
        .db()
        .query_row(
            "SELECT detail FROM audit_log WHERE action = 'goods.update'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["before"]["price_cents"], 1990);
    assert_eq!(detail["after"]["retired"], true);
    // A retired goods keeps what names it: its comments are still read.
    let comments = app
        .request(Method::GET, &format!("/api/goods/{id}/comments"))
        .send()
        .await
        .unwrap();
    assert_eq!(comments.status(), 200);

    // The rules of creation hold for updates; a refusal changes nothing and logs nothing.
    for bad in [
        json!({ "name": "x", "price": "-1" }),
        json!({ "name": " ", "price": "1" }),
        json!({ "name": "x".repeat(101), "price": "1" }),
        json!({ "name": "x" }),
        json!({ "name": "x", "price": "1", "retired": "maybe" }),
    ] {
        print_error(
            app.admin_call(&root, Method::PUT, &path, bad).await,
            400,
            999,
        )
        .await;
    }
    let missing = json!({ "name": "x", "price": "1" });
    let response = app
        .admin_call(&root, Method::PUT, "/admin/goods/999", missing)
        .await;
    print_error(response, 404, 999).await;
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'goods.update'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM goods WHERE name = '大帆布袋' AND price_cents = 2500"),
        1
    );
}

#[tokio::test]
async fn a_retired_gift_leaves_the_public_list_and_its_orders_keep_working() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    let mut gift_ids = Vec::new();
    for name in ["杯子", "帽子"] {
        let gift = json!({ "name": name, "accumulate_points": 10, "stock": 5 });
        let created = app
            .admin_call(&root, Method::POST, "/admin/gifts", gift)
            .await;
        gift_ids.push(json_of(created, 201).await["data"]["id"].as_i64().unwrap());
    }
    let (cup, hat) = (gift_ids[0], gift_ids[1]);
    // A member redeems the cup.
    let (token, user_id) = app.member().await;
    // Registering read the outbox as root, which signed root in afresh.
    let root = app.admin_token().await;
    let points = json!({ "number": 100, "describe": "x" });
    let path = format!("/admin/users/{user_id}/points");
    json_of(
        app.admin_call(&root, Method::POST, &path, points).await,
        201,
    )
    .await;
    let address = app
        .request(Method::POST, "/api/users/self/addresses")
        .header("token", &token)
        .json(&print_address())
        .send()
        .await
        .unwrap();
    let address_id = json_of(address, 201).await["data"]["id"].as_i64().unwrap();
    let redeem = |gift_id: i64| {
        app.request(Method::POST, "/api/gift_orders")
            .header("token", &token)
            .json(&json!({ "gift_id": gift_id, "address_id": address_id }))
            .send()
    };
    json_of(redeem(cup).await.unwrap(), 201).await;

    // Retire the cup and make it dearer.
    let update = json!({ "name": "杯子", "accumulate_points": 20, "stock": 3, "retired": true });
    let path = format!("/admin/gifts/{cup}");
    json_of(app.admin_call(&root, Method::PUT, &path, update).await, 200).await;

    let public = json_of(
        app.request(Method::GET, "/api/gifts").send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(ids(public["data"]["data"].as_array().unwrap()), [hat]);
    assert_eq!(public["data"]["total"], 1);
    let listed = rows(&app, &root, "/admin/gifts").await;
    assert_eq!(ids(&listed), [hat, cup]);
    assert_eq!(listed[1]["retired"], true);
    assert_eq!(listed[1]["accumulate_points"], 20);
    assert_eq!(listed[1]["stock"], 3);
    // It cannot be redeemed any more; nothing is taken.
    let refused = redeem(cup).await.unwrap();
    print_error(refused, 400, 999).await;
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM gift_orders WHERE user_id = {user_id}"
        )),
        1
    );
    // The order placed before keeps its points and reaches the queue, the user, the shipper.
    let queue = rows(&app, &root, "/admin/gift_orders").await;
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0]["accumulate_points"], 10);
    let order_id = queue[0]["id"].as_i64().unwrap();
    let ship = json!({ "express_company": "顺丰", "tracking_no": "SF9" });
    let path = format!("/admin/gift_orders/{order_id}/ship");
    json_of(app.admin_call(&root, Method::PUT, &path, ship).await, 200).await;
    let mine = json_of(
        app.get_with_token("/api/users/self/gift_orders", &token)
            .await,
        200,
    )
    .await;
    assert_eq!(mine["data"]["data"][0]["status"], "已发货");
    assert_eq!(mine["data"]["data"][0]["content"]["accumulate_points"], 10);

    // Restoring it puts it back on offer.
    let restore = json!({ "name": "杯子", "accumulate_points": 20, "stock": 3 });
    let path = format!("/admin/gifts/{cup}");
    json_of(
        app.admin_call(&root, Method::PUT, &path, restore).await,
        200,
    )
    .await;
    json_of(redeem(cup).await.unwrap(), 201).await;

    // Updates follow the rules of creation, and each one is in the audit log.
    for bad in [
        json!({ "name": "g", "accumulate_points": 0, "stock": 1 }),
        json!({ "name": "g", "accumulate_points": 1, "stock": -1 }),
        json!({ "name": "g", "accumulate_points": 1, "stock": 1, "image": 424242 }),
        json!({ "accumulate_points": 1, "stock": 1 }),
    ] {
        print_error(
            app.admin_call(&root, Method::PUT, &path, bad).await,
            400,
            999,
        )
        .await;
    }
    let missing = json!({ "name": "g", "accumulate_points": 1, "stock": 1 });
    let response = app
        .admin_call(&root, Method::PUT, "/admin/gifts/999", missing)
        .await;
    print_error(response, 404, 999).await;
    let db = app.db();
    let mut statement = db
        .prepare("SELECT detail FROM audit_log WHERE action = 'gift.update' ORDER BY id")
        .unwrap();
    let details: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(details.len(), 2);
    let retired: Value = serde_json::from_str(&details[0]).unwrap();
    assert_eq!(retired["before"]["accumulate_points"], 10);
    assert_eq!(retired["after"]["retired"], true);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM gifts WHERE id = {cup} AND accumulate_points = 20 AND retired = 0"
        )),
        1
    );
}

#[tokio::test]
async fn the_dashboard_counts_per_day_in_the_configured_offset() {
    let app = TestApp::spawn().await;
    let root = app.admin_token().await;
    seed_users(&app);
    let now = origin::clock::now();
    let db = app.db();
    db.execute(
        "INSERT INTO recharge_orders (order_no, user_id, price_cents, pay_type, provider, trade_no,
             paid_at, created_at)
         VALUES ('R1', 1001, 1050, 'alipay', 'sandbox', 'T1', ?1, ?1),
                ('R2', 1002, 200, 'wechat', 'sandbox', 'T2', ?1, ?1),
                ('R3', 1002, 999, 'wechat', 'sandbox', NULL, NULL, ?1),
                ('R4', 1002, 700, 'wechat', 'sandbox', 'T4', ?2, ?2)",
        [now, now - 3 * 86_400],
    )
    .unwrap();
    db.execute(
        "INSERT INTO gifts (id, name, accumulate_points, stock, created_at) VALUES (1, 'g', 1, 1, 0)",
        [],
    )
    .unwrap();
    db.execute(
        "INSERT INTO gift_orders (order_no, user_id, gift_id, accumulate_points, ship_name,
             ship_phone, ship_province, ship_city, ship_county, ship_detail, shipped_at, created_at)
         VALUES ('G1', 1001, 1, 1, 'n', 'p', 'a', 'b', 'c', 'd', NULL, ?1),
                ('G2', 1001, 1, 1, 'n', 'p', 'a', 'b', 'c', 'd', ?1, ?1)",
        [now],
    )
    .unwrap();
    db.execute(
        "INSERT INTO deliveries (channel, kind, recipient, provider, status, next_attempt_at,
             give_up_at, created_at, finished_at)
         VALUES ('sms', 'code', '13800001111', 'outbox', 'failed', 0, 0, ?1, ?1),
                ('sms', 'code', '13800001111', 'outbox', 'failed', 0, 0, ?2, ?2),
                ('sms', 'code', '13800001111', 'outbox', 'sent', 0, 0, ?1, ?1)",
        [now - 60, now - 2 * 86_400],
    )
    .unwrap();

    let stats = json_of(get(&app, &root, "/admin/stats").await, 200).await["data"].clone();
    let days = stats["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    let today = origin::clock::format(now, app.state.config.time_offset)[..10].to_owned();
    let last = &days[29];
    assert_eq!(last["date"], today.as_str());
    // root, the three seeded users (the seeded users are created now).
    assert_eq!(last["sign_ups"], app.count("SELECT count(*) FROM users"));
    assert_eq!(last["paid_recharges"], 2);
    assert_eq!(last["paid_amount"], "12.50");
    assert_eq!(last["gift_redemptions"], 2);
    assert_eq!(last["delivery_failures"], 1);
    assert_eq!(days[26]["paid_recharges"], 1);
    assert_eq!(days[26]["paid_amount"], "7.00");
    assert_eq!(days[28]["paid_amount"], "0.00");
    assert_eq!(stats["pending_shipments"], 1);
    assert_eq!(stats["delivery_failures_24h"], 1);
    assert_eq!(stats["delivery_failures"], 2);

    let week = json_of(get(&app, &root, "/admin/stats?days=1").await, 200).await;
    assert_eq!(week["data"]["days"].as_array().unwrap().len(), 1);
    assert_eq!(week["data"]["delivery_failures"], 1);
    for bad in ["days=0", "days=91", "days=abc"] {
        let error = print_error(
            get(&app, &root, &format!("/admin/stats?{bad}")).await,
            400,
            999,
        )
        .await;
        assert!(error["errors"]["days"].is_array(), "{bad}: {error}");
    }
}

// ---- The plans ---------------------------------------------------------------------------------

use origin::db::order_reads::{
    self, GiftOrderFilter, GiftOrderSearch, Period, Query, QueuePart, RechargeFilter,
    RechargeStatus,
};
use shared::pagination::PageRequest;

/// The plan of `query`, checked: every table it reads goes through an index or its primary
/// key (no full `SCAN` of a table: a `SCAN … USING INDEX` walks an index in its order and stops
/// at the page), and when `ordered`, the index gives the order (no temporary B-tree sorting the
/// rows). Returns the plan, for the index names.
fn checked_plan(db: &rusqlite::Connection, query: &Query, ordered: bool) -> String {
    let lines = query.plan(db).unwrap();
    let plan = lines.join(" | ");
    for line in &lines {
        // `p` is the page's ids, at most a page of them.
        let bare_scan = line.starts_with("SCAN ") && !line.contains(" USING ") && line != "SCAN p";
        assert!(!bare_scan, "a full scan: {plan}\n{}", query.sql);
        if ordered {
            assert!(
                !line.contains("TEMP B-TREE"),
                "a sort: {plan}\n{}",
                query.sql
            );
        }
    }
    plan
}

#[tokio::test]
async fn every_admin_list_and_count_reads_through_an_index() {
    let app = TestApp::spawn().await;
    let db = app.db();
    let deep = PageRequest {
        page: 5000,
        limit: 20,
    };
    let period = Period {
        from: Some(1_700_000_000),
        until: Some(1_700_086_400),
    };
    let recharges = [
        (RechargeFilter::default(), "recharge_orders_by_time"),
        (
            RechargeFilter {
                status: Some(RechargeStatus::Pending),
                ..RechargeFilter::default()
            },
            "recharge_orders_pending",
        ),
        (
            RechargeFilter {
                status: Some(RechargeStatus::Paid),
                ..RechargeFilter::default()
            },
            "recharge_orders_paid",
        ),
        (
            RechargeFilter {
                user_id: Some(7),
                ..RechargeFilter::default()
            },
            "recharge_orders_by_user",
        ),
        (
            RechargeFilter {
                pay_type: Some("wechat".into()),
                ..RechargeFilter::default()
            },
            "recharge_orders_by_pay_type",
        ),
        (
            RechargeFilter {
                period,
                ..RechargeFilter::default()
            },
            "recharge_orders_by_time",
        ),
    ];
    for (filter, index) in recharges {
        let [count, ids, page] = order_reads::recharge_queries(&filter, deep);
        checked_plan(&db, &count, false);
        // Only a user's own few orders may be sorted after reading them by the user's index.
        let ordered = filter.user_id.is_none();
        let plan = checked_plan(&db, &ids, ordered);
        assert!(plan.contains(index), "{filter:?}: {plan}");
        // The page reads the rows of those ids by their keys (and sorts those 20).
        let plan = checked_plan(&db, &page, false);
        assert!(plan.contains(index), "{filter:?}: {plan}");
    }

    let search = GiftOrderSearch::new("SF123").unwrap();
    let gifts = [
        (
            GiftOrderFilter::default(),
            ["gift_orders_unshipped", "gift_orders_shipped"],
        ),
        (
            GiftOrderFilter {
                user_id: Some(7),
                ..GiftOrderFilter::default()
            },
            ["gift_orders_by_user", "gift_orders_by_user"],
        ),
        (
            GiftOrderFilter {
                search: Some(search),
                ..GiftOrderFilter::default()
            },
            ["gift_orders_by_tracking_no", "gift_orders_by_ship_phone"],
        ),
        (
            GiftOrderFilter {
                period,
                ..GiftOrderFilter::default()
            },
            ["gift_orders_unshipped", "gift_orders_"],
        ),
    ];
    for (filter, indexes) in gifts {
        for (part, index) in [QueuePart::Unshipped, QueuePart::Shipped]
            .into_iter()
            .zip(indexes)
        {
            let [count, ids, page] = order_reads::gift_order_queries(&filter, part, 20, 99_980);
            checked_plan(&db, &count, false);
            let ordered = filter == GiftOrderFilter::default();
            let plan = checked_plan(&db, &ids, ordered);
            assert!(plan.contains(index), "{filter:?} {part:?}: {plan}");
            let plan = checked_plan(&db, &page, false);
            assert!(plan.contains(index), "{filter:?} {part:?}: {plan}");
            if filter.search.is_some() {
                for index in ["gift_orders_by_ship_name", "sqlite_autoindex_gift_orders_1"] {
                    assert!(plan.contains(index), "{plan}");
                }
            }
        }
    }

    for (sql, index) in [
        (order_reads::DAILY_SIGN_UPS, "users_by_created_at"),
        (
            order_reads::DAILY_PAID_RECHARGES,
            "recharge_orders_by_paid_at",
        ),
        (order_reads::DAILY_GIFT_REDEMPTIONS, "gift_orders_by_time"),
        (order_reads::DAILY_DELIVERY_FAILURES, "deliveries_failed"),
    ] {
        let query = Query {
            sql: sql.to_owned(),
            values: vec![28_800.into(), 1_700_000_000.into()],
        };
        let plan = checked_plan(&db, &query, false);
        assert!(plan.contains(index), "{plan}");
    }
    let pending = Query {
        sql: order_reads::PENDING_SHIPMENTS.to_owned(),
        values: vec![],
    };
    assert!(checked_plan(&db, &pending, false).contains("gift_orders_unshipped"));
    let failures = Query {
        sql: order_reads::DELIVERY_FAILURES_SINCE.to_owned(),
        values: vec![1_700_000_000.into()],
    };
    assert!(checked_plan(&db, &failures, false).contains("deliveries_failed"));
}
