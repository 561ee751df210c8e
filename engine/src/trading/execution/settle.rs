//! What an exchange's answers do to the book: a fill or a cancellation of
//! the pending order, the `Sent` record written before a request, halts for
//! a ban or a mismatched order, and `Resume`.

use rust_decimal::Decimal;

use super::{Execution, SentOrder, SettleError};
use crate::ledger::{Entry, HaltKind};
use crate::trading::portfolio::Fill;
use crate::trading::risk::Halt;

impl Execution {
    pub(super) fn clear_kill_switch(&mut self) {
        self.risk.halted = None;
        self.banned = false;
        // Measure drawdown afresh from the next mark, or it would re-trip at once.
        self.risk.peak_equity = None;
    }

    /// Clears the kill switch (configuration `clear_halt` at startup): returns
    /// the `Resume` entry to append, or nothing when not halted. The peak
    /// equity restarts at the next mark.
    pub fn resume(&mut self, ts_ms: i64) -> Vec<Entry> {
        if self.risk.halted.is_none() {
            return Vec::new();
        }
        self.clear_kill_switch();
        vec![Entry::Resume { ts_ms }]
    }

    /// Whether an exchange ban blocks every order.
    pub fn banned(&self) -> bool {
        self.banned
    }

    /// Records what the exchange executed of the pending order of
    /// `signal_seq`: `qty` base at average `price`, paying `fee` quote.
    /// Returns the `Fill` entry to append (the book has moved already).
    /// Nothing changes on an error.
    pub fn apply_fill(
        &mut self,
        signal_seq: u64,
        ts_ms: i64,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
    ) -> Result<Entry, SettleError> {
        let order = self.pending_of(signal_seq)?.clone();
        if qty <= Decimal::ZERO || qty > order.qty {
            return Err(SettleError::BadQuantity {
                signal_seq,
                executed: qty,
                ordered: order.qty,
            });
        }
        if price <= Decimal::ZERO || fee < Decimal::ZERO {
            return Err(SettleError::Unbookable {
                signal_seq,
                reason: format!("price {price} must be positive and fee {fee} not negative"),
            });
        }
        let fill = Fill {
            side: order.side,
            qty,
            price,
            fee,
        };
        let entry = self
            .book_fill(&order, &fill, ts_ms)
            .map_err(|e| SettleError::Unbookable {
                signal_seq,
                reason: e.to_string(),
            })?;
        self.pending = None;
        Ok(entry)
    }

    /// Records part of the pending (resting) order of `signal_seq`
    /// executed on the exchange while the rest still works: `qty` base
    /// booked at average `price`, paying `fee` quote, the exchange order's
    /// gross executed quantity now `executed`. The order stays pending with
    /// the rest. Returns the `PartialFill` entry to append. Nothing changes
    /// on an error.
    pub fn apply_partial_fill(
        &mut self,
        signal_seq: u64,
        ts_ms: i64,
        (qty, price, fee): (Decimal, Decimal, Decimal),
        executed: Decimal,
    ) -> Result<Entry, SettleError> {
        self.book_partial(signal_seq, ts_ms, (qty, price, fee), executed)?;
        let side = self
            .pending
            .as_ref()
            .map(|o| o.side)
            .ok_or(SettleError::NotPending {
                signal_seq,
                pending: None,
            })?;
        let p = &self.portfolio;
        Ok(Entry::PartialFill {
            signal_seq,
            ts_ms,
            side,
            qty,
            price,
            fee,
            executed,
            cash_after: p.cash,
            position_after: p.position,
            realized_pnl_after: p.realized_pnl,
        })
    }

    /// Books a partial fill of the pending order (see
    /// [`Execution::apply_partial_fill`]); shared with the ledger's replay.
    pub(super) fn book_partial(
        &mut self,
        signal_seq: u64,
        ts_ms: i64,
        (qty, price, fee): (Decimal, Decimal, Decimal),
        executed: Decimal,
    ) -> Result<(), SettleError> {
        let order = self.pending_of(signal_seq)?.clone();
        let unbookable = |reason: String| SettleError::Unbookable { signal_seq, reason };
        let sent = order
            .sent
            .as_ref()
            .map(|s| s.qty)
            .ok_or_else(|| unbookable("a partial fill of an order never sent".into()))?;
        let increment = executed - order.executed;
        if increment <= Decimal::ZERO || executed >= sent {
            return Err(unbookable(format!(
                "executed {executed} must be above the {} booked and below the {sent} sent (a whole fill is a Fill)",
                order.executed
            )));
        }
        if qty <= Decimal::ZERO || qty > increment {
            return Err(SettleError::BadQuantity {
                signal_seq,
                executed: qty,
                ordered: increment,
            });
        }
        if price <= Decimal::ZERO || fee < Decimal::ZERO {
            return Err(unbookable(format!(
                "price {price} must be positive and fee {fee} not negative"
            )));
        }
        let fill = Fill {
            side: order.side,
            qty,
            price,
            fee,
        };
        self.book_fill(&order, &fill, ts_ms)
            .map_err(|e| unbookable(e.to_string()))?;
        if let Some(p) = self.pending.as_mut() {
            p.executed = executed;
            p.qty = sent - executed;
        }
        Ok(())
    }

