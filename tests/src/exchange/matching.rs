//! The simulated market moving resting orders: each new candle is walked
//! as a price path and every open LIMIT, LIMIT_MAKER and stop order is
//! checked against it, in placement order, along the way.
//!
//! A candle's path between its high and low is unknown; the simulator
//! assumes **open → low → high → close for a candle closing above its open,
//! and open → high → low → close otherwise**, and moves in straight lines
//! between those points (every price between two points trades).
//!
//! - A resting limit (SELL at `p`) fills at `p` once the path trades at or
//!   above `p` (a BUY at or below), also when the candle opens beyond it.
//! - A stop triggers where the path meets its condition (a SELL
//!   `STOP_LOSS_LIMIT` when the price falls to `stopPrice`, a SELL
//!   `TAKE_PROFIT_LIMIT` when it rises to it, a BUY the mirror); a candle
//!   opening beyond the stop triggers it at the open. From there it is a
//!   limit at `price`: if that limit is marketable at the trigger price it
//!   fills there (as a taker would, at the better price), else it rests.
//! - A trailing stop (`trailingDelta`, BIPS) follows Binance's trailing
//!   stop FAQ: without `stopPrice` it trails from placement, with one only
//!   once the path meets the stop condition (the trailing then starts from
//!   that price); a SELL triggers when the price falls `trailingDelta /
//!   10000` below the highest price since, a BUY when it rises that much
//!   above the lowest. The trigger price is that level on the tick.
//! - `SimConfig::limit_fill_per_candle` caps how much of one order fills
//!   per candle (the rest waits for a later candle that trades through it).
//! - An OCO leg that triggers or starts to fill expires the other leg.
//! - Each fill is one trade with its commission ([`fill`]). A resting
//!   order locks what it may pay (`SimState::locked`), so new orders only
//!   use the free rest; should a test lower a balance under what is
//!   locked, a fill the account cannot pay for is not made and the order
//!   is `EXPIRED`.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use super::state::{SimCandle, SimOrder, SimState, SimTrade};

/// The prices a candle passes through, in order.
pub fn path(candle: &SimCandle) -> [Decimal; 4] {
    if candle.close > candle.open {
        [candle.open, candle.low, candle.high, candle.close]
    } else {
        [candle.open, candle.high, candle.low, candle.close]
    }
}

/// Walks `candle`'s path through every open resting order.
pub fn on_candle(state: &mut SimState, candle: &SimCandle) {
    let mut filled: BTreeMap<u64, Decimal> = BTreeMap::new();
    let points = path(candle);
    for leg in points.windows(2) {
        for at in 0..state.orders.len() {
            step(state, at, leg[0], leg[1], &mut filled);
        }
    }
}

/// Moves order `at` along the straight path `from` → `to`.
fn step(
    state: &mut SimState,
    at: usize,
    from: Decimal,
    to: Decimal,
    filled: &mut BTreeMap<u64, Decimal>,
) {
    let tick = state.config.tick_size;
    let order = &mut state.orders[at];
    if !order.is_open() || order.order_type == "MARKET" {
        return;
    }
    let mut start = from;
    let mut fresh = false;
    if order.is_stop() && !order.triggered {
        let Some(point) = trigger_point(order, from, to, tick) else {
            return;
        };
        order.triggered = true;
        start = point;
        fresh = true;
        expire_other_leg(state, at);
    }
    let order = &state.orders[at];
    let (limit, buy) = (order.price, order.is_buy());
    let marketable = |p: Decimal| if buy { p <= limit } else { p >= limit };
    let price = if fresh && marketable(start) {
        start
    } else if marketable(start) || marketable(to) {
        limit
    } else {
        return;
    };
    let id = order.order_id;
    let done = filled.get(&id).copied().unwrap_or_default();
    let room = state
        .config
        .limit_fill_per_candle
        .map_or(order.remaining(), |cap| (cap - done).min(order.remaining()));
    if room <= Decimal::ZERO {
        return;
    }
    if fill(state, at, room, price).is_some() {
        *filled.entry(id).or_default() += room;
        expire_other_leg(state, at);
    }
}

