//! The backtest pipeline in one process and one loop — parse, validate,
//! strategy, execution, report — with no rings in between. It is the
//! baseline the three-process backtest's throughput is measured against, and
//! the reference its results must equal exactly.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::config::Config;
use crate::roles::orchestrator::execution_params;
use aegis_contract::records::{Candle, Signal};
use aegis_engine::market::Rejection;
use aegis_engine::report::recorder::BacktestRecorder;
use aegis_engine::report::BacktestReport;
use aegis_engine::strategy;
use aegis_engine::trading::Execution;

/// Runs the replay file of `config` through the strategy and the paper broker.
pub fn run(config: &Config) -> anyhow::Result<BacktestReport> {
    let file = config
        .feed
        .replay
        .file
        .as_ref()
        .context("feed.replay.file is required")?;
    let csv = crate::store::replay::open_csv(file)
        .with_context(|| format!("replay file {}", file.display()))?;
    let mut strategy = strategy::from_params(config.brain.strategy.checked()?)?;
    let mut exec = Execution::new(execution_params(config))?;
    let mut recorder = BacktestRecorder::new(config);
    let mut rejected: BTreeMap<String, u64> = Rejection::ALL
        .iter()
        .map(|r| (r.label().to_string(), 0))
        .collect();
    let mut last = None;
    let mut seq = 0u64;
    for item in csv.validated() {
        let row = match item.with_context(|| format!("reading {}", file.display()))? {
            Ok(row) => row,
            Err(e) => {
                *rejected.entry(e.reason.label().to_string()).or_default() += 1;
                continue;
            }
        };
        let candle = Candle { seq, ..row.candle };
        let signal = Signal {
            seq,
            ..strategy::signal_for(strategy.as_mut(), &candle, 0)
        };
        seq += 1;
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
