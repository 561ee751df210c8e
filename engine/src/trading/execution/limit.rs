//! Limit entries: the price of an entry decided as a limit order
//! ([`Execution::entry_limit`]), its fill when a later bar trades through
//! that price ([`Execution::work_limit`]), and its end after its life or
//! when the strategy's target moves off it
//! ([`Execution::cancel_stale_limit`]).

use rust_decimal::Decimal;

use super::order::Limit;
use super::{Execution, Pending};
use crate::ledger::Entry;
use crate::trading::exits::Bar;
use crate::trading::money::mul;
use crate::trading::portfolio::Side;
use aegis_contract::config::EntryOrderType;
use aegis_contract::records::Signal;

impl Execution {
    /// The limit of an entry decided at `close`, when entries are limit
    /// orders: `offset` better than the close (a buy below it, a sell
    /// above).
    pub(super) fn entry_limit(&self, side: Side, close: Decimal) -> Option<Limit> {
        let e = &self.params.entry_order;
        if e.order_type != EntryOrderType::Limit {
            return None;
        }
        let factor = match side {
            Side::Buy => Decimal::ONE - e.offset,
            Side::Sell => Decimal::ONE + e.offset,
        };
        let price = mul(close, factor, "limit price").ok()?;
        Some(Limit {
            price,
            ttl_bars: e.ttl_bars,
        })
    }

    /// A resting limit entry at the bar of `s`: filled when the bar trades
    /// through its price (strictly: a touch may not reach the order in the
    /// queue), at that price or the open when the bar gapped through;
    /// cancelled after its last bar; otherwise it rests.
    pub(super) fn work_limit(
        &mut self,
        order: Pending,
        s: &Signal,
        bar: Option<&Bar>,
        out: &mut Vec<Entry>,
    ) {
        let Some(limit) = order.limit else {
            self.pending = Some(order);
            return;
        };
        if self.venue.holds_exits() {
            // The exchange works the order; its answer settles it.
            self.pending = Some(order);
            return;
        }
        let through = bar.and_then(|b| match order.side {
            Side::Buy if b.low < limit.price => Some(b.open.min(limit.price)),
            Side::Sell if b.high > limit.price => Some(b.open.max(limit.price)),
            _ => None,
        });
        let last_bar = order.signal_seq.saturating_add(u64::from(limit.ttl_bars));
        if through.is_some() || s.seq >= last_bar {
            self.limit_ended_at = Some(s.ts_ms);
        }
        match through {
            Some(price) => self.settle(order, Some(price), s.ts_ms, out, String::new),
            None if s.seq >= last_bar => {
                out.push(Entry::Cancelled {
                    signal_seq: order.signal_seq,
                    ts_ms: s.ts_ms,
                    reason: format!(
                        "limit {} not filled within {} bar(s)",
                        limit.price, limit.ttl_bars
                    ),
                });
            }
            None => self.pending = Some(order),
        }
    }

    /// Live: why the limit entry resting on the exchange must be cancelled
    /// at the bar of `s`, if it must: its life is over (it could fill in
    /// the `ttl_bars` bars after the deciding one), or the target moved off
    /// it (the strategy's, held flat on spot, or blocked by a risk rule).
    pub fn resting_limit_ends(&self, s: &Signal) -> Option<String> {
        let p = self.pending.as_ref()?;
        let limit = p.limit?;
        p.sent.as_ref()?;
        if s.seq >= p.signal_seq.saturating_add(u64::from(limit.ttl_bars)) {
            return Some(format!(
                "limit {} not filled within {} bar(s)",
                limit.price, limit.ttl_bars
            ));
        }
        let wanted = if self.venue.allows_short() {
            s.target
        } else {
            s.target.max(0)
        };
        let target = if self.risk.blocks_entries() {
            0
        } else {
            wanted
        };
        (target != p.target)
            .then(|| format!("the target changed to {target} before the limit filled"))
    }

    /// Cancels a resting limit entry heading somewhere other than `target`
    /// (the strategy changed its mind, or a risk rule blocks entries), so the
    /// decision starts from the book as it is.
    pub(super) fn cancel_stale_limit(&mut self, s: &Signal, target: i64, out: &mut Vec<Entry>) {
        let stale = self
            .pending
            .as_ref()
            .is_some_and(|p| p.limit.is_some() && p.target != target && p.sent.is_none());
        if !stale {
            return;
        }
        if let Some(p) = self.pending.take() {
            self.limit_ended_at = Some(s.ts_ms);
            out.push(Entry::Cancelled {
                signal_seq: p.signal_seq,
                ts_ms: s.ts_ms,
                reason: format!("the target changed to {target} before the limit filled"),
            });
        }
    }
}
