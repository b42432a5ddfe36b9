//! The end-to-end suite: the real origin and the real worker under `wrangler dev`, started once
//! with fresh state, driven through the edge as clients of both documents would. Scenarios run
//! one at a time, in order (the last stops and restarts the origin).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use libtest_mimic::{Arguments, Trial};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use tests::{ADMIN_PASSWORD, Build, CORS_ORIGIN, PASSWORD, System, json_of, str_at};

type Scenario = fn(Arc<System>) -> Pin<Box<dyn Future<Output = anyhow::Result<()>>>>;

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), (|system| Box::pin($name(system))) as Scenario)),*]
    };
}

fn main() -> std::process::ExitCode {
    let mut arguments = Arguments::from_args();
    arguments.test_threads = Some(1);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let list = scenarios![
        store_client_cycle_through_the_edge,
        print_client_cycle_through_the_edge,
        a_user_of_one_document_signs_in_through_the_other,
        refresh_replay_within_grace_then_reuse_revokes_the_session_at_the_edge,
        logout_refuses_the_token_on_a_cached_route_at_once,
        password_reset_revokes_every_session_at_the_edge,
        the_edge_refuses_bad_tokens_without_asking_the_origin,
        every_forged_or_misused_token_is_refused_by_edge_and_origin,
        per_ip_rate_limits_are_exact_at_the_edge,
        read_your_writes_on_a_cached_personal_route,
        read_your_writes_on_addresses_in_both_dialects,
        read_your_writes_on_messages,
        public_reads_are_cached_by_url,
        uploads_go_through_the_edge_and_are_served_from_its_cache,
        a_comment_with_an_upload_is_read_back_through_the_edge,
        an_operator_reset_reaches_the_edge_through_the_outbox,
        admin_points_redemption_and_shipping_are_seen_on_the_next_read,
        a_recharge_paid_by_replayed_callbacks_is_credited_once,
        disabling_a_user_refuses_their_token_at_the_edge_at_once,
        the_invalidation_endpoint_needs_the_shared_secret,
        forwarding_keeps_client_headers_and_strips_ours,
        bodies_over_the_route_limit_stop_at_the_edge,
        unknown_routes_and_wrong_methods_answer_in_the_dialect,
        a_panic_in_one_request_does_not_break_the_next,
        origin_down_is_a_502_in_the_dialect_and_recovers,
        the_api_documents_and_their_docs_page_are_served_through_the_edge,
        an_ipv6_64_shares_one_budget_at_the_edge,
        a_chunked_body_over_a_small_limit_is_refused_before_it_is_read,
        chunked_uploads_stream_through_the_edge_and_stop_at_the_route_limit,
        stored_uploads_keep_their_validators_and_lifetime_and_answer_conditions,
        error_answers_on_public_routes_are_neither_stored_nor_public,
        every_answer_carries_the_id_of_its_own_request,
        the_edges_own_answers_carry_the_request_id_and_405_says_allow,
        permissions_are_not_cached_across_sessions_of_one_user,
        browsers_from_allowed_origins_get_cors_and_others_do_not,
    ];
    let selected = |name: &str| match arguments.filter.as_deref() {
        None => true,
        Some(filter) if arguments.exact => name == filter,
        Some(filter) => name.contains(filter),
    };
    let wanted = !arguments.list && list.iter().any(|(name, _)| selected(name));
    let system = if wanted {
        match runtime.block_on(System::start(Build::Debug)) {
            Ok(system) => Some(Arc::new(system)),
            Err(error) => {
                eprintln!("could not start origin + wrangler dev: {error:#}");
                return std::process::ExitCode::FAILURE;
            }
        }
    } else {
        None
    };
    let trials = list
        .into_iter()
        .map(|(name, scenario)| {
            let system = system.clone();
            let handle = runtime.handle().clone();
            Trial::test(name, move || {
                let system = system.context("system not started")?;
                handle
                    .block_on(scenario(system))
                    .map_err(|error| format!("{error:#}").into())
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&arguments, trials);
    if conclusion.has_failed()
        && let Some(system) = &system
    {
        eprintln!(
            "--- origin log (tail) ---\n{}",
            tail(&system.origin_log(), 40)
        );
    }
    drop(system);
    conclusion.exit_code()
}

/// The OpenAPI documents, the Postman collections and Swagger UI (assets from the binary), through
/// the edge; the admin document on the private listener only. WeChat sign-in answers the 501
/// its document promises (the contract run leaves that operation out, as a 5xx).
async fn the_api_documents_and_their_docs_page_are_served_through_the_edge(
    system: Arc<System>,
) -> anyhow::Result<()> {
    for (name, first_path) in [("store", "/api/auth/login"), ("print", "/api/login")] {
        let document = expect_status(
            system
                .edge(Method::GET, &format!("/api/openapi/{name}.json"))
                .send()
                .await?,
            200,
        )
        .await?;
        anyhow::ensure!(document["openapi"] == "3.1.0", "{name}: {document:.200}");
        anyhow::ensure!(
            document["paths"][first_path]["post"]["responses"]["200"].is_object(),
            "{name} documents {first_path}"
        );
        let collection = expect_status(
            system
                .edge(Method::GET, &format!("/api/openapi/{name}.postman.json"))
                .send()
                .await?,
            200,
        )
        .await?;
        anyhow::ensure!(
            str_at(&collection, "/info/schema")?.contains("collection/v2.1.0"),
            "{name} postman collection"
        );
    }
    print_error(
        system
            .edge(Method::GET, "/api/openapi/nothing.json")
            .send()
            .await?,
        404,
        999,
    )
    .await?;
    let page = system.edge(Method::GET, "/api/docs").send().await?;
    anyhow::ensure!(page.status() == 200, "docs page: {}", page.status());
    let html = page.text().await?;
    anyhow::ensure!(
        html.contains("/api/docs/swagger-ui-bundle.js"),
        "the page loads its assets from /api/docs/: {html:.400}"
    );
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        let response = system
            .edge(Method::GET, &format!("/api/docs/{asset}"))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "{asset}: {}", response.status());
        anyhow::ensure!(
            response.bytes().await?.len() > 10_000,
            "{asset} is the real asset"
        );
    }
    let initializer = system
        .edge(Method::GET, "/api/docs/swagger-initializer.js")
        .send()
        .await?
        .text()
        .await?;
    anyhow::ensure!(
        initializer.contains("/api/openapi/store.json")
            && initializer.contains("/api/openapi/print.json"),
        "the page offers both documents: {initializer:.400}"
    );
    let admin = expect_status(
        system
            .admin(Method::GET, "/admin/openapi.json")
            .send()
            .await?,
        200,
    )
    .await?;
    anyhow::ensure!(admin["paths"]["/admin/users/{id}/points"]["post"].is_object());
    print_error(
        system
            .edge(Method::GET, "/admin/openapi.json")
            .send()
            .await?,
        404,
        999,
    )
    .await?;
    print_error(
        system
            .edge(Method::POST, "/api/wechat/login")
            .send()
            .await?,
        501,
        999,
    )
    .await?;
    Ok(())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The request id an answer carries.
fn request_id(response: &Response) -> Option<String> {
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The edge answered without the origin: the request's id never reached the origin's log.
fn answered_by_edge(system: &System, response: &Response) -> bool {
    request_id(response).is_none_or(|id| !system.origin_saw(&id))
}

fn cache_status(response: &Response) -> String {
    response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

async fn expect_status(response: Response, status: u16) -> anyhow::Result<Value> {
    json_of(response, status).await
}

async fn print_error(response: Response, status: u16, error_code: u64) -> anyhow::Result<Value> {
    let body = json_of(response, status).await?;
    ensure!(
        body["status"] == "error" && body["code"] == status && body["error_code"] == error_code,
        "{body}"
    );
    Ok(body)
}

async fn self_read(system: &System, token: &str) -> anyhow::Result<Response> {
    Ok(system
        .edge(Method::GET, "/api/users/self")
        .header("token", token)
        .send()
        .await?)
}

// -------------------------------------------------------------------------------------------

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

fn database(system: &System) -> anyhow::Result<rusqlite::Connection> {
    Ok(rusqlite::Connection::open(
        system.dir.path().join("data/origin.sqlite3"),
    )?)
}

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

async fn per_ip_rate_limits_are_exact_at_the_edge(system: Arc<System>) -> anyhow::Result<()> {
    let ip = system.fresh_ip();
    for attempt in 1..=10 {
        let response = system
            .edge_from(Method::POST, "/api/captchas?username=limit", &ip)
            .send()
            .await?;
        ensure!(
            response.status() == 201,
            "captcha {attempt} of 10 refused: {}",
            response.status()
        );
    }
    let limited = system
        .edge_from(Method::POST, "/api/captchas?username=limit", &ip)
        .send()
        .await?;
    ensure!(
        answered_by_edge(&system, &limited),
        "the edge should count and refuse"
    );
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .context("Retry-After")?
        .to_str()?
        .parse()?;
    ensure!((1..=60).contains(&retry_after), "{retry_after}");
    let body = json_of(limited, 429).await?;
    ensure!(body["code"] == 40001, "{body}");
    let other = system
        .edge_from(
            Method::POST,
            "/api/captchas?username=limit",
            &system.fresh_ip(),
        )
        .send()
        .await?;
    ensure!(other.status() == 201);

    let sms_ip = system.fresh_ip();
    let send = |phone: String| {
        system
            .edge_from(Method::POST, "/api/sms", &sms_ip)
            .json(&json!({ "phone": phone, "is_register": true }))
            .send()
    };
    expect_status(send(system.fresh_phone()).await?, 201).await?;
    let limited = send(system.fresh_phone()).await?;
    ensure!(answered_by_edge(&system, &limited) && limited.headers().contains_key("retry-after"));
    print_error(limited, 429, 999).await?;
    let mail = system
        .edge_from(Method::POST, "/api/mail", &sms_ip)
        .json(&json!({ "email": format!("{}@example.com", system.fresh_name("m")), "is_register": true }))
        .send()
        .await?;
    expect_status(mail, 201)
        .await
        .context("mail has its own limit")?;
    Ok(())
}

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

fn png(size: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.resize(size, seed);
    bytes
}

async fn upload_images(
    system: &System,
    token: &str,
    images: Vec<Vec<u8>>,
) -> anyhow::Result<Response> {
    let mut form = reqwest::multipart::Form::new();
    for (index, bytes) in images.into_iter().enumerate() {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(format!("{index}.png"));
        form = form.part("images[]", part);
    }
    Ok(system
        .edge(Method::POST, "/api/images")
        .header("token", token)
        .multipart(form)
        .send()
        .await?)
}

async fn uploads_go_through_the_edge_and_are_served_from_its_cache(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    // Two parts, one of 3 MiB: more than a JSON body may be, so the edge streams it.
    let (small, large) = (png(100, 1), png(3 * 1024 * 1024, 2));
    let response = upload_images(&system, &token, vec![small.clone(), large.clone()]).await?;
    let body = expect_status(response, 201).await?;
    for (index, bytes) in [small, large].iter().enumerate() {
        let src = str_at(&body, &format!("/data/{index}/src"))?;
        let first = system.edge(Method::GET, &src).send().await?;
        ensure!(first.status() == 200, "{src}: {}", first.status());
        ensure!(first.headers()["content-type"] == "image/png");
        ensure!(first.headers().contains_key("etag"));
        ensure!(
            first.bytes().await?.as_ref() == bytes.as_slice(),
            "bytes differ"
        );
        let second = system.edge(Method::GET, &src).send().await?;
        ensure!(cache_status(&second) == "HIT", "{}", cache_status(&second));
        ensure!(
            second.bytes().await?.as_ref() == bytes.as_slice(),
            "cached bytes differ"
        );
    }
    // A part over 5 MiB is refused by the origin's per-part cap, in the print dialect.
    let over = upload_images(&system, &token, vec![png(5 * 1024 * 1024 + 1, 3)]).await?;
    print_error(over, 413, 999).await?;
    let unknown = system
        .edge(Method::GET, &format!("/api/storage/{}.png", "0".repeat(64)))
        .send()
        .await?;
    print_error(unknown, 404, 999).await?;
    Ok(())
}

async fn a_comment_with_an_upload_is_read_back_through_the_edge(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    let goods_id = {
        let db = database(&system)?;
        db.execute(
            "INSERT INTO goods (name, price_cents, created_at) VALUES ('帆布袋', 1999, 1)",
            [],
        )?;
        db.last_insert_rowid()
    };
    let mine = || {
        system
            .edge(Method::GET, "/api/users/self/comments")
            .header("token", &token)
            .send()
    };
    ensure!(expect_status(mine().await?, 200).await?["data"]["total"] == 0);
    ensure!(cache_status(&mine().await?) == "HIT");
    let uploaded =
        expect_status(upload_images(&system, &token, vec![png(64, 4)]).await?, 201).await?;
    let image_id = uploaded["data"][0]["id"].as_i64().context("image id")?;
    let created = system
        .edge(Method::POST, "/api/comments")
        .header("token", &token)
        .json(&json!({
            "goods_id": goods_id, "goods_comment": "好", "service_comment": "快",
            "images": [image_id], "describe_grade": 5, "seller_grade": 5,
            "logistics_grade": 5, "is_anonymous": true,
        }))
        .send()
        .await?;
    expect_status(created, 201).await?;
    let after = expect_status(mine().await?, 200).await?;
    ensure!(after["data"]["total"] == 1, "stale comment list: {after}");
    ensure!(after["data"]["data"][0]["images"][0]["id"] == image_id);
    let public = system
        .edge(Method::GET, &format!("/api/goods/{goods_id}/comments"))
        .send()
        .await?;
    let public = expect_status(public, 200).await?;
    let row = &public["data"]["data"][0];
    ensure!(
        row["is_anonymous"] == true && row.get("user").is_none(),
        "{row}"
    );
    let again = system
        .edge(Method::GET, &format!("/api/goods/{goods_id}/comments"))
        .send()
        .await?;
    ensure!(
        cache_status(&again) == "HIT",
        "public comments are edge-cached by URL"
    );
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

async fn admin_send(
    system: &System,
    method: Method,
    path: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let token = system.admin_token().await?;
    let response = system
        .admin(method, path)
        .header("token", token)
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    ensure!(
        (200..300).contains(&status),
        "{path}: {status} {}",
        response.text().await?
    );
    Ok(response.json().await?)
}

async fn personal_read(system: &System, token: &str, path: &str) -> anyhow::Result<Response> {
    Ok(system
        .edge(Method::GET, path)
        .header("token", token)
        .send()
        .await?)
}

/// A print user through the edge: `(token, id)`.
async fn print_user(system: &System) -> anyhow::Result<(String, i64)> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    let me = expect_status(self_read(system, &token).await?, 200).await?;
    Ok((token, me["data"]["id"].as_i64().context("id")?))
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

fn sandbox_form(
    system: &System,
    order_no: &str,
    amount: &str,
    trade_no: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    use hmac::Mac;
    let secret =
        std::fs::read_to_string(system.dir.path().join("data/secrets/pay_sandbox_secret"))?;
    let mut fields = vec![
        ("amount".to_owned(), amount.to_owned()),
        ("order_no".to_owned(), order_no.to_owned()),
        ("trade_no".to_owned(), trade_no.to_owned()),
    ];
    let message = fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.trim().as_bytes())?;
    mac.update(message.as_bytes());
    fields.push(("sign".into(), hex::encode(mac.finalize().into_bytes())));
    Ok(fields)
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

async fn the_invalidation_endpoint_needs_the_shared_secret(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let instructions = json!([{ "op": "bump", "user": 424242 }]);
    let unsigned = system
        .edge(Method::POST, "/__edge/invalidate")
        .json(&instructions)
        .send()
        .await?;
    print_error(unsigned, 403, 999).await?;
    let forged = system
        .edge(Method::POST, "/__edge/invalidate")
        .header("x-edge-secret", "guess")
        .json(&instructions)
        .send()
        .await?;
    print_error(forged, 403, 999).await?;
    let garbage = system
        .edge(Method::POST, "/__edge/invalidate")
        .header("x-edge-secret", &system.edge_secret)
        .body("{not json")
        .send()
        .await?;
    print_error(garbage, 400, 999).await?;
    let accepted = system
        .edge(Method::POST, "/__edge/invalidate")
        .header("x-edge-secret", &system.edge_secret)
        .json(&instructions)
        .send()
        .await?;
    let body = expect_status(accepted, 200).await?;
    ensure!(body["data"]["applied"] == 1, "{body}");
    Ok(())
}

async fn forwarding_keeps_client_headers_and_strips_ours(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let echoed = system
        .edge(Method::GET, "/api/users/self")
        .header("x-request-id", "e2e-trace-1")
        .send()
        .await?;
    // The edge refused (no token) itself, with the client's id; a forwarded request keeps it too.
    ensure!(echoed.status() == 401 && answered_by_edge(&system, &echoed));
    ensure!(request_id(&echoed).as_deref() == Some("e2e-trace-1"));
    let forwarded = system
        .edge(Method::POST, "/api/login")
        .header("x-request-id", "e2e-trace-2")
        .header("x-edge-secret", "forged-by-a-client")
        .header("x-client-ip", "10.9.9.9")
        .json(&json!({ "username": "nobody-here", "password": "whatever-pass" }))
        .send()
        .await?;
    ensure!(
        forwarded
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            == Some("e2e-trace-2")
    );
    // The forged secret was replaced by the real one: the origin answered in earnest.
    print_error(forwarded, 400, 20000).await?;
    let username = system.fresh_name("hdr");
    let token = str_at(&system.register_store(&username).await?, "/access_token")?;
    let logout = system
        .edge(Method::DELETE, "/api/auth/logout")
        .bearer_auth(&token)
        .send()
        .await?;
    ensure!(
        !logout.headers().contains_key("x-edge-invalidate"),
        "edge instructions must not reach clients"
    );
    Ok(())
}

async fn bodies_over_the_route_limit_stop_at_the_edge(system: Arc<System>) -> anyhow::Result<()> {
    let big = json!({ "username": "x".repeat(70 * 1024), "password": "y" }).to_string();
    let print = system
        .edge(Method::POST, "/api/login")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await?;
    ensure!(answered_by_edge(&system, &print));
    print_error(print, 413, 999).await?;
    let store = system
        .edge(Method::POST, "/api/auth/login")
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await?;
    ensure!(answered_by_edge(&system, &store));
    ensure!(json_of(store, 413).await?["code"] == 10001);
    Ok(())
}

async fn unknown_routes_and_wrong_methods_answer_in_the_dialect(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let store = system.edge(Method::GET, "/api/auth/nowhere").send().await?;
    ensure!(json_of(store, 404).await?["code"] == 40004);
    print_error(
        system.edge(Method::GET, "/api/nowhere").send().await?,
        404,
        999,
    )
    .await?;
    let method = system.edge(Method::PATCH, "/api/auth/login").send().await?;
    ensure!(json_of(method, 405).await?["code"] == 40001);
    print_error(
        system.edge(Method::DELETE, "/api/login").send().await?,
        405,
        999,
    )
    .await?;
    Ok(())
}

async fn a_panic_in_one_request_does_not_break_the_next(system: Arc<System>) -> anyhow::Result<()> {
    let panicked = system.edge(Method::GET, "/__edge/panic").send().await?;
    ensure!(panicked.status().is_server_error(), "{}", panicked.status());
    let after = system
        .edge(Method::GET, "/api/response_code")
        .send()
        .await?;
    expect_status(after, 200).await?;
    // Durable Objects and verification still work in the fresh instance.
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    expect_status(self_read(&system, &token).await?, 200).await?;
    Ok(())
}

async fn origin_down_is_a_502_in_the_dialect_and_recovers(
    system: Arc<System>,
) -> anyhow::Result<()> {
    system.stop_origin();
    let started = Instant::now();
    let print = system
        .edge(Method::POST, "/api/login")
        .json(&json!({ "username": "a", "password": "b" }))
        .send()
        .await?;
    let print_has_an_id = request_id(&print).is_some_and(|id| is_request_id(&id));
    print_error(print, 502, 999).await?;
    let store = system.edge(Method::POST, "/api/auth/login").send().await?;
    ensure!(json_of(store, 502).await?["code"] == 50001);
    ensure!(
        started.elapsed() < Duration::from_secs(10),
        "an unreachable origin must not hang requests"
    );
    system.start_origin().await?;
    ensure!(print_has_an_id, "the edge's 502 carries the request id");
    let phone = system.fresh_phone();
    system
        .register_print(&phone)
        .await
        .context("after the origin came back")?;
    Ok(())
}

// -- Edge hardening ---------------------------------------------------------------------------

/// SPEC §6: an IPv6 address counts as its /64. Ten captchas from ten addresses of one /64 spend
/// the network's budget (10/60), the eleventh from yet another address of it is refused by the
/// edge; the next /64 of the same /48 is another client.
async fn an_ipv6_64_shares_one_budget_at_the_edge(system: Arc<System>) -> anyhow::Result<()> {
    let network = system.fresh_network();
    for host in 1..=10 {
        let address = format!("{network}:{host:x}:0:0:{host:x}");
        let response = system
            .edge_from(Method::POST, "/api/captchas?username=sixtyfour", &address)
            .send()
            .await?;
        ensure!(
            response.status() == 201,
            "captcha {host} of 10 from {address}: {}",
            response.status()
        );
    }
    let sibling = format!("{network}:ffff:ffff:ffff:fffe");
    let limited = system
        .edge_from(Method::POST, "/api/captchas?username=sixtyfour", &sibling)
        .send()
        .await?;
    ensure!(
        answered_by_edge(&system, &limited),
        "the edge should count the /64 and refuse {sibling} itself ({})",
        limited.status()
    );
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .context("Retry-After")?
        .to_str()?
        .parse()?;
    ensure!((1..=60).contains(&retry_after), "{retry_after}");
    ensure!(json_of(limited, 429).await?["code"] == 40001);
    let (prefix, _) = network.rsplit_once(':').context("network prefix")?;
    let next_64 = format!("{prefix}:1::1");
    let other = system
        .edge_from(Method::POST, "/api/captchas?username=sixtyfour", &next_64)
        .send()
        .await?;
    ensure!(other.status() == 201, "{next_64}: {}", other.status());
    Ok(())
}

/// A request body without a length, produced lazily in 64 KiB chunks: `first` bytes at once,
/// then a pause, then the rest unless the answer has come (`answered`). `produced` counts what
/// the client handed to the connection. The pause lets an early answer reach the client while
/// it is not writing: a server that stops reading may reset the connection, and a client in the
/// middle of a write then sees only the reset.
struct LazyBody {
    first: u64,
    rest: u64,
    chunk: bytes::Bytes,
    pause: std::sync::Mutex<Pin<Box<tokio::time::Sleep>>>,
    answered: Arc<std::sync::atomic::AtomicBool>,
    produced: Arc<std::sync::atomic::AtomicU64>,
}

impl http_body::Body for LazyBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        use std::sync::atomic::Ordering::SeqCst;
        use std::task::Poll;
        let left = if self.first > 0 {
            &mut self.first
        } else {
            if self.rest == 0 || self.answered.load(SeqCst) {
                return Poll::Ready(None);
            }
            if self
                .pause
                .lock()
                .unwrap()
                .as_mut()
                .poll(context)
                .is_pending()
            {
                return Poll::Pending;
            }
            if self.answered.load(SeqCst) {
                return Poll::Ready(None);
            }
            &mut self.rest
        };
        let length = (*left).min(64 * 1024);
        *left -= length;
        let data = self.chunk.slice(..length as usize);
        self.produced.fetch_add(length, SeqCst);
        Poll::Ready(Some(Ok(http_body::Frame::data(data))))
    }
}

/// A lazy chunked body (see [`LazyBody`]) of `total` bytes, `first` of them before a pause.
struct Lazy {
    body: reqwest::Body,
    answered: Arc<std::sync::atomic::AtomicBool>,
    produced: Arc<std::sync::atomic::AtomicU64>,
}

fn lazy_body(total: u64, first: u64, pause: Duration) -> Lazy {
    let answered = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let produced = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let body = LazyBody {
        first: first.min(total),
        rest: total - first.min(total),
        chunk: bytes::Bytes::from(vec![b'x'; 64 * 1024]),
        pause: std::sync::Mutex::new(Box::pin(tokio::time::sleep(pause))),
        answered: answered.clone(),
        produced: produced.clone(),
    };
    Lazy {
        body: reqwest::Body::wrap(body),
        answered,
        produced,
    }
}

/// `bytes` sent chunked (no `Content-Length`), in pieces of 16 KiB.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    struct Pieces(bytes::Bytes);
    impl http_body::Body for Pieces {
        type Data = bytes::Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _context: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>>
        {
            if self.0.is_empty() {
                return std::task::Poll::Ready(None);
            }
            let length = self.0.len().min(16 * 1024);
            let piece = self.0.split_to(length);
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(piece))))
        }
    }
    reqwest::Body::wrap(Pieces(bytes::Bytes::from(bytes)))
}

