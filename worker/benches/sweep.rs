//! Sweep throughput: `aegis-worker sweep` over a 100-combination sma-cross
//! grid (fast = 2..20:2 × slow = 25..70:5) on 1M synthetic candles, in
//! combinations × candles per second, against running `aegis-worker
//! backtest` once per combination in the same run (the baseline: what a
//! user without `sweep` would do). Every backtest's report is checked
//! against the sweep's row for the same parameters.
//!
//! With `AEGIS_BENCH_BASELINE_EXE` naming another build of `aegis-worker`
//! (say, main's), its `sweep` runs side by side with this one's (the runs
//! alternate, so both see the same machine), and its `results.json` must
//! hold exactly this build's rows.
//!
//! The `stages` part times one combination (fast=10 slow=40) in this
//! process, cut after each stage of `local::inline::run_candles`
//! (strategy, execution, report), to show where a candle-evaluation's time
//! goes.
//!
//! Run: `cargo bench -p aegis-worker --bench sweep` (about 5 minutes on 2
//! cores); `-- quick` uses 100k candles; `-- stages` runs only the stage
//! timing (`-- quick stages` on 100k candles).

#[path = "support/synthetic.rs"]
mod synthetic;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use aegis_contract::records::{Candle, Signal};
use aegis_engine::report::recorder::BacktestRecorder;
use aegis_engine::report::BacktestReport;
use aegis_engine::trading::Execution;
use aegis_worker::config::{self, Config, ConfigSource, ParamValue};
use aegis_worker::roles::orchestrator::execution_params;
use anyhow::{ensure, Context};
use serde_json::Value;

/// The binary under test (cargo builds it, in the bench profile, for benches).
const EXE: &str = env!("CARGO_BIN_EXE_aegis-worker");
/// Names another build of `aegis-worker` whose `sweep` is timed beside this one's.
const BASELINE_ENV: &str = "AEGIS_BENCH_BASELINE_EXE";
/// Sweep runs timed (median).
const RUNS: usize = 3;
const GRID: [&str; 4] = ["--grid", "fast=2..20:2", "--grid", "slow=25..70:5"];
const TARGET_PER_S: f64 = 20e6;

