//! Typed input: an endpoint declares its parameters once, as a struct of *field types*, and
//! that one declaration both reads the request and describes it in the API documents.
//!
//! ```ignore
//! input! {
//!     /// What `POST /api/sms` reads.
//!     pub struct SmsRequest {
//!         phone: Phone,
//!         /// The code is for a new account.
//!         is_register: Flag,
//!     }
//! }
//! async fn sms(Input(request): Input<SmsRequest>) -> … { request.phone /* a canonical String */ }
//! ```
//!
//! A field type ([`Field`]) knows how to read itself from the merged parameters ([`Params`]:
//! query + JSON / form / multipart body) with the validator of `shared::validate`, and how to
//! describe itself, from the same constants — so a document cannot state a limit the handler
//! does not enforce. Fields are read in declaration order and the first refusal answers (so a
//! registration lists the captcha last: it is spent only when everything before it passed).
//!
//! Why not serde: the wire has three body forms whose values are all strings, the answers name
//! the failing field in the dialect's words, and a few checks must keep their exact messages;
//! reading through `Params` keeps all of that, and a declarative macro keeps the definition in
//! one place without a proc-macro crate.

use std::marker::PhantomData;

use axum::extract::{FromRequest, Request};
use shared::Problem;
use shared::pagination::{MAX_LIMIT, MAX_PAGE, PageRequest};
use shared::validate;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};

use crate::error::AppError;
use crate::http::params::Params;

/// One parameter (or, for [`Paging`], a group of them) of an input.
pub trait Field {
    /// What the handler gets.
    type Value;
    /// Reads the parameter `name`, refusing it with a problem naming the field.
    fn read(params: &Params, name: &'static str) -> Result<Self::Value, Problem>;
    /// Adds the parameter's property (and whether it is required) to the input's schema.
    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder;
}

/// An input read from the merged parameters: what [`input!`] derives.
pub trait FromParams: Sized {
    fn from_params(params: &Params) -> Result<Self, Problem>;
}

/// The extractor: parameters merged as `Params` does, then `T`'s fields in order.
pub struct Input<T>(pub T);

impl<S: Send + Sync, T: FromParams> FromRequest<S> for Input<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let params = Params::from_request(request, state).await?;
        Ok(Input(T::from_params(&params)?))
    }
}

/// Declares an input struct: its fields' types are [`Field`]s, the struct holds their values.
/// A field whose wire name is not an identifier is written `kind as "type": Choice<…>`. An
/// `example: json!(…)` after the struct is the documents' example body (where the required
/// fields alone are not a valid request).
#[macro_export]
macro_rules! input {
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $field_doc:literal])*
                $field:ident $(as $wire:literal)? : $kind:ty
            ),* $(,)?
        }
        $(example: $example:expr)?
    ) => {
        $(#[doc = $doc])*
        $vis struct $name {
            $(
                $(#[doc = $field_doc])*
                pub $field: <$kind as $crate::http::input::Field>::Value,
            )*
        }

        impl $crate::http::input::FromParams for $name {
            fn from_params(
                params: &$crate::http::params::Params,
            ) -> ::std::result::Result<Self, ::shared::Problem> {
                Ok($name {
                    $(
                        $field: <$kind as $crate::http::input::Field>::read(
                            params,
                            $crate::input!(@wire $field $($wire)?),
                        )?,
                    )*
                })
            }
        }

        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                let description = $crate::http::input::doc_text(&[$($doc),*]);
                let object = ::utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(::utoipa::openapi::schema::Type::Object)
                    .description((!description.is_empty()).then_some(description))
                    $(.examples([$example]))?;
                $(
                    let object = <$kind as $crate::http::input::Field>::document(
                        $crate::input!(@wire $field $($wire)?),
                        &$crate::http::input::doc_text(&[$($field_doc),*]),
                        object,
                    );
                )*
                object.into()
            }
        }

        impl ::utoipa::ToSchema for $name {}
    };
    (@wire $field:ident $wire:literal) => { $wire };
    (@wire $field:ident) => { stringify!($field) };
}

// ---- Building blocks of the schemas ------------------------------------------------------

/// The text of `///` lines, as a description.
pub fn doc_text(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|line| line.trim())
        .collect::<Vec<_>>()
        .join("\n")
}

