//! Drives the whole system as clients see it: starts the origin and `wrangler dev` with fresh
//! state on free ports, waits until both answer, and offers the client flows of both
//! documents through the edge. Used by the end-to-end suite and by the benchmark. `browser`
//! drives headless Chromium for the browser tests of the operator console.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tempfile::TempDir;

pub mod browser;
pub mod registry;
pub mod wechat;

pub const PASSWORD: &str = "correct-horse-9";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// The one browser origin the edge allows in the end-to-end system (`CORS_ALLOWED_ORIGINS`).
pub const CORS_ORIGIN: &str = "https://h5.example.test";

/// Which origin binary to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    Debug,
    Release,
}

/// The origin and `wrangler dev`, running; stopped when dropped.
pub struct System {
    pub root: PathBuf,
    pub dir: TempDir,
    pub edge: String,
    pub origin_public: String,
    pub origin_admin: String,
    pub edge_secret: String,
    pub client: reqwest::Client,
    /// The WeChat stand-in the origin's WeChat sign-in talks to (`ORIGIN_WECHAT_*`).
    pub wechat: wechat::WechatStandIn,
    origin_binary: PathBuf,
    origin_env: Vec<(String, String)>,
    origin: Mutex<Option<Child>>,
    wrangler: Mutex<Option<Child>>,
    admin_token: Mutex<Option<String>>,
    counter: AtomicU32,
}

/// A port nothing listens on now (it may be taken before the caller binds it).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Sends `signal` (a name such as `TERM`) to the process group `child` leads.
fn signal_group(child: &Child, signal: &str) -> anyhow::Result<()> {
    let group = format!("-{}", child.id());
    let status = Command::new("kill")
        .args(["-s", signal, "--", &group])
        .status()?;
    anyhow::ensure!(status.success(), "kill -s {signal} -- {group} failed");
    Ok(())
}

/// Stops a child and everything it started (it leads its own process group).
fn stop(child: &mut Child) {
    let _ = signal_group(child, "TERM");
    // A frozen group (`System::freeze_edge`) acts on the TERM only once it runs again.
    let _ = signal_group(child, "CONT");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = signal_group(child, "KILL");
    let _ = child.wait();
}

fn spawn_logged(mut command: Command, log: &Path) -> anyhow::Result<Child> {
    use std::os::unix::process::CommandExt;
    let file = std::fs::File::create(log)?;
    command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {command:?}"))
}

async fn wait_until_answering(
    client: &reqwest::Client,
    url: &str,
    within: Duration,
    log: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if client.get(url).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tail = std::fs::read_to_string(log).unwrap_or_default();
    bail!("{url} did not answer within {within:?}; log:\n{tail}")
}

