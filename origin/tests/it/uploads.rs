//! Uploads (SPEC §5): multipart with several parts, types sniffed from bytes, per-part caps
//! refused before the part is buffered whole, content-addressed and deduplicated storage,
//! `GET /storage/{key}` with its type, ETag and immutable caching, the per-user quota and daily
//! count and the disk's free-space reserve, and temporary files that outlive other commands
//! and servers on the same data directory.

use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::headers::{CLIENT_IP, EDGE_SECRET};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{TestApp, json_of, print_error, process};

const MIB: usize = 1024 * 1024;

fn png(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend(std::iter::repeat_n(seed, 64));
    bytes
}

/// A PNG of exactly `size` bytes.
fn png_sized(seed: u8, size: usize) -> Vec<u8> {
    let mut bytes = png(seed);
    bytes.resize(size, seed);
    bytes
}

fn gif() -> Vec<u8> {
    let mut bytes = b"GIF89a".to_vec();
    bytes.extend([0u8; 32]);
    bytes
}

fn part(bytes: Vec<u8>, name: &str, declared: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(declared)
        .unwrap()
}

async fn upload(app: &TestApp, token: &str, path: &str, form: Form) -> reqwest::Response {
    app.request(Method::POST, path)
        .header("token", token)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn stored_files(app: &TestApp) -> usize {
    walk(&app.state.config.storage_dir())
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            if path.is_dir() { walk(&path) } else { 1 }
        })
        .sum()
}

async fn fetch(app: &TestApp, src: &str) -> reqwest::Response {
    app.request(Method::GET, src).send().await.unwrap()
}

#[tokio::test]
async fn several_images_are_stored_by_digest_and_served_with_type_etag_and_caching() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    // Field names vary and declared types lie; only the bytes count. Text parts are ignored.
    let form = Form::new()
        .part("image", part(png(1), "a.txt", "text/plain"))
        .part("images[]", part(gif(), "b.png", "image/png"))
        .text("note", "ignored");
    let body = json_of(upload(&app, &token, "/api/images", form).await, 201).await;
    let rows = body["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{body}");
    assert_eq!(
        rows[0]["src"],
        format!("/api/storage/{}.png", digest(&png(1)))
    );
    assert_eq!(
        rows[1]["src"],
        format!("/api/storage/{}.gif", digest(&gif()))
    );
    assert!(rows[0]["id"].as_i64().unwrap() > 0);

    let on_disk = app
        .state
        .config
        .storage_dir()
        .join(&digest(&png(1))[..2])
        .join(digest(&png(1)));
    assert_eq!(std::fs::read(on_disk).unwrap(), png(1));

    let src = rows[0]["src"].as_str().unwrap();
    let served = fetch(&app, src).await;
    assert_eq!(served.status(), 200);
    let headers = served.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["etag"], format!("\"{}\"", digest(&png(1))));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(served.bytes().await.unwrap().as_ref(), png(1).as_slice());

    let revalidated = app
        .request(Method::GET, src)
        .header("if-none-match", headers["etag"].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304);
}

#[tokio::test]
async fn the_same_bytes_are_stored_once_but_owned_by_each_uploader() {
    let app = TestApp::spawn().await;
    let (alice, _) = app.member().await;
    let (bob, _) = app.member().await;
    let mut ids = Vec::new();
    for token in [&alice, &bob, &alice] {
        let form = Form::new().part("file", part(png(7), "same.png", "image/png"));
        let body = json_of(upload(&app, token, "/api/images", form).await, 201).await;
        assert_eq!(
            body["data"][0]["src"],
            format!("/api/storage/{}.png", digest(&png(7)))
        );
        ids.push(body["data"][0]["id"].as_i64().unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 3, "every upload has its own id");
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 3);
    assert_eq!(app.count("SELECT count(*) FROM blobs"), 1);
    assert_eq!(
        stored_files(&app),
        1,
        "one file on disk, nothing left in tmp"
    );
}

