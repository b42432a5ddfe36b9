//! The console's 商品, 礼品 and 数据中心 pages at the HTML level: each refused without its
//! permission (and hidden from the menu), create / edit / retire through the admin API's rules
//! and audit entries, the API's own messages for bad input, CSRF on the forms (the multipart
//! gift form included: nothing stored for a forgery), a gift's image stored as the operator's
//! upload, and the dashboard's figures.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::console::{browser, form_token, get, host_origin, operator_with, post, root_cookie};
use crate::support::{TestApp, json_of, print_address};

fn png(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend(std::iter::repeat_n(seed, 64));
    bytes
}

fn image_part(bytes: Vec<u8>) -> Part {
    Part::bytes(bytes)
        .file_name("cup.png")
        .mime_str("image/png")
        .unwrap()
}

/// A gift form as the browser sends it: the token first, then the fields (with a fresh
/// one-time key unless they name one), then the file.
fn gift_form(csrf: &str, fields: &[(&str, &str)], image: Option<Vec<u8>>) -> Form {
    let mut form = Form::new().text("_csrf", csrf.to_owned());
    if !fields.iter().any(|(name, _)| *name == "_once") {
        form = form.text("_once", origin::ids::random_hex(16));
    }
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    match image {
        Some(bytes) => form.part("image_file", image_part(bytes)),
        // No file chosen: the browser still sends the part, empty and without a name.
        None => form.part(
            "image_file",
            Part::bytes(Vec::new())
                .file_name("")
                .mime_str("application/octet-stream")
                .unwrap(),
        ),
    }
}

async fn post_multipart(
    app: &TestApp,
    cookie: &str,
    origin: Option<&str>,
    path: &str,
    form: Form,
) -> (StatusCode, String) {
    let mut request = browser()
        .post(format!("{}{}", app.admin, path))
        .header("Cookie", cookie)
        .multipart(form);
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Files under the blob store (placed blobs; temporary files of refused requests are gone).
fn stored_files(app: &TestApp) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        entries
            .map(|entry| {
                let path = entry.unwrap().path();
                if path.is_dir() { walk(&path) } else { 1 }
            })
            .sum()
    }
    walk(&app.state.config.storage_dir())
}

/// The message the admin JSON API answers `body` with (400).
async fn api_message(app: &TestApp, method: Method, path: &str, body: Value) -> String {
    let root = app.admin_token().await;
    let refused = json_of(app.admin_call(&root, method, path, body).await, 400).await;
    refused["message"].as_str().unwrap().to_owned()
}

fn root_id(app: &TestApp) -> i64 {
    app.db()
        .query_row("SELECT id FROM users WHERE account = 'root'", [], |row| {
            row.get(0)
        })
        .unwrap()
}

