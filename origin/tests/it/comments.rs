//! Comments: creation with grades and the author's own images, the author's paged list, the
//! public per-goods list, and anonymity hiding the user.

use origin::db::goods;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::{TestApp, json_of, print_error};

async fn seed_goods(app: &TestApp, name: &'static str) -> i64 {
    app.state
        .db
        .write(move |tx| goods::insert(tx, name, 1999, 0))
        .await
        .unwrap()
}

async fn upload(app: &TestApp, token: &str, path: &str, bytes: &[u8]) -> i64 {
    let form = Form::new().part("file", Part::bytes(bytes.to_vec()).file_name("x"));
    let response = app
        .request(Method::POST, path)
        .header("token", token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    json_of(response, 201).await["data"][0]["id"]
        .as_i64()
        .unwrap()
}

async fn image(app: &TestApp, token: &str, seed: u8) -> i64 {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.push(seed);
    upload(app, token, "/api/images", &png).await
}

fn comment(goods_id: i64, images: &[i64]) -> Value {
    json!({
        "goods_id": goods_id,
        "goods_comment": "质量很好",
        "service_comment": "客服耐心",
        "target": "红色 XL",
        "images": images,
        "describe_grade": 5,
        "seller_grade": 4,
        "logistics_grade": 3,
    })
}

async fn post(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.request(Method::POST, "/api/comments")
        .header("token", token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, path: &str) -> Value {
    json_of(app.request(Method::GET, path).send().await.unwrap(), 200).await
}

#[tokio::test]
async fn a_comment_with_images_shows_in_the_authors_list_and_the_goods_list() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    app.request(Method::PUT, "/api/users/self")
        .header("token", &token)
        .json(&json!({ "nickname": "小明", "avatar": "/api/storage/a.png" }))
        .send()
        .await
        .unwrap();
    let goods_id = seed_goods(&app, "帆布袋").await;
    let (first, second) = (image(&app, &token, 1).await, image(&app, &token, 2).await);
    let created = json_of(
        post(&app, &token, &comment(goods_id, &[second, first])).await,
        201,
    )
    .await;
    let id = created["data"]["id"].as_i64().unwrap();

    let mine = json_of(
        app.get_with_token("/api/users/self/comments", &token).await,
        200,
    )
    .await;
    let row = &mine["data"]["data"][0];
    assert_eq!(row["id"], id);
    assert_eq!(row["user"]["id"], user_id);
    assert_eq!(row["user"]["nickname"], "小明");
    assert_eq!(row["user"]["avatar"], "/api/storage/a.png");
    assert_eq!(row["goods"], json!({ "id": goods_id, "name": "帆布袋" }));
    assert_eq!(row["target"], "红色 XL");
    assert_eq!(row["goods_comment"], "质量很好");
    assert_eq!(row["service_comment"], "客服耐心");
    assert_eq!(row["describe_grade"], 5);
    assert_eq!(row["seller_grade"], 4);
    assert_eq!(row["logistics_grade"], 3);
    assert_eq!(row["is_anonymous"], false);
    assert!(row["created_at"].as_str().is_some());
    let images: Vec<i64> = row["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|image| image["id"].as_i64().unwrap())
        .collect();
    assert_eq!(images, [second, first], "images keep the order given");
    assert!(
        row["images"][0]["src"]
            .as_str()
            .unwrap()
            .starts_with("/api/storage/")
    );
    assert_eq!(mine["data"]["total"], 1);

    let public = get(&app, &format!("/api/goods/{goods_id}/comments")).await;
    assert_eq!(public["data"]["data"][0], *row);
}

#[tokio::test]
async fn anonymous_comments_hide_the_user_everywhere() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let goods_id = seed_goods(&app, "T 恤").await;
    let mut body = comment(goods_id, &[]);
    body["is_anonymous"] = json!(true);
    body.as_object_mut().unwrap().remove("target");
    json_of(post(&app, &token, &body).await, 201).await;
    let mine = json_of(
        app.get_with_token("/api/users/self/comments", &token).await,
        200,
    )
    .await;
    let public = get(&app, &format!("/api/goods/{goods_id}/comments")).await;
    for row in [&mine["data"]["data"][0], &public["data"]["data"][0]] {
        assert_eq!(row["is_anonymous"], true);
        assert!(row.get("user").is_none(), "{row}");
        assert!(row.get("target").is_none(), "{row}");
        assert_eq!(row["images"], json!([]));
    }
}

#[tokio::test]
async fn images_must_be_the_authors_own_image_uploads() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.member().await;
    let (bob, _) = app.member().await;
    let goods_id = seed_goods(&app, "马克杯").await;
    let bobs_image = image(&app, &bob, 9).await;
    let alices_file = upload(&app, &alice, "/api/files", b"just a file").await;
    let alices_image = image(&app, &alice, 8).await;
    for images in [
        vec![bobs_image],
        vec![alices_image, alices_file],
        vec![alices_image, 999_999],
        vec![alices_image, alices_image],
    ] {
        let body = print_error(
            post(&app, &alice, &comment(goods_id, &images)).await,
            400,
            999,
        )
        .await;
        assert_eq!(
            body["errors"]["images"].as_array().unwrap().len(),
            1,
            "{body}"
        );
    }
    let too_many: Vec<i64> = (1..=10).collect();
    print_error(
        post(&app, &alice, &comment(goods_id, &too_many)).await,
        400,
        999,
    )
    .await;
    let junk = json!({ "goods_id": goods_id, "images": ["x"] });
    print_error(post(&app, &alice, &junk).await, 400, 999).await;
    assert_eq!(app.count("SELECT count(*) FROM comments"), 0);
    assert_eq!(app.count("SELECT count(*) FROM comment_images"), 0);
}

