//! Relative strength index with Wilder's smoothing.

use super::{check_close, check_period, Indicator, InvalidClose, ParamError};

/// Wilder's relative strength index over `period` changes.
///
/// With `d_t = x_t - x_{t-1}`, gains `g_t = max(d_t, 0)` and losses
/// `l_t = max(-d_t, 0)`:
///
/// ```text
/// G_period = (g_1 + … + g_period) / period            (seed: plain means)
/// L_period = (l_1 + … + l_period) / period
/// G_t      = (G_{t-1} · (period - 1) + g_t) / period  (Wilder smoothing, t > period)
/// L_t      = (L_{t-1} · (period - 1) + l_t) / period
/// RSI_t    = 100 · G_t / (G_t + L_t)                  (= 100 - 100 / (1 + G_t / L_t))
/// ```
///
/// TA-Lib conventions (its `RSI`, default settings, unstable period 0): the
/// lookback is `period` (a first close, then `period` changes); the arithmetic
/// follows TA-Lib's order of operations; when `G_t + L_t` is zero (no move at
/// all in the averages, e.g. a flat start) the RSI is **0**, not 50. A zero
/// average loss with some gain gives 100, a zero average gain gives 0.
/// O(1) per update.
///
/// The zero test is exact, as in the TA-Lib bundled with `ta-lib` 0.8.x (the
/// reference here). Classic TA-Lib 0.4 treated `G_t + L_t < 1e-8` as zero, so
/// after a very long flat run it printed 0 where this (and TA-Lib 0.8) keeps
/// the last ratio; on real prices the two agree.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Rsi {
    period: usize,
    prev_close: Option<f64>,
    changes: usize,
    avg_gain: f64,
    avg_loss: f64,
}

impl Rsi {
    /// An RSI over `period` changes, `2 ..= 100_000` (TA-Lib's range).
    pub fn new(period: usize) -> Result<Self, ParamError> {
        let period = check_period("RSI", "period", period, 2)?;
        Ok(Self {
            period,
            prev_close: None,
            changes: 0,
            avg_gain: 0.0,
            avg_loss: 0.0,
        })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }

    fn value(&self) -> f64 {
        let total = self.avg_gain + self.avg_loss;
        if total == 0.0 {
            0.0
        } else {
            100.0 * (self.avg_gain / total)
        }
    }
}

impl Indicator for Rsi {
    type Output = f64;

    fn update(&mut self, close: f64) -> Result<Option<f64>, InvalidClose> {
        check_close(close)?;
        let Some(prev) = self.prev_close.replace(close) else {
            return Ok(None);
        };
        let change = close - prev;
        let n = self.period as f64;
        if self.changes < self.period {
            // Seeding: sum the first `period` gains and losses.
            if change < 0.0 {
                self.avg_loss -= change;
            } else {
                self.avg_gain += change;
            }
            self.changes += 1;
            if self.changes < self.period {
                return Ok(None);
            }
            self.avg_loss /= n;
            self.avg_gain /= n;
        } else {
            self.avg_loss *= n - 1.0;
            self.avg_gain *= n - 1.0;
            if change < 0.0 {
                self.avg_loss -= change;
            } else {
                self.avg_gain += change;
            }
            self.avg_loss /= n;
            self.avg_gain /= n;
        }
        Ok(Some(self.value()))
    }

    fn reset(&mut self) {
        self.prev_close = None;
        self.changes = 0;
        self.avg_gain = 0.0;
        self.avg_loss = 0.0;
    }

    fn lookback(&self) -> usize {
        self.period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rsi: &mut Rsi, xs: &[f64]) -> Vec<Option<f64>> {
        xs.iter().map(|&x| rsi.update(x).unwrap()).collect()
    }

    #[test]
    fn hand_computed_values() {
        let mut rsi = Rsi::new(2).unwrap();
        // changes: +1, -1 → G = 0.5, L = 0.5 → 50
        // then +2: G = (0.5 + 2) / 2 = 1.25, L = 0.25 → 100 · 1.25 / 1.5
        let out = run(&mut rsi, &[10.0, 11.0, 10.0, 12.0]);
        assert_eq!(out[..2], [None, None]);
        assert_eq!(out[2], Some(50.0));
        assert!((out[3].unwrap() - 100.0 * 1.25 / 1.5).abs() < 1e-12);
        assert_eq!(rsi.lookback(), 2);
    }

    #[test]
    fn flat_is_zero_rising_is_100_falling_is_0() {
        let mut rsi = Rsi::new(3).unwrap();
        assert_eq!(run(&mut rsi, &[5.0; 5])[3..], [Some(0.0), Some(0.0)]);
        rsi.reset();
        assert_eq!(run(&mut rsi, &[1.0, 2.0, 3.0, 4.0])[3], Some(100.0));
        rsi.reset();
        assert_eq!(run(&mut rsi, &[4.0, 3.0, 2.0, 1.0])[3], Some(0.0));
    }

    #[test]
    fn rejects_periods_below_two() {
        for p in [0, 1] {
            assert_eq!(Rsi::new(p).unwrap_err().parameter(), "period");
        }
    }

    #[test]
    fn non_finite_input_is_rejected_and_leaves_state_alone() {
        let mut a = Rsi::new(2).unwrap();
        let mut b = Rsi::new(2).unwrap();
        let xs = [10.0, 11.0, 10.0, 12.0, 11.5];
        for (i, &x) in xs.iter().enumerate() {
            if i == 2 {
                assert!(a.update(f64::NAN).is_err());
                assert!(a.update(f64::NEG_INFINITY).is_err());
            }
            assert_eq!(a.update(x).unwrap(), b.update(x).unwrap());
        }
    }
}
