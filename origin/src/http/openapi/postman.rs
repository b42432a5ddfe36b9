//! A Postman collection (format v2.1) made from an OpenAPI document: one folder per tag, one
//! request per operation, with `{{baseUrl}}` and `{{token}}` variables. Bodies are JSON with
//! each documented field present and empty, so the request shows what to fill in.

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
            let request = request(api, document, path, method, operation);
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
            { "key": "token", "value": "" },
        ],
        "item": folders
            .into_iter()
            .map(|(name, items)| json!({ "name": name, "item": items }))
            .collect::<Vec<_>>(),
    })
}

fn request(api: Api, document: &Value, path: &str, method: &str, operation: &Value) -> Value {
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
    if operation.get("security").is_some() {
        headers.push(match api {
            Api::Store => json!({ "key": "Authorization", "value": "Bearer {{token}}" }),
            Api::Print | Api::Admin => json!({ "key": "token", "value": "{{token}}" }),
        });
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
            "raw": serde_json::to_string_pretty(&blank(document, schema)).unwrap_or_default(),
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
        let fields: Vec<Value> = blank(document, schema)
            .as_object()
            .map(|fields| {
                fields
                    .keys()
                    .map(|key| json!({ "key": key, "value": "" }))
                    .collect()
            })
            .unwrap_or_default();
        request["body"] = json!({ "mode": "urlencoded", "urlencoded": fields });
    }
    json!({ "name": operation["summary"], "request": request })
}

/// `{field: ""}` for each property of a (referenced) object schema.
fn blank(document: &Value, schema: &Map<String, Value>) -> Value {
    let resolved = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &document["components"]["schemas"][name]
        }
        None => &Value::Object(schema.clone()),
    };
    let fields: Map<String, Value> = resolved["properties"]
        .as_object()
        .map(|properties| {
            properties
                .keys()
                .map(|key| (key.clone(), Value::String(String::new())))
                .collect()
        })
        .unwrap_or_default();
    Value::Object(fields)
}
