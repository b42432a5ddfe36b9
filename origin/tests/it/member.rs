//! The member centre's paged lists (messages, coupons, points and balance records) and the
//! ledger rules: surplus after each entry, never negative, never double-spent.

use origin::db::coupons::{self, NewCoupon};
use origin::db::ledgers::{self, Ledger};
use origin::db::messages;
use reqwest::Method;
use serde_json::Value;

use crate::support::{TestApp, json_of, print_error};

async fn seed_messages(app: &TestApp, user_id: i64, count: usize) {
    app.state
        .db
        .write(move |tx| -> origin::db::StorageResult<_> {
            for index in 0..count {
                messages::insert(
                    tx,
                    user_id,
                    "系统",
                    &format!("title {index}"),
                    &format!("body {index}"),
                    1_000 + index as i64,
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

fn assert_page(body: &Value, count: u64, total: u64, current: u64, last: u64, more: bool) {
    let data = &body["data"];
    assert_eq!(
        data["data"].as_array().unwrap().len() as u64,
        count,
        "{data}"
    );
    assert_eq!(data["count"], count);
    assert_eq!(data["total"], total);
    assert_eq!(data["current_page"], current);
    assert_eq!(data["last_page"], last);
    assert_eq!(data["has_more_pages"], more);
}

#[tokio::test]
async fn messages_are_paged_newest_first_with_every_meta_field() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    seed_messages(&app, user_id, 17).await;
    let first = json_of(
        app.get_with_token("/api/users/self/messages", &token).await,
        200,
    )
    .await;
    assert_page(&first, 15, 17, 1, 2, true);
    let newest = &first["data"]["data"][0];
    assert_eq!(newest["title"], "title 16");
    for field in [
        "id",
        "user",
        "sender",
        "title",
        "body",
        "is_read",
        "created_at",
    ] {
        assert!(newest.get(field).is_some(), "lacks {field}");
    }
    assert_eq!(newest["user"]["id"], user_id);
    let second = json_of(
        app.get_with_token("/api/users/self/messages?page=2", &token)
            .await,
        200,
    )
    .await;
    assert_page(&second, 2, 17, 2, 2, false);
    let small = json_of(
        app.get_with_token("/api/users/self/messages?limit=5&page=4", &token)
            .await,
        200,
    )
    .await;
    assert_page(&small, 2, 17, 4, 4, false);
    let beyond = json_of(
        app.get_with_token("/api/users/self/messages?page=9", &token)
            .await,
        200,
    )
    .await;
    assert_page(&beyond, 0, 17, 9, 2, false);
    for bad in ["page=0", "page=x", "limit=101", "limit=0", "is_read=2"] {
        let response = app
            .get_with_token(&format!("/api/users/self/messages?{bad}"), &token)
            .await;
        print_error(response, 400, 999).await;
    }
}

async fn unread(app: &TestApp, token: &str) -> u64 {
    let response = app
        .get_with_token("/api/users/self/messages/unread_count", token)
        .await;
    json_of(response, 200).await["data"]["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn reading_messages_updates_the_unread_count_and_the_filters() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let (other_token, other_id) = app.member().await;
    seed_messages(&app, user_id, 3).await;
    seed_messages(&app, other_id, 1).await;
    assert_eq!(unread(&app, &token).await, 3);
    let list = json_of(
        app.get_with_token("/api/users/self/messages", &token).await,
        200,
    )
    .await;
    let id = list["data"]["data"][0]["id"].as_i64().unwrap();
    let read = app
        .request(Method::PUT, &format!("/api/users/self/messages/{id}/read"))
        .header("token", &token)
        .send()
        .await
        .unwrap();
    assert!(
        read.headers()["x-edge-invalidate"]
            .to_str()
            .unwrap()
            .contains("bump")
    );
    json_of(read, 200).await;
    assert_eq!(unread(&app, &token).await, 2);
    let read_only = json_of(
        app.get_with_token("/api/users/self/messages?is_read=1", &token)
            .await,
        200,
    )
    .await;
    assert_eq!(read_only["data"]["total"], 1);
    assert_eq!(read_only["data"]["data"][0]["is_read"], true);
    let unread_only = json_of(
        app.get_with_token("/api/users/self/messages?is_read=0", &token)
            .await,
        200,
    )
    .await;
    assert_eq!(unread_only["data"]["total"], 2);

    // Another user's message is not found, and stays unread.
    let others = json_of(
        app.get_with_token("/api/users/self/messages", &other_token)
            .await,
        200,
    )
    .await;
    let other_message = others["data"]["data"][0]["id"].as_i64().unwrap();
    let foreign = app
        .request(
            Method::PUT,
            &format!("/api/users/self/messages/{other_message}/read"),
        )
        .header("token", &token)
        .send()
        .await
        .unwrap();
    print_error(foreign, 404, 999).await;
    assert_eq!(unread(&app, &other_token).await, 1);

    json_of(
        app.request(Method::PUT, "/api/users/self/messages/read_all")
            .header("token", &token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(unread(&app, &token).await, 0);
    assert_eq!(unread(&app, &other_token).await, 1);
}

#[tokio::test]
async fn coupon_status_is_derived_from_use_and_expiry() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let now = origin::clock::now();
    app.state
        .db
        .write(move |tx| -> origin::db::StorageResult<_> {
            let coupon = |no: &'static str,
                          kind: &'static str,
                          satisfy: Option<i64>,
                          finished_at: i64| NewCoupon {
                coupon_no: no,
                name: "新人券",
                kind,
                quota_cents: 500,
                satisfy_cents: satisfy,
                finished_at,
            };
            coupons::insert(
                tx,
                user_id,
                &coupon("C1", "满减", Some(5_000), now + 86_400),
                now,
            )?;
            coupons::insert(tx, user_id, &coupon("C2", "抵扣", None, now - 10), now)?;
            let used =
                coupons::insert(tx, user_id, &coupon("C3", "抵扣", None, now + 86_400), now)?;
            tx.execute("UPDATE coupons SET used_at = ?2 WHERE id = ?1", [used, now])?;
            Ok(())
        })
        .await
        .unwrap();
    let all = json_of(
        app.get_with_token("/api/users/self/coupons", &token).await,
        200,
    )
    .await;
    assert_eq!(all["data"]["total"], 3);
    let by_no = |no: &str| {
        all["data"]["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["coupon_no"] == no)
            .unwrap()
            .clone()
    };
    assert_eq!(by_no("C1")["status"], "可使用");
    assert_eq!(by_no("C1")["satisfy"], "50.00");
    assert_eq!(by_no("C1")["quota"], "5.00");
    assert_eq!(by_no("C2")["status"], "已过期");
    assert!(
        by_no("C2").get("satisfy").is_none(),
        "satisfy only for 满减"
    );
    assert_eq!(by_no("C3")["status"], "已使用");
    for (filter, no) in [(1, "C1"), (2, "C3"), (3, "C2")] {
        let page = json_of(
            app.get_with_token(&format!("/api/users/self/coupons?type={filter}"), &token)
                .await,
            200,
        )
        .await;
        assert_eq!(page["data"]["total"], 1, "type={filter}");
        assert_eq!(page["data"]["data"][0]["coupon_no"], no);
    }
    print_error(
        app.get_with_token("/api/users/self/coupons?type=4", &token)
            .await,
        400,
        999,
    )
    .await;
}

#[tokio::test]
async fn ledgers_show_each_entry_with_the_surplus_after_it() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    app.state
        .db
        .write(move |tx| -> origin::db::StorageResult<_> {
            ledgers::post(tx, Ledger::Points, user_id, 300, "签到", 1)?;
            ledgers::post(tx, Ledger::Points, user_id, -120, "兑换礼品", 2)?;
            ledgers::post(tx, Ledger::Balance, user_id, 10_050, "充值", 3)?;
            ledgers::post(tx, Ledger::Balance, user_id, -50, "消费", 4)?;
            Ok(())
        })
        .await
        .unwrap();
    let points = json_of(
        app.get_with_token("/api/users/self/accumulate_points_records", &token)
            .await,
        200,
    )
    .await;
    let rows = points["data"]["data"].as_array().unwrap();
    assert_eq!(rows[0]["type"], "支出");
    assert_eq!(rows[0]["number"], 120);
    assert_eq!(rows[0]["surplus"], 180);
    assert_eq!(rows[1]["type"], "收入");
    let income = json_of(
        app.get_with_token("/api/users/self/accumulate_points_records?type=1", &token)
            .await,
        200,
    )
    .await;
    assert_eq!(income["data"]["total"], 1);
    let balance = json_of(
        app.get_with_token("/api/users/self/balance_records?type=2", &token)
            .await,
        200,
    )
    .await;
    assert_eq!(balance["data"]["data"][0]["number"], "0.50");
    assert_eq!(balance["data"]["data"][0]["surplus"], "100.00");
    let me = json_of(app.get_with_token("/api/users/self", &token).await, 200).await;
    assert_eq!(me["data"]["accumulate_points"], 180);
    assert_eq!(me["data"]["history_accumulate_points"], 300);
    assert_eq!(me["data"]["balance"], "100.00");
    print_error(
        app.get_with_token("/api/users/self/balance_records?type=3", &token)
            .await,
        400,
        999,
    )
    .await;
}

#[tokio::test]
async fn parallel_spends_never_take_a_ledger_below_zero_or_spend_twice() {
    let app = TestApp::spawn().await;
    let (_, user_id) = app.member().await;
    app.state
        .db
        .write(move |tx| ledgers::post(tx, Ledger::Points, user_id, 50, "gift", 1))
        .await
        .unwrap();
    let spends: Vec<_> = (0..20)
        .map(|_| {
            let state = app.state.clone();
            tokio::spawn(async move {
                state
                    .db
                    .write(move |tx| ledgers::post(tx, Ledger::Points, user_id, -10, "spend", 2))
                    .await
            })
        })
        .collect();
    let mut succeeded = 0;
    for spend in spends {
        match spend.await.unwrap() {
            Ok(_) => succeeded += 1,
            Err(origin::db::StorageError::Shortfall(Ledger::Points)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(succeeded, 5);
    let conn = app.db();
    let (entries, minimum, latest): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), min(surplus), (SELECT surplus FROM points_records WHERE user_id = ?1 ORDER BY id DESC LIMIT 1)
             FROM points_records WHERE user_id = ?1",
            [user_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((entries, minimum, latest), (6, 0, 0));
    // Each entry's surplus is the previous surplus plus its number.
    let mut statement = conn
        .prepare("SELECT number, surplus FROM points_records WHERE user_id = ?1 ORDER BY id")
        .unwrap();
    let rows: Vec<(i64, i64)> = statement
        .query_map([user_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut running = 0;
    for (number, surplus) in rows {
        running += number;
        assert_eq!(surplus, running);
    }
    let zero = app
        .state
        .db
        .write(move |tx| ledgers::post(tx, Ledger::Balance, user_id, 0, "nothing", 3))
        .await;
    assert!(zero.is_err());
}
