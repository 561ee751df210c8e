//! Rebuilding an [`Execution`] from its ledger: every entry re-applied and
//! checked against the ones before it.

use rust_decimal::Decimal;

use super::order::Limit;
use super::{Execution, ExecutionParams, Pending, RebuildError};
use crate::ledger::{Entry, HaltKind};
use crate::trading::portfolio::Fill;
use crate::trading::risk::{utc_day, DailyStop, Halt};

impl Execution {
    /// Replays a ledger: portfolio (each fill re-applied and checked against
    /// the recorded `*_after` figures), pending order, last handled signal,
    /// peak and day, halts. The last signal seen in the ledger will be re-run
    /// once by [`Execution::on_signal`] to complete a batch a crash cut short.
    pub fn rebuild(params: ExecutionParams, entries: &[Entry]) -> Result<Execution, RebuildError> {
        let mut exec = Execution::new(params)?;
        // Whether the last bar-stamped entry may be the end of a batch a
        // crash cut short. A fill or cancellation belongs to the bar *after*
        // its order's signal, so once one follows, that signal's bar is done.
        let mut last_bar_may_be_partial = false;
        for (i, entry) in entries.iter().enumerate() {
            // A protective exit fills within its own bar, which goes on.
            let exit_fill = matches!(entry, Entry::Fill { .. })
                && exec
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.exit.is_some_and(|r| r.is_protective()));
            exec.replay(entry)
                .map_err(|reason| RebuildError::Inconsistent {
                    index: i + 1,
                    reason,
                })?;
            match entry {
                Entry::Fill { .. } => last_bar_may_be_partial = exit_fill,
                Entry::Cancelled { .. } => last_bar_may_be_partial = false,
                Entry::Resume { .. }
                | Entry::LedgerId { .. }
                | Entry::Sent { .. }
                | Entry::PartialFill { .. }
                | Entry::ExitSent { .. }
                | Entry::ExitFill { .. }
                | Entry::ExitEnded { .. } => {}
                _ => last_bar_may_be_partial = true,
            }
        }
        exec.recheck_last = last_bar_may_be_partial;
        Ok(exec)
    }

    pub(super) fn see_seq(&mut self, seq: u64) {
        self.last_signal_seq = Some(self.last_signal_seq.map_or(seq, |l| l.max(seq)));
    }

    fn replay(&mut self, entry: &Entry) -> Result<(), String> {
        match entry {
            Entry::Order {
                signal_seq,
                ts_ms,
                side,
                qty,
                target,
                exit,
                limit,
                ttl_bars,
                atr,
                ..
            } => {
                self.check_new_decision(*signal_seq)?;
                if let Some(p) = &self.pending {
                    return Err(format!(
                        "order for signal {signal_seq} while the order of signal {} is pending",
                        p.signal_seq
                    ));
                }
                if *qty <= Decimal::ZERO {
                    return Err(format!("order for signal {signal_seq} has qty {qty}"));
                }
                let mut order = Pending::market(*signal_seq, *ts_ms, *side, *qty, *target);
                order.exit = *exit;
                order.atr = *atr;
                order.limit = match (limit, ttl_bars) {
                    (Some(price), Some(ttl_bars)) => Some(Limit {
                        price: *price,
                        ttl_bars: *ttl_bars,
                    }),
                    (None, None) => None,
                    _ => {
                        return Err(format!(
                            "order for signal {signal_seq} has a limit without a life or a life without a limit"
                        ))
                    }
                };
                self.replay_protection(entry);
                self.pending = Some(order);
                self.last_decision_seq = Some(*signal_seq);
                self.last_decided_target = Some(*target);
                self.see_seq(*signal_seq);
            }
            Entry::Rejected {
                signal_seq, target, ..
            } => {
                self.check_new_decision(*signal_seq)?;
                self.last_decision_seq = Some(*signal_seq);
                self.last_decided_target = Some(*target);
                self.see_seq(*signal_seq);
            }
            Entry::Fill {
                signal_seq,
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
                let order = self.take_pending(*signal_seq, "fill")?;
                if order.side != *side || *qty <= Decimal::ZERO || *qty > order.qty {
                    return Err(format!(
                        "fill of signal {signal_seq} ({side:?} {qty}) does not fit its order \
                         ({:?} {})",
                        order.side, order.qty
                    ));
                }
                let fill = Fill {
                    side: *side,
                    qty: *qty,
                    price: *price,
                    fee: *fee,
                };
                let before = self.portfolio.position;
                self.portfolio.apply(&fill).map_err(|e| e.to_string())?;
                self.track_protection(before, order.atr, *price, *ts_ms);
                // A paper limit's fill is stamped with its bar; a live one's
                // (sent to the exchange) with the wall clock, no bar.
                if order.limit.is_some() && order.sent.is_none() {
                    self.limit_filled_at = Some(*ts_ms);
                    self.limit_ended_at = Some(*ts_ms);
                }
                self.check_after(
                    &format!("fill of signal {signal_seq}"),
                    (*cash_after, *position_after, *realized_pnl_after),
                )?;
            }
            Entry::Cancelled {
                signal_seq, ts_ms, ..
            } => {
                let order = self.take_pending(*signal_seq, "cancellation")?;
                if order.limit.is_some() && order.sent.is_none() {
                    self.limit_ended_at = Some(*ts_ms);
                }
            }
            Entry::Mark {
                signal_seq,
                ts_ms,
                peak_equity,
                day_start_equity,
            } => {
                let day = utc_day(*ts_ms);
                self.risk.peak_equity = Some(*peak_equity);
                self.risk.day = Some(day);
                self.risk.day_start_equity = Some(*day_start_equity);
                if self.risk.daily_stop.as_ref().is_some_and(|s| s.day != day) {
                    self.risk.daily_stop = None;
                }
                self.see_seq(*signal_seq);
            }
            Entry::Halt {
                signal_seq,
                ts_ms,
                kind,
                reason,
                ..
            } => {
                match kind {
                    HaltKind::KillSwitch => {
                        self.risk.halted = Some(Halt {
                            reason: reason.clone(),
                            ts_ms: *ts_ms,
                        })
                    }
                    HaltKind::DailyLoss => {
                        self.risk.daily_stop = Some(DailyStop {
                            day: utc_day(*ts_ms),
                            reason: reason.clone(),
                            ts_ms: *ts_ms,
                        })
                    }
                    HaltKind::ExchangeBan | HaltKind::OrderMismatch => {
                        self.risk.halted = Some(Halt {
                            reason: reason.clone(),
                            ts_ms: *ts_ms,
                        });
                        self.banned = true;
                    }
                }
                self.see_seq(*signal_seq);
            }
            Entry::Resume { .. } => self.clear_kill_switch(),
            Entry::Trail { signal_seq, .. } | Entry::Rearm { signal_seq, .. } => {
                self.replay_protection(entry);
                self.see_seq(*signal_seq);
            }
            Entry::LedgerId { .. } => {}
            Entry::PartialFill {
                signal_seq,
                ts_ms,
                side,
                qty,
                price,
                fee,
                executed,
                cash_after,
                position_after,
                realized_pnl_after,
            } => {
                if self.pending.as_ref().is_some_and(|p| p.side != *side) {
                    return Err(format!(
                        "partial fill of signal {signal_seq} ({side:?}) does not fit its order"
                    ));
                }
                self.book_partial(*signal_seq, *ts_ms, (*qty, *price, *fee), *executed)
                    .map_err(|e| e.to_string())?;
                self.check_after(
                    &format!("partial fill of signal {signal_seq}"),
                    (*cash_after, *position_after, *realized_pnl_after),
                )?;
            }
            Entry::ExitSent { .. } | Entry::ExitFill { .. } | Entry::ExitEnded { .. } => {
                self.replay_held(entry)?;
            }
            Entry::Sent {
                signal_seq,
                client_order_id,
                qty,
                written_ms,
            } => {
                self.mark_sent(*signal_seq, client_order_id, *qty, *written_ms)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    /// Checks the book after replaying `what` against the ledger's
    /// recorded (cash, position, realized PnL) after it.
    pub(super) fn check_after(
        &self,
        what: &str,
        (cash_after, position_after, realized_pnl_after): (Decimal, Decimal, Decimal),
    ) -> Result<(), String> {
        let p = &self.portfolio;
        for (field, recorded, replayed) in [
            ("cash_after", cash_after, p.cash),
            ("position_after", position_after, p.position),
            ("realized_pnl_after", realized_pnl_after, p.realized_pnl),
        ] {
            if recorded != replayed {
                return Err(format!(
                    "{what}: {field} is {recorded} in the ledger but {replayed} on replay \
                     (was the ledger written with another starting cash?)"
                ));
            }
        }
        Ok(())
    }

    fn check_new_decision(&self, seq: u64) -> Result<(), String> {
        if let Some(last) = self.last_decision_seq.filter(|&last| seq <= last) {
            return Err(format!(
                "a second decision for signal {seq} (the last decided signal is {last}): \
                 an idempotency key was reused"
            ));
        }
        if let Some(bar) = self.last_signal_seq.filter(|&bar| seq < bar) {
            return Err(format!(
                "a decision for signal {seq} after an entry of the later signal {bar}"
            ));
        }
        Ok(())
    }

    fn take_pending(&mut self, seq: u64, what: &str) -> Result<Pending, String> {
        match self.pending.take() {
            Some(p) if p.signal_seq == seq => Ok(p),
            Some(p) => Err(format!(
                "{what} for signal {seq} but the pending order is signal {}",
                p.signal_seq
            )),
            None => Err(format!("{what} for signal {seq} without a pending order")),
        }
    }
}
