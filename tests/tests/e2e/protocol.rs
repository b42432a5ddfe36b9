//! What the edge adds, strips and answers itself: the API documents, the invalidation endpoint's
//! secret, forwarded headers, unknown routes and methods, request ids, CORS.

use std::sync::Arc;

use anyhow::{Context, ensure};
use reqwest::{Method, Response};
use serde_json::json;
use tests::{CORS_ORIGIN, System, json_of, str_at};

use crate::Named;
use crate::support::{
    answered_by_edge, cache_status, expect_status, header_of, is_request_id, print_error,
    request_id,
};

pub const SCENARIOS: &[Named] = scenarios![
    the_api_documents_and_their_docs_page_are_served_through_the_edge,
    the_invalidation_endpoint_needs_the_shared_secret,
    forwarding_keeps_client_headers_and_strips_ours,
    unknown_routes_and_wrong_methods_answer_in_the_dialect,
    every_answer_carries_the_id_of_its_own_request,
    the_edges_own_answers_carry_the_request_id_and_405_says_allow,
    browsers_from_allowed_origins_get_cors_and_others_do_not,
];

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
