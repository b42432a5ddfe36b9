//! Sessions and tokens at the edge: refresh, logout, password resets, disabled users and operator
//! resets revoke at once; forged or misused tokens are refused by the edge and by the origin;
//! permissions are read per session.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{ADMIN_PASSWORD, PASSWORD, System, json_of, str_at};

use crate::Named;
use crate::support::{
    admin_send, answered_by_edge, cache_status, database, expect_status, print_error, print_user,
    self_read,
};

pub const SCENARIOS: &[Named] = scenarios![
    refresh_replay_within_grace_then_reuse_revokes_the_session_at_the_edge,
    logout_refuses_the_token_on_a_cached_route_at_once,
    password_reset_revokes_every_session_at_the_edge,
    the_edge_refuses_bad_tokens_without_asking_the_origin,
    every_forged_or_misused_token_is_refused_by_edge_and_origin,
    an_operator_reset_reaches_the_edge_through_the_outbox,
    disabling_a_user_refuses_their_token_at_the_edge_at_once,
    permissions_are_not_cached_across_sessions_of_one_user,
    wechat_signs_in_through_the_edge_and_binds_to_a_member,
];

async fn refresh_replay_within_grace_then_reuse_revokes_the_session_at_the_edge(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let tokens = system.register_print(&system.fresh_phone()).await?;
    let refresh_token = str_at(&tokens, "/refresh_token")?;
    let refresh = || {
        system
            .edge(Method::POST, "/api/refresh")
            .header("token", &refresh_token)
            .send()
    };
    let first = expect_status(refresh().await?, 200).await?;
    let replay = expect_status(refresh().await?, 200).await?;
    ensure!(
        first["data"] == replay["data"],
        "a replay within 10 s must get the same successor"
    );
    let successor = str_at(&first, "/data/access_token")?;
    expect_status(self_read(&system, &successor).await?, 200).await?;
    let cached = self_read(&system, &successor).await?;
    ensure!(
        cache_status(&cached) == "HIT",
        "expected a cached read, got {}",
        cache_status(&cached)
    );

    // Age the spend past the grace period instead of sleeping 10 s.
    database(&system)?.execute(
        "UPDATE session_tokens SET spent_at = spent_at - 11 WHERE spent_at IS NOT NULL",
        [],
    )?;
    print_error(refresh().await?, 401, 999).await?;
    let refused = self_read(&system, &successor).await?;
    ensure!(
        answered_by_edge(&system, &refused),
        "the revoked session must be refused at the edge, cache or not"
    );
    print_error(refused, 401, 999).await?;
    Ok(())
}

async fn logout_refuses_the_token_on_a_cached_route_at_once(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let username = system.fresh_name("bye");
    let registered = system.register_store(&username).await?;
    let token = str_at(&registered, "/access_token")?;
    let me = || {
        system
            .edge(Method::GET, "/api/auth/me")
            .bearer_auth(&token)
            .send()
    };
    expect_status(me().await?, 200).await?;
    let cached = me().await?;
    ensure!(
        cache_status(&cached) == "HIT",
        "expected HIT, got {}",
        cache_status(&cached)
    );
    expect_status(
        system
            .edge(Method::DELETE, "/api/auth/logout")
            .bearer_auth(&token)
            .send()
            .await?,
        200,
    )
    .await?;
    let refused = me().await?;
    ensure!(answered_by_edge(&system, &refused));
    ensure!(json_of(refused, 401).await? == json!({ "message": "Unauthenticated." }));
    Ok(())
}

async fn password_reset_revokes_every_session_at_the_edge(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let phone = system.fresh_phone();
    let first = str_at(&system.register_print(&phone).await?, "/access_token")?;
    let login = system
        .edge(Method::POST, "/api/login")
        .json(&json!({ "username": phone, "password": PASSWORD }))
        .send()
        .await?;
    let second = str_at(&expect_status(login, 200).await?, "/data/access_token")?;
    for token in [&first, &second] {
        expect_status(self_read(&system, token).await?, 200).await?;
    }
    // The per-phone limit allows one code a minute: age the first code instead of waiting.
    database(&system)?.execute(
        "UPDATE verification_codes SET created_at = created_at - 120",
        [],
    )?;
    let (verification_token, code) = system.sms_code(&phone, false).await?;
    let reset = system
        .edge(Method::PUT, "/api/repassword")
        .json(&json!({ "verification_token": verification_token, "verification_code": code, "password": "brand-new-pass" }))
        .send()
        .await?;
    expect_status(reset, 200).await?;
    for token in [&first, &second] {
        let refused = self_read(&system, token).await?;
        ensure!(answered_by_edge(&system, &refused));
        print_error(refused, 401, 999).await?;
    }
    Ok(())
}

