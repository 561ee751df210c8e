//! Technical indicators for the `brain` role: pure, incremental and O(1) per candle.
//!
//! Every indicator is a small state machine fed one close at a time through
//! [`Indicator::update`] ([`Atr`], which reads whole bars, one bar at a time
//! through [`Atr::update`]). It does no I/O, allocates only in its constructor and
//! does a constant amount of work per update (amortised for Bollinger Bands,
//! which re-sums its window once every `period` updates), so the brain can run
//! it on the hot path of every candle.
//!
//! ```
//! use aegis_engine::indicators::{Indicator, Macd, Rsi};
//!
//! let mut rsi = Rsi::new(14)?;
//! let mut macd = Macd::new(12, 26, 9)?;
//! for i in 0..40 {
//!     let close = 100.0 + (i % 7) as f64;
//!     let r = rsi.update(close)?;
//!     let m = macd.update(close)?;
//!     assert_eq!(r.is_some(), i >= rsi.lookback()); // from the 15th close
//!     assert_eq!(m.is_some(), i >= macd.lookback()); // from the 34th
//! }
//! assert!(rsi.update(f64::NAN).is_err()); // rejected, state untouched
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Matching TA-Lib
//!
//! The values match TA-Lib's (the C library bundled with the `ta-lib` 0.8.2
//! Python package) to a relative error of 1e-9 once warmed up, checked against reference vectors
//! in `engine/tests/fixtures/` by `engine/tests/talib_reference.rs`. That
//! includes TA-Lib's warm-up conventions with its default settings
//! (compatibility "default", unstable period 0):
//!
//! | indicator | first value at input index (the *lookback*) | seeding |
//! | --- | --- | --- |
//! | [`Sma`] | `period - 1` | plain mean of the window |
//! | [`Ema`] | `period - 1` | SMA of the first `period` closes, then `k = 2 / (period + 1)` |
//! | [`Rsi`] | `period` | mean gain and loss over the first `period` changes, then Wilder smoothing |
//! | [`Macd`] | `slow - 1 + signal - 1` | both EMAs seeded at input `slow - 1` (the fast one with the SMA of the `fast` closes ending there), signal EMA seeded with the SMA of the first `signal` MACD values |
//! | [`BollingerBands`] | `period - 1` | SMA middle band, population standard deviation |
//! | [`Atr`] | `period` | mean of the first `period` true ranges (from the second bar), then Wilder smoothing |
//!
//! `update` returns `Ok(None)` exactly for the first `lookback()` inputs (where
//! TA-Lib writes NaN) and `Ok(Some(..))` from then on.
//!
//! # Bad input
//!
//! A NaN or infinite close, or one of magnitude above [`MAX_ABS_CLOSE`]
//! (1e150, where squares and sums inside the indicators could overflow), is
//! rejected: `update` returns `Err(`[`InvalidClose`]`)` and leaves the
//! indicator's state exactly as it was, so one bad tick cannot poison an EMA
//! forever. (The feed already rejects such candles; this is the second line of
//! defence.) Every accepted close keeps the state finite, and nothing panics.
//!
//! [`Atr`] checks a whole bar the same way and returns [`InvalidBar`], which
//! names the bad field, or says that `high < low` or that the close is outside
//! `[low, high]` (candles the feed refuses too).
//!
//! # Parameters
//!
//! Constructors validate their parameters against TA-Lib's ranges (periods up to
//! 100 000, which also bounds the memory of a window) and return a
//! [`ParamError`] naming the offending parameter.

mod atr;
mod bollinger;
mod ema;
mod macd;
mod ring;
mod rsi;
mod sma;
mod sum;

pub use atr::Atr;
pub use bollinger::{BollingerBands, BollingerOutput};
pub use ema::Ema;
pub use macd::{Macd, MacdOutput};
pub use rsi::Rsi;
pub use sma::Sma;

/// The longest window any indicator accepts: the contract's limit, so that a
/// configuration it accepts never fails here.
pub use aegis_contract::strategy::MAX_PERIOD;

/// The largest close magnitude accepted; beyond it internal squares could
/// overflow. Real prices are many orders of magnitude below.
pub const MAX_ABS_CLOSE: f64 = 1e150;

