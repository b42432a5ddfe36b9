//! Forwarding a request to the origin and reading its answer. Bodies are counted as they stream
//! (`crate::body`): a small-body route's body is read chunk by chunk and refused the moment it
//! passes the limit; an upload without a declared length streams through to the origin behind a
//! counting stream that errors at the limit, which ends the upload and answers 413.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use shared::Problem;
use shared::headers::{CLIENT_IP, EDGE_INVALIDATE, EDGE_SECRET, REQUEST_ID};
use shared::invalidate::{self, Instruction};
use shared::policy::Route;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{
    AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, Response,
    ResponseBuilder,
};

use super::error::internal;
use crate::body::{self, Counter, Plan};
use crate::forward::{ORIGIN_TIMEOUT_SECS, forward_request_header, forward_response_header};

/// The origin's answer, read whole, with its instructions for the edge taken out.
pub struct OriginReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub instructions: Vec<Instruction>,
}

impl OriginReply {
    /// Reads a response (from the origin or the cache).
    pub async fn read(mut response: Response) -> Result<OriginReply, Problem> {
        let mut headers = Vec::new();
        let mut instructions = Vec::new();
        for (name, value) in response.headers().entries() {
            if name.eq_ignore_ascii_case(EDGE_INVALIDATE) {
                match invalidate::decode(&value) {
                    Ok(decoded) => instructions = decoded,
                    Err(error) => worker::console_error!("unreadable {EDGE_INVALIDATE}: {error}"),
                }
            } else if forward_response_header(&name) {
                headers.push((name, value));
            }
        }
        let body = response.bytes().await.map_err(|_| Problem::BadGateway)?;
        Ok(OriginReply {
            status: response.status_code(),
            headers,
            body,
            instructions,
        })
    }
}

/// A response with these headers, and the body unless the status may not have one.
pub fn respond(status: u16, headers: &[(String, String)], body: Vec<u8>) -> Response {
    let out = Headers::new();
    for (name, value) in headers {
        let _ = out.append(name, value);
    }
    let builder = ResponseBuilder::new().with_status(status).with_headers(out);
    if matches!(status, 101 | 204 | 205 | 304) {
        builder.empty()
    } else {
        builder.fixed(body)
    }
}

/// A chunk of a JavaScript byte stream as bytes (workerd hands out `Uint8Array`s).
fn as_bytes(chunk: JsValue) -> Uint8Array {
    chunk
        .dyn_into::<Uint8Array>()
        .unwrap_or_else(|other| Uint8Array::new(&other))
}

/// Reads a small body whole, counting, and stops at the first chunk past `limit`.
async fn read_counted(request: &Request, limit: u64) -> Result<Vec<u8>, Problem> {
    let Some(raw) = request.inner().body() else {
        return Ok(Vec::new());
    };
    let mut chunks = wasm_streams::ReadableStream::from_raw(raw).into_stream();
    let mut counter = Counter::new(limit);
    let mut bytes = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = as_bytes(chunk.map_err(|_| Problem::invalid("body", "请求体无法读取"))?);
        if counter.count(chunk.length() as usize).is_err() {
            // Dropping the reader cancels the rest of the body: it is never read.
            return Err(Problem::PayloadTooLarge { limit_bytes: limit });
        }
        bytes.extend_from_slice(&chunk.to_vec());
    }
    Ok(bytes)
}

/// The request's body as a stream for the origin that errors once it passes `limit`, noting
/// that in `tripped`. The chunks pass through as they are, without a copy.
fn counted_stream(request: &Request, limit: u64, tripped: Rc<Cell<bool>>) -> Option<JsValue> {
    let raw = request.inner().body()?;
    let mut counter = Counter::new(limit);
    let counted = wasm_streams::ReadableStream::from_raw(raw)
        .into_stream()
        .map(move |chunk| {
            let chunk = as_bytes(chunk?);
            match counter.count(chunk.length() as usize) {
                Ok(()) => Ok(JsValue::from(chunk)),
                Err(body::TooLarge) => {
                    tripped.set(true);
                    Err(JsValue::from_str("request body over the route's limit"))
                }
            }
        });
    Some(
        wasm_streams::ReadableStream::from_stream(counted)
            .into_raw()
            .into(),
    )
}

/// Sends the request on to the origin with the edge's secret, the client's IP and the request
/// id, enforcing the route's body limit, and gives up after `ORIGIN_TIMEOUT_SECS`. On routes
/// the edge caches (`cacheable`) the client's conditional headers stay here.
pub async fn forward(
    env: &Env,
    request: &mut Request,
    route: &Route,
    client_ip: &str,
    request_id: &str,
    cacheable: bool,
) -> Result<OriginReply, Problem> {
    let (origin, secret) = super::origin_settings(env)?;
    let url = request.url().map_err(|e| internal("url", e))?;
    let target = match url.query() {
        Some(query) => format!("{origin}{}?{query}", url.path()),
        None => format!("{origin}{}", url.path()),
    };

    let headers = Headers::new();
    for (name, value) in request.headers().entries() {
        if forward_request_header(&name, cacheable) {
            let _ = headers.append(&name, &value);
        }
    }
    for (name, value) in [
        (EDGE_SECRET, secret.as_str()),
        (CLIENT_IP, client_ip),
        (REQUEST_ID, request_id),
    ] {
        headers
            .set(name, value)
            .map_err(|e| internal("headers", e))?;
    }

    let method = request.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone());
    let too_large = Problem::PayloadTooLarge {
        limit_bytes: route.body_limit,
    };
    let declared = request.headers().get("content-length").ok().flatten();
    let has_body = !matches!(method, Method::Get | Method::Head);
    let tripped = Rc::new(Cell::new(false));
    match body::plan(has_body, declared.as_deref(), route.body_limit) {
        Plan::Nothing => {}
        Plan::TooLarge => return Err(too_large),
        Plan::Buffer => {
            let bytes = read_counted(request, route.body_limit).await?;
            if !bytes.is_empty() {
                headers
                    .set("content-length", &bytes.len().to_string())
                    .map_err(|e| internal("headers", e))?;
                init.with_body(Some(Uint8Array::from(bytes.as_slice()).into()));
            }
        }
        // The runtime holds a body with a declared length to that length.
        Plan::Stream => {
            init.with_body(request.inner().body().map(JsValue::from));
        }
        Plan::StreamCounted => {
            init.with_body(counted_stream(request, route.body_limit, tripped.clone()));
        }
    }
    init.with_headers(headers);
    let outbound =
        Request::new_with_init(&target, &init).map_err(|e| internal("origin request", e))?;

    let controller = AbortController::default();
    let signal = controller.signal();
    let fetcher = Fetch::Request(outbound);
    let fetch = Box::pin(fetcher.send_with_signal(&signal));
    let timeout = Box::pin(Delay::from(Duration::from_secs(ORIGIN_TIMEOUT_SECS)));
    let outcome = select(fetch, timeout).await;
    if tripped.get() {
        // The upload passed the limit: whatever the origin made of the cut-off body, it is 413.
        controller.abort();
        return Err(too_large);
    }
    let response = match outcome {
        Either::Left((Ok(response), _)) => response,
        Either::Left((Err(error), _)) => {
            worker::console_warn!("origin unreachable: {error}");
            return Err(Problem::BadGateway);
        }
        Either::Right(_) => {
            controller.abort();
            worker::console_warn!("origin timed out after {ORIGIN_TIMEOUT_SECS} s");
            return Err(Problem::Unavailable);
        }
    };
    OriginReply::read(response).await
}