#[tokio::test]
async fn anything_but_png_jpeg_gif_webp_is_refused_whatever_its_name_and_nothing_is_kept() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    for (bytes, name) in [
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "x.png",
        ),
        (b"%PDF-1.7\n%...".to_vec(), "doc.jpg"),
        (b"plain text".to_vec(), "t.gif"),
    ] {
        // A good image first, then the bad one: the whole request is refused.
        let form = Form::new()
            .part("a", part(png(2), "ok.png", "image/png"))
            .part("b", part(bytes, name, "image/png"));
        let body = print_error(upload(&app, &token, "/api/images", form).await, 400, 999).await;
        assert!(
            body["message"].as_str().unwrap().contains("第 2 个"),
            "{body}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 0);
    assert_eq!(stored_files(&app), 0);
}

#[tokio::test]
async fn bad_upload_requests_get_clear_errors() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let no_file = Form::new().text("image", "not a file");
    print_error(upload(&app, &token, "/api/images", no_file).await, 400, 999).await;
    let empty = Form::new().part("image", part(Vec::new(), "e.png", "image/png"));
    print_error(upload(&app, &token, "/api/images", empty).await, 400, 999).await;
    let json = app
        .request(Method::POST, "/api/files")
        .header("token", &token)
        .json(&serde_json::json!({ "file": "x" }))
        .send()
        .await
        .unwrap();
    print_error(json, 400, 999).await;
    let mut many = Form::new();
    for index in 0..21u8 {
        many = many.part("f", part(vec![index + 1; 8], "f.bin", "text/plain"));
    }
    print_error(upload(&app, &token, "/api/files", many).await, 400, 999).await;
    let anonymous = app
        .request(Method::POST, "/api/images")
        .multipart(Form::new().part("image", part(png(3), "a.png", "image/png")))
        .send()
        .await
        .unwrap();
    print_error(anonymous, 401, 999).await;
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 0);
    assert_eq!(stored_files(&app), 0);
}

#[tokio::test]
async fn an_oversized_image_part_is_refused_with_413_and_leaves_nothing() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let mut big = png(4);
    big.resize(5 * MIB + 1, 0);
    let form = Form::new().part("image", part(big, "big.png", "image/png"));
    print_error(upload(&app, &token, "/api/images", form).await, 413, 999).await;
    let mut just_fits = png(4);
    just_fits.resize(5 * MIB, 0);
    let form = Form::new().part("image", part(just_fits, "fits.png", "image/png"));
    json_of(upload(&app, &token, "/api/images", form).await, 201).await;
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 1);
    assert_eq!(stored_files(&app), 1);
}

/// The request head of a one-part multipart upload declaring `declared` bytes of body, and the
/// start of that body up to the part's bytes (whose end is [`MULTIPART_END`]).
fn multipart_head(path: &str, token: &str, secret: &str, declared: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: origin\r\ntoken: {token}\r\n{EDGE_SECRET}: {secret}\r\n\
         content-type: multipart/form-data; boundary=XyZ\r\ncontent-length: {declared}\r\n\
         connection: close\r\n\r\n{MULTIPART_START}"
    )
}

const MULTIPART_START: &str = "--XyZ\r\ncontent-disposition: form-data; name=\"image\"; \
                               filename=\"a.png\"\r\ncontent-type: image/png\r\n\r\n";
const MULTIPART_END: &str = "\r\n--XyZ--\r\n";

/// Opens a raw connection and sends the head of a multipart upload declaring `declared` bytes,
/// then `body` — and never the rest.
async fn unfinished_upload(
    app: &TestApp,
    token: &str,
    path: &str,
    declared: usize,
    body: &[u8],
) -> tokio::net::TcpStream {
    let address = app.public.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let secret = app.state.config.edge_secret.expose();
    let head = multipart_head(path, token, secret, declared);
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.chunks(64 * 1024) {
        if stream.write_all(chunk).await.is_err() {
            break; // The server may already have answered and closed.
        }
    }
    stream
}

/// The status line the server sent, while the client's request is still unfinished.
async fn early_answer(mut stream: tokio::net::TcpStream) -> String {
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer while the request is still unfinished")
        .unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

/// The part is refused as soon as it passes its cap: the client has sent 6 MiB of a request
/// that declares 30 MiB and has not finished, and it already has its 413.
#[tokio::test]
async fn the_413_comes_before_the_part_is_received_whole() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let mut body = png(5);
    body.resize(6 * MIB, 0);
    let stream = unfinished_upload(&app, &token, "/api/images", 30 * MIB, &body).await;
    let answer = early_answer(stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 0);
}

