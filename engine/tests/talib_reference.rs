//! Compares the indicators with TA-Lib's own output.
//!
//! The fixtures in `tests/fixtures/` are written by `make_talib_fixtures.py`
//! with the `ta-lib` Python package (see its header for the version and the
//! command); this test needs no Python. For every indicator and parameter set
//! it feeds each series through `update()` and checks that
//!
//! - the output is `None` exactly where TA-Lib wrote NaN, and that is exactly
//!   the first `lookback()` inputs;
//! - every later output is within a relative error of 1e-9 of TA-Lib's. Where
//!   a value can be near 0 the error is measured against a floor instead (see
//!   [`Scale`]): 1 for the RSI (0 ..= 100), a thousandth of the close for MACD
//!   (a difference of two price averages).
//!
//! Four series: a 5,000-point random walk around 100, an edge-case series
//! (flat runs, one-way runs, gaps), and BTC-like (~50,000) and sub-cent
//! (~0.0005) walks, since price scale drives cancellation.
//!
//! ATR reads whole bars: its fixtures (`talib_atr_*.csv`) hold a high, low and
//! close for each of the four close series, with bars that open away from the
//! previous close (so the true range often reaches back to it), flat runs of
//! zero range and, in the edge cases, gaps of ±25–30 %.

use std::collections::HashMap;
use std::path::PathBuf;

use aegis_engine::indicators::{Atr, BollingerBands, Ema, Indicator, Macd, Rsi, Sma};

const TOLERANCE: f64 = 1e-9;

/// One fixture file: named columns, `None` where TA-Lib wrote NaN.
struct Fixture {
    name: &'static str,
    columns: HashMap<String, Vec<Option<f64>>>,
}

impl Fixture {
    fn load(name: &'static str) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()
            .expect("a header line")
            .split(',')
            .map(str::to_owned)
            .collect();
        let mut cols: Vec<Vec<Option<f64>>> = vec![Vec::new(); header.len()];
        for (n, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{name} line {}", n + 2);
            for (col, field) in cols.iter_mut().zip(fields) {
                col.push(if field.is_empty() {
                    None
                } else {
                    Some(
                        field
                            .parse()
                            .unwrap_or_else(|e| panic!("{name} line {}: {field:?}: {e}", n + 2)),
                    )
                });
            }
        }
        Self {
            name,
            columns: header.into_iter().zip(cols).collect(),
        }
    }

    fn column(&self, name: &str) -> &[Option<f64>] {
        self.columns
            .get(name)
            .unwrap_or_else(|| panic!("{}: no column {name}", self.name))
    }

    fn closes(&self) -> Vec<f64> {
        self.column("close")
            .iter()
            .map(|v| v.expect("every close is present"))
            .collect()
    }
}

fn fixtures() -> [Fixture; 4] {
    let walk = Fixture::load("talib_random_walk.csv");
    assert!(walk.closes().len() >= 5_000);
    [
        walk,
        Fixture::load("talib_edge_cases.csv"),
        Fixture::load("talib_high_price.csv"),
        Fixture::load("talib_low_price.csv"),
    ]
}

/// What an output's error is measured against.
#[derive(Debug, Clone, Copy)]
enum Scale {
    /// Price-like (SMA, EMA, bands; never near 0 for positive prices): the
    /// value itself, a plain relative error.
    Value,
    /// An oscillator on 0 ..= 100 (RSI): the value, but at least 1.
    Oscillator,
    /// A difference of prices (MACD): the value, but at least 1e-3 × the close.
    PriceDifference,
}

impl Scale {
    fn denominator(self, want: f64, close: f64) -> f64 {
        match self {
            Scale::Value => want.abs(),
            Scale::Oscillator => want.abs().max(1.0),
            Scale::PriceDifference => want.abs().max(1e-3 * close.abs()),
        }
    }
}

/// Pulls one number out of an indicator's output.
type Extract<O> = fn(&O) -> f64;

fn within_tolerance(got: f64, want: f64, denominator: f64) -> bool {
    (got - want).abs() <= TOLERANCE * denominator
}

