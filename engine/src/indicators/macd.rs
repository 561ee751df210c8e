//! Moving average convergence/divergence.

use super::ema::Ema;
use super::{check_close, check_period, Indicator, InvalidClose, ParamError};

/// One warmed-up MACD value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MacdOutput {
    /// `EMA_fast - EMA_slow`.
    pub line: f64,
    /// The EMA of `line` over `signal` values.
    pub signal: f64,
    /// `line - signal`.
    pub histogram: f64,
}

/// MACD with fast, slow and signal periods (classically 12, 26, 9):
///
/// ```text
/// line_t      = EMA_fast(x)_t - EMA_slow(x)_t
/// signal_t    = EMA_signal(line)_t
/// histogram_t = line_t - signal_t
/// ```
///
/// Each EMA uses `k = 2 / (period + 1)` and is seeded with an SMA (see
/// [`Ema`]). TA-Lib aligns the two price EMAs so that both start at input
/// `slow - 1`: the slow EMA is seeded with the mean of closes `0 ..= slow - 1`,
/// the fast EMA with the mean of the `fast` closes ending at `slow - 1` (closes
/// before that never reach it), not with the first `fast` closes as a
/// standalone EMA would be. The signal EMA is seeded with the mean of the first
/// `signal` MACD line values. Nothing is output before the signal exists, so
/// the lookback is `slow - 1 + signal - 1` (33 for 12/26/9), as TA-Lib's `MACD`
/// with unstable period 0. O(1) per update.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    seen: usize,
}

impl Macd {
    /// MACD with `2 <= fast < slow <= 100_000` and `1 <= signal <= 100_000`.
    ///
    /// TA-Lib silently swaps a fast period larger than the slow one; here that
    /// is an error, as is `fast == slow` (a line that is always 0).
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, ParamError> {
        check_period("MACD", "fast", fast, 2)?;
        check_period("MACD", "slow", slow, 2)?;
        if fast >= slow {
            return Err(ParamError::FastNotBelowSlow { fast, slow });
        }
        check_period("MACD", "signal", signal, 1)?;
        Ok(Self {
            fast: Ema::named("MACD", "fast", fast)?,
            slow: Ema::named("MACD", "slow", slow)?,
            signal: Ema::named("MACD", "signal", signal)?,
            seen: 0,
        })
    }

    /// The classic 12/26/9.
    pub fn classic() -> Self {
        Self::new(12, 26, 9).expect("12/26/9 are valid MACD periods")
    }

    /// The fast, slow and signal periods.
    pub fn periods(&self) -> (usize, usize, usize) {
        (self.fast.period(), self.slow.period(), self.signal.period())
    }
}

impl Indicator for Macd {
    type Output = MacdOutput;

    fn update(&mut self, close: f64) -> Result<Option<MacdOutput>, InvalidClose> {
        check_close(close)?;
        let skip_fast = self.slow.period() - self.fast.period();
        let fast = if self.seen >= skip_fast {
            self.fast.step(close)
        } else {
            None
        };
        self.seen = self.seen.saturating_add(1);
        let slow = self.slow.step(close);
        let (Some(fast), Some(slow)) = (fast, slow) else {
            return Ok(None);
        };
        let line = fast - slow;
        Ok(self.signal.step(line).map(|signal| MacdOutput {
            line,
            signal,
            histogram: line - signal,
        }))
    }

    fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.seen = 0;
    }

    fn lookback(&self) -> usize {
        self.slow.period() - 1 + self.signal.period() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_parameters() {
        assert_eq!(Macd::new(0, 26, 9).unwrap_err().parameter(), "fast");
        assert_eq!(Macd::new(1, 26, 9).unwrap_err().parameter(), "fast");
        assert_eq!(Macd::new(12, 0, 9).unwrap_err().parameter(), "slow");
        assert_eq!(Macd::new(12, 26, 0).unwrap_err().parameter(), "signal");
        assert_eq!(
            Macd::new(26, 12, 9).unwrap_err(),
            ParamError::FastNotBelowSlow { fast: 26, slow: 12 }
        );
        assert!(Macd::new(12, 12, 9).is_err());
        assert!(Macd::new(2, 3, 1).is_ok());
        let e = Macd::new(1, 26, 9).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MACD: parameter `fast` must be between 2 and 100000, got 1"
        );
        assert_eq!(
            Macd::new(26, 12, 9).unwrap_err().to_string(),
            "MACD: parameter `fast` (26) must be less than `slow` (12)"
        );
    }

    #[test]
    fn warms_up_for_slow_plus_signal_minus_two() {
        let mut macd = Macd::classic();
        assert_eq!(macd.lookback(), 33);
        for i in 0..33 {
            assert_eq!(macd.update(100.0 + i as f64).unwrap(), None, "at {i}");
        }
        assert!(macd.update(133.0).unwrap().is_some());
    }

    #[test]
    fn fast_ema_is_seeded_on_the_closes_ending_at_slow_minus_one() {
        // fast 2, slow 4, signal 1: at input 3 the fast EMA is the mean of
        // inputs 2 and 3 (ignoring 0 and 1), the slow one the mean of 0..=3.
        let mut macd = Macd::new(2, 4, 1).unwrap();
        let xs = [1000.0, -1000.0, 3.0, 5.0];
        let out: Vec<_> = xs.iter().map(|&x| macd.update(x).unwrap()).collect();
        let last = out[3].unwrap();
        assert_eq!(last.line, 4.0 - 2.0);
        assert_eq!(last.signal, last.line);
        assert_eq!(last.histogram, 0.0);
    }

    #[test]
    fn non_finite_input_is_rejected_and_reset_starts_over() {
        let mut macd = Macd::new(2, 3, 2).unwrap();
        let xs = [1.0, 2.0, 4.0, 8.0, 16.0];
        let first: Vec<_> = xs.iter().map(|&x| macd.update(x).unwrap()).collect();
        macd.reset();
        let mut second = Vec::new();
        for &x in &xs {
            assert!(macd.update(f64::NAN).is_err());
            second.push(macd.update(x).unwrap());
        }
        assert_eq!(first, second);
        assert!(first[3].is_some() && first[2].is_none());
    }
}
