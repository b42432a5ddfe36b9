//! Uploads through the edge: stored, served from its cache with their validators, attached to
//! comments, and streamed chunked up to the route's limit.

use std::pin::Pin;
use std::sync::Arc;

use anyhow::{Context, ensure};
use reqwest::{Method, Response};
use serde_json::json;
use tests::{System, str_at};

use crate::Named;
use crate::support::{cache_status, database, expect_status, header_of, print_error, print_user};

pub const SCENARIOS: &[Named] = scenarios![
    uploads_go_through_the_edge_and_are_served_from_its_cache,
    a_comment_with_an_upload_is_read_back_through_the_edge,
    chunked_uploads_stream_through_the_edge_and_stop_at_the_route_limit,
    stored_uploads_keep_their_validators_and_lifetime_and_answer_conditions,
];

fn png(size: usize, seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.resize(size, seed);
    bytes
}

async fn upload_images(
    system: &System,
    token: &str,
    images: Vec<Vec<u8>>,
) -> anyhow::Result<Response> {
    let mut form = reqwest::multipart::Form::new();
    for (index, bytes) in images.into_iter().enumerate() {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(format!("{index}.png"));
        form = form.part("images[]", part);
    }
    Ok(system
        .edge(Method::POST, "/api/images")
        .header("token", token)
        .multipart(form)
        .send()
        .await?)
}

async fn uploads_go_through_the_edge_and_are_served_from_its_cache(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    // Two parts, one of 3 MiB: more than a JSON body may be, so the edge streams it.
    let (small, large) = (png(100, 1), png(3 * 1024 * 1024, 2));
    let response = upload_images(&system, &token, vec![small.clone(), large.clone()]).await?;
    let body = expect_status(response, 201).await?;
    for (index, bytes) in [small, large].iter().enumerate() {
        let src = str_at(&body, &format!("/data/{index}/src"))?;
        let first = system.edge(Method::GET, &src).send().await?;
        ensure!(first.status() == 200, "{src}: {}", first.status());
        ensure!(first.headers()["content-type"] == "image/png");
        ensure!(first.headers().contains_key("etag"));
        ensure!(
            first.bytes().await?.as_ref() == bytes.as_slice(),
            "bytes differ"
        );
        let second = system.edge(Method::GET, &src).send().await?;
        ensure!(cache_status(&second) == "HIT", "{}", cache_status(&second));
        ensure!(
            second.bytes().await?.as_ref() == bytes.as_slice(),
            "cached bytes differ"
        );
    }
    // A part over 5 MiB is refused by the origin's per-part cap, in the print dialect.
    let over = upload_images(&system, &token, vec![png(5 * 1024 * 1024 + 1, 3)]).await?;
    print_error(over, 413, 999).await?;
    let unknown = system
        .edge(Method::GET, &format!("/api/storage/{}.png", "0".repeat(64)))
        .send()
        .await?;
    print_error(unknown, 404, 999).await?;
    Ok(())
}

async fn a_comment_with_an_upload_is_read_back_through_the_edge(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let token = str_at(
        &system.register_print(&system.fresh_phone()).await?,
        "/access_token",
    )?;
    let goods_id = {
        let db = database(&system)?;
        db.execute(
            "INSERT INTO goods (name, price_cents, created_at) VALUES ('帆布袋', 1999, 1)",
            [],
        )?;
        db.last_insert_rowid()
    };
    let mine = || {
        system
            .edge(Method::GET, "/api/users/self/comments")
            .header("token", &token)
            .send()
    };
    ensure!(expect_status(mine().await?, 200).await?["data"]["total"] == 0);
    ensure!(cache_status(&mine().await?) == "HIT");
    let uploaded =
        expect_status(upload_images(&system, &token, vec![png(64, 4)]).await?, 201).await?;
    let image_id = uploaded["data"][0]["id"].as_i64().context("image id")?;
    let created = system
        .edge(Method::POST, "/api/comments")
        .header("token", &token)
        .json(&json!({
            "goods_id": goods_id, "goods_comment": "好", "service_comment": "快",
            "images": [image_id], "describe_grade": 5, "seller_grade": 5,
            "logistics_grade": 5, "is_anonymous": true,
        }))
        .send()
        .await?;
    expect_status(created, 201).await?;
    let after = expect_status(mine().await?, 200).await?;
    ensure!(after["data"]["total"] == 1, "stale comment list: {after}");
    ensure!(after["data"]["data"][0]["images"][0]["id"] == image_id);
    let public = system
        .edge(Method::GET, &format!("/api/goods/{goods_id}/comments"))
        .send()
        .await?;
    let public = expect_status(public, 200).await?;
    let row = &public["data"]["data"][0];
    ensure!(
        row["is_anonymous"] == true && row.get("user").is_none(),
        "{row}"
    );
    let again = system
        .edge(Method::GET, &format!("/api/goods/{goods_id}/comments"))
        .send()
        .await?;
    ensure!(
        cache_status(&again) == "HIT",
        "public comments are edge-cached by URL"
    );
    Ok(())
}

