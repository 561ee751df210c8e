//! `aegis-worker backtest`: replays a CSV through the three roles — real
//! processes over real rings, Lossless, as fast as possible — and writes
//! `report.json` and `equity.svg` into the output directory.
//!
//! Fill model: a signal computed on the close of bar t fills at the open of
//! bar t+1 (with the configured slippage and fee); a position still open at
//! the end is closed at the last close.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rust_decimal::Decimal;

use super::children::{self, ROLES};
use crate::config::{self, Config, ConfigSource, OverflowMode, ParamValue, SourceKind};
use crate::roles::rings::ORCHESTRATOR_READER;
use aegis_engine::report::BacktestReport;
use aegis_runtime::StopFlag;

/// Options of `backtest`.
#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// The CSV to replay (header `timestamp,open,high,low,close,volume`).
    #[arg(long, value_name = "FILE.csv")]
    pub data: PathBuf,
    /// Strategy name (`sma-cross`, `rsi-reversion`); default: the configured one.
    #[arg(long, conflicts_with = "strategy_file")]
    pub strategy: Option<String>,
    /// Rules to run as the strategy (a YAML file, docs/strategies.md).
    #[arg(long, value_name = "RULES.yaml")]
    pub strategy_file: Option<PathBuf>,
    /// A strategy parameter, e.g. `--param fast=10` (repeatable); with
    /// `--strategy-file`, one of the rules' `params`.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Fee per fill in basis points of notional.
    #[arg(long, value_name = "BPS", allow_negative_numbers = true)]
    pub fee_bps: Option<Decimal>,
    /// Slippage per fill in basis points of price.
    #[arg(long, value_name = "BPS", allow_negative_numbers = true)]
    pub slippage_bps: Option<Decimal>,
    /// Starting cash.
    #[arg(long, allow_negative_numbers = true)]
    pub cash: Option<Decimal>,
    /// Directory for report.json, equity.svg, the ledger and the roles' logs.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// `--param name=value`.
pub fn parse_param(text: &str) -> Result<(String, String), String> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| format!("--param {text:?}: expected name=value, e.g. fast=10"))?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

/// The configuration the three roles of a backtest run with.
pub fn backtest_config(
    mut config: Config,
    args: &BacktestArgs,
    rings: &Path,
) -> anyhow::Result<Config> {
    config.rings.dir = rings.to_path_buf();
    config.rings.overflow = OverflowMode::Lossless;
    config.feed.source = SourceKind::Replay;
    config.feed.replay.file = Some(args.data.clone());
    config.feed.replay.speed = 0.0;
    config.feed.exit_at_end = true;
    config.brain.exit_at_end = true;
    config.orchestrator.exit_at_end = true;
    if let Some(name) = &args.strategy {
        if *name != config.brain.strategy.name {
            config.brain.strategy.params.clear();
            config.brain.strategy.rules = None;
        }
        config.brain.strategy.name = name.clone();
    }
    if let Some(file) = &args.strategy_file {
        config::use_strategy_file(&mut config, file)?;
    }
    for (k, v) in &args.params {
        config
            .brain
            .strategy
            .params
            .insert(k.clone(), ParamValue::Text(v.clone()));
    }
    if let Some(fee) = args.fee_bps {
        config.orchestrator.fee_bps = fee;
    }
    if let Some(slip) = args.slippage_bps {
        config.orchestrator.slippage_bps = slip;
    }
    if let Some(cash) = args.cash {
        config.orchestrator.cash = cash;
    }
    config.orchestrator.data_dir = rings.join("data");
    config.orchestrator.backtest_report = Some(args.out.clone());
    // Nothing listens for probes in a backtest: let the kernel pick ports.
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    (
        config.feed.listen,
        config.brain.listen,
        config.orchestrator.listen,
        config.orchestrator.control_listen,
    ) = (any, any, any, any);
    children::control_token(&mut config, rings)?;
    config.validate()?;
    crate::config::check_replay_file(&config)?;
    Ok(config)
}

/// Removes the private ring directory however the backtest ends.
struct RingDir(PathBuf);

