//! `aegis-worker sweep`: every combination of a parameter grid over one
//! replay file, on every core, into `results.csv`, `results.json` and, for
//! two-parameter grids, `heatmap.svg`.
//!
//! - The file is parsed and validated once ([`inline::load`]) and its
//!   candles shared by all threads; each combination then runs exactly as
//!   a `backtest` of those parameters does ([`inline::run_candles`]: the
//!   same strategy, paper broker and report), so its figures are the ones
//!   `backtest` prints.
//! - The grid is over the parameter names the strategy's catalog entry
//!   declares (`aegis_contract::strategy::find`), and each combination is
//!   checked by `aegis_contract::strategy::parse`: one it refuses (say
//!   `slow <= fast`) is skipped and counted, not run. A strategy added to
//!   that catalog (a rule file's parameters included) sweeps by name with
//!   no change here.
//! - `--split F` runs each combination twice: on the first F of the
//!   candles (in-sample: what the rows are sorted by) and on the rest
//!   (out-of-sample), each a fresh run (the strategy warms up again), as a
//!   `backtest` of a file holding only those rows would.
//! - `--jobs` threads ([`pool::default_jobs`]: the CPUs this process may
//!   use); the results do not depend on it.

mod grid;
mod heatmap;
pub mod pool;
mod results;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use crate::config::{self, Config, ConfigSource, ParamValue, UsageError};
use crate::local::inline;
use crate::store::reports;
use aegis_contract::records::Candle;
use aegis_engine::report::BacktestReport;
pub use grid::{combinations, parse_axis, Axis, GridError};
pub use results::{Metric, Metrics, SweepRow, SweepSummary, RESULTS_CSV, RESULTS_JSON};

/// Where the best combination's whole report goes, in `--out`.
pub const BEST_DIR: &str = "best";
/// Where the best combination's out-of-sample report goes, with `--split`.
pub const BEST_OUT_OF_SAMPLE_DIR: &str = "best-out-of-sample";

/// Options of `sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The CSV to replay (header `timestamp,open,high,low,close,volume`).
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Strategy name (`sma-cross`, `rsi-reversion`).
    #[arg(
        long,
        required_unless_present = "strategy_file",
        conflicts_with = "strategy_file"
    )]
    pub strategy: Option<String>,
    /// A rules file (docs/strategies.md); the grid varies its `params`.
    #[arg(long, value_name = "FILE.yaml")]
    pub strategy_file: Option<PathBuf>,
    /// A parameter's values: `name=start..end:step` or `name=a,b,c` (repeatable).
    #[arg(long = "grid", value_name = "NAME=SPEC", value_parser = parse_axis, required = true)]
    pub grid: Vec<Axis>,
    /// A parameter held at one value, e.g. `--param short=true` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = crate::local::backtest::parse_param)]
    pub params: Vec<(String, String)>,
    /// Run in-sample on this share of the candles and out-of-sample on the rest.
    #[arg(long, value_name = "FRACTION")]
    pub split: Option<f64>,
    /// Threads (default: the CPUs this process may use, cgroup limits included).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// The metric the rows are sorted by (in-sample), best first.
    #[arg(long, value_enum, default_value = "sharpe")]
    pub sort: Metric,
    /// Directory for results.csv, results.json and heatmap.svg.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// A sweep's input checked: the configuration to start from and the
/// combinations to run.
struct Plan {
    config: Config,
    names: Vec<String>,
    valid: Vec<BTreeMap<String, String>>,
    total: usize,
    skipped: Vec<String>,
}

