//! A Postman collection (format v2.1) made from an OpenAPI document: one folder per tag, one
//! request per operation, with `{{baseUrl}}`, `{{token}}`, `{{refresh_token}}`,
//! `{{verification_token}}` and `{{captcha_key}}` variables. Bodies are valid requests: the
//! schema's own example when it has one, otherwise every required field with a value its
//! schema accepts (a test sends each through the handler's own input parsing).

use serde_json::{Map, Value, json};

use super::Api;

const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

pub fn collection(api: Api, document: &Value) -> Value {
    let mut folders: Vec<(String, Vec<Value>)> = Vec::new();
    let paths = document["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (method, operation) in item {
            let tag = operation["tags"][0].as_str().unwrap_or("other").to_owned();
            let request = request(document, path, method, operation);
            match folders.iter_mut().find(|(name, _)| *name == tag) {
                Some((_, items)) => items.push(request),
                None => folders.push((tag, vec![request])),
            }
        }
    }
    let base_url = match api {
        Api::Admin => "http://127.0.0.1:8788",
        Api::Store | Api::Print => "http://127.0.0.1:8787",
    };
    json!({
        "info": {
            "name": document["info"]["title"],
            "description": document["info"]["description"],
            "schema": SCHEMA,
        },
        "variable": [
            { "key": "baseUrl", "value": base_url },
            { "key": "token", "value": "", "description": "The access token" },
            { "key": "refresh_token", "value": "", "description": "The print refresh token" },
            { "key": "verification_token", "value": "", "description": "From POST /api/sms or /api/mail" },
            { "key": "captcha_key", "value": "", "description": "From POST /api/captchas" },
        ],
        "item": folders
            .into_iter()
            .map(|(name, items)| json!({ "name": name, "item": items }))
            .collect::<Vec<_>>(),
    })
}

fn request(document: &Value, path: &str, method: &str, operation: &Value) -> Value {
    let parameters = operation["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let query: Vec<Value> = parameters
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| json!({ "key": p["name"], "value": "", "disabled": p["required"] != true }))
        .collect();
    // `{id}` becomes Postman's `:id`.
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => format!(":{name}"),
                None => segment.to_owned(),
            },
        )
        .collect();
    let mut headers = Vec::new();
    // The first scheme the operation names decides the header.
    let scheme = operation["security"][0]
        .as_object()
        .and_then(|requirement| requirement.keys().next().cloned());
    match scheme.as_deref() {
        Some("bearer") => {
            headers.push(json!({ "key": "Authorization", "value": "Bearer {{token}}" }));
        }
        Some("refresh") => headers.push(json!({ "key": "token", "value": "{{refresh_token}}" })),
        Some(_) => headers.push(json!({ "key": "token", "value": "{{token}}" })),
        None => {}
    }
    let mut request = json!({
        "method": method.to_ascii_uppercase(),
        "header": headers,
        "url": {
            "raw": format!("{{{{baseUrl}}}}/{}", segments.join("/")),
            "host": ["{{baseUrl}}"],
            "path": segments,
            "query": query,
        },
        "description": operation["summary"],
    });
    let body = &operation["requestBody"]["content"];
    if let Some(schema) = body["application/json"]["schema"].as_object() {
        request["body"] = json!({
            "mode": "raw",
            "raw": serde_json::to_string_pretty(&example(document, schema)).unwrap_or_default(),
            "options": { "raw": { "language": "json" } },
        });
        if let Some(headers) = request["header"].as_array_mut() {
            headers.push(json!({ "key": "Content-Type", "value": "application/json" }));
        }
    } else if body.get("multipart/form-data").is_some() {
        request["body"] = json!({
            "mode": "formdata",
            "formdata": [{ "key": "file", "type": "file", "src": [] }],
        });
    } else if let Some(schema) = body["application/x-www-form-urlencoded"]["schema"].as_object() {
        let fields: Vec<Value> = example(document, schema)
            .as_object()
            .map(|fields| {
                fields
                    .iter()
                    .map(|(key, value)| {
                        let value = value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_owned);
                        json!({ "key": key, "value": value })
                    })
                    .collect()
            })
            .unwrap_or_default();
        request["body"] = json!({ "mode": "urlencoded", "urlencoded": fields });
    }
    json!({ "name": operation["summary"], "request": request })
}

/// A body its schema accepts: the schema's example, or each required property with a value.
pub(super) fn example(document: &Value, schema: &Map<String, Value>) -> Value {
    let resolved = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &document["components"]["schemas"][name]
        }
        None => &Value::Object(schema.clone()),
    };
    if let Some(example) = resolved["examples"].get(0) {
        return example.clone();
    }
    let required: Vec<&str> = resolved["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let fields: Map<String, Value> = resolved["properties"]
        .as_object()
        .map(|properties| {
            properties
                .iter()
                .filter(|(name, _)| required.contains(&name.as_str()))
                .map(|(name, property)| (name.clone(), value_for(name, property)))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(fields)
}

/// A value `property` accepts; tokens from earlier requests are collection variables.
fn value_for(name: &str, property: &Value) -> Value {
    match name {
        "verification_token" | "captcha_key" => return json!(format!("{{{{{name}}}}}")),
        "captcha_code" => return json!("ab12"),
        "verification_code" => return json!("123456"),
        _ => {}
    }
    if let Some(first) = property["enum"].get(0) {
        return first.clone();
    }
    let kind = match &property["type"] {
        Value::Array(kinds) => kinds.iter().find(|kind| *kind != "null").cloned(),
        kind => Some(kind.clone()),
    };
    match kind.as_ref().and_then(Value::as_str) {
        Some("integer") => property["minimum"]
            .as_i64()
            .map_or(json!(1), |min| json!(min.max(1))),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        _ => json!(string_for(property)),
    }
}

fn string_for(property: &Value) -> String {
    if property["format"] == "email" {
        return "user@example.com".into();
    }
    match property["pattern"].as_str() {
        Some(pattern) if pattern.starts_with("^(1[3-9]") => "13800138000",
        Some(pattern) if pattern.starts_with("^[A-Za-z0-9]") => "alice01",
        Some(pattern) if pattern.contains("[0-9]{6}") => "100000",
        Some(pattern) if pattern.contains("[0-9]+(") => "10.00",
        Some(pattern) => {
            return pattern
                .trim_start_matches("^(")
                .split(['|', ')'])
                .next()
                .unwrap_or("text")
                .to_owned();
        }
        None if property["minLength"].as_u64().unwrap_or(0) >= 8 => "password123",
        None if property["description"]
            .as_str()
            .is_some_and(|text| text.contains("2026-12-31")) =>
        {
            "2030-12-31 23:59:59"
        }
        None => "text",
    }
    .to_owned()
}
