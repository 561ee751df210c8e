//! Tests of the brain's strategies: the exact bars on which `sma-cross` and
//! `rsi-reversion` change position, warm-up, parameter errors, bad closes and
//! the restart property (save, restore into a fresh strategy, continue
//! exactly as an uninterrupted run).
//!
//! Kept as one file: the tests of both strategies share the close series and
//! the restart-property harness; a file under tests/ is a test binary, linked
//! once.

use std::collections::BTreeMap;

use aegis_engine::indicators::{Indicator, Rsi};
use aegis_engine::strategy::{
    build, catalog, RsiReversion, RsiReversionParams, SmaCross, SmaCrossParams, Strategy,
    StrategyError, Target, BOOL, INTEGER, NUMBER,
};
use proptest::prelude::*;
use proptest::strategy::Strategy as _;
use serde_json::{json, Value};

use Target::{Flat, Long, Short};

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strategy(name: &str, pairs: &[(&str, &str)]) -> Box<dyn Strategy> {
    match build(name, &params(pairs)) {
        Ok(s) => s,
        Err(e) => panic!("building {name} {pairs:?}: {e}"),
    }
}

fn build_error(name: &str, pairs: &[(&str, &str)]) -> StrategyError {
    match build(name, &params(pairs)) {
        Ok(_) => panic!("{name} {pairs:?} built but should not"),
        Err(e) => e,
    }
}

fn run(s: &mut dyn Strategy, closes: &[f64]) -> Vec<Target> {
    closes.iter().map(|&c| s.on_close(c)).collect()
}

// ---------------------------------------------------------------- sma-cross

/// With fast = 1 and slow = 2 the fast SMA is the close and the slow one the
/// mean of the last two, so fast > slow exactly when the close rose, and
/// fast == slow when it did not move.
const ONE_TWO_SERIES: [f64; 9] = [10.0, 10.0, 10.0, 11.0, 12.0, 12.0, 11.0, 11.0, 12.0];

#[test]
fn sma_cross_changes_on_the_exact_cross_bars() {
    let mut s = strategy("sma-cross", &[("fast", "1"), ("slow", "2")]);
    assert_eq!(s.warmup(), 2);
    // bar 3: previous fast == slow (10, 10) counts as <=, now 11 > 10.5: long.
    // bar 4, 5: no cross (bar 5 is equal, not below): held.
    // bar 6: previous equal (12, 12) counts as >=, now 11 < 11.5: flat.
    // bar 8: previous equal (11, 11), now 12 > 11.5: long again.
    assert_eq!(
        run(s.as_mut(), &ONE_TWO_SERIES),
        [Flat, Flat, Flat, Long, Long, Long, Flat, Flat, Long]
    );
    assert_eq!(s.target(), Long);
}

#[test]
fn sma_cross_short_mode_goes_short_on_the_down_cross_and_long_from_short() {
    let mut s = strategy(
        "sma-cross",
        &[("fast", "1"), ("slow", "2"), ("short", "true")],
    );
    assert_eq!(
        run(s.as_mut(), &ONE_TWO_SERIES),
        [Flat, Flat, Flat, Long, Long, Long, Short, Short, Long]
    );
}

#[test]
fn sma_cross_down_cross_while_flat_stays_flat_without_short() {
    let mut s = strategy("sma-cross", &[("fast", "1"), ("slow", "2")]);
    assert_eq!(run(s.as_mut(), &[10.0, 10.0, 9.0, 8.0, 8.0]), [Flat; 5]);
    let mut s = strategy(
        "sma-cross",
        &[("fast", "1"), ("slow", "2"), ("short", "true")],
    );
    assert_eq!(
        run(s.as_mut(), &[10.0, 10.0, 9.0, 8.0, 8.0, 9.0]),
        [Flat, Flat, Short, Short, Short, Long]
    );
}

#[test]
fn sma_cross_first_possible_cross_is_the_bar_after_warmup() {
    // slow SMA exists from bar 1; bar 2 is the first with a previous bar.
    let mut s = strategy("sma-cross", &[("fast", "1"), ("slow", "2")]);
    assert_eq!(run(s.as_mut(), &[10.0, 9.0, 11.0]), [Flat, Flat, Long]);
}

