//! The orchestrator's Prometheus metrics, and the logging and counting of
//! what each batch of signals caused (orders with their latency, fills,
//! refusals, cancellations, halts).

use prometheus::{Gauge, Histogram, IntCounter, IntCounterVec, IntGauge, Registry};

use super::exchange_metrics::ExchangeMetrics;
use crate::roles::rings::ORCHESTRATOR_READER;
use aegis_contract::records::Signal;
use aegis_engine::ledger::{Entry, ExitReason};
use aegis_engine::trading::Snapshot;
use aegis_runtime::metrics::{MetricsBuilder, RingGauges};

/// The orchestrator's metrics (names `aegis_orchestrator_*`).
pub(super) struct Metrics {
    pub(super) registry: Registry,
    pub(super) signals: IntCounter,
    pub(super) stale: IntCounter,
    pub(super) superseded: IntCounter,
    pub(super) orders: IntCounterVec,
    pub(super) exits: IntCounterVec,
    pub(super) fills: IntCounter,
    pub(super) rejected: IntCounter,
    pub(super) cancelled: IntCounter,
    pub(super) halts: IntCounter,
    pub(super) position: Gauge,
    pub(super) equity: Gauge,
    pub(super) realized: Gauge,
    pub(super) unrealized: Gauge,
    pub(super) drawdown: Gauge,
    pub(super) halted: IntGauge,
    pub(super) ledger_bytes: IntGauge,
    pub(super) ring: RingGauges,
    pub(super) tick_to_order: Histogram,
    pub(super) loop_seconds: Histogram,
    pub(super) exchange: ExchangeMetrics,
}

impl Metrics {
    pub(super) fn new() -> prometheus::Result<Self> {
        let m = MetricsBuilder::new("orchestrator")?;
        let orders = m.counter_vec("orders_total", "Orders placed, by side.", &["side"])?;
        for side in ["buy", "sell"] {
            orders.with_label_values(&[side]);
        }
        let exits = m.counter_vec(
            "exits_total",
            "Orders closing a position for another reason than the strategy's signal, by reason (stop_loss, take_profit, trailing_stop, risk, flatten, end_of_data).",
            &["reason"],
        )?;
        for reason in ExitReason::ALL.iter().filter(|r| **r != ExitReason::Signal) {
            exits.with_label_values(&[reason.as_str()]);
        }
        Ok(Metrics {
            signals: m.counter("signals_read_total", "Signals read from the signal ring.")?,
            stale: m.counter(
                "signals_stale_total",
                "Live: signals passed over because their candle closed longer ago than orchestrator.max_signal_age_secs.",
            )?,
            superseded: m.counter(
                "signals_superseded_total",
                "Live: signals passed over because a newer signal was already waiting (only the newest is acted on).",
            )?,
            orders,
            exits,
            fills: m.counter("fills_total", "Orders filled.")?,
            rejected: m.counter(
                "orders_rejected_total",
                "Signals whose order the risk rules refused.",
            )?,
            cancelled: m.counter(
                "orders_cancelled_total",
                "Orders that ended without a fill.",
            )?,
            halts: m.counter("halts_total", "Times a risk rule halted new entries.")?,
            position: m.gauge("position", "Signed position, base asset.")?,
            equity: m.gauge(
                "equity",
                "Cash plus position at the last close, quote currency.",
            )?,
            realized: m.gauge(
                "realized_pnl",
                "Realized PnL (gross of fees), quote currency.",
            )?,
            unrealized: m.gauge(
                "unrealized_pnl",
                "Unrealized PnL at the last close, quote currency.",
            )?,
            drawdown: m.gauge("drawdown", "Drawdown from peak equity, a fraction.")?,
            halted: m.int_gauge("halted", "1 while new entries are blocked by a risk rule.")?,
            ledger_bytes: m.int_gauge("ledger_bytes", "Size of the ledger file.")?,
            ring: RingGauges::new(&m, "signals", ORCHESTRATOR_READER)?,
            tick_to_order: m.latency(
                "tick_to_order_seconds",
                "From the feed publishing a candle to the order it caused being recorded.",
            )?,
            loop_seconds: m.latency(
                "orchestrator_loop_seconds",
                "Time to handle one batch of signals, ledger writes included.",
            )?,
            exchange: ExchangeMetrics::new(&m)?,
            registry: m.build(),
        })
    }

    pub(super) fn show(&self, s: &Snapshot) {
        use rust_decimal::prelude::ToPrimitive;
        let f = |d: rust_decimal::Decimal| d.to_f64().unwrap_or(f64::NAN);
        self.position.set(f(s.position));
        self.equity.set(f(s.equity));
        self.realized.set(f(s.realized_pnl));
        self.unrealized.set(f(s.unrealized_pnl));
        self.drawdown.set(f(s.drawdown));
        self.halted.set(i64::from(s.halted));
    }
}