fn aegis(exe: &Path, args: &[&str]) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut cmd = Command::new(exe);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AEGIS") {
            cmd.env_remove(key);
        }
    }
    let output = cmd
        .args(args)
        .output()
        .with_context(|| format!("running {}", exe.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    ensure!(
        output.status.success(),
        "{} {args:?} failed: {}",
        exe.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(elapsed)
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sweep(exe: &Path, data: &Path, out: &Path, jobs: Option<&str>) -> anyhow::Result<f64> {
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
    aegis(exe, &args)
}

/// The rows of a sweep's `results.json`.
fn rows(out: &Path) -> anyhow::Result<Vec<Value>> {
    let path = out.join("results.json");
    let results: Value = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let rows = results["results"].as_array().context("rows")?.clone();
    ensure!(
        rows.len() == 100,
        "{}: {} combinations, expected 100",
        path.display(),
        rows.len()
    );
    Ok(rows)
}

/// One build's sweep timings.
#[derive(Default)]
struct Timings {
    default_jobs: Vec<f64>,
    one_job: f64,
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "quick");
    let only_stages = args.iter().any(|a| a == "stages");
    let candles: u64 = if quick { 100_000 } else { 1_000_000 };
    println!("sweep bench: {}", synthetic::machine());
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let data = dir.path().join("candles.csv");
    synthetic::write_csv(&data, candles)?;
    if only_stages {
        return stages(&data, candles);
    }

    let baseline = std::env::var_os(BASELINE_ENV).map(PathBuf::from);
    let mut builds: Vec<(&str, PathBuf)> = vec![("this build", PathBuf::from(EXE))];
    if let Some(exe) = &baseline {
        ensure!(
            exe.is_file(),
            "{BASELINE_ENV}={}: no such file",
            exe.display()
        );
        builds.push(("baseline build", exe.clone()));
    }
    let mut timings: Vec<Timings> = builds.iter().map(|_| Timings::default()).collect();
    // Alternate the builds run by run, so both see the same machine.
    for run in 0..RUNS {
        for (b, (_, exe)) in builds.iter().enumerate() {
            let out = dir.path().join(format!("sweep-{b}-{run}"));
            timings[b].default_jobs.push(sweep(exe, &data, &out, None)?);
        }
    }
    for (b, (_, exe)) in builds.iter().enumerate() {
        let out = dir.path().join(format!("sweep-{b}-one"));
        timings[b].one_job = sweep(exe, &data, &out, Some("1"))?;
    }
    let ours = rows(&dir.path().join("sweep-0-0"))?;
    if baseline.is_some() {
        let theirs = rows(&dir.path().join("sweep-1-0"))?;
        ensure!(
            ours == theirs,
            "the baseline build's results.json rows differ from this build's"
        );
    }
    let by_params: BTreeMap<(String, String), &Value> = ours
        .iter()
        .map(|r| {
            let p = |k: &str| r["params"][k].as_str().unwrap_or_default().to_string();
            ((p("fast"), p("slow")), &r["in_sample"])
        })
        .collect();

    // The baseline of the issue: one backtest per combination, each report checked.
    let started = Instant::now();
    for (fast, slow) in by_params.keys() {
        let out = dir.path().join("backtest");
        aegis(
            Path::new(EXE),
            &[
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
            ],
        )?;
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
    let backtests_s = started.elapsed().as_secs_f64();

    let evaluations = 100.0 * candles as f64;
    let rate = |s: f64| evaluations / s / 1e6;
    println!("\n== sweep: 100 combinations × {candles} candles (all 100 rows equal backtest's reports) ==");
    println!("  | run | wall s | M candle-evaluations/s |");
    println!("  | --- | --- | --- |");
    for ((name, _), t) in builds.iter().zip(&timings) {
        println!(
            "  | {name}: sweep, default --jobs, median of {RUNS} {:?} | {:.2} | **{:.1}** |",
            t.default_jobs
                .iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>(),
            median(&t.default_jobs),
            rate(median(&t.default_jobs))
        );
        println!(
            "  | {name}: sweep --jobs 1 | {:.2} | {:.1} |",
            t.one_job,
            rate(t.one_job)
        );
    }
    println!(
        "  | 100 × backtest (this build) | {backtests_s:.2} | {:.1} |",
        rate(backtests_s)
    );
    let sweep_median = median(&timings[0].default_jobs);
    if let Some(base) = timings.get(1) {
        println!(
            "  this build / baseline build: {:.2}× (default --jobs), {:.2}× (--jobs 1)",
            median(&base.default_jobs) / sweep_median,
            base.one_job / timings[0].one_job
        );
    }
    println!(
        "  sweep / 100 × backtest: {:.2}×; --jobs default / --jobs 1: {:.2}×; target ≥ 20M/s: {}",
        backtests_s / sweep_median,
        timings[0].one_job / sweep_median,
        if rate(sweep_median) * 1e6 >= TARGET_PER_S {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}

/// Where one combination's time goes: `local::inline::run_candles` cut
/// after each stage, in this process, on one thread.
fn stages(data: &Path, candles: u64) -> anyhow::Result<()> {
    const STAGE_RUNS: usize = 5;
    let mut config = config::load(&ConfigSource::default())?;
    config.brain.strategy.name = "sma-cross".into();
    for (k, v) in [("fast", "10"), ("slow", "40")] {
        config
            .brain
            .strategy
            .params
            .insert(k.into(), ParamValue::Text(v.into()));
    }
    config.feed.replay.file = Some(data.to_path_buf());
    let replay = aegis_worker::local::inline::load(data)?;
    ensure!(
        replay.candles.len() as u64 == candles,
        "{} candles loaded, expected {candles}",
        replay.candles.len()
    );
    println!("\n== one combination (sma-cross fast=10 slow=40) over {candles} candles, one thread, median of {STAGE_RUNS} ==");
    println!("  | stage (cumulative) | ms | ns/candle |");
    println!("  | --- | --- | --- |");
    for stage in Stage::ALL {
        let mut secs = Vec::new();
        for _ in 0..STAGE_RUNS {
            let t = Instant::now();
            stage.run(&config, &replay.candles)?;
            secs.push(t.elapsed().as_secs_f64());
        }
        let s = median(&secs);
        println!(
            "  | {} | {:.1} | {:.1} |",
            stage.name(),
            s * 1e3,
            s * 1e9 / candles as f64
        );
    }
    Ok(())
}

/// `local::inline::run_candles` cut after each stage.
#[derive(Clone, Copy)]
enum Stage {
    Strategy,
    Execution,
    Report,
    RunCandles,
}

impl Stage {
    const ALL: [Stage; 4] = [
        Stage::Strategy,
        Stage::Execution,
        Stage::Report,
        Stage::RunCandles,
    ];

    fn name(self) -> &'static str {
        match self {
            Stage::Strategy => "strategy (Signal per candle)",
            Stage::Execution => "+ Execution::on_signal",
            Stage::Report => "+ BacktestRecorder::bar",
            Stage::RunCandles => "local::inline::run_candles (all of it, and the report)",
        }
    }

    fn run(self, config: &Config, candles: &[Candle]) -> anyhow::Result<()> {
        if let Stage::RunCandles = self {
            let report =
                aegis_worker::local::inline::run_candles(config, candles, BTreeMap::new())?;
            std::hint::black_box(report);
            return Ok(());
        }
        let mut strategy = aegis_engine::strategy::from_params(config.brain.strategy.checked()?)?;
        let mut exec = Execution::new(execution_params(config))?;
        let mut recorder = BacktestRecorder::new(config);
        for (seq, candle) in (0u64..).zip(candles) {
            let candle = Candle { seq, ..*candle };
            let signal = Signal {
                seq,
                ..aegis_engine::strategy::signal_for(strategy.as_mut(), &candle, 0)
            };
            match self {
                Stage::Strategy => {
                    std::hint::black_box(&signal);
                }
                Stage::Execution => {
                    std::hint::black_box(exec.on_signal(&signal));
                }
                _ => {
                    let entries = exec.on_signal(&signal);
                    recorder.bar(&entries, &signal, &exec)?;
                }
            }
        }
        std::hint::black_box((&exec, &recorder));
        Ok(())
    }
}
