//! Gifts, gift orders, recharge orders and payment callbacks (print dialect).

use axum::extract::{FromRequest, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shared::Problem;
use shared::money::format_cents;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use crate::AppState;
use crate::clock;
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
use crate::payments::alipay::AlipayNotice;
use crate::payments::wechat::WechatPayNotice;
use crate::payments::{Callback, Outcome, SandboxNotice, Verified};

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

/// A gateway's callback as it arrived: the header names (lower case) and values, and the raw
/// body, which the provider's signature check reads byte for byte.
pub struct GatewayCallback {
    pub headers: Vec<(String, String)>,
    pub body: axum::body::Bytes,
}

impl<S: Send + Sync> FromRequest<S> for GatewayCallback {
    type Rejection = AppError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        let limit = shared::policy::BODY_LIMIT;
        let body = axum::body::to_bytes(request.into_body(), limit as usize)
            .await
            .map_err(|_| Problem::PayloadTooLarge { limit_bytes: limit })?;
        Ok(GatewayCallback { headers, body })
    }
}

impl DescribeArg for GatewayCallback {
    fn describe(input: &mut InputDoc, components: &mut Components) {
        *input = InputDoc::Gateway {
            forms: vec![
                components.input::<SandboxNotice>(),
                components.input::<AlipayNotice>(),
            ],
            json: components.input::<WechatPayNotice>(),
        };
    }
}

/// The gateway's answer, in the gateway's own format (`success` / `fail` as plain text for the
/// sandbox and Alipay; 204, or `{"code":"FAIL","message":…}` for WeChat Pay).
pub struct GatewayReply(Response);

impl IntoResponse for GatewayReply {
    fn into_response(self) -> Response {
        self.0
    }
}

impl DescribeReply for GatewayReply {
    fn success(_components: &mut Components) -> SuccessDoc {
        SuccessDoc::GatewayAnswer
    }
}

/// A payment gateway's callback. The provider named in the path checks it (signatures, clock,
/// our ids); a believed payment is settled exactly once — a repeat is accepted so the gateway
/// stops retrying, except that WeChat Pay's exact callback (its nonce) is refused a second
/// time — and anything not believed or not matching its order changes nothing. A
/// provider that is not in use (the sandbox in live mode, a gateway not configured) is 404.
pub async fn payment_notify(
    State(state): State<AppState>,
    PathText(provider): PathText,
    callback: GatewayCallback,
) -> AppResult<GatewayReply> {
    let provider = state.payment_provider(&provider).ok_or(Problem::NotFound)?;
    let raw = Callback {
        headers: &callback.headers,
        body: &callback.body,
    };
    let now = clock::now();
    let settled = match provider.verify(&raw, now) {
        Ok(Verified::Paid(notification)) => commerce::settle(&state, provider, notification).await,
        Ok(Verified::NotPaid { order_no, state }) => {
            tracing::info!(provider = provider.name(), %order_no, %state, "payment notify: not paid");
            Ok(Settlement::AlreadyPaid)
        }
        Err(reason) => Ok(Settlement::Refused(reason)),
    };
    let (outcome, result) = match settled {
        Ok(Settlement::Credited) => (Outcome::Accepted, PaymentCallback::Settled),
        Ok(Settlement::AlreadyPaid) => (Outcome::Accepted, PaymentCallback::Replayed),
        Ok(Settlement::Refused(reason)) => {
            // Debug-formatted: the reason can quote caller-sent text (a newline must not forge a log line).
            tracing::warn!(
                provider = provider.name(),
                ?reason,
                "payment notify refused"
            );
            (Outcome::Refused(reason), PaymentCallback::Refused)
        }
        Err(error) => {
            // The gateway retries on a failure answer: nothing is lost, and nothing was written.
            tracing::error!(provider = provider.name(), error = ?error, "payment notify not settled");
            (Outcome::Failed, PaymentCallback::Refused)
        }
    };
    if outcome == Outcome::Accepted {
        provider.accepted(&raw, now);
    }
    state
        .metrics
        .count_payment_callback(provider.name(), result);
    let answer = provider.answer(&outcome);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let response = match answer.content_type {
        Some(content_type) => {
            (status, [(header::CONTENT_TYPE, content_type)], answer.body).into_response()
        }
        None => status.into_response(),
    };
    Ok(GatewayReply(response))
}