#[tokio::test]
async fn a_request_declaring_more_than_the_route_limit_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let stream = unfinished_upload(&app, &token, "/api/files", 80 * MIB + 1, b"").await;
    let answer = early_answer(stream).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 0);
}

#[tokio::test]
async fn files_keep_a_clean_name_and_risky_types_are_served_as_downloads() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec();
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let form = Form::new()
        .part("file", part(html.clone(), "../../evil.html", "text/html"))
        .part(
            "file",
            part(pdf.clone(), "C:\\docs\\report.pdf", "application/pdf"),
        );
    let body = json_of(upload(&app, &token, "/api/files", form).await, 201).await;
    let rows: &Vec<Value> = body["data"].as_array().unwrap();
    assert_eq!(rows[0]["name"], "evil.html");
    assert_eq!(rows[1]["name"], "report.pdf");
    assert_eq!(rows[1]["src"], format!("/api/storage/{}.pdf", digest(&pdf)));

    let served = fetch(&app, rows[0]["src"].as_str().unwrap()).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/octet-stream");
    assert_eq!(served.headers()["content-disposition"], "attachment");
    assert_eq!(served.bytes().await.unwrap().as_ref(), html.as_slice());

    let served = fetch(&app, rows[1]["src"].as_str().unwrap()).await;
    assert_eq!(served.headers()["content-type"], "application/pdf");
    assert_eq!(served.headers()["content-disposition"], "inline");

    // Files are not images: a comment cannot use them (checked in the comments tests), and
    // their rows say so.
    assert_eq!(
        app.count("SELECT count(*) FROM uploads WHERE kind = 'file'"),
        2
    );
}

#[tokio::test]
async fn unknown_or_malformed_storage_keys_are_404() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member().await;
    let form = Form::new().part("image", part(png(6), "a.png", "image/png"));
    json_of(upload(&app, &token, "/api/images", form).await, 201).await;
    let known = digest(&png(6));
    for key in [
        format!("{known}.gif"),
        known.clone(),
        format!("{}.png", "0".repeat(64)),
        "..%2F..%2Fsecrets%2Fedge_shared_secret".to_owned(),
        format!("{}.png", known.to_uppercase()),
    ] {
        print_error(fetch(&app, &format!("/api/storage/{key}")).await, 404, 999).await;
    }
}

// -- Limits (SPEC §5) -------------------------------------------------------------------------

/// The user's uploads, and the files under storage/ (temporary ones included).
fn stored(app: &TestApp, user_id: i64) -> (i64, usize) {
    let uploads = app.count(&format!(
        "SELECT count(*) FROM uploads WHERE user_id = {user_id}"
    ));
    (uploads, stored_files(app))
}

fn images(parts: impl IntoIterator<Item = Vec<u8>>) -> Form {
    parts.into_iter().fold(Form::new(), |form, bytes| {
        form.part("images[]", part(bytes, "p.png", "image/png"))
    })
}

#[tokio::test]
async fn uploads_past_the_quota_are_413_and_store_nothing_and_the_quota_is_per_user() {
    let app = TestApp::spawn_with(|config| config.upload_quota_bytes = 1000).await;
    let (alice, alice_id) = app.member().await;
    let (bob, _) = app.member().await;
    json_of(
        upload(&app, &alice, "/api/images", images([png_sized(1, 600)])).await,
        201,
    )
    .await;

    // Each part fits, and the quota is not reached yet; together they would pass it.
    let together = images([png_sized(2, 300), png_sized(3, 300)]);
    let body = print_error(
        upload(&app, &alice, "/api/images", together).await,
        413,
        999,
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("1000 字节"),
        "{body}"
    );
    assert_eq!(
        stored(&app, alice_id),
        (1, 1),
        "no row, no file, nothing in tmp"
    );
    assert_eq!(app.count("SELECT count(*) FROM blobs"), 1);

    // Up to the quota exactly is allowed; once it is reached, nothing more is (files too).
    json_of(
        upload(&app, &alice, "/api/images", images([png_sized(4, 400)])).await,
        201,
    )
    .await;
    let small = Form::new().part("file", part(b"tiny".to_vec(), "t.txt", "text/plain"));
    print_error(upload(&app, &alice, "/api/files", small).await, 413, 999).await;
    print_error(
        upload(&app, &alice, "/api/images", images([png_sized(5, 20)])).await,
        413,
        999,
    )
    .await;
    assert_eq!(stored(&app, alice_id), (2, 2));

    // Another user has a quota of their own.
    json_of(
        upload(&app, &bob, "/api/images", images([png_sized(6, 900)])).await,
        201,
    )
    .await;
}