async fn the_edge_refuses_bad_tokens_without_asking_the_origin(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let tokens = system.register_print(&system.fresh_phone()).await?;
    let keys = origin::tokens::Keys::load_or_create(&system.dir.path().join("data"))?;
    let now = origin::clock::now();
    let generation = |issued_at: i64, expires_at: i64| origin::db::sessions::Generation {
        sid: "0".repeat(32),
        user_id: 1,
        admin: false,
        generation: 1,
        access_jti: "a".repeat(32),
        refresh_jti: "b".repeat(32),
        issued_at,
        access_expires_at: expires_at,
        refresh_expires_at: expires_at,
    };
    let (expired, _) = keys.sign_generation(&generation(now - 10_000, now - 100))?;
    let (foreign, _) =
        origin::tokens::Keys::from_seed(&[9; 32])?.sign_generation(&generation(now, now + 600))?;
    let good = str_at(&tokens, "/access_token")?;
    let mut tampered = good.clone();
    let last = tampered.pop().context("empty token")?;
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let unsigned = {
        let payload = good.split('.').nth(1).context("payload")?;
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.")
    };
    let cases = [
        ("garbage", "not-a-token".to_owned()),
        ("alg none", unsigned),
        ("expired", expired),
        (
            "refresh token as access",
            str_at(&tokens, "/refresh_token")?,
        ),
        ("signed by another key", foreign),
        ("tampered signature", tampered),
    ];
    for (what, token) in cases {
        let response = self_read(&system, &token).await?;
        ensure!(
            answered_by_edge(&system, &response),
            "{what}: the origin was asked"
        );
        print_error(response, 401, 999)
            .await
            .with_context(|| what)?;
        let store = system
            .edge(Method::GET, "/api/auth/me")
            .bearer_auth(&token)
            .send()
            .await?;
        ensure!(
            answered_by_edge(&system, &store),
            "{what}: the origin was asked (store)"
        );
        ensure!(
            json_of(store, 401).await? == json!({ "message": "Unauthenticated." }),
            "{what}"
        );
    }
    let missing = system.edge(Method::GET, "/api/users/self").send().await?;
    ensure!(answered_by_edge(&system, &missing));
    print_error(missing, 401, 999).await?;
    Ok(())
}

