//! Bollinger Bands.

use super::ring::Ring;
use super::sum::NeumaierSum;
use super::{check_close, check_multiplier, check_period, Indicator, InvalidClose, ParamError};

/// One warmed-up set of bands.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BollingerOutput {
    /// `middle + k_up · σ`.
    pub upper: f64,
    /// The SMA of the last `period` closes.
    pub middle: f64,
    /// `middle - k_down · σ`.
    pub lower: f64,
}

/// Bollinger Bands over `period` closes:
///
/// ```text
/// middle_t = SMA_t = (1/n) Σ x_i                     (the last n = period closes)
/// σ_t      = sqrt( (1/n) Σ (x_i - middle_t)² )       (population standard deviation)
/// upper_t  = middle_t + k_up   · σ_t
/// lower_t  = middle_t - k_down · σ_t
/// ```
///
/// As TA-Lib's `BBANDS` with `matype = SMA`: the population (divide by `n`,
/// not `n - 1`) standard deviation, lookback `period - 1`. The TA-Lib bundled
/// with `ta-lib` 0.8.x (the reference here) computes `σ` accurately down to
/// tiny widths; classic TA-Lib 0.4 used `E[x²] - E[x]²` and printed 0 for any
/// variance below 1e-8, so it differs from this for near-flat windows only.
///
/// O(1) per update (amortised): a ring of the last `period` closes, a
/// compensated running sum for the mean, and the sum of squared deviations `M2`
/// updated in place when a close replaces the oldest (`M2' = M2 + (x_new -
/// x_old)(x_new - m' + x_old - m)`, with compensated accumulation), which
/// avoids the cancellation of `E[x²] - E[x]²`. Rounding residue cannot pile
/// up: every `period` updates both accumulators are recomputed from the ring
/// in one two-pass sweep (`period` more additions per `period` updates), and
/// when the whole window is one repeated close `σ` is exactly 0 and the
/// accumulators are re-anchored at once. Near `σ = 0` a residue would be
/// magnified by the square root, which is why both matter.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BollingerBands {
    period: usize,
    k_up: f64,
    k_down: f64,
    window: Ring,
    sum: NeumaierSum,
    m2: NeumaierSum,
    /// The previous close (none yet): kept as an option so that a fresh
    /// indicator's saved state is valid JSON.
    last: Option<f64>,
    run: usize,
    since_recompute: usize,
}

impl BollingerBands {
    /// Bands over `period` closes (`2 ..= 100_000`, TA-Lib's range) at `k_up`
    /// and `k_down` standard deviations (finite, > 0).
    pub fn new(period: usize, k_up: f64, k_down: f64) -> Result<Self, ParamError> {
        let period = check_period("Bollinger", "period", period, 2)?;
        let k_up = check_multiplier("Bollinger", "k_up", k_up)?;
        let k_down = check_multiplier("Bollinger", "k_down", k_down)?;
        Ok(Self {
            period,
            k_up,
            k_down,
            window: Ring::new(period),
            sum: NeumaierSum::default(),
            m2: NeumaierSum::default(),
            last: None,
            run: 0,
            since_recompute: 0,
        })
    }

    /// The period and the two multipliers.
    pub fn params(&self) -> (usize, f64, f64) {
        (self.period, self.k_up, self.k_down)
    }

    /// Recomputes the running sum and `M2` from the window (two passes).
    fn recompute(&mut self) {
        let mut sum = NeumaierSum::default();
        for &x in self.window.values() {
            sum.add(x);
        }
        let mean = sum.value() / self.window.len() as f64;
        let mut m2 = NeumaierSum::default();
        for &x in self.window.values() {
            m2.add((x - mean) * (x - mean));
        }
        self.sum = sum;
        self.m2 = m2;
        self.since_recompute = 0;
    }
}

impl Indicator for BollingerBands {
    type Output = BollingerOutput;

    fn update(&mut self, close: f64) -> Result<Option<BollingerOutput>, InvalidClose> {
        check_close(close)?;
        // Length of the run of identical closes ending here.
        self.run = if Some(close) == self.last {
            self.run.saturating_add(1)
        } else {
            1
        };
        self.last = Some(close);

        let before = self.window.len() as f64;
        let old_mean = if before > 0.0 {
            self.sum.value() / before
        } else {
            close
        };
        match self.window.push(close) {
            Some(old) => {
                self.sum.add(-old);
                self.sum.add(close);
                let new_mean = self.sum.value() / before;
                self.m2
                    .add((close - old) * ((close - new_mean) + (old - old_mean)));
            }
            None => {
                self.sum.add(close);
                let new_mean = self.sum.value() / (before + 1.0);
                self.m2.add((close - old_mean) * (close - new_mean));
            }
        }
        if !self.window.is_full() {
            return Ok(None);
        }
        let n = self.period as f64;
        self.since_recompute += 1;
        if self.since_recompute >= self.period {
            self.recompute();
        }
        let (middle, sigma) = if self.run >= self.period {
            // A window of one repeated value: exact answer, and re-anchor the
            // accumulators so no rounding residue outlives the flat stretch.
            self.sum = NeumaierSum::new(close * n);
            self.m2 = NeumaierSum::default();
            (close, 0.0)
        } else {
            let variance = (self.m2.value() / n).max(0.0);
            (self.sum.value() / n, variance.sqrt())
        };
        Ok(Some(BollingerOutput {
            upper: middle + self.k_up * sigma,
            middle,
            lower: middle - self.k_down * sigma,
        }))
    }

    fn reset(&mut self) {
        self.window.clear();
        self.sum = NeumaierSum::default();
        self.m2 = NeumaierSum::default();
        self.last = None;
        self.run = 0;
        self.since_recompute = 0;
    }

