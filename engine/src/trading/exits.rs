//! Protective exits in backtests and paper trading: the levels held for an
//! open position ([`Protection`]) and which of them a bar triggers, at what
//! price ([`triggered`]). Pure: [`Execution`](super::Execution) books what
//! this decides.
//!
//! # The fill model
//!
//! A bar's path between its high and its low is unknown, so every choice is
//! the one that never flatters the result:
//!
//! - the **stop** (the tighter of the stop-loss and an active trailing stop)
//!   is checked first: a bar that opens beyond it fills at its open, a bar
//!   whose range reaches it fills at the stop;
//! - the **take-profit** fills at its level when the bar reaches it (at the
//!   open when the bar opens beyond it), only if the stop was not reached: a
//!   bar that touches both fills the stop;
//! - the trailing stop follows the best price of the bars *before* this one
//!   (a bar's high may come after its low), so a bar never raises its own
//!   stop;
//! - on the bar a limit entry fills, only the stop is checked (the part of
//!   the bar after the fill may hold the low, not the high).
//!
//! The price returned is the reference: the paper venue applies slippage
//! and the fee to it as to any market order.

use rust_decimal::Decimal;

use rust_decimal::prelude::ToPrimitive;

use super::money::{add, mul, sub, F64View, Overflow};
use crate::ledger::ExitReason;
use aegis_contract::config::ExitsConfig;

/// The exits held for the open position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protection {
    /// 1 for a long, -1 for a short.
    pub direction: i64,
    /// The position's average entry price.
    pub entry_price: Decimal,
    /// When the position was opened (the bar of its first fill).
    pub entry_ts_ms: i64,
    /// The best price of the bars since the entry (a long's highest high, a
    /// short's lowest low); the entry price before the first bar is done.
    pub best: Decimal,
    /// The stop-loss level of an `atr_multiple` stop, fixed at the entry.
    pub atr_stop: Option<Decimal>,
    /// The bar whose price last moved `best` (its open time): that bar has
    /// been checked already.
    pub best_at: Option<i64>,
}

/// One bar's prices, as exits see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// The open time (ms).
    pub ts_ms: i64,
    /// Open.
    pub open: Decimal,
    /// High (at least the open).
    pub high: Decimal,
    /// Low (at most the open).
    pub low: Decimal,
}

/// A triggered exit: why, the level, and the reference price it fills at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// Stop-loss, take-profit or trailing stop.
    pub reason: ExitReason,
    /// The level the bar reached.
    pub level: Decimal,
    /// The fill's reference price: the level, or the open when the bar
    /// opened beyond it.
    pub price: Decimal,
}

/// `price × (1 + direction × fraction)`: a level `fraction` away from
/// `price`, above it for `direction` 1.
fn away(price: Decimal, direction: i64, fraction: Decimal) -> Result<Decimal, Overflow> {
    let f = Decimal::from(direction) * fraction;
    mul(price, add(Decimal::ONE, f, "level")?, "level")
}

impl Protection {
    /// The protection of a position opened in `direction` at `entry_price`
    /// on the bar `entry_ts_ms`; `atr` is the deciding bar's ATR, used when
    /// `cfg` sets `atr_multiple`.
    pub fn open(
        cfg: &ExitsConfig,
        direction: i64,
        entry_price: Decimal,
        entry_ts_ms: i64,
        atr: Option<Decimal>,
    ) -> Result<Protection, Overflow> {
        let atr_stop = match (cfg.atr_multiple, atr) {
            (Some(m), Some(atr)) => {
                let distance = mul(m, atr, "ATR stop distance")?;
                Some(sub(
                    entry_price,
                    Decimal::from(direction) * distance,
                    "ATR stop",
                )?)
            }
            _ => None,
        };
        Ok(Protection {
            direction,
            entry_price,
            entry_ts_ms,
            best: entry_price,
            atr_stop,
            best_at: None,
        })
    }

