//! The backtest report: what was run, the statistics, every trade and a
//! bounded equity curve; written as `report.json` and `equity.svg`.
//!
//! [`BacktestReportBuilder`] takes fills and per-bar equity as the backtest
//! produces them (O(1) per bar) and builds the [`BacktestReport`].

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::chart::render_equity_svg;
use super::stats::{EquityPoint, EquityStats};
use super::trades::{FillRecord, OpenPosition, Trade, TradeBook};
use super::ReportError;

/// The report's file name.
pub const REPORT_JSON: &str = "report.json";
/// The chart's file name.
pub const EQUITY_SVG: &str = "equity.svg";

/// A finished backtest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BacktestReport {
    /// Strategy name.
    pub strategy: String,
    /// Strategy parameters, as given.
    pub params: BTreeMap<String, String>,
    /// The data file replayed.
    pub data: String,
    /// Fee per fill, basis points of notional.
    pub fee_bps: Decimal,
    /// Slippage per fill, basis points of price.
    pub slippage_bps: Decimal,
    /// Cash at the start.
    pub initial_cash: Decimal,
    /// Equity at the end.
    pub final_equity: Decimal,
    /// Candles replayed.
    pub candles: u64,
    /// Candles or signals rejected, by reason.
    pub rejected: BTreeMap<String, u64>,
    /// `final_equity / initial_cash - 1`; `null` when `initial_cash` is not positive.
    pub total_return: Option<f64>,
    /// Largest drawdown from the running peak, as a fraction.
    pub max_drawdown: f64,
    /// When the peak before the largest drawdown was set.
    pub max_drawdown_peak_ts_ms: Option<i64>,
    /// When the largest drawdown bottomed out.
    pub max_drawdown_trough_ts_ms: Option<i64>,
    /// Annualised Sharpe ratio of per-bar returns; `null` when undefined.
    pub sharpe: Option<f64>,
    /// The bars per year the Sharpe ratio was annualised with.
    pub bars_per_year: Option<f64>,
    /// Winning trades / trades; `null` without trades.
    pub win_rate: Option<f64>,
    /// Closed trades.
    pub num_trades: u64,
    /// Every closed trade.
    pub trades: Vec<Trade>,
    /// A position left open at the end (normally none: backtests close at the last bar).
    #[serde(default)]
    pub open_position: Option<OpenPosition>,
    /// The equity curve, downsampled (see [`super::stats`]).
    pub equity_curve: Vec<EquityPoint>,
    /// How orders were filled, in one sentence.
    pub fill_model: String,
}

/// What a backtest was run with: the report's descriptive fields.
#[derive(Clone, Debug, PartialEq)]
pub struct BacktestMeta {
    /// Strategy name.
    pub strategy: String,
    /// Strategy parameters.
    pub params: BTreeMap<String, String>,
    /// The data file replayed.
    pub data: String,
    /// Fee, basis points.
    pub fee_bps: Decimal,
    /// Slippage, basis points.
    pub slippage_bps: Decimal,
    /// Cash at the start.
    pub initial_cash: Decimal,
    /// How orders were filled, in one sentence.
    pub fill_model: String,
}

/// Builds a [`BacktestReport`] from fills and per-bar equity.
#[derive(Clone, Debug)]
pub struct BacktestReportBuilder {
    meta: BacktestMeta,
    book: TradeBook,
    stats: EquityStats,
}

impl BacktestReportBuilder {
    /// A builder keeping the default number of curve points.
    pub fn new(meta: BacktestMeta) -> Self {
        Self::with_stats(meta, EquityStats::new())
    }

    /// A builder keeping at most `max_points` curve points.
    pub fn with_max_points(meta: BacktestMeta, max_points: usize) -> Result<Self, ReportError> {
        Ok(Self::with_stats(
            meta,
            EquityStats::with_max_points(max_points)?,
        ))
    }

    fn with_stats(meta: BacktestMeta, stats: EquityStats) -> Self {
        BacktestReportBuilder {
            meta,
            book: TradeBook::new(),
            stats,
        }
    }

    /// Records a fill (in execution order); returns the trades it closed.
    pub fn push_fill(&mut self, fill: &FillRecord) -> Result<&[Trade], ReportError> {
        let closed = self.book.apply(fill)?;
        for trade in closed {
            self.stats.record_trade(trade.pnl);
        }
        Ok(closed)
    }

    /// Records one bar's equity (marked at its close).
    pub fn push_equity(&mut self, ts_ms: i64, equity: f64) -> Result<(), ReportError> {
        self.stats.push(ts_ms, equity)
    }

    /// The statistics so far.
    pub fn stats(&self) -> &EquityStats {
        &self.stats
    }

    /// Finishes the report.
    pub fn finish(
        self,
        final_equity: Decimal,
        candles: u64,
        rejected: BTreeMap<String, u64>,
    ) -> BacktestReport {
        let summary = self.stats.summary();
        let equity_curve = self.stats.equity_curve();
        let initial = self.meta.initial_cash;
        let total_return = if initial > Decimal::ZERO {
            (final_equity - initial)
                .checked_div(initial)
                .and_then(|r| r.to_f64())
        } else {
            None
        };
        let paired = self.book.finish();
        BacktestReport {
            strategy: self.meta.strategy,
            params: self.meta.params,
            data: self.meta.data,
            fee_bps: self.meta.fee_bps,
            slippage_bps: self.meta.slippage_bps,
            initial_cash: initial,
            final_equity,
            candles,
            rejected,
            total_return,
            max_drawdown: summary.max_drawdown,
            max_drawdown_peak_ts_ms: summary.drawdown_peak_ts_ms,
            max_drawdown_trough_ts_ms: summary.drawdown_trough_ts_ms,
            sharpe: summary.sharpe,
            bars_per_year: summary.bars_per_year,
            win_rate: summary.win_rate,
            num_trades: summary.num_trades,
            trades: paired.trades,
            open_position: paired.open,
            equity_curve,
            fill_model: self.meta.fill_model,
        }
    }
}

impl BacktestReport {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> Result<String, ReportError> {
        serde_json::to_string_pretty(self).map_err(|source| ReportError::Json {
            what: "backtest report",
            source,
        })
    }

    /// The equity chart as SVG.
    pub fn equity_svg(&self) -> Result<String, ReportError> {
        let title = format!("{} on {}", self.strategy, self.data);
        render_equity_svg(&self.equity_curve, &title)
    }
}
