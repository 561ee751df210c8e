//! Feeds a backtest's ledger entries and per-bar equity into a
//! [`BacktestReportBuilder`]: shared by the orchestrator (the three-process
//! backtest) and the single-process reference loop, so both produce their
//! report the same way.

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;

use super::market::BarMark;
use super::{BacktestMeta, BacktestReport, BacktestReportBuilder, FillRecord, ReportError};
use crate::ledger::{Entry, ExitReason};
use crate::trading::Execution;
use aegis_contract::config::Config;
use aegis_contract::records::Signal;

/// The fill model, as the report states it.
pub const FILL_MODEL: &str = "a signal computed on the close of bar t fills at the open of bar t+1, with slippage against the order and the fee on the notional (a limit entry fills when a later bar trades through its price, at that price or the open, without slippage); protective exits fill within the bar whose range reaches them, at the level or the open when the bar gapped past it, the stop first when a bar reaches both; a position still open at the end is closed at the last close";

/// Builds the report of one backtest run.
pub struct BacktestRecorder {
    builder: BacktestReportBuilder,
    bars: u64,
    /// Cash and position after the last fill, as floats: the equity curve
    /// is `cash + position × close` per bar, without decimal work per bar
    /// (the report's money figures come from the exact book).
    cash: f64,
    position: f64,
    /// The last order's signal, reason and exit: its fill's.
    order_reason: Option<(u64, Option<String>, Option<ExitReason>)>,
}

impl BacktestRecorder {
    /// A recorder for a run with `config`.
    pub fn new(config: &Config) -> Self {
        let o = &config.orchestrator;
        let data = config
            .feed
            .replay
            .file
            .as_ref()
            .map(|f| f.display().to_string());
        BacktestRecorder {
            builder: BacktestReportBuilder::new(BacktestMeta {
                strategy: config.brain.strategy.name.clone(),
                params: config.brain.strategy.param_strings(),
                data: data.unwrap_or_default(),
                fee_bps: o.fee_bps,
                slippage_bps: o.slippage_bps,
                initial_cash: o.cash,
                fill_model: FILL_MODEL.into(),
            }),
            bars: 0,
            cash: o.cash.to_f64().unwrap_or(f64::NAN),
            position: 0.0,
            order_reason: None,
        }
    }

    /// Records what one bar's signal caused, then the bar's closing equity.
    pub fn bar(
        &mut self,
        entries: &[Entry],
        signal: &Signal,
        exec: &Execution,
    ) -> Result<(), ReportError> {
        self.fills(entries)?;
        let equity = if signal.close.is_finite() {
            self.cash + self.position * signal.close
        } else {
            exec.snapshot().equity.to_f64().unwrap_or(f64::NAN)
        };
        self.bars += 1;
        self.builder.push_bar(&BarMark {
            ts_ms: signal.ts_ms,
            close: signal.close,
            equity,
            in_market: self.position != 0.0,
        })
    }

    /// Records fills only (the closing of the position at the end): an
    /// order's fills (whole or partial) carry its reason; an exit the
    /// exchange held carries its own.
    pub fn fills(&mut self, entries: &[Entry]) -> Result<(), ReportError> {
        for entry in entries {
            let (record, cash_after, position_after) = match entry {
                Entry::Order {
                    signal_seq,
                    reason,
                    exit,
                    ..
                } => {
                    self.order_reason = Some((*signal_seq, reason.clone(), *exit));
                    continue;
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
                    ..
                }
                | Entry::PartialFill {
                    signal_seq,
                    ts_ms,
                    side,
                    qty,
                    price,
                    fee,
                    cash_after,
                    position_after,
                    ..
                } => {
                    let order = self
                        .order_reason
                        .as_ref()
                        .filter(|(seq, _, _)| seq == signal_seq);
                    let record = FillRecord {
                        signal_seq: *signal_seq,
                        ts_ms: *ts_ms,
                        side: *side,
                        qty: *qty,
                        price: *price,
                        fee: *fee,
                        reason: order.and_then(|(_, reason, _)| reason.clone()),
                        exit: order.and_then(|(_, _, exit)| *exit),
                    };
                    (record, cash_after, position_after)
                }
                Entry::ExitFill {
                    signal_seq,
                    client_order_id,
                    reason,
                    ts_ms,
                    side,
                    qty,
                    price,
                    fee,
                    cash_after,
                    position_after,
                    ..
                } => {
                    let record = FillRecord {
                        signal_seq: *signal_seq,
                        ts_ms: *ts_ms,
                        side: *side,
                        qty: *qty,
                        price: *price,
                        fee: *fee,
                        reason: Some(format!("{reason}: exchange order {client_order_id}")),
                        exit: Some(*reason),
                    };
                    (record, cash_after, position_after)
                }
                _ => continue,
            };
            self.builder.push_fill(&record)?;
            self.cash = cash_after.to_f64().unwrap_or(f64::NAN);
            self.position = position_after.to_f64().unwrap_or(f64::NAN);
        }
        Ok(())
    }

    /// The finished report: `rejected` are the feed's rejections by reason.
    pub fn finish(self, exec: &Execution, rejected: BTreeMap<String, u64>) -> BacktestReport {
        self.builder
            .finish(exec.snapshot().equity, self.bars, rejected)
    }
}