async fn public_gift_ids(app: &TestApp) -> Vec<i64> {
    let listed = json_of(
        app.request(Method::GET, "/api/gifts").send().await.unwrap(),
        200,
    )
    .await;
    listed["data"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|gift| gift["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn catalogue_pages_are_refused_without_their_permission_and_hidden_from_the_menu() {
    let app = TestApp::spawn().await;
    let (shipper, _) = operator_with(&app, "发货员", &["配送管理"]).await;
    let (merchandiser, _) = operator_with(&app, "商品专员", &["商品管理"]).await;
    let (_, home) = get(&app, &shipper, "/console/").await;
    for hidden in ["goods", "gifts", "dashboard"] {
        assert!(
            !home.contains(&format!("data-menu=\"{hidden}\"")),
            "{hidden} shown to a delivery-only operator"
        );
    }
    for path in [
        "/console/goods",
        "/console/gifts",
        "/console/dashboard",
        "/console/dashboard?days=7",
    ] {
        let (status, page) = get(&app, &shipper, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.contains("没有权限"), "{path}");
    }
    // 商品管理 opens goods, and only goods.
    let (_, home) = get(&app, &merchandiser, "/console/").await;
    assert!(home.contains("data-menu=\"goods\""), "{home}");
    assert!(!home.contains("data-menu=\"gifts\""));
    assert!(!home.contains("data-menu=\"dashboard\""));
    let (status, _) = get(&app, &merchandiser, "/console/goods").await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = get(&app, &merchandiser, "/console/gifts").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("积分管理"), "{page}");
    // The writes are refused by their permission, with the operator's own valid token, and
    // store nothing — not even the image of a gift form.
    let origin = host_origin(&app);
    let token = form_token(&home);
    let (status, _) = post(
        &app,
        &merchandiser,
        Some(&origin),
        "/console/gifts",
        &[
            ("_csrf", &token),
            ("name", "杯子"),
            ("accumulate_points", "10"),
            ("stock", "5"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let fields = [
        ("name", "杯子"),
        ("accumulate_points", "10"),
        ("stock", "5"),
    ];
    let form = gift_form(&token, &fields, Some(png(1)));
    let (status, _) =
        post_multipart(&app, &merchandiser, Some(&origin), "/console/gifts", form).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, shipper_home) = get(&app, &shipper, "/console/").await;
    let shipper_token = form_token(&shipper_home);
    let (status, _) = post(
        &app,
        &shipper,
        Some(&origin),
        "/console/goods",
        &[("_csrf", &shipper_token), ("name", "名片"), ("price", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) FROM goods"), 0);
    assert_eq!(app.count("SELECT count(*) FROM gifts"), 0);
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 0);
    assert_eq!(stored_files(&app), 0);
}

#[tokio::test]
async fn goods_are_created_edited_and_retired_through_the_apis_rules_and_audited() {
    let app = TestApp::spawn().await;
    let negative = api_message(
        &app,
        Method::POST,
        "/admin/goods",
        json!({ "name": "名片", "price": "-1" }),
    )
    .await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (status, page) = get(&app, &cookie, "/console/goods").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("data-menu=\"goods\""));
    let token = form_token(&page);

    // A bad price: the API's own message, 400, the typed values kept, nothing written.
    let (status, refused) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/goods",
        &[("_csrf", &token), ("name", "名片"), ("price", "-1")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.contains(&negative), "{negative} not in {refused}");
    assert!(refused.contains("value=\"名片\""), "{refused}");
    assert_eq!(app.count("SELECT count(*) FROM goods"), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action LIKE 'goods.%'"),
        0
    );

    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/goods",
        &[("_csrf", &token), ("name", "名片"), ("price", "12.50")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id: i64 = app
        .db()
        .query_row(
            "SELECT id FROM goods WHERE name = '名片' AND price_cents = 1250 AND retired = 0",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'goods.create' AND actor = 'root'
               AND json_extract(detail, '$.goods_id') = {id}"
        )),
        1
    );
    let (_, listed) = get(&app, &cookie, "/console/goods?done=goods_created").await;
    assert!(listed.contains("商品已创建"), "{listed}");
    assert!(listed.contains(&format!("id=\"goods-{id}\"")), "{listed}");
    assert!(listed.contains("12.50"));

    // Edited and retired (the checkbox), then put back on offer (the box left unticked).
    let path = format!("/console/goods/{id}");
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        &path,
        &[
            ("_csrf", &token),
            ("name", "名片（新）"),
            ("price", "13"),
            ("retired", "true"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM goods WHERE id = {id} AND name = '名片（新）'
               AND price_cents = 1300 AND retired = 1"
        )),
        1
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action = 'goods.update'
               AND json_extract(detail, '$.after.retired') = 1
               AND json_extract(detail, '$.before.price_cents') = 1250"
        ),
        1
    );
    let (_, listed) = get(&app, &cookie, "/console/goods").await;
    assert!(listed.contains("已下架"), "{listed}");
    // An edit with a bad price changes nothing either.
    let (status, refused) = post(
        &app,
        &cookie,
        Some(&origin),
        &path,
        &[("_csrf", &token), ("name", "名片"), ("price", "-1")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains(&negative), "{refused}");
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        &path,
        &[("_csrf", &token), ("name", "名片（新）"), ("price", "13")],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM goods WHERE id = {id} AND retired = 0"
        )),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'goods.update'"),
        2
    );
    // No such goods: not found, nothing audited.
    let (status, _) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/goods/999999",
        &[("_csrf", &token), ("name", "x"), ("price", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'goods.update'"),
        2
    );
}

