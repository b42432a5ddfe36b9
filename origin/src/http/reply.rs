//! Successful replies in both envelopes, and the edge instructions that travel with them.
//!
//! Handlers answer with a typed reply — [`StoreOk`], [`PrintOk`], [`PrintDone`] — whose type
//! says the status and the `data` schema, so the API documents read both from the handler's
//! signature ([`crate::http::endpoint`]).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::envelope;
use shared::headers::EDGE_INVALIDATE;
use shared::invalidate::{self, Instruction};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::http::endpoint::{DescribeReply, SuccessDoc};
use crate::http::openapi::Components;
use crate::http::views::Page;

pub struct Reply {
    status: StatusCode,
    /// The envelope, serialized.
    body: Vec<u8>,
    instructions: Vec<Instruction>,
}

/// The store envelope (`shared::envelope::store_ok`), serialized straight from the view: no
/// `serde_json::Value` in between (issue 20: building one was a tenth of a profile read).
#[derive(Serialize)]
struct StoreEnvelope<T> {
    code: u32,
    message: &'static str,
    data: T,
}

/// The print envelope with data (`shared::envelope::print_data`), serialized straight.
#[derive(Serialize)]
struct PrintEnvelope<T> {
    status: &'static str,
    code: u16,
    data: T,
}

impl Reply {
    pub fn store(status: StatusCode, data: impl Serialize) -> Reply {
        Reply {
            status,
            body: to_vec(&StoreEnvelope {
                code: 20001,
                message: "操作成功",
                data,
            }),
            instructions: Vec::new(),
        }
    }

    pub fn print(status: StatusCode, data: impl Serialize) -> Reply {
        Reply {
            status,
            body: to_vec(&PrintEnvelope {
                status: "success",
                code: status.as_u16(),
                data,
            }),
            instructions: Vec::new(),
        }
    }

    pub fn print_message(status: StatusCode, message: &str) -> Reply {
        Reply {
            status,
            body: to_vec(&envelope::print_message(status.as_u16(), message)),
            instructions: Vec::new(),
        }
    }

    /// Tells the edge what this write changed (sessions revoked, a user's data version).
    pub fn invalidate(mut self, instructions: Vec<Instruction>) -> Reply {
        self.instructions.extend(instructions);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.body,
        )
            .into_response();
        attach_instructions(&mut response, &self.instructions);
        response
    }
}

/// The views are plain structs with string keys, which always serialize.
fn to_vec(data: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(data).expect("views serialize to JSON")
}

/// Adds `instructions` to those `response` already carries (each kept once).
pub fn add_instructions(response: &mut Response, instructions: &[Instruction]) {
    let mut all: Vec<Instruction> = response
        .headers()
        .get(EDGE_INVALIDATE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| invalidate::decode(value).ok())
        .unwrap_or_default();
    for instruction in instructions {
        if !all.contains(instruction) {
            all.push(instruction.clone());
        }
    }
    attach_instructions(response, &all);
}

pub fn attach_instructions(response: &mut Response, instructions: &[Instruction]) {
    if instructions.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&invalidate::encode(instructions)) {
        response.headers_mut().insert(EDGE_INVALIDATE, value);
    }
}

/// A view type: a `data` object the documents name by its schema. Implemented for each view
/// (`http::views`), so a handler can only answer with a type the documents know.
pub trait View: Serialize + ToSchema {}

impl View for String {}

/// What can stand in `data`, with its schema.
pub trait Data: Serialize {
    /// `None`: `data` is null.
    fn schema(components: &mut Components) -> Option<RefOr<Schema>>;
}

impl<T: View> Data for T {
    fn schema(components: &mut Components) -> Option<RefOr<Schema>> {
        Some(components.of::<T>())
    }
}

impl<T: View> Data for Vec<T> {
    fn schema(components: &mut Components) -> Option<RefOr<Schema>> {
        Some(components.list_of::<T>())
    }
}

impl<T: View> Data for Page<T> {
    fn schema(components: &mut Components) -> Option<RefOr<Schema>> {
        Some(components.page_of::<T>())
    }
}

impl Data for () {
    fn schema(_components: &mut Components) -> Option<RefOr<Schema>> {
        None
    }
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("a reply's status is a valid code")
}

macro_rules! data_reply {
    ($(#[doc = $doc:literal])* $name:ident, $constructor:ident) => {
        $(#[doc = $doc])*
        pub struct $name<T, const STATUS: u16 = 200> {
            data: T,
            instructions: Vec<Instruction>,
        }

        impl<T: Data, const STATUS: u16> $name<T, STATUS> {
            pub fn new(data: T) -> Self {
                $name {
                    data,
                    instructions: Vec::new(),
                }
            }

            /// Tells the edge what this write changed.
            pub fn invalidate(mut self, instructions: Vec<Instruction>) -> Self {
                self.instructions.extend(instructions);
                self
            }
        }

        impl<T: Data, const STATUS: u16> IntoResponse for $name<T, STATUS> {
            fn into_response(self) -> Response {
                Reply::$constructor(status_of(STATUS), self.data)
                    .invalidate(self.instructions)
                    .into_response()
            }
        }

        impl<T: Data, const STATUS: u16> DescribeReply for $name<T, STATUS> {
            fn success(components: &mut Components) -> SuccessDoc {
                SuccessDoc::Data(status_of(STATUS), T::schema(components))
            }
        }
    };
}

data_reply!(
    /// `{code: 20001, message: "操作成功", data}` with status `STATUS`.
    StoreOk,
    store
);
data_reply!(
    /// `{status: "success", code: STATUS, data}`.
    PrintOk,
    print
);

/// `{status: "success", code: STATUS, message}`: a print write with nothing to return.
pub struct PrintDone<const STATUS: u16 = 200> {
    message: &'static str,
    instructions: Vec<Instruction>,
}

impl<const STATUS: u16> PrintDone<STATUS> {
    pub fn new(message: &'static str) -> Self {
        PrintDone {
            message,
            instructions: Vec::new(),
        }
    }

    /// Tells the edge what this write changed.
    pub fn invalidate(mut self, instructions: Vec<Instruction>) -> Self {
        self.instructions.extend(instructions);
        self
    }
}

impl<const STATUS: u16> IntoResponse for PrintDone<STATUS> {
    fn into_response(self) -> Response {
        Reply::print_message(status_of(STATUS), self.message)
            .invalidate(self.instructions)
            .into_response()
    }
}

impl<const STATUS: u16> DescribeReply for PrintDone<STATUS> {
    fn success(_components: &mut Components) -> SuccessDoc {
        SuccessDoc::Message(status_of(STATUS))
    }
}
