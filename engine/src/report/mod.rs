//! Pure report builders: the backtest report (`report.json`, `report.html`
//! and `equity.svg`)
//! and the orchestrator's periodic health report (Markdown + JSON).
//!
//! Everything here is computed from plain inputs; writing the finished
//! reports is the worker's (`aegis_worker::store::reports`).
//!
//! - [`trades`]: pairs fills into round-trip [`Trade`]s.
//! - [`stats`]: incremental equity statistics and a bounded equity curve.
//! - [`market`]: buy and hold, exposure and the price window.
//! - [`monthly`]: monthly returns.
//! - [`metrics`]: trade figures, the annualised return and Calmar.
//! - [`html`]: the whole backtest report as one self-contained HTML page.
//! - [`backtest`]: the [`BacktestReport`] and its incremental builder.
//! - [`chart`]: the equity, drawdown and price charts as SVG.
//! - [`health`]: the orchestrator's [`HealthReport`].

pub mod backtest;
pub mod chart;
pub mod health;
pub mod html;
pub mod market;
pub mod metrics;
pub mod monthly;
pub mod recorder;
pub mod stats;
pub mod trades;

pub use backtest::{BacktestMeta, BacktestReport, BacktestReportBuilder};
pub use chart::render_equity_svg;
pub use health::{Check, CheckStatus, HealthInputs, HealthReport, HealthThresholds, RingLag};
pub use market::{BarMark, PricePoint};
pub use monthly::MonthlyReturn;
pub use stats::{EquityPoint, EquityStats, StatsSummary, DEFAULT_MAX_POINTS};
pub use trades::{
    pair_fills, ExitReason, FillRecord, OpenPosition, PairedTrades, Side, Trade, TradeBook,
    TradeSide, EXIT_SIGNAL,
};

use std::path::PathBuf;

/// Why a report could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A fill carries a value no real fill can have.
    #[error("fill with signal_seq {signal_seq}: field `{field}` is {value}, {expected}")]
    InvalidFill {
        /// The fill's signal sequence number.
        signal_seq: u64,
        /// The offending field.
        field: &'static str,
        /// Its value, as text.
        value: String,
        /// What the field must be.
        expected: &'static str,
    },
    /// Pairing a fill overflowed Decimal's range.
    #[error("fill with signal_seq {signal_seq}: {what} overflows a Decimal")]
    DecimalOverflow {
        /// The fill's signal sequence number.
        signal_seq: u64,
        /// The quantity being computed.
        what: &'static str,
    },
    /// An equity value is NaN or infinite.
    #[error("equity at ts_ms {ts_ms} is {value}, expected a finite number")]
    NonFiniteEquity {
        /// The bar's timestamp.
        ts_ms: i64,
        /// The offending value.
        value: f64,
    },
    /// Equity points must come in strictly increasing time order.
    #[error("equity point ts_ms {ts_ms} does not come after the previous ts_ms {previous_ts_ms}")]
    EquityOutOfOrder {
        /// The rejected timestamp.
        ts_ms: i64,
        /// The previous accepted timestamp.
        previous_ts_ms: i64,
    },
    /// The equity curve cannot be downsampled to so few points.
    #[error("max_points is {max_points}, must be at least {minimum}")]
    MaxPointsTooSmall {
        /// The requested limit.
        max_points: usize,
        /// The smallest allowed limit.
        minimum: usize,
    },
    /// Drawing the SVG chart failed.
    #[error("rendering the equity chart \"{title}\": {message}")]
    Chart {
        /// The chart's title.
        title: String,
        /// What plotters reported.
        message: String,
    },
    /// Serializing a report to JSON failed.
    #[error("serializing {what} to JSON: {source}")]
    Json {
        /// Which report.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// Creating the report directory failed.
    #[error("creating report directory {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Writing or renaming a report file failed.
    #[error("writing report file {path}: {source}")]
    WriteFile {
        /// The file being written (the final name).
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Formats milliseconds since the Unix epoch as an ISO-8601 UTC time
/// (`2024-01-02T03:04:05Z`), or the raw number when out of range.
pub(crate) fn utc_text(ts_ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ts_ms) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => format!("{ts_ms} ms"),
    }
}
