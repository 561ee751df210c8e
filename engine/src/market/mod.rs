//! The feed's pure market-data modules: no network, no rings, no clocks.
//!
//! - [`validate`]: [`Rejection`], every reason a candle or replay row is
//!   refused, and [`CandleValidator`], the check the feed runs on each candle
//!   before publishing it.
//! - [`csv`]: [`CsvReplay`], a fast streaming parser for CSV replay files, and
//!   [`ValidatedReplay`], the same with a validator applied.
//! - [`simulated`]: [`GbmSource`], a deterministic geometric-Brownian-motion
//!   candle series for demos and tests.

pub mod csv;
pub mod simulated;
pub mod validate;

pub use csv::{CsvError, CsvReplay, Row, RowError, ValidatedReplay};
pub use simulated::{GbmParams, GbmSource, ParamError};
pub use validate::{CandleValidator, Rejection};
