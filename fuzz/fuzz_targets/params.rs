//! The parameter merger (query + JSON / urlencoded / multipart body), driven through its real
//! `FromRequest` implementation. Whatever arrives, the answer is parameters or a client error
//! (4xx) — never a panic, never an internal error — and every accessor copes with the result.

#![no_main]

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use origin::error::AppError;
use origin::http::params::Params;

#[derive(Arbitrary, Debug)]
struct Input {
    query: String,
    content_type: u8,
    boundary: String,
    body: Vec<u8>,
    names: Vec<String>,
}

fuzz_target!(|input: Input| {
    let content_type = match input.content_type % 5 {
        0 => "application/json".to_owned(),
        1 => "application/x-www-form-urlencoded".to_owned(),
        2 => format!("multipart/form-data; boundary={}", input.boundary),
        3 => "text/plain".to_owned(),
        _ => String::new(),
    };
    let mut builder = Request::builder().method("POST");
    let uri = format!("/x?{}", input.query);
    builder = match uri.parse::<axum::http::Uri>() {
        Ok(uri) => builder.uri(uri),
        Err(_) => builder.uri("/x"),
    };
    if !content_type.is_empty() {
        builder = builder.header("content-type", content_type);
    }
    let Ok(request) = builder.body(Body::from(input.body)) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    match runtime.block_on(Params::from_request(request, &())) {
        Ok(params) => {
            for name in input.names.iter().map(String::as_str).chain(["page", "limit", "id"]) {
                let _ = params.get(name);
                let _ = params.all(name);
                let _ = params.text(name, 50);
                let _ = params.optional_text(name, 50);
                let _ = params.flag(name);
                let _ = params.integer(name, i64::MIN, i64::MAX);
                let _ = params.required_integer(name, 0, 100);
            }
            let _ = params.page();
            let _ = params.values_by_name();
        }
        Err(AppError::Problem(problem, _)) => {
            for dialect in [shared::Dialect::Store, shared::Dialect::Print] {
                let status = problem.status(dialect);
                assert!((400..500).contains(&status), "a client error, got {status} {problem:?}");
            }
        }
        Err(AppError::Internal(error)) => panic!("internal error for client input: {error:?}"),
    }
});
