//! `TestApp`: a real origin on `127.0.0.1:0` with a fresh SQLite file in a temporary directory,
//! driven over real HTTP. Fixture builders for the common flows live beside it.

pub mod process;

pub use tests::sandbox_notify_form;

use std::sync::atomic::{AtomicU32, Ordering};

use origin::AppState;
use origin::config::Config;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use shared::headers::{CLIENT_IP, EDGE_SECRET};
use tempfile::TempDir;
use tokio::net::TcpListener;

pub const PASSWORD: &str = "correct-horse-9";

pub struct TestApp {
    pub public: String,
    pub admin: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub dir: TempDir,
    next_phone: AtomicU32,
    _stop_edge_sync: tokio::sync::watch::Sender<bool>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::with_defaults(dir.path()).unwrap();
        config.hash_workers = 2;
        // Nothing listens on the discard port: edge deliveries fail at once.
        config.edge_url = "http://127.0.0.1:9".into();
        adjust(&mut config);
        let state = AppState::open(config).unwrap();
        let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public_url = format!("http://{}", public.local_addr().unwrap());
        let admin_url = format!("http://{}", admin.local_addr().unwrap());
        let limits = origin::ListenerLimits::of(&state.config);
        tokio::spawn(origin::serve(
            public,
            origin::public_router(state.clone()),
            limits,
            std::future::pending(),
        ));
        tokio::spawn(origin::serve(
            admin,
            origin::admin_router(state.clone()),
            limits,
            std::future::pending(),
        ));
        // Edge delivery runs as in production; with no edge listening (the default URL) each
        // attempt fails at once and the entry stays queued, which tests can inspect.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(origin::edge_sync::run(state.clone(), stopped.clone()));
        // SMS and e-mail go out as in production: the outbox by default, or a test's provider
        // stand-in.
        let senders = origin::delivery::Senders::new(&state.config.notify).unwrap();
        tokio::spawn(origin::delivery::run(
            state.clone(),
            std::sync::Arc::new(senders),
            stopped,
        ));
        TestApp {
            public: public_url,
            admin: admin_url,
            state,
            client: reqwest::Client::new(),
            dir,
            next_phone: AtomicU32::new(0),
            _stop_edge_sync: stop,
        }
    }

    /// A request to the public listener, carrying the edge secret as the edge would.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_from(method, path, "203.0.113.1")
    }

    /// A request as the edge forwards it for a client at `ip`.
    pub fn request_from(&self, method: Method, path: &str, ip: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.public, path))
            .header(EDGE_SECRET, self.state.config.edge_secret.expose())
            .header(CLIENT_IP, ip)
    }

    /// Users other than the `root` admin the fixtures create.
    pub fn user_count(&self) -> i64 {
        self.count("SELECT count(*) FROM users WHERE account IS NOT 'root'")
    }

    /// A JSON request to the admin listener with an admin token.
    pub async fn admin_call(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> Response {
        self.admin_request(method, path)
            .header("token", token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub fn admin_request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.admin, path))
    }

    /// Queues an edge instruction for `user` as if written `age_secs` ago; the test app's edge
    /// is unreachable, so it stays queued.
    pub async fn queue_edge_bump(&self, user: i64, age_secs: i64) {
        self.state
            .db
            .write(move |tx| {
                origin::db::edge_outbox::enqueue(
                    tx,
                    &[shared::invalidate::Instruction::Bump { user }],
                    origin::clock::now() - age_secs,
                )
            })
            .await
            .unwrap();
    }

    /// A direct connection to the test's SQLite file, to assert effects.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.state.config.database_path()).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |row| row.get(0)).unwrap()
    }

    /// A client IP no other request of this app used.
    pub fn fresh_ip(&self) -> String {
        let n = self.next_phone.fetch_add(1, Ordering::SeqCst);
        format!("198.51.{}.{}", n / 250, n % 250 + 1)
    }

    /// A fresh mainland mobile number for this app.
    pub fn phone(&self) -> String {
        format!(
            "1380000{:04}",
            self.next_phone.fetch_add(1, Ordering::SeqCst)
        )
    }

    // -- Admin -------------------------------------------------------------------------------

    /// Creates (or resets) the super-admin `root` and signs in as admin.
    pub async fn admin_token(&self) -> String {
        origin::domain::identity::create_super_admin(&self.state, "root".into(), PASSWORD.into())
            .await
            .unwrap();
        let body = self.print_login("root", PASSWORD, true).await;
        body["data"]["access_token"].as_str().unwrap().to_owned()
    }

    /// The newest outbox code sent to `to`.
    pub async fn outbox_code(&self, to: &str) -> String {
        let token = self.admin_token().await;
        let response = self
            .admin_request(Method::GET, "/admin/outbox")
            .header("token", token)
            .query(&[("to", to)])
            .send()
            .await
            .unwrap();
        let body = json_of(response, 200).await;
        body["data"][0]["code"].as_str().unwrap().to_owned()
    }

    pub async fn invitation(&self, uses: i64) -> String {
        let invitation = origin::domain::admin::NewInvitation::new(uses, None).unwrap();
        origin::domain::admin::create_invitation(
            &self.state,
            origin::db::audit::Actor::cli(),
            invitation,
        )
        .await
        .unwrap()
        .code
    }

    // -- Store -------------------------------------------------------------------------------

    /// A captcha key and its answer (read from the outbox, as a tool would).
    pub async fn captcha(&self, username: &str) -> (String, String) {
        let response = self
            .request(Method::POST, "/api/captchas")
            .query(&[("username", username)])
            .send()
            .await
            .unwrap();
        let body = json_of(response, 201).await;
        let key = body["data"]["captcha_key"].as_str().unwrap().to_owned();
        let answer = self.outbox_code(&key).await;
        (key, answer)
    }

    pub fn store_registration(
        &self,
        username: &str,
        invitation: &str,
        key: &str,
        answer: &str,
    ) -> Value {
        json!({
            "name": "Ann",
            "username": username,
            "password": PASSWORD,
            "password_confirmation": PASSWORD,
            "invitation_code": invitation,
            "captcha_key": key,
            "captcha_code": answer,
        })
    }

    /// Registers a store user; returns the response's `data`.
    pub async fn register_store(&self, username: &str) -> Value {
        let invitation = self.invitation(1).await;
        let (key, answer) = self.captcha(username).await;
        let response = self
            .request(Method::POST, "/api/auth/register")
            .json(&self.store_registration(username, &invitation, &key, &answer))
            .send()
            .await
            .unwrap();
        json_of(response, 201).await["data"].clone()
    }

    pub async fn store_login(&self, username: &str, password: &str) -> Response {
        self.request(Method::POST, "/api/auth/login")
            .json(&json!({ "username": username, "password": password }))
            .send()
            .await
            .unwrap()
    }

    // -- Print -------------------------------------------------------------------------------

    /// Sends an SMS code (from a fresh client IP) and returns `(verification_token, code)`.
    pub async fn sms_code(&self, phone: &str, is_register: bool) -> (String, String) {
        let response = self
            .request_from(Method::POST, "/api/sms", &self.fresh_ip())
            .json(&json!({ "phone": phone, "is_register": is_register }))
            .send()
            .await
            .unwrap();
        let body = json_of(response, 201).await;
        let token = body["data"]["verification_token"]
            .as_str()
            .unwrap()
            .to_owned();
        (token, self.outbox_code(phone).await)
    }

    /// Registers a print user by phone; returns the token `data`.
    pub async fn register_print(&self, phone: &str) -> Value {
        let (token, code) = self.sms_code(phone, true).await;
        let response = self
            .request(Method::POST, "/api/register")
            .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        json_of(response, 201).await["data"].clone()
    }

    pub async fn print_login(&self, username: &str, password: &str, is_admin: bool) -> Value {
        let response = self
            .request(Method::POST, "/api/login")
            .json(&json!({ "username": username, "password": password, "is_admin": is_admin }))
            .send()
            .await
            .unwrap();
        json_of(response, 200).await
    }
}