    /// The stop held now and which exit it is: the tighter of the stop-loss
    /// (fixed or ATR) and the trailing stop once active (the stop-loss on a
    /// tie).
    pub fn stop(&self, cfg: &ExitsConfig) -> Result<Option<(Decimal, ExitReason)>, Overflow> {
        let d = self.direction;
        let fixed = match (cfg.stop_loss, self.atr_stop) {
            (Some(f), _) => Some(away(self.entry_price, -d, f)?),
            (None, atr) => atr,
        };
        let trailing = match cfg.trailing_stop {
            Some(t) if self.trailing_active(cfg)? => Some(away(self.best, -d, t)?),
            _ => None,
        };
        // Tighter: the higher stop of a long, the lower of a short.
        let tighter = |a: Decimal, b: Decimal| Decimal::from(d) * (a - b) > Decimal::ZERO;
        Ok(match (fixed, trailing) {
            (Some(f), Some(t)) if tighter(t, f) => Some((t, ExitReason::TrailingStop)),
            (Some(f), _) => Some((f, ExitReason::StopLoss)),
            (None, Some(t)) => Some((t, ExitReason::TrailingStop)),
            (None, None) => None,
        })
    }

    fn trailing_active(&self, cfg: &ExitsConfig) -> Result<bool, Overflow> {
        let Some(after) = cfg.trailing_after else {
            return Ok(true);
        };
        let start = away(self.entry_price, self.direction, after)?;
        Ok(Decimal::from(self.direction) * (self.best - start) >= Decimal::ZERO)
    }

    /// The take-profit level on the bar opening at `ts_ms` (the table's row
    /// by whole minutes held since the entry).
    pub fn take_profit(&self, cfg: &ExitsConfig, ts_ms: i64) -> Result<Option<Decimal>, Overflow> {
        let minutes = u64::try_from((ts_ms - self.entry_ts_ms) / 60_000).unwrap_or(0);
        cfg.take_profit_after(minutes)
            .map(|f| away(self.entry_price, self.direction, f))
            .transpose()
    }

    /// Moves the best price with a finished bar; true when it improved.
    pub fn see_bar(&mut self, bar: &Bar) -> bool {
        let candidate = if self.direction > 0 {
            bar.high
        } else {
            bar.low
        };
        let better = Decimal::from(self.direction) * (candidate - self.best) > Decimal::ZERO;
        if better {
            self.best = candidate;
            self.best_at = Some(bar.ts_ms);
        }
        better
    }
}

/// The exit `bar` triggers for `p`, if any (see the [module docs](self));
/// `stop_only` on the bar a limit entry filled.
pub fn triggered(
    cfg: &ExitsConfig,
    p: &Protection,
    bar: &Bar,
    stop_only: bool,
) -> Result<Option<Trigger>, Overflow> {
    let d = Decimal::from(p.direction);
    // How far past `level` the bar went against the position at its open
    // and at its worst, and in its favour at its best.
    let (worst, best) = if p.direction > 0 {
        (bar.low, bar.high)
    } else {
        (bar.high, bar.low)
    };
    if let Some((level, reason)) = p.stop(cfg)? {
        if d * (bar.open - level) <= Decimal::ZERO {
            return Ok(Some(Trigger {
                reason,
                level,
                price: bar.open,
            }));
        }
        if d * (worst - level) <= Decimal::ZERO {
            return Ok(Some(Trigger {
                reason,
                level,
                price: level,
            }));
        }
    }
    if stop_only {
        return Ok(None);
    }
    if let Some(level) = p.take_profit(cfg, bar.ts_ms)? {
        if d * (bar.open - level) >= Decimal::ZERO {
            return Ok(Some(Trigger {
                reason: ExitReason::TakeProfit,
                level,
                price: bar.open,
            }));
        }
        if d * (best - level) >= Decimal::ZERO {
            return Ok(Some(Trigger {
                reason: ExitReason::TakeProfit,
                level,
                price: level,
            }));
        }
    }
    Ok(None)
}

/// The relative margin by which a bar must clear every level for
/// [`QuietCheck`] to call it quiet: far above the few ulps its `f64` copies
/// of the decimals are off by.
const QUIET_MARGIN: f64 = 1e-9;

/// Proves, in `f64`, that a bar reaches no exit level and does not move the
/// best price, so the exact decimal check can be skipped (a bar that is not
/// proved quiet takes the exact path). Built once from the configuration;
/// the caches inside are not part of any state (two checks are equal).
#[derive(Clone, Debug, Default)]
pub struct QuietCheck {
    stop_loss: Option<f64>,
    take_profit: Option<f64>,
    table: Vec<(u64, f64)>,
    trailing: Option<f64>,
    entry: F64View,
    best: F64View,
    atr_stop: F64View,
}