#[test]
fn sma_cross_fast_above_slow_from_the_start_is_no_cross() {
    // fast=2, slow=3 on a steady rise: fast > slow on every bar where both
    // exist, but it never crossed, so the strategy stays flat; the fall
    // afterwards is a down-cross on bar 6 (fast 3.5 -> 2.5, slow 3.33 -> 3).
    let mut s = strategy(
        "sma-cross",
        &[("fast", "2"), ("slow", "3"), ("short", "true")],
    );
    assert_eq!(
        run(s.as_mut(), &[1.0, 2.0, 3.0, 4.0, 5.0, 4.0, 2.0, 1.0]),
        [Flat, Flat, Flat, Flat, Flat, Flat, Short, Short]
    );
}

#[test]
fn sma_cross_holds_between_crosses_over_a_long_trend() {
    let mut s = strategy("sma-cross", &[("fast", "3"), ("slow", "5")]);
    let mut closes = vec![10.0; 6];
    closes.extend((1..=50).map(|i| 10.0 + f64::from(i)));
    let targets = run(s.as_mut(), &closes);
    // the first rise after a flat run crosses on its first bar, then holds.
    assert_eq!(targets[..6], [Flat; 6]);
    assert!(targets[6..].iter().all(|&t| t == Long), "{targets:?}");
}

/// The rules of sma-cross restated over plain windowed means.
fn sma_cross_model(p: SmaCrossParams, closes: &[f64]) -> Vec<Target> {
    let mean = |end: usize, n: usize| closes[end + 1 - n..=end].iter().sum::<f64>() / n as f64;
    let mut target = Flat;
    let mut previous: Option<(f64, f64)> = None;
    let mut out = Vec::new();
    for i in 0..closes.len() {
        if i + 1 >= p.slow {
            let (f, s) = (mean(i, p.fast), mean(i, p.slow));
            if let Some((pf, ps)) = previous {
                if pf <= ps && f > s {
                    target = Long;
                } else if pf >= ps && f < s {
                    target = if p.short { Short } else { Flat };
                }
            }
            previous = Some((f, s));
        }
        out.push(target);
    }
    out
}

// ------------------------------------------------------------ rsi-reversion

#[test]
fn rsi_reversion_follows_its_thresholds() {
    // period 2: RSI 0 at bar 2 (two falls), 50, 75, 87.5 on the rises after.
    let closes = [10.0, 9.0, 8.0, 9.0, 10.0, 11.0];
    let mut s = strategy("rsi-reversion", &[("period", "2")]);
    assert_eq!(s.warmup(), 2);
    assert_eq!(
        run(s.as_mut(), &closes),
        [Flat, Flat, Long, Long, Flat, Flat]
    );
    let mut s = strategy("rsi-reversion", &[("period", "2"), ("short", "true")]);
    assert_eq!(
        run(s.as_mut(), &closes),
        [Flat, Flat, Long, Long, Short, Short]
    );
    // Short -> Long on oversold: after 87.5, two falls of 3 bring RSI below 30.
    assert_eq!(run(s.as_mut(), &[8.0, 5.0]), [Long, Long]);
}

#[test]
fn rsi_reversion_flat_goes_short_on_overbought_only_in_short_mode() {
    // period 2 on a steady rise: RSI 100 from bar 2.
    let closes = [1.0, 2.0, 3.0, 4.0];
    let mut s = strategy("rsi-reversion", &[("period", "2")]);
    assert_eq!(run(s.as_mut(), &closes), [Flat; 4]);
    let mut s = strategy("rsi-reversion", &[("period", "2"), ("short", "true")]);
    assert_eq!(run(s.as_mut(), &closes), [Flat, Flat, Short, Short]);
}

#[test]
fn rsi_reversion_thresholds_are_strict() {
    // period 2: +1 then -1 gives RSI exactly 50 at bar 2.
    let closes = [10.0, 11.0, 10.0];
    let at = |oversold: &str, overbought: &str| {
        let mut s = strategy(
            "rsi-reversion",
            &[
                ("period", "2"),
                ("oversold", oversold),
                ("overbought", overbought),
                ("short", "true"),
            ],
        );
        run(s.as_mut(), &closes)[2]
    };
    assert_eq!(at("50", "60"), Flat); // 50 is not < 50
    assert_eq!(at("50.000001", "60"), Long);
    assert_eq!(at("40", "50"), Flat); // 50 is not > 50
    assert_eq!(at("40", "49.999999"), Short);
}

