//! Gifts, gift orders, recharge orders and payment callbacks (print dialect).

use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::Problem;
use shared::money::format_cents;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use crate::AppState;
use crate::domain::commerce::{self, Settlement};
use crate::error::{AppError, AppResult};
use crate::http::auth::Caller;
use crate::http::endpoint::{DescribeArg, DescribeReply, InputDoc, SuccessDoc};
use crate::http::input::{Field, Input, Int, OptionalInt, PageQuery, Paging, Yuan};
use crate::http::openapi::Components;
use crate::http::params::Params;
use crate::http::path::PathText;
use crate::http::reply::PrintOk;
use crate::http::views::{self, Page};
use crate::input;
use crate::ops::metrics::PaymentCallback;
use crate::payments::SandboxNotice;

pub async fn gifts(
    State(state): State<AppState>,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::Gift>>> {
    let page = commerce::gifts(&state, query.page).await?;
    Ok(PrintOk::new(Page::of(page, views::Gift::of)))
}

type Id = Int<1, { i64::MAX }>;

input! {
    pub struct GiftOrderRequest {
        gift_id: Id,
        /// One of the caller's addresses.
        address_id: Id,
    }
}

pub async fn redeem(
    State(state): State<AppState>,
    caller: Caller,
    Input(request): Input<GiftOrderRequest>,
) -> AppResult<PrintOk<views::OrderNo, 201>> {
    let order_no =
        commerce::redeem(&state, caller.user_id, request.gift_id, request.address_id).await?;
    Ok(PrintOk::new(views::OrderNo { order_no }))
}

input! {
    pub struct GiftOrdersQuery {
        page: Paging,
        /// 1 not shipped, 2 shipped.
        status: OptionalInt<1, 2>,
    }
}

pub async fn gift_orders(
    State(state): State<AppState>,
    caller: Caller,
    Input(query): Input<GiftOrdersQuery>,
) -> AppResult<PrintOk<Page<views::GiftOrder>>> {
    let shipped = query.status.map(|status| status == 2);
    let page = commerce::gift_orders(&state, caller.user_id, shipped, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |order| {
        views::GiftOrder::of(order, offset)
    })))
}

/// `alipay` or `wechat`.
pub struct PayType;

impl Field for PayType {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        let pay_type = params.required(name)?.trim();
        if !["alipay", "wechat"].contains(&pay_type) {
            return Err(Problem::invalid(name, "pay_type 只能是 alipay 或 wechat"));
        }
        Ok(pay_type.to_owned())
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^(alipay|wechat)$"))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property).required(name)
    }
}

input! {
    pub struct RechargeRequest {
        /// Decimal yuan, at most two places (`"12.50"`).
        price: Yuan,
        pay_type: PayType,
    }
}

pub async fn create_recharge(
    State(state): State<AppState>,
    caller: Caller,
    Input(request): Input<RechargeRequest>,
) -> AppResult<PrintOk<views::RechargeCreated, 201>> {
    let price = request.price;
    let order = commerce::create_recharge(&state, caller.user_id, price, &request.pay_type).await?;
    let data = views::RechargeCreated {
        order_no: order.order_no,
        price: format_cents(price),
        pay_type: request.pay_type,
        pay_params: order.pay_params,
    };
    Ok(PrintOk::new(data))
}

pub async fn recharge_orders(
    State(state): State<AppState>,
    caller: Caller,
    Input(query): Input<PageQuery>,
) -> AppResult<PrintOk<Page<views::RechargeOrder>>> {
    let page = commerce::recharge_orders(&state, caller.user_id, query.page).await?;
    let offset = state.config.time_offset;
    Ok(PrintOk::new(Page::of(page, |order| {
        views::RechargeOrder::of(order, offset)
    })))
}

/// A gateway's signed form, every field kept for its signature check.
pub struct GatewayForm(pub Params);

impl<S: Send + Sync> FromRequest<S> for GatewayForm {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Params::from_request(request, state).await.map(GatewayForm)
    }
}

impl DescribeArg for GatewayForm {
    fn describe(input: &mut InputDoc, components: &mut Components) {
        *input = InputDoc::GatewayForm(components.input::<SandboxNotice>());
    }
}

/// The gateway's answer: `success` or `fail` as plain text.
pub struct GatewayReply(Response);

impl IntoResponse for GatewayReply {
    fn into_response(self) -> Response {
        self.0
    }
}

impl DescribeReply for GatewayReply {
    fn success(_components: &mut Components) -> SuccessDoc {
        SuccessDoc::GatewayText
    }
}

/// A payment provider's callback. Answers as gateways expect: `success` (200) once the payment
/// is settled — also for a replay, so the gateway stops retrying — and `fail` (400) for anything
/// not believed or not matching, which changes nothing.
pub async fn payment_notify(
    State(state): State<AppState>,
    PathText(provider): PathText,
    GatewayForm(params): GatewayForm,
) -> AppResult<GatewayReply> {
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
    Ok(GatewayReply(
        (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            body,
        )
            .into_response(),
    ))
}