impl System {
    /// Starts origin and edge with fresh state. Needs the origin binary and `edge/build`
    /// (scripts/test.sh builds both first).
    pub async fn start(build: Build) -> anyhow::Result<System> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .canonicalize()?;
        anyhow::ensure!(
            root.join("edge/build/index.js").exists(),
            "edge/build is missing: run scripts/build-edge.sh"
        );
        let origin_binary = root
            .join("target")
            .join(match build {
                Build::Debug => "debug",
                Build::Release => "release",
            })
            .join("origin");
        let system = System::start_origin_only(build, origin_binary).await?;
        system.start_edge().await?;
        system.create_admin("root", ADMIN_PASSWORD)?;
        Ok(system)
    }

    /// Starts only the origin, from `origin_binary`, with fresh state (no `wrangler dev`: the
    /// edge's helpers do not work, and there is no admin; the benchmark's A/B mode uses it to
    /// run two builds side by side).
    pub async fn start_origin_only(build: Build, origin_binary: PathBuf) -> anyhow::Result<System> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .canonicalize()?;
        anyhow::ensure!(
            origin_binary.exists(),
            "{} is missing: build it first (scripts/test.sh)",
            origin_binary.display()
        );

        let dir = tempfile::tempdir()?;
        let (public_port, admin_port, edge_port) = (free_port()?, free_port()?, free_port()?);
        let edge = format!("http://127.0.0.1:{edge_port}");
        // WeChat sign-in is configured as in production, with the stand-in's base URL.
        let wechat = wechat::WechatStandIn::start().await?;
        let origin_env = vec![
            ("ORIGIN_WECHAT_API_BASE".to_owned(), wechat.base_url.clone()),
            ("ORIGIN_WECHAT_APP_ID".to_owned(), wechat::APP_ID.to_owned()),
            (
                "ORIGIN_WECHAT_APP_SECRET".to_owned(),
                wechat::APP_SECRET.to_owned(),
            ),
            (
                "ORIGIN_WECHAT_MINI_APP_ID".to_owned(),
                wechat::MINI_APP_ID.to_owned(),
            ),
            (
                "ORIGIN_WECHAT_MINI_APP_SECRET".to_owned(),
                wechat::MINI_APP_SECRET.to_owned(),
            ),
            (
                "ORIGIN_DATA_DIR".to_owned(),
                dir.path().join("data").display().to_string(),
            ),
            (
                "ORIGIN_PUBLIC_ADDR".to_owned(),
                format!("127.0.0.1:{public_port}"),
            ),
            (
                "ORIGIN_ADMIN_ADDR".to_owned(),
                format!("127.0.0.1:{admin_port}"),
            ),
            ("ORIGIN_EDGE_URL".to_owned(), edge.clone()),
            // The end-to-end suite tells which requests reached the origin by their ids in its
            // log (`System::origin_saw`); the benchmark keeps the origin quiet.
            (
                "RUST_LOG".to_owned(),
                match build {
                    Build::Debug => "warn,origin::http=info,tower_http::trace::on_request=debug",
                    Build::Release => "warn",
                }
                .to_owned(),
            ),
            ("NO_COLOR".to_owned(), "1".to_owned()),
        ];
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?;
        let mut system = System {
            root: root.clone(),
            edge: edge.clone(),
            origin_public: format!("http://127.0.0.1:{public_port}"),
            origin_admin: format!("http://127.0.0.1:{admin_port}"),
            edge_secret: String::new(),
            client,
            wechat,
            origin_binary,
            origin_env,
            origin: Mutex::new(None),
            wrangler: Mutex::new(None),
            admin_token: Mutex::new(None),
            counter: AtomicU32::new(1),
            dir,
        };
        system.start_origin().await?;
        let edge_secret =
            std::fs::read_to_string(system.dir.path().join("data/secrets/edge_shared_secret"))?
                .trim()
                .to_owned();
        system.edge_secret = edge_secret;
        Ok(system)
    }

    /// Starts `wrangler dev` in front of the running origin.
    async fn start_edge(&self) -> anyhow::Result<()> {
        let (system, root, edge) = (self, &self.root, &self.edge);
        let edge_port = edge.rsplit(':').next().unwrap_or_default().to_owned();
        let inspector_port = free_port()?;
        let edge_secret = &self.edge_secret;
        let env_file = system.dir.path().join("edge.vars");
        std::fs::write(&env_file, format!("EDGE_SHARED_SECRET={edge_secret}\n"))?;

        let node_bin = root.join("node_modules/.bin");
        let path = format!(
            "{}:{}",
            node_bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut wrangler = Command::new(node_bin.join("wrangler"));
        wrangler
            .current_dir(root)
            .args(["dev", "--ip", "127.0.0.1", "--port", &edge_port])
            .args(["--inspector-port", &inspector_port.to_string()])
            .args([
                "--show-interactive-dev-session=false",
                "--log-level",
                "warn",
            ])
            .arg("--persist-to")
            .arg(system.dir.path().join("wrangler-state"))
            .arg("--env-file")
            .arg(&env_file)
            .args(["--var", &format!("ORIGIN_URL:{}", system.origin_public)])
            .args(["--var", "EDGE_TEST_PANIC_ROUTE:1"])
            .args(["--var", &format!("CORS_ALLOWED_ORIGINS:{CORS_ORIGIN}")])
            .env("PATH", path)
            .env("EDGE_SKIP_BUILD", "1")
            .env("WRANGLER_SEND_METRICS", "false")
            .env("WRANGLER_SEND_ERROR_REPORTS", "false")
            .env("DO_NOT_TRACK", "1")
            .env("WRANGLER_NO_SKILLS_UPDATE_PROMPTS", "1")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false");
        let log = system.dir.path().join("wrangler.log");
        *system.wrangler.lock().unwrap() = Some(spawn_logged(wrangler, &log)?);
        wait_until_answering(
            &system.client,
            &format!("{edge}/__edge/health"),
            Duration::from_secs(120),
            &log,
        )
        .await
    }

    /// Starts (or restarts) the origin on its ports with its data directory.
    pub async fn start_origin(&self) -> anyhow::Result<()> {
        let mut command = Command::new(&self.origin_binary);
        command.arg("serve").envs(self.origin_env.iter().cloned());
        let log = self.dir.path().join("origin.log");
        let child = spawn_logged(command, &log)?;
        *self.origin.lock().unwrap() = Some(child);
        wait_until_answering(
            &self.client,
            &format!("{}/", self.origin_public),
            Duration::from_secs(30),
            &log,
        )
        .await
    }

    /// The process ids of the origin and of `wrangler dev`; each leads its own process group.
    pub fn process_ids(&self) -> (Option<u32>, Option<u32>) {
        let id = |child: &Mutex<Option<Child>>| child.lock().unwrap().as_ref().map(Child::id);
        (id(&self.origin), id(&self.wrangler))
    }

    /// Freezes (`true`) or thaws (`false`) `wrangler dev` and everything it started, with
    /// SIGSTOP / SIGCONT to its process group. The benchmark freezes it while it measures the
    /// origin alone: even idle, its Node process wakes every ~0.6 s and runs several threads for
    /// milliseconds, which on two cores shows up in the origin's tail latency.
    pub fn freeze_edge(&self, frozen: bool) -> anyhow::Result<()> {
        // Nothing to freeze when only the origin runs (`start_origin_only`).
        match self.wrangler.lock().unwrap().as_ref() {
            Some(child) => signal_group(child, if frozen { "STOP" } else { "CONT" }),
            None => Ok(()),
        }
    }

    pub fn stop_origin(&self) {
        if let Some(mut child) = self.origin.lock().unwrap().take() {
            stop(&mut child);
        }
    }

    /// Runs `origin admin create` (the operator command) against this system's data.
    pub fn create_admin(&self, username: &str, password: &str) -> anyhow::Result<()> {
        use std::io::Write;
        let mut child = Command::new(&self.origin_binary)
            .args(["admin", "create", "--username", username])
            .envs(self.origin_env.iter().cloned())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        child
            .stdin
            .take()
            .context("stdin")?
            .write_all(password.as_bytes())?;
        let output = child.wait_with_output()?;
        anyhow::ensure!(
            output.status.success(),
            "admin create failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    pub fn origin_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("origin.log")).unwrap_or_default()
    }

    /// Whether a request with this `x-request-id` reached the origin (debug builds log every
    /// request the origin starts, with its id, before handling it).
    pub fn origin_saw(&self, request_id: &str) -> bool {
        self.origin_log().contains(&format!("id={request_id} "))
    }

    // -- Requests ------------------------------------------------------------------------------

    /// A request through the edge, from a client at a fresh IP (so per-IP limits of one
    /// scenario do not spill into another).
    pub fn edge(&self, method: Method, path: &str) -> RequestBuilder {
        self.edge_from(method, path, &self.fresh_ip())
    }

    /// A request through the edge from a given client IP (`CF-Connecting-IP`, which
    /// `wrangler dev` passes through as Cloudflare would set it).
    pub fn edge_from(&self, method: Method, path: &str, ip: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.edge))
            .header("cf-connecting-ip", ip)
    }

    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.origin_admin))
    }

    /// A client in a network of its own: per-network limits count an IPv6 /64 as one client,
    /// so each fresh address gets a /64 of its own.
    pub fn fresh_ip(&self) -> String {
        format!("{}::1", self.fresh_network())
    }

    /// The first four groups of a fresh IPv6 /64 (`2001:db8:N:0`): append `::1`, or four more
    /// groups, for addresses inside it.
    pub fn fresh_network(&self) -> String {
        format!(
            "2001:db8:{:x}:0",
            self.counter.fetch_add(1, Ordering::SeqCst)
        )
    }

    pub fn fresh_phone(&self) -> String {
        format!("139{:08}", self.counter.fetch_add(1, Ordering::SeqCst))
    }

    pub fn fresh_name(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.counter.fetch_add(1, Ordering::SeqCst))
    }

    // -- Flows ---------------------------------------------------------------------------------

    /// An admin token for `root`, signed in through the edge with `is_admin`.
    pub async fn admin_token(&self) -> anyhow::Result<String> {
        if let Some(token) = self.admin_token.lock().unwrap().clone() {
            return Ok(token);
        }
        // Through the edge; straight to the origin (with the edge secret) when only the
        // origin runs.
        let login = if self.wrangler.lock().unwrap().is_some() {
            self.edge(Method::POST, "/api/login")
        } else {
            self.client
                .post(format!("{}/api/login", self.origin_public))
                .header(shared::headers::EDGE_SECRET, &self.edge_secret)
                .header(shared::headers::CLIENT_IP, self.fresh_ip())
        };
        let body = json_of(
            login
                .json(&json!({ "username": "root", "password": ADMIN_PASSWORD, "is_admin": true }))
                .send()
                .await?,
            200,
        )
        .await?;
        let token = str_at(&body, "/data/access_token")?;
        *self.admin_token.lock().unwrap() = Some(token.clone());
        Ok(token)
    }

    /// The newest outbox code for `to` (a phone, e-mail or captcha key).
    pub async fn outbox_code(&self, to: &str) -> anyhow::Result<String> {
        let token = self.admin_token().await?;
        let response = self
            .admin(Method::GET, "/admin/outbox")
            .header("token", token)
            .query(&[("to", to)])
            .send()
            .await?;
        str_at(&json_of(response, 200).await?, "/data/0/code")
    }

    pub async fn invitation(&self) -> anyhow::Result<String> {
        let token = self.admin_token().await?;
        let response = self
            .admin(Method::POST, "/admin/invitation_codes")
            .header("token", token)
            .json(&json!({ "uses": 1 }))
            .send()
            .await?;
        str_at(&json_of(response, 201).await?, "/data/code")
    }

    /// Registers a store user through the edge; returns the response's `data`.
    pub async fn register_store(&self, username: &str) -> anyhow::Result<Value> {
        let invitation = self.invitation().await?;
        let captcha = json_of(
            self.edge(Method::POST, "/api/captchas")
                .query(&[("username", username)])
                .send()
                .await?,
            201,
        )
        .await?;
        let key = str_at(&captcha, "/data/captcha_key")?;
        let answer = self.outbox_code(&key).await?;
        let registration = [
            ("name", "E2E"),
            ("username", username),
            ("password", PASSWORD),
            ("password_confirmation", PASSWORD),
            ("invitation_code", &invitation),
            ("captcha_key", &key),
            ("captcha_code", &answer),
        ];
        let response = self
            .edge(Method::POST, "/api/auth/register")
            .query(&registration)
            .send()
            .await?;
        Ok(json_of(response, 201).await?["data"].clone())
    }

    /// Sends an SMS code through the edge; returns `(verification_token, code)`.
    pub async fn sms_code(
        &self,
        phone: &str,
        is_register: bool,
    ) -> anyhow::Result<(String, String)> {
        let response = self
            .edge(Method::POST, "/api/sms")
            .json(&json!({ "phone": phone, "is_register": is_register }))
            .send()
            .await?;
        let token = str_at(&json_of(response, 201).await?, "/data/verification_token")?;
        Ok((token, self.outbox_code(phone).await?))
    }

    /// Registers a print user by phone through the edge; returns the token `data`.
    pub async fn register_print(&self, phone: &str) -> anyhow::Result<Value> {
        let (token, code) = self.sms_code(phone, true).await?;
        let response = self
            .edge(Method::POST, "/api/register")
            .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
            .send()
            .await?;
        Ok(json_of(response, 201).await?["data"].clone())
    }
}

