//! Strategies written as rules through the command line and the roles'
//! configuration, with real processes: `backtest --strategy-file` with the
//! sma-cross rules trades exactly as the built-in, every example rule file
//! in docs/examples/ backtests, and invalid rules are refused with exit 2
//! and a message naming the rule and the position, before anything runs.

mod common;

use std::path::{Path, PathBuf};

use common::data::{backtest, good_rows, write_csv};
use common::run;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples")
}

fn example(name: &str) -> String {
    examples().join(name).to_str().expect("utf-8").to_string()
}

#[test]
fn sma_cross_rules_trade_exactly_as_the_builtin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let walk = dir.path().join("walk.csv");
    write_csv(&walk, true, &good_rows(20_000, 11));
    let rules_file = example("rules-sma-cross.yaml");
    for data in [examples().join("btcusdt-1h-synthetic.csv"), walk] {
        let builtin = backtest(
            &data,
            &dir.path().join("builtin"),
            &["--strategy", "sma-cross"],
        );
        let rules = backtest(
            &data,
            &dir.path().join("rules"),
            &["--strategy-file", &rules_file],
        );
        assert!(
            builtin.num_trades > 5,
            "{}: {} trades",
            data.display(),
            builtin.num_trades
        );
        assert_eq!(rules.trades, builtin.trades, "{}", data.display());
        assert_eq!(rules.final_equity, builtin.final_equity);
        assert_eq!(rules.equity_curve, builtin.equity_curve);
    }
}

#[test]
fn every_example_rule_file_backtests_on_the_example_data() {
    let data = examples().join("btcusdt-1h-synthetic.csv");
    let dir = tempfile::tempdir().expect("tempdir");
    for name in [
        "rules-sma-cross.yaml",
        "rules-trend-filter.yaml",
        "rules-macd.yaml",
        "rules-bollinger.yaml",
        "rules-rsi.yaml",
    ] {
        let report = backtest(
            &data,
            &dir.path().join(name),
            &["--strategy-file", &example(name)],
        );
        assert_eq!(report.candles, 2000, "{name}");
        assert!(
            report.num_trades >= 2,
            "{name}: {} trades",
            report.num_trades
        );
    }
}

#[test]
fn invalid_rules_exit_2_naming_the_rule_and_position_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d.csv");
    write_csv(&data, true, &good_rows(10, 1));
    let data = data.to_str().expect("utf-8");
    let out = dir.path().join("out");
    let out_s = out.to_str().expect("utf-8");
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_string()
    };
    let cases = [
        (
            file("syntax.yaml", "indicators:\n  fast: sma(close, 10)\nenter_long: fast >\nexit_long: 'false'\n"),
            "config field brain.strategy.rules: rules.enter_long at 1:7: expected a value, found end of the rule",
        ),
        (
            file("name.yaml", "enter_long: clsoe > 1\nexit_long: 'false'\n"),
            "rules.enter_long at 1:1: unknown name \"clsoe\"",
        ),
        (
            file("number.yaml", "enter_long: close - 1\nexit_long: 'false'\n"),
            "rules.enter_long at 1:1: this is a number, but a rule must be a condition",
        ),
        (
            file("period.yaml", "indicators:\n  r: rsi(close, 1)\nenter_long: r < 30\nexit_long: r > 70\n"),
            "rules.indicators.r at 1:12: rsi: param period = \"1\": must be between 2 and 100000",
        ),
        (
            file("lookback.yaml", "enter_long: close[5000] < close\nexit_long: 'false'\n"),
            "rules.enter_long at 1:7: looks back 5000 bars; at most 1000 are kept",
        ),
        (
            file("field.yaml", "enter_long: close > 1\nexit_long: 'false'\nenter_shrot: 'true'\n"),
            "--strategy-file",
        ),
        (file("empty.yaml", ""), "not rules"),
        (dir.path().join("missing.yaml").to_str().expect("utf-8").to_string(), "missing.yaml"),
    ];
    let refused = |path: &str, extra: &[&str], needle: &str| {
        let mut args = vec![
            "backtest",
            "--data",
            data,
            "--out",
            out_s,
            "--strategy-file",
            path,
        ];
        args.extend_from_slice(extra);
        let output = run(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{path}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{path}: {stderr:?} lacks {needle:?}"
        );
        assert!(!stderr.contains("panicked"), "{path}: {stderr}");
        assert!(!out.join("report.json").exists(), "nothing ran");
    };
    for (path, needle) in &cases {
        refused(path, &[], needle);
    }
    // --param sets one of the rules' params, and these declare none.
    refused(
        &cases[1].0,
        &["--param", "fast=3"],
        "rules.params.fast: the rules declare no params to set",
    );

    // The same rules in a role's configuration file: the role refuses to
    // start, exit 2, with the same message.
    let config = file(
        "config.yaml",
        "brain:\n  strategy:\n    name: rules\n    rules:\n      enter_long: clsoe > 1\n      exit_long: 'false'\n",
    );
    let output = run(&["--config", &config, "brain"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rules.enter_long at 1:1: unknown name \"clsoe\""),
        "{stderr}"
    );
    // And `up` refuses the file before making anything.
    let output = run(&["up", "--dir", out_s, "--strategy-file", &cases[2].0]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rules.enter_long at 1:1: this is a number"),
        "{stderr}"
    );
    assert!(!out.exists(), "up made nothing");
}

#[test]
fn a_valid_rules_configuration_prints_and_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        "brain:\n  strategy:\n    name: rules\n    rules:\n      indicators:\n        fast: sma(close, 3)\n      enter_long: close > fast\n      exit_long: close < fast\n",
    )
    .expect("write");
    let output = run(&["--config", config.to_str().expect("utf-8"), "config"]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("enter_long: close > fast"), "{printed}");
    let again = dir.path().join("again.yaml");
    std::fs::write(&again, printed.as_bytes()).expect("write");
    let output = run(&["--config", again.to_str().expect("utf-8"), "config"]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), printed);
}