/// An incremental indicator over a series of closes.
pub trait Indicator {
    /// What one warmed-up update yields.
    type Output;

    /// Feeds the next close.
    ///
    /// Returns `Ok(None)` while warming up (the first [`lookback`](Self::lookback)
    /// inputs), `Ok(Some(value))` afterwards, and `Err` for a NaN, infinite or
    /// out-of-range close (see [`MAX_ABS_CLOSE`]), which is not consumed: the
    /// state is left unchanged.
    fn update(&mut self, close: f64) -> Result<Option<Self::Output>, InvalidClose>;

    /// Forgets every input, as if freshly constructed with the same parameters.
    fn reset(&mut self);

    /// How many inputs yield `None` before the first value (TA-Lib's lookback).
    fn lookback(&self) -> usize;
}

/// A constructor parameter outside its valid range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// A period (window length) is out of range.
    #[error("{indicator}: parameter `{name}` must be between {min} and {max}, got {value}")]
    PeriodOutOfRange {
        /// The indicator being built, e.g. `"RSI"`.
        indicator: &'static str,
        /// The parameter, e.g. `"period"` or `"signal"`.
        name: &'static str,
        /// The value given.
        value: usize,
        /// The smallest accepted value.
        min: usize,
        /// The largest accepted value.
        max: usize,
    },
    /// MACD's fast period is not strictly below its slow period.
    #[error("MACD: parameter `fast` ({fast}) must be less than `slow` ({slow})")]
    FastNotBelowSlow {
        /// The fast period given.
        fast: usize,
        /// The slow period given.
        slow: usize,
    },
    /// A multiplier (a number of standard deviations) is not a finite number > 0.
    #[error("{indicator}: parameter `{name}` must be a finite number greater than 0, got {value}")]
    NonPositiveMultiplier {
        /// The indicator being built, e.g. `"Bollinger"`.
        indicator: &'static str,
        /// The parameter, e.g. `"k_up"`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
}

impl ParamError {
    /// The name of the offending parameter (`"fast"` for a fast/slow conflict).
    pub fn parameter(&self) -> &'static str {
        match self {
            ParamError::PeriodOutOfRange { name, .. }
            | ParamError::NonPositiveMultiplier { name, .. } => name,
            ParamError::FastNotBelowSlow { .. } => "fast",
        }
    }
}

/// A close given to [`Indicator::update`] that is NaN, infinite or beyond
/// ±[`MAX_ABS_CLOSE`]; it was not consumed.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("close {value} is not a finite number within ±1e150; the indicator ignored it")]
pub struct InvalidClose {
    /// The rejected value.
    pub value: f64,
}

/// Checks that `close` is finite and within ±[`MAX_ABS_CLOSE`].
fn check_close(close: f64) -> Result<(), InvalidClose> {
    if close.abs() <= MAX_ABS_CLOSE {
        Ok(())
    } else {
        Err(InvalidClose { value: close })
    }
}

/// A bar given to [`Atr::update`] that was refused; it was not consumed.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum InvalidBar {
    /// A field is NaN, infinite or beyond ±[`MAX_ABS_CLOSE`].
    #[error("{field} {value:e} is not a finite number within ±1e150; the bar was ignored")]
    NotFinite {
        /// `"high"`, `"low"` or `"close"`.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// The high is below the low.
    #[error("high {high} is below low {low}; the bar was ignored")]
    HighBelowLow {
        /// The bar's high.
        high: f64,
        /// The bar's low.
        low: f64,
    },
    /// The close is below the low or above the high.
    #[error("close {close} is outside the bar's range [{low}, {high}]; the bar was ignored")]
    CloseOutsideRange {
        /// The bar's close.
        close: f64,
        /// The bar's low.
        low: f64,
        /// The bar's high.
        high: f64,
    },
}

impl InvalidBar {
    /// The field at fault: the bad one, `"high"` when it is below the low,
    /// `"close"` when it is outside the range.
    pub fn field(&self) -> &'static str {
        match self {
            InvalidBar::NotFinite { field, .. } => field,
            InvalidBar::HighBelowLow { .. } => "high",
            InvalidBar::CloseOutsideRange { .. } => "close",
        }
    }
}

