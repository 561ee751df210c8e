//! `aegis-worker sweep` as a real process: each combination's figures
//! equal a `backtest` of the same parameters, invalid combinations are
//! skipped and counted, the split runs on the held-out tail exactly as a
//! backtest of only those rows, `--jobs 1` and `--jobs 2` write the same
//! results, the heat map covers the grid, and bad grids or data end in a
//! clear error.

mod common;

use std::path::Path;
use std::process::Output;

use common::data::{backtest, good_rows, write_csv};
use common::{output_text as text, run, temp_dir};
use serde_json::Value;

fn sweep(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep",
        "--data",
        data.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
        "--strategy",
        "sma-cross",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn results(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join("results.json")).expect("results.json"))
        .expect("results.json parses")
}

/// A report.json in `dir`, without the field naming the data file (a
/// sweep's split reads one file where the backtests read two).
fn report_json(dir: &Path) -> serde_json::Map<String, Value> {
    let v: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report.json"))
            .expect("report.json parses");
    let Value::Object(mut map) = v else {
        panic!("report.json is not an object")
    };
    map.remove("data");
    map
}

/// Asserts two report.json files agree, naming the fields that differ.
fn assert_same_report(a: &Path, b: &Path) {
    let (a_json, b_json) = (report_json(a), report_json(b));
    let differ: Vec<&String> = a_json
        .keys()
        .chain(b_json.keys())
        .filter(|k| a_json.get(*k) != b_json.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{} and {} differ in {differ:?}",
        a.display(),
        b.display()
    );
}

/// Compares a sweep's metrics with a backtest report's.
fn assert_same(metrics: &Value, report: &aegis_engine::report::BacktestReport, what: &str) {
    let f = |v: &Value| v.as_f64();
    assert_eq!(metrics["candles"].as_u64(), Some(report.candles), "{what}");
    assert_eq!(f(&metrics["total_return"]), report.total_return, "{what}");
    assert_eq!(
        f(&metrics["max_drawdown"]),
        Some(report.max_drawdown),
        "{what}"
    );
    assert_eq!(f(&metrics["sharpe"]), report.sharpe, "{what}");
    assert_eq!(f(&metrics["win_rate"]), report.win_rate, "{what}");
    assert_eq!(
        metrics["num_trades"].as_u64(),
        Some(report.num_trades),
        "{what}"
    );
    assert_eq!(
        metrics["final_equity"].as_str(),
        Some(report.final_equity.to_string().as_str()),
        "{what}"
    );
}

#[test]
fn each_combination_equals_a_backtest_of_its_parameters_and_invalid_ones_are_skipped() {
    let dir = temp_dir("aegis-sweep");
    let data = dir.path().join("k.csv");
    write_csv(&data, true, &good_rows(3000, 11));
    let out = dir.path().join("sweep");
    let output = sweep(
        &data,
        &out,
        &[
            "--grid",
            "fast=5..15:5",
            "--grid",
            "slow=10..30:10",
            "--jobs",
            "2",
        ],
    );
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    assert!(
        all.contains("7 combinations (2 skipped as invalid)"),
        "{all}"
    );
    let json = results(&out);
    assert_eq!(json["combinations"], 9);
    assert_eq!(json["skipped"], 2);
    assert!(
        json["skipped_examples"][0]
            .as_str()
            .is_some_and(|s| s.contains("must be greater than fast")),
        "{json}"
    );
    let rows = json["results"].as_array().expect("rows");
    assert_eq!(rows.len(), 7);
    let sharpe: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["in_sample"]["sharpe"].as_f64())
        .collect();
    assert!(
        sharpe.windows(2).all(|w| w[0] >= w[1]),
        "sorted: {sharpe:?}"
    );
    for row in [&rows[0], &rows[3], &rows[6]] {
        let (fast, slow) = (
            row["params"]["fast"].as_str().expect("fast"),
            row["params"]["slow"].as_str().expect("slow"),
        );
        let report = backtest(
            &data,
            &dir.path().join(format!("bt-{fast}-{slow}")),
            &[
                "--strategy",
                "sma-cross",
                "--param",
                &format!("fast={fast}"),
                "--param",
                &format!("slow={slow}"),
            ],
        );
        assert_same(
            &row["in_sample"],
            &report,
            &format!("fast={fast} slow={slow}"),
        );
    }
    // The best combination's whole report is the backtest's, page and all.
    let best_backtest = dir.path().join(format!(
        "bt-{}-{}",
        rows[0]["params"]["fast"].as_str().expect("fast"),
        rows[0]["params"]["slow"].as_str().expect("slow")
    ));
    assert_same_report(&out.join("best"), &best_backtest);
    for file in ["report.html", "equity.svg"] {
        assert!(out.join("best").join(file).is_file(), "no best/{file}");
    }
    assert!(
        !out.join("best-out-of-sample").exists(),
        "an out-of-sample report without --split"
    );
    let csv = std::fs::read_to_string(out.join("results.csv")).expect("results.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("fast,slow,is_total_return,"), "{csv}");
    assert_eq!(lines.len(), 8);
    let first = format!(
        "{},{},",
        rows[0]["params"]["fast"].as_str().expect("fast"),
        rows[0]["params"]["slow"].as_str().expect("slow")
    );
    assert!(lines[1].starts_with(&first), "{csv}");

    // The heat map: one cell per grid point, the skipped ones grey.
    let svg = std::fs::read_to_string(out.join("heatmap.svg")).expect("heatmap.svg");
    let mut reader = quick_xml::Reader::from_str(&svg);
    let mut cells = 0;
    loop {
        match reader.read_event().expect("well-formed SVG") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"rect" => cells += 1,
            _ => {}
        }
    }
    assert_eq!(cells, 9, "{svg}");
    assert_eq!(svg.matches("#d0d0d0").count(), 2, "{svg}");
}