/// SPEC §5: bodies are counted as they stream, chunked ones included. A 512 MiB chunked body
/// to a 64 KiB route: the client sends 192 KiB and pauses for 5 s before the rest; the edge's
/// 413 arrives during the pause, so the rest is never sent (an edge that reads bodies whole
/// answers only after all 512 MiB).
async fn a_chunked_body_over_a_small_limit_is_refused_before_it_is_read(
    system: Arc<System>,
) -> anyhow::Result<()> {
    const TOTAL: u64 = 512 * 1024 * 1024;
    const PAUSE: Duration = Duration::from_secs(5);
    for path in ["/api/login", "/api/auth/login"] {
        // A connection of its own: one the server stopped reading is not reused.
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let lazy = lazy_body(TOTAL, 192 * 1024, PAUSE);
        let started = Instant::now();
        let sent = client
            .post(format!("{}{path}", system.edge))
            .header("cf-connecting-ip", system.fresh_ip())
            .header("content-type", "application/json")
            .body(lazy.body)
            .send();
        let response = tokio::time::timeout(Duration::from_secs(30), sent).await;
        lazy.answered
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let response = response
            .with_context(|| format!("{path}: no answer within 30 s"))?
            .with_context(|| format!("{path}: no answer"))?;
        let elapsed = started.elapsed();
        let produced = lazy.produced.load(std::sync::atomic::Ordering::SeqCst);
        ensure!(
            produced < TOTAL / 8 && elapsed < PAUSE,
            "{path}: the answer came after {elapsed:?}, when {produced} of {TOTAL} bytes were sent"
        );
        ensure!(
            answered_by_edge(&system, &response),
            "{path}: the origin was asked"
        );
        let body = json_of(response, 413).await?;
        let refused = match path {
            "/api/login" => body["code"] == 413 && body["error_code"] == 999,
            _ => body["code"] == 10001,
        };
        ensure!(refused, "{path}: {body}");
    }
    Ok(())
}