/// Feeds `fixture`'s closes through `ind` and checks each named output
/// (extracted by its function) against TA-Lib's column of that name. Returns
/// the largest scaled error, for the log.
fn check<I: Indicator>(
    fixture: &Fixture,
    label: &str,
    mut ind: I,
    outputs: &[(&str, Extract<I::Output>, Scale)],
) -> f64 {
    let closes = fixture.closes();
    let lookback = ind.lookback();
    let results: Vec<Option<I::Output>> = closes
        .iter()
        .map(|&x| ind.update(x).expect("fixture closes are finite"))
        .collect();
    let mut worst = 0.0_f64;
    for (column, part, scale) in outputs {
        let want = fixture.column(column);
        let first = want.iter().position(Option::is_some);
        assert_eq!(
            first,
            Some(lookback),
            "{} {label}: TA-Lib's first {column} is not at lookback() = {lookback}",
            fixture.name
        );
        for (i, (got, want)) in results.iter().zip(want).enumerate() {
            match (got, want) {
                (None, None) => {}
                (Some(got), Some(want)) => {
                    let got = part(got);
                    let denominator = scale.denominator(*want, closes[i]);
                    assert!(
                        within_tolerance(got, *want, denominator),
                        "{} {label} {column}[{i}]: got {got:e}, TA-Lib {want:e}",
                        fixture.name
                    );
                    if got != *want {
                        worst = worst.max((got - want).abs() / denominator);
                    }
                }
                (got, want) => panic!(
                    "{} {label} {column}[{i}]: got {}, TA-Lib {}",
                    fixture.name,
                    if got.is_some() { "a value" } else { "None" },
                    if want.is_some() { "a value" } else { "NaN" },
                ),
            }
        }
    }
    eprintln!("{} {label}: worst scaled error {worst:e}", fixture.name);
    worst
}

#[test]
fn sma_matches_talib() {
    for f in &fixtures() {
        for p in [10, 20] {
            let col = format!("sma_{p}");
            check(
                f,
                &col,
                Sma::new(p).unwrap(),
                &[(&col, |v| *v, Scale::Value)],
            );
        }
    }
}

#[test]
fn ema_matches_talib() {
    for f in &fixtures() {
        for p in [10, 26] {
            let col = format!("ema_{p}");
            check(
                f,
                &col,
                Ema::new(p).unwrap(),
                &[(&col, |v| *v, Scale::Value)],
            );
        }
    }
}

#[test]
fn rsi_matches_talib() {
    for f in &fixtures() {
        for p in [14, 2] {
            let col = format!("rsi_{p}");
            check(
                f,
                &col,
                Rsi::new(p).unwrap(),
                &[(&col, |v| *v, Scale::Oscillator)],
            );
        }
    }
}

#[test]
fn macd_matches_talib() {
    for f in &fixtures() {
        for (fast, slow, signal) in [(12, 26, 9), (5, 13, 4)] {
            let name = format!("macd_{fast}_{slow}_{signal}");
            check(
                f,
                &name,
                Macd::new(fast, slow, signal).unwrap(),
                &[
                    (&format!("{name}_line"), |v| v.line, Scale::PriceDifference),
                    (
                        &format!("{name}_signal"),
                        |v| v.signal,
                        Scale::PriceDifference,
                    ),
                    (
                        &format!("{name}_hist"),
                        |v| v.histogram,
                        Scale::PriceDifference,
                    ),
                ],
            );
        }
    }
}

#[test]
fn bollinger_matches_talib() {
    for f in &fixtures() {
        for (period, up, down, tag) in [
            (20, 2.0, 2.0, "20_2_2"),
            (10, 1.5, 1.5, "10_1.5_1.5"),
            (20, 2.5, 1.5, "20_2.5_1.5"),
        ] {
            let name = format!("bbands_{tag}");
            check(
                f,
                &name,
                BollingerBands::new(period, up, down).unwrap(),
                &[
                    (&format!("{name}_upper"), |v| v.upper, Scale::Value),
                    (&format!("{name}_middle"), |v| v.middle, Scale::Value),
                    (&format!("{name}_lower"), |v| v.lower, Scale::Value),
                ],
            );
        }
    }
}

fn atr_fixtures() -> [Fixture; 4] {
    [
        Fixture::load("talib_atr_random_walk.csv"),
        Fixture::load("talib_atr_edge_cases.csv"),
        Fixture::load("talib_atr_high_price.csv"),
        Fixture::load("talib_atr_low_price.csv"),
    ]
}

impl Fixture {
    /// A column that has a value on every row.
    fn full(&self, name: &str) -> Vec<f64> {
        self.column(name)
            .iter()
            .map(|v| v.unwrap_or_else(|| panic!("{}: a {name} on every row", self.name)))
            .collect()
    }
}