/// The negative JWT suite: one valid token forged by hand (accepted, so the forging is right),
/// then the same token with exactly one thing wrong — refused by the edge without asking the
/// origin, and by the origin itself when asked directly.
async fn every_forged_or_misused_token_is_refused_by_edge_and_origin(
    system: Arc<System>,
) -> anyhow::Result<()> {
    use tests::forge;
    let tokens = system.register_print(&system.fresh_phone()).await?;
    let real = str_at(&tokens, "/access_token")?;
    let base = forge::claims_of(&real)?;
    let seed = forge::seed(&system.dir.path().join("data"))?;
    let jwks: Value = system
        .edge(Method::GET, "/.well-known/jwks.json")
        .send()
        .await?
        .json()
        .await?;
    let kid = str_at(&jwks, "/keys/0/kid")?;
    let x = str_at(&jwks, "/keys/0/x")?;
    let public = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&x)?
    };
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": kid });
    let ours = || forge::eddsa(seed);
    let with = |field: &str, value: Value| {
        let mut claims = base.clone();
        claims[field] = value;
        forge::token(&header, &claims, ours())
    };
    let now = origin::clock::now();

    let control = forge::token(&header, &base, ours());
    let at_origin = |token: String| {
        system
            .client
            .get(format!("{}/api/users/self", system.origin_public))
            .header(shared::headers::EDGE_SECRET, &system.edge_secret)
            .header("token", token)
            .send()
    };
    expect_status(self_read(&system, &control).await?, 200).await?;
    expect_status(at_origin(control.clone()).await?, 200).await?;

    let tampered = {
        let mut claims = base.clone();
        claims["sub"] = json!("999999");
        let forged = forge::token(&header, &claims, ours());
        let signature = control.rsplit('.').next().context("signature")?;
        let (unsigned, _) = forged.rsplit_once('.').context("token")?;
        format!("{unsigned}.{signature}")
    };
    let cases = [
        (
            "alg none",
            forge::token(&json!({ "alg": "none", "typ": "JWT" }), &base, |_| {
                Vec::new()
            }),
        ),
        (
            "alg swap: HS256 keyed by the public key",
            forge::token(
                &json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
                &base,
                forge::hs256(public.clone()),
            ),
        ),
        (
            "alg swap: HS256 keyed by the JWK's x",
            forge::token(
                &json!({ "alg": "HS256", "typ": "JWT", "kid": kid }),
                &base,
                forge::hs256(x.clone().into_bytes()),
            ),
        ),
        (
            "signed by another key",
            forge::token(&header, &base, forge::eddsa([9; 32])),
        ),
        (
            "unknown kid",
            forge::token(
                &json!({ "alg": "EdDSA", "typ": "JWT", "kid": "0000000000000000" }),
                &base,
                ours(),
            ),
        ),
        ("expired", {
            let mut claims = base.clone();
            claims["iat"] = json!(now - 7200);
            claims["exp"] = json!(now - 3600);
            forge::token(&header, &claims, ours())
        }),
        ("not yet valid (issued in the future)", {
            let mut claims = base.clone();
            claims["iat"] = json!(now + 3600);
            claims["exp"] = json!(now + 7200);
            forge::token(&header, &claims, ours())
        }),
        ("wrong aud", with("aud", json!("someone-else"))),
        ("wrong iss", with("iss", json!("https://evil.example"))),
        (
            "refresh token as access",
            str_at(&tokens, "/refresh_token")?,
        ),
        (
            "typ refresh on the access token's claims",
            with("typ", json!("refresh")),
        ),
        ("tampered claims", tampered),
        ("garbage", "a.b.c".to_owned()),
    ];
    for (what, token) in cases {
        let edge = self_read(&system, &token).await?;
        ensure!(
            answered_by_edge(&system, &edge),
            "{what}: the edge asked the origin"
        );
        print_error(edge, 401, 999)
            .await
            .with_context(|| format!("edge: {what}"))?;
        let origin = at_origin(token).await?;
        print_error(origin, 401, 999)
            .await
            .with_context(|| format!("origin: {what}"))?;
    }
    Ok(())
}

