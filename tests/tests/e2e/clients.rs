//! The client cycles of both documents through the edge, and one account used from either.

use std::sync::Arc;

use anyhow::ensure;
use reqwest::Method;
use serde_json::json;
use tests::{PASSWORD, System, json_of, str_at};

use crate::Named;
use crate::support::{answered_by_edge, expect_status, print_error, self_read};

pub const SCENARIOS: &[Named] = scenarios![
    store_client_cycle_through_the_edge,
    print_client_cycle_through_the_edge,
    a_user_of_one_document_signs_in_through_the_other,
];

async fn store_client_cycle_through_the_edge(system: Arc<System>) -> anyhow::Result<()> {
    let username = system.fresh_name("store");
    let registered = system.register_store(&username).await?;
    ensure!(
        registered["user"]["username"] == username.as_str() && registered["token_type"] == "bearer"
    );
    let me = |token: String| {
        system
            .edge(Method::GET, "/api/auth/me")
            .bearer_auth(token)
            .send()
    };
    let body = expect_status(me(str_at(&registered, "/access_token")?).await?, 200).await?;
    ensure!(
        body["code"] == 20001 && body["data"]["username"] == username.as_str(),
        "{body}"
    );

    let login = system
        .edge(
            Method::POST,
            &format!("/api/auth/login?username={username}&password={PASSWORD}"),
        )
        .send()
        .await?;
    let token = str_at(&expect_status(login, 200).await?, "/data/access_token")?;
    expect_status(me(token.clone()).await?, 200).await?;
    let refreshed = system
        .edge(Method::PUT, "/api/auth/refresh")
        .bearer_auth(&token)
        .send()
        .await?;
    ensure!(
        !refreshed.headers().contains_key("x-edge-invalidate"),
        "instructions leaked to the client"
    );
    let new_token = str_at(&expect_status(refreshed, 200).await?, "/data/access_token")?;
    expect_status(me(new_token.clone()).await?, 200).await?;
    // The spent token is refused, on this cached route, by the edge itself.
    let old = me(token).await?;
    ensure!(
        answered_by_edge(&system, &old),
        "the edge should refuse a spent token itself"
    );
    ensure!(json_of(old, 401).await? == json!({ "message": "Unauthenticated." }));

    let logout = system
        .edge(Method::DELETE, "/api/auth/logout")
        .bearer_auth(&new_token)
        .send()
        .await?;
    expect_status(logout, 200).await?;
    ensure!(json_of(me(new_token).await?, 401).await? == json!({ "message": "Unauthenticated." }));
    Ok(())
}

async fn print_client_cycle_through_the_edge(system: Arc<System>) -> anyhow::Result<()> {
    let phone = system.fresh_phone();
    let tokens = system.register_print(&phone).await?;
    ensure!(tokens["access_token_expire"] == 7200, "{tokens}");
    let body = expect_status(
        self_read(&system, &str_at(&tokens, "/access_token")?).await?,
        200,
    )
    .await?;
    ensure!(
        body["status"] == "success" && body["data"]["phone"] == phone.as_str(),
        "{body}"
    );
    ensure!(
        body["data"]["member_level"]["name"] == "普通会员" && body["data"]["balance"] == "0.00",
        "{body}"
    );

    let login = system
        .edge(Method::POST, "/api/login")
        .json(&json!({ "username": phone, "password": PASSWORD }))
        .send()
        .await?;
    let signed_in = expect_status(login, 200).await?;
    let refresh_token = str_at(&signed_in, "/data/refresh_token")?;
    let refreshed = system
        .edge(Method::POST, "/api/refresh")
        .header("token", &refresh_token)
        .send()
        .await?;
    let refreshed = expect_status(refreshed, 200).await?;
    let access = str_at(&refreshed, "/data/access_token")?;
    expect_status(self_read(&system, &access).await?, 200).await?;
    let permissions = system
        .edge(Method::GET, "/api/users/self/permissions")
        .header("token", &access)
        .send()
        .await?;
    print_error(permissions, 403, 10003).await?;
    let admin = system.admin_token().await?;
    let permissions = system
        .edge(Method::GET, "/api/users/self/permissions")
        .header("token", &admin)
        .send()
        .await?;
    let names = expect_status(permissions, 200).await?;
    ensure!(
        names["data"].as_array().map(Vec::len) == Some(15),
        "{names}"
    );
    Ok(())
}

async fn a_user_of_one_document_signs_in_through_the_other(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let username = system.fresh_name("both");
    system.register_store(&username).await?;
    let login = system
        .edge(Method::POST, "/api/login")
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await?;
    let token = str_at(&expect_status(login, 200).await?, "/data/access_token")?;
    let body = expect_status(self_read(&system, &token).await?, 200).await?;
    ensure!(
        body["data"]["account"] == username.as_str() && body["data"]["nickname"] == "E2E",
        "{body}"
    );
    Ok(())
}
