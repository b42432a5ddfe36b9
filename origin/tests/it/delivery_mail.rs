//! E-mail end to end against a real SMTP server (aiosmtpd, `tests/smtp/sink.py`, installed by
//! `scripts/setup-smtp.sh`): `/api/mail` → the worker sends through lettre → the message
//! arrives, a proper one (From, subject, date, UTF-8 Chinese body with the code and its
//! lifetime) → its code registers the user. With the server down, the code waits and arrives
//! once it is back. Over TLS (from the first byte, and STARTTLS), the mail reaches a server whose
//! certificate a private CA issued only when `ORIGIN_SMTP_CA_FILE` trusts that CA.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use origin::config::Secret;
use origin::notify::MailProvider;
use origin::notify::settings::SmtpMail;
use reqwest::Method;
use serde_json::json;

use crate::support::{PASSWORD, TestApp, json_of};

/// aiosmtpd on `port`, writing what it receives into `directory`; stopped when dropped.
struct SmtpServer(Child);

impl SmtpServer {
    fn start(port: u16, directory: &Path) -> SmtpServer {
        SmtpServer::start_with(port, directory, &[])
    }

    /// With TLS: `mode` is `wrapper` (TLS from the first byte) or `starttls` (required before
    /// any mail), with the certificate and key in these PEM files.
    fn start_tls(port: u16, directory: &Path, mode: &str, cert: &Path, key: &Path) -> SmtpServer {
        let tls = [mode.to_owned(), path_text(cert), path_text(key)];
        SmtpServer::start_with(port, directory, &tls)
    }

    fn start_with(port: u16, directory: &Path, tls: &[String]) -> SmtpServer {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let setup = Command::new("bash")
            .arg(root.join("scripts/setup-smtp.sh"))
            .output()
            .unwrap();
        assert!(
            setup.status.success(),
            "{}",
            String::from_utf8_lossy(&setup.stderr)
        );
        let python = String::from_utf8(setup.stdout).unwrap().trim().to_owned();
        let mut child = Command::new(python)
            .arg(root.join("tests/smtp/sink.py"))
            .arg(port.to_string())
            .arg(directory)
            .args(tls)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "ready");
        SmtpServer(child)
    }
}

