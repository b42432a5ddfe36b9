//! The web console (back-office issue) at the HTML level: sign-in by cookie, the menu and every
//! page refused without its permission, CSRF (origin and form token) on every state-changing
//! request, the adjustment's confirmation step, and sessions that end.

use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE, X_FRAME_OPTIONS};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, json_of};

/// A console client: no redirects followed, so each answer is seen as it is.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn host_origin(app: &TestApp) -> String {
    app.admin.clone()
}

/// Signs in on the console's form; returns the `Cookie` header value.
pub(crate) async fn sign_in(app: &TestApp, username: &str, password: &str) -> String {
    let response = try_sign_in(app, username, password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "sign-in refused");
    let set_cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/console"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http: {set_cookie}");
    set_cookie.split(';').next().unwrap().to_owned()
}

async fn try_sign_in(app: &TestApp, username: &str, password: &str) -> Response {
    browser()
        .post(format!("{}/console/login", app.admin))
        .header("Origin", host_origin(app))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let response = browser()
        .get(format!("{}{}", app.admin, path))
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// The form token rendered into a page's forms.
pub(crate) fn form_token(page: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = page.find(marker).expect("a form token on the page") + marker.len();
    page[start..start + 64].to_owned()
}

pub(crate) async fn post(
    app: &TestApp,
    cookie: &str,
    origin: Option<&str>,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String) {
    // Each post is a fresh form unless the test names its one-time key.
    let once = origin::ids::random_hex(16);
    let mut fields = form.to_vec();
    if !form.iter().any(|(name, _)| *name == "_once") {
        fields.push(("_once", &once));
    }
    let mut request = browser()
        .post(format!("{}{}", app.admin, path))
        .header("Cookie", cookie)
        .form(&fields);
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

fn points_of(app: &TestApp, user_id: i64) -> i64 {
    app.db()
        .query_row(
            "SELECT coalesce((SELECT surplus FROM points_records WHERE user_id = ?1
                              ORDER BY id DESC LIMIT 1), 0)",
            [user_id],
            |row| row.get(0),
        )
        .unwrap()
}

/// An operator holding one role with `permissions`; returns (console cookie, user id).
pub(crate) async fn operator_with(
    app: &TestApp,
    role: &str,
    permissions: &[&str],
) -> (String, i64) {
    let (_, user_id) = app.member().await;
    let phone: String = app
        .db()
        .query_row("SELECT phone FROM users WHERE id = ?1", [user_id], |row| {
            row.get(0)
        })
        .unwrap();
    let root = app.admin_token().await;
    let saved = app
        .admin_call(
            &root,
            Method::POST,
            "/admin/roles",
            json!({ "name": role, "permissions": permissions }),
        )
        .await;
    json_of(saved, 201).await;
    let assigned = app
        .admin_call(
            &root,
            Method::PUT,
            &format!("/admin/users/{user_id}"),
            json!({ "roles": [role] }),
        )
        .await;
    json_of(assigned, 200).await;
    (sign_in(app, &phone, PASSWORD).await, user_id)
}

/// Signs root in on the console. Fixtures that register members reset root's password (and
/// so end its sessions): call this after them.
pub(crate) async fn root_cookie(app: &TestApp) -> String {
    app.admin_token().await;
    sign_in(app, "root", PASSWORD).await
}

