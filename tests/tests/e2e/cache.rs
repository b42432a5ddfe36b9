//! The edge's cache: personal reads are fresh after the user's own writes, public reads are shared
//! by URL, and error answers are never stored.

use std::sync::Arc;

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::json;
use tests::{System, str_at};

use crate::Named;
use crate::support::{cache_status, database, expect_status, header_of, print_error, self_read};

pub const SCENARIOS: &[Named] = scenarios![
    read_your_writes_on_a_cached_personal_route,
    read_your_writes_on_addresses_in_both_dialects,
    read_your_writes_on_messages,
    public_reads_are_cached_by_url,
    error_answers_on_public_routes_are_neither_stored_nor_public,
];

async fn read_your_writes_on_a_cached_personal_route(system: Arc<System>) -> anyhow::Result<()> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    let first = self_read(&system, &token).await?;
    ensure!(cache_status(&first) == "MISS");
    let second = self_read(&system, &token).await?;
    ensure!(
        cache_status(&second) == "HIT",
        "second read should be cached"
    );
    let nickname = system.fresh_name("nick");
    let update = system
        .edge(Method::PUT, "/api/users/self")
        .header("token", &token)
        .json(&json!({ "nickname": nickname }))
        .send()
        .await?;
    expect_status(update, 200).await?;
    let after = self_read(&system, &token).await?;
    ensure!(
        cache_status(&after) == "MISS",
        "the write must drop the cached copy"
    );
    let body = expect_status(after, 200).await?;
    ensure!(
        body["data"]["nickname"] == nickname.as_str(),
        "stale read after write: {body}"
    );
    let again = self_read(&system, &token).await?;
    ensure!(cache_status(&again) == "HIT");
    ensure!(expect_status(again, 200).await?["data"]["nickname"] == nickname.as_str());
    Ok(())
}

async fn read_your_writes_on_addresses_in_both_dialects(system: Arc<System>) -> anyhow::Result<()> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    let store_list = || {
        system
            .edge(Method::GET, "/api/user_addresses")
            .bearer_auth(&token)
            .send()
    };
    let print_list = || {
        system
            .edge(Method::GET, "/api/users/self/addresses")
            .header("token", &token)
            .send()
    };
    ensure!(expect_status(store_list().await?, 200).await?["data"] == json!([]));
    ensure!(cache_status(&store_list().await?) == "HIT");
    expect_status(print_list().await?, 200).await?;
    let created = system
        .edge(Method::POST, "/api/user_addresses")
        .bearer_auth(&token)
        .query(&[
            ("province", "广东省"),
            ("city", "深圳市"),
            ("district", "南山区"),
            ("address", "科技园 1 号"),
            ("zip", "518000"),
            ("contact_name", "张三"),
            ("contact_phone", "13800138000"),
        ])
        .send()
        .await?;
    let id = expect_status(created, 201).await?["data"]["id"]
        .as_i64()
        .context("id")?;
    let listed = store_list().await?;
    ensure!(
        cache_status(&listed) == "MISS",
        "the store write must drop the cached store list"
    );
    ensure!(expect_status(listed, 200).await?["data"][0]["id"] == id);
    let print_view = expect_status(print_list().await?, 200).await?;
    ensure!(
        print_view["data"][0]["county"] == "南山区" && print_view["data"][0]["is_default"] == true,
        "{print_view}"
    );
    let deleted = system
        .edge(Method::DELETE, &format!("/api/users/self/addresses/{id}"))
        .header("token", &token)
        .send()
        .await?;
    expect_status(deleted, 200).await?;
    ensure!(
        expect_status(store_list().await?, 200).await?["data"] == json!([]),
        "a print write must show in the store view at once"
    );
    Ok(())
}

async fn read_your_writes_on_messages(system: Arc<System>) -> anyhow::Result<()> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    let me = expect_status(self_read(&system, &token).await?, 200).await?;
    let user_id = me["data"]["id"].as_i64().context("id")?;
    // Messages arrive from the back office; here they are seeded before the first read.
    database(&system)?.execute(
        "INSERT INTO messages (user_id, sender, title, body, created_at) VALUES (?1, '系统', '欢迎', '你好', 1), (?1, '系统', '通知', '内容', 2)",
        [user_id],
    )?;
    let unread = || {
        system
            .edge(Method::GET, "/api/users/self/messages/unread_count")
            .header("token", &token)
            .send()
    };
    let list = || {
        system
            .edge(Method::GET, "/api/users/self/messages?is_read=0")
            .header("token", &token)
            .send()
    };
    ensure!(expect_status(unread().await?, 200).await?["data"]["count"] == 2);
    let first = expect_status(list().await?, 200).await?;
    ensure!(first["data"]["total"] == 2, "{first}");
    ensure!(cache_status(&unread().await?) == "HIT" && cache_status(&list().await?) == "HIT");
    let id = first["data"]["data"][0]["id"]
        .as_i64()
        .context("message id")?;
    let read = system
        .edge(Method::PUT, &format!("/api/users/self/messages/{id}/read"))
        .header("token", &token)
        .send()
        .await?;
    expect_status(read, 200).await?;
    ensure!(
        expect_status(unread().await?, 200).await?["data"]["count"] == 1,
        "stale unread count after a read"
    );
    ensure!(expect_status(list().await?, 200).await?["data"]["total"] == 1);
    let all = system
        .edge(Method::PUT, "/api/users/self/messages/read_all")
        .header("token", &token)
        .send()
        .await?;
    expect_status(all, 200).await?;
    ensure!(expect_status(unread().await?, 200).await?["data"]["count"] == 0);
    Ok(())
}

async fn public_reads_are_cached_by_url(system: Arc<System>) -> anyhow::Result<()> {
    let first = system
        .edge(Method::GET, "/api/response_code?b=2&a=1")
        .send()
        .await?;
    ensure!(cache_status(&first) == "MISS", "{}", cache_status(&first));
    let body = expect_status(first, 200).await?;
    ensure!(body["data"]["20001"] == "操作成功");
    let second = system
        .edge(Method::GET, "/api/response_code?a=1&b=2")
        .send()
        .await?;
    ensure!(
        cache_status(&second) == "HIT",
        "query order must not matter"
    );
    Ok(())
}

/// Only successes are stored and shared: an unknown goods' comment list is a 404 that no cache
/// may keep, asked of the origin every time; a 200 list says how long it may be kept.
async fn error_answers_on_public_routes_are_neither_stored_nor_public(
    system: Arc<System>,
) -> anyhow::Result<()> {
    for expected in ["MISS", "MISS"] {
        let missing = system
            .edge(Method::GET, "/api/goods/999999/comments")
            .send()
            .await?;
        ensure!(
            cache_status(&missing) == expected,
            "{}",
            cache_status(&missing)
        );
        let cache_control = header_of(&missing, "cache-control").unwrap_or_default();
        ensure!(cache_control == "no-store", "404 told {cache_control:?}");
        print_error(missing, 404, 999).await?;
    }
    let gifts = system
        .edge(
            Method::GET,
            &format!("/api/gifts?page=1&e2e={}", system.fresh_name("g")),
        )
        .send()
        .await?;
    ensure!(
        header_of(&gifts, "cache-control").as_deref() == Some("public, max-age=30"),
        "{:?}",
        header_of(&gifts, "cache-control")
    );
    expect_status(gifts, 200).await?;
    Ok(())
}