fn typed(kind: Type, optional: bool) -> ObjectBuilder {
    let schema_type = if optional {
        SchemaType::from_iter([kind, Type::Null])
    } else {
        SchemaType::new(kind)
    };
    ObjectBuilder::new().schema_type(schema_type)
}

fn described(property: ObjectBuilder, description: &str) -> ObjectBuilder {
    property.description((!description.is_empty()).then_some(description))
}

fn add(
    object: ObjectBuilder,
    name: &str,
    property: impl Into<RefOr<Schema>>,
    required: bool,
) -> ObjectBuilder {
    let object = object.property(name, property);
    if required {
        object.required(name)
    } else {
        object
    }
}

fn int64(property: ObjectBuilder) -> ObjectBuilder {
    property.format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
}

// ---- Text --------------------------------------------------------------------------------

/// Required free text: trimmed, not blank, at most `MAX` characters.
pub struct Text<const MAX: usize>;

impl<const MAX: usize> Field for Text<MAX> {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        params.text(name, MAX)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = typed(Type::String, false).max_length(Some(MAX));
        add(object, name, described(property, description), true)
    }
}

/// Optional free text: absent or blank is `None`, otherwise as [`Text`].
pub struct OptionalText<const MAX: usize>;

impl<const MAX: usize> Field for OptionalText<MAX> {
    type Value = Option<String>;

    fn read(params: &Params, name: &'static str) -> Result<Option<String>, Problem> {
        params.optional_text(name, MAX)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = typed(Type::String, true).max_length(Some(MAX));
        add(object, name, described(property, description), false)
    }
}

/// A field that may be left out; when sent, it is read as `F` (so a blank one is refused as
/// `F` refuses it, where [`OptionalText`] would read it as absent).
pub struct Given<F>(PhantomData<F>);

impl<F: Field> Field for Given<F> {
    type Value = Option<F::Value>;

    fn read(params: &Params, name: &'static str) -> Result<Self::Value, Problem> {
        if params.get(name).is_none() {
            return Ok(None);
        }
        F::read(params, name).map(Some)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        // Documented as `F`, then made optional and nullable (a JSON null is "not sent").
        let inner = F::document(name, description, ObjectBuilder::new());
        let mut property = inner.build().properties.shift_remove(name);
        if let Some(RefOr::T(Schema::Object(object))) = &mut property
            && let SchemaType::Type(kind) = object.schema_type.clone()
        {
            object.schema_type = SchemaType::from_iter([kind, Type::Null]);
        }
        match property {
            Some(property) => add(object, name, property, false),
            None => object,
        }
    }
}

/// Required text, not blank, taken as sent (a password being checked, not set).
pub struct Secret;

impl Field for Secret {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        params.required(name).map(str::to_owned)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        add(
            object,
            name,
            described(typed(Type::String, false), description),
            true,
        )
    }
}

// ---- Identities --------------------------------------------------------------------------

/// The phone pattern the documents state (`shared::validate::phone` also accepts spaces and
/// dashes, and stores the canonical form).
pub const PHONE_PATTERN: &str = "^(1[3-9][0-9]{9}|\\+[1-9][0-9]{6,14})$";

/// A phone number, answered in its canonical form.
pub struct Phone;

impl Field for Phone {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        validate::phone(name, params.required(name)?)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = typed(Type::String, false).pattern(Some(PHONE_PATTERN));
        add(object, name, described(property, description), true)
    }
}

/// An e-mail address.
pub struct Email;

impl Field for Email {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        validate::email(name, params.required(name)?)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = typed(Type::String, false)
            .max_length(Some(validate::EMAIL_MAX_CHARS))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)));
        add(object, name, described(property, description), true)
    }
}

/// A new password: 8–64 characters.
pub struct Password;

impl Field for Password {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        validate::password(name, params.required(name)?)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = typed(Type::String, false)
            .min_length(Some(validate::PASSWORD_MIN_CHARS))
            .max_length(Some(validate::PASSWORD_MAX_CHARS));
        add(object, name, described(property, description), true)
    }
}

/// A new account name: letters or digits, not shaped like a phone number.
pub struct AccountName;

impl Field for AccountName {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        validate::account_name(name, params.required(name)?)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = typed(Type::String, false).pattern(Some(validate::ACCOUNT_NAME_PATTERN));
        add(object, name, described(property, description), true)
    }
}

