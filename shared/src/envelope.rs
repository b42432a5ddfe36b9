//! Success envelopes of both dialects.

use serde_json::{Value, json};

/// Store success: `{code: 20001, message: "操作成功", data}`.
pub fn store_ok(data: Value) -> Value {
    json!({ "code": 20001, "message": "操作成功", "data": data })
}

/// Print success with data: `{status: "success", code, data}`.
pub fn print_data(code: u16, data: Value) -> Value {
    json!({ "status": "success", "code": code, "data": data })
}

/// Print success for a write with nothing to return: `{status: "success", code, message}`.
pub fn print_message(code: u16, message: &str) -> Value {
    json!({ "status": "success", "code": code, "message": message })
}