impl Drop for System {
    fn drop(&mut self) {
        for process in [&self.wrangler, &self.origin] {
            if let Some(mut child) = process.lock().unwrap_or_else(|e| e.into_inner()).take() {
                stop(&mut child);
            }
        }
    }
}

/// Checks the status and returns the JSON body.
pub async fn json_of(response: Response, status: u16) -> anyhow::Result<Value> {
    let actual = response.status().as_u16();
    let text = response.text().await?;
    anyhow::ensure!(actual == status, "expected {status}, got {actual}: {text}");
    serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))
}

/// A string at a JSON pointer.
pub fn str_at(value: &Value, pointer: &str) -> anyhow::Result<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no string at {pointer} in {value}"))
}

/// A sandbox gateway callback for `order_no`, signed with `secret` (HMAC-SHA256 over the sorted
/// `k=v` pairs, `sign` last), computed here independently of the origin's code. The end-to-end
/// suite and the origin's integration tests both pay with it.
pub fn sandbox_notify_form(
    secret: &str,
    order_no: &str,
    amount: &str,
    trade_no: &str,
) -> Vec<(String, String)> {
    use hmac::Mac;
    let fields: std::collections::BTreeMap<&str, &str> = [
        ("order_no", order_no),
        ("amount", amount),
        ("trade_no", trade_no),
    ]
    .into_iter()
    .collect();
    let message = fields
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(message.as_bytes());
    let mut form: Vec<(String, String)> = fields
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    form.push(("sign".into(), hex::encode(mac.finalize().into_bytes())));
    form
}

