//! Exponential moving average, seeded with an SMA (TA-Lib's default).

use super::{check_close, check_period, Indicator, InvalidClose, ParamError};

/// Exponential moving average with `k = 2 / (period + 1)`:
///
/// ```text
/// EMA_{period-1} = (x_0 + … + x_{period-1}) / period        (the seed: an SMA)
/// EMA_t          = (x_t - EMA_{t-1}) · k + EMA_{t-1}         (t ≥ period)
/// ```
///
/// This is TA-Lib's `EMA` with its default compatibility setting (Metastock
/// mode would seed with the first close instead) and unstable period 0: the
/// lookback is `period - 1` and the first value is the seed SMA. The update is
/// written in TA-Lib's order of operations. O(1) per update.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ema {
    period: usize,
    k: f64,
    seed_sum: f64,
    seen: usize,
    value: Option<f64>,
}

impl Ema {
    /// An EMA over `period` closes, `1 ..= 100_000`.
    pub fn new(period: usize) -> Result<Self, ParamError> {
        Self::named("EMA", "period", period)
    }

    /// Like [`Ema::new`] but reporting errors as parameter `name` of `indicator`
    /// (MACD builds its EMAs with this).
    pub(crate) fn named(
        indicator: &'static str,
        name: &'static str,
        period: usize,
    ) -> Result<Self, ParamError> {
        let period = check_period(indicator, name, period, 1)?;
        Ok(Self {
            period,
            k: 2.0 / (period as f64 + 1.0),
            seed_sum: 0.0,
            seen: 0,
            value: None,
        })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Feeds a close that has passed `check_close`.
    pub(crate) fn step(&mut self, x: f64) -> Option<f64> {
        let next = match self.value {
            Some(prev) => (x - prev) * self.k + prev,
            None => {
                self.seed_sum += x;
                self.seen += 1;
                if self.seen < self.period {
                    return None;
                }
                self.seed_sum / self.period as f64
            }
        };
        self.value = Some(next);
        self.value
    }
}

impl Indicator for Ema {
    type Output = f64;

    fn update(&mut self, close: f64) -> Result<Option<f64>, InvalidClose> {
        check_close(close)?;
        Ok(self.step(close))
    }

    fn reset(&mut self) {
        self.seed_sum = 0.0;
        self.seen = 0;
        self.value = None;
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_with_the_sma_then_smooths() {
        let mut ema = Ema::new(3).unwrap(); // k = 0.5
        assert_eq!(ema.update(1.0).unwrap(), None);
        assert_eq!(ema.update(2.0).unwrap(), None);
        assert_eq!(ema.update(3.0).unwrap(), Some(2.0));
        assert_eq!(ema.update(6.0).unwrap(), Some(4.0));
        assert_eq!(ema.update(0.0).unwrap(), Some(2.0));
        assert_eq!(ema.lookback(), 2);
    }

    #[test]
    fn rejects_period_zero() {
        let e = Ema::new(0).unwrap_err();
        assert_eq!(e.parameter(), "period");
        assert!(e.to_string().starts_with("EMA:"));
    }

    #[test]
    fn non_finite_input_is_rejected_and_leaves_state_alone() {
        let mut ema = Ema::new(2).unwrap();
        ema.update(1.0).unwrap();
        assert_eq!(ema.update(3.0).unwrap(), Some(2.0));
        let err = ema.update(f64::NAN).unwrap_err();
        assert!(err.value.is_nan());
        assert!(ema.update(f64::INFINITY).is_err());
        // k = 2/3: (5 - 2)·2/3 + 2 = 4
        assert_eq!(ema.update(5.0).unwrap(), Some(4.0));
    }

    #[test]
    fn reset_starts_over() {
        let mut ema = Ema::new(2).unwrap();
        ema.update(1.0).unwrap();
        ema.update(3.0).unwrap();
        ema.reset();
        assert_eq!(ema.update(10.0).unwrap(), None);
        assert_eq!(ema.update(20.0).unwrap(), Some(15.0));
    }
}
