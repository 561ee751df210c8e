//! `aegis-worker backtest` end to end, with real processes and rings: the
//! three-process run equals the single-process reference exactly, bad rows
//! are counted per reason and never traded, and bad invocations fail fast
//! naming what is wrong.

mod common;

use std::collections::BTreeMap;

use aegis_worker::config::{Config, ConfigSource};
use aegis_worker::local::{backtest::BacktestArgs, inline};
use common::data::{backtest, good_rows, write_csv, HEADER};
use common::run;

fn reference(
    data: &std::path::Path,
    strategy: &str,
    params: &[(&str, &str)],
    fee: &str,
) -> aegis_engine::report::BacktestReport {
    let args = BacktestArgs {
        data: data.to_path_buf(),
        strategy: Some(strategy.into()),
        strategy_file: None,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        fee_bps: Some(fee.parse().expect("decimal")),
        slippage_bps: Some("2".parse().expect("decimal")),
        cash: None,
        out: data.with_extension("ref"),
        no_progress: true,
    };
    let base = aegis_worker::config::load(&ConfigSource::default()).expect("defaults");
    let rings = tempfile::tempdir().expect("tempdir");
    let config: Config =
        aegis_worker::local::backtest::backtest_config(base, &args, rings.path()).expect("valid");
    inline::run(&config).expect("reference run")
}

#[test]
fn three_processes_equal_the_single_process_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("walk.csv");
    write_csv(&data, true, &good_rows(20_000, 7));
    for (strategy, params) in [
        (
            "sma-cross",
            vec![("fast", "5"), ("slow", "21"), ("short", "true")],
        ),
        (
            "rsi-reversion",
            vec![("period", "9"), ("oversold", "35"), ("overbought", "65")],
        ),
    ] {
        let out = dir.path().join(strategy);
        let mut extra = vec![
            "--strategy",
            strategy,
            "--fee-bps",
            "7.5",
            "--slippage-bps",
            "2",
        ];
        let flags: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for flag in &flags {
            extra.extend(["--param", flag.as_str()]);
        }
        let got = backtest(&data, &out, &extra);
        let want = reference(&data, strategy, &params, "7.5");
        assert_eq!(got.candles, 20_000);
        assert!(
            got.num_trades > 10,
            "{strategy}: too few trades ({}) to compare",
            got.num_trades
        );
        assert_eq!(got.trades, want.trades, "{strategy}: trades differ");
        assert_eq!(got.final_equity, want.final_equity, "{strategy}");
        assert_eq!(got.equity_curve, want.equity_curve, "{strategy}");
        assert_eq!(
            (got.sharpe, got.max_drawdown),
            (want.sharpe, want.max_drawdown),
            "{strategy}"
        );
        assert!(
            got.open_position.is_none(),
            "the last position is closed at the end"
        );
        let svg = std::fs::read_to_string(out.join("equity.svg")).expect("equity.svg");
        assert!(
            svg.starts_with("<svg") && svg.contains("polyline"),
            "{strategy}: not a chart"
        );
        let ledger = std::fs::read_to_string(out.join("ledger.jsonl")).expect("ledger copy");
        let fills = ledger
            .lines()
            .filter(|l| l.contains("\"type\":\"fill\""))
            .count();
        let fill_seqs: std::collections::BTreeSet<u64> = got
            .trades
            .iter()
            .flat_map(|t| [t.entry_signal_seq, t.exit_signal_seq])
            .collect();
        assert_eq!(
            fills,
            fill_seqs.len(),
            "{strategy}: every fill opens or closes a reported trade"
        );
    }
}

