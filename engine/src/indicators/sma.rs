//! Simple moving average.

use super::ring::Ring;
use super::sum::NeumaierSum;
use super::{check_close, check_period, Indicator, InvalidClose, ParamError};

/// Simple moving average over the last `period` closes:
///
/// ```text
/// SMA_t = (x_t + x_{t-1} + … + x_{t-period+1}) / period
/// ```
///
/// Lookback `period - 1` (TA-Lib's `SMA`). O(1) per update: a ring of the last
/// `period` closes and a Neumaier-compensated running sum, so the value does not
/// drift over long series.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Sma {
    period: usize,
    window: Ring,
    sum: NeumaierSum,
}

impl Sma {
    /// An SMA over `period` closes, `1 ..= 100_000`.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        let period = check_period("SMA", "period", period, 1)?;
        Ok(Self {
            period,
            window: Ring::new(period),
            sum: NeumaierSum::default(),
        })
    }

    /// The window length.
    pub fn period(&self) -> usize {
        self.period
    }
}

impl Indicator for Sma {
    type Output = f64;

    fn update(&mut self, close: f64) -> Result<Option<f64>, InvalidClose> {
        check_close(close)?;
        if let Some(old) = self.window.push(close) {
            self.sum.add(-old);
        }
        self.sum.add(close);
        Ok(self
            .window
            .is_full()
            .then(|| self.sum.value() / self.period as f64))
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = NeumaierSum::default();
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn averages_the_last_period_closes() {
        let mut sma = Sma::new(3).unwrap();
        let out: Vec<_> = [1.0, 2.0, 3.0, 4.0, 8.0]
            .iter()
            .map(|&x| sma.update(x).unwrap())
            .collect();
        assert_eq!(out, [None, None, Some(2.0), Some(3.0), Some(5.0)]);
        assert_eq!(sma.lookback(), 2);
    }

    #[test]
    fn period_one_is_the_input() {
        let mut sma = Sma::new(1).unwrap();
        assert_eq!(sma.lookback(), 0);
        assert_eq!(sma.update(7.5).unwrap(), Some(7.5));
    }

    #[test]
    fn rejects_bad_periods() {
        assert_eq!(Sma::new(0).unwrap_err().parameter(), "period");
        assert!(Sma::new(100_001).is_err());
    }

    #[test]
    fn non_finite_input_is_rejected_and_leaves_state_alone() {
        let mut sma = Sma::new(2).unwrap();
        sma.update(1.0).unwrap();
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(sma.update(bad).is_err());
        }
        assert_eq!(sma.update(3.0).unwrap(), Some(2.0));
    }

    #[test]
    fn reset_starts_over() {
        let mut sma = Sma::new(2).unwrap();
        sma.update(1.0).unwrap();
        sma.update(3.0).unwrap();
        sma.reset();
        assert_eq!(sma.update(10.0).unwrap(), None);
        assert_eq!(sma.update(20.0).unwrap(), Some(15.0));
    }

    #[test]
    fn does_not_drift_over_a_million_updates() {
        let mut sma = Sma::new(20).unwrap();
        let xs: Vec<f64> = (0..1_000_000u64)
            .map(|i| 1000.0 + ((i * 2_654_435_761) % 10_007) as f64 / 3.0)
            .collect();
        let mut last = None;
        for &x in &xs {
            last = sma.update(x).unwrap();
        }
        let exact = xs[xs.len() - 20..].iter().sum::<f64>() / 20.0;
        let got = last.unwrap();
        assert!((got - exact).abs() <= 1e-13 * exact, "{got} vs {exact}");
    }
}
