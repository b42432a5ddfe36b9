//! Address endpoints of both dialects over the one domain: the store's `user_addresses` and
//! the print's `users/self/addresses` are the same rows under different field names.

use axum::extract::State;
use axum::http::StatusCode;
use shared::Problem;
use shared::validate::{self, NAME_MAX_CHARS};

use crate::AppState;
use crate::db::addresses::AddressFields;
use crate::domain::addresses;
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::Reply;
use crate::http::views::{PrintAddress, StoreAddress};

const DETAIL_MAX_CHARS: usize = 255;

/// A dialect's names for the fields that differ (SPEC §1).
struct FieldNames {
    contact_name: &'static str,
    contact_phone: &'static str,
    district: &'static str,
    address: &'static str,
    zip: Option<&'static str>,
}

const STORE: FieldNames = FieldNames {
    contact_name: "contact_name",
    contact_phone: "contact_phone",
    district: "district",
    address: "address",
    zip: Some("zip"),
};

const PRINT: FieldNames = FieldNames {
    contact_name: "name",
    contact_phone: "phone",
    district: "county",
    address: "detail",
    zip: None,
};

/// Reads and validates the address fields; on create every field is required.
fn fields(params: &Params, names: &FieldNames, create: bool) -> Result<AddressFields, Problem> {
    let text = |name: &str, max: usize| -> Result<Option<String>, Problem> {
        match params.get(name) {
            None if create => Err(Problem::invalid(name, format!("{name} 不能为空"))),
            None => Ok(None),
            Some(raw) => validate::text(name, raw, max).map(Some),
        }
    };
    let contact_phone = match params.get(names.contact_phone) {
        None if create => {
            return Err(Problem::invalid(
                names.contact_phone,
                format!("{} 不能为空", names.contact_phone),
            ));
        }
        None => None,
        Some(raw) => Some(validate::phone(names.contact_phone, raw)?),
    };
    let zip = match names.zip {
        None => None,
        Some(name) => {
            let zip = text(name, 6)?;
            if let Some(zip) = &zip
                && !(zip.len() == 6 && zip.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(Problem::invalid(name, "邮编必须是 6 位数字"));
            }
            zip
        }
    };
    Ok(AddressFields {
        contact_name: text(names.contact_name, NAME_MAX_CHARS)?,
        contact_phone,
        province: text("province", NAME_MAX_CHARS)?,
        city: text("city", NAME_MAX_CHARS)?,
        district: text(names.district, NAME_MAX_CHARS)?,
        address: text(names.address, DETAIL_MAX_CHARS)?,
        zip,
    })
}

/// `is_default`, if sent.
fn default_flag(params: &Params) -> Result<Option<bool>, Problem> {
    params
        .get("is_default")
        .map(|_| params.flag("is_default"))
        .transpose()
}

// -- Store ------------------------------------------------------------------------------------

pub async fn store_list(State(state): State<AppState>, caller: Caller) -> AppResult<Reply> {
    let rows = addresses::list(&state, caller.user_id, false).await?;
    Ok(Reply::store(
        StatusCode::OK,
        rows.iter()
            .map(|row| StoreAddress::of(row, state.config.time_offset))
            .collect::<Vec<_>>(),
    ))
}

pub async fn store_create(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let fields = fields(&params, &STORE, true)?;
    let make_default = default_flag(&params)?.unwrap_or(false);
    let (row, instructions) =
        addresses::create(&state, caller.user_id, fields, make_default).await?;
    Ok(Reply::store(
        StatusCode::CREATED,
        StoreAddress::of(&row, state.config.time_offset),
    )
    .invalidate(instructions))
}

pub async fn store_update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    params: Params,
) -> AppResult<Reply> {
    let fields = fields(&params, &STORE, false)?;
    let (row, instructions) =
        addresses::update(&state, caller.user_id, id, fields, default_flag(&params)?).await?;
    Ok(Reply::store(
        StatusCode::OK,
        StoreAddress::of(&row, state.config.time_offset),
    )
    .invalidate(instructions))
}

pub async fn store_delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Reply> {
    let instructions = addresses::delete(&state, caller.user_id, id).await?;
    Ok(Reply::store(StatusCode::OK, ()).invalidate(instructions))
}

// -- Print ------------------------------------------------------------------------------------

pub async fn print_list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let only_default = params.flag("is_default")?;
    let rows = addresses::list(&state, caller.user_id, only_default).await?;
    Ok(Reply::print(
        StatusCode::OK,
        rows.iter().map(PrintAddress::of).collect::<Vec<_>>(),
    ))
}

pub async fn print_create(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let fields = fields(&params, &PRINT, true)?;
    let make_default = default_flag(&params)?.unwrap_or(false);
    let (row, instructions) =
        addresses::create(&state, caller.user_id, fields, make_default).await?;
    Ok(Reply::print(StatusCode::CREATED, PrintAddress::of(&row)).invalidate(instructions))
}

pub async fn print_update(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    params: Params,
) -> AppResult<Reply> {
    let fields = fields(&params, &PRINT, false)?;
    let (_, instructions) =
        addresses::update(&state, caller.user_id, id, fields, default_flag(&params)?).await?;
    Ok(Reply::print_message(StatusCode::OK, "地址已更新").invalidate(instructions))
}

pub async fn print_delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> AppResult<Reply> {
    let instructions = addresses::delete(&state, caller.user_id, id).await?;
    Ok(Reply::print_message(StatusCode::OK, "地址已删除").invalidate(instructions))
}
