//! The back office's goods and gifts, and shipping gift orders.

use axum::extract::State;

use super::{Admin, needs};
use crate::AppState;
use crate::domain::admin::{self, NewGift, NewGoods};
use crate::error::AppResult;
use crate::http::input::{Input, Int, OptionalInt, Text, Yuan};
use crate::http::path::PathId;
use crate::http::reply::{PrintDone, PrintOk};
use crate::http::views;
use crate::input;

input! {
    pub struct GoodsRequest {
        name: Text<{ admin::GOODS_NAME_MAX_CHARS }>,
        /// Decimal yuan, not negative.
        price: Yuan,
    }
}

pub(super) async fn create_goods(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Goods>,
    Input(request): Input<GoodsRequest>,
) -> AppResult<PrintOk<views::Created, 201>> {
    let goods = NewGoods::new(&request.name, request.price)?;
    let id = admin::create_goods(&state, actor, goods).await?;
    Ok(PrintOk::new(views::Created { id }))
}

input! {
    pub struct GiftRequest {
        name: Text<{ admin::GIFT_NAME_MAX_CHARS }>,
        accumulate_points: Int<1, { admin::MAX_GIFT_POINTS }>,
        stock: Int<0, { admin::MAX_GIFT_STOCK }>,
        /// The id of an image you uploaded (`POST /api/images`), or of one a gift already shows.
        image: OptionalInt<1, { i64::MAX }>,
    }
}

pub(super) async fn create_gift(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Points>,
    Input(request): Input<GiftRequest>,
) -> AppResult<PrintOk<views::Created, 201>> {
    let gift = NewGift::new(
        &request.name,
        request.accumulate_points,
        request.stock,
        request.image,
    )?;
    let id = admin::create_gift(&state, actor, gift).await?;
    Ok(PrintOk::new(views::Created { id }))
}

input! {
    pub struct ShipRequest {
        express_company: Text<50>,
        tracking_no: Text<64>,
    }
}

pub(super) async fn ship_gift_order(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Delivery>,
    PathId(order_id): PathId,
    Input(request): Input<ShipRequest>,
) -> AppResult<PrintDone> {
    let (company, tracking_no) = (request.express_company, request.tracking_no);
    admin::ship_gift_order(&state, actor, order_id, company, tracking_no).await?;
    Ok(PrintDone::new("已发货"))
}