#[tokio::test]
async fn pages_carry_a_strict_policy_and_refuse_framing() {
    let app = TestApp::spawn().await;
    let response = browser()
        .get(format!("{}/console/login", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let policy = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(response.headers()[X_FRAME_OPTIONS], "DENY");
    let page = response.text().await.unwrap();
    assert!(!page.contains("<script>"), "no inline script");
    assert!(!page.contains("style="), "no inline style");
    // htmx is served from the binary.
    let htmx = browser()
        .get(format!("{}/console/assets/htmx-2.0.8.min.js", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(htmx.status(), StatusCode::OK);
    assert!(htmx.text().await.unwrap().contains("htmx"));
}

#[tokio::test]
async fn only_holders_of_a_role_sign_in_and_the_answers_say_why() {
    let app = TestApp::spawn().await;
    app.admin_token().await;
    let wrong = try_sign_in(&app, "root", "wrong-password-1").await;
    assert!(wrong.status().is_client_error());
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong.text().await.unwrap().contains("login-error"));
    // A member without a role is an unknown name at the back office's door.
    let (_, user_id) = app.member().await;
    let phone: String = app
        .db()
        .query_row("SELECT phone FROM users WHERE id = ?1", [user_id], |row| {
            row.get(0)
        })
        .unwrap();
    let member = try_sign_in(&app, &phone, PASSWORD).await;
    assert!(member.status().is_client_error());
    assert!(member.headers().get(SET_COOKIE).is_none());
    // A sign-in posted from another site is refused before the password is looked at.
    let cross = browser()
        .post(format!("{}/console/login", app.admin))
        .header("Origin", "https://evil.example")
        .form(&[("username", "root"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(cross.headers().get(SET_COOKIE).is_none());
    // Without a cookie every page sends the browser to the sign-in.
    let anonymous = browser()
        .get(format!("{}/console/users", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()[LOCATION], "/console/login");
}

#[tokio::test]
async fn the_menu_and_every_page_follow_the_operators_permissions() {
    let app = TestApp::spawn().await;
    let (cookie, _) = operator_with(&app, "发货员", &["配送管理"]).await;
    let (_, customer) = app.member().await;
    let (status, home) = get(&app, &cookie, "/console/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("data-menu=\"shipping\""), "{home}");
    for hidden in [
        "users",
        "recharges",
        "audit",
        "deliveries",
        "coupons",
        "messages",
        "invitations",
        "roles",
    ] {
        assert!(
            !home.contains(&format!("data-menu=\"{hidden}\"")),
            "{hidden} shown to a delivery-only operator"
        );
    }
    for path in [
        "/console/users".to_owned(),
        format!("/console/users/{customer}"),
        format!("/console/users/{customer}/points"),
        format!("/console/users/{customer}/balance"),
        "/console/audit".to_owned(),
        "/console/deliveries".to_owned(),
        "/console/recharge_orders".to_owned(),
        "/console/coupons".to_owned(),
        "/console/messages".to_owned(),
        "/console/invitations".to_owned(),
        "/console/roles".to_owned(),
    ] {
        let (status, page) = get(&app, &cookie, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.contains("没有权限"), "{path}");
    }
    // A write is refused by its permission before its form is read, and changes nothing.
    let token = form_token(&home);
    let origin = host_origin(&app);
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        &format!("/console/users/{customer}/points/confirm"),
        &[
            ("_csrf", &token),
            ("number", "500"),
            ("describe", "x"),
            ("seen", "0"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(points_of(&app, customer), 0);
}

#[tokio::test]
async fn a_points_adjustment_is_previewed_confirmed_ledgered_and_audited() {
    let app = TestApp::spawn().await;
    let (_, customer) = app.member().await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (status, form) = get(&app, &cookie, &format!("/console/users/{customer}/points")).await;
    assert_eq!(status, StatusCode::OK);
    let token = form_token(&form);
    // The preview shows the figure it leads to and writes nothing.
    let (status, preview) = post(
        &app,
        &cookie,
        Some(&origin),
        &format!("/console/users/{customer}/points"),
        &[
            ("_csrf", &token),
            ("number", "120"),
            ("describe", "客服补偿"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(preview.contains("id=\"result\">120<"), "{preview}");
    assert_eq!(points_of(&app, customer), 0);
    // Confirming posts it through the domain: ledger entry and audit entry.
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        &format!("/console/users/{customer}/points/confirm"),
        &[
            ("_csrf", &token),
            ("number", "120"),
            ("describe", "客服补偿"),
            ("seen", "0"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(points_of(&app, customer), 120);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'user.points' AND target_user = {customer}
               AND actor = 'root' AND json_extract(detail, '$.describe') = '客服补偿'"
        )),
        1
    );
    // A debit past zero is refused at the preview, with the figure it would reach.
    let (status, refused) = post(
        &app,
        &cookie,
        Some(&origin),
        &format!("/console/users/{customer}/points"),
        &[("_csrf", &token), ("number", "-121"), ("describe", "扣减")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("将为负数"), "{refused}");
    assert!(!refused.contains("confirm-adjust"));
    // A confirmation made against a figure that has since moved is shown again, not posted.
    let (status, stale) = post(
        &app,
        &cookie,
        Some(&origin),
        &format!("/console/users/{customer}/points/confirm"),
        &[
            ("_csrf", &token),
            ("number", "-100"),
            ("describe", "扣减"),
            ("seen", "0"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    assert_eq!(points_of(&app, customer), 120);
    // The reason is required, by the admin API's own rule.
    let (status, missing) = post(
        &app,
        &cookie,
        Some(&origin),
        &format!("/console/users/{customer}/points"),
        &[("_csrf", &token), ("number", "5")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(missing.contains("describe"), "{missing}");
}

#[tokio::test]
async fn a_cross_site_post_without_the_origin_or_the_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, customer) = app.member().await;
    let cookie = root_cookie(&app).await;
    let (_, home) = get(&app, &cookie, "/console/").await;
    let token = form_token(&home);
    let origin = host_origin(&app);
    let path = format!("/console/users/{customer}/points/confirm");
    let body = |csrf: &'static str| {
        vec![
            ("_csrf", csrf),
            ("number", "900"),
            ("describe", "csrf"),
            ("seen", "0"),
        ]
    };
    let leaked: &'static str = Box::leak(token.clone().into_boxed_str());
    // Another site's form: its own origin, even with a stolen token.
    let (status, page) = post(
        &app,
        &cookie,
        Some("https://evil.example"),
        &path,
        &body(leaked),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("请求被拒绝"));
    // No origin at all (not a browser page).
    let (status, _) = post(&app, &cookie, None, &path, &body(leaked)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The right origin without the token, or with another one.
    let (status, _) = post(&app, &cookie, Some(&origin), &path, &body("")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = "0".repeat(64);
    let other: &'static str = Box::leak(other.into_boxed_str());
    let (status, _) = post(&app, &cookie, Some(&origin), &path, &body(other)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(points_of(&app, customer), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'user.points'"),
        0
    );
    // The same request from the console's own page goes through.
    let (status, _) = post(&app, &cookie, Some(&origin), &path, &body(leaked)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(points_of(&app, customer), 900);
}

#[tokio::test]
async fn signing_out_or_being_disabled_ends_the_console_session() {
    let app = TestApp::spawn().await;
    let (operator, operator_id) = operator_with(&app, "客服", &["用户管理"]).await;
    let root = root_cookie(&app).await;
    let (status, _) = get(&app, &operator, "/console/users").await;
    assert_eq!(status, StatusCode::OK);
    // Disabled by root: the operator's very next request is sent to the sign-in.
    let (_, page) = get(&app, &root, &format!("/console/users/{operator_id}")).await;
    let token = form_token(&page);
    let origin = host_origin(&app);
    let (status, _) = post(
        &app,
        &root,
        Some(&origin),
        &format!("/console/users/{operator_id}/status"),
        &[("_csrf", &token), ("disabled", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = get(&app, &operator, "/console/users").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Signing out ends root's own: the old cookie no longer opens anything.
    let (status, _) = post(
        &app,
        &root,
        Some(&origin),
        "/console/logout",
        &[("_csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = get(&app, &root, "/console/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn boundaries_hold_in_the_console_as_in_the_api() {
    let app = TestApp::spawn().await;
    let (cookie, operator_id) = operator_with(&app, "用户管理员", &["用户管理"]).await;
    let origin = host_origin(&app);
    let (_, home) = get(&app, &cookie, "/console/").await;
    let token = form_token(&home);
    // An operator cannot give themselves (or anyone) a role whose permissions they lack.
    let (_, customer) = app.member().await;
    let (status, page) = post(
        &app,
        &cookie,
        Some(&origin),
        &format!("/console/users/{customer}/roles"),
        &[("_csrf", &token), ("roles[]", "super-admin")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    // Nor disable the super-admin.
    let root_id: i64 = app
        .db()
        .query_row("SELECT id FROM users WHERE account = 'root'", [], |row| {
            row.get(0)
        })
        .unwrap();
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        &format!("/console/users/{root_id}/status"),
        &[("_csrf", &token), ("disabled", "true")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count(&format!("SELECT disabled FROM users WHERE id = {root_id}")),
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM user_roles WHERE user_id = {customer}"
        )),
        0
    );
    let _ = operator_id;
}

#[tokio::test]
async fn a_coupon_goes_to_exactly_the_audience_confirmed() {
    let app = TestApp::spawn().await;
    let (_, first) = app.member().await;
    let (_, second) = app.member().await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (status, form) = get(&app, &cookie, "/console/coupons").await;
    assert_eq!(status, StatusCode::OK);
    let token = form_token(&form);
    let phone_prefix = "1380000";
    let coupon = |extra: Vec<(&'static str, String)>| {
        let mut fields = vec![
            ("_csrf", token.clone()),
            ("q", phone_prefix.to_owned()),
            ("name", "新客券".to_owned()),
            ("type", "抵扣".to_owned()),
            ("quota", "5".to_owned()),
            ("finished_at", "2999-01-01 00:00:00".to_owned()),
        ];
        fields.extend(extra);
        fields
    };
    let send = |fields: Vec<(&'static str, String)>, path: &'static str| {
        let cookie = cookie.clone();
        let origin = origin.clone();
        let app = &app;
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(app, &cookie, Some(&origin), path, &pairs).await
        }
    };
    // The preview counts the audience (the members, not root) and grants nothing.
    let (status, preview) = send(coupon(vec![]), "/console/coupons").await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(preview.contains("id=\"recipients\">2<"), "{preview}");
    assert_eq!(app.count("SELECT count(*) FROM coupons"), 0);
    // A 满减 coupon without its threshold is refused by the API's own rule.
    let (status, refused) = send(
        coupon(vec![])
            .into_iter()
            .map(|(k, v)| {
                if k == "type" {
                    (k, "满减".to_owned())
                } else {
                    (k, v)
                }
            })
            .collect(),
        "/console/coupons",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("satisfy"), "{refused}");
    // Confirmed for an audience that has since grown: refused, nothing granted.
    let (status, _) = send(
        coupon(vec![("expected", "1".to_owned())]),
        "/console/coupons/confirm",
    )
    .await;
    assert!(status.is_client_error());
    assert_eq!(app.count("SELECT count(*) FROM coupons"), 0);
    // Confirmed as seen: one coupon each, one audit entry.
    let (status, done) = send(
        coupon(vec![("expected", "2".to_owned())]),
        "/console/coupons/confirm",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert!(done.contains("id=\"granted\""), "{done}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM coupons WHERE user_id IN ({first}, {second})"
        )),
        2
    );
    assert_eq!(app.count("SELECT count(*) FROM coupons"), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'coupons.grant'"),
        1
    );
}

#[tokio::test]
async fn a_coupon_only_operator_cannot_probe_who_is_registered_by_the_audience_count() {
    // The preview's count for `q` = a phone said whether that phone has an account.
    let app = TestApp::spawn().await;
    let (_, _member) = app.member().await;
    let (cookie, _) = operator_with(&app, "券", &["优惠券管理"]).await;
    let origin = host_origin(&app);
    let (_, form) = get(&app, &cookie, "/console/coupons").await;
    let token = form_token(&form);
    let coupon = |q: &'static str| {
        vec![
            ("_csrf", token.clone()),
            ("q", q.to_owned()),
            ("name", "新客券".to_owned()),
            ("type", "抵扣".to_owned()),
            ("quota", "5".to_owned()),
            ("finished_at", "2999-01-01 00:00:00".to_owned()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>, path: &'static str| {
        let (cookie, origin, app) = (cookie.clone(), origin.clone(), &app);
        async move {
            let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(app, &cookie, Some(&origin), path, &pairs).await
        }
    };
    for path in ["/console/coupons", "/console/coupons/confirm"] {
        let mut fields = coupon("13800000001");
        fields.push(("expected", "1".to_owned()));
        let (status, page) = send(fields, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            page.contains("用户管理") && !page.contains("id=\"recipients\""),
            "{page}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM coupons"), 0);
    // Every active user is still theirs to reach.
    let (status, preview) = send(coupon(""), "/console/coupons").await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert!(preview.contains("id=\"recipients\">"), "{preview}");
}

#[tokio::test]
async fn messages_invitations_and_roles_go_through_the_apis_rules() {
    let app = TestApp::spawn().await;
    let (_, customer) = app.member().await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (_, page) = get(&app, &cookie, "/console/messages").await;
    let token = form_token(&page);
    let customer_id = customer.to_string();
    let (status, sent) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/messages",
        &[
            ("_csrf", &token),
            ("user_id", &customer_id),
            ("title", "通知"),
            ("body", "你好"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM messages WHERE user_id = {customer}"
        )),
        1
    );
    // Neither a user nor everyone: the API's own refusal.
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/messages",
        &[("_csrf", &token), ("title", "通知"), ("body", "你好")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, created) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/invitations",
        &[("_csrf", &token), ("uses", "3"), ("expires_in_days", "")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert!(created.contains("id=\"invitation-code\""));
    assert_eq!(
        app.count("SELECT count(*) FROM invitation_codes WHERE uses_total = 3"),
        1
    );
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/roles",
        &[
            ("_csrf", &token),
            ("name", "财务"),
            ("permissions[]", "财务管理"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, roles) = get(&app, &cookie, "/console/roles").await;
    assert!(roles.contains("财务管理"));
}

#[tokio::test]
async fn console_sign_ins_share_the_admin_listeners_per_network_budget() {
    let app = TestApp::spawn_with(|config| {
        config.rate_rules.set(
            shared::policy::Limit::SignIn,
            shared::policy::RateRule {
                max: 3,
                window_secs: 600,
            },
        );
    })
    .await;
    app.admin_token().await;
    // Spraying many names from one network: each name has its own lockout counter, the
    // network budget stops the spray (and is the same one `POST /admin/login` spends).
    for name in ["a1", "a2"] {
        let response = try_sign_in(&app, name, "wrong-password-1").await;
        assert!(response.status().is_client_error());
        assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let api = app
        .admin_request(Method::POST, "/admin/login")
        .form(&[("username", "a3"), ("password", "wrong-password-1")])
        .send()
        .await
        .unwrap();
    assert_ne!(api.status(), StatusCode::TOO_MANY_REQUESTS);
    let limited = try_sign_in(&app, "root", PASSWORD).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().get(SET_COOKIE).is_none());
    // When to try again, as `POST /admin/login` says it.
    let retry_after = crate::support::retry_after(&limited);
    assert!((1..=600).contains(&retry_after), "{retry_after}");
}

/// A gift and two orders of `user` for it: `G1` (older) and `G2`, both waiting to ship.
fn seed_gift_orders(app: &TestApp, user: i64) {
    let db = app.db();
    db.execute(
        "INSERT INTO gifts (id, name, accumulate_points, stock, created_at) VALUES (1, '杯子', 10, 5, 0)",
        [],
    )
    .unwrap();
    for (id, created) in [(1, 1_000), (2, 2_000)] {
        db.execute(
            "INSERT INTO gift_orders (id, order_no, user_id, gift_id, accumulate_points, ship_name,
                 ship_phone, ship_province, ship_city, ship_county, ship_detail, created_at)
             VALUES (?1, 'G' || ?1, ?2, 1, 10, '张三', '13800001111', '广东省', '深圳市', '南山区',
                     '科技园 1 号', ?3)",
            rusqlite::params![id, user, created],
        )
        .unwrap();
    }
}

#[tokio::test]
async fn a_delivery_operator_ships_from_the_queue_and_exports_it() {
    let app = TestApp::spawn().await;
    let (cookie, _) = operator_with(&app, "发货员", &["配送管理"]).await;
    let (_, customer) = app.member().await;
    seed_gift_orders(&app, customer);
    let origin = host_origin(&app);
    let (status, queue) = get(&app, &cookie, "/console/gift_orders").await;
    assert_eq!(status, StatusCode::OK);
    let (first, second) = (queue.find(">G1<").unwrap(), queue.find(">G2<").unwrap());
    assert!(first < second, "oldest first");
    let token = form_token(&queue);
    let shipped = |id: i64| {
        app.count(&format!(
            "SELECT count(*) FROM gift_orders WHERE id = {id} AND tracking_no IS NOT NULL"
        ))
    };
    // Another site's form cannot ship.
    let fields = [
        ("_csrf", token.as_str()),
        ("express_company", "顺丰"),
        ("tracking_no", "SF100"),
        ("back", "status=1"),
    ];
    let (status, _) = post(
        &app,
        &cookie,
        Some("https://evil.example"),
        "/console/gift_orders/1/ship",
        &fields,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(shipped(1), 0);
    // From the console: shipped, audited, and back to the queue with its filters.
    let response = browser()
        .post(format!("{}/console/gift_orders/1/ship", app.admin))
        .header("Cookie", &cookie)
        .header("Origin", &origin)
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[LOCATION],
        "/console/gift_orders?status=1"
    );
    assert_eq!(shipped(1), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift_order.ship'"),
        1
    );
    // Shipping twice is the API's refusal, not a second entry.
    let (status, page) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/gift_orders/1/ship",
        &fields,
    )
    .await;
    assert!(status.is_client_error(), "{page}");
    assert!(page.contains("已发货"), "{page}");
    // A way back that is not filters cannot send the browser elsewhere.
    let response = browser()
        .post(format!("{}/console/gift_orders/2/ship", app.admin))
        .header("Cookie", &cookie)
        .header("Origin", &origin)
        .form(&[
            ("_csrf", token.as_str()),
            ("express_company", "顺丰"),
            ("tracking_no", "SF101"),
            ("back", "//evil.example/x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[LOCATION], "/console/gift_orders");
    // The export is the filtered queue as CSV, and is audited.
    let response = browser()
        .get(format!("{}/console/gift_orders/export?status=2", app.admin))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    assert!(csv.contains("SF100") && csv.contains("SF101"), "{csv}");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift_orders.export'"),
        1
    );
    // A page of a sibling site (another port, a subdomain: the Strict cookie still goes) that
    // embeds the export would run it and record it in the operator's name: refused, nothing
    // recorded. The console's own link and an address typed in are answered.
    for (site, expected) in [
        ("same-site", StatusCode::FORBIDDEN),
        ("cross-site", StatusCode::FORBIDDEN),
        ("same-origin", StatusCode::OK),
        ("none", StatusCode::OK),
    ] {
        let response = browser()
            .get(format!("{}/console/gift_orders/export?status=2", app.admin))
            .header("Cookie", &cookie)
            .header("Sec-Fetch-Site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{site}");
    }
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift_orders.export'"),
        3
    );
    // The delivery log's read is audited the same way.
    let root = root_cookie(&app).await;
    for (site, expected, recorded) in [
        ("same-site", StatusCode::FORBIDDEN, 0),
        ("same-origin", StatusCode::OK, 1),
    ] {
        let response = browser()
            .get(format!("{}/console/deliveries", app.admin))
            .header("Cookie", &root)
            .header("Sec-Fetch-Site", site)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{site}");
        assert_eq!(
            app.count("SELECT count(*) FROM audit_log WHERE action = 'deliveries.read'"),
            recorded
        );
    }
    // Recharge orders are 财务管理's.
    let (status, _) = get(&app, &cookie, "/console/recharge_orders").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A bad filter is the API's message, not a 500.
    let (status, page) = get(&app, &cookie, "/console/gift_orders?from=2026-13-01").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("from"), "{page}");
}

#[tokio::test]
async fn recharge_orders_are_listed_for_finance_with_the_apis_filters() {
    let app = TestApp::spawn().await;
    let (cookie, _) = operator_with(&app, "财务", &["财务管理"]).await;
    let (_, customer) = app.member().await;
    app.db()
        .execute(
            "INSERT INTO recharge_orders (order_no, user_id, price_cents, pay_type, provider, created_at)
             VALUES ('R100', ?1, 1250, 'alipay', 'sandbox', 1000)",
            [customer],
        )
        .unwrap();
    let (status, page) = get(&app, &cookie, "/console/recharge_orders?status=pending").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("R100") && page.contains("12.50"), "{page}");
    let (status, page) = get(&app, &cookie, "/console/recharge_orders?status=paid").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("R100"));
    let (status, page) = get(&app, &cookie, "/console/recharge_orders?status=bogus").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("status"), "{page}");
    let (status, _) = get(&app, &cookie, "/console/gift_orders").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_unknown_console_address_is_the_consoles_own_404_page() {
    let app = TestApp::spawn().await;
    let response = browser()
        .get(format!("{}/console/nowhere/at/all", app.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(response.headers()[X_FRAME_OPTIONS], "DENY");
    assert!(response.text().await.unwrap().contains("未找到"));
}

#[tokio::test]
async fn a_form_posted_twice_acts_once() {
    let app = TestApp::spawn().await;
    let (_, customer) = app.member().await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (_, form) = get(&app, &cookie, &format!("/console/users/{customer}/points")).await;
    let token = form_token(&form);
    let path = format!("/console/users/{customer}/points/confirm");
    let fields = [
        ("_csrf", token.as_str()),
        ("_once", "0123456789abcdef0123456789abcdef"),
        ("number", "30"),
        ("describe", "补发"),
        ("seen", "0"),
    ];
    let (status, _) = post(&app, &cookie, Some(&origin), &path, &fields).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The same confirmation again (a double click, a reload): refused, credited once. The
    // figure it was confirmed against is 0 again only if nothing else moved it, so make it so.
    app.db()
        .execute(
            "INSERT INTO points_records (user_id, number, surplus, describe, created_at)
             VALUES (?1, -30, 0, 'reset for the test', 0)",
            [customer],
        )
        .unwrap();
    let (status, page) = post(&app, &cookie, Some(&origin), &path, &fields).await;
    assert!(status.is_client_error(), "{page}");
    assert!(page.contains("已经提交过"), "{page}");
    assert_eq!(points_of(&app, customer), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'user.points'"),
        1
    );
    // A message form sent twice reaches its user once.
    let customer_id = customer.to_string();
    let message = [
        ("_csrf", token.as_str()),
        ("_once", "fedcba9876543210fedcba9876543210"),
        ("user_id", customer_id.as_str()),
        ("title", "通知"),
        ("body", "你好"),
    ];
    let (status, _) = post(&app, &cookie, Some(&origin), "/console/messages", &message).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post(&app, &cookie, Some(&origin), "/console/messages", &message).await;
    assert!(status.is_client_error());
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM messages WHERE user_id = {customer}"
        )),
        1
    );
    // A form without its key is refused before anything is done.
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/messages",
        &[
            ("_csrf", token.as_str()),
            ("_once", ""),
            ("user_id", customer_id.as_str()),
            ("title", "通知"),
            ("body", "再次"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_name_nobody_configured_cannot_reach_the_console() {
    // What a DNS-rebinding page sends: its own name, which resolves to the listener.
    let app = TestApp::spawn().await;
    app.admin_token().await;
    let port = app.admin.rsplit(':').next().unwrap().to_owned();
    let rebound = format!("evil.example:{port}");
    let page = browser()
        .get(format!("{}/console/login", app.admin))
        .header("Host", &rebound)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::MISDIRECTED_REQUEST);
    // The refusal is a console page like any other: it may not be framed or cached.
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["cache-control"], "no-store");
    let login = browser()
        .post(format!("{}/console/login", app.admin))
        .header("Host", &rebound)
        .header("Origin", format!("http://{rebound}"))
        .form(&[("username", "root"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::MISDIRECTED_REQUEST);
    assert!(login.headers().get(SET_COOKIE).is_none());
    // `localhost` and IP addresses are answered; a listed name is too.
    let local = browser()
        .get(format!("{}/console/login", app.admin))
        .header("Host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), StatusCode::OK);
    let listed = TestApp::spawn_with(|config| {
        config.admin_hosts = vec!["admin.example.com".into()];
    })
    .await;
    let named = browser()
        .get(format!("{}/console/login", listed.admin))
        .header("Host", "Admin.Example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(named.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_coupon_grant_is_refused_past_its_audience_cap() {
    let app = TestApp::spawn().await;
    app.db()
        .execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10001)
             INSERT INTO users (nickname, created_at) SELECT 'bulk' || i, 0 FROM n;",
        )
        .unwrap();
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (_, form) = get(&app, &cookie, "/console/coupons").await;
    let token = form_token(&form);
    let fields = [
        ("_csrf", token.as_str()),
        ("q", "bulk"),
        ("name", "券"),
        ("type", "抵扣"),
        ("quota", "5"),
        ("finished_at", "2999-01-01 00:00:00"),
    ];
    let (status, page) = post(&app, &cookie, Some(&origin), "/console/coupons", &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("一次最多"), "{page}");
    let mut confirmed = fields.to_vec();
    confirmed.push(("expected", "10001"));
    let (status, page) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/coupons/confirm",
        &confirmed,
    )
    .await;
    assert!(status.is_client_error(), "{page}");
    assert_eq!(app.count("SELECT count(*) FROM coupons"), 0);
}

#[tokio::test]
async fn a_locked_member_is_shown_locked_and_unlocked_from_their_page() {
    let app = TestApp::spawn().await;
    let (_, member) = app.member().await;
    app.db()
        .execute(
            "INSERT INTO sign_in_locks (key, until) VALUES (?1, unixepoch() + 900)",
            [format!("u:{member}")],
        )
        .unwrap();
    let (operator, _) = operator_with(&app, "客服", &["用户管理"]).await;
    let path = format!("/console/users/{member}");
    let (_, page) = get(&app, &operator, &path).await;
    assert!(page.contains("密码登录锁定至"), "the lock is shown");
    assert!(page.contains("id=\"unlock\""));
    let token = form_token(&page);
    let origin = host_origin(&app);
    let (status, _) = post(
        &app,
        &operator,
        Some(&origin),
        &format!("{path}/unlock"),
        &[("_csrf", &token)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = get(&app, &operator, &format!("{path}?done=unlocked")).await;
    assert!(page.contains("已解除密码登录锁定") && page.contains("密码登录未锁定"));
    assert_eq!(app.count("SELECT count(*) FROM sign_in_locks"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'user.unlock'"),
        1
    );
}
