//! Back-office and payment writes (points, redemption, shipping, recharges paid by replayed
//! callbacks) seen on the user's next read through the edge.

use std::sync::Arc;

use anyhow::{Context, ensure};
use reqwest::{Method, Response};
use serde_json::json;
use tests::{System, str_at};

use crate::Named;
use crate::support::{admin_send, cache_status, expect_status, print_error, print_user, self_read};

pub const SCENARIOS: &[Named] = scenarios![
    admin_points_redemption_and_shipping_are_seen_on_the_next_read,
    a_recharge_paid_by_replayed_callbacks_is_credited_once,
];

async fn personal_read(system: &System, token: &str, path: &str) -> anyhow::Result<Response> {
    Ok(system
        .edge(Method::GET, path)
        .header("token", token)
        .send()
        .await?)
}

async fn admin_points_redemption_and_shipping_are_seen_on_the_next_read(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let (token, user_id) = print_user(&system).await?;
    ensure!(cache_status(&self_read(&system, &token).await?) == "HIT");
    // An admin write goes to the origin's private listener, never through the edge; the
    // origin's outbox tells the edge before the admin gets an answer.
    admin_send(
        &system,
        Method::POST,
        &format!("/admin/users/{user_id}/points"),
        json!({ "number": 100, "describe": "活动" }),
    )
    .await?;
    let me = expect_status(self_read(&system, &token).await?, 200).await?;
    ensure!(me["data"]["accumulate_points"] == 100, "stale points: {me}");

    let gift = admin_send(
        &system,
        Method::POST,
        "/admin/gifts",
        json!({ "name": "e2e 礼品", "accumulate_points": 60, "stock": 1 }),
    )
    .await?;
    let gift_id = gift["data"]["id"].as_i64().context("gift id")?;
    let gifts = expect_status(
        system
            .edge(Method::GET, "/api/gifts?limit=100")
            .send()
            .await?,
        200,
    )
    .await?;
    let listed = gifts["data"]["data"].as_array().context("gifts")?;
    ensure!(listed.iter().any(|g| g["id"] == gift_id), "{gifts}");
    let again = system
        .edge(Method::GET, "/api/gifts?limit=100")
        .send()
        .await?;
    ensure!(
        cache_status(&again) == "HIT",
        "the gift list is edge-cached by URL"
    );
    let address = system
        .edge(Method::POST, "/api/users/self/addresses")
        .header("token", &token)
        .json(
            &json!({ "name": "李四", "phone": "13900002222", "province": "浙江省",
                       "city": "杭州市", "county": "西湖区", "detail": "文三路 1 号" }),
        )
        .send()
        .await?;
    let address_id = expect_status(address, 201).await?["data"]["id"]
        .as_i64()
        .context("address")?;

    let orders = "/api/users/self/gift_orders";
    ensure!(
        expect_status(personal_read(&system, &token, orders).await?, 200).await?["data"]["total"]
            == 0
    );
    let redeemed = system
        .edge(Method::POST, "/api/gift_orders")
        .header("token", &token)
        .json(&json!({ "gift_id": gift_id, "address_id": address_id }))
        .send()
        .await?;
    expect_status(redeemed, 201).await?;
    let listed = expect_status(personal_read(&system, &token, orders).await?, 200).await?;
    let order = &listed["data"]["data"][0];
    ensure!(
        order["status"] == "未发货" && order.get("tracking_no").is_none(),
        "{listed}"
    );
    ensure!(cache_status(&personal_read(&system, &token, orders).await?) == "HIT");
    let me = expect_status(self_read(&system, &token).await?, 200).await?;
    ensure!(me["data"]["accumulate_points"] == 40, "{me}");
    // The last one in stock is gone.
    let again = system
        .edge(Method::POST, "/api/gift_orders")
        .header("token", &token)
        .json(&json!({ "gift_id": gift_id, "address_id": address_id }))
        .send()
        .await?;
    print_error(again, 400, 999).await?;

    let order_id = order["id"].as_i64().context("order id")?;
    admin_send(
        &system,
        Method::PUT,
        &format!("/admin/gift_orders/{order_id}/ship"),
        json!({ "express_company": "顺丰", "tracking_no": "SF-E2E-1" }),
    )
    .await?;
    let shipped = expect_status(personal_read(&system, &token, orders).await?, 200).await?;
    ensure!(
        shipped["data"]["data"][0]["tracking_no"] == "SF-E2E-1",
        "stale order: {shipped}"
    );
    ensure!(shipped["data"]["data"][0]["status"] == "已发货");
    Ok(())
}

/// A gateway callback for `order_no`, signed with this system's sandbox secret.
fn sandbox_form(
    system: &System,
    order_no: &str,
    amount: &str,
    trade_no: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let secret =
        std::fs::read_to_string(system.dir.path().join("data/secrets/pay_sandbox_secret"))?;
    Ok(tests::sandbox_notify_form(
        secret.trim(),
        order_no,
        amount,
        trade_no,
    ))
}

async fn a_recharge_paid_by_replayed_callbacks_is_credited_once(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let (token, _) = print_user(&system).await?;
    ensure!(cache_status(&self_read(&system, &token).await?) == "HIT");
    let created = system
        .edge(Method::POST, "/api/recharge_orders")
        .header("token", &token)
        .json(&json!({ "price": "66.60", "pay_type": "alipay" }))
        .send()
        .await?;
    let order_no = str_at(&expect_status(created, 201).await?, "/data/order_no")?;
    let form = sandbox_form(&system, &order_no, "66.60", &format!("TRADE-{order_no}"))?;
    for _ in 0..3 {
        let answer = system
            .edge(Method::POST, "/api/payments/sandbox/notify")
            .form(&form)
            .send()
            .await?;
        ensure!(answer.status() == 200, "{}", answer.status());
        ensure!(answer.text().await? == "success");
    }
    let mut forged = form.clone();
    forged[0].1 = "6660.00".into();
    let answer = system
        .edge(Method::POST, "/api/payments/sandbox/notify")
        .form(&forged)
        .send()
        .await?;
    ensure!(answer.status() == 400 && answer.text().await? == "fail");

    let me = expect_status(self_read(&system, &token).await?, 200).await?;
    ensure!(
        me["data"]["balance"] == "66.60",
        "stale or wrong balance: {me}"
    );
    let ledger = expect_status(
        personal_read(&system, &token, "/api/users/self/balance_records").await?,
        200,
    )
    .await?;
    ensure!(ledger["data"]["total"] == 1, "{ledger}");
    let orders = expect_status(
        personal_read(&system, &token, "/api/users/self/recharge_orders").await?,
        200,
    )
    .await?;
    ensure!(orders["data"]["data"][0]["status"] == "已支付", "{orders}");
    Ok(())
}
