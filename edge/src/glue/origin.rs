//! Forwarding a request to the origin and reading its answer.

use std::time::Duration;

use futures_util::future::{Either, select};
use shared::Problem;
use shared::headers::{CLIENT_IP, EDGE_INVALIDATE, EDGE_SECRET};
use shared::invalidate::{self, Instruction};
use shared::policy::{BODY_LIMIT, Route};
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::{
    AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, Response,
    ResponseBuilder,
};

use super::error::internal;
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

    /// A response for the client (or the cache), with some headers replaced.
    pub fn to_response(&self, replace: &[(&str, &str)]) -> Response {
        let headers = Headers::new();
        for (name, value) in &self.headers {
            if !replace
                .iter()
                .any(|(replaced, _)| name.eq_ignore_ascii_case(replaced))
            {
                let _ = headers.append(name, value);
            }
        }
        for (name, value) in replace {
            let _ = headers.set(name, value);
        }
        ResponseBuilder::new()
            .with_status(self.status)
            .with_headers(headers)
            .fixed(self.body.clone())
    }
}

/// Sends the request on to the origin with the edge's secret and the client's IP, enforcing the
/// route's body limit, and gives up after `ORIGIN_TIMEOUT_SECS`.
pub async fn forward(
    env: &Env,
    request: &mut Request,
    route: &Route,
    client_ip: &str,
) -> Result<OriginReply, Problem> {
    let (origin, secret) = super::origin_settings(env)?;
    let url = request.url().map_err(|e| internal("url", e))?;
    let target = match url.query() {
        Some(query) => format!("{origin}{}?{query}", url.path()),
        None => format!("{origin}{}", url.path()),
    };

    let headers = Headers::new();
    for (name, value) in request.headers().entries() {
        if forward_request_header(&name) {
            let _ = headers.append(&name, &value);
        }
    }
    headers
        .set(EDGE_SECRET, &secret)
        .map_err(|e| internal("headers", e))?;
    headers
        .set(CLIENT_IP, client_ip)
        .map_err(|e| internal("headers", e))?;

    let method = request.method();
    let mut init = RequestInit::new();
    init.with_method(method.clone());
    let too_large = Problem::PayloadTooLarge {
        limit_bytes: route.body_limit,
    };
    let declared = request
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > route.body_limit) {
        return Err(too_large);
    }
    if !matches!(method, Method::Get | Method::Head) {
        if route.body_limit <= BODY_LIMIT {
            let bytes = request
                .bytes()
                .await
                .map_err(|_| Problem::invalid("body", "请求体无法读取"))?;
            if bytes.len() as u64 > route.body_limit {
                return Err(too_large);
            }
            if !bytes.is_empty() {
                headers
                    .set("content-length", &bytes.len().to_string())
                    .map_err(|e| internal("headers", e))?;
                init.with_body(Some(Uint8Array::from(bytes.as_slice()).into()));
            }
        } else {
            // Large uploads stream through; their length must be declared so the limit holds.
            if declared.is_none() {
                return Err(Problem::invalid("body", "上传请求必须带 Content-Length"));
            }
            init.with_body(request.inner().body().map(JsValue::from));
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
    let response = match select(fetch, timeout).await {
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
