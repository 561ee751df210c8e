//! Tests of the `rules` strategy as the engine runs it: `sma-cross` written
//! as rules trades exactly as the built-in on the example data and on a
//! long synthetic series, the example rule files in docs/examples/ run on
//! the example data, a restored strategy continues exactly, and evaluation
//! edge cases (division by zero, warm-up, bad candles) give "no signal"
//! rather than a panic. `atr(n)`, which reads whole bars, trades, restores
//! and gives the engine's ATR.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aegis_contract::records::Candle;
use aegis_contract::strategy::{parse_with_rules, RulesSpec};
use aegis_engine::indicators::Atr;
use aegis_engine::market::csv::CsvReplay;
use aegis_engine::strategy::{build, from_params, Strategy, StrategyError, Target};
use rand::{Rng, SeedableRng};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples")
}

/// The validated candles of the example data.
fn example_candles() -> Vec<Candle> {
    let file =
        std::fs::File::open(examples().join("btcusdt-1h-synthetic.csv")).expect("example data");
    CsvReplay::new(file)
        .expect("a CSV")
        .validated()
        .map(|item| item.expect("readable").expect("a valid row").candle)
        .collect()
}

fn rules(spec: &RulesSpec) -> Box<dyn Strategy> {
    from_params(parse_with_rules("rules", &BTreeMap::new(), Some(spec)).expect("valid rules"))
        .expect("built")
}

fn spec_file(name: &str) -> RulesSpec {
    let text = std::fs::read_to_string(examples().join(name)).expect("the example file");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn sma_cross_rules(fast: usize, slow: usize, short: bool) -> RulesSpec {
    RulesSpec {
        indicators: BTreeMap::from([
            ("fast".into(), format!("sma(close, {fast})")),
            ("slow".into(), format!("sma(close, {slow})")),
        ]),
        enter_long: "crossAbove(fast, slow)".into(),
        exit_long: "crossBelow(fast, slow)".into(),
        enter_short: short.then(|| "crossBelow(fast, slow)".into()),
        exit_short: None,
        params: BTreeMap::new(),
    }
}

fn builtin(fast: usize, slow: usize, short: bool) -> Box<dyn Strategy> {
    let p = BTreeMap::from([
        ("fast".to_string(), fast.to_string()),
        ("slow".to_string(), slow.to_string()),
        ("short".to_string(), short.to_string()),
    ]);
    build("sma-cross", &p).expect("sma-cross")
}

fn targets(s: &mut dyn Strategy, candles: &[Candle]) -> Vec<Target> {
    candles.iter().map(|c| s.on_candle(c)).collect()
}

/// The bars on which the target changes, with the new target.
fn changes(targets: &[Target]) -> Vec<(usize, Target)> {
    let mut last = Target::Flat;
    let mut out = Vec::new();
    for (i, &t) in targets.iter().enumerate() {
        if t != last {
            out.push((i, t));
            last = t;
        }
    }
    out
}

fn random_walk(n: usize, seed: u64) -> Vec<Candle> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut close = 100.0_f64;
    (0..n)
        .map(|i| {
            let open = close;
            // Whole cents, and long flat stretches: equal averages happen.
            let step = if rng.random_bool(0.2) {
                0.0
            } else {
                rng.random_range(-50..=50) as f64 / 100.0
            };
            close = (close + step).max(1.0);
            Candle {
                seq: i as u64,
                ts_ms: i as i64 * 60_000,
                open,
                high: open.max(close) + 0.05,
                low: open.min(close) - 0.05,
                close,
                volume: rng.random_range(1.0..10.0),
                ingest_ns: 0,
            }
        })
        .collect()
}

#[test]
fn sma_cross_as_rules_trades_exactly_as_the_builtin_on_the_example_data() {
    let candles = example_candles();
    assert!(candles.len() > 1000);
    for (fast, slow) in [(10, 20), (1, 2), (5, 50), (20, 100)] {
        for short in [false, true] {
            let want = targets(builtin(fast, slow, short).as_mut(), &candles);
            let got = targets(
                rules(&sma_cross_rules(fast, slow, short)).as_mut(),
                &candles,
            );
            assert!(changes(&want).len() > 4, "({fast}, {slow}) trades");
            assert_eq!(
                changes(&got),
                changes(&want),
                "fast {fast} slow {slow} short {short}"
            );
        }
    }
    // The shipped file is the default sma-cross.
    let mut file = rules(&spec_file("rules-sma-cross.yaml"));
    assert_eq!(
        targets(file.as_mut(), &candles),
        targets(builtin(10, 20, false).as_mut(), &candles)
    );
    assert_eq!(file.warmup(), builtin(10, 20, false).warmup());
}

