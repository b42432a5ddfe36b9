//! Live payments (`ORIGIN_PAYMENTS=live`) against the stand-in gateways of the test crate
//! (`tests::standins`): Alipay app pay and WeChat Pay API v3 orders, their signed (and for WeChat
//! Pay encrypted) callbacks, every failure path (bad signature, stale timestamp, wrong amount or
//! merchant, replay, gateway refusal and outage), and reconciliation of a lost callback.

use origin::clock;
use origin::config::{Config, Secret};
use origin::domain::commerce;
use origin::payments::{AlipaySettings, Mode, WechatPaySettings};
use reqwest::Method;
use serde_json::{Value, json};
use tests::standins::alipay::{self as alipay_standin, AlipayStandIn};
use tests::standins::vectors_dir;
use tests::standins::wechatpay::{self as wechat_standin, WechatPayStandIn};

use crate::support::{TestApp, json_of, print_error};

const BASE_URL: &str = "https://shop.example.com";

fn alipay_settings(gateway: &str) -> AlipaySettings {
    let dir = vectors_dir().join("alipay");
    AlipaySettings {
        app_id: alipay_standin::APP_ID.into(),
        private_key: dir.join("TEST-ONLY-app-private-key.pkcs8.pem"),
        public_key: dir.join("TEST-ONLY-alipay-public-key.pem"),
        gateway: gateway.into(),
    }
}

fn wechat_settings(api_base: &str) -> WechatPaySettings {
    let dir = vectors_dir().join("wechatpay");
    WechatPaySettings {
        mch_id: wechat_standin::MCH_ID.into(),
        app_id: wechat_standin::APP_ID.into(),
        mch_serial: wechat_standin::MCH_SERIAL.into(),
        private_key: dir.join("TEST-ONLY-merchant-private-key.pem"),
        api_v3_key: Secret::new(wechat_standin::API_V3_KEY),
        public_key: dir.join("TEST-ONLY-platform-public-key.pem"),
        public_key_id: wechat_standin::PUBLIC_KEY_ID.into(),
        api_base: api_base.into(),
    }
}

fn live(config: &mut Config, alipay: Option<&AlipayStandIn>, wechat: Option<&WechatPayStandIn>) {
    config.payments.mode = Mode::Live;
    config.payments.public_base_url = Some(BASE_URL.into());
    config.payments.alipay = alipay.map(|gateway| alipay_settings(&gateway.url));
    config.payments.wechat = wechat.map(|api| wechat_settings(&api.url));
}

async fn create(app: &TestApp, token: &str, price: &str, pay_type: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/recharge_orders")
        .header("token", token)
        .json(&json!({ "price": price, "pay_type": pay_type }))
        .send()
        .await
        .unwrap()
}

/// A created order: its number and pay parameters.
async fn order(app: &TestApp, token: &str, price: &str, pay_type: &str) -> (String, Value) {
    let created = json_of(create(app, token, price, pay_type).await, 201).await;
    let order_no = created["data"]["order_no"].as_str().unwrap().to_owned();
    (order_no, created["data"]["pay_params"].clone())
}

