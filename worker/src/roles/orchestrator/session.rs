//! Opening a trading session: the ledger opened (a torn last line cut
//! off), the book rebuilt from it, a `clear_halt` applied, and in live mode
//! the exchange connected, the ledger's id ensured and an order left in
//! flight by the last run settled before anything new is decided.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::Context;

use super::live::{self, Live, Outcome};
use super::state::{lock, publish_snapshot, State};
use crate::config::{Config, ExecutionMode};
use crate::store::Ledger;
use aegis_engine::ledger::Entry;
use aegis_engine::trading::{Execution, ExecutionParams, RiskLimits};
use aegis_exchange::RestError;
use aegis_runtime::StopFlag;

/// The book, its ledger and, live, the exchange: what the loop trades with.
pub(super) struct Session {
    /// The book.
    pub(super) exec: Execution,
    /// Where every entry is appended before the loop acts further.
    pub(super) ledger: Ledger,
    /// The ledger's path, for errors.
    pub(super) ledger_path: PathBuf,
    /// Live mode, connected; `None` on paper, or live and halted by a ban
    /// (then nothing is ever sent).
    pub(super) live: Option<Live>,
}

/// The execution parameters the configuration describes.
pub fn execution_params(config: &Config) -> ExecutionParams {
    let o = &config.orchestrator;
    ExecutionParams {
        cash: o.cash,
        fee_bps: o.fee_bps,
        slippage_bps: o.slippage_bps,
        qty_step: o.qty_step,
        allocation: o.allocation,
        limits: RiskLimits {
            max_position_notional: o.risk.max_position_notional,
            max_drawdown: o.risk.max_drawdown,
            daily_loss_limit: o.risk.daily_loss_limit,
        },
        exits: o.exits.clone(),
        entry_order: o.entry_order.clone(),
    }
}

impl Session {
    /// Opens the session; `None` when stopped while settling an order left
    /// in flight (or while connecting).
    pub(super) fn open(
        config: &Config,
        state: &State,
        stop: &StopFlag,
        listen: SocketAddr,
    ) -> anyhow::Result<Option<Session>> {
        let credentials = match config.orchestrator.mode {
            ExecutionMode::Live => Some(live::credentials()?),
            ExecutionMode::Paper => None,
        };
        let ledger_path = config.ledger_path();
        let (mut ledger, recovered) = Ledger::open(&ledger_path)?;
        if let Some(repair) = &recovered.repaired {
            tracing::warn!(ledger = %ledger_path.display(), line = repair.line, bytes_dropped = repair.bytes_dropped, "the ledger's last line was torn by a crash mid-write; cut it off");
        }
        let dupes = aegis_engine::ledger::duplicate_orders(&recovered.entries);
        if !dupes.is_empty() {
            tracing::error!(signal_seqs = ?dupes, "the ledger holds more than one order for these signals");
        }
        let mut exec = Execution::rebuild(execution_params(config), &recovered.entries)
            .with_context(|| format!("rebuilding the book from {}", ledger_path.display()))?;
        if config.orchestrator.risk.clear_halt {
            let resume = exec.resume(chrono::Utc::now().timestamp_millis());
            if !resume.is_empty() {
                ledger.append(&resume)?;
                tracing::warn!(
                    "the kill switch was cleared by configuration (orchestrator.risk.clear_halt)"
                );
            }
        }
        if let Some(halt) = exec.halted() {
            tracing::warn!(reason = %halt.reason, "trading is halted: new entries are blocked until orchestrator.risk.clear_halt");
        }
        let fills = recovered
            .entries
            .iter()
            .filter(|e| matches!(e, Entry::Fill { .. }))
            .count();
        // Relaxed: a count for display, read by the HTTP thread.
        state.fills_before.store(fills as u64, Ordering::Relaxed);
        tracing::info!(listen = %listen, ledger = %ledger_path.display(), entries = recovered.entries.len(), last_signal = ?exec.last_signal_seq(), "orchestrator started");
        *lock(&state.ledger) = Ok("ledger writable".into());
        publish_snapshot(state, &exec);
        let live = match credentials {
            Some(_) if exec.banned() => {
                // A ban in the ledger: no request at all until clear_halt.
                exec.set_venue(&live::BINANCE);
                None
            }
            Some(credentials) => 'live: {
                exec.set_venue(&live::BINANCE);
                let ids = live::ensure_ledger_id(&recovered.entries, exec.pending(), &mut ledger)?;
                let live = match Live::connect(config, credentials, ids, state, stop) {
                    Ok(Some(live)) => live,
                    Ok(None) => return Ok(None),
                    Err(e) => match e.downcast_ref::<RestError>() {
                        Some(ban @ RestError::Banned { .. }) => {
                            // Halted and silent, but still serving /status.
                            Live::ban_at_startup(&mut exec, &mut ledger, state, ban)?;
                            break 'live None;
                        }
                        _ => return Err(e),
                    },
                };
                live.adopt_step(&mut exec);
                live.check_balances(&mut exec, &mut ledger, state)?;
                if live.settle(&mut exec, &mut ledger, state, stop, false, None)?
                    == Outcome::Unsettled
                    && stop.is_set()
                {
                    return Ok(None);
                }
                // What the exits did while the engine was down, exits for a
                // position without them, and orders the ledger does not know.
                live.tend_exits(&mut exec, &mut ledger, state, stop)?;
                live.report_orphans(&exec, state)?;
                Some(live)
            }
            None => None,
        };
        Ok(Some(Session {
            exec,
            ledger,
            ledger_path,
            live,
        }))
    }

    /// Appends `entries` (fsync'd for orders and fills).
    pub(super) fn append(&mut self, entries: &[Entry]) -> anyhow::Result<()> {
        self.ledger
            .append(entries)
            .with_context(|| format!("appending to the ledger {}", self.ledger_path.display()))
    }
}
