//! Properties of every indicator over arbitrary inputs and parameters.
//!
//! - warm-up: exactly the first `lookback()` updates yield `None`;
//! - bad input: NaN, ±inf and huge (> 1e150) closes slipped in anywhere are
//!   rejected and change nothing, so the outputs equal those of the clean
//!   series;
//! - SMA and Bollinger Bands agree with a direct two-pass computation over the
//!   window at every step, on prices spanning many orders of magnitude;
//! - ATR, over whole bars: the same warm-up and bad-input properties (bad
//!   fields, `high < low`, a close outside the range), and its value stays
//!   between the smallest and largest true range seen, is the true range
//!   itself for period 1, and scales exactly with the prices.

use aegis_engine::indicators::{Atr, BollingerBands, Ema, Indicator, Macd, Rsi, Sma};
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

/// A bar: high, low, close.
type Bar = (f64, f64, f64);

fn bars() -> impl Strategy<Value = Vec<Bar>> {
    // Around the closes of `prices()`: each bar opens up to ±1 % off the
    // previous close (sometimes exactly on it), with wicks up to 1 %.
    (
        prices(),
        prop::collection::vec((-10i32..=10, 0u8..=10, 0u8..=10), 300),
    )
        .prop_map(|(closes, shapes)| {
            let mut prev = closes[0];
            closes
                .iter()
                .zip(shapes)
                .map(|(&close, (gap, up, down))| {
                    let open = prev * (1.0 + f64::from(gap) / 1000.0);
                    prev = close;
                    let high = open.max(close) * (1.0 + f64::from(up) / 1000.0);
                    let low = open.min(close) * (1.0 - f64::from(down) / 1000.0);
                    (high, low, close)
                })
                .collect()
        })
}

fn true_range((high, low, _): Bar, prev_close: f64) -> f64 {
    (high - low)
        .max((high - prev_close).abs())
        .max((low - prev_close).abs())
}

fn run_atr(atr: &mut Atr, bars: &[Bar]) -> Vec<Option<f64>> {
    bars.iter()
        .map(|&(h, l, c)| atr.update(h, l, c).expect("a valid bar"))
        .collect()
}

/// A bar that must be refused, built from a good one.
fn bad_bar() -> impl Strategy<Value = fn(Bar, f64) -> Bar> {
    let cases: [fn(Bar, f64) -> Bar; 6] = [
        |(_, l, c), bad| (bad, l, c),
        |(h, _, c), bad| (h, bad, c),
        |(h, l, _), bad| (h, l, bad),
        // Steps of at least 1, and at least the value itself, so that they
        // are not lost to rounding at any scale.
        |(h, l, c), _| (l - l.abs().max(1.0), h + h.abs().max(1.0), c),
        |(h, l, _), _| (h, l, h + h.abs().max(1.0)),
        |(h, l, _), _| (h, l, l - l.abs().max(1.0)),
    ];
    prop::sample::select(cases.to_vec())
}

proptest! {
    #[test]
    fn atr_warm_up_is_exactly_the_lookback(xs in bars(), period in 1usize..40) {
        let mut atr = Atr::new(period).unwrap();
        let lookback = atr.lookback();
        prop_assert_eq!(lookback, period);
        for (i, out) in run_atr(&mut atr, &xs).into_iter().enumerate() {
            prop_assert_eq!(out.is_none(), i < lookback, "bar {}", i);
        }
    }

    #[test]
    fn atr_bad_bars_change_nothing(
        xs in bars(),
        at in prop::collection::vec(0usize..300, 0..20),
        bad in bad_value(),
        spoil in bad_bar(),
        period in 1usize..30,
    ) {
        let clean = run_atr(&mut Atr::new(period).unwrap(), &xs);
        let mut atr = Atr::new(period).unwrap();
        let mut dirty = Vec::new();
        for (i, &(h, l, c)) in xs.iter().enumerate() {
            if at.contains(&i) {
                let before = atr.clone();
                let (bh, bl, bc) = spoil((h, l, c), bad);
                prop_assert!(atr.update(bh, bl, bc).is_err(), "bar {} accepted", i);
                prop_assert_eq!(&atr, &before);
            }
            dirty.push(atr.update(h, l, c).expect("a valid bar"));
        }
        prop_assert_eq!(clean, dirty);
    }

    #[test]
    fn atr_stays_within_the_true_ranges_and_scales_with_prices(
        xs in bars(),
        period in 1usize..40,
        shift in -20i32..=20,
    ) {
        let mut atr = Atr::new(period).unwrap();
        let mut one = Atr::new(1).unwrap();
        let mut scaled = Atr::new(period).unwrap();
        let factor = 2f64.powi(shift);
        let (mut lo, mut hi) = (f64::INFINITY, 0.0_f64);
        for (i, &bar) in xs.iter().enumerate() {
            let got = atr.update(bar.0, bar.1, bar.2).unwrap();
            let tr = one.update(bar.0, bar.1, bar.2).unwrap();
            let s = scaled.update(bar.0 * factor, bar.1 * factor, bar.2 * factor).unwrap();
            if i == 0 {
                prop_assert_eq!(tr, None);
                continue;
            }
            let want_tr = true_range(bar, xs[i - 1].2);
            prop_assert_eq!(tr, Some(want_tr), "bar {}", i);
            lo = lo.min(want_tr);
            hi = hi.max(want_tr);
            // Multiplying by a power of two is exact, so is every step after.
            prop_assert_eq!(s, got.map(|v| v * factor));
            if let Some(v) = got {
                let slack = 1e-12 * hi;
                prop_assert!(v >= lo - slack && v <= hi + slack, "bar {}: {} not in [{}, {}]", i, v, lo, hi);
            }
        }
    }
}