#[tokio::test]
async fn gifts_are_created_with_an_uploaded_image_edited_and_retired_from_the_public_list() {
    let app = TestApp::spawn().await;
    let negative = api_message(
        &app,
        Method::POST,
        "/admin/gifts",
        json!({ "name": "杯子", "accumulate_points": 10, "stock": -1 }),
    )
    .await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (status, page) = get(&app, &cookie, "/console/gifts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("enctype=\"multipart/form-data\""));
    let token = form_token(&page);

    // Negative stock: the API's message, 400, and the chosen image is not stored.
    let bad = [
        ("name", "杯子"),
        ("accumulate_points", "10"),
        ("stock", "-1"),
    ];
    let form = gift_form(&token, &bad, Some(png(1)));
    let (status, refused) =
        post_multipart(&app, &cookie, Some(&origin), "/console/gifts", form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.contains(&negative), "{negative} not in {refused}");
    assert_eq!(app.count("SELECT count(*) FROM gifts"), 0);
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 0);
    assert_eq!(stored_files(&app), 0);
    // A file that is not an image: `POST /api/images`'s refusal, nothing stored.
    let fields = [
        ("name", "杯子"),
        ("accumulate_points", "10"),
        ("stock", "5"),
    ];
    let form = gift_form(&token, &fields, Some(b"<html>not an image</html>".to_vec()));
    let (status, refused) =
        post_multipart(&app, &cookie, Some(&origin), "/console/gifts", form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("不是 PNG、JPEG、GIF 或 WebP 图片"),
        "{refused}"
    );
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 0);
    assert_eq!(app.count("SELECT count(*) FROM gifts"), 0);

    // With an image: stored as root's own image upload, and the gift names it.
    let form = gift_form(&token, &fields, Some(png(1)));
    let (status, body) = post_multipart(&app, &cookie, Some(&origin), "/console/gifts", form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let (upload, sha256): (i64, String) = app
        .db()
        .query_row(
            "SELECT id, sha256 FROM uploads WHERE kind = 'image' AND user_id = ?1",
            [root_id(&app)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let gift: i64 = app
        .db()
        .query_row(
            "SELECT id FROM gifts WHERE name = '杯子' AND image_upload_id = ?1
               AND accumulate_points = 10 AND stock = 5 AND retired = 0",
            [upload],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'gift.create' AND actor = 'root'
               AND json_extract(detail, '$.gift_id') = {gift}"
        )),
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM blobs"), 1);
    // The list shows the image (served to operators here) and its public path.
    let (_, listed) = get(&app, &cookie, "/console/gifts?done=gift_created").await;
    assert!(listed.contains("礼品已创建"), "{listed}");
    let public_path = format!("/api/storage/{sha256}.png");
    assert!(listed.contains(&public_path), "{listed}");
    let thumbnail = format!("/console/gifts/images/{sha256}.png");
    assert!(listed.contains(&format!("src=\"{thumbnail}\"")), "{listed}");
    let image = browser()
        .get(format!("{}{thumbnail}", app.admin))
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(image.status(), StatusCode::OK);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert_eq!(image.bytes().await.unwrap().as_ref(), png(1).as_slice());
    let served = app.request(Method::GET, &public_path).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(public_gift_ids(&app).await, [gift]);

    // Edited with a new image and retired: it leaves `GET /api/gifts`.
    let path = format!("/console/gifts/{gift}");
    let upload_id = upload.to_string();
    let edit = [
        ("name", "保温杯"),
        ("accumulate_points", "20"),
        ("stock", "3"),
        ("image", upload_id.as_str()),
        ("retired", "true"),
    ];
    let form = gift_form(&token, &edit, Some(png(2)));
    let (status, _) = post_multipart(&app, &cookie, Some(&origin), &path, form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let new_upload: i64 = app
        .db()
        .query_row("SELECT max(id) FROM uploads", [], |row| row.get(0))
        .unwrap();
    assert_ne!(new_upload, upload);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM gifts WHERE id = {gift} AND name = '保温杯' AND stock = 3
               AND accumulate_points = 20 AND retired = 1 AND image_upload_id = {new_upload}"
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'gift.update'
               AND json_extract(detail, '$.after.retired') = 1
               AND json_extract(detail, '$.after.image') = {new_upload}
               AND json_extract(detail, '$.before.image') = {upload}"
        )),
        1
    );
    assert!(public_gift_ids(&app).await.is_empty());
    // Negative stock on the edit changes nothing; no file, no image id: the image goes.
    let bad_edit = [
        ("name", "保温杯"),
        ("accumulate_points", "20"),
        ("stock", "-1"),
    ];
    let form = gift_form(&token, &bad_edit, None);
    let (status, refused) = post_multipart(&app, &cookie, Some(&origin), &path, form).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains(&negative), "{refused}");
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM gifts WHERE id = {gift} AND stock = 3"
        )),
        1
    );
    let back = [
        ("name", "保温杯"),
        ("accumulate_points", "20"),
        ("stock", "3"),
    ];
    let form = gift_form(&token, &back, None);
    let (status, _) = post_multipart(&app, &cookie, Some(&origin), &path, form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM gifts WHERE id = {gift} AND retired = 0
               AND image_upload_id IS NULL"
        )),
        1
    );
    assert_eq!(public_gift_ids(&app).await, [gift]);
    // An image id that is not an image upload: the domain's message on the form, 400.
    let wrong = [
        ("name", "保温杯"),
        ("accumulate_points", "20"),
        ("stock", "3"),
        ("image", "999999"),
    ];
    let (status, refused) = post(
        &app,
        &cookie,
        Some(&origin),
        &path,
        &[&[("_csrf", token.as_str())][..], &wrong[..]].concat(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        refused.contains("image 必须是你自己上传的图片"),
        "{refused}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift.update'"),
        2
    );
}

