//! The rules' checks: each class of error with its message and position,
//! and what a valid rule set compiles to.

use std::collections::BTreeMap;

use super::program::{Cond, Field, IndicatorKind, Input, Num};
use super::*;

fn spec(indicators: &[(&str, &str)], enter: &str, exit: &str) -> RulesSpec {
    RulesSpec {
        indicators: indicators
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        enter_long: enter.into(),
        exit_long: exit.into(),
        ..RulesSpec::default()
    }
}

fn error(indicators: &[(&str, &str)], enter: &str, exit: &str) -> String {
    compile(&spec(indicators, enter, exit))
        .expect_err("refused")
        .to_string()
}

const FAST_SLOW: &[(&str, &str)] = &[("fast", "sma(close, 10)"), ("slow", "sma(close, 30)")];

#[test]
fn a_cross_compiles_with_its_lookback_and_warmup() {
    let rules = compile(&spec(
        FAST_SLOW,
        "crossAbove(fast, slow)",
        "crossBelow(fast, slow)",
    ))
    .expect("valid");
    let p = &rules.program;
    assert_eq!(p.indicators.len(), 2);
    assert_eq!(p.indicators[1].kind, IndicatorKind::Sma { period: 30 });
    assert_eq!(p.indicators[1].input, Input::Field(Field::Close));
    // Both averages are read this bar and the one before.
    assert_eq!(p.depth, vec![1, 1, 1, 1, 1, 2, 2]);
    assert_eq!(p.warmup, 30);
    assert_eq!(p.window_values(), 7 + 2 + 10 + 30);
    assert!(matches!(p.enter_long, Cond::And(..)));
    assert!(!rules.shorts());
}

#[test]
fn indicators_chain_share_and_accumulate_lookback() {
    let rules = compile(&spec(
        &[("r", "rsi(close, 14)"), ("smooth", "ema(r, 5)")],
        "smooth < 30 && ema(rsi(close, 14), 5)[2] < 40",
        "macd_hist(close) > 0 || close < bb_lower(close, 20, 2.5)",
    ))
    .expect("valid");
    let p = &rules.program;
    // ema(rsi(close,14),5) written inline is the named smooth.
    assert_eq!(p.indicators.len(), 4, "{:?}", p.indicators);
    assert_eq!(p.indicators[1].input, Input::Indicator(0));
    // smooth at [2]: RSI's 14 + EMA's 4 + 2 bars back.
    // The MACD histogram's 33 is the longest (smooth at [2] needs 14 + 4 + 2).
    assert_eq!(p.warmup, 33);
    assert_eq!(p.depth[Program::slot_of(1)], 3);
}

#[test]
fn position_fields_compile_and_have_no_history() {
    let ok = compile(&spec(
        &[],
        "!position.open && close > 1",
        "position.bars_held >= 10 || position.pnl_fraction < -0.05",
    ))
    .expect("valid");
    assert!(matches!(ok.program.exit_long, Cond::Or(..)));
    assert_eq!(ok.program.warmup, 0);
    assert_eq!(
        error(&[], "prev(position.bars_held) > 1", "false"),
        "rules.enter_long at 1:6: the position has no history: position fields cannot be read in prev() or [n]"
    );
    assert_eq!(
        error(&[], "position.size > 1", "false"),
        "rules.enter_long at 1:1: position has no field \"size\"; it has open, bars_held, pnl_fraction"
    );
    assert!(error(&[], "position > 1", "false").contains("position is not a value"));
}

