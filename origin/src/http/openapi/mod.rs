//! OpenAPI 3.1 documents of the three APIs, built from the code: the paths, methods, auth and
//! rate limits come from the route tables (`shared::policy::ROUTES` and the admin table); each
//! operation's parameters and answer come from its handler's types (`http::endpoint`: the
//! `Input<T>` it takes, the typed reply it returns); the envelopes and error codes from
//! `shared`. The mount arm that routes to a handler is the one that describes it.
//!
//! Served at `/api/openapi/{store,print}.json` (also as `*.postman.json`, a Postman collection)
//! and on the admin listener at `/admin/openapi.json`, with Swagger UI from the binary at
//! `/api/docs/` and `/admin/docs/` (no network needed).

mod build;
mod components;
pub mod postman;
#[cfg(test)]
mod tests;

pub use components::Components;

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use shared::{Dialect, Problem};

use crate::error::AppError;

/// Which document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Store,
    Print,
    Admin,
}

impl Api {
    fn title(self) -> &'static str {
        match self {
            Api::Store => "Store API (000)",
            Api::Print => "Print-shop API (003)",
            Api::Admin => "Back-office API",
        }
    }

    fn dialect(self) -> Dialect {
        match self {
            Api::Store => Dialect::Store,
            Api::Print | Api::Admin => Dialect::Print,
        }
    }

    fn description(self) -> &'static str {
        match self {
            Api::Store => {
                "The store document's API. Every answer is JSON. Success: `{code: 20001, message: \
                 \"操作成功\", data}`. Failure: `{code, message, errors?}` with the document's \
                 codes (10001 bad parameters, 10003 bad data, 40001 forbidden, 40003 no \
                 permission, 40004 not found, 40005 expired, 50001 failed), except 401, which is \
                 exactly `{\"message\": \"Unauthenticated.\"}`. Validation failures are 422 and \
                 name the field in `errors`. Signed-in routes take `Authorization: Bearer \
                 <access token>`. Clients reach it through the edge; the origin's public listener \
                 also requires the edge's `x-edge-secret` header."
            }
            Api::Print => {
                "The print-shop document's API. Success: `{status: \"success\", code, data}` or, \
                 for writes with nothing to return, `{status: \"success\", code, message}`; \
                 `code` equals the HTTP status. Failure: `{status: \"error\", code, error_code, \
                 message, errors?}` with the document's `error_code`s (10003 no permission, \
                 20000 unknown account, 20001 wrong password, 20002 taken, 20006 wrong code, \
                 20007 bad account format, 999 anything else). Business and validation failures \
                 are 400. Signed-in routes take the access token in the `token` header (or \
                 `Authorization: Bearer`). Lists take `page` and `limit` and answer Laravel-style \
                 meta beside `data`. Clients reach it through the edge; the origin's public \
                 listener also requires the edge's `x-edge-secret` header."
            }
            Api::Admin => {
                "The back office, on the origin's private listener, in the print envelope. Every \
                 route needs an admin's access token (sign in with `POST /api/login` and \
                 `is_admin=1`) and the permission the route names; without it the answer is 403 \
                 with `error_code` 10003."
            }
        }
    }
}

/// The document, built once.
pub fn document(api: Api) -> &'static Value {
    static STORE: OnceLock<Value> = OnceLock::new();
    static PRINT: OnceLock<Value> = OnceLock::new();
    static ADMIN: OnceLock<Value> = OnceLock::new();
    let cell = match api {
        Api::Store => &STORE,
        Api::Print => &PRINT,
        Api::Admin => &ADMIN,
    };
    cell.get_or_init(|| serde_json::to_value(build::build(api)).expect("the document serializes"))
}

// ---- Serving -----------------------------------------------------------------------------

