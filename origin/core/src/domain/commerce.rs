//! Commerce: gifts bought with points, and balance recharges paid through a provider.
//!
//! A redemption takes the points (through the ledger, which refuses to go below zero) and one
//! from stock in the same transaction as the order, so a failure of either changes nothing. A
//! payment is settled in one transaction that marks the order paid only if it was pending and
//! credits the balance with its ledger entry: the writer thread serialises notifies, so a replay
//! or a concurrent duplicate finds the order paid and credits nothing.

use shared::Problem;
use shared::invalidate::Instruction;
use shared::pagination::{PageRequest, Paged};

use crate::AppState;
use crate::clock;
use crate::db::gifts::{self, GiftOrderRow, GiftRow, ShipTo};
use crate::db::ledgers::{self, Ledger};
use crate::db::recharge::{self, RechargeRow};
use crate::db::{addresses, edge_outbox};
use crate::edge_sync;
use crate::error::Result;
use crate::ids;
use crate::payments::{NewOrder, Notification, PaymentProvider, Verified};

/// The largest single recharge, in cents (¥50 000.00).
pub const MAX_RECHARGE_CENTS: i64 = 5_000_000;

/// At most this many unpaid recharge orders opened by one user within
/// [`UNPAID_RECHARGE_WINDOW_SECS`]: each one opens an order at the payment gateway, so a client in
/// a loop would otherwise spend the merchant's gateway quota and fill the table. Past it, 429 with
/// `Retry-After` until the oldest of them leaves the window; paying one frees its place at once.
pub const MAX_UNPAID_RECHARGES: i64 = 20;
pub const UNPAID_RECHARGE_WINDOW_SECS: i64 = 3_600;