#[test]
fn sma_cross_as_rules_trades_exactly_as_the_builtin_on_a_long_series() {
    let candles = random_walk(300_000, 20);
    for (fast, slow, short) in [(10, 20, false), (3, 7, true), (50, 200, true)] {
        let want = targets(builtin(fast, slow, short).as_mut(), &candles);
        let got = targets(
            rules(&sma_cross_rules(fast, slow, short)).as_mut(),
            &candles,
        );
        let n = changes(&want).len();
        assert!(n > 100, "{n} changes");
        assert!(
            got == want,
            "fast {fast} slow {slow} short {short}: first difference at {:?}",
            got.iter().zip(&want).position(|(a, b)| a != b)
        );
    }
}

const EXAMPLES: &[&str] = &[
    "rules-sma-cross.yaml",
    "rules-trend-filter.yaml",
    "rules-macd.yaml",
    "rules-bollinger.yaml",
    "rules-rsi.yaml",
];

#[test]
fn every_example_rule_file_trades_on_the_example_data_and_restarts_exactly() {
    let candles = example_candles();
    for name in EXAMPLES {
        let spec = spec_file(name);
        let mut s = rules(&spec);
        let all = targets(s.as_mut(), &candles);
        let n = changes(&all).len();
        assert!(n >= 4, "{name}: {n} position changes");
        assert!(
            all[..s.warmup()].iter().all(|&t| t == Target::Flat),
            "{name}: warm-up"
        );
        if spec.enter_short.is_some() {
            assert!(all.contains(&Target::Short), "{name} goes short");
        }
        assert_eq!(s.no_signal_bars(), 0, "{name}: every bar decided");
        // Stop anywhere, save through text, restore into a fresh one: the
        // rest is the same.
        for cut in [0, 1, s.warmup(), 777, candles.len() - 1] {
            let mut first = rules(&spec);
            targets(first.as_mut(), &candles[..cut]);
            let text = serde_json::to_string(&first.save()).expect("json");
            let mut second = rules(&spec);
            second
                .restore(&serde_json::from_str(&text).expect("json"))
                .unwrap_or_else(|e| panic!("{name} at {cut}: {e}"));
            assert_eq!(
                targets(second.as_mut(), &candles[cut..]),
                all[cut..],
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn checkpoints_stay_within_the_contract_bound() {
    let spec = RulesSpec {
        indicators: BTreeMap::from([
            ("a".into(), "sma(close, 3000)".into()),
            ("b".into(), "bb_upper(high, 2000, 2.5)".into()),
            ("c".into(), "ema(macd_signal(volume, 5, 300, 40), 7)".into()),
            ("d".into(), "atr(500)".into()),
        ]),
        enter_long: "a > b[300] && c > prev(c) && d[20] > 0".into(),
        exit_long: "close[999] > a".into(),
        ..RulesSpec::default()
    };
    let params = parse_with_rules("rules", &BTreeMap::new(), Some(&spec)).expect("valid");
    let bound = params.checkpoint_bytes_max();
    let mut s = from_params(params).expect("built");
    // Values of the longest JSON form fill every window.
    for i in 0..5000u64 {
        let x = -f64::from_bits(f64::MIN_POSITIVE.to_bits() + 7919 * i + 1);
        s.on_candle(&Candle {
            seq: i,
            ts_ms: 0,
            open: x,
            high: x,
            low: x,
            close: x,
            volume: x,
            ingest_ns: 0,
        });
    }
    let bytes = serde_json::to_vec(&s.save()).expect("json").len() as u64;
    assert!(bytes <= bound, "{bytes} > {bound}");
}

#[test]
fn restore_refuses_other_rules_and_broken_states() {
    let candles = example_candles();
    let spec = spec_file("rules-rsi.yaml");
    let mut s = rules(&spec);
    targets(s.as_mut(), &candles[..300]);
    let saved = s.save();

    let mut other = rules(&spec_file("rules-macd.yaml"));
    let before = other.save();
    let e = other.restore(&saved).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot restore strategy state: it was saved for other rules than this strategy's"
    );
    assert_eq!(other.save(), before, "unchanged on error");

    let broken = |edit: &dyn Fn(&mut serde_json::Value)| -> StrategyError {
        let mut v = saved.clone();
        edit(&mut v);
        rules(&spec).restore(&v).unwrap_err()
    };
    let e = broken(&|v| v["state"]["history"][5]["values"] = serde_json::json!([]));
    assert!(e.to_string().contains("at least one value"), "{e}");
    let e = broken(&|v| {
        v["state"]["history"]
            .as_array_mut()
            .unwrap()
            .pop()
            .map(drop)
            .unwrap()
    });
    assert!(e.to_string().contains("values per series"), "{e}");
    let e = broken(
        &|v| v["state"]["indicators"][0] = serde_json::json!({"Sma": {"period": 1, "window": {"buf": [1.0], "next": 0, "len": 1}, "sum": {"sum": 1.0, "compensation": 0.0}}}),
    );
    assert!(
        e.to_string().starts_with("cannot restore strategy state:"),
        "{e}"
    );
    let e = broken(&|v| {
        v["state"]["target"] = serde_json::json!("Long");
        v["state"]["entry_close"] = serde_json::Value::Null;
    });
    assert!(e.to_string().contains("entry_close"), "{e}");
    let e = broken(&|v| v["strategy"] = serde_json::json!("sma-cross"));
    assert!(e.to_string().contains("not \"rules\""), "{e}");
}

fn candle(i: u64, close: f64) -> Candle {
    Candle {
        seq: i,
        ts_ms: i as i64,
        open: close,
        high: close + 1.0,
        low: close - 1.0,
        close,
        volume: 5.0,
        ingest_ns: 0,
    }
}

fn simple(enter: &str, exit: &str) -> Box<dyn Strategy> {
    rules(&RulesSpec {
        enter_long: enter.into(),
        exit_long: exit.into(),
        ..RulesSpec::default()
    })
}

#[test]
fn division_by_zero_is_no_signal_and_counted() {
    // close / (high - low - 2) divides by zero on every bar.
    let mut s = simple("close / (high - low - 2) > 1", "false");
    for i in 0..10 {
        assert_eq!(s.on_candle(&candle(i, 100.0)), Target::Flat);
    }
    assert_eq!(s.no_signal_bars(), 10);
    // An unknown side is absorbed by a deciding one, as in CEL.
    let mut s = simple(
        "close / (high - low - 2) > 1 || close > 50",
        "close % 0 > 1 && false",
    );
    assert_eq!(s.on_candle(&candle(0, 100.0)), Target::Long);
    assert_eq!(s.on_candle(&candle(1, 100.0)), Target::Long);
    assert_eq!(s.no_signal_bars(), 0);
}

#[test]
fn rules_wait_for_every_series_they_read() {
    let mut s = simple("close > 0 || sma(close, 50)[3] > 0", "false");
    assert_eq!(s.warmup(), 52);
    let got: Vec<Target> = (0..60).map(|i| s.on_candle(&candle(i, 10.0))).collect();
    assert!(got[..52].iter().all(|&t| t == Target::Flat));
    assert_eq!(got[52], Target::Long);
    assert_eq!(s.no_signal_bars(), 0);
}

#[test]
fn position_fields_drive_exits() {
    let mut s = simple(
        "!position.open && close > 0",
        "position.bars_held >= 3 || position.pnl_fraction > 0.1",
    );
    let got: Vec<Target> = [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 11.5, 11.5]
        .iter()
        .enumerate()
        .map(|(i, &c)| s.on_candle(&candle(i as u64, c)))
        .collect();
    use Target::{Flat, Long};
    // In on bar 0, held 3 bars, out on bar 3, in again on 4, out on 6 at +15%.
    assert_eq!(got, [Long, Long, Long, Flat, Long, Long, Flat, Long]);
}

#[test]
fn a_candle_the_indicators_refuse_changes_nothing() {
    let mut s = rules(&spec_file("rules-bollinger.yaml"));
    let candles = example_candles();
    targets(s.as_mut(), &candles[..100]);
    let before = s.save();
    for bad in [f64::NAN, f64::INFINITY, 1e200] {
        let mut c = candles[100];
        c.volume = bad;
        s.on_candle(&c);
        let mut c = candles[100];
        c.low = bad;
        s.on_candle(&c);
    }
    assert_eq!(s.save(), before);
    // A close alone reads as a candle of that close.
    let mut t = simple("open == close && high == low && volume == 0", "false");
    assert_eq!(t.on_close(5.0), Target::Long);
}

/// A volatility breakout with ATR-sized exits: long when the close clears
/// the EMA by one ATR, out when it falls an ATR below it or loses two ATRs.
fn atr_breakout() -> RulesSpec {
    RulesSpec {
        params: BTreeMap::from([("n".into(), 14.0)]),
        indicators: BTreeMap::from([
            ("vol".into(), "atr(n)".into()),
            ("mid".into(), "ema(close, 20)".into()),
        ]),
        enter_long: "close > mid + vol".into(),
        exit_long: "close < mid - vol || position.pnl_fraction * close < -2 * vol".into(),
        enter_short: Some("close < mid - 1.5 * atr(n)".into()),
        exit_short: Some("close > mid".into()),
    }
}

#[test]
fn an_atr_rule_trades_on_the_example_data_and_restarts_exactly() {
    let candles = example_candles();
    let spec = atr_breakout();
    let mut s = rules(&spec);
    assert_eq!(s.warmup(), 19, "the EMA's 19 outlasts the ATR's 14");
    let all = targets(s.as_mut(), &candles);
    let n = changes(&all).len();
    assert!(n >= 10, "{n} position changes");
    assert!(all.contains(&Target::Short) && all.contains(&Target::Long));
    assert_eq!(s.no_signal_bars(), 0, "every bar decided");
    // A longer ATR trades differently: the period really is read.
    let longer = spec
        .with_params(&BTreeMap::from([("n".to_string(), "50".to_string())]))
        .expect("a declared param");
    assert_ne!(targets(rules(&longer).as_mut(), &candles), all);
    for cut in [0, 1, 10, s.warmup(), 777, candles.len() - 1] {
        let mut first = rules(&spec);
        targets(first.as_mut(), &candles[..cut]);
        let text = serde_json::to_string(&first.save()).expect("json");
        let mut second = rules(&spec);
        second
            .restore(&serde_json::from_str(&text).expect("json"))
            .unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        assert_eq!(
            targets(second.as_mut(), &candles[cut..]),
            all[cut..],
            "cut at {cut}"
        );
    }
}

/// The last value of series `slot` in a saved rules strategy.
fn saved_value(s: &dyn Strategy, slot: usize) -> Option<f64> {
    let saved = s.save();
    let values = saved["state"]["history"][slot]["values"]
        .as_array()
        .expect("a history")
        .clone();
    values.last().and_then(serde_json::Value::as_f64)
}

#[test]
fn atr_in_a_rule_is_the_engines_atr_and_a_bar_it_refuses_is_no_signal() {
    let candles = example_candles();
    let mut s = simple("atr(14) > 0", "false");
    let mut atr = Atr::new(14).unwrap();
    // Slot 5 is the first indicator (after the five fields).
    for (i, c) in candles.iter().enumerate().take(400) {
        s.on_candle(c);
        let want = atr.update(c.high, c.low, c.close).expect("a valid candle");
        assert_eq!(saved_value(s.as_ref(), 5), want, "bar {i}");
    }
    // A candle whose close is above its high, or whose high is below its
    // low, passes the other checks but not ATR's: no value, no signal
    // counted, nothing in the ATR changes.
    let mut s = simple("atr(3) > 0.5", "atr(3) < 0.25");
    for i in 0..10 {
        s.on_candle(&candle(i, 100.0));
    }
    assert_eq!(s.target(), Target::Long);
    let indicators = s.save()["state"]["indicators"].clone();
    let before = s.no_signal_bars();
    let mut above = candle(10, 100.0);
    above.close = above.high + 5.0;
    let mut inverted = candle(11, 100.0);
    (inverted.high, inverted.low) = (inverted.low, inverted.high);
    for bad in [above, inverted] {
        assert_eq!(s.on_candle(&bad), Target::Long);
        assert_eq!(saved_value(s.as_ref(), 5), None);
        assert_eq!(s.save()["state"]["indicators"], indicators);
    }
    assert_eq!(s.no_signal_bars(), before + 2);
    // The next good candle continues as if the bad ones never came.
    s.on_candle(&candle(12, 100.0));
    assert_eq!(saved_value(s.as_ref(), 5), Some(2.0));
}

#[test]
fn restore_refuses_a_broken_atr() {
    let candles = example_candles();
    let spec = atr_breakout();
    let mut s = rules(&spec);
    targets(s.as_mut(), &candles[..100]);
    let saved = s.save();
    let atr_at = saved["state"]["indicators"]
        .as_array()
        .expect("indicators")
        .iter()
        .position(|i| i.get("Atr").is_some())
        .expect("an ATR");
    let broken = |edit: &dyn Fn(&mut serde_json::Value)| -> String {
        let mut v = saved.clone();
        edit(&mut v["state"]["indicators"][atr_at]["Atr"]);
        rules(&spec).restore(&v).unwrap_err().to_string()
    };
    let e = broken(&|a| a["seen"] = serde_json::json!(15));
    assert!(e.contains("more than the period"), "{e}");
    let e = broken(&|a| a["value"] = serde_json::json!(-1.0));
    assert!(e.contains("value -1"), "{e}");
    let e = broken(&|a| a["period"] = serde_json::json!(15));
    assert!(e.contains("is not the rules' Atr"), "{e}");
    // Untouched, it restores.
    rules(&spec).restore(&saved).expect("restores");
}
