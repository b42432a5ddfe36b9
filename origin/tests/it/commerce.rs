//! Gifts and gift orders (points and stock taken together or not at all), recharge orders, and
//! sandbox payment callbacks (signed, idempotent, amount-checked).

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::support::{TestApp, json_of, print_error};

async fn admin_post(app: &TestApp, admin: &str, path: &str, body: Value) -> reqwest::Response {
    app.admin_request(Method::POST, path)
        .header("token", admin)
        .json(&body)
        .send()
        .await
        .unwrap()
}

// Registering a user reads its code from the admin outbox, which signs `root` in afresh and ends
// its earlier sessions: so each admin step below takes a fresh admin token.

async fn give_points(app: &TestApp, user_id: i64, number: i64) {
    let admin = app.admin_token().await;
    let path = format!("/admin/users/{user_id}/points");
    let body = json!({ "number": number, "describe": "测试发放" });
    json_of(admin_post(app, &admin, &path, body).await, 201).await;
}

async fn create_gift(app: &TestApp, points: i64, stock: i64) -> i64 {
    let admin = app.admin_token().await;
    let body = json!({ "name": "保温杯", "accumulate_points": points, "stock": stock });
    json_of(admin_post(app, &admin, "/admin/gifts", body).await, 201).await["data"]["id"]
        .as_i64()
        .unwrap()
}

async fn create_address(app: &TestApp, token: &str) -> i64 {
    let response = app
        .request(Method::POST, "/api/users/self/addresses")
        .header("token", token)
        .json(&crate::support::print_address())
        .send()
        .await
        .unwrap();
    json_of(response, 201).await["data"]["id"].as_i64().unwrap()
}

fn redemption(app: &TestApp, token: &str, gift_id: i64, address_id: i64) -> RequestBuilder {
    app.request(Method::POST, "/api/gift_orders")
        .header("token", token)
        .json(&json!({ "gift_id": gift_id, "address_id": address_id }))
}

async fn redeem(app: &TestApp, token: &str, gift_id: i64, address_id: i64) -> reqwest::Response {
    redemption(app, token, gift_id, address_id)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    json_of(app.get_with_token(path, token).await, 200).await
}

async fn points(app: &TestApp, token: &str) -> i64 {
    get(app, token, "/api/users/self").await["data"]["accumulate_points"]
        .as_i64()
        .unwrap()
}

fn stock(app: &TestApp, gift_id: i64) -> i64 {
    app.count(&format!("SELECT stock FROM gifts WHERE id = {gift_id}"))
}

#[tokio::test]
async fn a_redemption_takes_points_and_stock_and_the_shipped_order_shows_its_tracking_number() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    give_points(&app, user_id, 500).await;
    let gift_id = create_gift(&app, 200, 3).await;
    let address_id = create_address(&app, &token).await;

    let gifts = json_of(
        app.request(Method::GET, "/api/gifts").send().await.unwrap(),
        200,
    )
    .await;
    assert_eq!(
        gifts["data"]["data"][0],
        json!({ "id": gift_id, "name": "保温杯", "image": null, "accumulate_points": 200, "stock": 3 })
    );
    assert_eq!(gifts["data"]["total"], 1);

    let created = json_of(redeem(&app, &token, gift_id, address_id).await, 201).await;
    assert!(
        created["data"]["order_no"]
            .as_str()
            .unwrap()
            .starts_with('G')
    );
    assert_eq!(points(&app, &token).await, 300);
    assert_eq!(stock(&app, gift_id), 2);
    let ledger = get(
        &app,
        &token,
        "/api/users/self/accumulate_points_records?type=2",
    )
    .await;
    assert_eq!(ledger["data"]["data"][0]["number"], 200);
    assert_eq!(ledger["data"]["data"][0]["surplus"], 300);

    let orders = get(&app, &token, "/api/users/self/gift_orders").await;
    let order = &orders["data"]["data"][0];
    assert_eq!(order["order_no"], created["data"]["order_no"]);
    assert_eq!(order["user"]["id"], user_id);
    assert_eq!(order["address"]["name"], "张三");
    assert_eq!(order["address"]["county"], "南山区");
    assert_eq!(order["address"]["detail"], "科技园 1 号");
    assert_eq!(order["content"]["id"], gift_id);
    assert_eq!(order["content"]["accumulate_points"], 200);
    assert_eq!(order["status"], "未发货");
    assert!(order.get("tracking_no").is_none(), "{order}");
    let order_id = order["id"].as_i64().unwrap();
    let admin = app.admin_token().await;

    let ship = app
        .admin_request(Method::PUT, &format!("/admin/gift_orders/{order_id}/ship"))
        .header("token", &admin)
        .json(&json!({ "express_company": "顺丰", "tracking_no": "SF123456" }))
        .send()
        .await
        .unwrap();
    json_of(ship, 200).await;
    let shipped = get(&app, &token, "/api/users/self/gift_orders?status=2").await;
    assert_eq!(shipped["data"]["data"][0]["tracking_no"], "SF123456");
    assert_eq!(shipped["data"]["data"][0]["express_company"], "顺丰");
    assert_eq!(shipped["data"]["data"][0]["status"], "已发货");
    let unshipped = get(&app, &token, "/api/users/self/gift_orders?status=1").await;
    assert_eq!(unshipped["data"]["total"], 0);
    // Shipping twice is refused; the order keeps its first tracking number.
    let again = app
        .admin_request(Method::PUT, &format!("/admin/gift_orders/{order_id}/ship"))
        .header("token", &admin)
        .json(&json!({ "express_company": "圆通", "tracking_no": "YT1" }))
        .send()
        .await
        .unwrap();
    print_error(again, 400, 999).await;
    let bad_status = app
        .get_with_token("/api/users/self/gift_orders?status=3", &token)
        .await;
    print_error(bad_status, 400, 999).await;
}

