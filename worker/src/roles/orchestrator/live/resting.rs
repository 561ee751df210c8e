//! Limit entries live: a LIMIT GTC order under the order's deterministic
//! client id (written ahead like any order), resting on the exchange. What
//! executes of it is booked as it happens (`PartialFill`, from the
//! exchange's trades); at every bar ([`Live::tend_limit`]) it is asked for,
//! and cancelled once its life (`entry_order.ttl_bars` bars after the
//! deciding one) is over or the strategy's target moved off it; the cancel's
//! answer books the rest (`Fill` or `Cancelled`).

use anyhow::Context;
use rust_decimal::Decimal;

use super::super::state::{publish_snapshot, State};
use super::account::append;
use super::booking::{book_fill, now_ms};
use super::connection::{refusal_of, Live};
use aegis_contract::records::Signal;
use aegis_engine::trading::{Execution, Pending, Side};
use aegis_exchange::rest::Order;
use aegis_exchange::{PriceRefusal, Rounding};
use aegis_runtime::StopFlag;

use crate::store::Ledger;

/// `order` less the first `booked` of its executed quantity (gross): the
/// trades after those already booked, and their totals. Its fills must be
/// the whole trade list, in the exchange's order (trades are booked whole,
/// so `booked` ends on a trade). `None` when the totals overflow (a reply
/// no exchange sends).
pub(super) fn unbooked(order: &Order, booked: Decimal) -> Option<Order> {
    let mut rest = order.clone();
    let mut skipped = Decimal::ZERO;
    rest.fills.clear();
    for fill in &order.fills {
        if skipped < booked {
            skipped += fill.qty;
        } else {
            rest.fills.push(fill.clone());
        }
    }
    let (mut qty, mut quote) = (Decimal::ZERO, Decimal::ZERO);
    for f in &rest.fills {
        qty = qty.checked_add(f.qty)?;
        quote = quote.checked_add(f.qty.checked_mul(f.price)?)?;
    }
    rest.executed_qty = qty;
    rest.cummulative_quote_qty = quote;
    Some(rest)
}

impl Live {
    /// The price a limit `order` is sent at: its limit rounded to the tick
    /// the way that never pays more (a buy down, a sell up); `None` for a
    /// market order.
    pub(super) fn limit_price(&self, order: &Pending) -> Option<Result<Decimal, PriceRefusal>> {
        let limit = order.limit?;
        let rounding = match order.side {
            Side::Buy => Rounding::Down,
            Side::Sell => Rounding::Up,
        };
        Some(self.filters.round_price(limit.price, rounding))
    }

    /// Books what executed of the resting pending order since the last
    /// booking (`found` is its report, still working).
    pub(super) fn book_working(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        found: Order,
    ) -> anyhow::Result<()> {
        let Some(order) = exec.pending().cloned() else {
            return Ok(());
        };
        if found.executed_qty <= order.executed {
            return Ok(());
        }
        let Some((found, ban)) = self.with_trades(state, stop, found) else {
            return Ok(());
        };
        if !found.fills_complete() {
            // Booked once the whole list is readable (the next bar).
            tracing::warn!(client_order_id = %found.client_order_id, "the resting order's trade list is incomplete: its part is booked later");
            return Ok(());
        }
        let part = unbooked(&found, order.executed)
            .with_context(|| format!("the trades of order {} overflow", found.client_order_id))?;
        let booked = book_fill(&self.filters, &part).with_context(|| {
            format!(
                "booking part of order {} (executed {})",
                found.client_order_id, found.executed_qty
            )
        })?;
        let entry = exec
            .apply_partial_fill(
                order.signal_seq,
                now_ms(),
                (booked.qty, booked.price, booked.fee),
                found.executed_qty,
            )
            .with_context(|| {
                format!(
                    "booking part of the resting order {}",
                    found.client_order_id
                )
            })?;
        append(ledger, state, vec![entry])?;
        if let Some(e) = ban {
            self.ban(exec, ledger, state, &e)?;
        }
        self.check_balances(exec, ledger, state)
    }

    /// At every bar, before its signal is decided: the resting limit order
    /// is asked for; what executed is booked; a final one is settled; one
    /// whose life is over at bar `s` (or whose target `s` moved off) is
    /// cancelled and settled. `Err` is a ledger failure or a refused key.
    pub(in crate::roles::orchestrator) fn tend_limit(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        s: &Signal,
    ) -> anyhow::Result<()> {
        let Some(order) = exec.pending().cloned() else {
            return Ok(());
        };
        let Some(id) = order
            .sent
            .as_ref()
            .filter(|_| order.limit.is_some() && !exec.banned())
            .map(|sent| sent.client_order_id.clone())
        else {
            return Ok(());
        };
        let reply = self.client.query_order(&self.filters.symbol, &id);
        self.show_weight(state);
        let found = match reply {
            Ok(Some(found)) => found,
            // Sent but not found: the order's own recovery decides.
            Ok(None) => {
                self.settle(exec, ledger, state, stop, false, None)?;
                return Ok(());
            }
            Err(e) => {
                state.metrics.exchange.error(&e);
                tracing::warn!(client_order_id = %id, error = %e, "asking for the resting order failed: asking again at the next bar");
                if let Some(refusal) = refusal_of(&e) {
                    return Err(refusal.into());
                }
                return Ok(());
            }
        };
        if found.is_final() {
            return self.settle_found(exec, ledger, state, stop, found, None);
        }
        self.book_working(exec, ledger, state, stop, found)?;
        let Some(why) = exec.resting_limit_ends(s) else {
            return Ok(());
        };
        tracing::info!(client_order_id = %id, reason = %why, "cancelling the resting order");
        let cancelled = self.client.cancel_order(&self.filters.symbol, &id);
        self.show_weight(state);
        let last = match cancelled {
            Ok(o) => Some(o),
            // Filled or ended meanwhile: its last state says what.
            Err(e) => {
                state.metrics.exchange.error(&e);
                if let Some(refusal) = refusal_of(&e) {
                    return Err(refusal.into());
                }
                self.client
                    .query_order(&self.filters.symbol, &id)
                    .ok()
                    .flatten()
            }
        };
        match last {
            Some(o) if o.is_final() => self.settle_found(exec, ledger, state, stop, o, Some(&why)),
            // Still working: asked again at the next bar.
            _ => Ok(()),
        }
    }

    /// Settles the pending order with its final report `found` (`why` it
    /// was cancelled, when it was).
    fn settle_found(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        found: Order,
        why: Option<&str>,
    ) -> anyhow::Result<()> {
        let Some(order) = exec.pending().cloned() else {
            return Ok(());
        };
        let Some((found, ban)) = self.with_trades(state, stop, found) else {
            return Ok(());
        };
        self.record(exec, ledger, state, &order, &found, why)?;
        if let Some(e) = ban {
            self.ban(exec, ledger, state, &e)?;
        }
        publish_snapshot(state, exec);
        Ok(())
    }
}
