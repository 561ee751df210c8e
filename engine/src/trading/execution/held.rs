//! Live mode: the protective exits an exchange holds for the open position.
//!
//! With a venue that [holds exits](crate::trading::Venue::holds_exits), the
//! book does not check exits against bars; it asks for them to be placed
//! ([`Execution::exits_wanted`]: the levels of its [`Protection`], which
//! [`Execution::exits_plan`] gives as they are now, so exits the engine moves
//! can be compared with those held), closes the position at market when the
//! last close passed a level ([`Execution::exit_now`]), records
//! what was sent before the request ([`Execution::record_exits_sent`], an
//! `ExitSent` entry), books what the exchange executed of them
//! ([`Execution::apply_exit_fill`], an `ExitFill`) and records their end
//! with nothing executed ([`Execution::end_exits`], an `ExitEnded`). All
//! three replay in [`Execution::rebuild`], so a restarted orchestrator
//! knows which exits the exchange should hold and looks them up by id.
//!
//! [`Protection`]: crate::trading::exits::Protection

use rust_decimal::Decimal;

use super::{sign_of, Execution, HeldExitError};
use crate::ledger::{Entry, ExitReason};
use crate::trading::held_exits::{ExitPlan, HeldExits};
use crate::trading::portfolio::{Fill, Side};

impl Execution {
    /// The exits the exchange should hold for the position now (`now_ms`:
    /// the clock its entry was stamped by, for the take-profit table), if
    /// any: with exits configured, a venue that holds them, an open position
    /// (not dust), nothing in flight, no ban. Exits held that differ from
    /// these are moved (a trailing stop beside other exits, the table's
    /// next row).
    pub fn exits_plan(&self, now_ms: i64) -> Option<ExitPlan> {
        let cfg = &self.params.exits;
        if !self.venue.holds_exits()
            || !cfg.any()
            || self.banned
            || self.pending.is_some()
            || self.is_dust(self.portfolio.position)
        {
            return None;
        }
        let p = self.protection.as_ref()?;
        let d = Decimal::from(p.direction);
        // Levels of configured fractions (< 1) around a valid price: an
        // overflow is no level, and no exits are asked for.
        let (stop, trailing) = if cfg.exchange_trails() {
            let away = |f: Decimal| p.entry_price.checked_mul(Decimal::ONE + d * f);
            let trailing = match (cfg.trailing_stop, cfg.trailing_after) {
                (Some(t), Some(after)) => Some((t, Some(away(after)?))),
                (Some(t), None) => Some((t, None)),
                (None, _) => None,
            };
            (None, trailing)
        } else {
            (p.stop(cfg).ok()?, None)
        };
        let take_profit = p.take_profit(cfg, now_ms).ok()?;
        if stop.is_none() && take_profit.is_none() && trailing.is_none() {
            return None; // the table's first row is not reached yet
        }
        // A level the last close is at or beyond (the stop first, as the
        // fill model checks it).
        let reached = self.last_mark.and_then(|m| {
            let stop_hit = stop.filter(|(level, _)| d * (m - level) <= Decimal::ZERO);
            let tp_hit = take_profit.filter(|level| d * (m - level) >= Decimal::ZERO);
            match (stop_hit, tp_hit) {
                (Some((_, reason)), _) => Some(reason),
                (None, Some(_)) => Some(ExitReason::TakeProfit),
                (None, None) => None,
            }
        });
        Some(ExitPlan {
            signal_seq: self.last_decision_seq.unwrap_or(0),
            number: self.exits_sent,
            side: if p.direction > 0 {
                Side::Sell
            } else {
                Side::Buy
            },
            qty: self.portfolio.position.abs(),
            entry_price: p.entry_price,
            stop,
            take_profit,
            trailing,
            reached,
        })
    }

    /// The exits to place now, if any: [`exits_plan`](Self::exits_plan)
    /// when none are held.
    pub fn exits_wanted(&self, now_ms: i64) -> Option<ExitPlan> {
        if self.held.is_some() {
            return None;
        }
        self.exits_plan(now_ms)
    }

    /// Closes the position at market because the last close reached a level
    /// of its exits ([`ExitPlan::reached`]): the exits held are released by
    /// the caller before the order goes, like before any order. The order
    /// is keyed by the last signal and stands the direction down like any
    /// protective exit. `None` when no level is reached, or when the last
    /// signal decided an order already (one order per signal: the next bar
    /// looks again). Returns the entries to append.
    pub fn exit_now(&mut self, now_ms: i64) -> Option<Vec<Entry>> {
        let plan = self.exits_plan(now_ms)?;
        let reason = plan.reached?;
        let (seq, close) = (self.last_signal_seq?, self.last_mark?);
        if self.last_decision_seq == Some(seq) {
            return None;
        }
        let level = match reason {
            ExitReason::TakeProfit => plan.take_profit,
            _ => plan.stop.map(|(level, _)| level),
        };
        let text = format!(
            "{reason}: the last close {close} is at or beyond {} (entry {}): closed at market",
            level.unwrap_or_default(),
            plan.entry_price
        );
        let direction = sign_of(self.portfolio.position);
        let mut out = Vec::new();
        self.close_out(seq, now_ms, close, text, reason, &mut out);
        self.stood_down = Some(direction);
        Some(out)
    }