#[test]
fn every_class_of_error_names_rule_position_and_problem() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
    let cases: &[Case] = &[
        // syntax
        (FAST_SLOW, "fast >", "false", "rules.enter_long at 1:7: expected a value, found end of the rule"),
        (FAST_SLOW, "fast > 'a'", "false", "rules.enter_long at 1:8: strings are not supported in rules"),
        (&[("x", "sma(close,")], "true", "false", "rules.indicators.x at 1:11: expected a value, found end of the rule"),
        // unknown names and functions
        (FAST_SLOW, "true", "fast < slwo", "rules.exit_long at 1:8: unknown name \"slwo\"; known: open, high, low, close, volume, position, fast, slow"),
        (FAST_SLOW, "wma(close, 3) > 1", "false", "rules.enter_long at 1:1: unknown function \"wma\"; known: sma, ema, rsi, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, atr, prev, crossAbove, crossBelow, abs, min, max"),
        // types
        (FAST_SLOW, "fast - slow", "false", "rules.enter_long at 1:1: this is a number, but a rule must be a condition (true or false), e.g. `x > 0`"),
        (FAST_SLOW, "true", "fast && slow", "rules.exit_long at 1:1: each side of && must be a condition, but this is a number"),
        (FAST_SLOW, "(fast > slow) + 1 > 0", "false", "rules.enter_long at 1:2: each side of an arithmetic operator or comparison must be a number, but this is a condition"),
        (FAST_SLOW, "fast == true", "false", "rules.enter_long at 1:9: == and != compare two numbers or two conditions, not one of each"),
        // arity and parameters
        (&[("x", "sma(close)")], "true", "false", "rules.indicators.x at 1:1: sma takes 2 to 2 arguments, got 1: sma(series, period)"),
        (&[("x", "sma(close, 0)")], "true", "false", "rules.indicators.x at 1:12: sma: param period = \"0\": must be between 1 and 100000"),
        (&[("x", "rsi(close, 100001)")], "true", "false", "rules.indicators.x at 1:12: rsi: param period = \"100001\": must be between 2 and 100000"),
        (&[("x", "ema(close, 2.5)")], "true", "false", "rules.indicators.x at 1:12: ema's period must be a whole number, got 2.5"),
        (&[("x", "macd(close, 26, 12)")], "true", "false", "rules.indicators.x at 1:1: macd: fast (26) must be less than slow (12)"),
        (&[("x", "bb_upper(close, 20, 0)")], "true", "false", "rules.indicators.x at 1:21: bb_upper's k must be greater than 0, got 0"),
        (&[("x", "sma(close, fast)")], "true", "false", "rules.indicators.x at 1:12: sma's period must be a number written in the rule"),
        (&[("x", "sma(close + 1, 3)")], "true", "false", "rules.indicators.x at 1:5: an indicator reads a price field (open, high, low, close, volume), a named indicator or an indicator call"),
        (FAST_SLOW, "crossAbove(fast) ", "false", "rules.enter_long at 1:1: crossAbove takes 2 arguments, got 1: crossAbove(a, b): a was <= b on the previous bar and is > b now"),
        // cycles and names
        (&[("a", "ema(b, 3)"), ("b", "ema(a, 3)")], "true", "false", "rules.indicators.b at 1:5: indicator a depends on itself"),
        (&[("close", "sma(close, 3)")], "true", "false", "rules.indicators.close: \"close\" is a built-in name; choose another"),
        (&[("2x", "sma(close, 3)")], "true", "false", "rules.indicators.2x: an indicator's name must be letters, digits and _, not starting with a digit"),
        // look-back
        (&[], "close[1001] > 0", "false", "rules.enter_long at 1:7: looks back 1001 bars; at most 1000 are kept"),
        (&[], "prev(close[1000]) > 0", "false", "rules.enter_long at 1:6: looks back 1001 bars; at most 1000 are kept"),
        (&[], "close[fast] > 0", "false", "rules.enter_long at 1:7: a look-back x[n] needs a whole number of bars n, written as a literal"),
    ];
    for (indicators, enter, exit, want) in cases {
        assert_eq!(
            &error(indicators, enter, exit),
            want,
            "{enter} / {exit} / {indicators:?}"
        );
    }
}

#[test]
fn size_and_cost_are_bounded() {
    let long = vec!["close > 0"; 120].join(" && ");
    assert!(error(&[], &long, "false").contains("more than 500 operations per bar"));
    let huge = "x".repeat(MAX_RULE_BYTES + 1);
    assert_eq!(
        error(&[], &huge, "false"),
        format!(
            "rules.enter_long: {} bytes long, at most {MAX_RULE_BYTES}",
            MAX_RULE_BYTES + 1
        )
    );
    let many: Vec<(String, String)> = (0..=MAX_INDICATORS)
        .map(|i| (format!("s{i}"), format!("sma(close, {})", i + 1)))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    assert_eq!(
        error(&many, "true", "false"),
        "rules.indicators: 65 indicators, at most 64"
    );
    // Three maximal windows do not fit a checkpoint.
    let big = error(
        &[
            ("a", "sma(close, 100000)"),
            ("b", "sma(open, 100000)"),
            ("c", "sma(high, 100000)"),
        ],
        "a > b && b > c",
        "false",
    );
    assert!(
        big.starts_with("rules.indicators: the rules keep 300008 past values"),
        "{big}"
    );
}