#[test]
fn rsi_reversion_long_holds_through_the_middle_band() {
    // period 2 closes whose RSI goes 0, then moves around below 70.
    let mut rsi = Rsi::new(2).expect("period 2 is valid");
    let closes = [10.0, 9.0, 8.0, 8.5, 8.2, 8.6, 8.3];
    let values: Vec<Option<f64>> = closes
        .iter()
        .map(|&c| rsi.update(c).expect("finite close"))
        .collect();
    assert_eq!(values[2], Some(0.0));
    // Never above overbought afterwards, and back above oversold at times:
    // the position is held all the same.
    assert!(
        values[3..].iter().flatten().all(|&v| v <= 70.0),
        "{values:?}"
    );
    assert!(
        values[3..].iter().flatten().any(|&v| v > 30.0),
        "{values:?}"
    );
    let mut s = strategy("rsi-reversion", &[("period", "2")]);
    assert_eq!(run(s.as_mut(), &closes)[2..], [Long; 5]);
}

/// The rules of rsi-reversion restated over the RSI indicator's values.
fn rsi_reversion_model(p: RsiReversionParams, closes: &[f64]) -> Vec<Target> {
    let mut rsi = Rsi::new(p.period).expect("valid period");
    let mut target = Flat;
    closes
        .iter()
        .map(|&c| {
            if let Some(r) = rsi.update(c).expect("finite close") {
                target = match target {
                    Flat if r < p.oversold => Long,
                    Flat if p.short && r > p.overbought => Short,
                    Long if r > p.overbought && p.short => Short,
                    Long if r > p.overbought => Flat,
                    Short if r < p.oversold => Long,
                    t => t,
                };
            }
            target
        })
        .collect()
}

// ------------------------------------------------------------------ errors

/// A strategy name, its parameters and the error message they must give.
type ErrorCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn unknown_strategy_lists_the_known_ones() {
    assert_eq!(
        build_error("foo", &[]).to_string(),
        "unknown strategy \"foo\"; known: sma-cross, rsi-reversion, rules"
    );
}

#[test]
fn unknown_param_names_it_and_the_known_ones() {
    assert_eq!(
        build_error("sma-cross", &[("fats", "3")]).to_string(),
        "unknown param \"fats\" for strategy \"sma-cross\"; known: fast, slow, short"
    );
    assert_eq!(
        build_error("rsi-reversion", &[("fast", "3")]).to_string(),
        "unknown param \"fast\" for strategy \"rsi-reversion\"; \
         known: period, oversold, overbought, short"
    );
}

#[test]
fn bad_values_name_the_param_and_the_value() {
    let cases: &[ErrorCase] = &[
        (
            "sma-cross",
            &[("fast", "x")],
            "param fast = \"x\": not an integer",
        ),
        (
            "sma-cross",
            &[("slow", "2.5")],
            "param slow = \"2.5\": not an integer",
        ),
        (
            "sma-cross",
            &[("fast", "-1")],
            "param fast = \"-1\": must not be negative",
        ),
        (
            "sma-cross",
            &[("fast", "0")],
            "param fast = \"0\": must be between 1 and 100000",
        ),
        (
            "sma-cross",
            &[("slow", "100001")],
            "param slow = \"100001\": must be between 1 and 100000",
        ),
        (
            "sma-cross",
            &[("short", "yes")],
            "param short = \"yes\": not a bool (true or false)",
        ),
        (
            "rsi-reversion",
            &[("period", "0")],
            "param period = \"0\": must be between 2 and 100000",
        ),
        (
            "rsi-reversion",
            &[("period", "1")],
            "param period = \"1\": must be between 2 and 100000",
        ),
        (
            "rsi-reversion",
            &[("oversold", "low")],
            "param oversold = \"low\": not a number",
        ),
        (
            "rsi-reversion",
            &[("overbought", "NaN")],
            "param overbought = \"NaN\": not a finite number",
        ),
    ];
    for (name, pairs, message) in cases {
        assert_eq!(
            build_error(name, pairs).to_string(),
            *message,
            "{name} {pairs:?}"
        );
    }
}