    /// Records the exits about to be sent: the `ExitSent` entry to append
    /// (fsync'd) *before* the request. Nothing changes on an error.
    pub fn record_exits_sent(&mut self, held: HeldExits) -> Result<Entry, HeldExitError> {
        if self.held.is_some() || self.pending.is_some() {
            return Err(HeldExitError::NotWanted(
                "an order is in flight or exits are held already".into(),
            ));
        }
        if held.qty <= Decimal::ZERO || held.qty > self.portfolio.position.abs() {
            return Err(HeldExitError::NotWanted(format!(
                "quantity {} is not in (0, {}]",
                held.qty,
                self.portfolio.position.abs()
            )));
        }
        if held.legs.is_empty() {
            return Err(HeldExitError::NotWanted("no order in the exits".into()));
        }
        let entry = held.entry();
        self.held = Some(held);
        self.exits_sent += 1;
        Ok(entry)
    }

    /// Books what the exchange executed of the held exit leg
    /// `client_order_id` (its order final): `qty` base at average `price`,
    /// paying `fee` quote. Ends the exits held; a position closed by it
    /// stands down like a paper exit. Returns the `ExitFill` entry to
    /// append. Nothing changes on an error.
    pub fn apply_exit_fill(
        &mut self,
        client_order_id: &str,
        ts_ms: i64,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
    ) -> Result<Entry, HeldExitError> {
        let not_held = || HeldExitError::NotHeld {
            client_order_id: client_order_id.to_string(),
            held: self.held.as_ref().map(|h| h.client_order_id.clone()),
        };
        let held = self.held.as_ref().ok_or_else(not_held)?;
        let leg = held.leg(client_order_id).ok_or_else(not_held)?;
        let unbookable = |reason: String| HeldExitError::Unbookable {
            client_order_id: client_order_id.to_string(),
            reason,
        };
        if qty <= Decimal::ZERO || qty > held.qty {
            return Err(unbookable(format!(
                "executed quantity {qty} is not in (0, {}]",
                held.qty
            )));
        }
        if price <= Decimal::ZERO || fee < Decimal::ZERO {
            return Err(unbookable(format!(
                "price {price} must be positive and fee {fee} not negative"
            )));
        }
        let (reason, side, signal_seq) = (leg.reason, held.side, held.signal_seq);
        let fill = Fill {
            side,
            qty,
            price,
            fee,
        };
        self.book_exit(reason, &fill, ts_ms)
            .map_err(|e| unbookable(e.to_string()))?;
        Ok(Entry::ExitFill {
            signal_seq,
            client_order_id: client_order_id.to_string(),
            reason,
            ts_ms,
            side,
            qty,
            price,
            fee,
            cash_after: self.portfolio.cash,
            position_after: self.portfolio.position,
            realized_pnl_after: self.portfolio.realized_pnl,
        })
    }

    /// Applies an exit's fill to the book: the exits held end, and a
    /// position it closed stands down.
    fn book_exit(
        &mut self,
        reason: ExitReason,
        fill: &Fill,
        ts_ms: i64,
    ) -> Result<(), crate::trading::money::Overflow> {
        let before = self.portfolio.position;
        self.portfolio.apply(fill)?;
        self.track_protection(before, None, fill.price, ts_ms);
        self.held = None;
        if reason.is_protective() && self.is_dust(self.portfolio.position) {
            self.stood_down = Some(sign_of(before));
        }
        Ok(())
    }

    /// Ends the exits held with nothing (more) executed: the `ExitEnded`
    /// entry to append, or `None` when none are held.
    pub fn end_exits(&mut self, ts_ms: i64, reason: String) -> Option<Entry> {
        let held = self.held.take()?;
        Some(Entry::ExitEnded {
            client_order_id: held.client_order_id,
            ts_ms,
            reason,
        })
    }

    /// The exits the exchange holds for the position, as the ledger says.
    pub fn held_exits(&self) -> Option<&HeldExits> {
        self.held.as_ref()
    }

    /// Replays the held-exits side of `entry` (see `rebuild`).
    pub(super) fn replay_held(&mut self, entry: &Entry) -> Result<(), String> {
        match entry {
            Entry::ExitSent {
                signal_seq,
                client_order_id,
                side,
                qty,
                legs,
                written_ms,
            } => {
                self.record_exits_sent(HeldExits {
                    signal_seq: *signal_seq,
                    client_order_id: client_order_id.clone(),
                    side: *side,
                    qty: *qty,
                    legs: legs.clone(),
                    written_ms: *written_ms,
                })
                .map_err(|e| e.to_string())?;
            }
            Entry::ExitFill {
                client_order_id,
                reason,
                ts_ms,
                side,
                qty,
                price,
                fee,
                cash_after,
                position_after,
                realized_pnl_after,
                ..
            } => {
                let fits = self.held.as_ref().is_some_and(|h| {
                    h.side == *side && h.leg(client_order_id).is_some_and(|l| l.reason == *reason)
                });
                if !fits {
                    return Err(format!(
                        "exit fill of {client_order_id} ({side:?}, {reason}) does not fit the exits held ({:?})",
                        self.held.as_ref().map(|h| &h.client_order_id)
                    ));
                }
                self.apply_exit_fill(client_order_id, *ts_ms, *qty, *price, *fee)
                    .map_err(|e| e.to_string())?;
                self.check_after(
                    &format!("exit fill of {client_order_id}"),
                    (*cash_after, *position_after, *realized_pnl_after),
                )?;
            }
            Entry::ExitEnded {
                client_order_id, ..
            } => match self.held.take() {
                Some(h) if h.client_order_id == *client_order_id => {}
                other => {
                    return Err(format!(
                        "end of exits {client_order_id} but the exits held are {:?}",
                        other.map(|h| h.client_order_id)
                    ))
                }
            },
            _ => {}
        }
        Ok(())
    }
}
