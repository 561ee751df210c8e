//! A rule's indicator as the engine runs it: one of the engine's
//! indicators, built from the compiled definition, fed what the definition
//! reads (a series' value, or the whole bar for ATR) and yielding the one
//! value (MACD part, Bollinger band) the definition asks for.

use serde::{Deserialize, Serialize};

use aegis_contract::strategy::rules::program::{Band, IndicatorKind, MacdPart};
use aegis_contract::strategy::StrategyError;

use super::super::core::period_error;
use crate::indicators::{Atr, BollingerBands, Ema, Indicator, Macd, Rsi, Sma};

/// A running indicator; saved and restored with the strategy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum Live {
    Sma(Sma),
    Ema(Ema),
    Rsi(Rsi),
    Macd(Macd),
    Bollinger(BollingerBands),
    Atr(Atr),
}

/// What an indicator is fed on one bar: the value of the series it reads,
/// or the bar itself (ATR).
#[derive(Clone, Copy, Debug)]
pub(super) enum Feed {
    Series(f64),
    Bar { high: f64, low: f64, close: f64 },
}

impl Live {
    /// The indicator `kind` describes (already checked by the contract; an
    /// indicator that still refuses says which parameter).
    pub fn new(kind: &IndicatorKind) -> Result<Self, StrategyError> {
        Ok(match *kind {
            IndicatorKind::Sma { period } => {
                Live::Sma(Sma::new(period).map_err(|e| period_error("period", period, e))?)
            }
            IndicatorKind::Ema { period } => {
                Live::Ema(Ema::new(period).map_err(|e| period_error("period", period, e))?)
            }
            IndicatorKind::Rsi { period } => {
                Live::Rsi(Rsi::new(period).map_err(|e| period_error("period", period, e))?)
            }
            IndicatorKind::Macd {
                fast, slow, signal, ..
            } => Live::Macd(
                Macd::new(fast, slow, signal).map_err(|e| period_error(e.parameter(), fast, e))?,
            ),
            IndicatorKind::Bollinger { period, k, .. } => Live::Bollinger(
                BollingerBands::new(period, k, k).map_err(|e| period_error("period", period, e))?,
            ),
            IndicatorKind::Atr { period } => {
                Live::Atr(Atr::new(period).map_err(|e| period_error("period", period, e))?)
            }
        })
    }

    /// Whether this is the indicator `kind` describes (a restored state
    /// must be).
    pub fn is(&self, kind: &IndicatorKind) -> bool {
        match (self, *kind) {
            (Live::Sma(i), IndicatorKind::Sma { period }) => i.period() == period,
            (Live::Ema(i), IndicatorKind::Ema { period }) => i.period() == period,
            (Live::Rsi(i), IndicatorKind::Rsi { period }) => i.period() == period,
            (
                Live::Macd(i),
                IndicatorKind::Macd {
                    fast, slow, signal, ..
                },
            ) => i.periods() == (fast, slow, signal),
            (Live::Bollinger(i), IndicatorKind::Bollinger { period, k, .. }) => {
                i.params() == (period, k, k)
            }
            (Live::Atr(i), IndicatorKind::Atr { period }) => i.period() == period,
            _ => false,
        }
    }

    /// Feeds `feed`; the value `kind` selects, or NaN while warming up,
    /// when the input is refused (out of the indicators' range, or a bar
    /// ATR refuses) or when the feed is not the kind the indicator reads
    /// (which the compiler never pairs).
    #[inline]
    pub fn update(&mut self, kind: &IndicatorKind, feed: Feed) -> f64 {
        let input = match (&mut *self, feed) {
            (Live::Atr(i), Feed::Bar { high, low, close }) => {
                return i
                    .update(high, low, close)
                    .ok()
                    .flatten()
                    .unwrap_or(f64::NAN);
            }
            (Live::Atr(_), Feed::Series(_)) | (_, Feed::Bar { .. }) => return f64::NAN,
            (_, Feed::Series(x)) => x,
        };
        let value = match self {
            Live::Atr(_) => None,
            Live::Sma(i) => i.update(input).ok().flatten(),
            Live::Ema(i) => i.update(input).ok().flatten(),
            Live::Rsi(i) => i.update(input).ok().flatten(),
            Live::Macd(i) => i.update(input).ok().flatten().map(|m| match kind {
                IndicatorKind::Macd {
                    part: MacdPart::Signal,
                    ..
                } => m.signal,
                IndicatorKind::Macd {
                    part: MacdPart::Histogram,
                    ..
                } => m.histogram,
                _ => m.line,
            }),
            Live::Bollinger(i) => i.update(input).ok().flatten().map(|b| match kind {
                IndicatorKind::Bollinger {
                    band: Band::Upper, ..
                } => b.upper,
                IndicatorKind::Bollinger {
                    band: Band::Lower, ..
                } => b.lower,
                _ => b.middle,
            }),
        };
        value.unwrap_or(f64::NAN)
    }
}