    fn lookback(&self) -> usize {
        self.period - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_standard_deviation() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population σ exactly 2.
        let mut bb = BollingerBands::new(8, 2.0, 1.0).unwrap();
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let out: Vec<_> = xs.iter().map(|&x| bb.update(x).unwrap()).collect();
        assert!(out[..7].iter().all(Option::is_none));
        let b = out[7].unwrap();
        assert!((b.middle - 5.0).abs() < 1e-12);
        assert!((b.upper - 9.0).abs() < 1e-12);
        assert!((b.lower - 3.0).abs() < 1e-12);
        assert_eq!(bb.lookback(), 7);
    }

    #[test]
    fn flat_window_has_zero_width_even_after_large_moves() {
        let mut bb = BollingerBands::new(5, 2.0, 2.0).unwrap();
        for x in [1e6, 1.0, 5e5, 3.0, 77.7, 77.7, 77.7, 77.7, 77.7] {
            bb.update(x).unwrap();
        }
        let b = bb.update(77.7).unwrap().unwrap();
        assert_eq!((b.upper, b.middle, b.lower), (77.7, 77.7, 77.7));
        // And it moves off zero correctly afterwards: window 77.7 ×4, 78.7.
        let b = bb.update(78.7).unwrap().unwrap();
        let mean = 77.7 + 0.2;
        let sigma = ((4.0 * 0.2_f64.powi(2) + 0.8_f64.powi(2)) / 5.0).sqrt();
        assert!((b.middle - mean).abs() < 1e-12);
        assert!((b.upper - (mean + 2.0 * sigma)).abs() < 1e-9);
    }

    #[test]
    fn matches_a_two_pass_computation_over_a_long_series() {
        let period = 20;
        let mut bb = BollingerBands::new(period, 2.0, 2.0).unwrap();
        let xs: Vec<f64> = (0..300_000u64)
            .map(|i| 50_000.0 + ((i * 2_654_435_761) % 10_007) as f64 / 100.0)
            .collect();
        let mut last = None;
        for &x in &xs {
            last = bb.update(x).unwrap();
        }
        let w = &xs[xs.len() - period..];
        let mean = w.iter().sum::<f64>() / period as f64;
        let sigma = (w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / period as f64).sqrt();
        let b = last.unwrap();
        assert!((b.middle - mean).abs() <= 1e-12 * mean);
        let got_sigma = (b.upper - b.middle) / 2.0;
        assert!(
            (got_sigma - sigma).abs() <= 1e-9 * sigma,
            "{got_sigma} vs {sigma}"
        );
    }

    /// Volatile stretches with gaps, then one-cent ticks, then flat runs: at
    /// every step the bands match a two-pass computation over the window.
    #[test]
    fn tracks_a_two_pass_computation_through_regime_changes() {
        let period = 20;
        let mut bb = BollingerBands::new(period, 2.0, 2.0).unwrap();
        let mut xs = Vec::new();
        let mut p = 50_000.0_f64;
        for i in 0..60_000u64 {
            let r = ((i * 2_654_435_761) % 10_007) as f64 / 10_007.0;
            p = match (i / 500) % 4 {
                0 => (p * (0.7 + 0.6 * r) * 100.0).round() / 100.0, // wild
                1 => p + if i % 2 == 0 { 0.01 } else { -0.01 },     // ticks
                2 => p,                                             // flat
                _ => (p * (0.99 + 0.02 * r) * 100.0).round() / 100.0,
            };
            xs.push(p);
        }
        for (i, &x) in xs.iter().enumerate() {
            let Some(b) = bb.update(x).unwrap() else {
                continue;
            };
            let w = &xs[i + 1 - period..=i];
            let mean = w.iter().sum::<f64>() / period as f64;
            let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / period as f64;
            let upper = mean + 2.0 * var.sqrt();
            assert!(
                (b.upper - upper).abs() <= 1e-12 * upper,
                "at {i}: {} vs {upper}",
                b.upper
            );
        }
    }

    #[test]
    fn validates_parameters() {
        assert_eq!(
            BollingerBands::new(0, 2.0, 2.0).unwrap_err().parameter(),
            "period"
        );
        assert_eq!(
            BollingerBands::new(1, 2.0, 2.0).unwrap_err().parameter(),
            "period"
        );
        assert_eq!(
            BollingerBands::new(20, 0.0, 2.0).unwrap_err().parameter(),
            "k_up"
        );
        assert_eq!(
            BollingerBands::new(20, 2.0, -1.0).unwrap_err().parameter(),
            "k_down"
        );
        assert_eq!(
            BollingerBands::new(20, f64::NAN, 2.0)
                .unwrap_err()
                .parameter(),
            "k_up"
        );
    }

    #[test]
    fn non_finite_input_is_rejected_and_leaves_state_alone() {
        let mut a = BollingerBands::new(3, 2.0, 2.0).unwrap();
        let mut b = BollingerBands::new(3, 2.0, 2.0).unwrap();
        for (i, x) in [1.0, 2.0, 2.0, 3.0, 5.0].into_iter().enumerate() {
            if i == 2 {
                assert!(a.update(f64::NAN).is_err());
                assert!(a.update(f64::INFINITY).is_err());
            }
            assert_eq!(a.update(x).unwrap(), b.update(x).unwrap());
        }
        a.reset();
        assert_eq!(a.update(1.0).unwrap(), None);
    }

    #[test]
    fn extreme_accepted_closes_keep_outputs_finite() {
        let mut bb = BollingerBands::new(2, 2.0, 2.0).unwrap();
        for x in [1e150, -1e150, 1e150, 1.0, -1e150] {
            let b = bb.update(x).unwrap();
            assert!(b.is_none_or(|b| b.upper.is_finite() && b.lower.is_finite()));
        }
        assert!(bb.update(1e300).is_err());
    }
}
