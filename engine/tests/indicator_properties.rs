//! Properties of every indicator over arbitrary inputs and parameters.
//!
//! - warm-up: exactly the first `lookback()` updates yield `None`;
//! - bad input: NaN, ±inf and huge (> 1e150) closes slipped in anywhere are
//!   rejected and change nothing, so the outputs equal those of the clean
//!   series;
//! - SMA and Bollinger Bands agree with a direct two-pass computation over the
//!   window at every step, on prices spanning many orders of magnitude.

use aegis_engine::indicators::{BollingerBands, Ema, Indicator, Macd, Rsi, Sma};
use proptest::prelude::*;

/// Runs `ind` over `xs`, flattening each output to a vector.
fn run<I: Indicator>(
    ind: &mut I,
    xs: &[f64],
    flat: fn(&I::Output) -> Vec<f64>,
) -> Vec<Option<Vec<f64>>> {
    xs.iter()
        .map(|&x| ind.update(x).expect("finite").as_ref().map(flat))
        .collect()
}

/// Like [`run`], but first offers `bad` before every input whose index is in
/// `at`, checking each is rejected.
fn run_with_bad<I: Indicator>(
    ind: &mut I,
    xs: &[f64],
    at: &[usize],
    bad: f64,
    flat: fn(&I::Output) -> Vec<f64>,
) -> Vec<Option<Vec<f64>>> {
    let mut out = Vec::with_capacity(xs.len());
    for (i, &x) in xs.iter().enumerate() {
        if at.contains(&i) {
            match ind.update(bad) {
                Err(err) => assert_eq!(err.value.is_nan(), bad.is_nan()),
                Ok(_) => panic!("{bad} was accepted at {i}"),
            }
        }
        out.push(ind.update(x).expect("finite").as_ref().map(flat));
    }
    out
}

fn check_warm_up<I: Indicator>(ind: &mut I, xs: &[f64], flat: fn(&I::Output) -> Vec<f64>) {
    let lookback = ind.lookback();
    let out = run(ind, xs, flat);
    for (i, o) in out.iter().enumerate() {
        assert_eq!(o.is_none(), i < lookback, "update {i}, lookback {lookback}");
    }
}

fn check_bad_input<I: Indicator + Clone>(
    ind: &I,
    xs: &[f64],
    at: &[usize],
    bad: f64,
    flat: fn(&I::Output) -> Vec<f64>,
) {
    let clean = run(&mut ind.clone(), xs, flat);
    let dirty = run_with_bad(&mut ind.clone(), xs, at, bad, flat);
    assert_eq!(clean, dirty);
}

fn prices() -> impl Strategy<Value = Vec<f64>> {
    // A random walk at a random scale (1e-4 .. 1e5), with some repeated closes.
    (
        -4i32..=5,
        prop::collection::vec((-100i32..=100, 0u8..4), 1..300),
    )
        .prop_map(|(exp, steps)| {
            let mut p = 10f64.powi(exp);
            steps
                .into_iter()
                .map(|(s, repeat)| {
                    if repeat != 0 {
                        p *= 1.0 + f64::from(s) / 1000.0;
                    }
                    p
                })
                .collect()
        })
}

fn bad_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(1e200),
        Just(-f64::MAX),
    ]
}

fn scalar(v: &f64) -> Vec<f64> {
    vec![*v]
}

fn macd_parts(v: &aegis_engine::indicators::MacdOutput) -> Vec<f64> {
    vec![v.line, v.signal, v.histogram]
}

fn bands(v: &aegis_engine::indicators::BollingerOutput) -> Vec<f64> {
    vec![v.upper, v.middle, v.lower]
}

proptest! {
    #[test]
    fn warm_up_is_exactly_the_lookback(
        xs in prices(),
        period in 2usize..40,
        extra in 1usize..30,
        signal in 1usize..15,
    ) {
        check_warm_up(&mut Sma::new(period).unwrap(), &xs, scalar);
        check_warm_up(&mut Ema::new(period).unwrap(), &xs, scalar);
        check_warm_up(&mut Rsi::new(period).unwrap(), &xs, scalar);
        check_warm_up(&mut Macd::new(period, period + extra, signal).unwrap(), &xs, macd_parts);
        check_warm_up(&mut BollingerBands::new(period, 2.0, 1.5).unwrap(), &xs, bands);
    }

    #[test]
    fn non_finite_closes_change_nothing(
        xs in prices(),
        at in prop::collection::vec(0usize..300, 0..20),
        bad in bad_value(),
        period in 2usize..30,
    ) {
        check_bad_input(&Sma::new(period).unwrap(), &xs, &at, bad, scalar);
        check_bad_input(&Ema::new(period).unwrap(), &xs, &at, bad, scalar);
        check_bad_input(&Rsi::new(period).unwrap(), &xs, &at, bad, scalar);
        check_bad_input(&Macd::new(period, period + 5, 3).unwrap(), &xs, &at, bad, macd_parts);
        check_bad_input(&BollingerBands::new(period, 2.0, 2.0).unwrap(), &xs, &at, bad, bands);
    }

    #[test]
    fn sma_and_bands_match_a_two_pass_computation(
        xs in prices(),
        period in 2usize..40,
        k_up in 0.1f64..4.0,
        k_down in 0.1f64..4.0,
    ) {
        let mut sma = Sma::new(period).unwrap();
        let mut bb = BollingerBands::new(period, k_up, k_down).unwrap();
        for (i, &x) in xs.iter().enumerate() {
            let s = sma.update(x).unwrap();
            let b = bb.update(x).unwrap();
            if i + 1 < period {
                continue;
            }
            let w = &xs[i + 1 - period..=i];
            let n = period as f64;
            let mean = w.iter().sum::<f64>() / n;
            let sigma = (w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
            let tol = |v: f64| 1e-12 * v.abs();
            let s = s.unwrap();
            prop_assert!((s - mean).abs() <= tol(mean), "SMA at {}: {} vs {}", i, s, mean);
            let b = b.unwrap();
            prop_assert!((b.middle - mean).abs() <= tol(mean));
            let upper = mean + k_up * sigma;
            let lower = mean - k_down * sigma;
            prop_assert!((b.upper - upper).abs() <= tol(upper), "upper at {}: {} vs {}", i, b.upper, upper);
            prop_assert!((b.lower - lower).abs() <= tol(mean), "lower at {}: {} vs {}", i, b.lower, lower);
        }
    }
}
