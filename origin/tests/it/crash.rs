//! Crash safety: the origin runs as its own process under a steady mix of writes
//! (registrations, address changes, point credits and spends, payment callbacks) and is killed
//! with SIGKILL at random moments. After every restart:
//! - `PRAGMA integrity_check` is ok and no foreign key dangles;
//! - every write acknowledged to a client is present;
//! - every ledger is consistent (each entry's `surplus` is the running sum, never negative,
//!   so the current figure = last surplus = sum of entries);
//! - no payment is credited twice, and each gift order took exactly its points and one stock.
//!
//! At the end the edge outbox, interrupted by every kill, is delivered in full to a stand-in
//! edge.
//!
//! `CRASH_CYCLES` sets the number of kills (20 by default, as in CI; the documented long run
//! uses 200). `CRASH_SEED` replays a run's random choices; the seed is printed.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Client, Method, RequestBuilder};
use serde_json::{Value, json};
use shared::headers::{CLIENT_IP, EDGE_SECRET};

use crate::support::PASSWORD;
use crate::support::process::{self, PAY_SECRET, SECRET};

const GIFT_POINTS: i64 = 10;
const GIFT_STOCK: i64 = 1_000_000;
const CREDIT: i64 = 30;
const CLIENTS: usize = 6;

/// Everything the server acknowledged, so everything that must survive a crash.
#[derive(Default)]
struct Acknowledged {
    /// phone → access token.
    users: Vec<(String, String)>,
    addresses: Vec<(usize, i64)>,
    credits: Vec<String>,
    gift_orders: Vec<String>,
    recharges: Vec<String>,
    paid: Vec<String>,
}

