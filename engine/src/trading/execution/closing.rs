//! Closing the book: at the end of a run ([`Execution::finish`]) and on
//! request ([`Execution::flatten`]). Both close through one closing-order
//! builder ([`Execution::close_out`]) and hand the order to the venue like
//! any other: paper fills it at the last close, an exchange leaves it
//! pending until its answer is booked.

use rust_decimal::Decimal;

use super::{valid_price, Execution, FlattenError, Pending};
use crate::ledger::{Entry, ExitReason, HaltKind};
use crate::trading::portfolio::Side;
use crate::trading::risk::Halt;
use aegis_contract::records::Signal;

impl Execution {
    /// Ends a run (backtest): handles `last` if it is new, cancels an order
    /// still waiting for an open that will never come (a limit entry resting
    /// since an earlier bar is left resting: it opened nothing), and closes an open
    /// position at `last`'s close with slippage and fee. The closing order's
    /// key is one past the last handled signal (no signal of this run uses
    /// it). Idempotent: a second call (or one after a rebuild from a ledger a
    /// crash cut inside the close-out) completes the close-out and nothing
    /// more. With an unusable close nothing is closed. With a venue that
    /// settles orders itself, an order still pending is left to it (the
    /// caller finishes after it is settled). Returns the entries to append.
    pub fn finish(&mut self, last: &Signal) -> Vec<Entry> {
        let mut out = self.on_signal(last);
        let Some(close) = valid_price(last.close) else {
            return out;
        };
        // A limit entry resting since an earlier bar when the data ends is
        // left as it is: it opened nothing (it is an entry from flat), and
        // ending it here would write an event no bar of the run carries.
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.limit.is_some() && p.signal_seq < last.seq)
        {
            return out;
        }
        if let Some(p) = self.pending.take() {
            if p.signal_seq > last.seq {
                // The close-out order of a `finish` cut short by a crash.
                self.settle(p, Some(close), last.ts_ms, &mut out, String::new);
                return out;
            }
            // Waiting for an open that will never come.
            self.settle(p, None, last.ts_ms, &mut out, || {
                "run ended before the next open".to_string()
            });
            if self.pending.is_some() {
                return out; // the venue settles it; the caller finishes after
            }
        }
        if self.is_dust(self.portfolio.position) {
            return out;
        }
        let key = self
            .last_signal_seq
            .map_or(last.seq, |l| l.max(last.seq))
            .saturating_add(1);
        let reason = "end of run: close at the last close".to_string();
        self.close_out(
            key,
            last.ts_ms,
            close,
            reason,
            ExitReason::EndOfData,
            &mut out,
        );
        out
    }

    /// Flattens the book now, on request (the operator's `POST /flatten`
    /// before an engine is deleted): cancels an order waiting for the next
    /// open, closes an open position at the last close seen with slippage and
    /// fee (like any fill), and trips the kill switch with `reason` — a
    /// persistent halt, so a restarted orchestrator stays flat until
    /// `clear_halt`. A kill switch tripped already keeps its reason.
    ///
    /// The closing order's key is one past the last handled signal, as for
    /// [`Execution::finish`]; the signal that would have carried that number
    /// is then ignored, which changes nothing once trading is halted.
    /// `ts_ms` stamps the entries (the caller's wall clock).
    ///
    /// Idempotent: when the book is flat, nothing is pending and the kill
    /// switch is tripped, returns no entries. Returns the entries to append,
    /// or why nothing can be done (then nothing has changed): among others,
    /// an order the venue has and has not settled yet.
    pub fn flatten(&mut self, reason: &str, ts_ms: i64) -> Result<Vec<Entry>, FlattenError> {
        let position = self.portfolio.position;
        if !self.is_dust(position) && self.last_mark.is_none() {
            return Err(FlattenError::NoPrice { position });
        }
        if self.banned {
            return Err(FlattenError::Banned {
                reason: self.halted().map(|h| h.reason.clone()).unwrap_or_default(),
            });
        }
        if let Some(p) = self.pending.as_ref().filter(|p| self.settled_later(p)) {
            return Err(FlattenError::Unsettled {
                signal_seq: p.signal_seq,
            });
        }
        let mut out = Vec::new();
        if let Some(p) = self.pending.take() {
            out.push(Entry::Cancelled {
                signal_seq: p.signal_seq,
                ts_ms,
                reason: format!("{reason}: cancelled before its fill"),
            });
        }
        if let (false, Some(close)) = (self.is_dust(position), self.last_mark) {
            let key = self.last_signal_seq.map_or(0, |l| l.saturating_add(1));
            let text = format!("{reason}: close at the last close {close}");
            self.close_out(key, ts_ms, close, text, ExitReason::Flatten, &mut out);
        }
        if self.risk.halted.is_none() {
            let equity = self
                .last_mark
                .and_then(|m| self.portfolio.equity(m).ok())
                .unwrap_or(self.portfolio.cash);
            self.risk.halted = Some(Halt {
                reason: reason.to_string(),
                ts_ms,
            });
            out.push(Entry::Halt {
                signal_seq: self.last_signal_seq.unwrap_or(0),
                ts_ms,
                kind: HaltKind::KillSwitch,
                reason: reason.to_string(),
                equity,
            });
        }
        Ok(out)
    }

    /// The closing order of [`finish`](Self::finish) and
    /// [`flatten`](Self::flatten): the whole position, under the key `key`,
    /// written as an `Order` with `reason` and `exit`, then handed to the venue at
    /// `close`.
    pub(super) fn close_out(
        &mut self,
        key: u64,
        ts_ms: i64,
        close: Decimal,
        reason: String,
        exit: ExitReason,
        out: &mut Vec<Entry>,
    ) {
        let position = self.portfolio.position;
        let side = if position > Decimal::ZERO {
            Side::Sell
        } else {
            Side::Buy
        };
        let mut order = Pending::market(key, ts_ms, side, position.abs(), 0);
        order.exit = Some(exit);
        out.push(order.entry(Some(reason)));
        self.last_decision_seq = Some(key);
        self.last_decided_target = Some(0);
        self.see_seq(key);
        self.settle(order, Some(close), ts_ms, out, String::new);
    }
}
