//! The origin as its own process (`origin serve` from the built binary), for what only the
//! binary does: crash recovery, thread placement.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Client;
use tests::free_port;

pub const SECRET: &str = "process-test-edge-secret";
pub const PAY_SECRET: &str = "process-test-pay-secret";

pub struct Origin {
    pub child: Child,
    pub public: String,
    pub admin: String,
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The origin binary with this module's secrets, data in `dir`, invalidations to `edge_url`.
pub fn command(dir: &Path, edge_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_origin"));
    command
        .env("ORIGIN_DATA_DIR", dir)
        .env("ORIGIN_EDGE_URL", edge_url)
        .env("EDGE_SHARED_SECRET", SECRET)
        .env("ORIGIN_PAY_SANDBOX_SECRET", PAY_SECRET)
        .env("ORIGIN_HASH_WORKERS", "2")
        .env("RUST_LOG", "error");
    command
}

/// Starts `origin serve` with `extra_env` on free ports and waits until it answers.
pub async fn start(
    dir: &Path,
    edge_url: &str,
    extra_env: &[(&str, &str)],
    client: &Client,
) -> Origin {
    start_logged(dir, edge_url, extra_env, client, None).await
}

/// Like [`start`], with the process's stderr (its log) written to `log` when given: the file
/// holds only the attempt that came up.
pub async fn start_logged(
    dir: &Path,
    edge_url: &str,
    extra_env: &[(&str, &str)],
    client: &Client,
    log: Option<&Path>,
) -> Origin {
    // A port found free may be taken before the origin binds it (the clients' own outgoing
    // connections draw from the same range): then the origin exits, and we try other ports.
    for _ in 0..5 {
        let (public, admin) = (free_port().unwrap(), free_port().unwrap());
        let stderr = match log {
            Some(log) => Stdio::from(std::fs::File::create(log).unwrap()),
            None => Stdio::inherit(),
        };
        let child = command(dir, edge_url)
            .envs(extra_env.iter().copied())
            .env("ORIGIN_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
            .env("ORIGIN_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut origin = Origin {
            child,
            public: format!("http://127.0.0.1:{public}"),
            admin: format!("http://127.0.0.1:{admin}"),
        };
        // The admin listener's liveness probe: both listeners are bound before either serves,
        // and the public one's request log stays free of probes.
        for _ in 0..500 {
            if origin.child.try_wait().unwrap().is_some() {
                break;
            }
            let alive = client.get(format!("{}/healthz", origin.admin)).send().await;
            if alive.is_ok_and(|r| r.status() == 200) {
                return origin;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("the origin did not come up");
}

/// Creates (or resets) the super-admin `root` with the test password through the CLI, as an
/// operator would before the first start.
pub fn create_admin(dir: &Path, edge_url: &str) {
    let mut create = command(dir, edge_url)
        .args(["admin", "create", "--username", "root"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        writeln!(create.stdin.take().unwrap(), "{}", super::PASSWORD).unwrap();
    }
    assert!(create.wait().unwrap().success());
}

/// An admin token for `root` from the admin listener's own sign-in (`POST /admin/login`).
pub async fn admin_token(client: &Client, admin: &str) -> String {
    let body: serde_json::Value = client
        .post(format!("{admin}/admin/login"))
        .form(&[("username", "root"), ("password", super::PASSWORD)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["access_token"].as_str().unwrap().to_owned()
}

/// The invitation codes in a database file (the writes the restore tests count).
pub fn codes_in<C: FromIterator<String>>(database: &Path) -> C {
    let connection = rusqlite::Connection::open(database).unwrap();
    let mut statement = connection
        .prepare("SELECT code FROM invitation_codes")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<rusqlite::Result<C>>()
        .unwrap()
}
