//! The backtest report: what was run, the statistics, every trade and a
//! bounded equity curve; written as `report.json` and `equity.svg`.
//!
//! [`BacktestReportBuilder`] takes fills and per-bar marks as the backtest
//! produces them (O(1) per bar) and builds the [`BacktestReport`].
//!
//! Every ratio is a finite number or `null` in the JSON, never NaN or
//! infinite: see [`super::stats`], [`super::metrics`] and
//! [`super::market`] for when each one is undefined.

use std::collections::BTreeMap;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::chart::render_equity_svg;
use super::market::{BarMark, MarketTrack, PricePoint};
use super::metrics::{annualised_return, calmar, TradeMetrics};
use super::monthly::{MonthlyReturn, MonthlyReturns};
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
    /// `total_return` compounded to a year over the first to last bar;
    /// `null` over a zero span.
    #[serde(default)]
    pub annualised_return: Option<f64>,
    /// Largest drawdown from the running peak, as a fraction.
    pub max_drawdown: f64,
    /// When the peak before the largest drawdown was set.
    pub max_drawdown_peak_ts_ms: Option<i64>,
    /// When the largest drawdown bottomed out.
    pub max_drawdown_trough_ts_ms: Option<i64>,
    /// When equity came back to that peak; `null` if it never did.
    #[serde(default)]
    pub max_drawdown_recovery_ts_ms: Option<i64>,
    /// From the peak to the recovery (or the last bar); `null` without a drawdown.
    #[serde(default)]
    pub max_drawdown_duration_ms: Option<i64>,
    /// Annualised Sharpe ratio of per-bar returns; `null` when undefined.
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio of per-bar returns; `null` when undefined.
    #[serde(default)]
    pub sortino: Option<f64>,
    /// `annualised_return / max_drawdown`; `null` without a drawdown.
    #[serde(default)]
    pub calmar: Option<f64>,
    /// The bars per year the Sharpe ratio was annualised with.
    pub bars_per_year: Option<f64>,
    /// Winning trades / trades; `null` without trades.
    pub win_rate: Option<f64>,
    /// Gross profit / gross loss of the trades; 0 when all lost, `null`
    /// without trades or without a losing trade.
    #[serde(default)]
    pub profit_factor: Option<f64>,
    /// Mean net PnL per trade (quote currency); `null` without trades.
    #[serde(default)]
    pub expectancy: Option<f64>,
    /// Fraction of bars closed with a position open; `null` without bars.
    #[serde(default)]
    pub exposure: Option<f64>,
    /// Mean time from entry to exit; `null` without trades.
    #[serde(default)]
    pub avg_trade_duration_ms: Option<i64>,
    /// Longest time from entry to exit; `null` without trades.
    #[serde(default)]
    pub longest_trade_duration_ms: Option<i64>,
    /// Holding the asset from the first close to the last, without fees.
    #[serde(default)]
    pub buy_and_hold_return: Option<f64>,
    /// Each UTC month's return (see [`super::monthly`]).
    #[serde(default)]
    pub monthly_returns: Vec<MonthlyReturn>,
    /// Closed trades.
    pub num_trades: u64,
    /// Closed trades by what closed them (`signal`, `stop_loss`,
    /// `take_profit`, `trailing_stop`, `risk`, `flatten`, `end_of_data`);
    /// reasons no trade had are left out.
    #[serde(default)]
    pub trades_by_exit_reason: BTreeMap<String, u64>,
    /// Every closed trade.
    pub trades: Vec<Trade>,
    /// A position left open at the end (normally none: backtests close at the last bar).
    #[serde(default)]
    pub open_position: Option<OpenPosition>,
    /// The equity curve, downsampled (see [`super::stats`]).
    pub equity_curve: Vec<EquityPoint>,
    /// The closes of the last bars (see [`super::market::PRICE_WINDOW`]).
    #[serde(default)]
    pub prices: Vec<PricePoint>,
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
    market: MarketTrack,
    monthly: MonthlyReturns,
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
            market: MarketTrack::new(),
            monthly: MonthlyReturns::new(),
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

    /// Records one bar: its close, the equity marked at it and whether a
    /// position was open. A rejected bar (non-finite equity, out of time
    /// order) changes nothing.
    pub fn push_bar(&mut self, bar: &BarMark) -> Result<(), ReportError> {
        self.stats.push(bar.ts_ms, bar.equity)?;
        self.market.push(bar);
        self.monthly.push(bar.ts_ms, bar.equity);
        Ok(())
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
        let trade_metrics = TradeMetrics::of(&paired.trades);
        let annualised = annualised_return(total_return, summary.span_ms);
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
            annualised_return: annualised,
            max_drawdown: summary.max_drawdown,
            max_drawdown_peak_ts_ms: summary.drawdown_peak_ts_ms,
            max_drawdown_trough_ts_ms: summary.drawdown_trough_ts_ms,
            max_drawdown_recovery_ts_ms: summary.drawdown_recovery_ts_ms,
            max_drawdown_duration_ms: summary.drawdown_duration_ms,
            sharpe: summary.sharpe,
            sortino: summary.sortino,
            calmar: calmar(annualised, summary.max_drawdown),
            bars_per_year: summary.bars_per_year,
            win_rate: summary.win_rate,
            profit_factor: trade_metrics.profit_factor,
            expectancy: trade_metrics.expectancy,
            exposure: self.market.exposure(),
            avg_trade_duration_ms: trade_metrics.avg_trade_duration_ms,
            longest_trade_duration_ms: trade_metrics.longest_trade_duration_ms,
            buy_and_hold_return: self.market.buy_and_hold_return(),
            monthly_returns: self.monthly.months(),
            num_trades: summary.num_trades,
            trades_by_exit_reason: by_exit_reason(&paired.trades),
            trades: paired.trades,
            open_position: paired.open,
            equity_curve,
            prices: self.market.window(),
            fill_model: self.meta.fill_model,
        }
    }
}

/// How many of `trades` each exit reason closed.
fn by_exit_reason(trades: &[Trade]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for t in trades {
        *counts.entry(t.exit_reason.clone()).or_insert(0) += 1;
    }
    counts
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