impl Drop for RingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the backtest and prints a summary.
pub fn run(source: &ConfigSource, args: &BacktestArgs) -> anyhow::Result<()> {
    if !args.data.is_file() {
        anyhow::bail!("--data {}: no such file", args.data.display());
    }
    let rings = RingDir(children::fresh_ring_dir(None, "aegis-backtest")?);
    let config = backtest_config(config::load(source)?, args, &rings.0)?;
    let out = &args.out;
    let logs = out.join("logs");
    aegis_runtime::dirs::private_dir(&logs)?;
    let _ = std::fs::remove_file(out.join(aegis_engine::report::backtest::REPORT_JSON));
    let config_file = children::write_config(&config, &rings.0)?;
    let rows = count_lines(&args.data)?;

    let stop = StopFlag::install()?;
    let started = Instant::now();
    let exe = std::env::current_exe().context("finding this program's path")?;
    let mut running: Vec<(&str, Child)> = Vec::new();
    for role in ROLES {
        let log = logs.join(format!("{role}.log"));
        // Never through a link planted at the log's path.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&log)
            .with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(&exe)
            .arg("--config")
            .arg(&config_file)
            .arg(role)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting the {role}"))?;
        running.push((role, child));
    }
    let bar = progress_bar(args.no_progress, rows);
    let signals = config.signals_ring();
    let mut failure = None;
    while !running.is_empty() {
        if stop.is_set() {
            failure = Some("interrupted".to_string());
        }
        let mut i = 0;
        while i < running.len() {
            match running[i].1.try_wait()? {
                Some(status) if status.success() => {
                    running.remove(i);
                }
                Some(status) => {
                    let role = running[i].0;
                    failure.get_or_insert(format!(
                        "the {role} failed ({}); its log: {}\n{}",
                        crate::supervisor::child::describe_exit(status),
                        logs.join(format!("{role}.log")).display(),
                        log_tail(&logs.join(format!("{role}.log")))
                    ));
                    running.remove(i);
                }
                None => i += 1,
            }
        }
        if failure.is_some() {
            for (_, child) in &mut running {
                let _ = child.kill();
                let _ = child.wait();
            }
            break;
        }
        if let Some(bar) = &bar {
            if let Some(done) = ringbuf_shm::inspect(&signals)
                .ok()
                .and_then(|s| s.reader(ORCHESTRATOR_READER).map(|r| r.cursor))
            {
                bar.set_position(done);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if let Some(failure) = failure {
        anyhow::bail!("backtest failed: {failure}");
    }
    let elapsed = started.elapsed();
    let ledger = config.ledger_path();
    if ledger.exists() {
        std::fs::read(&ledger)
            .and_then(|bytes| {
                aegis_runtime::durable::write_atomic(&out.join("ledger.jsonl"), &bytes)
            })
            .with_context(|| format!("copying the ledger to {}", out.display()))?;
    }
    let report_path = out.join(aegis_engine::report::backtest::REPORT_JSON);
    let report: BacktestReport = serde_json::from_slice(
        &std::fs::read(&report_path)
            .with_context(|| format!("reading {}", report_path.display()))?,
    )
    .with_context(|| format!("parsing {}", report_path.display()))?;
    print_summary(&report, elapsed, out);
    Ok(())
}

fn print_summary(report: &BacktestReport, elapsed: Duration, out: &Path) {
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0));
    let rejected: u64 = report.rejected.values().sum();
    let reasons: BTreeMap<&String, &u64> =
        report.rejected.iter().filter(|(_, n)| **n > 0).collect();
    println!(
        "backtest: {} candles in {:.2} s ({:.0} candles/s), {} rejected {:?}\n  strategy {} {:?}\n  total return {}, max drawdown {}, sharpe {}, win rate {}, {} trades\n  final equity {} from {}\n  report: {}/report.json, chart: {}/equity.svg",
        report.candles,
        elapsed.as_secs_f64(),
        report.candles as f64 / elapsed.as_secs_f64().max(1e-9),
        rejected,
        reasons,
        report.strategy,
        report.params,
        pct(report.total_return),
        pct(Some(report.max_drawdown)),
        report.sharpe.map_or("-".into(), |s| format!("{s:.3}")),
        pct(report.win_rate),
        report.num_trades,
        report.final_equity,
        report.initial_cash,
        out.display(),
        out.display(),
    );
}

/// Rows in the file (an upper bound on candles), for the progress bar.
fn count_lines(path: &Path) -> anyhow::Result<u64> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

fn progress_bar(disabled: bool, rows: u64) -> Option<indicatif::ProgressBar> {
    if disabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(rows.saturating_sub(1).max(1));
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} candles ({per_sec})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(10)..].join("\n")
}