#[test]
fn shorts_need_an_entry_and_parse_routes_rules() {
    let mut s = spec(
        FAST_SLOW,
        "crossAbove(fast, slow)",
        "crossBelow(fast, slow)",
    );
    s.exit_short = Some("true".into());
    assert_eq!(
        compile(&s).unwrap_err().to_string(),
        "rules.exit_short: there is no enter_short, so no short to exit"
    );
    s.enter_short = Some("crossBelow(fast, slow)".into());
    assert!(compile(&s).expect("valid").shorts());

    let none = BTreeMap::new();
    let parsed = crate::strategy::parse_with_rules(NAME, &none, Some(&s)).expect("rules");
    assert!(parsed.shorts());
    assert!(parsed.checkpoint_bytes_max() > CHECKPOINT_FIXED_BYTES);
    assert!(crate::strategy::parse(NAME, &none).is_err());
    assert_eq!(
        crate::strategy::parse_with_rules("sma-cross", &none, Some(&s))
            .unwrap_err()
            .to_string(),
        "rules are for strategy rules, not sma-cross"
    );
    let given = BTreeMap::from([("fast".to_string(), "3".to_string())]);
    assert!(crate::strategy::parse_with_rules(NAME, &given, Some(&s)).is_err());
}

#[test]
fn positions_count_characters_on_the_right_line() {
    let e = error(&[], "close > 0 &&\n  clos > 1", "false");
    assert!(
        e.starts_with("rules.enter_long at 2:3: unknown name \"clos\""),
        "{e}"
    );
    let e = error(&[], "\"é\" > 1", "false");
    assert_eq!(
        e,
        "rules.enter_long at 1:1: strings are not supported in rules"
    );
    let n = Num::Const(1.0);
    assert_eq!(n, Num::Const(1.0));
}

/// Rules with params `fast` and `slow` read by name.
fn with_params(fast: f64, slow: f64) -> RulesSpec {
    RulesSpec {
        params: BTreeMap::from([("fast".into(), fast), ("slow".into(), slow)]),
        ..spec(
            &[("f", "sma(close, fast)"), ("s", "sma(close, slow)")],
            "crossAbove(f, s) && close > fast",
            "crossBelow(f, s)",
        )
    }
}

#[test]
fn params_are_read_by_name_as_the_numbers_they_hold() {
    let rules = compile(&with_params(10.0, 30.0)).expect("valid");
    let written = compile(&spec(
        &[("f", "sma(close, 10)"), ("s", "sma(close, 30)")],
        "crossAbove(f, s) && close > 10",
        "crossBelow(f, s)",
    ))
    .expect("valid");
    assert_eq!(rules.program, written.program);
    // Set from text, the way --param and --grid give them.
    let set = with_params(10.0, 30.0)
        .with_params(&BTreeMap::from([("slow".to_string(), "40".to_string())]))
        .expect("a declared param");
    let set = compile(&set).expect("valid");
    assert_eq!(
        set.program.indicators[1].kind,
        IndicatorKind::Sma { period: 40 }
    );
    assert_eq!(set.spec.params["slow"], 40.0);
}

#[test]
fn params_are_checked_like_what_they_stand_for() {
    let msg = |spec: RulesSpec| compile(&spec).expect_err("refused").to_string();
    assert_eq!(
        msg(with_params(10.5, 30.0)),
        "rules.indicators.f at 1:12: sma's period must be a whole number, got 10.5"
    );
    assert!(
        msg(with_params(0.0, 30.0)).starts_with("rules.indicators.f at 1:12: sma: "),
        "{}",
        msg(with_params(0.0, 30.0))
    );
    let mut clash = with_params(10.0, 30.0);
    clash.params.insert("f".into(), 1.0);
    assert_eq!(
        msg(clash),
        "rules.params.f: \"f\" is also an indicator's name"
    );
    let mut builtin = with_params(10.0, 30.0);
    builtin.params.insert("close".into(), 1.0);
    assert_eq!(
        msg(builtin),
        "rules.params.close: \"close\" is a built-in name; choose another"
    );
    let mut bad = with_params(10.0, 30.0);
    bad.params.insert("nan".into(), f64::NAN);
    assert_eq!(msg(bad), "rules.params.nan: NaN is not a number");
    let set = |k: &str, v: &str| {
        with_params(10.0, 30.0)
            .with_params(&BTreeMap::from([(k.to_string(), v.to_string())]))
            .expect_err("refused")
            .to_string()
    };
    assert_eq!(
        set("medium", "5"),
        "rules.params.medium: not a param of the rules; they have fast, slow"
    );
    assert_eq!(
        set("fast", "ten"),
        "rules.params.fast: \"ten\" is not a number"
    );
    let none = spec(
        FAST_SLOW,
        "crossAbove(fast, slow)",
        "crossBelow(fast, slow)",
    )
    .with_params(&BTreeMap::from([("fast".to_string(), "5".to_string())]))
    .expect_err("refused")
    .to_string();
    assert_eq!(
        none,
        "rules.params.fast: the rules declare no params to set"
    );
}

