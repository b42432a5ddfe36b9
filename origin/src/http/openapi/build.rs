//! Building a document: every route of its table, described by its endpoint
//! (`http::endpoint`), with the errors its route implies, the envelopes and the schemes.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use shared::Dialect;
use shared::policy::{ADMIN_ROUTES, AdminRoute, Auth, Method, ROUTES, Route};
use shared::problem::{PRINT_ERROR_CODES, STORE_CODES};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Ref, RefOr, Required, ResponseBuilder, SecurityRequirement,
};

use super::{Api, Components};
use crate::http::endpoint::{Doc, InputDoc, Shape, SuccessDoc};

/// An object with exactly the properties it declares.
fn closed_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ))
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer).format(Some(
        utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
    ))
}

/// `{field: [message, …]}` for validation failures.
fn field_errors() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(ArrayBuilder::new().items(string())))
}

fn error_schemas(components: ComponentsBuilder) -> ComponentsBuilder {
    let store_codes: Vec<u32> = STORE_CODES
        .iter()
        .map(|(code, _)| *code)
        .filter(|code| *code != 20001)
        .collect();
    let print_codes: Vec<u32> = PRINT_ERROR_CODES.iter().map(|(code, _)| *code).collect();
    components
        .schema(
            "StoreError",
            closed_object()
                .property("code", integer().enum_values(Some(store_codes)))
                .required("code")
                .property("message", string())
                .required("message")
                .property("errors", field_errors()),
        )
        .schema(
            "StoreUnauthenticated",
            closed_object()
                .property("message", string().enum_values(Some(["Unauthenticated."])))
                .required("message"),
        )
        .schema(
            "PrintError",
            closed_object()
                .property("status", string().enum_values(Some(["error"])))
                .required("status")
                .property("code", integer().description(Some("The HTTP status.")))
                .required("code")
                .property("error_code", integer().enum_values(Some(print_codes)))
                .required("error_code")
                .property("message", string())
                .required("message")
                .property("errors", field_errors()),
        )
}

/// The success envelope of a dialect around `data`.
fn envelope(dialect: Dialect, status: StatusCode, data: RefOr<Schema>) -> RefOr<Schema> {
    match dialect {
        Dialect::Store => closed_object()
            .property("code", integer().enum_values(Some([20001])))
            .required("code")
            .property("message", string().enum_values(Some(["操作成功"])))
            .required("message")
            .property("data", data)
            .required("data")
            .into(),
        Dialect::Print => closed_object()
            .property("status", string().enum_values(Some(["success"])))
            .required("status")
            .property("code", integer().enum_values(Some([status.as_u16()])))
            .required("code")
            .property("data", data)
            .required("data")
            .into(),
    }
}

fn print_message(status: StatusCode) -> RefOr<Schema> {
    closed_object()
        .property("status", string().enum_values(Some(["success"])))
        .required("status")
        .property("code", integer().enum_values(Some([status.as_u16()])))
        .required("code")
        .property("message", string())
        .required("message")
        .into()
}

fn json_content(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn response(description: &str, content_type: &str, schema: RefOr<Schema>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content(content_type, json_content(schema))
}

fn error_ref(name: &str) -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(name))
}

/// The error answers a route can give, with their reasons.
fn error_statuses(
    api: Api,
    auth: Auth,
    method: Method,
    path: &str,
    limited: bool,
    doc: &Doc,
    shape: &Shape,
) -> BTreeSet<u16> {
    let mut statuses: BTreeSet<u16> = [403, 500, 503].into();
    if api != Api::Admin {
        // The edge answers these when the origin is unreachable or answers nonsense.
        statuses.insert(502);
    }
    // Parameters can be refused, and a refresh can be past its window (store 40005, print 999).
    let has_input = !matches!(shape.input, InputDoc::None) || path.contains('{');
    if has_input || auth == Auth::Refresh {
        statuses.insert(match api.dialect() {
            Dialect::Store => 422,
            Dialect::Print => 400,
        });
    }
    if auth != Auth::Public {
        statuses.insert(401);
    }
    if path.contains('{') {
        statuses.insert(404);
    }
    if method != Method::Get {
        statuses.insert(413);
        statuses.insert(415);
    }
    if limited {
        statuses.insert(429);
    }
    statuses.extend(doc.extra.iter().copied());
    statuses
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad parameters or refused by a business rule",
        401 => "No token, or an expired, revoked or malformed one",
        403 => "No permission (or, at the origin, no edge secret)",
        404 => "Nothing with that id for this user",
        413 => "The body is over the route's limit",
        415 => "The body is in a content type the API does not read",
        422 => "Bad parameters or refused by a business rule",
        429 => "Too many requests; see Retry-After",
        500 => "A bug; the cause is logged",
        501 => "Not implemented yet",
        502 => "The origin answered nonsense (edge)",
        503 => "Busy or unavailable; see Retry-After",
        507 => "The server's disk is low on space; uploads are refused for now",
        _ => "Error",
    }
}

