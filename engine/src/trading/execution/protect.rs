//! Protective exits on the book: the exits opened with a position
//! ([`Execution::track_protection`]), checked on every bar
//! ([`Execution::protect`], the fill model of [`crate::trading::exits`]),
//! the strategy's direction standing down after one
//! ([`Execution::stands_down`]), and the ATR an `atr_multiple` stop is
//! measured in ([`AtrTrack`]).

use rust_decimal::Decimal;

use super::{sign_of, valid_price, Execution, Pending};
use crate::indicators::Atr;
use crate::ledger::Entry;
use crate::trading::exits::{triggered, Bar, Protection};
use crate::trading::money::price_from_f64;
use crate::trading::portfolio::Side;
use aegis_contract::config::ExitsConfig;
use aegis_contract::records::Signal;

/// What step 2 has to do for a bar ([`Execution::quiet_bar`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BarWork {
    /// Nothing: no exit level reached, the best price unmoved.
    Nothing,
    /// Move the trailing stop's best price only: no exit level reached.
    Trail,
    /// The exact check.
    Exact,
}

/// The bar of `s` as exits see it: `None` without a usable open. A missing
/// or inconsistent high or low is widened to cover the open and the close.
pub(super) fn bar_of(s: &Signal) -> Option<Bar> {
    let open = valid_price(s.open)?;
    let close = valid_price(s.close).unwrap_or(open);
    let high = valid_price(s.high).unwrap_or(open).max(open).max(close);
    let low = valid_price(s.low).unwrap_or(open).min(open).min(close);
    Some(Bar {
        ts_ms: s.ts_ms,
        open,
        high,
        low,
    })
}

/// The high and low of `s` as `f64`, widened to cover the open and the
/// close as [`bar_of`] widens them (a NaN high or low gives way to them).
fn widened_f64(s: &Signal) -> (f64, f64) {
    (
        s.high.max(s.open).max(s.close),
        s.low.min(s.open).min(s.close),
    )
}

/// The ATR of the bars seen, when an `atr_multiple` stop needs it. Not
/// restored by a rebuild: after a restart it warms up again, and entries
/// decided meanwhile are rejected with the reason.
#[derive(Clone, Debug)]
pub(super) struct AtrTrack {
    atr: Option<Atr>,
    last: Option<f64>,
    seen: usize,
}

/// Two tracks are equal when they would give the same stop: ATR state is
/// not part of the book's identity (a rebuilt book has not seen the bars).
impl PartialEq for AtrTrack {
    fn eq(&self, other: &Self) -> bool {
        self.atr.is_some() == other.atr.is_some()
    }
}

impl Eq for AtrTrack {}

impl AtrTrack {
    pub(super) fn new(exits: &ExitsConfig) -> Self {
        let atr = exits
            .atr_multiple
            .and_then(|_| Atr::new(exits.atr_period as usize).ok());
        AtrTrack {
            atr,
            last: None,
            seen: 0,
        }
    }

    /// Feeds the bar of `s` (a bar with a bad price is skipped).
    pub(super) fn see(&mut self, s: &Signal) {
        let Some(atr) = self.atr.as_mut() else {
            return;
        };
        let (high, low) = widened_f64(s);
        if let Ok(value) = atr.update(high, low, s.close) {
            self.seen += 1;
            self.last = value;
        }
    }

    /// The ATR now, or why there is none yet.
    pub(super) fn value(&self) -> Result<Decimal, String> {
        let Some(atr) = &self.atr else {
            return Err("atr_multiple is set but no ATR is kept".to_string());
        };
        match self.last.and_then(price_from_f64) {
            Some(v) => Ok(v),
            None => Err(format!(
                "ATR({}) for the stop-loss is not known yet: {} of {} bars seen",
                atr.period(),
                self.seen,
                atr.lookback() + 1
            )),
        }
    }
}

impl Execution {
    /// After a fill moved the position from `before`: opens the exits of a
    /// new position (`atr` is its order's), keeps them (at the new average
    /// entry) when it grew, drops them when it is flat.
    pub(super) fn track_protection(
        &mut self,
        before: Decimal,
        atr: Option<Decimal>,
        fill_price: Decimal,
        ts_ms: i64,
    ) {
        let after = self.portfolio.position;
        if !self.params.exits.any() || self.is_dust(after) {
            self.protection = None;
            return;
        }
        let direction = sign_of(after);
        let was = if self.is_dust(before) {
            0
        } else {
            sign_of(before)
        };
        match self.protection.as_mut() {
            Some(p) if was == direction && p.direction == direction => {
                p.entry_price = self.portfolio.avg_entry;
            }
            _ => {
                self.protection =
                    Protection::open(&self.params.exits, direction, fill_price, ts_ms, atr).ok();
            }
        }
    }

    /// What step 2 has to do for the bar of `s`, as far as the `f64`
    /// check ([`QuietCheck`](crate::trading::exits::QuietCheck)) proves it:
    /// nothing (no exit level reached, the best price unmoved), only move
    /// the trailing stop's best price (no exit level reached), or the exact
    /// check.
    pub(super) fn quiet_bar(&mut self, s: &Signal) -> BarWork {
        let Some(p) = self.protection.as_ref() else {
            return BarWork::Nothing;
        };
        let (high, low) = widened_f64(s);
        if !self.quiet.no_trigger(p, s.open, high, low, s.ts_ms) {
            return BarWork::Exact;
        }
        if self.quiet.best_stays(p, high, low) {
            return BarWork::Nothing;
        }
        // Exactly what the exact check would do with no exit reached,
        // where nothing else makes it stop first.
        let plain = p.best_at != Some(s.ts_ms)
            && !self.venue.holds_exits()
            && !self.banned
            && self.pending.is_none()
            && !self.is_dust(self.portfolio.position)
            && self.limit_filled_at != Some(s.ts_ms);
        if plain {
            BarWork::Trail
        } else {
            BarWork::Exact
        }
    }