fn plan(source: &ConfigSource, args: &SweepArgs) -> anyhow::Result<Plan> {
    if let Some(split) = args.split {
        if !(split > 0.0 && split < 1.0) {
            return Err(UsageError(format!(
                "--split {split}: must be between 0 and 1 (the in-sample share)"
            ))
            .into());
        }
    }
    let mut config = config::load(source)?;
    // The strategy the grid sweeps, and the names it takes.
    let (name, known): (&str, Vec<String>) = match (&args.strategy, &args.strategy_file) {
        (_, Some(file)) => {
            config::use_strategy_file(&mut config, file)?;
            let declared = config
                .brain
                .strategy
                .rules
                .as_ref()
                .map(|r| r.params.keys().cloned().collect())
                .unwrap_or_default();
            (aegis_contract::strategy::rules::NAME, declared)
        }
        (Some(strategy), None) => {
            let info = aegis_contract::strategy::find(strategy)
                .map_err(|e| UsageError(format!("--strategy {strategy}: {e}")))?;
            if config.brain.strategy.name != info.name {
                config.brain.strategy.params.clear();
                config.brain.strategy.rules = None;
            }
            config.brain.strategy.name = info.name.to_string();
            (
                info.name,
                info.params.iter().map(|p| p.name.to_string()).collect(),
            )
        }
        (None, None) => {
            return Err(UsageError("--strategy or --strategy-file is required".into()).into())
        }
    };
    for given in args
        .grid
        .iter()
        .map(|a| a.name.as_str())
        .chain(args.params.iter().map(|(k, _)| k.as_str()))
    {
        if !known.iter().any(|k| k == given) {
            return Err(UsageError(format!(
                "--grid/--param {given}: {name} has no parameter {given:?}; it has {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
            .into());
        }
    }
    let fixed: BTreeMap<String, String> = args.params.iter().cloned().collect();
    if let Some(axis) = args.grid.iter().find(|a| fixed.contains_key(&a.name)) {
        return Err(UsageError(format!(
            "--grid {0} and --param {0}: a parameter is either swept or held",
            axis.name
        ))
        .into());
    }
    let all = combinations(&args.grid).map_err(|e| UsageError(e.to_string()))?;
    let total = all.len();
    let mut valid = Vec::new();
    let mut skipped = Vec::new();
    let rules = config.brain.strategy.rules.as_ref();
    for combo in all {
        let mut params = fixed.clone();
        params.extend(combo.clone());
        match aegis_contract::strategy::parse_with_rules(name, &params, rules) {
            Ok(_) => valid.push(params),
            Err(e) => skipped.push(format!("{}: {e}", describe(&combo))),
        }
    }
    config.feed.replay.file = Some(args.data.clone());
    Ok(Plan {
        config,
        names: args.grid.iter().map(|a| a.name.clone()).collect(),
        valid,
        total,
        skipped,
    })
}

/// `fast=5 slow=20`.
fn describe(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The backtest report of one combination over `candles`, with the data
/// file's `rejected` row counts.
fn report_of(
    base: &Config,
    params: &BTreeMap<String, String>,
    candles: &[Candle],
    rejected: BTreeMap<String, u64>,
) -> anyhow::Result<BacktestReport> {
    let mut config = base.clone();
    for (k, v) in params {
        config
            .brain
            .strategy
            .params
            .insert(k.clone(), ParamValue::Text(v.clone()));
    }
    inline::run_candles(&config, candles, rejected)
        .with_context(|| format!("running {}", describe(params)))
}

/// One combination on the in-sample candles and, with a split, the rest.
pub fn run_one(
    base: &Config,
    params: &BTreeMap<String, String>,
    in_sample: &[Candle],
    out_of_sample: Option<&[Candle]>,
) -> anyhow::Result<SweepRow> {
    let run = |candles: &[Candle]| {
        report_of(base, params, candles, BTreeMap::new()).map(|r| Metrics::of(&r))
    };
    Ok(SweepRow {
        params: params.clone(),
        in_sample: run(in_sample)?,
        out_of_sample: out_of_sample.map(run).transpose()?,
    })
}

/// Writes the whole report (report.json, report.html, equity.svg) of the
/// best combination into `out/best/`, and with a split its out-of-sample
/// run into `out/best-out-of-sample/`: the same files `backtest` writes
/// (both with the rows of the data file that were refused).
fn write_best(
    out: &Path,
    base: &Config,
    best: &SweepRow,
    (in_sample, out_of_sample): (&[Candle], Option<&[Candle]>),
    rejected: &BTreeMap<String, u64>,
) -> anyhow::Result<()> {
    let write = |candles: &[Candle], dir: &str| -> anyhow::Result<()> {
        let dir = out.join(dir);
        let report = report_of(base, &best.params, candles, rejected.clone())?;
        reports::write_backtest(&report, &dir).with_context(|| {
            format!(
                "writing the best combination's report into {}",
                dir.display()
            )
        })
    };
    write(in_sample, BEST_DIR)?;
    if let Some(candles) = out_of_sample {
        write(candles, BEST_OUT_OF_SAMPLE_DIR)?;
    }
    Ok(())
}

/// Runs the sweep and prints its best rows.
pub fn run(source: &ConfigSource, args: &SweepArgs) -> anyhow::Result<()> {
    let plan = plan(source, args)?;
    if !args.data.is_file() {
        anyhow::bail!("--data {}: no such file", args.data.display());
    }
    let started = Instant::now();
    let replay = inline::load(&args.data)?;
    let n = replay.candles.len();
    if n == 0 {
        anyhow::bail!(
            "--data {}: no valid candles (rows refused: {:?})",
            args.data.display(),
            replay
                .rejected
                .iter()
                .filter(|(_, n)| **n > 0)
                .collect::<BTreeMap<_, _>>()
        );
    }
    let cut = args
        .split
        .map(|s| ((n as f64 * s).round() as usize).clamp(1, n.saturating_sub(1).max(1)));
    let candles: &[Candle] = &replay.candles;
    let (in_sample, out_of_sample) = match cut {
        Some(cut) => (&candles[..cut], Some(&candles[cut..])),
        None => (candles, None),
    };
    let jobs = args.jobs.map_or_else(pool::default_jobs, usize::from);
    aegis_runtime::dirs::private_dir(&args.out)
        .with_context(|| format!("creating --out {}", args.out.display()))?;
    let bar = super::progress_bar(
        args.no_progress,
        plan.valid.len() as u64,
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} combinations (eta {eta})",
    );
    let done = || {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    };
    let mut rows = pool::run(
        plan.valid.len(),
        jobs,
        |i| run_one(&plan.config, &plan.valid[i], in_sample, out_of_sample),
        &done,
    )?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    results::sort(&mut rows, args.sort);
    let summary = SweepSummary {
        strategy: &plan.config.brain.strategy.name,
        data: args.data.display().to_string(),
        candles: n as u64,
        split: args.split,
        sort: args.sort,
        combinations: plan.total,
        skipped: plan.skipped.len(),
        skipped_examples: plan.skipped.iter().take(5).cloned().collect(),
        results: &rows,
    };
    results::write(&args.out, &plan.names, &summary)?;
    if let Some(best) = rows.first() {
        write_best(
            &args.out,
            &plan.config,
            best,
            (in_sample, out_of_sample),
            &replay.rejected,
        )?;
    }
    if let [x, y] = &args.grid[..] {
        let title = format!(
            "{} on {}: in-sample {:?}",
            summary.strategy,
            args.data.display(),
            args.sort
        );
        let svg = heatmap::render(x, y, &rows, args.sort, &title);
        let path = args.out.join(heatmap::HEATMAP_SVG);
        aegis_runtime::durable::write_atomic(&path, svg.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let evaluations = rows.len() as f64 * n as f64;
    println!(
        "sweep: {} combinations ({} skipped as invalid) over {n} candles on {jobs} threads in {elapsed:.2} s ({:.1}M candle-evaluations/s)\n  results: {}/{RESULTS_CSV}, {}/{RESULTS_JSON}; the best one's report: {}/{BEST_DIR}/report.html",
        rows.len(),
        plan.skipped.len(),
        evaluations / elapsed.max(1e-9) / 1e6,
        args.out.display(),
        args.out.display(),
        args.out.display()
    );
    for row in rows.iter().take(5) {
        let pct = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0));
        let oos = row.out_of_sample.as_ref().map_or(String::new(), |m| {
            format!(
                ", out-of-sample return {} sharpe {}",
                pct(m.total_return),
                m.sharpe.map_or("-".into(), |s| format!("{s:.3}"))
            )
        });
        println!(
            "  {}: return {} max drawdown {} sharpe {} trades {}{oos}",
            describe(&row.params),
            pct(row.in_sample.total_return),
            pct(Some(row.in_sample.max_drawdown)),
            row.in_sample
                .sharpe
                .map_or("-".into(), |s| format!("{s:.3}")),
            row.in_sample.num_trades
        );
    }
    Ok(())
}