fn json_response(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// `GET /api/openapi/{document}`: `store.json`, `print.json`, or either as `.postman.json`.
pub async fn public_document(Path(name): Path<String>) -> Result<Response, AppError> {
    let api = match name.split_once('.') {
        Some(("store", _)) => Api::Store,
        Some(("print", _)) => Api::Print,
        _ => return Err(Problem::NotFound.into()),
    };
    match name.split_once('.').map(|(_, format)| format) {
        Some("json") => Ok(json_response(document(api))),
        Some("postman.json") => Ok(json_response(&postman::collection(api, document(api)))),
        _ => Err(Problem::NotFound.into()),
    }
}

/// `GET /admin/openapi.json`.
pub async fn admin_document() -> Response {
    json_response(document(Api::Admin))
}

/// Swagger UI, from the assets compiled into the binary. `/api/docs` lists both client
/// documents, `/admin/docs` the admin one.
pub async fn public_docs_index() -> Response {
    docs_file(Api::Print, "index.html")
}

pub async fn public_docs_asset(Path(file): Path<String>) -> Response {
    docs_file(Api::Print, &file)
}

pub async fn admin_docs_index() -> Response {
    docs_file(Api::Admin, "index.html")
}

pub async fn admin_docs_asset(Path(file): Path<String>) -> Response {
    docs_file(Api::Admin, &file)
}

fn swagger_config(api: Api) -> Arc<utoipa_swagger_ui::Config<'static>> {
    static PUBLIC: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    static ADMIN: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    let (cell, urls) = match api {
        Api::Admin => (&ADMIN, vec![("admin", "/admin/openapi.json")]),
        Api::Store | Api::Print => (
            &PUBLIC,
            vec![
                ("store", "/api/openapi/store.json"),
                ("print", "/api/openapi/print.json"),
            ],
        ),
    };
    cell.get_or_init(|| {
        let urls = urls
            .into_iter()
            .map(|(name, url)| utoipa_swagger_ui::Url::new(name, url));
        Arc::new(utoipa_swagger_ui::Config::new(urls))
    })
    .clone()
}

fn docs_file(api: Api, file: &str) -> Response {
    let base = match api {
        Api::Admin => "/admin/docs/",
        Api::Store | Api::Print => "/api/docs/",
    };
    match utoipa_swagger_ui::serve(file, swagger_config(api)) {
        Ok(Some(found)) => {
            let mut bytes = found.bytes.into_owned();
            if file == "index.html" {
                // The index names its assets relatively (`./swagger-ui.css`, `index.css`);
                // served at `/api/docs` too, they must resolve under the docs path.
                bytes = absolute_assets(&String::from_utf8_lossy(&bytes), base).into_bytes();
            }
            let mut response = Response::new(Body::from(bytes));
            if let Ok(value) = HeaderValue::from_str(&found.content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            // The docs' "try it out" sends requests with a token the reader typed: no other
            // site may frame the page (clickjacking) or learn where it was opened from.
            let headers = response.headers_mut();
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            if found.gzpipped {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        }
        Ok(None) => AppError::from(Problem::NotFound).into_response(),
        Err(error) => {
            tracing::error!(%error, "swagger ui asset");
            AppError::from(Problem::Internal).into_response()
        }
    }
}

/// Every relative `href="…"` / `src="…"` of `html` made absolute under `base` (a path ending
/// in `/`); absolute paths, URLs and `data:` stay as they are.
pub(crate) fn absolute_assets(html: &str, base: &str) -> String {
    let mut out = String::with_capacity(html.len() + 64);
    let mut rest = html;
    while let Some(at) = ["href=\"", "src=\""]
        .iter()
        .filter_map(|attribute| rest.find(attribute).map(|at| at + attribute.len()))
        .min()
    {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let relative = !(rest.starts_with('/')
            || rest.starts_with("http:")
            || rest.starts_with("https:")
            || rest.starts_with("data:")
            || rest.starts_with('#'));
        if relative {
            out.push_str(base);
            rest = rest.strip_prefix("./").unwrap_or(rest);
        }
    }
    out.push_str(rest);
    out
}