fn http_method(method: Method) -> HttpMethod {
    match method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
        Method::Put => HttpMethod::Put,
        Method::Delete => HttpMethod::Delete,
    }
}

/// Query parameters from an object schema's properties.
fn query_parameters(
    schema: &RefOr<Schema>,
    components: &Components,
) -> Vec<utoipa::openapi::path::Parameter> {
    let object = match schema {
        RefOr::Ref(reference) => components
            .schemas
            .iter()
            .find(|(name, _)| reference.ref_location.ends_with(&format!("/{name}")))
            .map(|(_, schema)| schema),
        RefOr::T(_) => Some(schema),
    };
    let Some(RefOr::T(Schema::Object(object))) = object else {
        return Vec::new();
    };
    object
        .properties
        .iter()
        .map(|(name, property)| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Query)
                .required(if object.required.contains(name) {
                    Required::True
                } else {
                    Required::False
                })
                .schema(Some(without_null(property.clone())))
                .build()
        })
        .collect()
}

/// A query parameter is absent or a value; `Option` fields are nullable only in bodies.
fn without_null(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let kept: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                if let [single] = kept.as_slice() {
                    object.schema_type = SchemaType::Type(single.clone());
                }
            }
            RefOr::T(Schema::Object(object))
        }
        other => other,
    }
}

fn path_parameters(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema: RefOr<Schema> = match name {
                "id" => integer().minimum(Some(1)).into(),
                "provider" => string().description(Some("The gateway's name")).into(),
                "sid" => string()
                    .description(Some("A session id, as the user's session list names it"))
                    .into(),
                _ => string().into(),
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build()
        })
        .collect()
}

struct RouteFacts<'a> {
    method: Method,
    path: &'a str,
    auth: Auth,
    limited: bool,
}

fn build_operation(
    api: Api,
    facts: &RouteFacts<'_>,
    doc: &Doc,
    shape: Shape,
    components: &Components,
) -> utoipa::openapi::path::Operation {
    let dialect = api.dialect();
    let mut builder = OperationBuilder::new()
        .summary(Some(doc.summary))
        .tag(doc.tag)
        .operation_id(Some(operation_id(facts.method, facts.path)))
        .parameters(Some(path_parameters(facts.path)));
    match &shape.input {
        InputDoc::None => {}
        InputDoc::Params(schema, _) if facts.method == Method::Get => {
            builder = builder.parameters(Some(query_parameters(schema, components)));
        }
        InputDoc::Params(schema, _) => {
            let body = RequestBodyBuilder::new()
                .content("application/json", json_content(schema.clone()))
                .content(
                    "application/x-www-form-urlencoded",
                    json_content(schema.clone()),
                )
                .required(Some(Required::True))
                .build();
            builder = builder.request_body(Some(body));
        }
        InputDoc::Gateway { forms, json } => {
            let forms = forms.iter().fold(OneOfBuilder::new(), |one_of, form| {
                one_of.item(form.clone())
            });
            let body = RequestBodyBuilder::new()
                .content(
                    "application/x-www-form-urlencoded",
                    json_content(forms.into()),
                )
                .content("application/json", json_content(json.clone()))
                .required(Some(Required::True))
                .build();
            builder = builder.request_body(Some(body));
        }
        InputDoc::Files => {
            let files = ObjectBuilder::new().schema_type(Type::Object).property(
                "file",
                ArrayBuilder::new().items(string().format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Binary,
                    ),
                ))),
            );
            let body = RequestBodyBuilder::new()
                .content("multipart/form-data", json_content(files.into()))
                .required(Some(Required::True))
                .build();
            builder = builder.request_body(Some(body));
        }
    }
    let gateway = matches!(shape.input, InputDoc::Gateway { .. });
    let statuses = error_statuses(
        api,
        facts.auth,
        facts.method,
        facts.path,
        facts.limited,
        doc,
        &shape,
    );
    let null = || ObjectBuilder::new().schema_type(Type::Null).into();
    builder = match shape.success {
        SuccessDoc::Data(status, data) => builder.response(
            status.as_u16().to_string(),
            response(
                "Success",
                "application/json",
                envelope(dialect, status, data.unwrap_or_else(null)),
            ),
        ),
        SuccessDoc::Message(status) => builder.response(
            status.as_u16().to_string(),
            response("Success", "application/json", print_message(status)),
        ),
        SuccessDoc::Bytes => builder.response(
            "200",
            response(
                "The stored bytes; the content type is the one sniffed at upload",
                "*/*",
                string()
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Binary,
                    )))
                    .into(),
            ),
        ),
        SuccessDoc::Csv => builder.response(
            "200",
            response(
                "A CSV attachment for Excel: UTF-8 with a byte-order mark, a header row, CRLF lines",
                "text/csv; charset=utf-8",
                string().into(),
            ),
        ),
        SuccessDoc::GatewayAnswer => builder
            .response(
                "200",
                response(
                    "Settled, also for a replay (sandbox, Alipay)",
                    "text/plain",
                    string().enum_values(Some(["success"])).into(),
                ),
            )
            .response(
                "204",
                ResponseBuilder::new().description("Settled, also for a replay (WeChat Pay)"),
            ),
    };
    for status in statuses {
        let error = match (dialect, status) {
            (_, 400) if gateway => gateway_failure("Not believed or not matching; nothing changed"),
            (Dialect::Store, 401) => response(
                reason(status),
                "application/json",
                error_ref("StoreUnauthenticated"),
            ),
            (Dialect::Store, _) => {
                response(reason(status), "application/json", error_ref("StoreError"))
            }
            (Dialect::Print, _) => {
                response(reason(status), "application/json", error_ref("PrintError"))
            }
        };
        builder = builder.response(status.to_string(), error);
    }
    if facts.auth != Auth::Public {
        builder = match api {
            Api::Store => {
                builder.security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            }
            // The print refresh takes the *refresh* token where others take the access token.
            Api::Print if facts.auth == Auth::Refresh => {
                builder.security(SecurityRequirement::new("refresh", Vec::<String>::new()))
            }
            Api::Print | Api::Admin => builder
                .security(SecurityRequirement::new("token", Vec::<String>::new()))
                .security(SecurityRequirement::new("bearer", Vec::<String>::new())),
        };
    }
    builder.build()
}