async fn alipay_notify(app: &TestApp, form: &[(String, String)]) -> (u16, String) {
    let response = app
        .request(Method::POST, "/api/payments/alipay/notify")
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn wechat_notify(
    app: &TestApp,
    (headers, body): &(Vec<(String, String)>, String),
) -> (u16, String) {
    let mut request = app
        .request(Method::POST, "/api/payments/wechat/notify")
        .header("content-type", "application/json")
        .body(body.clone());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn balance(app: &TestApp, token: &str) -> String {
    let me = json_of(app.get_with_token("/api/users/self", token).await, 200).await;
    me["data"]["balance"].as_str().unwrap().to_owned()
}

fn credits(app: &TestApp, user_id: i64) -> i64 {
    app.count(&format!(
        "SELECT count(*) FROM balance_records WHERE user_id = {user_id}"
    ))
}

fn fail(reason: &str) -> (u16, String) {
    (
        400,
        json!({ "code": "FAIL", "message": reason }).to_string(),
    )
}

#[tokio::test]
async fn an_alipay_recharge_is_paid_once_by_its_signed_notification() {
    let gateway = AlipayStandIn::start().await;
    let app = TestApp::spawn_with(|config| live(config, Some(&gateway), None)).await;
    let (token, user_id) = app.member().await;
    let (order_no, params) = order(&app, &token, "12.50", "alipay").await;
    assert_eq!(params["provider"], "alipay");

    let (notify_url, notice) = gateway
        .pay(params["order_string"].as_str().unwrap())
        .unwrap();
    assert_eq!(notify_url, format!("{BASE_URL}/api/payments/alipay/notify"));
    assert_eq!(alipay_notify(&app, &notice).await, (200, "success".into()));
    assert_eq!(alipay_notify(&app, &notice).await, (200, "success".into()));
    assert_eq!(balance(&app, &token).await, "12.50");
    assert_eq!(credits(&app, user_id), 1);
    let trade = notice
        .iter()
        .find(|(k, _)| k == "trade_no")
        .unwrap()
        .1
        .clone();
    let paid = app.count(&format!(
        "SELECT count(*) FROM recharge_orders WHERE order_no = '{order_no}' AND trade_no = '{trade}'"
    ));
    assert_eq!(paid, 1);
}

#[tokio::test]
async fn alipay_notifications_not_believed_or_not_matching_change_nothing() {
    let gateway = AlipayStandIn::start().await;
    let app = TestApp::spawn_with(|config| live(config, Some(&gateway), None)).await;
    let (token, user_id) = app.member().await;
    let (order_no, _) = order(&app, &token, "12.50", "alipay").await;
    let refused = (400, "fail".to_owned());

    let mut forged = gateway.notice_for(
        &order_no,
        "12.50",
        "T1",
        "TRADE_SUCCESS",
        alipay_standin::APP_ID,
    );
    for (name, value) in &mut forged {
        if name == "total_amount" {
            *value = "1250.00".into();
        }
    }
    assert_eq!(alipay_notify(&app, &forged).await, refused, "bad signature");
    let wrong_amount = gateway.notice_for(
        &order_no,
        "12.49",
        "T1",
        "TRADE_SUCCESS",
        alipay_standin::APP_ID,
    );
    assert_eq!(alipay_notify(&app, &wrong_amount).await, refused, "amount");
    let other_app = gateway.notice_for(
        &order_no,
        "12.50",
        "T1",
        "TRADE_SUCCESS",
        "2021000000000999",
    );
    assert_eq!(alipay_notify(&app, &other_app).await, refused, "app_id");
    let unknown = gateway.notice_for(
        "R-none",
        "12.50",
        "T1",
        "TRADE_SUCCESS",
        alipay_standin::APP_ID,
    );
    assert_eq!(alipay_notify(&app, &unknown).await, refused, "order");
    let waiting = gateway.notice_for(
        &order_no,
        "12.50",
        "T1",
        "WAIT_BUYER_PAY",
        alipay_standin::APP_ID,
    );
    assert_eq!(
        alipay_notify(&app, &waiting).await,
        (200, "success".into()),
        "acknowledged"
    );
    assert_eq!(balance(&app, &token).await, "0.00");
    assert_eq!(credits(&app, user_id), 0);

    let paid = gateway.notice_for(
        &order_no,
        "12.50",
        "T1",
        "TRADE_SUCCESS",
        alipay_standin::APP_ID,
    );
    assert_eq!(alipay_notify(&app, &paid).await, (200, "success".into()));
    let other_trade = gateway.notice_for(
        &order_no,
        "12.50",
        "T2",
        "TRADE_SUCCESS",
        alipay_standin::APP_ID,
    );
    assert_eq!(
        alipay_notify(&app, &other_trade).await,
        refused,
        "second trade"
    );
    let (second, _) = order(&app, &token, "12.50", "alipay").await;
    let reused = gateway.notice_for(
        &second,
        "12.50",
        "T1",
        "TRADE_SUCCESS",
        alipay_standin::APP_ID,
    );
    assert_eq!(
        alipay_notify(&app, &reused).await,
        refused,
        "trade_no pays one order"
    );
    assert_eq!(balance(&app, &token).await, "12.50");
    assert_eq!(credits(&app, user_id), 1);
}

#[tokio::test]
async fn a_wechat_pay_recharge_gets_signed_app_parameters_and_its_encrypted_callback_credits_once()
{
    let api = WechatPayStandIn::start().await;
    let app = TestApp::spawn_with(|config| live(config, None, Some(&api))).await;
    let (token, user_id) = app.member().await;
    let (_, params) = order(&app, &token, "12.50", "wechat").await;
    assert_eq!(params["partnerid"], wechat_standin::MCH_ID);
    assert_eq!(params["package"], "Sign=WXPay");
    assert_eq!(api.calls(), ["POST /v3/pay/transactions/app"]);

    let callback = api.pay(&params, clock::now()).unwrap();
    assert_eq!(wechat_notify(&app, &callback).await, (204, String::new()));
    assert_eq!(balance(&app, &token).await, "12.50");
    assert_eq!(credits(&app, user_id), 1);
}

#[tokio::test]
async fn a_replayed_wechat_pay_callback_nonce_is_refused_and_a_freshly_signed_repeat_credits_nothing()
 {
    let api = WechatPayStandIn::start().await;
    let app = TestApp::spawn_with(|config| live(config, None, Some(&api))).await;
    let (token, user_id) = app.member().await;
    let (order_no, params) = order(&app, &token, "12.50", "wechat").await;
    let callback = api.pay(&params, clock::now()).unwrap();
    assert_eq!(wechat_notify(&app, &callback).await, (204, String::new()));

    // The same signed callback again (same `Wechatpay-Nonce`, within the 5 minutes): a replay.
    assert_eq!(
        wechat_notify(&app, &callback).await,
        fail("Wechatpay-Nonce already used")
    );
    // WeChat Pay sending the notification again signs it anew: accepted, nothing credited.
    let transaction_id = format!("42000000002024{:014}", 1250);
    let again = api.callback(
        &wechat_standin::transaction(&order_no, &transaction_id, "SUCCESS", 1250),
        clock::now(),
    );
    assert_ne!(again.0, callback.0, "a new nonce");
    assert_eq!(wechat_notify(&app, &again).await, (204, String::new()));
    assert_eq!(balance(&app, &token).await, "12.50");
    assert_eq!(credits(&app, user_id), 1);

    // A refused callback's nonce is not taken: refused for what it says, not as a replay.
    let (order_no, _) = order(&app, &token, "3.00", "wechat").await;
    let wrong = api.callback(
        &wechat_standin::transaction(&order_no, "4200000002", "SUCCESS", 299),
        clock::now(),
    );
    for _ in 0..2 {
        assert_eq!(
            wechat_notify(&app, &wrong).await,
            fail("amount does not match the order")
        );
    }
    assert_eq!(credits(&app, user_id), 1);
}

#[tokio::test]
async fn wechat_pay_callbacks_stale_forged_or_not_matching_are_refused_and_change_nothing() {
    let api = WechatPayStandIn::start().await;
    let app = TestApp::spawn_with(|config| live(config, None, Some(&api))).await;
    let (token, user_id) = app.member().await;
    let (order_no, _) = order(&app, &token, "12.50", "wechat").await;
    let now = clock::now();
    let paid = |total| wechat_standin::transaction(&order_no, "4200000001", "SUCCESS", total);

    let stale = api.callback(&paid(1250), now - 301);
    assert_eq!(
        wechat_notify(&app, &stale).await,
        fail("Wechatpay-Timestamp too far from our clock")
    );
    let (headers, body) = api.callback(&paid(1250), now);
    let tampered = (headers.clone(), body.replace("支付成功", "支付失败"));
    assert_eq!(wechat_notify(&app, &tampered).await, fail("bad signature"));
    let mut other_key = headers.clone();
    for (name, value) in &mut other_key {
        if name == "wechatpay-serial" {
            *value = "PUB_KEY_ID_OTHER".into();
        }
    }
    assert_eq!(
        wechat_notify(&app, &(other_key, body)).await,
        fail("Wechatpay-Serial is not our WeChat Pay public key id")
    );
    let wrong_amount = api.callback(&paid(1249), now);
    assert_eq!(
        wechat_notify(&app, &wrong_amount).await,
        fail("amount does not match the order")
    );
    let mut other_merchant = paid(1250);
    other_merchant["mchid"] = "1900000999".into();
    assert_eq!(
        wechat_notify(&app, &api.callback(&other_merchant, now)).await,
        fail("transaction of another mchid or appid")
    );
    assert_eq!(balance(&app, &token).await, "0.00");
    assert_eq!(credits(&app, user_id), 0);
}

#[tokio::test]
async fn a_gateway_that_refuses_or_is_down_at_order_time_is_a_clear_error_and_stores_nothing() {
    let api = WechatPayStandIn::start().await;
    let app = TestApp::spawn_with(|config| live(config, None, Some(&api))).await;
    let (token, _) = app.member().await;
    api.behave(wechat_standin::Behaviour::Refuse);
    let refused = print_error(create(&app, &token, "12.50", "wechat").await, 400, 999).await;
    assert!(
        refused["message"].as_str().unwrap().contains("参数错误"),
        "{refused}"
    );
    api.behave(wechat_standin::Behaviour::Down);
    print_error(create(&app, &token, "12.50", "wechat").await, 503, 999).await;
    assert_eq!(app.count("SELECT count(*) FROM recharge_orders"), 0);
    api.behave(wechat_standin::Behaviour::Normal);
    order(&app, &token, "12.50", "wechat").await;
}

#[tokio::test]
async fn in_live_mode_an_unconfigured_pay_type_is_refused_and_the_sandbox_callback_is_gone() {
    let gateway = AlipayStandIn::start().await;
    let app = TestApp::spawn_with(|config| live(config, Some(&gateway), None)).await;
    let (token, _) = app.member().await;
    let refused = print_error(create(&app, &token, "12.50", "wechat").await, 400, 999).await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("微信支付未开通"),
        "{refused}"
    );
    let form = crate::support::sandbox_notify_form(
        app.state.config.pay_sandbox_secret.expose(),
        "R1",
        "12.50",
        "T1",
    );
    let sandbox = app
        .request(Method::POST, "/api/payments/sandbox/notify")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(sandbox.status(), 404);
    let wechat = app
        .request(Method::POST, "/api/payments/wechat/notify")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(wechat.status(), 404);
}

#[tokio::test]
async fn a_lost_callback_is_settled_by_reconciliation_once_the_gateway_is_back() {
    let gateway = AlipayStandIn::start().await;
    let api = WechatPayStandIn::start().await;
    let app = TestApp::spawn_with(|config| live(config, Some(&gateway), Some(&api))).await;
    let (token, user_id) = app.member().await;
    let (_, alipay_params) = order(&app, &token, "10.00", "alipay").await;
    let (_, wechat_params) = order(&app, &token, "2.50", "wechat").await;
    let (_, unpaid) = order(&app, &token, "7.00", "wechat").await;
    assert!(unpaid["prepayid"].is_string());
    // Both payers pay; neither callback arrives.
    let (_, alipay_notice) = gateway
        .pay(alipay_params["order_string"].as_str().unwrap())
        .unwrap();
    let wechat_callback = api.pay(&wechat_params, clock::now()).unwrap();

    let after = app.state.config.payments.reconcile_after_secs;
    let now = clock::now();
    let too_soon = commerce::reconcile(&app.state, now).await.unwrap();
    assert_eq!(
        too_soon.asked, 0,
        "orders younger than the pause are left to their callbacks"
    );

    gateway.behave(alipay_standin::Behaviour::Down);
    api.behave(wechat_standin::Behaviour::Down);
    let outage = commerce::reconcile(&app.state, now + after + 1)
        .await
        .unwrap();
    assert_eq!((outage.asked, outage.credited, outage.failed), (3, 0, 3));
    assert_eq!(balance(&app, &token).await, "0.00");

    gateway.behave(alipay_standin::Behaviour::Normal);
    api.behave(wechat_standin::Behaviour::Normal);
    let soon_again = commerce::reconcile(&app.state, now + after + 2)
        .await
        .unwrap();
    assert_eq!(
        soon_again.asked, 0,
        "each order is asked again only after the pause"
    );
    let recovered = commerce::reconcile(&app.state, now + 2 * after + 2)
        .await
        .unwrap();
    assert_eq!(
        (recovered.asked, recovered.credited, recovered.failed),
        (3, 2, 0)
    );
    assert_eq!(balance(&app, &token).await, "12.50");
    assert!(gateway.calls().contains(&"alipay.trade.query".to_owned()));

    // The callbacks arrive late: accepted, and nothing is credited twice.
    assert_eq!(
        alipay_notify(&app, &alipay_notice).await,
        (200, "success".into())
    );
    assert_eq!(
        wechat_notify(&app, &wechat_callback).await,
        (204, String::new())
    );
    let settled_again = commerce::reconcile(&app.state, now + 3 * after + 3)
        .await
        .unwrap();
    assert_eq!(
        (settled_again.asked, settled_again.credited),
        (1, 0),
        "only the unpaid order"
    );
    assert_eq!(balance(&app, &token).await, "12.50");
    assert_eq!(credits(&app, user_id), 2);
}

#[tokio::test]
async fn the_wechat_pay_stand_in_refuses_a_replayed_or_unsigned_call() {
    let api = WechatPayStandIn::start().await;
    let settings = wechat_settings(&api.url);
    let adapter =
        origin::payments::wechat::WechatPay::new(&settings, format!("{BASE_URL}/n")).unwrap();
    let path = "/v3/pay/transactions/out-trade-no/R1?mchid=1900000001";
    let authorization = adapter.authorization("GET", path, "", clock::now(), "NONCE0001");
    let client = reqwest::Client::new();
    let call = |authorization: Option<&str>| {
        let mut request = client.get(format!("{}{path}", api.url));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        request.send()
    };
    assert_eq!(
        call(Some(&authorization)).await.unwrap().status(),
        404,
        "unknown order"
    );
    assert_eq!(
        call(Some(&authorization)).await.unwrap().status(),
        401,
        "nonce replayed"
    );
    assert_eq!(call(None).await.unwrap().status(), 401);
    let stale = adapter.authorization("GET", path, "", clock::now() - 600, "NONCE0002");
    assert_eq!(call(Some(&stale)).await.unwrap().status(), 401);
    let refusals: Vec<String> = api
        .calls()
        .into_iter()
        .filter(|call| call.starts_with("refused: SIGN_ERROR"))
        .collect();
    assert_eq!(
        refusals,
        [
            "refused: SIGN_ERROR: nonce already used",
            "refused: SIGN_ERROR: missing Authorization",
            "refused: SIGN_ERROR: timestamp expired",
        ]
    );
}

#[tokio::test]
async fn the_alipay_stand_in_refuses_a_call_whose_timestamp_is_off_its_clock() {
    let gateway = AlipayStandIn::start().await;
    let settings = alipay_settings(&gateway.url);
    let adapter =
        origin::payments::alipay::Alipay::new(&settings, format!("{BASE_URL}/n")).unwrap();
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let beijing = time::UtcOffset::from_hms(8, 0, 0).unwrap();
    let at = |skew: i64| {
        (time::OffsetDateTime::now_utc() + time::Duration::seconds(skew))
            .to_offset(beijing)
            .format(&format)
            .unwrap()
    };
    let client = reqwest::Client::new();
    let ask = |timestamp: String| {
        let (query, body) = adapter.query_request("R1", &timestamp);
        client
            .post(format!("{}?{query}", gateway.url))
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(body)
            .send()
    };
    let read = |body: &str| -> Value {
        serde_json::from_str::<Value>(body).unwrap()["error_response"].clone()
    };

    // A signed call on time is answered (the order is unknown to the gateway).
    let on_time = ask(at(0)).await.unwrap().text().await.unwrap();
    assert!(
        matches!(
            adapter.read_query_response(&on_time, "R1"),
            Ok(origin::payments::Verified::NotPaid { .. })
        ),
        "{on_time}"
    );
    // The same call signed ten minutes in the past, or in the future, is refused with
    // Alipay's public error for an invalid timestamp.
    for skew in [-600, 600] {
        let skewed = ask(at(skew)).await.unwrap().text().await.unwrap();
        assert_eq!(
            read(&skewed),
            json!({
                "code": "40002", "msg": "Invalid Arguments",
                "sub_code": "isv.invalid-timestamp", "sub_msg": "非法的时间戳参数",
            }),
            "{skewed}"
        );
        assert!(
            matches!(
                adapter.read_query_response(&skewed, "R1"),
                Err(origin::payments::ProviderError::Refused { ref code, .. })
                    if code == "40002 isv.invalid-timestamp"
            ),
            "the adapter reads it as a refusal"
        );
    }
    // A timestamp that is not Alipay's format is refused the same way.
    let unreadable = ask("2024/05/01 12:00:00".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(read(&unreadable)["sub_code"], "isv.invalid-timestamp");
    assert_eq!(
        gateway.calls(),
        [
            "alipay.trade.query",
            "refused: isv.invalid-timestamp",
            "refused: isv.invalid-timestamp",
            "refused: isv.invalid-timestamp",
        ]
    );
}

/// `origin serve` itself, live against the stand-in Alipay gateway, with a one-second
/// reconciliation interval: a recharge whose callback never comes is credited by the
/// reconciliation task alone, exactly once.
#[tokio::test]
async fn origin_serve_reconciles_a_paid_order_whose_callback_never_came_exactly_once() {
    use crate::support::process;
    use shared::headers::{CLIENT_IP, EDGE_SECRET};
    use std::time::{Duration, Instant};

    let gateway = AlipayStandIn::start().await;
    let settings = alipay_settings(&gateway.url);
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (private_key, public_key) = (
        settings.private_key.to_str().unwrap(),
        settings.public_key.to_str().unwrap(),
    );
    let origin = process::start(
        dir.path(),
        "http://127.0.0.1:9",
        &[
            ("ORIGIN_PAYMENTS", "live"),
            ("ORIGIN_PUBLIC_BASE_URL", BASE_URL),
            ("ORIGIN_ALIPAY_APP_ID", alipay_standin::APP_ID),
            ("ORIGIN_ALIPAY_PRIVATE_KEY", private_key),
            ("ORIGIN_ALIPAY_PUBLIC_KEY", public_key),
            ("ORIGIN_ALIPAY_GATEWAY", &gateway.url),
            ("ORIGIN_PAY_RECONCILE_AFTER_SECS", "1"),
            ("ORIGIN_PAY_RECONCILE_INTERVAL_SECS", "1"),
        ],
        &client,
    )
    .await;
    let request = |method: Method, path: &str| {
        client
            .request(method, format!("{}{path}", origin.public))
            .header(EDGE_SECRET, process::SECRET)
            .header(CLIENT_IP, "192.0.2.7")
    };
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let db = dir.path().join("origin.sqlite3");
    let query = |sql: &str| -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(sql, [], |row| row.get(0))
            .unwrap()
    };

    // A member, registered with the code from the development outbox.
    let phone = "13900000077";
    let (status, sent) = send(
        request(Method::POST, "/api/sms").json(&json!({ "phone": phone, "is_register": true })),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let code: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT code FROM outbox WHERE recipient = ?1 ORDER BY id DESC LIMIT 1",
            [phone],
            |row| row.get(0),
        )
        .unwrap();
    let (status, registered) = send(request(Method::POST, "/api/register").json(&json!({
        "verification_token": sent["data"]["verification_token"],
        "verification_code": code,
        "password": crate::support::PASSWORD,
    })))
    .await;
    assert_eq!(status, 201, "{registered}");
    let token = registered["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let balance = || async {
        let (_, me) = send(request(Method::GET, "/api/users/self").header("token", &token)).await;
        me["data"]["balance"].as_str().unwrap().to_owned()
    };

    let (status, created) = send(
        request(Method::POST, "/api/recharge_orders")
            .header("token", &token)
            .json(&json!({ "price": "10.00", "pay_type": "alipay" })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let order_string = created["data"]["pay_params"]["order_string"]
        .as_str()
        .unwrap()
        .to_owned();

    // Unpaid, the order is asked about and left pending.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gateway.calls().contains(&"alipay.trade.query".to_owned()) {
        assert!(
            Instant::now() < deadline,
            "the task never asked the gateway"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(balance().await, "0.00");

    // The payer pays; the notification is never sent. The task finds the payment.
    let _never_sent = gateway.pay(&order_string).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while balance().await != "10.00" {
        assert!(
            Instant::now() < deadline,
            "the task never credited the order"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Several more passes later: credited once, and the settled order is not asked about again.
    let asked = gateway.calls().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(balance().await, "10.00");
    assert_eq!(query("SELECT count(*) FROM balance_records"), 1);
    assert_eq!(
        query("SELECT count(*) FROM recharge_orders WHERE paid_at IS NOT NULL"),
        1
    );
    assert_eq!(gateway.calls().len(), asked, "{:?}", gateway.calls());
    assert!(
        gateway
            .calls()
            .iter()
            .all(|call| call == "alipay.trade.query"),
        "{:?}",
        gateway.calls()
    );
}