pub mod standins;

/// Hand-made JWTs for the negative token suite: any header, any claims, any signature.
pub mod forge {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::{Signer, SigningKey};
    use hmac::Mac;
    use serde_json::Value;

    /// `header.claims.signature`, the signature made by `sign` over `header.claims`.
    pub fn token(header: &Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = URL_SAFE_NO_PAD.encode(sign(signed.as_bytes()));
        format!("{signed}.{signature}")
    }

    pub fn eddsa(seed: [u8; 32]) -> impl Fn(&[u8]) -> Vec<u8> {
        let key = SigningKey::from_bytes(&seed);
        move |message| key.sign(message).to_bytes().to_vec()
    }

    /// HMAC-SHA256 keyed by `secret`: with the public key as the secret, the algorithm-swap attack.
    pub fn hs256(secret: Vec<u8>) -> impl Fn(&[u8]) -> Vec<u8> {
        move |message| {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).expect("any key");
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
    }

    /// The claims of a real token.
    pub fn claims_of(token: &str) -> anyhow::Result<Value> {
        let payload = token
            .split('.')
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("not a JWT"))?;
        Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
    }

    /// The origin's signing seed, from its data directory.
    pub fn seed(data_dir: &std::path::Path) -> anyhow::Result<[u8; 32]> {
        let hex_seed = std::fs::read_to_string(data_dir.join("secrets/jwt_ed25519.seed"))?;
        hex::decode(hex_seed.trim())?
            .try_into()
            .map_err(|_| anyhow::anyhow!("seed is not 32 bytes"))
    }
}