/// Checks a bar: each field finite and within ±[`MAX_ABS_CLOSE`] (high
/// first, then low, then close), `low <= high`, `low <= close <= high`.
fn check_bar(high: f64, low: f64, close: f64) -> Result<(), InvalidBar> {
    for (field, value) in [("high", high), ("low", low), ("close", close)] {
        if check_close(value).is_err() {
            return Err(InvalidBar::NotFinite { field, value });
        }
    }
    if high < low {
        return Err(InvalidBar::HighBelowLow { high, low });
    }
    if close < low || close > high {
        return Err(InvalidBar::CloseOutsideRange { close, low, high });
    }
    Ok(())
}

/// Checks `min <= value <= MAX_PERIOD`.
fn check_period(
    indicator: &'static str,
    name: &'static str,
    value: usize,
    min: usize,
) -> Result<usize, ParamError> {
    if (min..=MAX_PERIOD).contains(&value) {
        Ok(value)
    } else {
        Err(ParamError::PeriodOutOfRange {
            indicator,
            name,
            value,
            min,
            max: MAX_PERIOD,
        })
    }
}

/// Checks that a multiplier is finite and > 0.
fn check_multiplier(
    indicator: &'static str,
    name: &'static str,
    value: f64,
) -> Result<f64, ParamError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ParamError::NonPositiveMultiplier {
            indicator,
            name,
            value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_errors_name_the_parameter() {
        let e = check_period("SMA", "period", 0, 1).unwrap_err();
        assert_eq!(e.parameter(), "period");
        assert_eq!(
            e.to_string(),
            "SMA: parameter `period` must be between 1 and 100000, got 0"
        );
        let e = check_multiplier("Bollinger", "k_up", -1.0).unwrap_err();
        assert_eq!(e.parameter(), "k_up");
        assert!(check_multiplier("Bollinger", "k_up", f64::NAN).is_err());
        assert!(check_multiplier("Bollinger", "k_up", f64::INFINITY).is_err());
        assert!(check_period("SMA", "period", MAX_PERIOD + 1, 1).is_err());
    }

    #[test]
    fn check_bar_names_the_first_bad_field_then_the_order() {
        assert!(check_bar(2.0, 1.0, 1.5).is_ok());
        assert!(check_bar(1.0, 1.0, 1.0).is_ok());
        assert!(check_bar(-1.0, -2.0, -2.0).is_ok());
        let e = check_bar(f64::NAN, f64::INFINITY, 0.0).unwrap_err();
        assert_eq!(e.field(), "high");
        let e = check_bar(2.0, -1e151, f64::NAN).unwrap_err();
        assert_eq!(e.field(), "low");
        assert_eq!(
            e.to_string(),
            "low -1e151 is not a finite number within ±1e150; the bar was ignored"
        );
        let e = check_bar(2.0, 1.0, f64::NEG_INFINITY).unwrap_err();
        assert_eq!(e.field(), "close");
        let e = check_bar(1.0, 2.0, 1.5).unwrap_err();
        assert_eq!(
            e,
            InvalidBar::HighBelowLow {
                high: 1.0,
                low: 2.0
            }
        );
        assert_eq!(e.field(), "high");
        assert_eq!(e.to_string(), "high 1 is below low 2; the bar was ignored");
        let e = check_bar(2.0, 1.0, 0.5).unwrap_err();
        assert_eq!(e.field(), "close");
        assert_eq!(
            e.to_string(),
            "close 0.5 is outside the bar's range [1, 2]; the bar was ignored"
        );
        assert!(check_bar(2.0, 1.0, 2.5).is_err());
    }

    #[test]
    fn check_close_rejects_nan_infinities_and_huge_values() {
        for v in [1.0, 0.0, -3.5, MAX_ABS_CLOSE, -MAX_ABS_CLOSE] {
            assert!(check_close(v).is_ok(), "{v}");
        }
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e151, -f64::MAX] {
            assert_eq!(check_close(v).unwrap_err().value.to_bits(), v.to_bits());
        }
    }
}