impl PartialEq for QuietCheck {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for QuietCheck {}

impl QuietCheck {
    /// The check for `cfg`'s exits.
    pub fn new(cfg: &ExitsConfig) -> Self {
        let f = |d: Decimal| d.to_f64().unwrap_or(f64::NAN);
        QuietCheck {
            stop_loss: cfg.stop_loss.map(f),
            take_profit: cfg.take_profit.map(f),
            table: cfg
                .take_profit_table
                .iter()
                .map(|s| (s.after_minutes, f(s.profit)))
                .collect(),
            trailing: cfg.trailing_stop.map(f),
            ..QuietCheck::default()
        }
    }

    /// Whether the bar (`open`, `high`, `low` as the ring has them, widened
    /// like [`Bar`], at `ts_ms`) surely triggers nothing for `p` and leaves
    /// its best price where it is. `false` means "not proved", never "it
    /// triggers". NaN anywhere fails every comparison, so proves nothing.
    pub fn quiet(&mut self, p: &Protection, open: f64, high: f64, low: f64, ts_ms: i64) -> bool {
        self.best_stays(p, high, low) && self.no_trigger(p, open, high, low, ts_ms)
    }

    /// Whether the bar surely leaves `p`'s best price where it is (always,
    /// without a trailing stop, which alone needs it).
    pub fn best_stays(&mut self, p: &Protection, high: f64, low: f64) -> bool {
        if self.trailing.is_none() {
            return true;
        }
        let best = self.best.of(p.best);
        let best_side = if p.direction > 0 { high } else { low };
        clears(p.direction as f64, best_side, best, false)
    }

