//! SMS codes through the real adapters against the providers' stand-ins (`tests::standins`):
//! Aliyun and Tencent take the code signed as they require; an outage delays a code without
//! losing it or holding up the request; a refused signature or a provider's error is logged,
//! not retried; the stand-ins refuse stale timestamps and a repeated nonce; no plaintext code
//! stays behind; the delivery log is readable by support admins.

use std::time::{Duration, Instant};

use origin::config::{Config, Secret};
use origin::notify::SmsProvider;
use origin::notify::settings::{AliyunSms, TencentSms};
use reqwest::Method;
use serde_json::{Value, json};
use tests::standins::{Fault, StandIn, aliyun, tencent};

use crate::support::{PASSWORD, TestApp, json_of};

const ALIYUN_KEY: &str = "LTAI-test-only";
const ALIYUN_SECRET: &str = "aliyun-test-secret";
const TENCENT_ID: &str = "AKID-test-only";
const TENCENT_KEY: &str = "tencent-test-key";

async fn aliyun_stand_in() -> StandIn {
    aliyun::start(aliyun::Account {
        access_key_id: ALIYUN_KEY.into(),
        access_key_secret: ALIYUN_SECRET.into(),
        sign_name: "会员中心".into(),
        templates: vec!["SMS_100000001".into()],
    })
    .await
}

fn use_aliyun(config: &mut Config, stand_in: &StandIn, secret: &str) {
    config.notify.sms = SmsProvider::Aliyun(AliyunSms {
        access_key_id: ALIYUN_KEY.into(),
        access_key_secret: Secret::new(secret),
        sign_name: "会员中心".into(),
        template_code: "SMS_100000001".into(),
        notice_template_code: None,
        endpoint: stand_in.url.clone(),
    });
    config.notify.retry_first_secs = 1;
}

async fn tencent_stand_in() -> StandIn {
    tencent::start(tencent::Account {
        secret_id: TENCENT_ID.into(),
        secret_key: TENCENT_KEY.into(),
        app_id: "1400000001".into(),
        sign_name: "会员中心".into(),
        templates: vec!["100001".into()],
    })
    .await
}

fn use_tencent(config: &mut Config, stand_in: &StandIn) {
    config.notify.sms = SmsProvider::Tencent(TencentSms {
        secret_id: TENCENT_ID.into(),
        secret_key: Secret::new(TENCENT_KEY),
        app_id: "1400000001".into(),
        sign_name: "会员中心".into(),
        template_id: "100001".into(),
        notice_template_id: None,
        region: "ap-guangzhou".into(),
        endpoint: stand_in.url.clone(),
    });
    config.notify.retry_first_secs = 1;
}

/// Asks for a registration code for `phone`; the verification token. The request must not
/// wait for the provider.
async fn request_code(app: &TestApp, phone: &str) -> String {
    let started = Instant::now();
    let response = app
        .request_from(Method::POST, "/api/sms", &app.fresh_ip())
        .json(&json!({ "phone": phone, "is_register": true }))
        .send()
        .await
        .unwrap();
    let body = json_of(response, 201).await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the request waited for the provider"
    );
    body["data"]["verification_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn register(app: &TestApp, token: &str, code: &str) {
    let response = app
        .request(Method::POST, "/api/register")
        .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await;
}

