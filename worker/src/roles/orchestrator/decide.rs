//! The decide and settle steps for one batch of signals: each signal to the
//! book ([`Execution::on_signal`](aegis_engine::trading::Execution::on_signal)),
//! its entries to the ledger, and in live mode its order to the exchange
//! before the next signal is looked at.
//!
//! Live trading acts only on fresh signals: of the signals waiting, only the
//! newest ([`superseded_by_newer`]), and only while its candle closed less
//! than `orchestrator.max_signal_age_secs` ago ([`is_stale`]). Backtests and
//! paper act on every signal.

use std::time::Duration;

use ringbuf_shm::precise_ns;

use super::freshness::is_stale;
use super::live::{Live, Outcome};
use super::metrics::{count, Stamps};
use super::session::Session;
use super::state::State;
use crate::config::{Config, ExecutionMode};
use aegis_contract::records::Signal;
use aegis_engine::ledger::Entry;
use aegis_engine::report::recorder::BacktestRecorder;
use aegis_engine::trading::price_from_f64;
use aegis_runtime::StopFlag;

/// How a batch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Handled {
    /// Every signal handled and its entries in the ledger: commit.
    Done,
    /// Stopped while a live order was in flight: do not commit (the next
    /// start settles the order from the ledger first).
    StoppedUnsettled,
}

/// Which signals live trading acts on (see the [module docs](self)).
pub(super) struct Freshness {
    live: bool,
    interval_ms: i64,
    max_signal_age: Duration,
}

impl Freshness {
    /// The rule the configuration sets.
    pub(super) fn new(config: &Config) -> Freshness {
        Freshness {
            live: config.orchestrator.mode == ExecutionMode::Live,
            interval_ms: i64::try_from(config.interval.as_millis()).unwrap_or(i64::MAX),
            max_signal_age: config.max_signal_age(),
        }
    }
}

/// Decides on every signal of `batch` and settles what it causes. Paper
/// entries go to the ledger together at the end of the batch; live, each
/// signal's entries are written (the order ahead of its request) and its
/// order settled before the next.
pub(super) fn handle_batch(
    session: &mut Session,
    batch: &[Signal],
    more_waiting: bool,
    freshness: &Freshness,
    mut backtest: Option<&mut BacktestRecorder>,
    state: &State,
    stop: &StopFlag,
) -> anyhow::Result<Handled> {
    let mut entries = Vec::new();
    let mut decided = Vec::new();
    let mut unsettled = false;
    let mut stale = 0u64;
    let newest = batch.len() - 1;
    let mut superseded = 0u64;
    for (i, s) in batch.iter().enumerate() {
        if freshness.live && superseded_by_newer(i, newest, more_waiting) {
            superseded += 1;
            continue;
        }
        // The clock is read for live signals only (paper needs no age).
        if freshness.live
            && is_stale(
                s.ts_ms,
                freshness.interval_ms,
                freshness.max_signal_age,
                exchange_now_ms(session.live.as_ref()),
            )
        {
            // A live order is placed only on a fresh candle, never on
            // the feed's backfill or what piled up during downtime.
            stale += 1;
            continue;
        }
        if let Some(live) = session.live.as_ref() {
            // What the resting limit and the exchange's exits did since the
            // last bar, first: the decision is made on the book as it is.
            live.tend_limit(&mut session.exec, &mut session.ledger, state, stop, s)?;
            live.tend_exits(&mut session.exec, &mut session.ledger, state, stop)?;
        }
        let produced = session.exec.on_signal(s);
        if produced.iter().any(|e| matches!(e, Entry::Order { .. })) {
            // Tick-to-order ends when the order is decided, before its
            // fsync'd ledger write (tick-to-ledger, stamped after it).
            decided.push((s.seq, precise_ns()));
        }
        if let Some(recorder) = backtest.as_deref_mut() {
            recorder.bar(&produced, s, &session.exec)?;
        }
        if session.live.is_some() {
            if !produced.is_empty() {
                session.append(&produced)?;
                let stamps = Stamps {
                    signals: &[*s],
                    decided: &decided,
                    appended_ns: precise_ns(),
                };
                count(&state.metrics, &produced, Some(&stamps));
            }
            let price = price_from_f64(s.close);
            let Session {
                exec, ledger, live, ..
            } = session;
            if let Some(live) = live {
                let outcome = live.settle(exec, ledger, state, stop, true, price)?;
                if outcome == Outcome::Unsettled && stop.is_set() {
                    unsettled = true;
                    break;
                }
                // The bar's close may have moved the exits' levels.
                live.refresh_exits(exec, ledger, state, stop, true)?;
            }
            continue;
        }
        entries.extend(produced);
    }
    if superseded > 0 {
        state.metrics.superseded.inc_by(superseded);
        tracing::info!(
            signals = superseded,
            "passed over signals that a newer one supersedes: live trading goes straight to the newest target"
        );
    }
    if stale > 0 {
        state.metrics.stale.inc_by(stale);
        tracing::info!(
            signals = stale,
            max_age_s = freshness.max_signal_age.as_secs_f64(),
            "passed over signals of candles that closed too long ago: live orders follow fresh candles only"
        );
    }
    if unsettled {
        return Ok(Handled::StoppedUnsettled);
    }
    if !entries.is_empty() {
        session.append(&entries)?;
        let stamps = Stamps {
            signals: batch,
            decided: &decided,
            appended_ns: precise_ns(),
        };
        count(&state.metrics, &entries, Some(&stamps));
    }
    Ok(Handled::Done)
}

/// Live: whether signal `i` of a batch whose last is `newest` is passed
/// over because a newer signal waits (later in the batch, or still in the
/// ring). A backlog — the feed's backfill, what piled up while the
/// orchestrator was down or busy — is never worked through one order at a
/// time: the newest signal's target is where the book goes.
fn superseded_by_newer(i: usize, newest: usize, more_waiting: bool) -> bool {
    more_waiting || i < newest
}

/// The exchange's clock when connected (candle times are its times), else
/// the local one (a ban at startup leaves live mode unconnected).
fn exchange_now_ms(live: Option<&Live>) -> i64 {
    live.map_or_else(
        || chrono::Utc::now().timestamp_millis(),
        Live::server_now_ms,
    )
}