#[test]
fn one_thread_and_two_threads_write_the_same_results() {
    let dir = temp_dir("aegis-sweep");
    let data = dir.path().join("k.csv");
    write_csv(&data, true, &good_rows(2000, 5));
    let grid = [
        "--grid",
        "fast=2..12:2",
        "--grid",
        "slow=8..40:8",
        "--sort",
        "total-return",
    ];
    let mut outputs = Vec::new();
    for jobs in ["1", "2"] {
        let out = dir.path().join(format!("jobs-{jobs}"));
        let mut args = grid.to_vec();
        args.extend(["--jobs", jobs]);
        let output = sweep(&data, &out, &args);
        assert!(output.status.success(), "{}", text(&output));
        outputs.push((
            std::fs::read(out.join("results.json")).expect("json"),
            std::fs::read(out.join("results.csv")).expect("csv"),
        ));
    }
    assert!(outputs[0] == outputs[1], "--jobs changed the results");
}

#[test]
fn the_split_runs_out_of_sample_exactly_as_a_backtest_of_the_held_out_rows() {
    let dir = temp_dir("aegis-sweep");
    let rows = good_rows(1000, 9);
    let data = dir.path().join("k.csv");
    write_csv(&data, true, &rows);
    let out = dir.path().join("sweep");
    let output = sweep(
        &data,
        &out,
        &["--grid", "fast=3,6", "--param", "slow=20", "--split", "0.7"],
    );
    assert!(output.status.success(), "{}", text(&output));
    let json = results(&out);
    let head = dir.path().join("head.csv");
    let tail = dir.path().join("tail.csv");
    write_csv(&head, true, &rows[..700]);
    write_csv(&tail, true, &rows[700..]);
    for row in json["results"].as_array().expect("rows") {
        let fast = row["params"]["fast"].as_str().expect("fast");
        assert_eq!(row["params"]["slow"], "20", "the held parameter is listed");
        for (file, sample) in [(&head, "in_sample"), (&tail, "out_of_sample")] {
            let report = backtest(
                file,
                &dir.path().join(format!("bt-{fast}-{sample}")),
                &[
                    "--strategy",
                    "sma-cross",
                    "--param",
                    &format!("fast={fast}"),
                    "--param",
                    "slow=20",
                ],
            );
            assert_same(&row[sample], &report, &format!("fast={fast} {sample}"));
        }
    }
    // The best combination's out-of-sample report is the tail's backtest.
    let best = json["results"][0]["params"]["fast"].as_str().expect("fast");
    assert_same_report(
        &out.join("best-out-of-sample"),
        &dir.path().join(format!("bt-{best}-out_of_sample")),
    );
    let csv = std::fs::read_to_string(out.join("results.csv")).expect("csv");
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.contains(",oos_sharpe,")),
        "{csv}"
    );
}

/// sma-cross written as rules whose periods are params.
const RULES_WITH_PARAMS: &str = "params:\n  fast: 10\n  slow: 20\nindicators:\n  f: sma(close, fast)\n  s: sma(close, slow)\nenter_long: crossAbove(f, s)\nexit_long: crossBelow(f, s)\n";