/// When the orders of a batch of signals were decided and written: what
/// the `"order"` log lines report, from the candle's arrival at the feed.
pub(super) struct Stamps<'a> {
    /// The signals the entries answer (their candles' `ingest_ns`).
    pub(super) signals: &'a [Signal],
    /// Per signal that caused an order: (its sequence number, when the
    /// order was decided), `CLOCK_MONOTONIC` ns.
    pub(super) decided: &'a [(u64, u64)],
    /// When the ledger append holding the orders returned (written, and
    /// fsync'd for orders and fills).
    pub(super) appended_ns: u64,
}

/// Counts what a batch caused and logs orders (with their latency from the
/// candle's arrival at the feed, when `stamps` are given), fills and halts.
pub(super) fn count(m: &Metrics, entries: &[Entry], stamps: Option<&Stamps>) {
    for entry in entries {
        match entry {
            Entry::Order {
                signal_seq,
                side,
                qty,
                target,
                reason,
                exit,
                limit,
                ..
            } => {
                let side_label = format!("{side:?}").to_ascii_lowercase();
                m.orders.with_label_values(&[side_label.as_str()]).inc();
                if let Some(exit) = exit {
                    m.exits.with_label_values(&[exit.as_str()]).inc();
                }
                let ingest_ns = stamps.and_then(|st| {
                    st.signals
                        .iter()
                        .find(|s| s.seq == *signal_seq && s.ingest_ns != 0)
                });
                let decided_ns = stamps.and_then(|st| {
                    st.decided
                        .iter()
                        .find(|(seq, _)| seq == signal_seq)
                        .map(|d| d.1)
                });
                let since_tick = |ns: u64| ingest_ns.map(|s| ns.saturating_sub(s.ingest_ns));
                let tick_to_signal_ns = ingest_ns.map(|s| s.signal_ns.saturating_sub(s.ingest_ns));
                let tick_to_order_ns = decided_ns.and_then(since_tick);
                let tick_to_ledger_ns = stamps.and_then(|st| since_tick(st.appended_ns));
                if let Some(ns) = tick_to_order_ns {
                    m.tick_to_order.observe(ns as f64 * 1e-9);
                }
                tracing::info!(signal_seq, side = %side_label, qty = %qty, target, reason = ?reason, exit = ?exit, limit = ?limit, tick_to_signal_ns, tick_to_order_ns, tick_to_ledger_ns, "order");
            }
            Entry::Fill {
                signal_seq,
                side,
                qty,
                price,
                fee,
                ..
            } => {
                m.fills.inc();
                tracing::info!(signal_seq, side = ?side, qty = %qty, price = %price, fee = %fee, "fill");
            }
            Entry::PartialFill {
                signal_seq,
                side,
                qty,
                price,
                fee,
                executed,
                ..
            } => {
                m.fills.inc();
                tracing::info!(signal_seq, side = ?side, qty = %qty, price = %price, fee = %fee, executed = %executed, "part of the resting order filled");
            }
            Entry::ExitFill {
                client_order_id,
                reason,
                side,
                qty,
                price,
                fee,
                ..
            } => {
                m.fills.inc();
                m.exits.with_label_values(&[reason.as_str()]).inc();
                tracing::warn!(client_order_id = %client_order_id, exit = %reason, side = ?side, qty = %qty, price = %price, fee = %fee, "exit executed on the exchange");
            }
            Entry::ExitSent {
                client_order_id,
                qty,
                legs,
                ..
            } => {
                let kinds: Vec<&str> = legs.iter().map(|l| l.reason.as_str()).collect();
                tracing::info!(client_order_id = %client_order_id, qty = %qty, exits = ?kinds, "placing the exits on the exchange");
            }
            Entry::ExitEnded {
                client_order_id,
                reason,
                ..
            } => {
                tracing::warn!(client_order_id = %client_order_id, reason = %reason, "the exits on the exchange ended");
            }
            Entry::Rejected {
                signal_seq, reason, ..
            } => {
                m.rejected.inc();
                tracing::warn!(signal_seq, reason = %reason, "order refused by risk rules");
            }
            Entry::Cancelled {
                signal_seq, reason, ..
            } => {
                m.cancelled.inc();
                tracing::warn!(signal_seq, reason = %reason, "order cancelled");
            }
            Entry::Halt { reason, .. } => {
                m.halts.inc();
                tracing::error!(reason = %reason, "trading halted");
            }
            Entry::Mark { .. }
            | Entry::Trail { .. }
            | Entry::Rearm { .. }
            | Entry::Resume { .. }
            | Entry::LedgerId { .. }
            | Entry::Sent { .. } => {}
        }
    }
}