    /// The pending order, when it is `signal_seq`'s.
    fn pending_of(&self, signal_seq: u64) -> Result<&super::Pending, SettleError> {
        match &self.pending {
            Some(p) if p.signal_seq == signal_seq => Ok(p),
            other => Err(SettleError::NotPending {
                signal_seq,
                pending: other.as_ref().map(|p| p.signal_seq),
            }),
        }
    }

    /// Ends the pending order of `signal_seq` with nothing executed: the
    /// `Cancelled` entry to append, or `None` when no such order is pending.
    pub fn cancel_pending(&mut self, signal_seq: u64, ts_ms: i64, reason: String) -> Option<Entry> {
        if self.pending.as_ref()?.signal_seq != signal_seq {
            return None;
        }
        self.pending = None;
        Some(Entry::Cancelled {
            signal_seq,
            ts_ms,
            reason,
        })
    }

    /// Halts all trading after an exchange ban (HTTP 418): persistent, and
    /// no order at all is decided until a [`Execution::resume`]. Returns the
    /// `Halt` entry, or nothing when already banned.
    pub fn halt_for_ban(&mut self, reason: &str, ts_ms: i64) -> Vec<Entry> {
        self.freeze(HaltKind::ExchangeBan, reason, ts_ms)
    }

    /// Halts all trading because the exchange holds an order under the
    /// pending order's id that is not the one sent (see
    /// [`HaltKind::OrderMismatch`]); otherwise as [`Execution::halt_for_ban`].
    pub fn halt_for_mismatch(&mut self, reason: &str, ts_ms: i64) -> Vec<Entry> {
        self.freeze(HaltKind::OrderMismatch, reason, ts_ms)
    }

    fn freeze(&mut self, kind: HaltKind, reason: &str, ts_ms: i64) -> Vec<Entry> {
        if self.banned {
            return Vec::new();
        }
        self.banned = true;
        self.risk.halted = Some(Halt {
            reason: reason.to_string(),
            ts_ms,
        });
        let equity = self.marked_equity().unwrap_or(self.portfolio.cash);
        vec![Entry::Halt {
            signal_seq: self.last_signal_seq.unwrap_or(0),
            ts_ms,
            kind,
            reason: reason.to_string(),
            equity,
        }]
    }

    /// Records what is about to be sent to the exchange for the pending
    /// order of `signal_seq`: its client order id and its quantity after
    /// the symbol's filters (`0 < qty ≤` the order's). Returns the `Sent`
    /// entry to append *before* the request; fills are then checked
    /// against this quantity. Nothing changes on an error.
    pub fn record_sent(
        &mut self,
        signal_seq: u64,
        client_order_id: &str,
        qty: Decimal,
        written_ms: i64,
    ) -> Result<Entry, SettleError> {
        self.mark_sent(signal_seq, client_order_id, qty, written_ms)?;
        Ok(Entry::Sent {
            signal_seq,
            client_order_id: client_order_id.to_string(),
            qty,
            written_ms,
        })
    }

    pub(super) fn mark_sent(
        &mut self,
        signal_seq: u64,
        client_order_id: &str,
        qty: Decimal,
        written_ms: i64,
    ) -> Result<(), SettleError> {
        let pending = match self.pending.as_mut() {
            Some(p) if p.signal_seq == signal_seq && p.sent.is_none() => p,
            other => {
                return Err(SettleError::NotPending {
                    signal_seq,
                    pending: other.as_ref().map(|p| p.signal_seq),
                })
            }
        };
        if qty <= Decimal::ZERO || qty > pending.qty {
            return Err(SettleError::BadQuantity {
                signal_seq,
                executed: qty,
                ordered: pending.qty,
            });
        }
        pending.qty = qty;
        pending.sent = Some(SentOrder {
            client_order_id: client_order_id.to_string(),
            qty,
            written_ms,
        });
        Ok(())
    }
}