#[tokio::test]
async fn a_cross_site_catalogue_post_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (_, page) = get(&app, &cookie, "/console/gifts").await;
    let token = form_token(&page);
    let goods = |csrf: &str| {
        vec![
            ("_csrf".to_owned(), csrf.to_owned()),
            ("name".to_owned(), "名片".to_owned()),
            ("price".to_owned(), "1".to_owned()),
        ]
    };
    let send = |origin: Option<String>, form: Vec<(String, String)>| {
        let cookie = cookie.clone();
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post(app, &cookie, origin.as_deref(), "/console/goods", &form).await
        }
    };
    // Another site's page (even with a stolen token), no origin, no token, a wrong token.
    for (origin, csrf) in [
        (Some("https://evil.example".to_owned()), token.clone()),
        (None, token.clone()),
        (Some(origin.clone()), String::new()),
        (Some(origin.clone()), "0".repeat(64)),
    ] {
        let (status, page) = send(origin, goods(&csrf)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(page.contains("请求被拒绝"), "{page}");
    }
    let (status, page) = post(
        &app,
        &cookie,
        Some(&origin),
        "/console/goods/1",
        &[("name", "x"), ("price", "1")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert_eq!(app.count("SELECT count(*) FROM goods"), 0);

    // The multipart gift form, with an image: refused before a byte of it is stored.
    let fields = [
        ("name", "杯子"),
        ("accumulate_points", "10"),
        ("stock", "5"),
    ];
    let evil = gift_form(&token, &fields, Some(png(3)));
    let (status, _) = post_multipart(
        &app,
        &cookie,
        Some("https://evil.example"),
        "/console/gifts",
        evil,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let no_origin = gift_form(&token, &fields, Some(png(3)));
    let (status, _) = post_multipart(&app, &cookie, None, "/console/gifts", no_origin).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let wrong = gift_form(&"0".repeat(64), &fields, Some(png(3)));
    let (status, _) = post_multipart(&app, &cookie, Some(&origin), "/console/gifts", wrong).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // No token at all.
    let mut tokenless = Form::new();
    for (name, value) in fields {
        tokenless = tokenless.text(name, value);
    }
    let tokenless = tokenless.part("image_file", image_part(png(3)));
    let (status, _) =
        post_multipart(&app, &cookie, Some(&origin), "/console/gifts", tokenless).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let tokenless = Form::new()
        .text("name", "杯子")
        .text("accumulate_points", "10")
        .text("stock", "5");
    let (status, _) =
        post_multipart(&app, &cookie, Some(&origin), "/console/gifts", tokenless).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The file sent before the (right) token: refused, as the file would be read first.
    let mut file_first = Form::new().part("image_file", image_part(png(3)));
    for (name, value) in fields {
        file_first = file_first.text(name, value);
    }
    let file_first = file_first.text("_csrf", token.clone());
    let (status, _) =
        post_multipart(&app, &cookie, Some(&origin), "/console/gifts", file_first).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) FROM gifts"), 0);
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 0);
    assert_eq!(app.count("SELECT count(*) FROM blobs"), 0);
    assert_eq!(stored_files(&app), 0);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM audit_log WHERE action LIKE 'gift%' OR action LIKE 'goods%'"
        ),
        0
    );
    // The same form from the console's own page goes through.
    let own = gift_form(&token, &fields, Some(png(3)));
    let (status, _) = post_multipart(&app, &cookie, Some(&origin), "/console/gifts", own).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 1);
    assert_eq!(stored_files(&app), 1);
}