/// A multipart body of image parts named `images[]`.
fn multipart(boundary: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"images[]\"; \
                 filename=\"{index}.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// Uploads without `Content-Length` stream through the edge, counted: a small PNG is stored
/// (201) and served back; a request over the route's 40 MiB, in parts the origin would take
/// one by one, is refused with 413 at the limit and stores nothing.
async fn chunked_uploads_stream_through_the_edge_and_stop_at_the_route_limit(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let (token, user_id) = print_user(&system).await?;
    let boundary = "e2e-chunked-7f3a9c";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let image = png(40 * 1024, 9);
    let response = system
        .edge(Method::POST, "/api/images")
        .header("token", &token)
        .header("content-type", &content_type)
        .body(chunked(multipart(boundary, std::slice::from_ref(&image))))
        .send()
        .await?;
    let body = expect_status(response, 201).await?;
    let src = str_at(&body, "/data/0/src")?;
    let served = system.edge(Method::GET, &src).send().await?;
    ensure!(served.status() == 200, "{src}: {}", served.status());
    ensure!(served.bytes().await?.as_ref() == image.as_slice());

    // Ten parts of 4 MiB: each under the 5 MiB part cap, together (with the multipart framing)
    // just over the 40 MiB route limit, so the limit is passed by the last piece the client sends.
    let parts: Vec<Vec<u8>> = (0..10).map(|seed| png(4 * 1024 * 1024, seed)).collect();
    let over = system
        .edge(Method::POST, "/api/images")
        .header("token", &token)
        .header("content-type", &content_type)
        .body(chunked(multipart(boundary, &parts)))
        .send()
        .await?;
    print_error(over, 413, 999).await?;
    let stored: i64 = database(&system)?.query_row(
        "SELECT COUNT(*) FROM uploads WHERE user_id = ?1",
        [user_id],
        |row| row.get(0),
    )?;
    ensure!(stored == 1, "the refused request stored uploads: {stored}");
    Ok(())
}

fn header_of(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// An upload is immutable: through the edge it keeps the origin's `ETag` and year-long
/// `Cache-Control`, and `If-None-Match` gets a bodiless 304 from the edge, on a hit and on a
/// miss (which still stores the full answer for the next client).
async fn stored_uploads_keep_their_validators_and_lifetime_and_answer_conditions(
    system: Arc<System>,
) -> anyhow::Result<()> {
    use sha2::Digest;
    const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    let (token, _) = print_user(&system).await?;
    let (first, second) = (png(2048, 21), png(2048, 22));
    let uploaded = expect_status(
        upload_images(&system, &token, vec![first.clone(), second.clone()]).await?,
        201,
    )
    .await?;
    let etag_of = |bytes: &[u8]| format!("\"{}\"", hex::encode(sha2::Sha256::digest(bytes)));

    let src = str_at(&uploaded, "/data/0/src")?;
    let etag = etag_of(&first);
    for expected in ["MISS", "HIT"] {
        let plain = system.edge(Method::GET, &src).send().await?;
        ensure!(plain.status() == 200 && cache_status(&plain) == expected);
        ensure!(
            header_of(&plain, "cache-control").as_deref() == Some(IMMUTABLE),
            "{expected}: {:?}",
            header_of(&plain, "cache-control")
        );
        ensure!(header_of(&plain, "etag").as_deref() == Some(etag.as_str()));
        ensure!(plain.bytes().await?.as_ref() == first.as_slice());
    }
    for condition in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
    ] {
        let revalidated = system
            .edge(Method::GET, &src)
            .header("if-none-match", &condition)
            .send()
            .await?;
        ensure!(
            revalidated.status() == 304 && cache_status(&revalidated) == "HIT",
            "{condition}: {} {}",
            revalidated.status(),
            cache_status(&revalidated)
        );
        ensure!(header_of(&revalidated, "etag").as_deref() == Some(etag.as_str()));
        ensure!(header_of(&revalidated, "cache-control").as_deref() == Some(IMMUTABLE));
        ensure!(revalidated.bytes().await?.is_empty(), "a 304 has no body");
    }
    let changed = system
        .edge(Method::GET, &src)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await?;
    ensure!(changed.status() == 200 && changed.bytes().await?.as_ref() == first.as_slice());

    // A conditional request that misses the edge's cache: 304 too, and the entry is stored whole.
    let src = str_at(&uploaded, "/data/1/src")?;
    let etag = etag_of(&second);
    let missed = system
        .edge(Method::GET, &src)
        .header("if-none-match", &etag)
        .send()
        .await?;
    ensure!(
        missed.status() == 304 && cache_status(&missed) == "MISS",
        "{} {}",
        missed.status(),
        cache_status(&missed)
    );
    ensure!(header_of(&missed, "etag").as_deref() == Some(etag.as_str()));
    ensure!(missed.bytes().await?.is_empty());
    let after = system.edge(Method::GET, &src).send().await?;
    ensure!(after.status() == 200 && cache_status(&after) == "HIT");
    ensure!(after.bytes().await?.as_ref() == second.as_slice());
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

fn is_request_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Every answer carries the id of its own request: a hit does not repeat the id of the request
/// that filled the cache, a client's own well-formed id is echoed on its own answer only (and
/// reaches the origin), and a malformed one is replaced.
async fn every_answer_carries_the_id_of_its_own_request(system: Arc<System>) -> anyhow::Result<()> {
    let path = format!("/api/response_code?e2e={}", system.fresh_name("rid"));
    let miss = system.edge(Method::GET, &path).send().await?;
    let hit = system.edge(Method::GET, &path).send().await?;
    ensure!(cache_status(&miss) == "MISS" && cache_status(&hit) == "HIT");
    let (miss_id, hit_id) = (
        request_id(&miss).context("miss id")?,
        request_id(&hit).context("hit id")?,
    );
    ensure!(is_request_id(&miss_id) && is_request_id(&hit_id));
    ensure!(
        miss_id != hit_id,
        "the hit repeated the miss's id {miss_id}"
    );
    ensure!(system.origin_saw(&miss_id), "the origin got another id");
    ensure!(!system.origin_saw(&hit_id));

    let path = format!("/api/response_code?e2e={}", system.fresh_name("rid"));
    let own = system
        .edge(Method::GET, &path)
        .header("x-request-id", "abc-12345678")
        .send()
        .await?;
    ensure!(cache_status(&own) == "MISS");
    ensure!(request_id(&own).as_deref() == Some("abc-12345678"));
    ensure!(system.origin_saw("abc-12345678"));
    let other = system.edge(Method::GET, &path).send().await?;
    ensure!(cache_status(&other) == "HIT");
    let other_id = request_id(&other).context("hit id")?;
    ensure!(
        other_id != "abc-12345678" && is_request_id(&other_id),
        "another client's hit shows {other_id}"
    );

    for malformed in ["<script>", "short", "x y z 1234567"] {
        let replaced = system
            .edge(Method::GET, &path)
            .header("x-request-id", malformed)
            .send()
            .await?;
        let id = request_id(&replaced).context("id")?;
        ensure!(
            id != malformed && is_request_id(&id),
            "{malformed:?} → {id:?}"
        );
    }
    let forwarded = system
        .edge(Method::POST, "/api/login")
        .header("x-request-id", "<script>")
        .json(&json!({ "username": "nobody-at-all", "password": "whatever-pass" }))
        .send()
        .await?;
    let id = request_id(&forwarded).context("id")?;
    ensure!(is_request_id(&id) && system.origin_saw(&id));
    print_error(forwarded, 400, 20000).await?;
    Ok(())
}

/// The edge's own refusals (401, 404, 405, 413, 429) carry a request id too, and 405 lists the
/// path's methods in `Allow`.
async fn the_edges_own_answers_carry_the_request_id_and_405_says_allow(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let big = json!({ "username": "x".repeat(70 * 1024), "password": "y" }).to_string();
    let refusals = [
        (system.edge(Method::GET, "/api/users/self"), 401),
        (system.edge(Method::GET, "/api/nowhere"), 404),
        (system.edge(Method::DELETE, "/api/login"), 405),
        (
            system
                .edge(Method::POST, "/api/login")
                .header("content-type", "application/json")
                .body(big),
            413,
        ),
    ];
    for (request, status) in refusals {
        let response = request.send().await?;
        ensure!(
            response.status() == status,
            "{status}: {}",
            response.status()
        );
        let id = request_id(&response).with_context(|| format!("{status} without an id"))?;
        ensure!(is_request_id(&id) && answered_by_edge(&system, &response));
    }
    let ip = system.fresh_ip();
    let sms = |phone: String| {
        system
            .edge_from(Method::POST, "/api/sms", &ip)
            .json(&json!({ "phone": phone, "is_register": true }))
            .send()
    };
    expect_status(sms(system.fresh_phone()).await?, 201).await?;
    let limited = sms(system.fresh_phone()).await?;
    ensure!(limited.status() == 429 && answered_by_edge(&system, &limited));
    ensure!(request_id(&limited).is_some_and(|id| is_request_id(&id)));

    for (method, path, allow) in [
        (Method::DELETE, "/api/login", "POST, OPTIONS"),
        (
            Method::PATCH,
            "/api/user_addresses",
            "GET, HEAD, POST, OPTIONS",
        ),
        (
            Method::POST,
            "/api/user_addresses/7",
            "PUT, DELETE, OPTIONS",
        ),
    ] {
        let response = system.edge(method.clone(), path).send().await?;
        ensure!(response.status() == 405, "{method} {path}");
        ensure!(
            header_of(&response, "allow").as_deref() == Some(allow),
            "{method} {path}: {:?}",
            header_of(&response, "allow")
        );
    }
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

/// CORS for the allowed browser origin only: its preflight is answered by the edge (204, the
/// exact origin echoed, no credentials), another origin's gets no CORS headers, and answers,
/// cache hits included, carry the CORS headers of their own request (never stored).
async fn browsers_from_allowed_origins_get_cors_and_others_do_not(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let preflight = |origin: &'static str| {
        system
            .edge(Method::OPTIONS, "/api/login")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "token, content-type")
            .send()
    };
    let allowed = preflight(CORS_ORIGIN).await?;
    ensure!(allowed.status() == 204, "{}", allowed.status());
    ensure!(answered_by_edge(&system, &allowed));
    let has = |response: &Response, name: &str, part: &str| {
        header_of(response, name).is_some_and(|value| value.to_ascii_lowercase().contains(part))
    };
    ensure!(header_of(&allowed, "access-control-allow-origin").as_deref() == Some(CORS_ORIGIN));
    ensure!(has(&allowed, "access-control-allow-methods", "post"));
    ensure!(has(&allowed, "access-control-allow-headers", "token"));
    ensure!(has(
        &allowed,
        "access-control-allow-headers",
        "content-type"
    ));
    ensure!(header_of(&allowed, "access-control-max-age").as_deref() == Some("600"));
    ensure!(has(&allowed, "vary", "origin"));
    ensure!(header_of(&allowed, "allow").as_deref() == Some("POST, OPTIONS"));
    ensure!(
        !allowed
            .headers()
            .contains_key("access-control-allow-credentials")
    );

    let other = preflight("https://evil.example.test").await?;
    ensure!(other.status() == 204);
    ensure!(!other.headers().contains_key("access-control-allow-origin"));
    ensure!(!other.headers().contains_key("access-control-allow-methods"));
    ensure!(has(&other, "vary", "origin"));
    let unknown = system
        .edge(Method::OPTIONS, "/api/nowhere")
        .header("origin", CORS_ORIGIN)
        .send()
        .await?;
    ensure!(unknown.status() == 404);

    let path = format!("/api/response_code?e2e={}", system.fresh_name("cors"));
    let from = |origin: Option<&'static str>| {
        let request = system.edge(Method::GET, &path);
        match origin {
            Some(origin) => request.header("origin", origin),
            None => request,
        }
        .send()
    };
    for expected in ["MISS", "HIT"] {
        let response = from(Some(CORS_ORIGIN)).await?;
        ensure!(cache_status(&response) == expected && response.status() == 200);
        ensure!(
            header_of(&response, "access-control-allow-origin").as_deref() == Some(CORS_ORIGIN),
            "{expected}"
        );
        ensure!(has(&response, "vary", "origin"), "{expected}");
        ensure!(has(
            &response,
            "access-control-expose-headers",
            "x-request-id"
        ));
        ensure!(
            !response
                .headers()
                .contains_key("access-control-allow-credentials")
        );
    }
    let stranger = from(Some("https://evil.example.test")).await?;
    ensure!(cache_status(&stranger) == "HIT");
    ensure!(
        !stranger
            .headers()
            .contains_key("access-control-allow-origin")
    );
    ensure!(has(&stranger, "vary", "origin"));
    let plain = from(None).await?;
    ensure!(cache_status(&plain) == "HIT");
    ensure!(!plain.headers().contains_key("access-control-allow-origin"));
    ensure!(!has(&plain, "vary", "origin"));

    // The edge's own refusals are readable by the allowed origin too (a 401 sends it to sign in).
    let refused = system
        .edge(Method::GET, "/api/users/self")
        .header("origin", CORS_ORIGIN)
        .send()
        .await?;
    ensure!(refused.status() == 401);
    ensure!(header_of(&refused, "access-control-allow-origin").as_deref() == Some(CORS_ORIGIN));
    Ok(())
}
