//! Neumaier-compensated summation, for running sums that gain and lose terms.

/// A running sum with Neumaier's compensation.
///
/// A window's running sum adds every input once and subtracts it once; a plain
/// `f64` accumulator drifts by about one rounding error per step. The
/// compensation term keeps the error near one rounding of the current total,
/// however long the series.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct NeumaierSum {
    sum: f64,
    compensation: f64,
}

impl NeumaierSum {
    /// A sum that starts at `value`.
    pub(crate) fn new(value: f64) -> Self {
        Self {
            sum: value,
            compensation: 0.0,
        }
    }

    /// Adds `x` (subtract by adding `-x`).
    pub(crate) fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    /// The compensated total.
    pub(crate) fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensation_recovers_what_a_plain_sum_loses() {
        let mut s = NeumaierSum::default();
        let mut plain = 0.0_f64;
        for x in [1e16, 1.0, -1e16, 1.0] {
            s.add(x);
            plain += x;
        }
        assert_eq!(s.value(), 2.0);
        assert_ne!(plain, 2.0);
    }

    #[test]
    fn a_long_sliding_window_does_not_drift() {
        // Slide a window of 10 over 200k values of mixed magnitude and compare
        // with the exact sum of the last window.
        let xs: Vec<f64> = (0..200_000u64)
            .map(|i| 100.0 + ((i * 7919) % 1000) as f64 / 7.0 + if i % 97 == 0 { 1e6 } else { 0.0 })
            .collect();
        let mut s = NeumaierSum::default();
        for (i, &x) in xs.iter().enumerate() {
            s.add(x);
            if i >= 10 {
                s.add(-xs[i - 10]);
            }
        }
        let exact: f64 = xs[xs.len() - 10..].iter().sum();
        assert!((s.value() - exact).abs() <= 1e-12 * exact.abs());
    }
}