/// The delivery rows as the back office shows them, newest first.
async fn delivery_log(app: &TestApp, query: &[(&str, &str)]) -> Vec<Value> {
    let token = app.admin_token().await;
    let response = app
        .admin_request(Method::GET, "/admin/deliveries")
        .header("token", token)
        .query(query)
        .send()
        .await
        .unwrap();
    json_of(response, 200).await["data"]["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until the newest delivery is no longer pending; its log row.
async fn settled(app: &TestApp, seconds: u64) -> Value {
    for _ in 0..seconds * 10 {
        let status: String = app
            .db()
            .query_row(
                "SELECT status FROM deliveries ORDER BY id DESC LIMIT 1",
                [],
                |row| row.get(0),
            )
            .unwrap();
        if status != "pending" {
            return delivery_log(app, &[]).await[0].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the delivery is still pending after {seconds} s");
}

/// No plaintext code anywhere: nothing sealed is left, and the outbox is empty.
fn assert_no_code_kept(app: &TestApp, code: &str) {
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE sealed IS NOT NULL"),
        0
    );
    assert_eq!(app.count("SELECT count(*) FROM outbox"), 0);
    let dump: Vec<String> = app
        .db()
        .prepare("SELECT coalesce(last_error, '') || coalesce(body, '') || coalesce(provider_message_id, '') FROM deliveries")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(dump.iter().all(|text| !text.contains(code)), "{dump:?}");
}

#[tokio::test]
async fn an_aliyun_code_arrives_signed_and_registers_the_user() {
    let stand_in = aliyun_stand_in().await;
    let app = TestApp::spawn_with(|config| use_aliyun(config, &stand_in, ALIYUN_SECRET)).await;
    let phone = app.phone();
    let token = request_code(&app, &phone).await;
    let accepted = stand_in.wait_for_accepted(1, 10).await;
    assert_eq!(accepted[0].phone, phone);
    assert_eq!(accepted[0].template, "SMS_100000001");
    let code = accepted[0].params["code"].as_str().unwrap().to_owned();
    let row = settled(&app, 5).await;
    assert_eq!(row["status"], "sent", "{row}");
    assert_eq!(row["provider"], "aliyun");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["provider_message_id"], accepted[0].message_id.as_str());
    assert_no_code_kept(&app, &code);
    register(&app, &token, &code).await;
    assert_eq!(app.user_count(), 1);
}

/// With SMS live and e-mail still on the outbox, the database is a live one: the outbox keeps
/// the e-mail's code and body sealed, and a super-admin still reads the working code.
#[tokio::test]
async fn beside_a_live_sms_provider_the_outbox_keeps_nothing_in_the_clear() {
    let stand_in = aliyun_stand_in().await;
    let app = TestApp::spawn_with(|config| use_aliyun(config, &stand_in, ALIYUN_SECRET)).await;
    let email = format!("sealed{}@example.com", app.fresh_ip().replace('.', ""));
    let token = crate::delivery_mail::request_mail_code(&app, &email).await;
    let code = app.outbox_code(&email).await;
    assert_eq!(code.len(), 6, "{code}");
    let (stored_code, stored_body, sealed): (String, String, bool) = app
        .db()
        .query_row(
            "SELECT code, body, sealed FROM outbox WHERE recipient = ?1",
            [&email],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert!(sealed);
    assert!(
        !stored_code.contains(&code) && !stored_body.contains(&code),
        "{stored_code} {stored_body}"
    );
    register(&app, &token, &code).await;
    assert_eq!(app.user_count(), 1);
}

#[tokio::test]
async fn going_live_seals_the_outbox_rows_written_in_the_clear() {
    // Rows from a development setup (or from before migration 0017) in a database that now
    // runs with a live provider: sealed at start, still readable by a super-admin.
    let stand_in = aliyun_stand_in().await;
    let app = TestApp::spawn_with(|config| use_aliyun(config, &stand_in, ALIYUN_SECRET)).await;
    app.db()
        .execute(
            "INSERT INTO outbox (channel, recipient, code, body, created_at)
             VALUES ('mail', 'old@example.com', '424242', '您的验证码是 424242', 0)",
            [],
        )
        .unwrap();
    let sealed = origin::notify::Notifier::seal_clear_outbox(&app.state)
        .await
        .unwrap();
    assert_eq!(sealed, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM outbox WHERE sealed = 0 OR code LIKE '%424242%' OR body LIKE '%424242%'"),
        0
    );
    assert_eq!(app.outbox_code("old@example.com").await, "424242");
    // Nothing left to do the next time.
    let again = origin::notify::Notifier::seal_clear_outbox(&app.state)
        .await
        .unwrap();
    assert_eq!(again, 0);
    // A purely development setup keeps its outbox in the clear.
    let dev = TestApp::spawn().await;
    dev.db()
        .execute(
            "INSERT INTO outbox (channel, recipient, code, body, created_at)
             VALUES ('mail', 'dev@example.com', '111111', 'x', 0)",
            [],
        )
        .unwrap();
    assert_eq!(
        origin::notify::Notifier::seal_clear_outbox(&dev.state)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        dev.count("SELECT count(*) FROM outbox WHERE code = '111111'"),
        1
    );
}

#[tokio::test]
async fn an_aliyun_outage_delays_the_code_but_it_still_arrives() {
    let stand_in = aliyun_stand_in().await;
    let app = TestApp::spawn_with(|config| use_aliyun(config, &stand_in, ALIYUN_SECRET)).await;
    stand_in.fail_next(2, Fault::Outage);
    let phone = app.phone();
    let token = request_code(&app, &phone).await;
    let accepted = stand_in.wait_for_accepted(1, 15).await;
    let row = settled(&app, 5).await;
    assert_eq!(row["status"], "sent", "{row}");
    assert_eq!(row["attempts"], 3);
    let outcomes: Vec<String> = app
        .db()
        .prepare("SELECT outcome FROM delivery_attempts ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "sent"]);
    let code = accepted[0].params["code"].as_str().unwrap().to_owned();
    register(&app, &token, &code).await;
    let metrics = app
        .admin_request(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "origin_notification_attempts_total{channel=\"sms\",provider=\"aliyun\",result=\"retry\"} 2",
        "origin_notification_attempts_total{channel=\"sms\",provider=\"aliyun\",result=\"sent\"} 1",
        "origin_notifications_pending 0",
        "origin_notifications_total{channel=\"sms\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing");
    }
}

#[tokio::test]
async fn a_refused_aliyun_signature_is_logged_and_not_retried() {
    let stand_in = aliyun_stand_in().await;
    let app = TestApp::spawn_with(|config| use_aliyun(config, &stand_in, "the-wrong-secret")).await;
    request_code(&app, &app.phone()).await;
    let row = settled(&app, 5).await;
    assert_eq!(row["status"], "failed", "{row}");
    assert_eq!(row["attempts"], 1);
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("SignatureDoesNotMatch"),
        "{row}"
    );
    assert_eq!(stand_in.refused(), ["SignatureDoesNotMatch"]);
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE sealed IS NOT NULL"),
        0
    );
}

#[tokio::test]
async fn the_aliyun_stand_in_refuses_stale_timestamps_and_repeated_nonces() {
    use origin::delivery::Message;
    use origin::delivery::aliyun::{query, signed};
    let stand_in = aliyun_stand_in().await;
    let settings = AliyunSms {
        access_key_id: ALIYUN_KEY.into(),
        access_key_secret: Secret::new(ALIYUN_SECRET),
        sign_name: "会员中心".into(),
        template_code: "SMS_100000001".into(),
        notice_template_code: None,
        endpoint: stand_in.url.clone(),
    };
    let params = query(&settings, &Message::code("13800138000", "123456", 5)).unwrap();
    let client = reqwest::Client::new();
    let send = |request: origin::delivery::aliyun::Signed| {
        let mut builder = client.post(format!("{}/?{}", stand_in.url, request.query));
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        async move {
            let response = builder.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let now = origin::clock::now();
    let stale = signed(&settings, &params, now - 3600, "nonce-stale");
    let (status, body) = send(stale).await;
    assert_eq!(
        (status, body["Code"].as_str().unwrap()),
        (400, "InvalidTimeStamp.Expired")
    );
    let fresh = signed(&settings, &params, now, "nonce-once");
    let (status, body) = send(fresh.clone()).await;
    assert_eq!((status, body["Code"].as_str().unwrap()), (200, "OK"));
    let (status, body) = send(fresh).await;
    assert_eq!(
        (status, body["Code"].as_str().unwrap()),
        (400, "SignatureNonceUsed")
    );
    let mut tampered = signed(&settings, &params, now, "nonce-tampered");
    tampered.query = tampered.query.replace("13800138000", "13800138001");
    let (status, body) = send(tampered).await;
    assert_eq!(
        (status, body["Code"].as_str().unwrap()),
        (400, "SignatureDoesNotMatch")
    );
    assert_eq!(stand_in.accepted().len(), 1);
}

#[tokio::test]
async fn a_tencent_code_arrives_signed_with_its_lifetime_and_registers_the_user() {
    let stand_in = tencent_stand_in().await;
    let app = TestApp::spawn_with(|config| use_tencent(config, &stand_in)).await;
    let phone = app.phone();
    let token = request_code(&app, &phone).await;
    let accepted = stand_in.wait_for_accepted(1, 10).await;
    assert_eq!(accepted[0].phone, format!("+86{phone}"));
    assert_eq!(accepted[0].params[1], "5", "{:?}", accepted[0].params);
    let code = accepted[0].params[0].as_str().unwrap().to_owned();
    let row = settled(&app, 5).await;
    assert_eq!(row["status"], "sent", "{row}");
    assert_eq!(row["provider"], "tencent");
    assert_eq!(row["provider_message_id"], accepted[0].message_id.as_str());
    assert_no_code_kept(&app, &code);
    register(&app, &token, &code).await;
}

#[tokio::test]
async fn a_tencent_outage_then_recovery_delivers_and_a_provider_error_is_final() {
    let stand_in = tencent_stand_in().await;
    let app = TestApp::spawn_with(|config| use_tencent(config, &stand_in)).await;
    stand_in.fail_next(1, Fault::Outage);
    stand_in.fail_next(1, Fault::Error("InternalError.Timeout".into()));
    let token = request_code(&app, &app.phone()).await;
    let accepted = stand_in.wait_for_accepted(1, 15).await;
    let row = settled(&app, 5).await;
    assert_eq!(
        (row["status"].as_str(), row["attempts"].as_i64()),
        (Some("sent"), Some(3)),
        "{row}"
    );
    register(&app, &token, accepted[0].params[0].as_str().unwrap()).await;

    stand_in.fail_next(
        1,
        Fault::Error("LimitExceeded.PhoneNumberDailyLimit".into()),
    );
    request_code(&app, &app.phone()).await;
    let row = settled(&app, 5).await;
    assert_eq!(row["status"], "failed", "{row}");
    assert_eq!(row["attempts"], 1);
    assert!(
        row["error"]
            .as_str()
            .unwrap()
            .contains("LimitExceeded.PhoneNumberDailyLimit"),
        "{row}"
    );
    let failed = delivery_log(&app, &[("status", "failed"), ("channel", "sms")]).await;
    assert_eq!(failed.len(), 1);
}

#[tokio::test]
async fn the_tencent_stand_in_refuses_stale_timestamps_and_wrong_keys() {
    use origin::delivery::Message;
    use origin::delivery::tencent::{body, signed_headers};
    let stand_in = tencent_stand_in().await;
    let mut settings = TencentSms {
        secret_id: TENCENT_ID.into(),
        secret_key: Secret::new(TENCENT_KEY),
        app_id: "1400000001".into(),
        sign_name: "会员中心".into(),
        template_id: "100001".into(),
        notice_template_id: None,
        region: "ap-guangzhou".into(),
        endpoint: stand_in.url.clone(),
    };
    let client = reqwest::Client::new();
    let call = |settings: &TencentSms, timestamp: i64| {
        let payload = body(settings, &Message::code("13800138000", "123456", 5)).unwrap();
        let mut builder = client
            .post(format!("{}/", stand_in.url))
            .body(payload.clone());
        for (name, value) in signed_headers(settings, &payload, timestamp) {
            builder = builder.header(name, value);
        }
        async move {
            let body: Value = builder.send().await.unwrap().json().await.unwrap();
            body["Response"]["Error"]["Code"]
                .as_str()
                .unwrap_or("sent")
                .to_owned()
        }
    };
    let now = origin::clock::now();
    assert_eq!(
        call(&settings, now - 600).await,
        "AuthFailure.SignatureExpire"
    );
    assert_eq!(call(&settings, now).await, "sent");
    settings.secret_key = Secret::new("not-the-key");
    assert_eq!(call(&settings, now).await, "AuthFailure.SignatureFailure");
}

#[tokio::test]
async fn support_admins_read_the_delivery_log_and_the_read_is_audited() {
    let app = TestApp::spawn().await;
    let phone = app.phone();
    app.register_print(&phone).await;
    let rows = delivery_log(&app, &[("to", &format!("+86 {phone}"))]).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["provider"], "outbox");
    assert_eq!(rows[0]["status"], "sent");
    assert_eq!(rows[0]["kind"], "code");
    assert!(rows[0].get("code").is_none());
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'deliveries.read'"),
        1
    );
    let token = app.admin_token().await;
    let bad = app
        .admin_request(Method::GET, "/admin/deliveries")
        .header("token", token)
        .query(&[("status", "lost")])
        .send()
        .await
        .unwrap();
    crate::support::print_error(bad, 400, 999).await;
}
