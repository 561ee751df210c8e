//! Which Binance orders hold a position's exits ([`exit_orders`]), and
//! which order types a configuration needs of the symbol ([`needs`]). Pure.
//!
//! | exits the book wants now ([`ExitPlan`]) | order(s) |
//! | --- | --- |
//! | a stop (stop-loss, or a trailing stop's level beside other exits) | `STOP_LOSS_LIMIT` |
//! | a take-profit (fixed, or the table's row now) | `TAKE_PROFIT_LIMIT` |
//! | both | an OCO: `LIMIT_MAKER` take-profit + `STOP_LOSS_LIMIT` |
//! | a trailing stop, the only exit | `STOP_LOSS_LIMIT` with `trailingDelta` |
//! | the same, after a profit | `TAKE_PROFIT_LIMIT` with `trailingDelta`, activated at that profit |
//!
//! Levels the engine moves (a trailing stop beside other exits, the
//! take-profit table) are plain prices here; the orders are replaced when
//! the levels move. Levels are rounded to the tick so a stop is never
//! looser than configured (a sell's trigger up) and a take-profit never
//! nearer (a sell's up). A stop works as a limit order once triggered; its
//! limit is [`STOP_LIMIT_SLACK`] beyond the trigger (a trailing stop's,
//! beyond its lowest possible trigger), so it fills in a market moving
//! against it unless the price gaps past that too.

use rust_decimal::Decimal;

use aegis_contract::config::ExitsConfig;
use aegis_engine::ledger::{ExitLeg, ExitReason};
use aegis_engine::trading::{ExitPlan, HeldExits, Side};
use aegis_exchange::filters::Needs;
use aegis_exchange::rest::{
    exit_client_order_id, Oco, OrderType, Side as RestSide, StopKind, StopOrder, StopTrigger,
};
use aegis_exchange::{Rounding, SymbolFilters};

/// How far beyond its trigger a stop's limit price is: 1 %.
pub const STOP_LIMIT_SLACK: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// The request that places exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitRequest {
    /// One stop order.
    Stop(StopOrder),
    /// A take-profit and a stop that cancel each other.
    Oco(Oco),
}

/// What the symbol must allow for `exits` to be held live: checked at
/// startup, so a symbol that cannot hold them is a clear error then rather
/// than an unprotected position later.
pub fn needs(exits: &ExitsConfig) -> Needs {
    let mut order_types = Vec::new();
    if exits.exchange_trails() {
        order_types.push(if exits.trailing_after.is_some() {
            OrderType::TakeProfitLimit
        } else {
            OrderType::StopLossLimit
        });
        return Needs {
            order_types,
            oco: false,
            trailing_stop: true,
        };
    }
    // Which of stop and take-profit are held always, and which at times (a
    // trailing stop once active, the table once its first row is reached).
    let stop_always = exits.stop_loss.is_some() || exits.atr_multiple.is_some();
    let stop_maybe = stop_always || exits.trailing_stop.is_some();
    let tp_always = exits.take_profit.is_some()
        || exits
            .take_profit_table
            .first()
            .is_some_and(|row| row.after_minutes == 0);
    let tp_maybe = exits.take_profit.is_some() || !exits.take_profit_table.is_empty();
    let oco = stop_maybe && tp_maybe;
    if oco {
        order_types.extend([OrderType::LimitMaker, OrderType::StopLossLimit]);
    }
    if stop_maybe && !tp_always && !oco {
        order_types.push(OrderType::StopLossLimit);
    }
    if tp_maybe && !stop_always {
        order_types.push(OrderType::TakeProfitLimit);
    }
    Needs {
        order_types,
        oco,
        trailing_stop: false,
    }
}

/// The ids of the `number`-th exits of a ledger.
pub struct ExitIds<'a> {
    /// The engine's name.
    pub engine: &'a str,
    /// The ledger's id.
    pub ledger_id: &'a str,
}

impl ExitIds<'_> {
    fn id(&self, number: u64, leg: &str) -> String {
        exit_client_order_id(self.engine, self.ledger_id, number, leg)
    }
}

/// A level `fraction` away from `price`, as a decimal; an overflow is an
/// error naming it.
fn scaled(price: Decimal, factor: Decimal, what: &str) -> Result<Decimal, String> {
    price
        .checked_mul(factor)
        .ok_or_else(|| format!("{what} overflows at {price} × {factor}"))
}