/// A multipart body of image parts named `images[]`.
fn multipart(boundary: &str, parts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (index, part) in parts.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"images[]\"; \
                 filename=\"{index}.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// `bytes` sent chunked (no `Content-Length`), in pieces of 16 KiB.
fn chunked(bytes: Vec<u8>) -> reqwest::Body {
    struct Pieces(bytes::Bytes);
    impl http_body::Body for Pieces {
        type Data = bytes::Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _context: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>>
        {
            if self.0.is_empty() {
                return std::task::Poll::Ready(None);
            }
            let length = self.0.len().min(16 * 1024);
            let piece = self.0.split_to(length);
            std::task::Poll::Ready(Some(Ok(http_body::Frame::data(piece))))
        }
    }
    reqwest::Body::wrap(Pieces(bytes::Bytes::from(bytes)))
}

/// Uploads without `Content-Length` stream through the edge, counted: a small PNG is stored
/// (201) and served back; a request over the route's 40 MiB, in parts the origin would take
/// one by one, is refused with 413 at the limit and stores nothing.
async fn chunked_uploads_stream_through_the_edge_and_stop_at_the_route_limit(
    system: Arc<System>,
) -> anyhow::Result<()> {
    let (token, user_id) = print_user(&system).await?;
    let boundary = "e2e-chunked-7f3a9c";
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let image = png(40 * 1024, 9);
    let response = system
        .edge(Method::POST, "/api/images")
        .header("token", &token)
        .header("content-type", &content_type)
        .body(chunked(multipart(boundary, std::slice::from_ref(&image))))
        .send()
        .await?;
    let body = expect_status(response, 201).await?;
    let src = str_at(&body, "/data/0/src")?;
    let served = system.edge(Method::GET, &src).send().await?;
    ensure!(served.status() == 200, "{src}: {}", served.status());
    ensure!(served.bytes().await?.as_ref() == image.as_slice());

    // Ten parts of 4 MiB: each under the 5 MiB part cap, together (with the multipart framing)
    // just over the 40 MiB route limit, so the limit is passed by the last piece the client sends.
    let parts: Vec<Vec<u8>> = (0..10).map(|seed| png(4 * 1024 * 1024, seed)).collect();
    let over = system
        .edge(Method::POST, "/api/images")
        .header("token", &token)
        .header("content-type", &content_type)
        .body(chunked(multipart(boundary, &parts)))
        .send()
        .await?;
    print_error(over, 413, 999).await?;
    let stored: i64 = database(&system)?.query_row(
        "SELECT COUNT(*) FROM uploads WHERE user_id = ?1",
        [user_id],
        |row| row.get(0),
    )?;
    ensure!(stored == 1, "the refused request stored uploads: {stored}");
    Ok(())
}

/// An upload is immutable: through the edge it keeps the origin's `ETag` and year-long
/// `Cache-Control`, and `If-None-Match` gets a bodiless 304 from the edge, on a hit and on a
/// miss (which still stores the full answer for the next client).
async fn stored_uploads_keep_their_validators_and_lifetime_and_answer_conditions(
    system: Arc<System>,
) -> anyhow::Result<()> {
    use sha2::Digest;
    const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    let (token, _) = print_user(&system).await?;
    let (first, second) = (png(2048, 21), png(2048, 22));
    let uploaded = expect_status(
        upload_images(&system, &token, vec![first.clone(), second.clone()]).await?,
        201,
    )
    .await?;
    let etag_of = |bytes: &[u8]| format!("\"{}\"", hex::encode(sha2::Sha256::digest(bytes)));

    let src = str_at(&uploaded, "/data/0/src")?;
    let etag = etag_of(&first);
    for expected in ["MISS", "HIT"] {
        let plain = system.edge(Method::GET, &src).send().await?;
        ensure!(plain.status() == 200 && cache_status(&plain) == expected);
        ensure!(
            header_of(&plain, "cache-control").as_deref() == Some(IMMUTABLE),
            "{expected}: {:?}",
            header_of(&plain, "cache-control")
        );
        ensure!(header_of(&plain, "etag").as_deref() == Some(etag.as_str()));
        ensure!(plain.bytes().await?.as_ref() == first.as_slice());
    }
    for condition in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"nope\", {etag}"),
    ] {
        let revalidated = system
            .edge(Method::GET, &src)
            .header("if-none-match", &condition)
            .send()
            .await?;
        ensure!(
            revalidated.status() == 304 && cache_status(&revalidated) == "HIT",
            "{condition}: {} {}",
            revalidated.status(),
            cache_status(&revalidated)
        );
        ensure!(header_of(&revalidated, "etag").as_deref() == Some(etag.as_str()));
        ensure!(header_of(&revalidated, "cache-control").as_deref() == Some(IMMUTABLE));
        ensure!(revalidated.bytes().await?.is_empty(), "a 304 has no body");
    }
    let changed = system
        .edge(Method::GET, &src)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await?;
    ensure!(changed.status() == 200 && changed.bytes().await?.as_ref() == first.as_slice());

    // A conditional request that misses the edge's cache: 304 too, and the entry is stored whole.
    let src = str_at(&uploaded, "/data/1/src")?;
    let etag = etag_of(&second);
    let missed = system
        .edge(Method::GET, &src)
        .header("if-none-match", &etag)
        .send()
        .await?;
    ensure!(
        missed.status() == 304 && cache_status(&missed) == "MISS",
        "{} {}",
        missed.status(),
        cache_status(&missed)
    );
    ensure!(header_of(&missed, "etag").as_deref() == Some(etag.as_str()));
    ensure!(missed.bytes().await?.is_empty());
    let after = system.edge(Method::GET, &src).send().await?;
    ensure!(after.status() == 200 && cache_status(&after) == "HIT");
    ensure!(after.bytes().await?.as_ref() == second.as_slice());
    Ok(())
}
