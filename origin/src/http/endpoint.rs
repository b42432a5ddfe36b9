//! An endpoint is its handler: the mount arm hands the handler function to [`endpoint`], which
//! both routes to it and reads, from the handler's *types*, what the API documents say it takes
//! and answers. An argument of type `Input<T>` is the operation's parameters (`T`'s schema);
//! a return type `StoreOk<T, 201>` is a 201 in the store envelope around `T`'s schema. A
//! handler cannot change what it reads or answers without its document changing with it.

use std::future::Future;

use axum::extract::State;
use axum::handler::Handler;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::routing::{MethodFilter, MethodRouter, on};
use shared::Problem;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::AppState;
use crate::error::AppError;
use crate::http::ClientNetwork;
use crate::http::auth::Caller;
use crate::http::input::{FromParams, Input};
use crate::http::openapi::Components;
use crate::http::params::Params;
use crate::http::path::{PathId, PathIdText, PathText};

/// What an operation reads besides its path parameters.
pub enum InputDoc {
    None,
    /// Parameters: the query of a GET, otherwise a JSON, form or multipart body (every write
    /// accepts all three); with the handler's own reading of them (what the documents'
    /// examples are checked with).
    Params(RefOr<Schema>, fn(&Params) -> Result<(), Problem>),
    /// Files as multipart parts.
    Files,
    /// A payment gateway's callback: one of the signed forms (sandbox, Alipay), or a signed
    /// JSON body (WeChat Pay), each read by the provider named in the path.
    Gateway {
        forms: Vec<RefOr<Schema>>,
        json: RefOr<Schema>,
    },
}

/// What an operation answers on success. (Built once per document, so variant sizes do not
/// matter.)
#[allow(clippy::large_enum_variant)]
pub enum SuccessDoc {
    /// The dialect's data envelope around this schema (`None`: `data` is null).
    Data(StatusCode, Option<RefOr<Schema>>),
    /// Print: `{status, code, message}`.
    Message(StatusCode),
    /// Stored bytes with their sniffed content type.
    Bytes,
    /// A CSV file for Excel (`text/csv; charset=utf-8`, with a byte-order mark).
    Csv,
    /// The gateway's own acknowledgement: `success` as plain text, or an empty 204.
    GatewayAnswer,
}

/// What the documents say about one operation, read from its handler's types.
pub struct Shape {
    pub input: InputDoc,
    pub success: SuccessDoc,
}

/// A handler argument's part of the document. Most arguments (state, caller, path ids) add
/// nothing: the route table already states auth and path parameters.
pub trait DescribeArg {
    fn describe(_input: &mut InputDoc, _components: &mut Components) {}
}

impl DescribeArg for State<AppState> {}
impl DescribeArg for Caller {}
impl DescribeArg for ClientNetwork {}
impl DescribeArg for PathId {}
impl DescribeArg for PathText {}
impl DescribeArg for PathIdText {}
impl DescribeArg for HeaderMap {}

impl<T: FromParams + ToSchema> DescribeArg for Input<T> {
    fn describe(input: &mut InputDoc, components: &mut Components) {
        *input = InputDoc::Params(components.input::<T>(), |params| {
            T::from_params(params).map(drop)
        });
    }
}

/// A handler's answer's part of the document.
pub trait DescribeReply {
    fn success(components: &mut Components) -> SuccessDoc;
}

impl<T: DescribeReply> DescribeReply for Result<T, AppError> {
    fn success(components: &mut Components) -> SuccessDoc {
        T::success(components)
    }
}

/// Implemented for handler functions of every arity the origin uses.
pub trait Documented<Args> {
    fn shape(components: &mut Components) -> Shape;
}

macro_rules! documented {
    ($($arg:ident),*) => {
        impl<F, Fut, R, $($arg,)*> Documented<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future<Output = R>,
            R: DescribeReply,
            $($arg: DescribeArg,)*
        {
            #[allow(unused_mut)]
            fn shape(components: &mut Components) -> Shape {
                let mut input = InputDoc::None;
                $(<$arg as DescribeArg>::describe(&mut input, components);)*
                Shape {
                    input,
                    success: R::success(components),
                }
            }
        }
    };
}

documented!();
documented!(A1);
documented!(A1, A2);
documented!(A1, A2, A3);
documented!(A1, A2, A3, A4);
documented!(A1, A2, A3, A4, A5);

/// The documented part of an endpoint.
pub struct Doc {
    pub summary: &'static str,
    pub tag: &'static str,
    /// Statuses the operation adds to the ones its route implies.
    pub extra: &'static [u16],
    pub shape: fn(&mut Components) -> Shape,
}

/// A route's handler and, unless it is not part of an API document, its description.
pub struct Endpoint {
    pub router: MethodRouter<AppState>,
    pub doc: Option<Doc>,
}

/// The endpoint of `handler`, described from its types with `summary` under `tag`.
pub fn endpoint<H, T, D>(
    method: MethodFilter,
    handler: H,
    summary: &'static str,
    tag: &'static str,
) -> Endpoint
where
    H: Handler<T, AppState> + Documented<D>,
    T: 'static,
{
    Endpoint {
        router: on(method, handler),
        doc: Some(Doc {
            summary,
            tag,
            extra: &[],
            shape: <H as Documented<D>>::shape,
        }),
    }
}

/// A route outside the API documents (the key set, the documents themselves).
pub fn undocumented<H, T>(method: MethodFilter, handler: H) -> Endpoint
where
    H: Handler<T, AppState>,
    T: 'static,
{
    Endpoint {
        router: on(method, handler),
        doc: None,
    }
}

impl Endpoint {
    /// Statuses this operation answers beyond the ones its route implies.
    pub fn also(mut self, extra: &'static [u16]) -> Endpoint {
        if let Some(doc) = &mut self.doc {
            doc.extra = extra;
        }
        self
    }
}
