//! Address endpoints of both dialects over the one domain: the store's `user_addresses` and
//! the print's `users/self/addresses` are the same rows under different field names.

use axum::extract::State;
use shared::Problem;
use shared::validate::{self, NAME_MAX_CHARS};
use utoipa::openapi::schema::ObjectBuilder;

use crate::AppState;
use crate::db::addresses::AddressFields;
use crate::domain::addresses;
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::input::{Field, Flag, Given, Input, OptionalFlag, Phone, Text};
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::{PrintDone, PrintOk, StoreOk};
use crate::http::views::{PrintAddress, StoreAddress};
use crate::input;

const DETAIL_MAX_CHARS: usize = 255;

type Name = Text<NAME_MAX_CHARS>;
type Detail = Text<DETAIL_MAX_CHARS>;

/// A contact phone: required, and any sent value (even blank) is judged as a phone.
pub struct ContactPhone;

impl Field for ContactPhone {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        match params.get(name) {
            None => Err(Problem::invalid(name, format!("{name} 不能为空"))),
            Some(raw) => validate::phone(name, raw),
        }
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        Phone::document(name, description, object)
    }
}

/// A postcode: six digits.
pub struct Zip;

impl Field for Zip {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        let zip = params.text(name, 6)?;
        if !(zip.len() == 6 && zip.bytes().all(|b| b.is_ascii_digit())) {
            return Err(Problem::invalid(name, "邮编必须是 6 位数字"));
        }
        Ok(zip)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[0-9]{6}$"))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property).required(name)
    }
}

input! {
    /// A new shipping address (store names).
    pub struct StoreAddressRequest {
        contact_phone: ContactPhone,
        zip: Zip,
        contact_name: Name,
        province: Name,
        city: Name,
        district: Name,
        address: Detail,
        is_default: Flag,
    }
}

input! {
    /// A change to a shipping address: any subset of its fields (store names).
    pub struct StoreAddressChange {
        contact_phone: Given<ContactPhone>,
        zip: Given<Zip>,
        contact_name: Given<Name>,
        province: Given<Name>,
        city: Given<Name>,
        district: Given<Name>,
        address: Given<Detail>,
        is_default: OptionalFlag,
    }
}

input! {
    /// A new address (print names).
    pub struct PrintAddressRequest {
        phone: ContactPhone,
        name: Name,
        province: Name,
        city: Name,
        county: Name,
        detail: Detail,
        is_default: Flag,
    }
}

input! {
    /// A change to an address: any subset of its fields (print names).
    pub struct PrintAddressChange {
        phone: Given<ContactPhone>,
        name: Given<Name>,
        province: Given<Name>,
        city: Given<Name>,
        county: Given<Name>,
        detail: Given<Detail>,
        is_default: OptionalFlag,
    }
}

fn all(
    contact_name: String,
    contact_phone: String,
    [province, city, district, address]: [String; 4],
    zip: Option<String>,
) -> AddressFields {
    AddressFields {
        contact_name: Some(contact_name),
        contact_phone: Some(contact_phone),
        province: Some(province),
        city: Some(city),
        district: Some(district),
        address: Some(address),
        zip,
    }
}

// -- Store ------------------------------------------------------------------------------------

pub async fn store_list(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<StoreOk<Vec<StoreAddress>>> {
    let rows = addresses::list(&state, caller.user_id, false).await?;
    let offset = state.config.time_offset;
    Ok(StoreOk::new(
        rows.iter()
            .map(|row| StoreAddress::of(row, offset))
            .collect(),
    ))
}

pub async fn store_create(
    State(state): State<AppState>,
    caller: Caller,
    Input(request): Input<StoreAddressRequest>,
) -> AppResult<StoreOk<StoreAddress, 201>> {
    let fields = all(
        request.contact_name,
        request.contact_phone,
        [
            request.province,
            request.city,
            request.district,
            request.address,
        ],
        Some(request.zip),
    );
    let row = addresses::create(&state, caller.user_id, fields, request.is_default).await?;
    let offset = state.config.time_offset;
    Ok(StoreOk::new(StoreAddress::of(&row, offset)))
}

pub async fn store_update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    Input(change): Input<StoreAddressChange>,
) -> AppResult<StoreOk<StoreAddress>> {
    let fields = AddressFields {
        contact_name: change.contact_name,
        contact_phone: change.contact_phone,
        province: change.province,
        city: change.city,
        district: change.district,
        address: change.address,
        zip: change.zip,
    };
    let row = addresses::update(&state, caller.user_id, id, fields, change.is_default).await?;
    let offset = state.config.time_offset;
    Ok(StoreOk::new(StoreAddress::of(&row, offset)))
}

pub async fn store_delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<StoreOk<()>> {
    addresses::delete(&state, caller.user_id, id).await?;
    Ok(StoreOk::new(()))
}

// -- Print ------------------------------------------------------------------------------------

input! {
    pub struct AddressesQuery {
        /// Only the default address.
        is_default: Flag,
    }
}

pub async fn print_list(
    State(state): State<AppState>,
    caller: Caller,
    Input(query): Input<AddressesQuery>,
) -> AppResult<PrintOk<Vec<PrintAddress>>> {
    let rows = addresses::list(&state, caller.user_id, query.is_default).await?;
    Ok(PrintOk::new(rows.iter().map(PrintAddress::of).collect()))
}

pub async fn print_create(
    State(state): State<AppState>,
    caller: Caller,
    Input(request): Input<PrintAddressRequest>,
) -> AppResult<PrintOk<PrintAddress, 201>> {
    let fields = all(
        request.name,
        request.phone,
        [
            request.province,
            request.city,
            request.county,
            request.detail,
        ],
        None,
    );
    let row = addresses::create(&state, caller.user_id, fields, request.is_default).await?;
    Ok(PrintOk::new(PrintAddress::of(&row)))
}

pub async fn print_update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    Input(change): Input<PrintAddressChange>,
) -> AppResult<PrintDone> {
    let fields = AddressFields {
        contact_name: change.name,
        contact_phone: change.phone,
        province: change.province,
        city: change.city,
        district: change.county,
        address: change.detail,
        zip: None,
    };
    let _ = addresses::update(&state, caller.user_id, id, fields, change.is_default).await?;
    Ok(PrintDone::new("地址已更新"))
}

pub async fn print_delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<PrintDone> {
    addresses::delete(&state, caller.user_id, id).await?;
    Ok(PrintDone::new("地址已删除"))
}