/// The exits `plan` asks for as Binance orders on `filters`, as the ledger
/// records them (`written_ms` stamps the `ExitSent` entry; the request is
/// made from that record by [`request_of`]). `Err` says which filter or
/// level the exits cannot pass: the position then stays without them, and
/// the caller reports it.
pub fn exit_orders(
    plan: &ExitPlan,
    filters: &SymbolFilters,
    ids: &ExitIds<'_>,
    written_ms: i64,
) -> Result<HeldExits, String> {
    let sell = plan.side == Side::Sell;
    let side = if sell { RestSide::Sell } else { RestSide::Buy };
    // Against the position: down for a long's stop, up for a short's.
    let (toward_stop, away_from_stop) = if sell {
        (Rounding::Down, Rounding::Up)
    } else {
        (Rounding::Up, Rounding::Down)
    };
    let slack = if sell {
        Decimal::ONE - STOP_LIMIT_SLACK
    } else {
        Decimal::ONE + STOP_LIMIT_SLACK
    };
    let round = |price: Decimal, rounding: Rounding, what: &str| {
        filters
            .round_price(price, rounding)
            .map_err(|e| format!("{what}: {e}"))
    };
    let limit_checked = |price: Decimal, what: &str| {
        filters
            .check_limit_price(side, price, plan.entry_price)
            .map_err(|e| format!("{what}: {e}"))
    };
    // The stop trigger, never looser; its limit, further by the slack.
    let stop_of = |level: Decimal| -> Result<(Decimal, Decimal), String> {
        let trigger = round(level, away_from_stop, "the stop-loss trigger")?;
        filters
            .check_stop_price(trigger)
            .map_err(|e| format!("the stop-loss trigger: {e}"))?;
        let limit = round(
            scaled(trigger, slack, "the stop's limit")?,
            toward_stop,
            "the stop's limit price",
        )?;
        limit_checked(limit, "the stop's limit price")?;
        Ok((trigger, limit))
    };
    let take_profit_of = |level: Decimal| -> Result<Decimal, String> {
        let price = round(level, away_from_stop, "the take-profit")?;
        limit_checked(price, "the take-profit")?;
        Ok(price)
    };
    let worst_fill = match (plan.stop, plan.trailing) {
        (Some((stop, _)), _) => stop,
        (None, Some((t, activation))) => {
            let from = activation.unwrap_or(plan.entry_price);
            let back = if sell {
                Decimal::ONE - t
            } else {
                Decimal::ONE + t
            };
            scaled(from, back, "the trailing stop's level")?
        }
        (None, None) => plan.take_profit.unwrap_or(plan.entry_price),
    };
    let list_id = ids.id(plan.number, "");
    let leg = |suffix: &str,
               reason: ExitReason,
               order_type: OrderType,
               stop_price: Option<Decimal>,
               price: Decimal,
               trailing_delta: Option<u32>| ExitLeg {
        client_order_id: if suffix.is_empty() {
            list_id.clone()
        } else {
            ids.id(plan.number, suffix)
        },
        reason,
        order_type: order_type.as_str().to_string(),
        stop_price,
        price,
        trailing_delta,
    };
    let legs = match (plan.stop, plan.take_profit, plan.trailing) {
        (Some((stop, reason)), Some(tp), None) => {
            let (trigger, limit) = stop_of(stop)?;
            let tp = take_profit_of(tp)?;
            vec![
                leg("s", reason, OrderType::StopLossLimit, Some(trigger), limit, None),
                leg("t", ExitReason::TakeProfit, OrderType::LimitMaker, None, tp, None),
            ]
        }
        (Some((stop, reason)), None, None) => {
            let (trigger, limit) = stop_of(stop)?;
            vec![leg("", reason, OrderType::StopLossLimit, Some(trigger), limit, None)]
        }
        (None, Some(tp), None) => {
            let price = take_profit_of(tp)?;
            filters
                .check_stop_price(price)
                .map_err(|e| format!("the take-profit trigger: {e}"))?;
            vec![leg("", ExitReason::TakeProfit, OrderType::TakeProfitLimit, Some(price), price, None)]
        }
        (None, None, Some((t, activation))) => {
            let delta = trailing_bips(t)?;
            let kind = if activation.is_some() {
                StopKind::TakeProfitLimit
            } else {
                StopKind::StopLossLimit
            };
            filters
                .check_trailing_delta(kind.order_type(), side, delta)
                .map_err(|e| format!("the trailing stop: {e}"))?;
            let activation = match activation {
                Some(a) => {
                    let a = round(a, away_from_stop, "the trailing stop's activation")?;
                    filters
                        .check_stop_price(a)
                        .map_err(|e| format!("the trailing stop's activation: {e}"))?;
                    Some(a)
                }
                None => None,
            };
            let limit = round(
                scaled(worst_fill, slack, "the trailing stop's limit")?,
                toward_stop,
                "the trailing stop's limit price",
            )?;
            limit_checked(limit, "the trailing stop's limit price")?;
            vec![leg("", ExitReason::TrailingStop, kind.order_type(), activation, limit, Some(delta))]
        }
        _ => {
            return Err(
                "these exits are not an order Binance can hold (see orchestrator.exits in docs/engine.md)"
                    .into(),
            )
        }
    };
    // The notional filters bind at the lowest price a leg may fill at.
    let lowest = legs.iter().map(|l| l.price).min().unwrap_or(worst_fill);
    let qty = filters
        .limit_quantity(plan.qty, lowest)
        .map_err(|e| format!("the exits' quantity {}: {e}", plan.qty))?;
    let held = HeldExits {
        signal_seq: plan.signal_seq,
        client_order_id: list_id,
        side: plan.side,
        qty,
        legs,
        written_ms,
    };
    Ok(held)
}