#[tokio::test]
async fn the_same_bytes_count_once_against_the_quota_of_each_user_who_uploads_them() {
    let app = TestApp::spawn_with(|config| config.upload_quota_bytes = 1000).await;
    let (alice, _) = app.member().await;
    let (bob, _) = app.member().await;
    let first = png_sized(1, 600);
    for form in [
        images([first.clone()]),
        images([first.clone()]),
        images([first.clone(), first.clone()]),
    ] {
        json_of(upload(&app, &alice, "/api/images", form).await, 201).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM uploads"), 4);
    // 600 stored: 500 more would pass the quota, 400 more reach it.
    print_error(
        upload(&app, &alice, "/api/images", images([png_sized(2, 500)])).await,
        413,
        999,
    )
    .await;
    json_of(
        upload(&app, &alice, "/api/images", images([png_sized(3, 400)])).await,
        201,
    )
    .await;

    // Bytes someone else stored first count for each user whose uploads reference them.
    json_of(
        upload(&app, &bob, "/api/images", images([first.clone()])).await,
        201,
    )
    .await;
    print_error(
        upload(&app, &bob, "/api/images", images([png_sized(4, 500)])).await,
        413,
        999,
    )
    .await;
}

/// Checked before the bodies are read, all five would pass; the check that counts is the one
/// in the write transaction that records them.
#[tokio::test]
async fn concurrent_uploads_of_one_user_cannot_together_pass_the_quota_or_the_daily_count() {
    for (quota, per_day) in [(1000, 100), (1 << 30, 3)] {
        let app = TestApp::spawn_with(|config| {
            config.upload_quota_bytes = quota;
            config.uploads_per_day = per_day;
        })
        .await;
        let (token, user_id) = app.member().await;
        let mut uploads = tokio::task::JoinSet::new();
        for seed in 1..=5 {
            let request = app
                .request(Method::POST, "/api/images")
                .header("token", &token)
                .multipart(images([png_sized(seed, 300)]));
            uploads.spawn(async move { request.send().await.unwrap().status().as_u16() });
        }
        let mut statuses = uploads.join_all().await;
        statuses.sort_unstable();
        let refused = if per_day == 3 { 429 } else { 413 };
        assert_eq!(
            statuses,
            [201, 201, 201, refused, refused],
            "{quota} {per_day}"
        );
        assert_eq!(stored(&app, user_id), (3, 3));
    }
}

#[tokio::test]
async fn the_daily_count_is_429_with_retry_after_per_user_over_a_rolling_24_hours() {
    let app = TestApp::spawn_with(|config| config.uploads_per_day = 3).await;
    let (alice, alice_id) = app.member().await;
    let (bob, _) = app.member().await;
    json_of(
        upload(&app, &alice, "/api/images", images([png(1), png(2)])).await,
        201,
    )
    .await;
    // Two more parts would make four: the whole request is refused.
    let response = upload(&app, &alice, "/api/images", images([png(3), png(4)])).await;
    let body = print_error(response, 429, 999).await;
    assert!(body["message"].as_str().unwrap().contains("3 个"), "{body}");
    assert_eq!(stored(&app, alice_id), (2, 2));

    // A re-upload of bytes already stored is a part like any other.
    json_of(
        upload(&app, &alice, "/api/images", images([png(1)])).await,
        201,
    )
    .await;
    let refused = upload(&app, &alice, "/api/images", images([png(5)])).await;
    let retry_after = crate::support::retry_after(&refused);
    assert!(
        (86_300..=86_400).contains(&retry_after),
        "the oldest upload leaves the window in a day: {retry_after}"
    );
    print_error(refused, 429, 999).await;
    assert_eq!(stored(&app, alice_id), (3, 2));

    json_of(
        upload(&app, &bob, "/api/images", images([png(6), png(7), png(8)])).await,
        201,
    )
    .await;

    // A day later the window has moved past them.
    app.db()
        .execute(
            "UPDATE uploads SET created_at = created_at - 86400 WHERE user_id = ?1",
            [alice_id],
        )
        .unwrap();
    json_of(
        upload(&app, &alice, "/api/images", images([png(5)])).await,
        201,
    )
    .await;
}

#[tokio::test]
async fn uploads_are_507_and_store_nothing_while_the_disk_is_below_its_free_space_reserve() {
    let app = TestApp::spawn_with(|config| config.min_free_bytes = u64::MAX).await;
    let (token, user_id) = app.member().await;
    for (path, form) in [
        ("/api/images", images([png(1)])),
        (
            "/api/files",
            Form::new().part("file", part(b"notes".to_vec(), "n.txt", "text/plain")),
        ),
    ] {
        let body = print_error(upload(&app, &token, path, form).await, 507, 999).await;
        assert!(
            body["message"].as_str().unwrap().contains("存储空间不足"),
            "{body}"
        );
    }
    assert_eq!(stored(&app, user_id), (0, 0));
    assert_eq!(app.count("SELECT count(*) FROM blobs"), 0);
}

#[tokio::test]
async fn invalid_upload_limits_stop_the_origin_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("ORIGIN_UPLOAD_QUOTA_MB", "1GB"),
        ("ORIGIN_UPLOAD_QUOTA_MB", "0"),
        ("ORIGIN_UPLOADS_PER_DAY", "-1"),
        ("ORIGIN_MIN_FREE_MB", "18446744073709551615"),
    ] {
        let output = process::command(dir.path(), "http://127.0.0.1:9")
            .args(["invite", "create", "--uses", "1"])
            .env(name, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}={value} was accepted");
        assert!(stderr.contains(name), "{name}={value}: {stderr}");
    }
    let output = process::command(dir.path(), "http://127.0.0.1:9")
        .args(["invite", "create", "--uses", "1"])
        .env("ORIGIN_UPLOAD_QUOTA_MB", "1")
        .env("ORIGIN_UPLOADS_PER_DAY", "1")
        .env("ORIGIN_MIN_FREE_MB", "0")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