#[test]
fn atr_matches_talib() {
    for f in &atr_fixtures() {
        let (high, low, close) = (f.full("high"), f.full("low"), f.full("close"));
        assert!(close.len() >= 200, "{}: {} bars", f.name, close.len());
        for p in [14, 5, 1] {
            let column = format!("atr_{p}");
            let want = f.column(&column);
            let mut atr = Atr::new(p).unwrap();
            assert_eq!(
                want.iter().position(Option::is_some),
                Some(atr.lookback()),
                "{} {column}: TA-Lib's first value is not at lookback()",
                f.name
            );
            let mut worst = 0.0_f64;
            for i in 0..close.len() {
                let got = atr
                    .update(high[i], low[i], close[i])
                    .unwrap_or_else(|e| panic!("{} bar {i}: {e}", f.name));
                match (got, want[i]) {
                    (None, None) => {}
                    (Some(got), Some(want)) => {
                        // A plain relative error: where TA-Lib's ATR is 0
                        // (a flat start) this one must be exactly 0 too.
                        let denominator = Scale::Value.denominator(want, close[i]);
                        assert!(
                            within_tolerance(got, want, denominator),
                            "{} {column}[{i}]: got {got:e}, TA-Lib {want:e}",
                            f.name
                        );
                        worst = worst.max((got - want).abs() / denominator);
                    }
                    (got, want) => panic!("{} {column}[{i}]: got {got:?}, TA-Lib {want:?}", f.name),
                }
            }
            eprintln!("{} {column}: worst scaled error {worst:e}", f.name);
        }
    }
}

/// The edge-case bars really exercise what they are there for: true ranges
/// that reach back to the previous close, and flat bars (true range 0).
#[test]
fn atr_fixtures_cover_gaps_and_flat_bars() {
    let f = Fixture::load("talib_atr_edge_cases.csv");
    let (high, low, close) = (f.full("high"), f.full("low"), f.full("close"));
    let tr = f.column("atr_1");
    let mut gaps = 0;
    let mut flat = 0;
    for i in 1..close.len() {
        let range = high[i] - low[i];
        let want = tr[i].expect("ATR(1) from bar 1 on");
        if want > range {
            gaps += 1;
        }
        if want == 0.0 {
            flat += 1;
        }
    }
    assert!(gaps >= 5, "{gaps} bars whose true range passes their range");
    assert!(flat >= 50, "{flat} flat bars");
}

/// The comparison itself must be able to fail: a value off by 1e-8 relative
/// is outside the tolerance, one off by 1e-10 is inside.
#[test]
fn tolerance_rejects_a_wrong_value() {
    let value = |want| Scale::Value.denominator(want, 100.0);
    assert!(within_tolerance(100.0 * (1.0 + 1e-10), 100.0, value(100.0)));
    assert!(!within_tolerance(100.0 * (1.0 + 1e-8), 100.0, value(100.0)));
    assert!(!within_tolerance(5e-4 * (1.0 + 1e-8), 5e-4, value(5e-4)));
    assert!(!within_tolerance(1e-300, 0.0, value(0.0)));
    let rsi = |want| Scale::Oscillator.denominator(want, 100.0);
    assert!(within_tolerance(1e-10, 0.0, rsi(0.0)));
    assert!(!within_tolerance(1e-8, 0.0, rsi(0.0)));
    let macd = |want, close| Scale::PriceDifference.denominator(want, close);
    assert!(within_tolerance(1e-11, 0.0, macd(0.0, 100.0)));
    assert!(!within_tolerance(1e-9, 0.0, macd(0.0, 100.0)));
    assert!(!within_tolerance(1e-15, 0.0, macd(0.0, 5e-4)));
}

/// Fed through the same instance twice, with `reset()` between, the outputs
/// are identical: reset really forgets everything.
#[test]
fn reset_reproduces_the_run() {
    let [walk, ..] = fixtures();
    let closes = &walk.closes()[..300];
    let mut macd = Macd::new(12, 26, 9).unwrap();
    let first: Vec<_> = closes.iter().map(|&x| macd.update(x).unwrap()).collect();
    macd.reset();
    let second: Vec<_> = closes.iter().map(|&x| macd.update(x).unwrap()).collect();
    assert_eq!(first, second);
}