async fn an_operator_reset_reaches_the_edge_through_the_outbox(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let account = system.fresh_name("ops");
    system.create_admin(&account, ADMIN_PASSWORD)?;
    let login = system
        .edge(Method::POST, "/api/login")
        .json(&json!({ "username": account, "password": ADMIN_PASSWORD, "is_admin": true }))
        .send()
        .await?;
    let token = str_at(&expect_status(login, 200).await?, "/data/access_token")?;
    expect_status(self_read(&system, &token).await?, 200).await?;
    ensure!(cache_status(&self_read(&system, &token).await?) == "HIT");
    // A password reset from the command line does not pass through the edge: the origin's
    // outbox must deliver the revocation.
    system.create_admin(&account, "another-password")?;
    let started = Instant::now();
    loop {
        let response = self_read(&system, &token).await?;
        if response.status() == 401 {
            ensure!(answered_by_edge(&system, &response));
            break;
        }
        ensure!(
            started.elapsed() < Duration::from_secs(15),
            "the edge never heard of the revocation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn disabling_a_user_refuses_their_token_at_the_edge_at_once(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let (token, user_id) = print_user(&system).await?;
    ensure!(cache_status(&self_read(&system, &token).await?) == "HIT");
    admin_send(
        &system,
        Method::PUT,
        &format!("/admin/users/{user_id}"),
        json!({ "disabled": true }),
    )
    .await?;
    let refused = self_read(&system, &token).await?;
    ensure!(
        answered_by_edge(&system, &refused),
        "the edge should refuse it itself"
    );
    print_error(refused, 401, 999).await?;
    Ok(())
}

/// What `users/self/permissions` answers depends on the session (an `is_admin` sign-in), not
/// only on the user: it is not cached, so the same admin signed in without `is_admin` is
/// refused even right after an admin session read it.
async fn permissions_are_not_cached_across_sessions_of_one_user(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let account = system.fresh_name("perm");
    system.create_admin(&account, ADMIN_PASSWORD)?;
    let sign_in = |is_admin: bool| {
        system
            .edge(Method::POST, "/api/login")
            .json(&json!({ "username": account, "password": ADMIN_PASSWORD, "is_admin": is_admin }))
            .send()
    };
    let admin = str_at(
        &expect_status(sign_in(true).await?, 200).await?,
        "/data/access_token",
    )?;
    let plain = str_at(
        &expect_status(sign_in(false).await?, 200).await?,
        "/data/access_token",
    )?;
    let read = |token: String| {
        system
            .edge(Method::GET, "/api/users/self/permissions")
            .header("token", token)
            .send()
    };
    for _ in 0..2 {
        let granted = read(admin.clone()).await?;
        ensure!(
            !granted.headers().contains_key("x-cache"),
            "it went through the cache"
        );
        let names = expect_status(granted, 200).await?;
        ensure!(
            names["data"].as_array().is_some_and(|a| a.len() == 15),
            "{names}"
        );
    }
    let refused = read(plain).await?;
    ensure!(!refused.headers().contains_key("x-cache"));
    print_error(refused, 403, 10003).await?;
    Ok(())
}

/// WeChat sign-in as the app and the mini program use it, through the edge, with the origin
/// talking to the WeChat stand-in: the first code makes the account, the mini program's code of
/// the same WeChat user (same unionid) finds it, a spent code is refused, and a member binds and
/// unbinds another WeChat user.
async fn wechat_signs_in_through_the_edge_and_binds_to_a_member(
    system: Arc<System>,
) -> anyhow::Result<()> {
    use tests::wechat::{APP_ID, MINI_APP_ID};
    let wechat = &system.wechat;
    let person = wechat.person("端到端", true);
    let code = wechat.code(APP_ID, &person);
    let login = |body: Value| {
        system
            .edge(Method::POST, "/api/wechat/login")
            .json(&body)
            .send()
    };
    let tokens = expect_status(login(json!({ "code": code })).await?, 200).await?;
    let token = str_at(&tokens, "/data/access_token")?;
    let me = expect_status(self_read(&system, &token).await?, 200).await?;
    ensure!(
        me["data"]["nickname"] == "端到端" && me["data"]["is_bind_wx"] == true,
        "{me}"
    );
    let mini_code = wechat.code(MINI_APP_ID, &person);
    let mini = login(json!({ "code": mini_code, "type": "mini" })).await?;
    let mini_token = str_at(&expect_status(mini, 200).await?, "/data/access_token")?;
    let again = expect_status(self_read(&system, &mini_token).await?, 200).await?;
    ensure!(again["data"]["id"] == me["data"]["id"], "{again} vs {me}");
    print_error(login(json!({ "code": code })).await?, 400, 999).await?;

    let (member, member_id) = print_user(&system).await?;
    let other = wechat.person("会员的微信", true);
    let bind = system
        .edge(Method::POST, "/api/login_modes")
        .header("token", &member)
        .json(&json!({ "wechat_code": wechat.code(APP_ID, &other) }))
        .send()
        .await?;
    expect_status(bind, 200).await?;
    // The bind told the edge: the member's cached profile shows WeChat at once.
    let profile = expect_status(self_read(&system, &member).await?, 200).await?;
    ensure!(profile["data"]["is_bind_wx"] == true, "{profile}");
    let by_wechat = login(json!({ "code": wechat.code(APP_ID, &other) })).await?;
    let by_wechat = str_at(&expect_status(by_wechat, 200).await?, "/data/access_token")?;
    let found = expect_status(self_read(&system, &by_wechat).await?, 200).await?;
    ensure!(found["data"]["id"] == member_id, "{found}");
    let unbind = system
        .edge(Method::DELETE, "/api/login_modes")
        .header("token", &member)
        .json(&json!({ "type": "wechat", "password": PASSWORD }))
        .send()
        .await?;
    expect_status(unbind, 200).await?;
    let profile = expect_status(self_read(&system, &member).await?, 200).await?;
    ensure!(profile["data"]["is_bind_wx"] == false, "{profile}");
    Ok(())
}