/// Where on `from` → `to` the stop `order` triggers, if it does; a
/// trailing stop's best price is carried along.
fn trigger_point(
    order: &mut SimOrder,
    from: Decimal,
    to: Decimal,
    tick: Decimal,
) -> Option<Decimal> {
    // Whether the stop condition is "price <= stopPrice".
    let at_or_below = order.is_buy() == (order.order_type == "TAKE_PROFIT_LIMIT");
    let meets = |level: Decimal| -> Option<Decimal> {
        let hit = |p: Decimal| if at_or_below { p <= level } else { p >= level };
        if hit(from) {
            Some(from)
        } else if hit(to) {
            Some(level)
        } else {
            None
        }
    };
    let Some(delta) = order.trailing_delta else {
        return meets(order.stop_price?);
    };
    let mut from = from;
    if order.trail_best.is_none() {
        // Waits for its activation price, then trails from there.
        let point = meets(order.stop_price?)?;
        order.trail_best = Some(point);
        from = point;
    }
    let best = order.trail_best?;
    let ratio = Decimal::from(delta) / Decimal::from(10_000);
    if order.is_buy() {
        let best = best.min(from);
        let level = on_tick(best * (Decimal::ONE + ratio), tick, true);
        order.trail_best = Some(best);
        if from >= level {
            return Some(from);
        }
        if to >= level {
            return Some(level);
        }
        order.trail_best = Some(best.min(to));
    } else {
        let best = best.max(from);
        let level = on_tick(best * (Decimal::ONE - ratio), tick, false);
        order.trail_best = Some(best);
        if from <= level {
            return Some(from);
        }
        if to <= level {
            return Some(level);
        }
        order.trail_best = Some(best.max(to));
    }
    None
}

/// `price` on the tick, rounded up or down.
fn on_tick(price: Decimal, tick: Decimal, up: bool) -> Decimal {
    if tick <= Decimal::ZERO {
        return price;
    }
    let strategy = if up {
        RoundingStrategy::AwayFromZero
    } else {
        RoundingStrategy::ToZero
    };
    ((price / tick).round_dp_with_strategy(0, strategy) * tick).normalize()
}

/// Expires the other leg of order `at`'s list, if it is in one and that
/// leg is still open.
pub fn expire_other_leg(state: &mut SimState, at: usize) {
    let (list_id, id) = (state.orders[at].order_list_id, state.orders[at].order_id);
    if list_id < 0 {
        return;
    }
    let now = state.now_ms();
    for other in state.orders.iter_mut() {
        if other.order_list_id == list_id && other.order_id != id && other.is_open() {
            other.status = "EXPIRED".into();
            other.update_ms = now;
        }
    }
}

