//! Sweep throughput: `aegis-worker sweep` over a 100-combination sma-cross
//! grid (fast = 2..20:2 × slow = 25..70:5) on 1M synthetic candles, in
//! combinations × candles per second, against running `aegis-worker
//! backtest` once per combination in the same run (the baseline: what a
//! user without `sweep` would do). Every backtest's report is checked
//! against the sweep's row for the same parameters.
//!
//! Run: `cargo bench -p aegis-worker --bench sweep` (about 3 minutes on 2
//! cores); `cargo bench -p aegis-worker --bench sweep -- quick` uses 100k
//! candles.

#[path = "support/synthetic.rs"]
mod synthetic;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use aegis_engine::report::BacktestReport;
use anyhow::{ensure, Context};
use serde_json::Value;

/// The binary under test (cargo builds it, in the bench profile, for benches).
const EXE: &str = env!("CARGO_BIN_EXE_aegis-worker");
/// Sweep runs timed (median).
const RUNS: usize = 3;
const GRID: [&str; 4] = ["--grid", "fast=2..20:2", "--grid", "slow=25..70:5"];
const TARGET_PER_S: f64 = 20e6;

fn aegis(args: &[&str]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let output = Command::new(EXE)
        .args(args)
        .env_remove("AEGIS_CONFIG")
        .output()
        .context("running aegis-worker")?;
    let elapsed = started.elapsed().as_secs_f64();
    ensure!(
        output.status.success(),
        "aegis-worker {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(elapsed)
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sweep(data: &Path, out: &Path, jobs: Option<&str>) -> anyhow::Result<f64> {
    let mut args = vec![
        "sweep",
        "--data",
        data.to_str().context("utf-8 path")?,
        "--strategy",
        "sma-cross",
        "--out",
        out.to_str().context("utf-8 path")?,
        "--no-progress",
    ];
    args.extend(GRID);
    if let Some(jobs) = jobs {
        args.extend(["--jobs", jobs]);
    }
    aegis(&args)
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().skip(1).any(|a| a == "quick");
    let candles: u64 = if quick { 100_000 } else { 1_000_000 };
    println!("sweep bench: {}", synthetic::machine());
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let data = dir.path().join("candles.csv");
    synthetic::write_csv(&data, candles)?;

    let mut sweep_s = Vec::new();
    for run in 0..RUNS {
        sweep_s.push(sweep(
            &data,
            &dir.path().join(format!("sweep-{run}")),
            None,
        )?);
    }
    let one_thread_s = sweep(&data, &dir.path().join("sweep-1"), Some("1"))?;
    let results: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("sweep-0/results.json")).context("results.json")?,
    )?;
    let rows = results["results"].as_array().context("rows")?;
    ensure!(
        rows.len() == 100,
        "{} combinations, expected 100",
        rows.len()
    );
    let by_params: BTreeMap<(String, String), &Value> = rows
        .iter()
        .map(|r| {
            let p = |k: &str| r["params"][k].as_str().unwrap_or_default().to_string();
            ((p("fast"), p("slow")), &r["in_sample"])
        })
        .collect();

    // The baseline: one backtest per combination, each report checked.
    let started = Instant::now();
    for (fast, slow) in by_params.keys() {
        let out = dir.path().join("backtest");
        aegis(&[
            "backtest",
            "--data",
            data.to_str().context("utf-8 path")?,
            "--strategy",
            "sma-cross",
            "--param",
            &format!("fast={fast}"),
            "--param",
            &format!("slow={slow}"),
            "--out",
            out.to_str().context("utf-8 path")?,
            "--no-progress",
        ])?;
        let report: BacktestReport =
            serde_json::from_slice(&std::fs::read(out.join("report.json"))?)?;
        let row = by_params[&(fast.clone(), slow.clone())];
        ensure!(
            row["num_trades"].as_u64() == Some(report.num_trades)
                && row["final_equity"].as_str() == Some(report.final_equity.to_string().as_str())
                && row["sharpe"].as_f64() == report.sharpe,
            "fast={fast} slow={slow}: the sweep's row {row} differs from backtest's report"
        );
    }
    let baseline_s = started.elapsed().as_secs_f64();

    let evaluations = 100.0 * candles as f64;
    let rate = |s: f64| evaluations / s / 1e6;
    let sweep_median = median(&sweep_s);
    println!("\n== sweep: 100 combinations × {candles} candles (all 100 rows equal backtest's reports) ==");
    println!("  | run | wall s | M candle-evaluations/s |");
    println!("  | --- | --- | --- |");
    println!(
        "  | sweep, default --jobs, median of {RUNS} {:?} | {sweep_median:.2} | **{:.1}** |",
        sweep_s
            .iter()
            .map(|s| format!("{s:.2}"))
            .collect::<Vec<_>>(),
        rate(sweep_median)
    );
    println!(
        "  | sweep --jobs 1 | {one_thread_s:.2} | {:.1} |",
        rate(one_thread_s)
    );
    println!(
        "  | 100 × backtest (baseline) | {baseline_s:.2} | {:.1} |",
        rate(baseline_s)
    );
    println!(
        "  sweep / baseline: {:.2}×; --jobs default / --jobs 1: {:.2}×; target ≥ 20M/s: {}",
        baseline_s / sweep_median,
        one_thread_s / sweep_median,
        if rate(sweep_median) * 1e6 >= TARGET_PER_S {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}
