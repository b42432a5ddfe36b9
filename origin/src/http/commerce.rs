//! Gifts, gift orders, recharge orders and payment callbacks (print dialect).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use shared::Problem;
use shared::money::{format_cents, parse_cents};

use crate::AppState;
use crate::clock;
use crate::db::gifts::GiftRow;
use crate::domain::commerce::{self, Settlement};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::member::paged;
use crate::http::params::Params;
use crate::http::reply::Reply;
use crate::http::uploads::image_json;

fn gift_json(gift: &GiftRow) -> Value {
    json!({
        "id": gift.id,
        "name": gift.name,
        "image": gift.image.as_ref().map(image_json),
        "accumulate_points": gift.accumulate_points,
        "stock": gift.stock,
    })
}

pub async fn gifts(State(state): State<AppState>, params: Params) -> AppResult<Reply> {
    let page = commerce::gifts(&state, params.page()?).await?;
    Ok(Reply::print(StatusCode::OK, paged(page, gift_json)))
}

pub async fn redeem(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let gift_id = params.required_integer("gift_id", 1, i64::MAX)?;
    let address_id = params.required_integer("address_id", 1, i64::MAX)?;
    let (order_no, instructions) =
        commerce::redeem(&state, caller.user_id, gift_id, address_id).await?;
    Ok(Reply::print(StatusCode::CREATED, json!({ "order_no": order_no })).invalidate(instructions))
}

pub async fn gift_orders(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let request = params.page()?;
    let shipped = params.integer("status", 1, 2)?.map(|status| status == 2);
    let page = commerce::gift_orders(&state, caller.user_id, shipped, request).await?;
    let offset = state.config.time_offset;
    let data = paged(page, |order| {
        let mut row = json!({
            "id": order.id,
            "order_no": order.order_no,
            "user": { "id": order.user_id, "nickname": order.nickname },
            "address": {
                "name": order.address.name,
                "phone": order.address.phone,
                "province": order.address.province,
                "city": order.address.city,
                "county": order.address.county,
                "detail": order.address.detail,
            },
            "content": {
                "id": order.gift.id,
                "name": order.gift.name,
                "image": order.gift.image.as_ref().map(image_json),
                "accumulate_points": order.gift.accumulate_points,
            },
            "express_company": order.express_company,
            "status": if order.shipped { "已发货" } else { "未发货" },
            "created_at": clock::format(order.created_at, offset),
        });
        if order.shipped {
            row["tracking_no"] = json!(order.tracking_no);
        }
        row
    });
    Ok(Reply::print(StatusCode::OK, data))
}

/// The document's label for a pay type.
fn pay_type_label(pay_type: &str) -> &'static str {
    if pay_type == "wechat" {
        "微信"
    } else {
        "支付宝"
    }
}

pub async fn create_recharge(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let price = parse_cents("price", params.required("price")?)?;
    let pay_type = params.required("pay_type")?.trim();
    if !["alipay", "wechat"].contains(&pay_type) {
        return Err(Problem::invalid("pay_type", "pay_type 只能是 alipay 或 wechat").into());
    }
    let (order, instructions) =
        commerce::create_recharge(&state, caller.user_id, price, pay_type).await?;
    let data = json!({
        "order_no": order.order_no,
        "price": format_cents(price),
        "pay_type": pay_type,
        "pay_params": order.pay_params,
    });
    Ok(Reply::print(StatusCode::CREATED, data).invalidate(instructions))
}

pub async fn recharge_orders(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let page = commerce::recharge_orders(&state, caller.user_id, params.page()?).await?;
    let offset = state.config.time_offset;
    let data = paged(page, |order| {
        json!({
            "id": order.id,
            "user": { "id": order.user_id, "nickname": order.nickname },
            "order_no": order.order_no,
            "price": format_cents(order.price_cents),
            "pay_type": pay_type_label(&order.pay_type),
            "status": if order.paid_at.is_some() { "已支付" } else { "待支付" },
            "paid_at": order.paid_at.map(|at| clock::format(at, offset)),
            "created_at": clock::format(order.created_at, offset),
        })
    });
    Ok(Reply::print(StatusCode::OK, data))
}

/// A payment provider's callback. Answers as gateways expect: `success` (200) once the payment
/// is settled — also for a replay, so the gateway stops retrying — and `fail` (400) for anything
/// not believed or not matching, which changes nothing.
pub async fn payment_notify(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    params: Params,
) -> AppResult<Response> {
    let provider = state.payment_provider(&provider).ok_or(Problem::NotFound)?;
    let outcome = match provider.verify(&params.first_values()) {
        Ok(notification) => commerce::settle(&state, provider, notification).await?,
        Err(reason) => Settlement::Refused(reason),
    };
    let (status, body) = match &outcome {
        Settlement::Credited | Settlement::AlreadyPaid => (StatusCode::OK, "success"),
        Settlement::Refused(reason) => {
            tracing::warn!(provider = provider.name(), %reason, "payment notify refused");
            (StatusCode::BAD_REQUEST, "fail")
        }
    };
    Ok((
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response())
}