    /// Step 2 of a bar proved to reach no exit level: the trailing stop's
    /// best price moves with it (a `Trail` entry), as [`Execution::protect`]
    /// would move it.
    pub(super) fn trail(&mut self, s: &Signal, out: &mut Vec<Entry>) {
        if let Some(bar) = bar_of(s) {
            self.move_best(s, &bar, out);
        }
    }

    /// Moves the trailing stop's best price with `bar` (of `s`); a `Trail`
    /// entry, which keeps it over a restart, when it improved.
    #[inline]
    fn move_best(&mut self, s: &Signal, bar: &Bar, out: &mut Vec<Entry>) {
        if let Some(held) = self.protection.as_mut() {
            if held.see_bar(bar) {
                out.push(Entry::Trail {
                    signal_seq: s.seq,
                    ts_ms: s.ts_ms,
                    best: held.best,
                });
            }
        }
    }

    /// Step 2 of a bar: the exit `bar` triggers, closed within the bar; or
    /// the trailing stop's best price moved on.
    pub(super) fn protect(
        &mut self,
        s: &Signal,
        bar: &Bar,
        limit_filled: bool,
        out: &mut Vec<Entry>,
    ) {
        let Some(p) = self.protection.clone() else {
            return;
        };
        // A bar that moved the best price was checked and found no exit (a
        // rebuild re-running it has that bar's `Trail` already).
        if p.best_at == Some(bar.ts_ms) {
            return;
        }
        // An exchange holds its own exits; the engine keeps the best price
        // of a trailing stop it moves on the exchange (beside other exits).
        if self.venue.holds_exits() || self.banned {
            let exits = &self.params.exits;
            let engine_trails = exits.trailing_stop.is_some() && !exits.exchange_trails();
            if engine_trails && !self.banned && !limit_filled {
                self.move_best(s, bar, out);
            }
            return;
        }
        // This bar's exit, written by a batch a crash cut before its fill
        // (a rebuild re-runs the bar): it fills as it would have. Any other
        // order in flight is settled first.
        let redo = self
            .pending
            .as_ref()
            .is_some_and(|o| o.signal_seq == s.seq && o.exit.is_some_and(|r| r.is_protective()));
        if self.pending.is_some() && !redo {
            return;
        }
        let position = self.portfolio.position;
        if self.is_dust(position) {
            self.protection = None;
            return;
        }
        match triggered(&self.params.exits, &p, bar, limit_filled) {
            Ok(Some(t)) if redo => {
                if let Some(order) = self.pending.take() {
                    self.settle(order, Some(t.price), s.ts_ms, out, String::new);
                }
            }
            Ok(Some(t)) => {
                let side = if position > Decimal::ZERO {
                    Side::Sell
                } else {
                    Side::Buy
                };
                let mut order = Pending::market(s.seq, s.ts_ms, side, position.abs(), 0);
                order.exit = Some(t.reason);
                let reason = format!(
                    "{}: the bar traded through {} (entry {})",
                    t.reason, t.level, p.entry_price
                );
                out.push(order.entry(Some(reason)));
                self.last_decision_seq = Some(s.seq);
                self.last_decided_target = Some(0);
                self.stood_down = Some(p.direction);
                self.settle(order, Some(t.price), s.ts_ms, out, String::new);
            }
            // No exit: the bar is done, the trailing stop moves on (not on
            // the bar a limit filled: its high may have come before).
            // Only a trailing stop needs the best price.
            Ok(None) | Err(_) => {
                if !limit_filled && self.params.exits.trailing_stop.is_some() {
                    self.move_best(s, bar, out);
                }
            }
        }
    }

    /// Whether the strategy's direction stands down after a protective exit
    /// (`wanted` is the target it asks for); a `Rearm` entry once the target
    /// moves off it.
    pub(super) fn stands_down(&mut self, s: &Signal, wanted: i64, out: &mut Vec<Entry>) -> bool {
        match self.stood_down {
            Some(direction) if direction == wanted => true,
            Some(_) => {
                self.stood_down = None;
                out.push(Entry::Rearm {
                    signal_seq: s.seq,
                    ts_ms: s.ts_ms,
                });
                false
            }
            None => false,
        }
    }

    /// The exits held for the open position.
    pub fn protection(&self) -> Option<&Protection> {
        self.protection.as_ref()
    }

    /// Replays the exits side of `entry` (see `rebuild`).
    pub(super) fn replay_protection(&mut self, entry: &Entry) {
        match entry {
            Entry::Order {
                exit: Some(reason), ..
            } if reason.is_protective() => {
                self.stood_down = Some(sign_of(self.portfolio.position));
            }
            Entry::Rearm { .. } => self.stood_down = None,
            Entry::Trail { best, ts_ms, .. } => {
                if let Some(p) = self.protection.as_mut() {
                    p.best = *best;
                    p.best_at = Some(*ts_ms);
                }
            }
            _ => {}
        }
    }
}