#[test]
fn bad_rows_are_counted_by_reason_and_never_traded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = good_rows(400, 3);
    let ts = |i: usize| good[i].split(',').next().unwrap_or_default().to_string();
    let mut rows = Vec::new();
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    let mut bad = |rows: &mut Vec<String>, reason: &'static str, row: String| {
        rows.push(row);
        *expected.entry(reason).or_default() += 1;
    };
    for (i, row) in good.iter().enumerate() {
        if i > 0 && i % 40 == 0 {
            let t = ts(i - 1);
            bad(
                &mut rows,
                "not_finite",
                format!("{}5,NaN,1,1,1,1", &t[..t.len() - 1]),
            );
            bad(
                &mut rows,
                "not_finite",
                format!("{}6,1,inf,1,1,1", &t[..t.len() - 1]),
            );
            bad(
                &mut rows,
                "non_positive_price",
                format!("{}7,-1,1,1,1,1", &t[..t.len() - 1]),
            );
            bad(
                &mut rows,
                "high_below_low",
                format!("{}8,1,1,2,1,1", &t[..t.len() - 1]),
            );
            bad(&mut rows, "duplicate_timestamp", format!("{t},1,1,1,1,1"));
            bad(
                &mut rows,
                "out_of_order_timestamp",
                format!("{},1,1,1,1,1", ts(0)),
            );
            bad(
                &mut rows,
                "non_numeric",
                format!("{}9,abc,1,1,1,1", &t[..t.len() - 1]),
            );
            bad(
                &mut rows,
                "truncated",
                format!("{}9,1,1", &t[..t.len() - 1]),
            );
            bad(
                &mut rows,
                "negative_volume",
                format!("{}9,1,1,1,1,-5", &t[..t.len() - 1]),
            );
        }
        rows.push(row.clone());
    }
    let data = dir.path().join("dirty.csv");
    write_csv(&data, true, &rows);
    let report = backtest(
        &data,
        &dir.path().join("out"),
        &["--param", "fast=3", "--param", "slow=7"],
    );
    assert_eq!(report.candles, 400, "only the good rows are candles");
    for (reason, count) in &report.rejected {
        assert_eq!(
            *count,
            expected.get(reason.as_str()).copied().unwrap_or(0),
            "reason {reason}"
        );
    }
    assert_eq!(
        report.rejected.values().sum::<u64>(),
        expected.values().sum::<u64>()
    );
    // Each rejection is logged at warn with its line and reason.
    let log = std::fs::read_to_string(dir.path().join("out/logs/feed.log")).expect("feed log");
    let warned = log
        .lines()
        .filter(|l| {
            l.contains("\"level\":\"WARN\"") && l.contains("\"line\":") && l.contains("\"reason\":")
        })
        .count() as u64;
    assert_eq!(
        warned,
        expected.values().sum::<u64>(),
        "one warning per rejected row"
    );

    // The clean file gives the same trades: bad rows changed nothing.
    let clean = dir.path().join("clean.csv");
    write_csv(&clean, true, &good);
    let clean_report = backtest(
        &clean,
        &dir.path().join("clean"),
        &["--param", "fast=3", "--param", "slow=7"],
    );
    assert_eq!(report.trades, clean_report.trades);
    assert_eq!(report.final_equity, clean_report.final_equity);
}

#[test]
fn an_empty_file_or_a_missing_header_still_completes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").expect("write");
    let report = backtest(&empty, &dir.path().join("e"), &[]);
    assert_eq!((report.candles, report.num_trades), (0, 0));
    assert_eq!(report.final_equity, report.initial_cash);

    let headless = dir.path().join("headless.csv");
    write_csv(&headless, false, &good_rows(50, 1));
    let report = backtest(&headless, &dir.path().join("h"), &[]);
    assert_eq!(
        report.candles, 50,
        "rows after a missing header are still read"
    );
    assert_eq!(report.rejected.get("missing_header"), Some(&1));

    let header_only = dir.path().join("header.csv");
    std::fs::write(&header_only, format!("{HEADER}\n")).expect("write");
    assert_eq!(
        backtest(&header_only, &dir.path().join("o"), &[]).candles,
        0
    );
}

#[test]
fn bad_invocations_fail_fast_naming_what_is_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d.csv");
    write_csv(&data, true, &good_rows(10, 1));
    let data = data.to_str().expect("utf-8");
    let out = dir.path().join("out");
    let out = out.to_str().expect("utf-8");
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "backtest", "--data", data, "--out", out, "--param", "fast=30", "--param",
                "slow=10",
            ],
            2,
            "slow (10) must be greater than fast (30)",
        ),
        (
            &[
                "backtest",
                "--data",
                data,
                "--out",
                out,
                "--strategy",
                "moon",
            ],
            2,
            "unknown strategy \"moon\"",
        ),
        (
            &[
                "backtest", "--data", data, "--out", out, "--param", "fats=3",
            ],
            2,
            "unknown param \"fats\"",
        ),
        (
            &["backtest", "--data", data, "--out", out, "--fee-bps", "-1"],
            2,
            "orchestrator.fee_bps",
        ),
        (
            &["backtest", "--data", "/no/such.csv", "--out", out],
            1,
            "/no/such.csv",
        ),
        (
            &["backtest", "--data", data, "--out", out, "--param", "fast"],
            2,
            "name=value",
        ),
        (
            &["--set", "interval=7m", "brain"],
            2,
            "config field interval",
        ),
        (&["--set", "symbol=btc", "feed"], 2, "config field symbol"),
        (
            &["--set", "feed.source=replay", "feed"],
            2,
            "config field feed.replay.file",
        ),
        (
            &["--config", "/no/such.yaml", "orchestrator"],
            2,
            "/no/such.yaml",
        ),
    ];
    for (args, code, needle) in cases {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(*code), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} lacks {needle:?}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_printed_configuration_reads_back_identically() {
    let output = run(&[
        "--set",
        "orchestrator.fee_bps=7.25",
        "--set",
        "brain.strategy.params.fast=4",
        "config",
    ]);
    assert!(output.status.success());
    let printed = String::from_utf8_lossy(&output.stdout);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("printed.yaml");
    std::fs::write(&file, printed.as_bytes()).expect("write");
    let again = aegis_worker::config::load(&ConfigSource {
        file: Some(file),
        ..ConfigSource::default()
    })
    .expect("reads back");
    assert_eq!(again.orchestrator.fee_bps.to_string(), "7.25");
    assert_eq!(serde_yaml::to_string(&again).expect("yaml"), printed);
}