#[test]
fn constraints_name_both_params() {
    let cases: &[ErrorCase] = &[
        (
            "sma-cross",
            &[("fast", "20"), ("slow", "10")],
            "slow (10) must be greater than fast (20)",
        ),
        (
            "sma-cross",
            &[("fast", "5"), ("slow", "5")],
            "slow (5) must be greater than fast (5)",
        ),
        (
            "sma-cross",
            &[("fast", "25")],
            "slow (20) must be greater than fast (25)",
        ),
        (
            "rsi-reversion",
            &[("oversold", "70"), ("overbought", "70")],
            "oversold (70) must be less than overbought (70)",
        ),
        (
            "rsi-reversion",
            &[("oversold", "80")],
            "oversold (80) must be less than overbought (70)",
        ),
        (
            "rsi-reversion",
            &[("oversold", "0")],
            "oversold (0) must be greater than 0",
        ),
        (
            "rsi-reversion",
            &[("overbought", "100")],
            "overbought (100) must be less than 100",
        ),
    ];
    for (name, pairs, message) in cases {
        let e = build_error(name, pairs);
        assert!(matches!(e, StrategyError::Constraint { .. }), "{e:?}");
        assert_eq!(e.to_string(), *message, "{name} {pairs:?}");
    }
}

#[test]
fn typed_constructors_validate_like_build() {
    let e = SmaCross::new(SmaCrossParams {
        fast: 0,
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("param fast = \"0\""), "{e}");
    let e = RsiReversion::new(RsiReversionParams {
        oversold: f64::NAN,
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().starts_with("param oversold = \"NaN\""), "{e}");
    assert!(SmaCross::new(SmaCrossParams::default()).is_ok());
    assert!(RsiReversion::new(RsiReversionParams::default()).is_ok());
}

// ----------------------------------------------------------------- catalog

#[test]
fn catalog_defaults_build_and_match_the_typed_defaults() {
    let names: Vec<&str> = catalog().iter().map(|i| i.name).collect();
    assert_eq!(names, ["sma-cross", "rsi-reversion", "rules"]);
    for info in catalog() {
        assert!(!info.summary.is_empty());
        if info.name == "rules" {
            // Its rules are the strategy (engine/tests/rules.rs).
            assert!(info.params.is_empty());
            assert!(build_error("rules", &[])
                .to_string()
                .contains("needs its rules"));
            continue;
        }
        for p in info.params {
            assert!(
                [INTEGER, NUMBER, BOOL].contains(&p.kind),
                "{}.{}",
                info.name,
                p.name
            );
            assert!(!p.doc.is_empty());
        }
        let s = strategy(info.name, &[]);
        assert_eq!(s.name(), info.name);
        // Giving every default explicitly builds the same strategy.
        let explicit: Vec<(&str, &str)> = info.params.iter().map(|p| (p.name, p.default)).collect();
        assert_eq!(strategy(info.name, &explicit).save(), s.save());
    }
    let sma = strategy("sma-cross", &[]);
    let typed = SmaCross::new(SmaCrossParams::default()).expect("defaults are valid");
    assert_eq!(sma.save(), typed.save());
    assert_eq!(sma.warmup(), 20);
    let rsi = strategy("rsi-reversion", &[]);
    let typed = RsiReversion::new(RsiReversionParams::default()).expect("defaults are valid");
    assert_eq!(rsi.save(), typed.save());
    assert_eq!(rsi.warmup(), 14);
}

#[test]
fn target_maps_to_the_signal_integers() {
    assert_eq!([Short, Flat, Long].map(Target::as_i64), [-1, 0, 1]);
    assert_eq!(Target::from_i64(1), Some(Long));
    assert_eq!(Target::from_i64(7), None);
    assert_eq!(Long.to_string(), "long");
}

// ---------------------------------------------------------------- restore

fn run_partially(name: &str, pairs: &[(&str, &str)], closes: &[f64]) -> Box<dyn Strategy> {
    let mut s = strategy(name, pairs);
    run(s.as_mut(), closes);
    s
}

#[test]
fn restore_refuses_garbage_and_mismatched_states_cleanly() {
    let fast_slow = [("fast", "2"), ("slow", "4")];
    let closes = [5.0, 6.0, 7.0, 6.0, 5.0, 6.5];
    let saved = run_partially("sma-cross", &fast_slow, &closes).save();
    let rsi_saved = run_partially("rsi-reversion", &[], &closes).save();

    let mut wrong_version = saved.clone();
    wrong_version["version"] = json!(2);
    let mut missing_state = saved.clone();
    missing_state
        .as_object_mut()
        .expect("an object")
        .remove("state");
    let mut bad_type = saved.clone();
    bad_type["state"]["target"] = json!("Sideways");
    let mut broken_window = saved.clone();
    broken_window["state"]["slow"]["window"]["next"] = json!(9);
    let mut short_window = saved.clone();
    short_window["state"]["fast"]["window"] = json!({"buf": [1.0], "next": 0, "len": 1});
    let mut other_period = saved.clone();
    other_period["state"]["fast"]["period"] = json!(3);
    other_period["state"]["fast"]["window"] = json!({"buf": [0.0, 0.0, 0.0], "next": 0, "len": 0});
    let mut short_target = saved.clone();
    short_target["state"]["target"] = json!("Short");
    let mut huge_close = saved.clone();
    huge_close["state"]["slow"]["window"]["buf"][0] = json!(1e300);

    let cases: Vec<(Value, &str)> = vec![
        (json!(null), "not a JSON object"),
        (json!([1, 2]), "not a JSON object"),
        (json!({}), "\"strategy\""),
        (
            rsi_saved,
            "for strategy \"rsi-reversion\", not \"sma-cross\"",
        ),
        (wrong_version, "version 2"),
        (missing_state, "\"state\" is missing"),
        (bad_type, "Sideways"),
        (broken_window, "state.slow.window has next = 9"),
        (
            short_window,
            "state.fast.window holds 1 closes but state.fast.period is 2",
        ),
        (other_period, "state.fast is an SMA(3), expected SMA(2)"),
        (short_target, "Short but short=false"),
        (huge_close, "state.slow.window.buf[0]"),
    ];
    for (state, needle) in cases {
        let mut s = run_partially("sma-cross", &fast_slow, &closes[..3]);
        let before = s.save();
        let e = s.restore(&state).expect_err(needle);
        assert!(matches!(e, StrategyError::BadState { .. }), "{e:?}");
        let message = e.to_string();
        assert!(
            message.starts_with("cannot restore strategy state: "),
            "{message}"
        );
        assert!(message.contains(needle), "{message} lacks {needle}");
        assert_eq!(s.save(), before, "a refused restore changed the state");
    }

    // Same strategy, other parameters.
    let mut s = strategy("sma-cross", &[("fast", "2"), ("slow", "5")]);
    let e = s.restore(&saved).unwrap_err().to_string();
    assert!(e.contains("slow=4") && e.contains("slow=5"), "{e}");
    let mut r = strategy("rsi-reversion", &[("oversold", "25")]);
    let e = r.restore(&run_partially("rsi-reversion", &[], &closes).save());
    assert!(e.unwrap_err().to_string().contains("oversold=30"));
}

#[test]
fn restore_refuses_an_rsi_of_another_period() {
    let mut saved = run_partially("rsi-reversion", &[("period", "3")], &[1.0, 2.0]).save();
    saved["state"]["rsi"]["period"] = json!(4);
    let mut s = strategy("rsi-reversion", &[("period", "3")]);
    let e = s.restore(&saved).unwrap_err().to_string();
    assert!(e.contains("state.rsi is an RSI(4), expected RSI(3)"), "{e}");
}

// ------------------------------------------------------------- properties

/// A strategy name and its parameters, small periods so trades happen.
fn any_strategy() -> impl proptest::strategy::Strategy<Value = (String, BTreeMap<String, String>)> {
    prop_oneof![
        (1usize..6, 1usize..8, any::<bool>()).prop_map(|(fast, gap, short)| {
            let slow = fast + gap;
            (
                "sma-cross".to_string(),
                params(&[
                    ("fast", &fast.to_string()),
                    ("slow", &slow.to_string()),
                    ("short", &short.to_string()),
                ]),
            )
        }),
        (2usize..10, 5.0f64..50.0, 0.5f64..45.0, any::<bool>()).prop_map(
            |(period, oversold, gap, short)| {
                (
                    "rsi-reversion".to_string(),
                    params(&[
                        ("period", &period.to_string()),
                        ("oversold", &oversold.to_string()),
                        ("overbought", &(oversold + gap).to_string()),
                        ("short", &short.to_string()),
                    ]),
                )
            }
        ),
    ]
}

/// A random walk from 100 whose steps are often exactly 0 (ties).
fn closes(max_len: usize) -> impl proptest::strategy::Strategy<Value = Vec<f64>> {
    prop::collection::vec(prop_oneof![1 => Just(0.0), 3 => -2.0f64..2.0], 0..max_len).prop_map(
        |steps| {
            steps
                .iter()
                .scan(100.0, |price, step| {
                    *price += step;
                    Some(*price)
                })
                .collect()
        },
    )
}

fn built(name: &str, p: &BTreeMap<String, String>) -> Box<dyn Strategy> {
    match build(name, p) {
        Ok(s) => s,
        Err(e) => panic!("{name} {p:?}: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn restart_continues_exactly(
        (name, p) in any_strategy(),
        closes in closes(150),
        split in 0.0f64..1.0,
        through_string in any::<bool>(),
    ) {
        let k = (closes.len() as f64 * split) as usize;
        let mut whole = built(&name, &p);
        let expected = run(whole.as_mut(), &closes);

        let mut first = built(&name, &p);
        let mut targets = run(first.as_mut(), &closes[..k]);
        let mut saved = first.save();
        if through_string {
            let text = serde_json::to_string(&saved).expect("a Value always prints");
            saved = serde_json::from_str(&text).expect("our own JSON parses");
        }
        let mut second = built(&name, &p);
        second.restore(&saved).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(second.save(), first.save());
        prop_assert_eq!(second.target(), first.target());
        targets.extend(run(second.as_mut(), &closes[k..]));
        prop_assert_eq!(&targets, &expected);
        prop_assert_eq!(second.save(), whole.save());
    }

    #[test]
    fn warmup_is_flat(
        (name, p) in any_strategy(),
        closes in closes(40),
    ) {
        let mut s = built(&name, &p);
        let warmup = s.warmup();
        let targets = run(s.as_mut(), &closes);
        prop_assert!(targets.iter().take(warmup).all(|&t| t == Flat), "{:?}", targets);
    }

    #[test]
    fn invalid_closes_change_nothing(
        (name, p) in any_strategy(),
        closes in closes(100),
        bad in prop::collection::vec(
            (0.0f64..1.0, prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e151, -1e200])),
            1..5,
        ),
    ) {
        let mut clean = built(&name, &p);
        let expected = run(clean.as_mut(), &closes);

        let mut positions: Vec<usize> =
            bad.iter().map(|(at, _)| (at * closes.len() as f64) as usize).collect();
        positions.sort_unstable();
        let mut s = built(&name, &p);
        let mut got = Vec::new();
        let mut bad_values = bad.iter().map(|&(_, v)| v);
        let mut positions = positions.into_iter().peekable();
        for (i, &c) in closes.iter().enumerate() {
            while positions.next_if(|&at| at == i).is_some() {
                let before = s.target();
                let v = bad_values.next().unwrap_or(f64::NAN);
                prop_assert_eq!(s.on_close(v), before);
            }
            got.push(s.on_close(c));
        }
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(s.save(), clean.save());
    }

    #[test]
    fn sma_cross_matches_the_rules_on_integer_closes(
        fast in 1usize..5,
        gap in 1usize..6,
        short in any::<bool>(),
        steps in prop::collection::vec(-1i32..=1, 0..120),
    ) {
        // Integer closes: windowed sums are exact, so the naive means equal
        // the indicator's and ties (fast == slow) are frequent.
        let closes: Vec<f64> = steps
            .iter()
            .scan(50i32, |price, step| { *price += step; Some(f64::from(*price)) })
            .collect();
        let p = SmaCrossParams { fast, slow: fast + gap, short };
        let mut s = SmaCross::new(p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(run(&mut s, &closes), sma_cross_model(p, &closes));
    }

    #[test]
    fn rsi_reversion_matches_the_rules(
        period in 2usize..8,
        oversold in 5.0f64..50.0,
        gap in 0.5f64..45.0,
        short in any::<bool>(),
        closes in closes(150),
    ) {
        let p = RsiReversionParams { period, oversold, overbought: oversold + gap, short };
        let mut s = RsiReversion::new(p).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(run(&mut s, &closes), rsi_reversion_model(p, &closes));
    }
}
