//! Gifts, gift orders, recharge orders and payment callbacks (print dialect).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::Problem;
use shared::money::{format_cents, parse_cents};

use crate::AppState;
use crate::domain::commerce::{self, Settlement};
use crate::error::AppResult;
use crate::http::auth::Caller;
use crate::http::params::Params;
use crate::http::path::PathText;
use crate::http::reply::Reply;
use crate::http::views::{self, Page};
use crate::ops::metrics::PaymentCallback;

pub async fn gifts(State(state): State<AppState>, params: Params) -> AppResult<Reply> {
    let page = commerce::gifts(&state, params.page()?).await?;
    Ok(Reply::print(
        StatusCode::OK,
        Page::of(page, views::Gift::of),
    ))
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
    Ok(Reply::print(StatusCode::CREATED, views::OrderNo { order_no }).invalidate(instructions))
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
    let data = Page::of(page, |order| views::GiftOrder::of(order, offset));
    Ok(Reply::print(StatusCode::OK, data))
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
    let data = views::RechargeCreated {
        order_no: order.order_no,
        price: format_cents(price),
        pay_type: pay_type.to_owned(),
        pay_params: order.pay_params,
    };
    Ok(Reply::print(StatusCode::CREATED, data).invalidate(instructions))
}

pub async fn recharge_orders(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> AppResult<Reply> {
    let page = commerce::recharge_orders(&state, caller.user_id, params.page()?).await?;
    let offset = state.config.time_offset;
    let data = Page::of(page, |order| views::RechargeOrder::of(order, offset));
    Ok(Reply::print(StatusCode::OK, data))
}

/// A payment provider's callback. Answers as gateways expect: `success` (200) once the payment
/// is settled — also for a replay, so the gateway stops retrying — and `fail` (400) for anything
/// not believed or not matching, which changes nothing.
pub async fn payment_notify(
    State(state): State<AppState>,
    PathText(provider): PathText,
    params: Params,
) -> AppResult<Response> {
    let provider = state.payment_provider(&provider).ok_or(Problem::NotFound)?;
    let outcome = match provider.verify(&params.values_by_name()) {
        Ok(notification) => commerce::settle(&state, provider, notification).await?,
        Err(reason) => Settlement::Refused(reason),
    };
    let (status, body, result) = match &outcome {
        Settlement::Credited => (StatusCode::OK, "success", PaymentCallback::Settled),
        Settlement::AlreadyPaid => (StatusCode::OK, "success", PaymentCallback::Replayed),
        Settlement::Refused(reason) => {
            tracing::warn!(provider = provider.name(), %reason, "payment notify refused");
            (StatusCode::BAD_REQUEST, "fail", PaymentCallback::Refused)
        }
    };
    state
        .metrics
        .count_payment_callback(provider.name(), result);
    Ok((
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response())
}