    /// Whether the bar surely reaches no exit level of `p` (the trailing
    /// stop's as of the earlier bars' best price, which is the one the bar
    /// is checked against); its best price may move.
    pub fn no_trigger(
        &mut self,
        p: &Protection,
        open: f64,
        high: f64,
        low: f64,
        ts_ms: i64,
    ) -> bool {
        let d = p.direction as f64;
        let entry = self.entry.of(p.entry_price);
        // A level is cleared when the bar stays `QUIET_MARGIN` inside it on
        // the side it must not cross: below a long's stop means `low`.
        let (worst, best_side) = if p.direction > 0 {
            (low, high)
        } else {
            (high, low)
        };
        if let Some(sl) = self.stop_loss {
            if !clears(d, worst, entry * (1.0 - d * sl), true) {
                return false;
            }
        }
        if let Some(level) = p.atr_stop {
            if !clears(d, worst, self.atr_stop.of(level), true) {
                return false;
            }
        }
        if let Some(trail) = self.trailing {
            // Active or not, a trailing stop the bar clears is no trigger.
            let best = self.best.of(p.best);
            if !clears(d, worst, best * (1.0 - d * trail), true) {
                return false;
            }
        }
        let minutes = u64::try_from((ts_ms - p.entry_ts_ms) / 60_000).unwrap_or(0);
        let row = self
            .table
            .iter()
            .rev()
            .find(|(after, _)| *after <= minutes)
            .map(|(_, profit)| *profit);
        for profit in [self.take_profit, row].into_iter().flatten() {
            if !clears(d, best_side, entry * (1.0 + d * profit), false) {
                return false;
            }
        }
        // The open lies between low and high, so it cleared every level too.
        open.is_finite()
    }
}

/// Whether `price` stays `QUIET_MARGIN` inside `level` for a position in
/// direction `d`: on the side a stop must not cross (`against`: a long's
/// low above its stop), or the side a target or best price must not reach
/// (a long's high below them).
fn clears(d: f64, price: f64, level: f64, against: bool) -> bool {
    let gap = if against {
        d * (price - level)
    } else {
        d * (level - price)
    };
    gap > QUIET_MARGIN * level.abs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aegis_contract::config::TakeProfitStep;

    fn d(s: &str) -> Decimal {
        s.parse().expect("decimal")
    }

    fn bar(open: &str, high: &str, low: &str) -> Bar {
        Bar {
            ts_ms: 0,
            open: d(open),
            high: d(high),
            low: d(low),
        }
    }

    fn long(cfg: &ExitsConfig) -> Protection {
        Protection::open(cfg, 1, d("100"), 0, None).expect("levels")
    }

    fn cfg(stop: Option<&str>, tp: Option<&str>, trail: Option<&str>) -> ExitsConfig {
        ExitsConfig {
            stop_loss: stop.map(d),
            take_profit: tp.map(d),
            trailing_stop: trail.map(d),
            ..ExitsConfig::default()
        }
    }

    fn hit(c: &ExitsConfig, p: &Protection, b: Bar) -> Option<(ExitReason, Decimal)> {
        triggered(c, p, &b, false)
            .expect("no overflow")
            .map(|t| (t.reason, t.price))
    }

    #[test]
    fn a_bar_through_the_stop_fills_the_stop_and_a_gap_fills_the_open() {
        let c = cfg(Some("0.02"), None, None);
        let p = long(&c);
        assert_eq!(hit(&c, &p, bar("99", "101", "98.5")), None);
        assert_eq!(
            hit(&c, &p, bar("99", "101", "97")),
            Some((ExitReason::StopLoss, d("98.00")))
        );
        assert_eq!(
            hit(&c, &p, bar("95", "99", "94")),
            Some((ExitReason::StopLoss, d("95")))
        );
    }

    #[test]
    fn a_bar_touching_both_levels_fills_the_stop() {
        let c = cfg(Some("0.02"), Some("0.03"), None);
        let p = long(&c);
        assert_eq!(
            hit(&c, &p, bar("100", "104", "97")),
            Some((ExitReason::StopLoss, d("98.00")))
        );
        assert_eq!(
            hit(&c, &p, bar("100", "104", "99")),
            Some((ExitReason::TakeProfit, d("103.00")))
        );
        assert_eq!(
            hit(&c, &p, bar("105", "106", "104")),
            Some((ExitReason::TakeProfit, d("105")))
        );
        // Only the stop on the bar a limit entry filled.
        let only_stop = triggered(&c, &p, &bar("100", "104", "99"), true).expect("levels");
        assert_eq!(only_stop, None);
    }

    #[test]
    fn a_short_mirrors_the_levels() {
        let c = cfg(Some("0.02"), Some("0.03"), None);
        let p = Protection::open(&c, -1, d("100"), 0, None).expect("levels");
        assert_eq!(
            hit(&c, &p, bar("100", "103", "96")),
            Some((ExitReason::StopLoss, d("102.00")))
        );
        assert_eq!(
            hit(&c, &p, bar("100", "101", "96")),
            Some((ExitReason::TakeProfit, d("97.00")))
        );
    }

    #[test]
    fn the_trailing_stop_follows_earlier_bars_and_starts_after_its_profit() {
        let c = ExitsConfig {
            trailing_after: Some(d("0.05")),
            ..cfg(Some("0.10"), None, Some("0.02"))
        };
        let mut p = long(&c);
        // Not active below +5 %: the fixed stop holds.
        assert!(p.see_bar(&bar("100", "104", "100")));
        assert_eq!(
            p.stop(&c).expect("levels"),
            Some((d("90.00"), ExitReason::StopLoss))
        );
        assert_eq!(hit(&c, &p, bar("104", "104", "101")), None);
        // Active once the best is 5 % up: 2 % below the best.
        assert!(p.see_bar(&bar("104", "110", "104")));
        assert!(!p.see_bar(&bar("108", "109", "107")));
        assert_eq!(
            hit(&c, &p, bar("109", "112", "107")),
            Some((ExitReason::TrailingStop, d("107.80")))
        );
    }

    #[test]
    fn an_atr_stop_is_fixed_at_the_entry() {
        let c = ExitsConfig {
            atr_multiple: Some(d("2")),
            ..ExitsConfig::default()
        };
        let p = Protection::open(&c, 1, d("100"), 0, Some(d("1.5"))).expect("levels");
        assert_eq!(
            p.stop(&c).expect("levels"),
            Some((d("97.0"), ExitReason::StopLoss))
        );
        let no_atr = Protection::open(&c, 1, d("100"), 0, None).expect("levels");
        assert_eq!(no_atr.stop(&c).expect("levels"), None);
    }

    #[test]
    fn the_take_profit_table_lowers_the_target_with_time_held() {
        let c = ExitsConfig {
            take_profit_table: vec![
                TakeProfitStep {
                    after_minutes: 0,
                    profit: d("0.05"),
                },
                TakeProfitStep {
                    after_minutes: 60,
                    profit: d("0"),
                },
            ],
            ..ExitsConfig::default()
        };
        let p = long(&c);
        let at = |minutes: i64, high: &str| Bar {
            ts_ms: minutes * 60_000,
            ..bar("99", high, "98")
        };
        assert_eq!(hit(&c, &p, at(30, "101")), None);
        assert_eq!(
            hit(&c, &p, at(60, "101")),
            Some((ExitReason::TakeProfit, d("100")))
        );
    }
}
