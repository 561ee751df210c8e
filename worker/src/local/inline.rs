//! The backtest pipeline in one process and one loop — parse, validate,
//! strategy, execution, report — with no rings in between. It is the
//! baseline the three-process backtest's throughput is measured against, and
//! the reference its results must equal exactly.
//!
//! The two halves are separate so that `sweep` can parse and validate a
//! file once ([`load`]) and run many parameter sets over its candles
//! ([`run_candles`]), each exactly as a `backtest` of that set would.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use crate::config::Config;
use crate::roles::orchestrator::execution_params;
use aegis_contract::records::{Candle, Signal};
use aegis_engine::market::Rejection;
use aegis_engine::report::recorder::BacktestRecorder;
use aegis_engine::report::BacktestReport;
use aegis_engine::strategy;
use aegis_engine::trading::Execution;

/// A replay file parsed and validated: the accepted candles in order, and
/// the rows refused by reason (every reason present, most at 0).
#[derive(Clone, Debug)]
pub struct Replay {
    /// The accepted candles (`seq` is their index).
    pub candles: Vec<Candle>,
    /// Refused rows by [`Rejection::label`].
    pub rejected: BTreeMap<String, u64>,
}

/// Runs the replay file of `config` through the strategy and the paper broker.
pub fn run(config: &Config) -> anyhow::Result<BacktestReport> {
    let file = config
        .feed
        .replay
        .file
        .as_ref()
        .context("feed.replay.file is required")?;
    let replay = load(file)?;
    run_candles(config, &replay.candles, replay.rejected)
}

/// Parses and validates the replay file `file`, as the feed does.
pub fn load(file: &Path) -> anyhow::Result<Replay> {
    let csv = crate::store::replay::open_csv(file)
        .with_context(|| format!("replay file {}", file.display()))?;
    let mut rejected: BTreeMap<String, u64> = Rejection::ALL
        .iter()
        .map(|r| (r.label().to_string(), 0))
        .collect();
    let mut candles = Vec::new();
    for item in csv.validated() {
        match item.with_context(|| format!("reading {}", file.display()))? {
            Ok(row) => candles.push(Candle {
                seq: candles.len() as u64,
                ..row.candle
            }),
            Err(e) => *rejected.entry(e.reason.label().to_string()).or_default() += 1,
        }
    }
    Ok(Replay { candles, rejected })
}

/// Runs `candles` (accepted ones, in order) through `config`'s strategy
/// and the paper broker; `rejected` goes into the report as it is. The
/// candles are numbered from 0 here, so a slice runs as a file holding
/// only those rows would.
pub fn run_candles(
    config: &Config,
    candles: &[Candle],
    rejected: BTreeMap<String, u64>,
) -> anyhow::Result<BacktestReport> {
    let mut strategy = strategy::from_params(config.brain.strategy.checked()?)?;
    let mut exec = Execution::new(execution_params(config))?;
    let mut recorder = BacktestRecorder::new(config);
    let mut last = None;
    for (seq, candle) in (0u64..).zip(candles) {
        let candle = Candle { seq, ..*candle };
        let signal = Signal {
            seq,
            ..strategy::signal_for(strategy.as_mut(), &candle, 0)
        };
        let entries = exec.on_signal(&signal);
        recorder.bar(&entries, &signal, &exec)?;
        last = Some(signal);
    }
    if let Some(last) = last {
        let closing = exec.finish(&last);
        recorder.fills(&closing)?;
    }
    Ok(recorder.finish(&exec, rejected))
}