pub async fn gifts(state: &AppState, request: PageRequest) -> Result<Paged<GiftRow>> {
    let (rows, total) = state
        .db
        .read(move |conn| gifts::page(conn, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// Redeems one gift for its points, shipped to one of the user's addresses.
pub async fn redeem(
    state: &AppState,
    user_id: i64,
    gift_id: i64,
    address_id: i64,
) -> Result<String> {
    let order_no = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            let gift = gifts::find(tx, gift_id)?
                .ok_or_else(|| Problem::invalid("gift_id", "礼品不存在"))?;
            let address = addresses::get(tx, user_id, address_id)?
                .ok_or_else(|| Problem::invalid("address_id", "收货地址不存在"))?;
            if !gifts::take_one(tx, gift.id)? {
                return Err(Problem::refused(format!("礼品“{}”库存不足", gift.name)).into());
            }
            ledgers::post(
                tx,
                Ledger::Points,
                user_id,
                -gift.accumulate_points,
                &format!("兑换礼品 {}", gift.name),
                now,
            )?;
            let order_no = ids::business_no('G', now);
            gifts::insert_order(tx, &order_no, user_id, &gift, &ShipTo::from(address), now)?;
            Ok(order_no)
        })
        .await?;
    Ok(order_no)
}

pub async fn gift_orders(
    state: &AppState,
    user_id: i64,
    shipped: Option<bool>,
    request: PageRequest,
) -> Result<Paged<GiftOrderRow>> {
    let (rows, total) = state
        .db
        .read(move |conn| gifts::orders_page(conn, user_id, shipped, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// A pending recharge order's number, and what the client needs to pay it.
pub struct NewRecharge {
    pub order_no: String,
    pub pay_params: serde_json::Value,
}

/// Opens a recharge at the gateway of `pay_type`, then records it pending. A gateway that
/// refuses or is down leaves nothing behind.
pub async fn create_recharge(
    state: &AppState,
    user_id: i64,
    price_cents: i64,
    pay_type: &str,
) -> Result<NewRecharge> {
    if !(1..=MAX_RECHARGE_CENTS).contains(&price_cents) {
        return Err(Problem::invalid("price", "充值金额必须在 0.01 到 50000.00 之间").into());
    }
    let provider = state.payment_provider_for(pay_type)?;
    // Checked before the gateway is asked; two requests at the same instant may both pass, so
    // the bound can be passed by the client's concurrency, never by a loop.
    let since = clock::now() - UNPAID_RECHARGE_WINDOW_SECS;
    let (unpaid, oldest) = state
        .db
        .read_short(move |conn| {
            recharge::recent_unpaid(conn, user_id, since, MAX_UNPAID_RECHARGES * 2)
        })
        .await?;
    if unpaid >= MAX_UNPAID_RECHARGES {
        let retry_after = oldest.map_or(UNPAID_RECHARGE_WINDOW_SECS, |oldest| {
            oldest + UNPAID_RECHARGE_WINDOW_SECS - clock::now()
        });
        return Err(Problem::RateLimited {
            retry_after: retry_after.max(1) as u64,
        }
        .into());
    }
    let provider_name = provider.name();
    let order_no = ids::business_no('R', clock::now());
    let order = NewOrder {
        order_no: &order_no,
        price_cents,
        pay_type,
        subject: RECHARGE_SUBJECT,
    };
    let pay_params = provider.create_order(order).await.map_err(|error| {
        tracing::warn!(provider = provider_name, %error, "payment order not opened");
        Problem::from(error)
    })?;
    let stored_pay_type = pay_type.to_owned();
    let stored_order_no = order_no.clone();
    state
        .db
        .write(move |tx| -> Result<_> {
            recharge::insert(
                tx,
                &stored_order_no,
                user_id,
                price_cents,
                &stored_pay_type,
                provider_name,
                clock::now(),
            )?;
            Ok(())
        })
        .await?;
    Ok(NewRecharge {
        order_no,
        pay_params,
    })
}

/// What the payer sees for a recharge.
pub const RECHARGE_SUBJECT: &str = "余额充值";

pub async fn recharge_orders(
    state: &AppState,
    user_id: i64,
    request: PageRequest,
) -> Result<Paged<RechargeRow>> {
    let (rows, total) = state
        .db
        .read(move |conn| recharge::page(conn, user_id, request))
        .await?;
    Ok(Paged::new(rows, total, request))
}

/// What became of a believed notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The order was pending; it is now paid and the balance credited.
    Credited,
    /// The same payment was already settled (a replay): nothing changed.
    AlreadyPaid,
    /// Not settled, and nothing changed; the reason is for the log and the provider.
    Refused(String),
}

/// Settles a verified payment exactly once.
pub async fn settle(
    state: &AppState,
    provider: &dyn PaymentProvider,
    notification: Notification,
) -> Result<Settlement> {
    let provider_name = provider.name();
    let outcome = state
        .db
        .write(move |tx| -> Result<_> {
            let now = clock::now();
            let Some(order) = recharge::by_order_no(tx, &notification.order_no)? else {
                return Ok((Settlement::Refused("unknown order".into()), None));
            };
            if order.provider != provider_name {
                return Ok((
                    Settlement::Refused("order belongs to another provider".into()),
                    None,
                ));
            }
            if order.price_cents != notification.amount_cents {
                return Ok((
                    Settlement::Refused("amount does not match the order".into()),
                    None,
                ));
            }
            if order.paid_at.is_some() {
                let outcome = if order.trade_no.as_deref() == Some(notification.trade_no.as_str()) {
                    Settlement::AlreadyPaid
                } else {
                    Settlement::Refused("order already paid by another trade".into())
                };
                return Ok((outcome, None));
            }
            if recharge::trade_used(tx, provider_name, &notification.trade_no)? {
                return Ok((Settlement::Refused("trade_no already used".into()), None));
            }
            if !recharge::mark_paid(tx, order.id, &notification.trade_no, now)? {
                return Ok((Settlement::AlreadyPaid, None));
            }
            ledgers::post(
                tx,
                Ledger::Balance,
                order.user_id,
                order.price_cents,
                &format!("余额充值 {}", order.order_no),
                now,
            )?;
            let bump = [Instruction::Bump {
                user: order.user_id,
            }];
            let entry = edge_outbox::enqueue(tx, &bump, now)?;
            Ok((Settlement::Credited, entry))
        })
        .await?;
    let (outcome, entry) = outcome;
    edge_sync::push(state, entry.into_iter().collect()).await;
    Ok(outcome)
}

/// What one reconciliation pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Pending orders asked about at their gateway.
    pub asked: usize,
    /// Of those, paid now (a callback that never arrived).
    pub credited: usize,
    /// Gateways that did not answer usably (asked again next time).
    pub failed: usize,
}

/// Asks the gateways about orders pending for a while (`payments.reconcile_after_secs`, up to a
/// day), and settles the paid ones through [`settle`], so a lost callback loses no payment.
pub async fn reconcile(state: &AppState, now: i64) -> Result<Reconciled> {
    let after = state.config.payments.reconcile_after_secs;
    let providers: Vec<&'static str> = state
        .payments
        .all()
        .filter(|provider| provider.reconciles())
        .map(|provider| provider.name())
        .collect();
    if providers.is_empty() {
        return Ok(Reconciled::default());
    }
    let names = providers.clone();
    let pending = state
        .db
        .read(move |conn| {
            recharge::to_reconcile(conn, &names, now - 86_400, now - after, now - after, 50)
        })
        .await?;
    let mut report = Reconciled::default();
    for order in pending {
        let Some(provider) = state.payment_provider(&order.provider) else {
            continue;
        };
        report.asked += 1;
        match provider.query(&order.order_no).await {
            Ok(Verified::Paid(notification)) => {
                let outcome = settle(state, provider, notification).await?;
                tracing::info!(order_no = %order.order_no, ?outcome, "reconciled a payment");
                if outcome == Settlement::Credited {
                    report.credited += 1;
                }
            }
            Ok(Verified::NotPaid { state: trade, .. }) => {
                tracing::debug!(order_no = %order.order_no, %trade, "still not paid");
            }
            Err(error) => {
                report.failed += 1;
                tracing::warn!(order_no = %order.order_no, %error, "reconciliation query failed");
            }
        }
        let order_no = order.order_no.clone();
        state
            .db
            .write(move |tx| Ok::<_, crate::Error>(recharge::mark_checked(tx, &order_no, now)?))
            .await?;
    }
    Ok(report)
}
