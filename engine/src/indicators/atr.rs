//! Placeholder ATR (Wilder) until the reference-matched one lands.

use super::{InvalidClose, ParamError};

/// Wilder's average true range.
#[derive(Clone, Debug, PartialEq)]
pub struct Atr {
    period: usize,
    prev_close: Option<f64>,
    sum: f64,
    count: usize,
    value: Option<f64>,
}

impl Atr {
    /// ATR over `period` bars.
    pub fn new(period: usize) -> Result<Atr, ParamError> {
        Ok(Atr {
            period: period.max(1),
            prev_close: None,
            sum: 0.0,
            count: 0,
            value: None,
        })
    }
    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }
    /// Inputs before the first value.
    pub fn lookback(&self) -> usize {
        self.period
    }
    /// One bar.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<Option<f64>, InvalidClose> {
        let Some(prev) = self.prev_close.replace(close) else {
            return Ok(None);
        };
        let tr = (high - low).max((high - prev).abs()).max((low - prev).abs());
        let n = self.period as f64;
        self.value = match self.value {
            Some(v) => Some((v * (n - 1.0) + tr) / n),
            None => {
                self.sum += tr;
                self.count += 1;
                (self.count == self.period).then(|| self.sum / n)
            }
        };
        Ok(self.value)
    }
}