/// Asserts the status (and that the JSON envelope agrees where it carries an HTTP code), and
/// returns the body.
pub async fn json_of(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts a print error envelope: HTTP status = `code`, and the `error_code`.
pub async fn print_error(response: Response, status: u16, error_code: u64) -> Value {
    let body = json_of(response, status).await;
    assert_eq!(body["status"], "error", "{body}");
    assert_eq!(body["code"], status, "{body}");
    assert_eq!(body["error_code"], error_code, "{body}");
    body
}

/// A refusal's `Retry-After`, in seconds.
pub fn retry_after(response: &Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Asserts a store error envelope.
pub async fn store_error(response: Response, status: u16, code: u64) -> Value {
    let body = json_of(response, status).await;
    assert_eq!(body["code"], code, "{body}");
    body
}

impl TestApp {
    /// Moves every sent code two minutes into the past, so per-minute limits let the next one
    /// through (tests that need two codes for one phone).
    pub fn age_codes(&self) {
        self.db()
            .execute(
                "UPDATE verification_codes SET created_at = created_at - 120",
                [],
            )
            .unwrap();
    }

    /// A freshly registered print user: `(access token, user id)`.
    pub async fn member(&self) -> (String, i64) {
        let token = self.register_print(&self.phone()).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let me = json_of(self.get_with_token("/api/users/self", &token).await, 200).await;
        (token, me["data"]["id"].as_i64().unwrap())
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path)
            .header("token", token)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_with_bearer(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

/// A print-dialect address that passes validation.
pub fn print_address() -> Value {
    json!({
        "name": "张三", "phone": "13800001111", "province": "广东省", "city": "深圳市",
        "county": "南山区", "detail": "科技园 1 号",
    })
}