/// `get_api_users_self_addresses_id`.
fn operation_id(method: Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.push_str(segment.trim_start_matches('{').trim_end_matches('}'));
    }
    id
}

pub(super) fn build(api: Api) -> OpenApi {
    let mut components = Components::default();
    let mut operations = Vec::new();
    match api {
        Api::Store | Api::Print => {
            for route in ROUTES
                .iter()
                .filter(|route| route.dialect() == api.dialect())
            {
                let endpoint = crate::http::endpoint_of(route.id, route.method);
                if let Some(doc) = endpoint.doc {
                    let shape = (doc.shape)(&mut components);
                    operations.push((facts_of(route), doc, shape));
                }
            }
        }
        Api::Admin => {
            for (id, method, path) in ADMIN_ROUTES {
                let sign_in = *id == AdminRoute::Login;
                let facts = RouteFacts {
                    method: *method,
                    path,
                    auth: if sign_in { Auth::Public } else { Auth::User },
                    limited: sign_in,
                };
                let endpoint = crate::http::admin::endpoint_of(*id, *method);
                if let Some(doc) = endpoint.doc {
                    let shape = (doc.shape)(&mut components);
                    operations.push((facts, doc, shape));
                }
            }
        }
    }
    // The tags the operations use, in first-use order.
    let mut tags: Vec<&str> = Vec::new();
    for (_, doc, _) in &operations {
        if !tags.contains(&doc.tag) {
            tags.push(doc.tag);
        }
    }
    let mut paths = PathsBuilder::new();
    for (facts, doc, shape) in operations {
        let built = build_operation(api, &facts, &doc, shape, &components);
        paths = paths.path(facts.path, PathItem::new(http_method(facts.method), built));
    }
    let mut component_builder = ComponentsBuilder::new();
    for (name, schema) in components.schemas {
        component_builder = component_builder.schema(name, schema);
    }
    let component_builder = error_schemas(component_builder)
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        )
        .security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "token",
                "The access token",
            ))),
        );
    let component_builder = if api == Api::Print {
        component_builder.security_scheme(
            "refresh",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "token",
                "The refresh token (from sign-in or the last refresh)",
            ))),
        )
    } else {
        component_builder
    };
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(api.title())
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(api.description()))
                .build(),
        )
        .paths(paths)
        .components(Some(component_builder.build()))
        .tags(Some(
            tags.into_iter()
                .map(|tag| TagBuilder::new().name(tag).build()),
        ))
        .build()
}

fn facts_of(route: &Route) -> RouteFacts<'static> {
    RouteFacts {
        method: route.method,
        path: route.path,
        auth: route.auth,
        limited: route.limit.is_some(),
    }
}

/// A gateway callback's failure: `fail` as plain text (sandbox, Alipay) or WeChat Pay's
/// `{"code":"FAIL","message":…}`.
fn gateway_failure(description: &str) -> ResponseBuilder {
    let wechat = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("code", string().enum_values(Some(["FAIL"])))
        .property("message", string())
        .required("code")
        .required("message");
    ResponseBuilder::new()
        .description(description)
        .content(
            "text/plain",
            json_content(string().enum_values(Some(["fail"])).into()),
        )
        .content("application/json", json_content(wechat.into()))
}
