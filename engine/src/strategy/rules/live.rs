//! A rule's indicator as the engine runs it: one of the engine's
//! indicators, built from the compiled definition, yielding the one value
//! (MACD part, Bollinger band) the definition asks for.

use serde::{Deserialize, Serialize};

use aegis_contract::strategy::rules::program::{Band, IndicatorKind, MacdPart};
use aegis_contract::strategy::StrategyError;

use super::super::core::period_error;
use crate::indicators::{BollingerBands, Ema, Indicator, Macd, Rsi, Sma};

/// A running indicator; saved and restored with the strategy.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) enum Live {
    Sma(Sma),
    Ema(Ema),
    Rsi(Rsi),
    Macd(Macd),
    Bollinger(BollingerBands),
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
            _ => false,
        }
    }

    /// Feeds `input`; the value `kind` selects, or NaN while warming up or
    /// when the input is refused (out of the indicators' range).
    #[inline]
    pub fn update(&mut self, kind: &IndicatorKind, input: f64) -> f64 {
        let value = match self {
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