/// Today's row of the dashboard's table (newest first): the figures' cells.
fn today_row(page: &str) -> Vec<String> {
    let start = page.find("<tr data-date=\"").expect("a row per day");
    let row = &page[start..start + page[start..].find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let text = &cell[cell.find('>').unwrap() + 1..];
            text[..text.find("</td>").unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_dashboard_shows_the_days_figures_charts_and_what_needs_doing() {
    let app = TestApp::spawn().await;
    let cookie = root_cookie(&app).await;
    let (status, before) = get(&app, &cookie, "/console/dashboard?days=7").await;
    assert_eq!(status, StatusCode::OK);
    assert!(before.contains("data-menu=\"dashboard\""));
    let sign_ups_before: u64 = today_row(&before)[1].parse().unwrap();

    // A member signs up and redeems a gift, which then waits to be shipped.
    let (token, user_id) = app.member().await;
    let root = app.admin_token().await;
    let gift = json!({ "name": "杯子", "accumulate_points": 10, "stock": 5 });
    let created = app
        .admin_call(&root, Method::POST, "/admin/gifts", gift)
        .await;
    let gift_id = json_of(created, 201).await["data"]["id"].as_i64().unwrap();
    let points = json!({ "number": 100, "describe": "x" });
    let path = format!("/admin/users/{user_id}/points");
    json_of(
        app.admin_call(&root, Method::POST, &path, points).await,
        201,
    )
    .await;
    let address = app
        .request(Method::POST, "/api/users/self/addresses")
        .header("token", &token)
        .json(&print_address())
        .send()
        .await
        .unwrap();
    let address_id = json_of(address, 201).await["data"]["id"].as_i64().unwrap();
    let redeemed = app
        .request(Method::POST, "/api/gift_orders")
        .header("token", &token)
        .json(&json!({ "gift_id": gift_id, "address_id": address_id }))
        .send()
        .await
        .unwrap();
    json_of(redeemed, 201).await;

    // The API's figures, which the page must show.
    let api = json_of(
        app.admin_request(Method::GET, "/admin/stats?days=7")
            .header("token", &root)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let api_today = &api["data"]["days"][6];
    let cookie = root_cookie(&app).await;
    let (status, page) = get(&app, &cookie, "/console/dashboard?days=7").await;
    assert_eq!(status, StatusCode::OK);
    let today = today_row(&page);
    assert_eq!(today[1], (sign_ups_before + 1).to_string(), "{page}");
    assert_eq!(today[4], "1", "one redemption today: {page}");
    assert_eq!(today[0], api_today["date"].as_str().unwrap());
    assert_eq!(today[1], api_today["sign_ups"].to_string());
    assert_eq!(api["data"]["pending_shipments"], 1);
    // What needs doing comes first, linked to where it is done.
    let pending = &page[page.find("id=\"pending-shipments\"").unwrap()..];
    assert!(
        page.contains("href=\"/console/gift_orders\" id=\"pending-shipments\""),
        "{page}"
    );
    assert!(pending[..pending.find("</a>").unwrap()].contains("<strong>1</strong>"));
    assert!(
        page.contains("href=\"/console/deliveries?status=failed\" id=\"delivery-failures\""),
        "{page}"
    );
    // Four charts of one bar per day, drawn on the server; no inline script or style.
    assert_eq!(page.matches("<svg").count(), 4);
    assert_eq!(page.matches("<rect").count(), 4 * 7);
    assert!(
        page.contains("height=\"100\""),
        "today's sign-ups are the tallest bar"
    );
    assert!(!page.contains("<script>") && !page.contains("style="));
    assert_eq!(page.matches("<tr data-date=").count(), 7);
    // 30 and 90 days; beyond the API's range, its message.
    let (status, month) = get(&app, &cookie, "/console/dashboard?days=30").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(month.matches("<tr data-date=").count(), 30);
    let (status, refused) = get(&app, &cookie, "/console/dashboard?days=91").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(refused.contains("days"), "{refused}");
}

#[tokio::test]
async fn a_gift_form_saved_after_redemptions_does_not_undo_them() {
    let app = TestApp::spawn().await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (_, page) = get(&app, &cookie, "/console/gifts").await;
    let token = form_token(&page);
    let create = [
        ("name", "杯子"),
        ("accumulate_points", "10"),
        ("stock", "5"),
    ];
    let form = gift_form(&token, &create, None);
    let (status, _) = post_multipart(&app, &cookie, Some(&origin), "/console/gifts", form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let gift = app.count("SELECT max(id) FROM gifts");
    // The list's edit form remembers the stock it showed.
    let (_, page) = get(&app, &cookie, "/console/gifts").await;
    assert!(
        page.contains("name=\"seen_stock\" value=\"5\""),
        "the edit form carries the stock it showed"
    );
    // Two redemptions, then the operator saves a new stock on the one the form showed.
    app.db()
        .execute("UPDATE gifts SET stock = 3 WHERE id = ?1", [gift])
        .unwrap();
    let edit = [
        ("name", "保温杯"),
        ("accumulate_points", "10"),
        ("stock", "8"),
        ("seen_stock", "5"),
    ];
    let uploads = app.count("SELECT count(*) FROM uploads");
    let form = gift_form(&token, &edit, Some(png(9)));
    let path = format!("/console/gifts/{gift}");
    let (status, refused) = post_multipart(&app, &cookie, Some(&origin), &path, form).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(refused.contains("库存已从 5 变为 3"), "{refused}");
    // Said before the chosen file was stored.
    assert_eq!(app.count("SELECT count(*) FROM uploads"), uploads);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM gifts WHERE id = {gift} AND stock = 3 AND name = '杯子'"
        )),
        1
    );
    // A new name with the stock left as shown is saved, and the redemptions stand.
    let edit = [
        ("name", "保温杯"),
        ("accumulate_points", "10"),
        ("stock", "5"),
        ("seen_stock", "5"),
    ];
    let form = gift_form(&token, &edit, None);
    let (status, _) = post_multipart(&app, &cookie, Some(&origin), &path, form).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM gifts WHERE id = {gift} AND stock = 3 AND name = '保温杯'"
        )),
        1
    );
}