fn path_text(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

/// A throwaway CA (its PEM) and a certificate it issued for 127.0.0.1, written with its key into
/// `directory` as `server.pem` and `server.key`.
fn private_ca_and_server_certificate(directory: &Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(directory.join("server.pem"), server.pem()).unwrap();
    std::fs::write(directory.join("server.key"), key.serialize_pem()).unwrap();
    ca.pem()
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

fn messages(directory: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(directory)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    found.sort();
    found
}

async fn wait_for_message(directory: &Path, seconds: u64) -> String {
    for _ in 0..seconds * 10 {
        if let Some(path) = messages(directory).first() {
            return std::fs::read_to_string(path).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no message arrived in {seconds} s");
}

/// The text of a single-part message, its transfer encoding undone (lettre picks
/// quoted-printable or base64 for a non-ASCII body).
fn body_text(raw: &str) -> String {
    let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
    let encoding = headers.to_ascii_lowercase();
    if encoding.contains("content-transfer-encoding: base64") {
        use base64::Engine;
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap(),
        )
        .unwrap()
    } else if encoding.contains("content-transfer-encoding: quoted-printable") {
        let mut bytes = Vec::new();
        let unfolded = body.replace("=\r\n", "");
        let mut rest = unfolded.as_bytes();
        while let Some((&byte, tail)) = rest.split_first() {
            if byte == b'=' && tail.len() >= 2 {
                bytes.push(
                    u8::from_str_radix(std::str::from_utf8(&tail[..2]).unwrap(), 16).unwrap(),
                );
                rest = &tail[2..];
            } else {
                bytes.push(byte);
                rest = tail;
            }
        }
        String::from_utf8(bytes).unwrap()
    } else {
        body.to_owned()
    }
}

fn use_smtp(config: &mut origin::config::Config, port: u16) {
    config.notify.mail = MailProvider::Smtp(SmtpMail {
        url: Secret::new(format!("smtp://127.0.0.1:{port}")),
        from: "会员中心 <no-reply@shop.example>".into(),
        extra_roots: None,
    });
    config.notify.retry_first_secs = 1;
}

/// Whether `count_sql` counts something within `seconds`, looking every 100 ms.
async fn counted_within(app: &TestApp, count_sql: &str, seconds: u64) -> bool {
    for _ in 0..seconds * 10 {
        if app.count(count_sql) > 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

pub(crate) async fn request_mail_code(app: &TestApp, email: &str) -> String {
    let response = app
        .request(Method::POST, "/api/mail")
        .json(&json!({ "email": email, "is_register": true }))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await["data"]["verification_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The six digits after `验证码是 `.
fn code_in(text: &str) -> String {
    let start = text.find("验证码是 ").expect("the body names the code") + "验证码是 ".len();
    text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

async fn register(app: &TestApp, token: &str, code: &str) {
    let response = app
        .request(Method::POST, "/api/register")
        .json(&json!({ "verification_token": token, "verification_code": code, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await;
}

#[tokio::test]
async fn a_mail_code_arrives_at_the_smtp_server_as_a_proper_message_and_registers_the_user() {
    let inbox = tempfile::tempdir().unwrap();
    let port = tests::free_port().unwrap();
    let _server = SmtpServer::start(port, inbox.path());
    let app = TestApp::spawn_with(|config| use_smtp(config, port)).await;
    let token = request_mail_code(&app, "mia@example.com").await;
    let raw = wait_for_message(inbox.path(), 10).await;
    let headers = raw.split("\r\n\r\n").next().unwrap();
    for header in [
        "From: ",
        "To: mia@example.com",
        "Subject: ",
        "Date: ",
        "Message-ID: <",
        "charset=utf-8",
    ] {
        assert!(headers.contains(header), "{header} missing:\n{headers}");
    }
    assert!(headers.contains("no-reply@shop.example"), "{headers}");
    let text = body_text(&raw);
    assert!(text.contains("5 分钟内有效"), "{text}");
    let code = code_in(&text);
    assert_eq!(code.len(), 6, "{text}");
    register(&app, &token, &code).await;
    let status: (String, i64, String) = app
        .db()
        .query_row(
            "SELECT status, attempts, provider_message_id FROM deliveries",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    assert_eq!((status.0.as_str(), status.1), ("sent", 1));
    assert!(
        headers.contains(&format!("Message-ID: {}", status.2)),
        "{headers}"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE sealed IS NOT NULL"),
        0
    );
}

#[tokio::test]
async fn a_mail_code_waits_while_the_smtp_server_is_down_and_arrives_when_it_is_back() {
    let inbox = tempfile::tempdir().unwrap();
    let port = tests::free_port().unwrap();
    let app = TestApp::spawn_with(|config| use_smtp(config, port)).await;
    let token = request_mail_code(&app, "leo@example.com").await;
    // Nothing listens yet: the first tries fail and are retried.
    assert!(
        counted_within(
            &app,
            "SELECT count(*) FROM delivery_attempts WHERE outcome = 'retry'",
            5
        )
        .await
    );
    assert_eq!(
        app.count("SELECT count(*) FROM deliveries WHERE status = 'pending'"),
        1
    );
    let _server = SmtpServer::start(port, inbox.path());
    let raw = wait_for_message(inbox.path(), 15).await;
    register(&app, &token, &code_in(&body_text(&raw))).await;
}

#[tokio::test]
async fn mail_goes_over_tls_only_to_a_server_whose_certificate_is_trusted() {
    let keys = tempfile::tempdir().unwrap();
    let ca = private_ca_and_server_certificate(keys.path());
    let (cert, key) = (
        keys.path().join("server.pem"),
        keys.path().join("server.key"),
    );
    for (mode, url) in [
        ("wrapper", "smtps://127.0.0.1:{port}"),
        ("starttls", "smtp://127.0.0.1:{port}?tls=required"),
    ] {
        let inbox = tempfile::tempdir().unwrap();
        let port = tests::free_port().unwrap();
        let _server = SmtpServer::start_tls(port, inbox.path(), mode, &cert, &key);
        let url = url.replace("{port}", &port.to_string());
        let with_roots = |extra_roots: Option<Vec<u8>>| {
            let url = url.clone();
            move |config: &mut origin::config::Config| {
                config.notify.mail = MailProvider::Smtp(SmtpMail {
                    url: Secret::new(url),
                    from: "会员中心 <no-reply@shop.example>".into(),
                    extra_roots,
                });
                config.notify.retry_first_secs = 1;
            }
        };

        // Only the public roots: the private CA's certificate is refused and nothing is sent.
        let app = TestApp::spawn_with(with_roots(None)).await;
        request_mail_code(&app, "ada@example.com").await;
        let tried = "SELECT count(*) FROM delivery_attempts WHERE outcome <> 'sent'";
        assert!(counted_within(&app, tried, 10).await, "{mode}: never tried");
        let error: String = app
            .db()
            .query_row(
                "SELECT error FROM delivery_attempts WHERE outcome <> 'sent' LIMIT 1",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert!(
            error.to_lowercase().contains("certificate"),
            "{mode}: {error}"
        );
        assert!(
            messages(inbox.path()).is_empty(),
            "{mode}: sent to an untrusted server"
        );

        // With the CA trusted (`ORIGIN_SMTP_CA_FILE`): it arrives over TLS and registers.
        let app = TestApp::spawn_with(with_roots(Some(ca.clone().into_bytes()))).await;
        let token = request_mail_code(&app, "bea@example.com").await;
        let raw = wait_for_message(inbox.path(), 15).await;
        register(&app, &token, &code_in(&body_text(&raw))).await;
    }
}
