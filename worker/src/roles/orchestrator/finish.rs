//! The end of a finite run (`orchestrator.exit_at_end`): the book closed at
//! the last close, the closing entries in the ledger, and the write-reports
//! step — the backtest report, when one is asked for.

use anyhow::Context;

use super::metrics::count;
use super::session::Session;
use super::state::{publish_snapshot, State};
use crate::config::Config;
use crate::roles::rings::EndMarker;
use aegis_contract::records::Signal;
use aegis_engine::report::recorder::BacktestRecorder;
use aegis_engine::trading::price_from_f64;
use aegis_runtime::StopFlag;

/// Closes what is open at the last close and writes the backtest report if
/// asked.
pub(super) fn close_run(
    config: &Config,
    session: &mut Session,
    last: Option<Signal>,
    backtest: Option<BacktestRecorder>,
    end: EndMarker,
    state: &State,
    stop: &StopFlag,
) -> anyhow::Result<()> {
    let closing = last.map(|s| session.exec.finish(&s)).unwrap_or_default();
    if !closing.is_empty() {
        session.ledger.append(&closing)?;
        count(&state.metrics, &closing, None);
    }
    let Session {
        exec, ledger, live, ..
    } = session;
    if let (Some(live), Some(s)) = (live.as_ref(), last) {
        live.settle(exec, ledger, state, stop, true, price_from_f64(s.close))?;
    }
    publish_snapshot(state, exec);
    if let (Some(mut recorder), Some(dir)) = (backtest, &config.orchestrator.backtest_report) {
        recorder.fills(&closing)?;
        let report = recorder.finish(exec, end.rejected);
        crate::store::reports::write_backtest(&report, dir)
            .with_context(|| format!("writing the backtest report to {}", dir.display()))?;
        tracing::info!(dir = %dir.display(), trades = report.num_trades, "backtest report written");
    }
    tracing::info!("brain finished and every signal is handled");
    Ok(())
}