#[tokio::test]
async fn a_redemption_that_cannot_be_paid_or_filled_changes_nothing() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let (other, _) = app.member().await;
    give_points(&app, user_id, 100).await;
    let expensive = create_gift(&app, 101, 5).await;
    let sold_out = create_gift(&app, 10, 0).await;
    let address_id = create_address(&app, &token).await;
    let others_address = create_address(&app, &other).await;

    let body = print_error(redeem(&app, &token, expensive, address_id).await, 400, 999).await;
    assert_eq!(body["message"], "积分不足");
    let body = print_error(redeem(&app, &token, sold_out, address_id).await, 400, 999).await;
    assert!(
        body["message"].as_str().unwrap().contains("库存不足"),
        "{body}"
    );
    print_error(redeem(&app, &token, 9_999, address_id).await, 400, 999).await;
    print_error(
        redeem(&app, &token, expensive, others_address).await,
        400,
        999,
    )
    .await;
    for body in [
        json!({}),
        json!({ "gift_id": "x", "address_id": address_id }),
        json!({ "gift_id": expensive, "address_id": -1 }),
    ] {
        let response = app
            .request(Method::POST, "/api/gift_orders")
            .header("token", &token)
            .json(&body)
            .send()
            .await
            .unwrap();
        print_error(response, 400, 999).await;
    }
    assert_eq!(points(&app, &token).await, 100);
    assert_eq!(stock(&app, expensive), 5);
    assert_eq!(app.count("SELECT count(*) FROM gift_orders"), 0);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM points_records WHERE user_id = {user_id}"
        )),
        1,
        "only the grant"
    );
}

#[tokio::test]
async fn parallel_redemptions_of_the_last_gift_sell_it_once() {
    let app = TestApp::spawn().await;
    let gift_id = create_gift(&app, 50, 1).await;
    let mut buyers = Vec::new();
    for _ in 0..8 {
        let (token, user_id) = app.member().await;
        give_points(&app, user_id, 50).await;
        let address_id = create_address(&app, &token).await;
        buyers.push((token, address_id));
    }
    let attempts = buyers
        .iter()
        .map(|(token, address_id)| redemption(&app, token, gift_id, *address_id))
        .collect();
    let statuses = statuses(&concurrently(attempts).await);
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(stock(&app, gift_id), 0);
    assert_eq!(app.count("SELECT count(*) FROM gift_orders"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM points_records WHERE number < 0"),
        1
    );
}

#[tokio::test]
async fn parallel_redemptions_never_spend_points_twice() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    give_points(&app, user_id, 120).await;
    let gift_id = create_gift(&app, 50, 100).await;
    let address_id = create_address(&app, &token).await;
    let attempts = (0..10)
        .map(|_| redemption(&app, &token, gift_id, address_id))
        .collect();
    let statuses = statuses(&concurrently(attempts).await);
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(points(&app, &token).await, 20);
    assert_eq!(stock(&app, gift_id), 98);
    // The current figure is the latest surplus, and the sum of the entries.
    let sum = app.count(&format!(
        "SELECT sum(number) FROM points_records WHERE user_id = {user_id}"
    ));
    assert_eq!(sum, 20);
}