/// The README's quickstart backtest: the example data in docs/examples is a
/// valid replay file that the default strategy trades.
#[test]
fn the_readme_example_data_backtests_cleanly() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/examples/btcusdt-1h-synthetic.csv");
    let out = tempfile::tempdir().expect("tempdir");
    let report = backtest(&data, out.path(), &[]);
    assert_eq!(report.candles, 2000, "every row is a candle");
    assert!(
        report.rejected.values().all(|&n| n == 0),
        "rejected: {:?}",
        report.rejected
    );
    assert!(
        report.num_trades > 0,
        "the default strategy trades the example"
    );
}

/// A symbolic link planted where the backtest writes a role's log (or the
/// ledger copy) is refused with an error naming the path, never followed.
#[test]
fn a_planted_link_in_the_output_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d.csv");
    write_csv(&data, true, &good_rows(10, 1));
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").expect("the victim");
    let out = dir.path().join("out");
    std::fs::create_dir_all(out.join("logs")).expect("the output directory");
    let log = out.join("logs/feed.log");
    std::os::unix::fs::symlink(&victim, &log).expect("a symlink");
    let output = run(&[
        "backtest",
        "--data",
        data.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--no-progress",
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(&log.display().to_string()), "{stderr}");
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
}

/// The example exits file on the example data: trades closed by the
/// stop-loss, the take-profit and the trailing stop, counted by reason, and
/// the three-process run equal to the single-process reference with exits
/// and limit entries.
#[test]
fn exits_close_trades_by_each_reason_on_the_example_data() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let data = root.join("docs/examples/btcusdt-1h-synthetic.csv");
    let exits = root.join("docs/examples/exits.yaml");
    let out = tempfile::tempdir().expect("tempdir");
    let report = backtest(
        &data,
        out.path(),
        &["--config", exits.to_str().expect("utf-8 path")],
    );
    for reason in ["stop_loss", "take_profit", "trailing_stop", "signal"] {
        assert!(
            report
                .trades_by_exit_reason
                .get(reason)
                .is_some_and(|&n| n > 0),
            "no trade closed by {reason}: {:?}",
            report.trades_by_exit_reason
        );
    }
    let counted: u64 = report.trades_by_exit_reason.values().sum();
    assert_eq!(counted, report.num_trades);
    assert!(
        report
            .trades
            .iter()
            .filter(|t| t.exit_reason == "stop_loss")
            .all(|t| t
                .exit_detail
                .as_deref()
                .is_some_and(|d| d.starts_with("stop_loss: the bar traded through"))),
        "each stop says its level"
    );
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("report.html");
    assert!(html.contains("id=\"exit-reasons\"") && html.contains("data-reason=\"trailing_stop\""));

    // The same run in one process gives the same trades.
    let base = aegis_worker::config::load(&ConfigSource {
        file: Some(exits.clone()),
        ..ConfigSource::default()
    })
    .expect("the example exits file loads");
    let args = BacktestArgs {
        data: data.clone(),
        strategy: None,
        strategy_file: None,
        params: Vec::new(),
        fee_bps: None,
        slippage_bps: None,
        cash: None,
        out: out.path().join("ref"),
        no_progress: true,
    };
    let rings = tempfile::tempdir().expect("tempdir");
    let config =
        aegis_worker::local::backtest::backtest_config(base, &args, rings.path()).expect("valid");
    let want = inline::run(&config).expect("reference run");
    assert_eq!(report.trades, want.trades);
    assert_eq!(report.final_equity, want.final_equity);
}