#[test]
fn atr_reads_the_bar_and_counts_like_the_other_indicators() {
    let rules = compile(&spec(
        &[("vol", "atr(14)"), ("smooth", "ema(atr(14), 5)")],
        "close - prev(close) > 2 * vol[3]",
        "atr() < atr(1) || smooth > 0",
    ))
    .expect("valid");
    let p = &rules.program;
    // atr(14) written twice is one indicator; atr() is atr(14) too.
    assert_eq!(p.indicators.len(), 3, "{:?}", p.indicators);
    assert_eq!(p.indicators[0].kind, IndicatorKind::Atr { period: 14 });
    assert_eq!(p.indicators[0].input, Input::Bar);
    assert_eq!(p.indicators[1].input, Input::Indicator(0));
    assert!(p
        .indicators
        .iter()
        .any(|d| d.kind == IndicatorKind::Atr { period: 1 } && d.input == Input::Bar));
    // vol at [3]: 14 + 3; smooth: 14 + 4.
    assert_eq!(p.warmup, 18);
    assert_eq!(p.depth[Program::slot_of(0)], 4);
    assert_eq!(IndicatorKind::Atr { period: 7 }.lookback(), 7);
    // Only its history counts as past values, plus an indicator's fixed part.
    assert_eq!(IndicatorKind::Atr { period: 7 }.window_values(), 0);
    let one = compile(&spec(&[("vol", "atr(14)")], "vol > 1", "false")).expect("valid");
    let two = compile(&spec(
        &[("vol", "atr(14)"), ("v2", "atr(15)")],
        "vol > v2",
        "false",
    ))
    .expect("valid");
    assert!(two.checkpoint_bytes_max() > one.checkpoint_bytes_max());
}

#[test]
fn atr_periods_can_be_params() {
    let with = RulesSpec {
        params: BTreeMap::from([("n".into(), 10.0)]),
        ..spec(&[("vol", "atr(n)")], "vol > n", "false")
    };
    let written = compile(&spec(&[("vol", "atr(10)")], "vol > 10", "false")).expect("valid");
    assert_eq!(compile(&with).expect("valid").program, written.program);
    let set = with
        .with_params(&BTreeMap::from([("n".to_string(), "21".to_string())]))
        .expect("declared");
    assert_eq!(
        compile(&set).expect("valid").program.indicators[0].kind,
        IndicatorKind::Atr { period: 21 }
    );
    let bad = with
        .with_params(&BTreeMap::from([("n".to_string(), "0".to_string())]))
        .expect("declared");
    assert_eq!(
        compile(&bad).unwrap_err().to_string(),
        "rules.indicators.vol at 1:5: atr: param period = \"0\": must be between 1 and 100000"
    );
}

#[test]
fn bad_uses_of_atr_say_what_is_wrong_and_where() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[("x", "atr(0)")], "true", "rules.indicators.x at 1:5: atr: param period = \"0\": must be between 1 and 100000"),
        (&[("x", "atr(100001)")], "true", "rules.indicators.x at 1:5: atr: param period = \"100001\": must be between 1 and 100000"),
        (&[("x", "atr(close, 14)")], "true", "rules.indicators.x at 1:5: atr takes no series: it reads each bar's high, low and close; write atr(period = 14), e.g. atr(14)"),
        (&[], "atr(sma(close, 3)) > 1", "rules.enter_long at 1:5: atr takes no series: it reads each bar's high, low and close; write atr(period = 14), e.g. atr(14)"),
        (&[("m", "sma(close, 5)")], "close > 1 &&\n  atr(14, m) > 1", "rules.enter_long at 2:11: atr takes no series: it reads each bar's high, low and close; write atr(period = 14), e.g. atr(14)"),
        (&[("x", "atr(14, 2)")], "true", "rules.indicators.x at 1:1: atr takes 0 to 1 arguments, got 2: write atr(period = 14), e.g. atr(14)"),
        (&[("x", "atr(2.5)")], "true", "rules.indicators.x at 1:5: atr's period must be a whole number, got 2.5"),
        (&[("x", "atr(n)")], "true", "rules.indicators.x at 1:5: atr's period must be a number written in the rule"),
        (&[("atr", "sma(close, 3)")], "true", "rules.indicators.atr: \"atr\" is a built-in name; choose another"),
        (&[], "atr(14)", "rules.enter_long at 1:1: this is a number, but a rule must be a condition (true or false), e.g. `x > 0`"),
        (&[], "atr(14)[1001] > 0", "rules.enter_long at 1:9: looks back 1001 bars; at most 1000 are kept"),
    ];
    for (indicators, enter, want) in cases {
        assert_eq!(
            &error(indicators, enter, "false"),
            want,
            "{enter} / {indicators:?}"
        );
    }
}