// -- Temporary files of a running server (the real binary) ------------------------------------

/// A print user registered on a running origin by phone; returns the access token. The code
/// is read from the development outbox in the database, as the crash test does.
async fn register_on(origin: &process::Origin, client: &reqwest::Client, dir: &Path) -> String {
    let phone = "13900000001";
    let sent: Value = client
        .post(format!("{}/api/sms", origin.public))
        .header(EDGE_SECRET, process::SECRET)
        .header(CLIENT_IP, "10.0.0.1")
        .json(&json!({ "phone": phone, "is_register": true }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code: String = rusqlite::Connection::open(dir.join("origin.sqlite3"))
        .unwrap()
        .query_row(
            "SELECT code FROM outbox WHERE recipient = ?1",
            [phone],
            |row| row.get(0),
        )
        .unwrap();
    let registered = client
        .post(format!("{}/api/register", origin.public))
        .header(EDGE_SECRET, process::SECRET)
        .json(&json!({
            "verification_token": sent["data"]["verification_token"],
            "verification_code": code,
            "password": crate::support::PASSWORD,
        }))
        .send()
        .await
        .unwrap();
    json_of(registered, 201).await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An image upload sent in two halves: the first, then (once the server is writing it into
/// `storage/tmp`) the rest.
struct SlowUpload {
    stream: tokio::net::TcpStream,
    rest: Vec<u8>,
}

impl SlowUpload {
    async fn start(origin: &process::Origin, token: &str, image: &[u8], dir: &Path) -> SlowUpload {
        let declared = MULTIPART_START.len() + image.len() + MULTIPART_END.len();
        let address = origin.public.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = multipart_head("/api/images", token, process::SECRET, declared);
        let (first, second) = image.split_at(image.len() / 2);
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first).await.unwrap();
        let tmp = dir.join("storage").join("tmp");
        for _ in 0..500 {
            if std::fs::read_dir(&tmp).unwrap().next().is_some() {
                let mut rest = second.to_vec();
                rest.extend_from_slice(MULTIPART_END.as_bytes());
                return SlowUpload { stream, rest };
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server never started writing the upload into storage/tmp");
    }

    /// Sends the rest; the answer's status and JSON body.
    async fn finish(mut self) -> (u16, Value) {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(
            Duration::from_secs(10),
            self.stream.read_to_end(&mut answer),
        )
        .await
        .expect("an answer")
        .unwrap();
        let answer = String::from_utf8_lossy(&answer);
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }
}

/// The upload finished and its bytes are stored under their digest.
fn assert_stored(dir: &Path, (status, body): (u16, Value), image: &[u8]) {
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["data"][0]["src"],
        format!("/api/storage/{}.png", digest(image))
    );
    let path = dir
        .join("storage")
        .join(&digest(image)[..2])
        .join(digest(image));
    assert_eq!(std::fs::read(path).unwrap(), image);
}

#[tokio::test]
async fn a_cli_command_run_during_an_upload_leaves_its_temporary_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let origin = process::start(dir.path(), "http://127.0.0.1:9", &[], &client).await;
    let token = register_on(&origin, &client, dir.path()).await;
    let image = png_sized(9, 256 * 1024);
    let upload = SlowUpload::start(&origin, &token, &image, dir.path()).await;

    let mut command = process::command(dir.path(), "http://127.0.0.1:9");
    command.args(["invite", "create", "--uses", "1"]);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    assert_stored(dir.path(), upload.finish().await, &image);
}

#[tokio::test]
async fn a_second_server_on_the_data_directory_leaves_the_first_ones_uploads_alone() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let first = process::start(dir.path(), "http://127.0.0.1:9", &[], &client).await;
    let token = register_on(&first, &client, dir.path()).await;
    let image = png_sized(10, 256 * 1024);
    let upload = SlowUpload::start(&first, &token, &image, dir.path()).await;

    let second = process::start(dir.path(), "http://127.0.0.1:9", &[], &client).await;
    assert_stored(dir.path(), upload.finish().await, &image);

    // With both gone (killed, as by a crash), the next server alone clears what is left.
    drop((first, second));
    let leftover = dir
        .path()
        .join("storage")
        .join("tmp")
        .join("left-by-a-crash");
    std::fs::write(&leftover, b"partial").unwrap();
    let _third = process::start(dir.path(), "http://127.0.0.1:9", &[], &client).await;
    assert!(!leftover.exists());
}

/// Every successful signed-in write tells the edge the writer's data changed — here an upload,
/// whose handler names no instruction itself — and a refused write tells it nothing.
#[tokio::test]
async fn a_successful_signed_in_write_bumps_its_writer_and_a_refused_one_bumps_nothing() {
    let app = TestApp::spawn().await;
    let (token, user_id) = app.member().await;
    let form = Form::new().part("images[]", part(png(7), "a.png", "image/png"));
    let stored = upload(&app, &token, "/api/images", form).await;
    let instructions = stored.headers()["x-edge-invalidate"]
        .to_str()
        .unwrap()
        .to_owned();
    let instructions = shared::invalidate::decode(&instructions).unwrap();
    assert_eq!(
        instructions,
        vec![shared::invalidate::Instruction::Bump { user: user_id }]
    );
    json_of(stored, 201).await;
    let form = Form::new().part(
        "images[]",
        part(b"not an image".to_vec(), "a.png", "image/png"),
    );
    let refused = upload(&app, &token, "/api/images", form).await;
    assert!(refused.headers().get("x-edge-invalidate").is_none());
    print_error(refused, 400, 999).await;
}