/// Sends the requests concurrently (each on its own task) and returns their statuses and bodies.
async fn concurrently(requests: Vec<RequestBuilder>) -> Vec<(u16, String)> {
    let tasks: Vec<_> = requests
        .into_iter()
        .map(|request| tokio::spawn(request.send()))
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        let response = task.await.unwrap().unwrap();
        let status = response.status().as_u16();
        answers.push((status, response.text().await.unwrap()));
    }
    answers
}

fn statuses(answers: &[(u16, String)]) -> Vec<u16> {
    answers.iter().map(|answer| answer.0).collect()
}

// -- Recharges and payments ----------------------------------------------------------------------

async fn create_recharge(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/api/recharge_orders")
        .header("token", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A pending recharge order of `price`; its `order_no`.
async fn recharge(app: &TestApp, token: &str, price: &str, pay_type: &str) -> String {
    let body = json!({ "price": price, "pay_type": pay_type });
    let created = json_of(create_recharge(app, token, body).await, 201).await;
    created["data"]["order_no"].as_str().unwrap().to_owned()
}

fn notify_form(
    app: &TestApp,
    order_no: &str,
    amount: &str,
    trade_no: &str,
) -> Vec<(String, String)> {
    let secret = app.state.config.pay_sandbox_secret.expose();
    crate::support::sandbox_notify_form(secret, order_no, amount, trade_no)
}

fn notification(app: &TestApp, form: &[(String, String)]) -> RequestBuilder {
    app.request(Method::POST, "/api/payments/sandbox/notify")
        .form(form)
}

async fn notify(app: &TestApp, form: &[(String, String)]) -> (u16, String) {
    concurrently(vec![notification(app, form)]).await.remove(0)
}

async fn balance(app: &TestApp, token: &str) -> String {
    get(app, token, "/api/users/self").await["data"]["balance"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_recharge_is_created_pending_and_paid_once_however_often_the_callback_comes() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let body = json!({ "price": "88.50", "pay_type": "wechat" });
    let created = json_of(create_recharge(&app, &token, body).await, 201).await;
    let order_no = created["data"]["order_no"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["price"], "88.50");
    assert_eq!(created["data"]["pay_type"], "wechat");
    assert_eq!(created["data"]["pay_params"]["provider"], "sandbox");
    assert_eq!(created["data"]["pay_params"]["order_no"], order_no.as_str());
    let listed = get(&app, &token, "/api/users/self/recharge_orders").await;
    let row = &listed["data"]["data"][0];
    assert_eq!(row["order_no"], order_no.as_str());
    assert_eq!(row["price"], "88.50");
    assert_eq!(row["pay_type"], "微信");
    assert_eq!(row["status"], "待支付");
    assert_eq!(row["user"]["id"], user_id);

    let form = notify_form(&app, &order_no, "88.50", "T-1");
    for _ in 0..3 {
        assert_eq!(notify(&app, &form).await, (200, "success".to_owned()));
    }
    assert_eq!(balance(&app, &token).await, "88.50");
    let ledger = get(&app, &token, "/api/users/self/balance_records").await;
    assert_eq!(ledger["data"]["total"], 1, "{ledger}");
    assert_eq!(ledger["data"]["data"][0]["surplus"], "88.50");
    let listed = get(&app, &token, "/api/users/self/recharge_orders").await;
    assert_eq!(listed["data"]["data"][0]["status"], "已支付");
    // The credit reaches the edge through the durable outbox.
    let queued = app.count(&format!(
        "SELECT count(*) FROM edge_outbox WHERE instructions LIKE '%\"user\":{user_id}%'"
    ));
    assert!(queued >= 1);
}

#[tokio::test]
async fn a_client_in_a_loop_cannot_open_unpaid_recharges_without_end() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let (other, _) = app.member().await;
    let cap = origin::domain::commerce::MAX_UNPAID_RECHARGES;
    let mut orders = Vec::new();
    for _ in 0..cap {
        orders.push(recharge(&app, &token, "1.00", "alipay").await);
    }
    let body = json!({ "price": "1.00", "pay_type": "wechat" });
    let refused = create_recharge(&app, &token, body.clone()).await;
    let retry_after = crate::support::retry_after(&refused);
    assert!(
        (3_590..=3_600).contains(&retry_after),
        "until the oldest leaves the hour: {retry_after}"
    );
    print_error(refused, 429, 999).await;
    let count = format!("SELECT count(*) FROM recharge_orders WHERE user_id = {user_id}");
    assert_eq!(
        app.count(&count),
        cap,
        "the refused request recorded nothing"
    );
    // Another user is not held back by this one.
    recharge(&app, &other, "1.00", "alipay").await;

    // Paying one frees its place at once.
    let form = notify_form(&app, &orders[3], "1.00", "T-loop");
    assert_eq!(notify(&app, &form).await, (200, "success".to_owned()));
    recharge(&app, &token, "1.00", "alipay").await;
    print_error(create_recharge(&app, &token, body.clone()).await, 429, 999).await;

    // Orders opened more than an hour ago no longer count.
    app.db()
        .execute(
            "UPDATE recharge_orders SET created_at = created_at - 3601 WHERE order_no = ?1",
            [&orders[0]],
        )
        .unwrap();
    json_of(create_recharge(&app, &token, body).await, 201).await;
    assert_eq!(app.count(&count), cap + 2);
}

#[tokio::test]
async fn parallel_duplicate_callbacks_credit_exactly_once() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let order_no = recharge(&app, &token, "10", "alipay").await;
    let form = notify_form(&app, &order_no, "10.00", "T-dup");
    let answers = concurrently((0..12).map(|_| notification(&app, &form)).collect()).await;
    assert!(
        answers.iter().all(|a| a.0 == 200 && a.1 == "success"),
        "{answers:?}"
    );
    assert_eq!(balance(&app, &token).await, "10.00");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM balance_records WHERE user_id = {user_id}"
        )),
        1
    );
}