// ---- Numbers and flags -------------------------------------------------------------------

/// `true`/`1`/`on`/`yes` or `false`/`0`/`off`/`no`/empty; absent is `false`.
pub struct Flag;

impl Field for Flag {
    type Value = bool;

    fn read(params: &Params, name: &'static str) -> Result<bool, Problem> {
        params.flag(name)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        add(
            object,
            name,
            described(typed(Type::Boolean, true), description),
            false,
        )
    }
}

/// A flag that may be left out (`None`), unlike [`Flag`].
pub struct OptionalFlag;

impl Field for OptionalFlag {
    type Value = Option<bool>;

    fn read(params: &Params, name: &'static str) -> Result<Option<bool>, Problem> {
        if params.get(name).is_none() {
            return Ok(None);
        }
        params.flag(name).map(Some)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        Flag::document(name, description, object)
    }
}

/// A required whole number within `MIN..=MAX`.
pub struct Int<const MIN: i64, const MAX: i64>;

impl<const MIN: i64, const MAX: i64> Field for Int<MIN, MAX> {
    type Value = i64;

    fn read(params: &Params, name: &'static str) -> Result<i64, Problem> {
        params.required_integer(name, MIN, MAX)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = int64(typed(Type::Integer, false))
            .minimum(Some(MIN))
            .maximum((MAX != i64::MAX).then_some(MAX));
        add(object, name, described(property, description), true)
    }
}

/// An optional whole number within `MIN..=MAX`.
pub struct OptionalInt<const MIN: i64, const MAX: i64>;

impl<const MIN: i64, const MAX: i64> Field for OptionalInt<MIN, MAX> {
    type Value = Option<i64>;

    fn read(params: &Params, name: &'static str) -> Result<Option<i64>, Problem> {
        params.integer(name, MIN, MAX)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = int64(typed(Type::Integer, true))
            .minimum(Some(MIN))
            .maximum((MAX != i64::MAX).then_some(MAX));
        add(object, name, described(property, description), false)
    }
}

/// The print lists' `page` and `limit` (the field's own name is not a parameter).
pub struct Paging;

impl Field for Paging {
    type Value = PageRequest;

    fn read(params: &Params, _name: &'static str) -> Result<PageRequest, Problem> {
        params.page()
    }

    fn document(_name: &'static str, _description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let number = |max: u32| {
            typed(Type::Integer, true)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
                .minimum(Some(1))
                .maximum(Some(max))
        };
        let object = add(object, "page", number(MAX_PAGE), false);
        add(object, "limit", number(MAX_LIMIT), false)
    }
}

/// An amount of money in yuan, at most two decimals, read in cents.
pub struct Yuan;

impl Field for Yuan {
    type Value = i64;

    fn read(params: &Params, name: &'static str) -> Result<i64, Problem> {
        shared::money::parse_cents(name, params.required(name)?)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = typed(Type::String, false).pattern(Some("^[0-9]+(\\.[0-9]{1,2})?$"));
        add(object, name, described(property, description), true)
    }
}

/// A signed amount of money in yuan (`"-3.50"`), read in cents.
pub struct SignedYuan;

impl Field for SignedYuan {
    type Value = i64;

    fn read(params: &Params, name: &'static str) -> Result<i64, Problem> {
        Yuan::read(params, name)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = typed(Type::String, false).pattern(Some("^-?[0-9]+(\\.[0-9]{1,2})?$"));
        add(object, name, described(property, description), true)
    }
}

/// Every value of a list parameter (`roles[]=a&roles[]=b`, or a JSON array), trimmed; `None`
/// when the parameter was not sent at all (an empty JSON array is sent).
pub struct Names;

impl Field for Names {
    type Value = Option<Vec<String>>;

    fn read(params: &Params, name: &'static str) -> Result<Self::Value, Problem> {
        Ok(params.has(name).then(|| {
            params
                .all(name)
                .iter()
                .map(|value| value.trim().to_owned())
                .collect()
        }))
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .items(typed(Type::String, false))
            .description((!description.is_empty()).then_some(description));
        add(object, name, property, false)
    }
}

crate::input! {
    /// Pagination of every print list.
    pub struct PageQuery {
        page: Paging,
    }
}