#[tokio::test]
async fn a_goods_or_gift_form_posted_twice_creates_one() {
    let app = TestApp::spawn().await;
    let cookie = root_cookie(&app).await;
    let origin = host_origin(&app);
    let (_, page) = get(&app, &cookie, "/console/goods").await;
    assert!(
        page.contains("id=\"goods-create\"") && page.contains("name=\"_once\""),
        "the create form carries a one-time key"
    );
    let token = form_token(&page);
    let key = "00112233445566778899aabbccddeeff";
    let goods = [
        ("_csrf", token.as_str()),
        ("_once", key),
        ("name", "名片"),
        ("price", "12.50"),
    ];
    let (status, _) = post(&app, &cookie, Some(&origin), "/console/goods", &goods).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // A double click, or a reload that posts again.
    let (status, again) = post(&app, &cookie, Some(&origin), "/console/goods", &goods).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert!(again.contains("这个表单已经提交过"), "{again}");
    assert_eq!(app.count("SELECT count(*) FROM goods"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'goods.create'"),
        1
    );
    // A create form without its key (a stale page) is refused, and nothing is written.
    let stale = [("_csrf", token.as_str()), ("name", "海报"), ("price", "3")];
    let response = crate::console::browser()
        .post(format!("{}/console/goods", app.admin))
        .header("Cookie", &cookie)
        .header("Origin", &origin)
        .form(&stale)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.text().await.unwrap().contains("表单已失效"));
    assert_eq!(app.count("SELECT count(*) FROM goods"), 1);

    let fields = [
        ("_once", "ffeeddccbbaa99887766554433221100"),
        ("name", "杯子"),
        ("accumulate_points", "10"),
        ("stock", "5"),
    ];
    let uploads = || app.count("SELECT count(*) FROM uploads");
    let before = uploads();
    for expected in [StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST] {
        let form = gift_form(&token, &fields, Some(png(7)));
        let (status, page) =
            post_multipart(&app, &cookie, Some(&origin), "/console/gifts", form).await;
        assert_eq!(status, expected, "{page}");
    }
    assert_eq!(app.count("SELECT count(*) FROM gifts"), 1);
    // The re-posted form's file is not stored again: one upload, the gift's.
    assert_eq!(uploads(), before + 1);
    assert_eq!(
        app.count(
            "SELECT count(*) FROM gifts WHERE image_upload_id = (SELECT max(id) FROM uploads)"
        ),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'gift.create'"),
        1
    );
}