#[tokio::test]
async fn bad_comment_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let goods_id = seed_goods(&app, "笔记本").await;
    let long = "字".repeat(1001);
    let cases: Vec<(&str, Value)> = vec![
        ("goods_id", Value::Null),
        ("goods_id", json!("abc")),
        ("goods_id", json!(0)),
        ("goods_id", json!(goods_id + 100)),
        ("goods_comment", Value::Null),
        ("goods_comment", json!("   ")),
        ("goods_comment", json!(long)),
        ("service_comment", Value::Null),
        ("target", json!("x".repeat(101))),
        ("describe_grade", Value::Null),
        ("describe_grade", json!(0)),
        ("seller_grade", json!(6)),
        ("logistics_grade", json!("five")),
        ("logistics_grade", json!(2.5)),
        ("is_anonymous", json!("maybe")),
    ];
    for (field, value) in cases {
        let mut body = comment(goods_id, &[]);
        body[field] = value.clone();
        let error = print_error(post(&app, &token, &body).await, 400, 999).await;
        assert!(
            error["errors"].get(field).is_some(),
            "{field} = {value}: {error}"
        );
    }
    let anonymous = app
        .request(Method::POST, "/api/comments")
        .json(&comment(goods_id, &[]))
        .send()
        .await
        .unwrap();
    print_error(anonymous, 401, 999).await;
    assert_eq!(app.count("SELECT count(*) FROM comments"), 0);
}

#[tokio::test]
async fn goods_comments_are_paged_newest_first_and_unknown_goods_are_404() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let goods_id = seed_goods(&app, "雨伞").await;
    let other_goods = seed_goods(&app, "水壶").await;
    for index in 0..17 {
        let mut body = comment(goods_id, &[]);
        body["goods_comment"] = json!(format!("评价 {index}"));
        json_of(post(&app, &token, &body).await, 201).await;
    }
    json_of(post(&app, &token, &comment(other_goods, &[])).await, 201).await;

    let first = get(&app, &format!("/api/goods/{goods_id}/comments")).await;
    assert_eq!(first["data"]["count"], 15);
    assert_eq!(first["data"]["total"], 17);
    assert_eq!(first["data"]["current_page"], 1);
    assert_eq!(first["data"]["last_page"], 2);
    assert_eq!(first["data"]["has_more_pages"], true);
    assert_eq!(first["data"]["data"][0]["goods_comment"], "评价 16");
    let second = get(&app, &format!("/api/goods/{goods_id}/comments?page=2")).await;
    assert_eq!(second["data"]["count"], 2);
    assert_eq!(second["data"]["data"][1]["goods_comment"], "评价 0");
    assert_eq!(second["data"]["has_more_pages"], false);

    let mine = json_of(
        app.get_with_token("/api/users/self/comments?limit=100", &token)
            .await,
        200,
    )
    .await;
    assert_eq!(mine["data"]["total"], 18);

    for path in ["/api/goods/999/comments", "/api/goods/abc/comments"] {
        print_error(
            app.request(Method::GET, path).send().await.unwrap(),
            404,
            999,
        )
        .await;
    }
    let bad_page = app
        .request(
            Method::GET,
            &format!("/api/goods/{goods_id}/comments?limit=101"),
        )
        .send()
        .await
        .unwrap();
    print_error(bad_page, 400, 999).await;
}