/// A stand-in for the edge's invalidation endpoint: counts deliveries.
async fn stand_in_edge() -> (String, Arc<AtomicUsize>) {
    use axum::http::{HeaderMap, StatusCode};
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = axum::Router::new().route(
        origin::edge_sync::INVALIDATE_PATH,
        axum::routing::post(move |headers: HeaderMap, _body: String| {
            let counter = counter.clone();
            async move {
                if headers.get(EDGE_SECRET).and_then(|v| v.to_str().ok()) != Some(SECRET) {
                    return StatusCode::FORBIDDEN;
                }
                counter.fetch_add(1, Ordering::SeqCst);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// One client's view of the running origin.
#[derive(Clone)]
struct Workload {
    client: Client,
    base: String,
    admin_base: String,
    db: Arc<std::path::PathBuf>,
    admin: Arc<String>,
    gift_id: i64,
    acknowledged: Arc<Mutex<Acknowledged>>,
    next: Arc<AtomicUsize>,
}

impl Workload {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        self.client
            .request(method, format!("{}{path}", self.base))
            .header(EDGE_SECRET, SECRET)
            .header(
                CLIENT_IP,
                format!("10.{}.{}.{}", n / 62_500 % 250, n / 250 % 250, n % 250 + 1),
            )
    }

    async fn send(&self, request: RequestBuilder) -> Option<(u16, Value)> {
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let text = response.text().await.ok()?;
        Some((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    fn user(&self, rng: &mut StdRng) -> Option<(usize, String)> {
        let acknowledged = self.acknowledged.lock().unwrap();
        if acknowledged.users.is_empty() {
            return None;
        }
        let index = rng.random_range(0..acknowledged.users.len());
        Some((index, acknowledged.users[index].1.clone()))
    }

    async fn step(&self, rng: &mut StdRng) -> Option<()> {
        let roll = rng.random_range(0..100);
        let Some((index, token)) = self.user(rng).filter(|_| roll >= 15) else {
            return self.register().await;
        };
        match roll {
            15..40 => self.add_address(index, &token).await,
            40..55 => self.credit(&token).await,
            55..75 => self.spend(&token).await,
            _ => self.recharge(&token, rng.random_range(1..100_000)).await,
        }
    }

    async fn register(&self) -> Option<()> {
        let phone = format!("139{:08}", self.next.fetch_add(1, Ordering::SeqCst));
        let sent = self
            .send(
                self.request(Method::POST, "/api/sms")
                    .json(&json!({ "phone": phone, "is_register": true })),
            )
            .await?;
        assert!(sent.0 == 201, "sms: {sent:?}");
        let verification = sent.1["data"]["verification_token"].as_str()?.to_owned();
        let code: String = rusqlite::Connection::open(&*self.db)
            .ok()?
            .query_row(
                "SELECT code FROM outbox WHERE recipient = ?1 ORDER BY id DESC LIMIT 1",
                [&phone],
                |row| row.get(0),
            )
            .ok()?;
        let body = json!({ "verification_token": verification, "verification_code": code, "password": PASSWORD });
        let (status, body) = self
            .send(self.request(Method::POST, "/api/register").json(&body))
            .await?;
        assert_eq!(status, 201, "register: {body}");
        let token = body["data"]["access_token"].as_str()?.to_owned();
        self.acknowledged.lock().unwrap().users.push((phone, token));
        Some(())
    }

    async fn add_address(&self, index: usize, token: &str) -> Option<()> {
        let body = crate::support::print_address();
        let request = self
            .request(Method::POST, "/api/users/self/addresses")
            .header("token", token);
        let (status, body) = self.send(request.json(&body)).await?;
        assert_eq!(status, 201, "address: {body}");
        let id = body["data"]["id"].as_i64()?;
        self.acknowledged
            .lock()
            .unwrap()
            .addresses
            .push((index, id));
        Some(())
    }

    /// The `data` of a signed-in read.
    async fn get(&self, path: &str, token: &str) -> Option<Value> {
        let request = self.request(Method::GET, path).header("token", token);
        let (status, body) = self.send(request).await?;
        assert_eq!(status, 200, "{path}: {body}");
        Some(body["data"].clone())
    }

    async fn credit(&self, token: &str) -> Option<()> {
        let user_id = self.get("/api/users/self", token).await?["id"].as_i64()?;
        let describe = format!("crash-credit-{}", self.next.fetch_add(1, Ordering::SeqCst));
        let request = self
            .client
            .post(format!("{}/admin/users/{user_id}/points", self.admin_base))
            .header("token", self.admin.as_str())
            .json(&json!({ "number": CREDIT, "describe": describe }));
        let (status, body) = self.send(request).await?;
        assert_eq!(status, 201, "credit: {body}");
        self.acknowledged.lock().unwrap().credits.push(describe);
        Some(())
    }

    async fn spend(&self, token: &str) -> Option<()> {
        let addresses = self.get("/api/users/self/addresses", token).await?;
        let address = addresses.as_array()?.first()?["id"].as_i64()?;
        let body = json!({ "gift_id": self.gift_id, "address_id": address });
        let request = self
            .request(Method::POST, "/api/gift_orders")
            .header("token", token);
        let (status, body) = self.send(request.json(&body)).await?;
        if status == 201 {
            let order_no = body["data"]["order_no"].as_str()?.to_owned();
            self.acknowledged.lock().unwrap().gift_orders.push(order_no);
        } else {
            // Too few points is the only refusal this workload can meet.
            assert!(
                body.to_string().contains("积分不足"),
                "redeem: {status} {body}"
            );
        }
        Some(())
    }

    async fn recharge(&self, token: &str, cents: i64) -> Option<()> {
        let price = format!("{}.{:02}", cents / 100, cents % 100);
        let request = self
            .request(Method::POST, "/api/recharge_orders")
            .header("token", token);
        let (status, body) = self
            .send(request.json(&json!({ "price": price, "pay_type": "alipay" })))
            .await?;
        if status == 429 {
            // Orders left unpaid by earlier kills can reach the unpaid-recharge bound.
            return Some(());
        }
        assert_eq!(status, 201, "recharge: {body}");
        let order_no = body["data"]["order_no"].as_str()?.to_owned();
        self.acknowledged
            .lock()
            .unwrap()
            .recharges
            .push(order_no.clone());
        let trade_no = format!("T-{order_no}");
        let form = crate::support::sandbox_notify_form(PAY_SECRET, &order_no, &price, &trade_no);
        // The gateway's callback, delivered twice at once.
        let notify = || {
            self.request(Method::POST, "/api/payments/sandbox/notify")
                .form(&form)
        };
        let (first, second) = tokio::join!(self.send(notify()), self.send(notify()));
        let paid = [first, second]
            .into_iter()
            .flatten()
            .any(|(status, body)| status == 200 && body == Value::String("success".into()));
        if paid {
            self.acknowledged.lock().unwrap().paid.push(order_no);
        }
        Some(())
    }
}

/// Every check that must hold after a crash, on the database file itself.
fn check(db: &Path, acknowledged: &Acknowledged, gift_id: i64, cycle: usize) {
    let connection = rusqlite::Connection::open(db).unwrap();
    let integrity: String = connection
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "cycle {cycle}");
    let dangling: i64 = connection
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |row| {
            row.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0, "cycle {cycle}: dangling foreign keys");

    let exists = |sql: &str, value: &dyn rusqlite::ToSql| -> bool {
        connection
            .query_row(sql, [value], |row| row.get::<_, i64>(0))
            .unwrap()
            > 0
    };
    for (phone, _) in &acknowledged.users {
        assert!(
            exists("SELECT count(*) FROM users WHERE phone = ?1", phone),
            "cycle {cycle}: user {phone} lost"
        );
    }
    for (_, id) in &acknowledged.addresses {
        assert!(
            exists("SELECT count(*) FROM addresses WHERE id = ?1", id),
            "cycle {cycle}: address {id} lost"
        );
    }
    for describe in &acknowledged.credits {
        assert!(
            exists(
                "SELECT count(*) FROM points_records WHERE describe = ?1",
                describe
            ),
            "cycle {cycle}: credit {describe} lost"
        );
    }
    for order_no in &acknowledged.gift_orders {
        assert!(
            exists(
                "SELECT count(*) FROM gift_orders WHERE order_no = ?1",
                order_no
            ),
            "cycle {cycle}: gift order {order_no} lost"
        );
    }
    for order_no in &acknowledged.recharges {
        assert!(
            exists(
                "SELECT count(*) FROM recharge_orders WHERE order_no = ?1",
                order_no
            ),
            "cycle {cycle}: recharge {order_no} lost"
        );
    }
    for order_no in &acknowledged.paid {
        assert!(
            exists(
                "SELECT count(*) FROM recharge_orders WHERE order_no = ?1 AND paid_at IS NOT NULL",
                order_no
            ),
            "cycle {cycle}: payment of {order_no} lost"
        );
    }

    // Ledgers: each entry's surplus is the running sum, never below zero.
    for table in ["points_records", "balance_records"] {
        let mut statement = connection
            .prepare(&format!(
                "SELECT user_id, number, surplus FROM {table} ORDER BY user_id, id"
            ))
            .unwrap();
        let mut rows = statement.query([]).unwrap();
        let (mut user, mut running) = (None, 0_i64);
        while let Some(row) = rows.next().unwrap() {
            let (user_id, number, surplus): (i64, i64, i64) = (
                row.get(0).unwrap(),
                row.get(1).unwrap(),
                row.get(2).unwrap(),
            );
            if user != Some(user_id) {
                (user, running) = (Some(user_id), 0);
            }
            running += number;
            assert_eq!(surplus, running, "cycle {cycle}: {table} of user {user_id}");
            assert!(
                surplus >= 0,
                "cycle {cycle}: {table} of user {user_id} negative"
            );
        }
    }
    let scalar = |sql: &str| -> i64 { connection.query_row(sql, [], |row| row.get(0)).unwrap() };
    // Payments: the only balance income here is a recharge, credited once per paid order.
    assert_eq!(
        scalar(
            "SELECT count(*) FROM (SELECT user_id, sum(price_cents) AS paid FROM recharge_orders
             WHERE paid_at IS NOT NULL GROUP BY user_id) p
             FULL JOIN (SELECT user_id, sum(number) AS credited, count(*) AS entries FROM balance_records
             GROUP BY user_id) b USING (user_id)
             WHERE p.paid IS NOT b.credited"
        ),
        0,
        "cycle {cycle}: a payment credited other than once"
    );
    assert_eq!(
        scalar("SELECT count(*) FROM recharge_orders WHERE paid_at IS NOT NULL"),
        scalar("SELECT count(*) FROM balance_records"),
        "cycle {cycle}: paid orders and balance entries differ"
    );
    // Gift orders: each took its points once and one from stock.
    assert_eq!(
        scalar("SELECT count(*) FROM gift_orders"),
        scalar("SELECT count(*) FROM points_records WHERE number < 0"),
        "cycle {cycle}: gift orders and point spends differ"
    );
    assert_eq!(
        scalar(&format!("SELECT stock FROM gifts WHERE id = {gift_id}")),
        GIFT_STOCK - scalar("SELECT count(*) FROM gift_orders"),
        "cycle {cycle}: stock and gift orders differ"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_moments_the_origin_loses_nothing_it_acknowledged() {
    let cycles: usize = std::env::var("CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(rand::random);
    println!("crash loop: {cycles} cycles, CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("origin.sqlite3");
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (edge_url, delivered) = stand_in_edge().await;

    // The super-admin, created by the CLI before the first start.
    process::create_admin(dir.path(), &edge_url);

    let mut origin = process::start(dir.path(), &edge_url, &[], &client).await;
    let admin_login = client
        .post(format!("{}/api/login", origin.public))
        .header(EDGE_SECRET, SECRET)
        .json(&json!({ "username": "root", "password": PASSWORD, "is_admin": true }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let admin = admin_login["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let gift = client
        .post(format!("{}/admin/gifts", origin.admin))
        .header("token", &admin)
        .json(&json!({ "name": "保温杯", "accumulate_points": GIFT_POINTS, "stock": GIFT_STOCK }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let gift_id = gift["data"]["id"].as_i64().unwrap();

    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let next = Arc::new(AtomicUsize::new(0));
    for cycle in 1..=cycles {
        let workload = Workload {
            client: client.clone(),
            base: origin.public.clone(),
            admin_base: origin.admin.clone(),
            db: Arc::new(db_path.clone()),
            admin: Arc::new(admin.clone()),
            gift_id,
            acknowledged: acknowledged.clone(),
            next: next.clone(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|n| {
                let (workload, stop) = (workload.clone(), stop.clone());
                let mut rng = StdRng::seed_from_u64(seed ^ (cycle * 1000 + n) as u64);
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        if workload.step(&mut rng).await.is_none() {
                            // The server is gone (killed): this request was not acknowledged.
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..700))).await;
        let _ = origin.child.kill(); // SIGKILL
        let _ = origin.child.wait();
        stop.store(true, Ordering::SeqCst);
        for client in clients {
            client.await.expect("a client's assertion failed");
        }

        origin = process::start(dir.path(), &edge_url, &[], &client).await;
        check(&db_path, &acknowledged.lock().unwrap(), gift_id, cycle);
    }

    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    println!(
        "acknowledged and found after {cycles} kills: {} users, {} addresses, {} credits, {} gift orders, {} recharges ({} paid)",
        acknowledged.users.len(),
        acknowledged.addresses.len(),
        acknowledged.credits.len(),
        acknowledged.gift_orders.len(),
        acknowledged.recharges.len(),
        acknowledged.paid.len()
    );
    assert!(
        !acknowledged.paid.is_empty() && !acknowledged.gift_orders.is_empty(),
        "the workload must have reached payments and spends"
    );
    // The edge outbox, interrupted by every kill, still delivers everything.
    let connection = rusqlite::Connection::open(&db_path).unwrap();
    let undelivered = || -> i64 {
        connection
            .query_row(
                "SELECT count(*) FROM edge_outbox WHERE delivered_at IS NULL",
                [],
                |row| row.get(0),
            )
            .unwrap()
    };
    for _ in 0..300 {
        if undelivered() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(undelivered(), 0, "the edge outbox stopped delivering");
    let rows: i64 = connection
        .query_row("SELECT count(*) FROM edge_outbox", [], |row| row.get(0))
        .unwrap();
    assert!(rows > 0 && delivered.load(Ordering::SeqCst) >= rows as usize);
    drop(origin);
}
