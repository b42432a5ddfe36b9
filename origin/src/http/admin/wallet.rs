//! The back office's money and points: ledger adjustments and coupons.

use axum::extract::State;
use shared::Problem;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::{Admin, needs};
use crate::AppState;
use crate::clock;
use crate::db::ledgers::Ledger;
use crate::domain::admin::{self, CouponGrant};
use crate::error::AppResult;
use crate::http::input::{Field, Input, Int, Secret, SignedYuan, Text, Yuan};
use crate::http::params::Params;
use crate::http::path::PathId;
use crate::http::reply::PrintOk;
use crate::http::views;
use crate::input;

input! {
    pub struct PointsAdjustRequest {
        /// Signed: positive credits, negative debits (refused below zero).
        number: Int<{ -admin::MAX_POINTS_CHANGE }, { admin::MAX_POINTS_CHANGE }>,
        describe: Text<{ admin::DESCRIBE_MAX_CHARS }>,
    }
}

pub(super) async fn adjust_points(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Points>,
    PathId(id): PathId,
    Input(request): Input<PointsAdjustRequest>,
) -> AppResult<PrintOk<views::PointsSurplus, 201>> {
    let surplus = admin::adjust(
        &state,
        actor,
        id,
        Ledger::Points,
        request.number,
        request.describe,
    )
    .await?;
    Ok(PrintOk::new(views::PointsSurplus { surplus }))
}

/// A signed amount of money within ±100 000 000 yuan.
pub struct BalanceDelta;

impl Field for BalanceDelta {
    type Value = i64;

    fn read(params: &Params, name: &'static str) -> Result<i64, Problem> {
        let delta = SignedYuan::read(params, name)?;
        if delta.unsigned_abs() > admin::MAX_BALANCE_CHANGE_CENTS.unsigned_abs() {
            return Err(Problem::invalid(name, "amount 超出范围"));
        }
        Ok(delta)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        SignedYuan::document(name, description, object)
    }
}

input! {
    pub struct BalanceAdjustRequest {
        /// Signed decimal yuan (`"-3.50"`); refused below zero.
        amount: BalanceDelta,
        describe: Text<{ admin::DESCRIBE_MAX_CHARS }>,
    }
}

pub(super) async fn adjust_balance(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Finance>,
    PathId(id): PathId,
    Input(request): Input<BalanceAdjustRequest>,
) -> AppResult<PrintOk<views::BalanceSurplus, 201>> {
    let surplus = admin::adjust(
        &state,
        actor,
        id,
        Ledger::Balance,
        request.amount,
        request.describe,
    )
    .await?;
    Ok(PrintOk::new(views::BalanceSurplus {
        surplus: shared::money::format_cents(surplus),
    }))
}

/// `满减` or `抵扣` (the domain checks which).
pub struct CouponKind;

impl Field for CouponKind {
    type Value = String;

    fn read(params: &Params, name: &'static str) -> Result<String, Problem> {
        Secret::read(params, name)
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(admin::COUPON_KINDS))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property).required(name)
    }
}

/// Optional money; blank or negative is none.
pub struct Threshold;

impl Field for Threshold {
    type Value = Option<i64>;

    fn read(params: &Params, name: &'static str) -> Result<Option<i64>, Problem> {
        Ok(match params.get(name).map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(shared::money::parse_cents(name, raw)?),
        })
    }

    fn document(name: &'static str, description: &str, object: ObjectBuilder) -> ObjectBuilder {
        let property = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::String,
                Type::Null,
            ]))
            .description((!description.is_empty()).then_some(description));
        object.property(name, property)
    }
}

input! {
    pub struct CouponGrantRequest {
        /// 满减 (needs `satisfy`) or 抵扣.
        kind as "type": CouponKind,
        /// Decimal yuan, more than zero.
        quota: Yuan,
        /// The spend a 满减 coupon needs, decimal yuan.
        satisfy: Threshold,
        /// `2026-12-31 23:59:59`, in the future.
        finished_at: Secret,
        name: Text<{ admin::COUPON_NAME_MAX_CHARS }>,
    }
}

impl CouponGrantRequest {
    /// The grant, by the domain's rules; `finished_at` is read in the configured offset.
    pub fn grant(&self, offset: time::UtcOffset) -> Result<CouponGrant, Problem> {
        let finished_at = clock::parse(&self.finished_at, offset).ok_or_else(|| {
            Problem::invalid(
                "finished_at",
                "finished_at 必须是日期时间，如 2026-12-31 23:59:59",
            )
        })?;
        CouponGrant::new(
            &self.name,
            &self.kind,
            self.quota,
            self.satisfy,
            finished_at,
            clock::now(),
        )
    }
}

pub(super) async fn grant_coupon(
    State(state): State<AppState>,
    Admin { actor, .. }: Admin<needs::Coupons>,
    PathId(user_id): PathId,
    Input(request): Input<CouponGrantRequest>,
) -> AppResult<PrintOk<views::Created, 201>> {
    let grant = request.grant(state.config.time_offset)?;
    let coupon_id = admin::grant_coupon(&state, actor, user_id, grant).await?;
    Ok(PrintOk::new(views::Created { id: coupon_id }))
}
