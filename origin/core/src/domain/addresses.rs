//! Shipping addresses for both dialects, with the default rules of SPEC §3: exactly one default
//! whenever any exist — the first becomes default, setting one unsets the others, deleting the
//! default promotes the newest. Every rule runs inside one write transaction, so concurrent
//! requests cannot break it.

use shared::Problem;

use crate::AppState;
use crate::clock;
use crate::db::addresses::{self, AddressFields, AddressRow};
use crate::error::Result;

/// A user may keep this many addresses.
pub const MAX_ADDRESSES: i64 = 50;

fn not_found() -> Problem {
    Problem::NotFound
}

pub async fn list(state: &AppState, user_id: i64, only_default: bool) -> Result<Vec<AddressRow>> {
    Ok(state
        .db
        .read_short(move |conn| addresses::list(conn, user_id, only_default))
        .await?)
}

/// Creates an address (every field present); `make_default` or being the first makes it the
/// default.
pub async fn create(
    state: &AppState,
    user_id: i64,
    fields: AddressFields,
    make_default: bool,
) -> Result<AddressRow> {
    let row = state
        .db
        .write(move |tx| -> Result<_> {
            let existing = addresses::count(tx, user_id)?;
            if existing >= MAX_ADDRESSES {
                return Err(
                    Problem::refused(format!("最多只能保存 {MAX_ADDRESSES} 个收货地址")).into(),
                );
            }
            let first = existing == 0;
            let id = addresses::insert(tx, user_id, &fields, clock::now())?;
            if first || make_default {
                addresses::make_default(tx, user_id, id)?;
            }
            addresses::get(tx, user_id, id)?.ok_or_else(|| not_found().into())
        })
        .await?;
    Ok(row)
}

/// Changes the fields given; `Some(true)` makes it the default. The default cannot be unset
/// directly: another address must be made default instead.
pub async fn update(
    state: &AppState,
    user_id: i64,
    id: i64,
    fields: AddressFields,
    make_default: Option<bool>,
) -> Result<AddressRow> {
    let row = state
        .db
        .write(move |tx| -> Result<_> {
            let current = addresses::get(tx, user_id, id)?.ok_or_else(not_found)?;
            if make_default == Some(false) && current.is_default {
                return Err(Problem::invalid(
                    "is_default",
                    "必须保留一个默认地址：请把另一个地址设为默认",
                )
                .into());
            }
            addresses::update(tx, user_id, id, &fields)?;
            if make_default == Some(true) {
                addresses::make_default(tx, user_id, id)?;
            }
            addresses::get(tx, user_id, id)?.ok_or_else(|| not_found().into())
        })
        .await?;
    Ok(row)
}

/// Deletes an address; if it was the default, the newest remaining one becomes default.
pub async fn delete(state: &AppState, user_id: i64, id: i64) -> Result<()> {
    state
        .db
        .write(move |tx| -> Result<_> {
            let current = addresses::get(tx, user_id, id)?.ok_or_else(not_found)?;
            addresses::delete(tx, user_id, id)?;
            if current.is_default
                && let Some(newest) = addresses::newest(tx, user_id)?
            {
                addresses::make_default(tx, user_id, newest)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}