#[test]
fn a_rules_file_sweeps_its_params_and_each_row_is_a_backtest_of_them() {
    let dir = temp_dir("aegis-sweep");
    let data = dir.path().join("k.csv");
    write_csv(&data, true, &good_rows(1500, 5));
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, RULES_WITH_PARAMS).expect("writing the rules");
    let out = dir.path().join("sweep");
    let path = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    let (data_s, out_s, rules_s) = (path(&data), path(&out), path(&rules));
    let output = run(&[
        "sweep",
        "--data",
        &data_s,
        "--out",
        &out_s,
        "--strategy-file",
        &rules_s,
        "--grid",
        "fast=0,5,10",
        "--grid",
        "slow=20,30",
        "--no-progress",
    ]);
    let all = text(&output);
    assert!(output.status.success(), "{all}");
    // fast=0 is no period: refused by the rules' own check, and counted.
    assert!(
        all.contains("4 combinations (2 skipped as invalid)"),
        "{all}"
    );
    let json = results(&out);
    assert_eq!(json["strategy"], "rules");
    assert!(
        json["skipped_examples"][0]
            .as_str()
            .is_some_and(|s| s.contains("rules.indicators.f")),
        "{json}"
    );
    for row in json["results"].as_array().expect("rows") {
        let (fast, slow) = (
            row["params"]["fast"].as_str().expect("fast"),
            row["params"]["slow"].as_str().expect("slow"),
        );
        let (fast_p, slow_p) = (format!("fast={fast}"), format!("slow={slow}"));
        let as_rules = backtest(
            &data,
            &dir.path().join(format!("rules-{fast}-{slow}")),
            &[
                "--strategy-file",
                &rules_s,
                "--param",
                &fast_p,
                "--param",
                &slow_p,
            ],
        );
        assert_same(
            &row["in_sample"],
            &as_rules,
            &format!("rules {fast_p} {slow_p}"),
        );
        // And the built-in with the same periods trades the same.
        let builtin = backtest(
            &data,
            &dir.path().join(format!("builtin-{fast}-{slow}")),
            &[
                "--strategy",
                "sma-cross",
                "--param",
                &fast_p,
                "--param",
                &slow_p,
            ],
        );
        assert_same(
            &row["in_sample"],
            &builtin,
            &format!("sma-cross {fast_p} {slow_p}"),
        );
    }
    // A name the file does not declare is refused, naming what it has.
    let output = run(&[
        "sweep",
        "--data",
        &data_s,
        "--out",
        &out_s,
        "--strategy-file",
        &rules_s,
        "--grid",
        "medium=1,2",
        "--no-progress",
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("rules has no parameter \"medium\"; it has fast, slow"),
        "{}",
        text(&output)
    );
}

#[test]
fn bad_grids_arguments_and_data_end_in_clear_errors() {
    let dir = temp_dir("aegis-sweep");
    let data = dir.path().join("k.csv");
    write_csv(&data, true, &good_rows(200, 1));
    let out = dir.path().join("sweep");
    for (args, code, expected) in [
        (&["--grid", "fast=30..5"][..], 2, "--grid"),
        (&["--grid", "fast=5..30:0"][..], 2, "not positive"),
        (&["--grid", "fast"][..], 2, "expected name="),
        (
            &["--grid", "period=2..5"][..],
            2,
            "has no parameter \"period\"",
        ),
        (&["--grid", "fast=2,3", "--split", "1.5"][..], 2, "--split"),
        (
            &["--grid", "fast=2,3", "--param", "fast=4"][..],
            2,
            "either swept or held",
        ),
        (&["--grid", "fast=2,3", "--jobs", "0"][..], 2, "--jobs"),
        (&["--grid", "fast=2,3", "--sort", "luck"][..], 2, "--sort"),
    ] {
        let output = sweep(&data, &out, args);
        let all = text(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {all}");
        assert!(all.contains(expected), "{args:?}: {all}");
    }
    let output = run(&[
        "sweep",
        "--data",
        "/nonexistent/k.csv",
        "--out",
        out.to_str().expect("utf-8"),
        "--strategy",
        "sma-cross",
        "--grid",
        "fast=2,3",
    ]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(all.contains("/nonexistent/k.csv: no such file"), "{all}");

    let garbage = dir.path().join("garbage.csv");
    std::fs::write(&garbage, "when,what\nyesterday,up\n").expect("writing");
    let output = sweep(&garbage, &out, &["--grid", "fast=2,3"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("garbage.csv") && all.contains("header"),
        "{all}"
    );

    let refused = dir.path().join("refused.csv");
    std::fs::write(
        &refused,
        "timestamp,open,high,low,close,volume\n1,1,2,0.5,1,-1\n2,1,0.5,2,1,1\n",
    )
    .expect("writing");
    let output = sweep(&refused, &out, &["--grid", "fast=2,3"]);
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("no valid candles") && all.contains("negative_volume"),
        "{all}"
    );
}