#[tokio::test]
async fn callbacks_that_are_not_believed_or_do_not_match_change_nothing() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let order_no = recharge(&app, &token, "20.00", "alipay").await;
    let good = notify_form(&app, &order_no, "20.00", "T-9");

    let unsigned: Vec<_> = good.iter().filter(|(k, _)| k != "sign").cloned().collect();
    let mut wrongly_signed = good.clone();
    wrongly_signed.last_mut().unwrap().1 = "0".repeat(64);
    let mut tampered = good.clone();
    tampered[0].1 = "2000.00".into(); // `amount` sorts first; the signature no longer matches.
    for form in [
        unsigned,
        wrongly_signed,
        tampered,
        notify_form(&app, "R-unknown", "20.00", "T-9"),
        notify_form(&app, &order_no, "19.99", "T-9"),
        notify_form(&app, &order_no, "not money", "T-9"),
    ] {
        assert_eq!(
            notify(&app, &form).await,
            (400, "fail".to_owned()),
            "{form:?}"
        );
    }
    assert_eq!(balance(&app, &token).await, "0.00");
    assert_eq!(
        app.count("SELECT count(*) FROM recharge_orders WHERE paid_at IS NOT NULL"),
        0
    );

    // Paid once; a different trade for the same order is not believed either.
    assert_eq!(notify(&app, &good).await.0, 200);
    let other_trade = notify_form(&app, &order_no, "20.00", "T-10");
    assert_eq!(notify(&app, &other_trade).await, (400, "fail".to_owned()));
    // A trade id already used cannot pay a second order.
    let second = recharge(&app, &token, "20.00", "alipay").await;
    let reused = notify_form(&app, &second, "20.00", "T-9");
    assert_eq!(notify(&app, &reused).await, (400, "fail".to_owned()));
    assert_eq!(balance(&app, &token).await, "20.00");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM balance_records WHERE user_id = {user_id}"
        )),
        1
    );
    let unknown_provider = app
        .request(Method::POST, "/api/payments/paypal/notify")
        .form(&good)
        .send()
        .await
        .unwrap();
    print_error(unknown_provider, 404, 999).await;
}

#[tokio::test]
async fn bad_recharge_requests_are_refused_and_create_nothing() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    for body in [
        json!({ "pay_type": "alipay" }),
        json!({ "price": "0", "pay_type": "alipay" }),
        json!({ "price": "-5", "pay_type": "alipay" }),
        json!({ "price": "1.005", "pay_type": "alipay" }),
        json!({ "price": "50000.01", "pay_type": "alipay" }),
        json!({ "price": "abc", "pay_type": "alipay" }),
        json!({ "price": "10" }),
        json!({ "price": "10", "pay_type": "paypal" }),
    ] {
        print_error(create_recharge(&app, &token, body).await, 400, 999).await;
    }
    let anonymous = app
        .request(Method::POST, "/api/recharge_orders")
        .json(&json!({ "price": "10", "pay_type": "alipay" }))
        .send()
        .await
        .unwrap();
    print_error(anonymous, 401, 999).await;
    assert_eq!(app.count("SELECT count(*) FROM recharge_orders"), 0);
}
