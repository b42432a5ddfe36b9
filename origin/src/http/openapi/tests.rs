//! The documents, checked against the route tables and the committed copies.

use std::collections::BTreeSet;

use serde_json::Value;
use shared::Dialect;
use shared::policy::{ADMIN_ROUTES, ROUTES, RouteId};

use super::{Api, absolute_assets, document, postman};

fn operations(document: &Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn each_client_document_lists_exactly_its_dialects_routes_but_the_meta_ones() {
    for (api, dialect) in [(Api::Store, Dialect::Store), (Api::Print, Dialect::Print)] {
        let meta = [
            RouteId::Jwks,
            RouteId::OpenApi,
            RouteId::Docs,
            RouteId::DocsAsset,
        ];
        let expected: BTreeSet<(String, String)> = ROUTES
            .iter()
            .filter(|route| route.dialect() == dialect && !meta.contains(&route.id))
            .map(|route| (route.method.as_str().to_owned(), route.path.to_owned()))
            .collect();
        assert_eq!(operations(document(api)), expected, "{api:?}");
    }
}

#[test]
fn the_admin_document_lists_exactly_the_admin_table() {
    let expected: BTreeSet<(String, String)> = ADMIN_ROUTES
        .iter()
        .map(|(_, method, path)| (method.as_str().to_owned(), (*path).to_owned()))
        .collect();
    assert_eq!(operations(document(Api::Admin)), expected);
}

#[test]
fn documents_are_openapi_3_1_and_every_reference_resolves() {
    for api in [Api::Store, Api::Print, Api::Admin] {
        let document = document(api);
        assert_eq!(document["openapi"], "3.1.0");
        let text = document.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let name = reference
                .split('"')
                .next()
                .unwrap()
                .trim_start_matches("#/components/schemas/");
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{api:?}: {name} is referred to but not defined"
            );
        }
    }
}

