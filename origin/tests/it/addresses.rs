//! Shipping addresses in both dialects over one table, with the default rules under
//! concurrency.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{TestApp, json_of, print_error, store_error};

fn store_address(contact: &str) -> Value {
    json!({
        "province": "广东省", "city": "深圳市", "district": "南山区", "address": "科技园 1 号",
        "zip": "518000", "contact_name": contact, "contact_phone": "13800138000",
    })
}

fn print_address(name: &str) -> Value {
    json!({ "name": name, "phone": "13900139000", "province": "浙江省", "city": "杭州市", "county": "西湖区", "detail": "文三路 2 号" })
}

async fn user(app: &TestApp) -> String {
    app.register_print(&app.phone()).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn store_create(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.request(Method::POST, "/api/user_addresses")
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn store_list(app: &TestApp, token: &str) -> Vec<Value> {
    let body = json_of(app.get_with_bearer("/api/user_addresses", token).await, 200).await;
    body["data"].as_array().unwrap().clone()
}

fn defaults(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .filter(|row| row["is_default"] == true)
        .map(|row| row["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn store_addresses_are_created_listed_updated_and_deleted_with_every_documented_field() {
    let app = TestApp::spawn().await;
    let token = user(&app).await;
    let created = json_of(
        store_create(&app, &token, &store_address("张三")).await,
        201,
    )
    .await;
    assert_eq!(created["code"], 20001);
    let address = &created["data"];
    for field in [
        "id",
        "province",
        "city",
        "district",
        "address",
        "zip",
        "contact_name",
        "contact_phone",
        "is_default",
        "created_at",
    ] {
        assert!(address.get(field).is_some(), "lacks {field}: {address}");
    }
    assert_eq!(
        address["is_default"], true,
        "the first address is the default"
    );
    let id = address["id"].as_i64().unwrap();

    let updated = app
        .request(Method::PUT, &format!("/api/user_addresses/{id}"))
        .bearer_auth(&token)
        .query(&[("city", "广州市"), ("zip", "510000")])
        .send()
        .await
        .unwrap();
    let updated = json_of(updated, 200).await;
    assert_eq!(updated["data"]["city"], "广州市");
    assert_eq!(
        updated["data"]["contact_name"], "张三",
        "fields not sent stay as they were"
    );
    assert_eq!(store_list(&app, &token).await.len(), 1);

    let deleted = app
        .request(Method::DELETE, &format!("/api/user_addresses/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(
        deleted.headers()["x-edge-invalidate"]
            .to_str()
            .unwrap()
            .contains("bump")
    );
    json_of(deleted, 200).await;
    assert!(store_list(&app, &token).await.is_empty());
}

#[tokio::test]
async fn the_same_rows_appear_in_the_print_view_with_its_names() {
    let app = TestApp::spawn().await;
    let token = user(&app).await;
    json_of(
        store_create(&app, &token, &store_address("李四")).await,
        201,
    )
    .await;
    let created = app
        .request(Method::POST, "/api/users/self/addresses")
        .header("token", &token)
        .json(&print_address("王五"))
        .send()
        .await
        .unwrap();
    let created = json_of(created, 201).await;
    assert_eq!(created["status"], "success");
    assert_eq!(created["data"]["county"], "西湖区");
    let listed = json_of(
        app.get_with_token("/api/users/self/addresses", &token)
            .await,
        200,
    )
    .await;
    let rows = listed["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    assert_eq!(first["name"], "李四", "the default comes first");
    for field in [
        "id",
        "name",
        "phone",
        "province",
        "city",
        "county",
        "detail",
        "is_default",
    ] {
        assert!(first.get(field).is_some(), "lacks {field}");
    }
    assert!(first.get("zip").is_none());
    let only_default = json_of(
        app.get_with_token("/api/users/self/addresses?is_default=true", &token)
            .await,
        200,
    )
    .await;
    assert_eq!(only_default["data"].as_array().unwrap().len(), 1);
    // Addresses made through print have an empty zip in the store view.
    let store_rows = store_list(&app, &token).await;
    assert_eq!(
        store_rows
            .iter()
            .find(|r| r["contact_name"] == "王五")
            .unwrap()["zip"],
        ""
    );
}

#[tokio::test]
async fn setting_a_default_unsets_the_others_and_deleting_the_default_promotes_the_newest() {
    let app = TestApp::spawn().await;
    let token = user(&app).await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(json_of(store_create(&app, &token, &store_address(name)).await, 201).await["data"]["id"].as_i64().unwrap());
    }
    assert_eq!(defaults(&store_list(&app, &token).await), vec![ids[0]]);
    let set = app
        .request(
            Method::PUT,
            &format!("/api/users/self/addresses/{}", ids[1]),
        )
        .header("token", &token)
        .json(&json!({ "is_default": true }))
        .send()
        .await
        .unwrap();
    json_of(set, 200).await;
    assert_eq!(defaults(&store_list(&app, &token).await), vec![ids[1]]);
    let unset = app
        .request(
            Method::PUT,
            &format!("/api/users/self/addresses/{}", ids[1]),
        )
        .header("token", &token)
        .json(&json!({ "is_default": false }))
        .send()
        .await
        .unwrap();
    print_error(unset, 400, 999).await;
    app.request(
        Method::DELETE,
        &format!("/api/users/self/addresses/{}", ids[1]),
    )
    .header("token", &token)
    .send()
    .await
    .unwrap();
    assert_eq!(
        defaults(&store_list(&app, &token).await),
        vec![ids[2]],
        "the newest is promoted"
    );
    let created_default = store_create(&app, &token, &{
        let mut body = store_address("d");
        body["is_default"] = json!(true);
        body
    })
    .await;
    let id = json_of(created_default, 201).await["data"]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(defaults(&store_list(&app, &token).await), vec![id]);
}

#[tokio::test]
async fn another_users_address_is_not_found_in_either_dialect_and_stays_untouched() {
    let app = TestApp::spawn().await;
    let owner = user(&app).await;
    let stranger = user(&app).await;
    let id = json_of(
        store_create(&app, &owner, &store_address("owner")).await,
        201,
    )
    .await["data"]["id"]
        .as_i64()
        .unwrap();
    let store = app
        .request(Method::PUT, &format!("/api/user_addresses/{id}"))
        .bearer_auth(&stranger)
        .json(&json!({ "city": "x" }))
        .send()
        .await
        .unwrap();
    store_error(store, 404, 40004).await;
    let print = app
        .request(Method::DELETE, &format!("/api/users/self/addresses/{id}"))
        .header("token", &stranger)
        .send()
        .await
        .unwrap();
    print_error(print, 404, 999).await;
    for bad in ["0", "-1", "abc", "99999999999999999999"] {
        let response = app
            .request(Method::DELETE, &format!("/api/user_addresses/{bad}"))
            .bearer_auth(&owner)
            .send()
            .await
            .unwrap();
        store_error(response, 404, 40004).await;
    }
    assert_eq!(store_list(&app, &owner).await[0]["city"], "深圳市");
}

#[tokio::test]
async fn bad_address_fields_are_refused_in_the_dialect_and_create_nothing() {
    let app = TestApp::spawn().await;
    let token = user(&app).await;
    for (field, value, code) in [
        ("zip", json!("51800"), 10001),
        ("zip", json!("abcdef"), 10001),
        ("contact_phone", json!("12345"), 10001),
        ("contact_name", json!(""), 10001),
        ("province", json!("省".repeat(33)), 10001),
        ("address", json!("路".repeat(256)), 10001),
    ] {
        let mut body = store_address("x");
        body[field] = value;
        let error = store_error(store_create(&app, &token, &body).await, 422, code).await;
        assert!(error["errors"][field].is_array(), "{field}: {error}");
    }
    let mut missing = store_address("x");
    missing.as_object_mut().unwrap().remove("city");
    store_error(store_create(&app, &token, &missing).await, 422, 10001).await;
    let mut bad_phone = print_address("x");
    bad_phone["phone"] = json!("999");
    let response = app
        .request(Method::POST, "/api/users/self/addresses")
        .header("token", &token)
        .json(&bad_phone)
        .send()
        .await
        .unwrap();
    print_error(response, 400, 20007).await;
    let bad_flag = app
        .get_with_token("/api/users/self/addresses?is_default=maybe", &token)
        .await;
    print_error(bad_flag, 400, 999).await;
    assert_eq!(app.count("SELECT count(*) FROM addresses"), 0);
    json_of(
        app.request(Method::GET, "/api/user_addresses")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
}

#[tokio::test]
async fn parallel_creates_and_default_changes_leave_exactly_one_default() {
    let app = TestApp::spawn().await;
    let token = user(&app).await;
    let creates: Vec<_> = (0..12)
        .map(|index| {
            let mut body = store_address(&format!("n{index}"));
            body["is_default"] = json!(index % 2 == 0);
            tokio::spawn(
                app.request(Method::POST, "/api/user_addresses")
                    .bearer_auth(&token)
                    .json(&body)
                    .send(),
            )
        })
        .collect();
    for create in creates {
        assert_eq!(create.await.unwrap().unwrap().status(), 201);
    }
    let rows = store_list(&app, &token).await;
    assert_eq!(rows.len(), 12);
    assert_eq!(defaults(&rows).len(), 1);
    let ids: Vec<i64> = rows.iter().map(|row| row["id"].as_i64().unwrap()).collect();
    let changes: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            let request = if index % 3 == 0 {
                app.request(Method::DELETE, &format!("/api/user_addresses/{id}"))
                    .bearer_auth(&token)
            } else {
                app.request(Method::PUT, &format!("/api/user_addresses/{id}"))
                    .bearer_auth(&token)
                    .json(&json!({ "is_default": true }))
            };
            tokio::spawn(request.send())
        })
        .collect();
    for change in changes {
        assert!(change.await.unwrap().unwrap().status().is_success());
    }
    let rows = store_list(&app, &token).await;
    assert_eq!(rows.len(), 8);
    assert_eq!(defaults(&rows).len(), 1, "exactly one default: {rows:?}");
}
