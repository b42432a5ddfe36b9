//! Successful replies in both envelopes, and the edge instructions that travel with them.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use shared::envelope;
use shared::headers::EDGE_INVALIDATE;
use shared::invalidate::{self, Instruction};

pub struct Reply {
    status: StatusCode,
    body: Value,
    instructions: Vec<Instruction>,
}

impl Reply {
    pub fn store(status: StatusCode, data: impl Serialize) -> Reply {
        Reply {
            status,
            body: envelope::store_ok(to_value(data)),
            instructions: Vec::new(),
        }
    }

    pub fn print(status: StatusCode, data: impl Serialize) -> Reply {
        Reply {
            status,
            body: envelope::print_data(status.as_u16(), to_value(data)),
            instructions: Vec::new(),
        }
    }

    pub fn print_message(status: StatusCode, message: &str) -> Reply {
        Reply {
            status,
            body: envelope::print_message(status.as_u16(), message),
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
        let mut response = (self.status, Json(self.body)).into_response();
        attach_instructions(&mut response, &self.instructions);
        response
    }
}

/// The views are plain structs with string keys, which always serialize.
fn to_value(data: impl Serialize) -> Value {
    serde_json::to_value(data).expect("views serialize to JSON")
}

pub fn attach_instructions(response: &mut Response, instructions: &[Instruction]) {
    if instructions.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_str(&invalidate::encode(instructions)) {
        response.headers_mut().insert(EDGE_INVALIDATE, value);
    }
}