#[test]
fn a_refresh_documents_its_expired_answer_and_a_logout_only_what_it_can_answer() {
    let store = document(Api::Store);
    let responses = |document: &'static Value, path: &str, method: &str| {
        document["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(responses(store, "/api/auth/refresh", "put").contains(&"422".to_owned()));
    assert!(!responses(store, "/api/auth/logout", "delete").contains(&"422".to_owned()));
    let print = document(Api::Print);
    assert!(responses(print, "/api/refresh", "post").contains(&"400".to_owned()));
    assert!(responses(print, "/api/wechat/login", "post").contains(&"501".to_owned()));
    let tags: Vec<&str> = store["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tag| tag["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["meta", "auth", "addresses"]);
}

#[test]
fn uploads_document_their_quota_count_and_disk_refusals() {
    let print = document(Api::Print);
    for path in ["/api/images", "/api/files"] {
        let responses = &print["paths"][path]["post"]["responses"];
        for status in ["413", "429", "507"] {
            assert!(responses.get(status).is_some(), "{path} lacks {status}");
        }
    }
}

#[test]
fn relative_assets_of_the_docs_page_resolve_under_its_path() {
    let html = r#"<link href="./a.css"><link href="index.css"><script src="./b.js">
        <link href="/x.css"><a href="https://e.test/">"#;
    assert_eq!(
        absolute_assets(html, "/api/docs/"),
        r#"<link href="/api/docs/a.css"><link href="/api/docs/index.css"><script src="/api/docs/b.js">
        <link href="/x.css"><a href="https://e.test/">"#
    );
}

#[test]
fn signed_in_operations_name_their_credential_and_public_ones_do_not() {
    let print = document(Api::Print);
    let me = &print["paths"]["/api/users/self"]["get"];
    assert_eq!(me["security"][0], serde_json::json!({ "token": [] }));
    assert!(me["responses"].get("401").is_some());
    let gifts = &print["paths"]["/api/gifts"]["get"];
    assert!(gifts.get("security").is_none());
    assert!(gifts["responses"].get("401").is_none());
    let store = document(Api::Store);
    let me = &store["paths"]["/api/auth/me"]["get"];
    assert_eq!(me["security"][0], serde_json::json!({ "bearer": [] }));
    assert_eq!(
        me["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/StoreUnauthenticated"
    );
}

#[test]
fn the_postman_collection_has_a_request_per_operation_with_the_dialects_auth_header() {
    for api in [Api::Store, Api::Print, Api::Admin] {
        let document = document(api);
        let collection = postman::collection(api, document);
        let requests: Vec<&Value> = collection["item"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|folder| folder["item"].as_array().unwrap())
            .collect();
        assert_eq!(requests.len(), operations(document).len(), "{api:?}");
        assert!(
            collection["info"]["schema"]
                .as_str()
                .unwrap()
                .contains("v2.1.0")
        );
    }
    let store = postman::collection(Api::Store, document(Api::Store));
    let text = store.to_string();
    assert!(text.contains("Bearer {{token}}"));
    assert!(text.contains("{{baseUrl}}/api/user_addresses/:id"));
}

/// `docs/openapi/*.json` are the documents as `origin openapi store|print|admin` prints them,
/// committed so that a clone describes its APIs without a running server; they must not drift.
#[test]
fn committed_documents_are_the_generated_ones() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi");
    for (api, name) in [
        (Api::Store, "store"),
        (Api::Print, "print"),
        (Api::Admin, "admin"),
    ] {
        let path = docs.join(format!("{name}.json"));
        let committed =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let generated = format!("{}\n", serde_json::to_string_pretty(document(api)).unwrap());
        assert!(
            committed == generated,
            "docs/openapi/{name}.json differs from the {name} document the code generates; \
             regenerate it from the repository root with \
             `cargo build -p origin && ./target/debug/origin openapi {name} > docs/openapi/{name}.json`"
        );
    }
}

/// Every example body a client is shown (the Postman collections') is a request the handler's
/// own input reading accepts.
#[test]
fn every_documented_example_body_is_accepted_by_its_handler() {
    use crate::http::endpoint::InputDoc;
    use crate::http::openapi::Components;
    use crate::http::params::Params;
    use shared::policy::Method;

    let mut checked = 0;
    let mut check =
        |api: Api,
         method: Method,
         path: &str,
         shape_of: &dyn Fn(&mut Components) -> crate::http::endpoint::Shape| {
            let shape = shape_of(&mut Components::default());
            let InputDoc::Params(_, accepts) = shape.input else {
                return;
            };
            let document = document(api);
            let operation = &document["paths"][path][method.as_str().to_ascii_lowercase()];
            let body = if method == Method::Get {
                serde_json::json!({})
            } else {
                let schema = operation["requestBody"]["content"]["application/json"]["schema"]
                    .as_object()
                    .unwrap_or_else(|| panic!("{path} documents no JSON body"));
                postman::example(document, schema)
            };
            let params = Params::from_json(body.to_string().as_bytes()).unwrap();
            if let Err(problem) = accepts(&params) {
                panic!("{method:?} {path}: the example {body} is refused: {problem:?}");
            }
            checked += 1;
        };
    for route in ROUTES {
        let api = match route.dialect() {
            Dialect::Store => Api::Store,
            Dialect::Print => Api::Print,
        };
        if let Some(doc) = crate::http::endpoint_of(route.id, route.method).doc {
            check(api, route.method, route.path, &doc.shape);
        }
    }
    for (id, method, path) in ADMIN_ROUTES {
        if let Some(doc) = crate::http::admin::endpoint_of(*id, *method).doc {
            check(Api::Admin, *method, path, &doc.shape);
        }
    }
    assert!(checked > 40, "only {checked} operations with parameters");
}

#[test]
fn the_print_refresh_is_documented_and_collected_with_the_refresh_token() {
    let print = document(Api::Print);
    let refresh = &print["paths"]["/api/refresh"]["post"];
    assert_eq!(refresh["security"][0], serde_json::json!({ "refresh": [] }));
    let collection = postman::collection(Api::Print, print).to_string();
    assert!(collection.contains("{{refresh_token}}"));
}