/// The request that places `held`, made from the ledger's record of it, so
/// a resend after a restart is exactly the first request. `Err` for a
/// record no request fits (a ledger written by hand).
pub fn request_of(held: &HeldExits) -> Result<ExitRequest, String> {
    let side = match held.side {
        Side::Sell => RestSide::Sell,
        Side::Buy => RestSide::Buy,
    };
    let kind_of = |leg: &ExitLeg| match OrderType::parse(&leg.order_type) {
        Some(OrderType::StopLossLimit) => Ok(StopKind::StopLossLimit),
        Some(OrderType::TakeProfitLimit) => Ok(StopKind::TakeProfitLimit),
        _ => Err(format!(
            "exit order {} has type {}, not a stop",
            leg.client_order_id, leg.order_type
        )),
    };
    match held.legs.as_slice() {
        [one] => {
            let trigger = match (one.trailing_delta, one.stop_price) {
                (Some(delta_bips), activation) => StopTrigger::Trailing {
                    delta_bips,
                    activation,
                },
                (None, Some(price)) => StopTrigger::Price(price),
                (None, None) => {
                    return Err(format!(
                        "exit order {} has neither a stop price nor a trailing delta",
                        one.client_order_id
                    ))
                }
            };
            Ok(ExitRequest::Stop(StopOrder {
                kind: kind_of(one)?,
                side,
                qty: held.qty,
                trigger,
                limit_price: one.price,
                client_order_id: one.client_order_id.clone(),
            }))
        }
        [a, b] => {
            let is_stop =
                |l: &ExitLeg| OrderType::parse(&l.order_type) == Some(OrderType::StopLossLimit);
            let (stop, tp) = if is_stop(a) { (a, b) } else { (b, a) };
            let stop_price = stop
                .stop_price
                .ok_or_else(|| format!("exit order {} has no stop price", stop.client_order_id))?;
            let (above, below) = if held.side == Side::Sell {
                (tp, stop)
            } else {
                (stop, tp)
            };
            Ok(ExitRequest::Oco(Oco {
                side,
                qty: held.qty,
                take_profit_price: tp.price,
                stop_price,
                stop_limit_price: stop.price,
                trailing_delta: stop.trailing_delta,
                list_client_order_id: held.client_order_id.clone(),
                above_client_order_id: above.client_order_id.clone(),
                below_client_order_id: below.client_order_id.clone(),
            }))
        }
        _ => Err(format!(
            "exits {} have {} orders: one or an OCO's two",
            held.client_order_id,
            held.legs.len()
        )),
    }
}

/// A trailing fraction as Binance's `trailingDelta` in BIPS (0.02 → 200),
/// rounded to the nearest whole BIPS.
fn trailing_bips(fraction: Decimal) -> Result<u32, String> {
    let bips = (fraction * Decimal::from(10_000)).round();
    u32::try_from(bips)
        .ok()
        .filter(|&b| b > 0)
        .ok_or_else(|| format!("trailing_stop {fraction} is not a whole number of BIPS above 0"))
}