/// Fills `qty` of order `at` at `price` as one trade: the balances move
/// (the commission is taken from the asset received), the order's
/// quantities and status follow, and the trade is recorded. When the
/// account cannot pay for it the order is `EXPIRED` instead and `None`
/// returned.
pub fn fill(state: &mut SimState, at: usize, qty: Decimal, price: Decimal) -> Option<SimTrade> {
    let time_ms = state.now_ms();
    let c = &mut state.config;
    let order = &mut state.orders[at];
    let buy = order.is_buy();
    let notional = qty * price;
    let (paid, paid_asset, received, received_asset) = if buy {
        (notional, &c.quote_asset, qty, &c.base_asset)
    } else {
        (qty, &c.base_asset, notional, &c.quote_asset)
    };
    if c.balances.get(paid_asset).copied().unwrap_or_default() < paid {
        order.status = "EXPIRED".into();
        order.update_ms = time_ms;
        return None;
    }
    let commission =
        (received * c.commission_rate).round_dp_with_strategy(8, RoundingStrategy::ToZero);
    *c.balances.entry(paid_asset.clone()).or_default() -= paid;
    *c.balances.entry(received_asset.clone()).or_default() += received - commission;
    order.executed_qty += qty;
    order.cummulative_quote_qty += notional;
    order.status = if order.executed_qty >= order.orig_qty {
        "FILLED"
    } else {
        "PARTIALLY_FILLED"
    }
    .into();
    order.update_ms = time_ms;
    let trade = SimTrade {
        id: u64::try_from(state.trades.len()).unwrap_or(u64::MAX) + 1,
        order_id: order.order_id,
        price,
        qty,
        quote_qty: notional,
        commission,
        commission_asset: received_asset.clone(),
        is_buyer: buy,
        time_ms,
    };
    state.trades.push(trade.clone());
    Some(trade)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    fn candle(open: i64, high: i64, low: i64, close: i64) -> SimCandle {
        SimCandle {
            open_time_ms: 0,
            open: d(open),
            high: d(high),
            low: d(low),
            close: d(close),
            volume: Decimal::ONE,
        }
    }

    fn stop(side: &str, kind: &str, stop: Option<i64>, delta: Option<u32>) -> SimOrder {
        SimOrder {
            order_id: 1,
            client_order_id: "s".into(),
            side: side.into(),
            order_type: kind.into(),
            status: "NEW".into(),
            orig_qty: Decimal::ONE,
            executed_qty: Decimal::ZERO,
            cummulative_quote_qty: Decimal::ZERO,
            price: d(1),
            stop_price: stop.map(d),
            trailing_delta: delta,
            trail_best: None,
            triggered: false,
            order_list_id: -1,
            time_ms: 0,
            update_ms: 0,
        }
    }

    #[test]
    fn the_path_visits_the_adverse_extreme_first_for_an_up_candle() {
        assert_eq!(path(&candle(10, 12, 8, 11)), [d(10), d(8), d(12), d(11)]);
        assert_eq!(path(&candle(10, 12, 8, 9)), [d(10), d(12), d(8), d(9)]);
        assert_eq!(path(&candle(10, 12, 8, 10)), [d(10), d(12), d(8), d(10)]);
    }

    #[test]
    fn a_sell_stop_triggers_at_its_stop_or_at_a_gapped_open() {
        let mut o = stop("SELL", "STOP_LOSS_LIMIT", Some(95), None);
        assert_eq!(trigger_point(&mut o, d(100), d(96), Decimal::ONE), None);
        assert_eq!(
            trigger_point(&mut o, d(100), d(90), Decimal::ONE),
            Some(d(95))
        );
        assert_eq!(
            trigger_point(&mut o, d(93), d(90), Decimal::ONE),
            Some(d(93))
        );
        // A SELL take-profit: on the way up.
        let mut tp = stop("SELL", "TAKE_PROFIT_LIMIT", Some(105), None);
        assert_eq!(trigger_point(&mut tp, d(100), d(104), Decimal::ONE), None);
        assert_eq!(
            trigger_point(&mut tp, d(100), d(110), Decimal::ONE),
            Some(d(105))
        );
        // A BUY stop-loss: on the way up; a BUY take-profit: down.
        let mut bs = stop("BUY", "STOP_LOSS_LIMIT", Some(105), None);
        assert_eq!(
            trigger_point(&mut bs, d(100), d(106), Decimal::ONE),
            Some(d(105))
        );
        let mut bt = stop("BUY", "TAKE_PROFIT_LIMIT", Some(95), None);
        assert_eq!(
            trigger_point(&mut bt, d(100), d(94), Decimal::ONE),
            Some(d(95))
        );
    }

    #[test]
    fn a_trailing_sell_follows_the_high_and_triggers_on_the_retrace() {
        // 10 % trail from 100, no activation price.
        let mut o = stop("SELL", "STOP_LOSS_LIMIT", None, Some(1000));
        o.trail_best = Some(d(100));
        assert_eq!(trigger_point(&mut o, d(100), d(120), Decimal::ONE), None);
        assert_eq!(o.trail_best, Some(d(120)));
        // 120 * 0.9 = 108: a fall to 109 does not trigger, to 100 does, at 108.
        assert_eq!(trigger_point(&mut o, d(120), d(109), Decimal::ONE), None);
        assert_eq!(
            trigger_point(&mut o, d(109), d(100), Decimal::ONE),
            Some(d(108))
        );
    }

    #[test]
    fn a_trailing_stop_with_a_stop_price_trails_only_once_activated() {
        // Binance's scenario B: SELL, stopPrice 39000, 10 %.
        let mut o = stop("SELL", "STOP_LOSS_LIMIT", Some(39_000), Some(1000));
        assert_eq!(
            trigger_point(&mut o, d(40_000), d(41_500), Decimal::ONE),
            None
        );
        assert_eq!(o.trail_best, None, "not trailing before the stop is met");
        assert_eq!(
            trigger_point(&mut o, d(41_500), d(37_000), Decimal::ONE),
            None
        );
        assert_eq!(o.trail_best, Some(d(39_000)));
        assert_eq!(
            trigger_point(&mut o, d(37_000), d(41_000), Decimal::ONE),
            None
        );
        assert_eq!(o.trail_best, Some(d(41_000)));
        assert_eq!(
            trigger_point(&mut o, d(41_000), d(36_900), Decimal::ONE),
            Some(d(36_900))
        );
        // A BUY mirror (scenario A): stopPrice 44000, 5 %, lowest 42000.
        let mut b = stop("BUY", "STOP_LOSS_LIMIT", Some(44_000), Some(500));
        assert_eq!(
            trigger_point(&mut b, d(40_000), d(37_000), Decimal::ONE),
            None
        );
        assert_eq!(
            trigger_point(&mut b, d(37_000), d(45_000), Decimal::ONE),
            None
        );
        assert_eq!(b.trail_best, Some(d(44_000)));
        assert_eq!(
            trigger_point(&mut b, d(46_000), d(42_000), Decimal::ONE),
            None
        );
        assert_eq!(
            trigger_point(&mut b, d(42_000), d(44_100), Decimal::ONE),
            Some(d(44_100))
        );
    }
}
