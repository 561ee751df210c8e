//! The `orchestrator` role: reads signals, trades them under the risk
//! limits on its venue (the paper fill model, or Binance spot live), and
//! records every order and fill in the durable ledger before acting further.
//!
//! Restarts are exact: the book is rebuilt from the ledger, and the signal
//! cursor is committed only after the ledger append (fsync'd for orders and
//! fills) that a batch of signals caused. A restarted orchestrator re-reads
//! the signals after its last commit, and the signal sequence number — the
//! idempotency key of the order it causes — keeps it from acting twice.
//!
//! The loop ([`trade`]) is a few named steps, each a module:
//!
//! - [`session`]: open the ledger, rebuild the book, connect the exchange;
//! - [`signals`]: read signals (the epoch offset, the end-of-run marker);
//! - [`decide`]: decide on each signal and settle its order with the venue;
//! - [`state`]: publish the book for `/status`, probes and metrics;
//! - [`finish`]: close the run and write the backtest report;
//! - [`desk`] and [`flatten`]: `POST /flatten` handed from the HTTP thread to
//!   the loop, which closes the book at the last close, appends the fill
//!   (fsync'd) and halts trading persistently with reason `flattened`;
//! - [`live`]: `orchestrator.mode: live`, the orders placed on Binance spot
//!   (write-ahead, recovery by client order id, faults, balances);
//! - [`health_report`], [`epoch`], [`metrics`], [`exchange_metrics`]: the
//!   periodic health report, ledger numbering across signal rings, and the
//!   metrics;
//! - [`freshness`]: whether a signal is still fresh enough for a live order.

mod decide;
mod desk;
mod epoch;
mod exchange_metrics;
mod finish;
mod flatten;
mod freshness;
mod health_report;
pub mod live;
mod metrics;
mod session;
mod signals;
mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::config::{Config, ConfigError};
use aegis_contract::api::Refusal;
use aegis_contract::records::Signal;
use aegis_engine::report::recorder::BacktestRecorder;
use aegis_runtime::{serve_with_control, ControlSurface, ControlToken, StopFlag};
use decide::{Freshness, Handled};
use health_report::HealthReporter;
use metrics::Metrics;
pub use session::execution_params;
use session::Session;
use signals::SignalInput;
use state::{lock, publish_snapshot, State};

/// How often the ledger's writability is re-checked for readiness.
const LEDGER_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often a refused orchestrator beats its heartbeat and looks for a
/// stop or a flatten request.
const REFUSED_BEAT: Duration = Duration::from_millis(100);

/// Runs the orchestrator until stopped (or, with `orchestrator.exit_at_end`,
/// until the brain has finished and every signal is handled). A permanent
/// [`Refusal`] (live credentials missing or refused) stops trading but not
/// the process: it stays up, unready, until stopped.
pub fn run(config: &Config, stop: &StopFlag) -> anyhow::Result<()> {
    let (desk, flatten_inbox) = desk::channel();
    let metrics = Metrics::new().context("registering metrics")?;
    let state = Arc::new(State::new(desk, metrics));
    let control = ControlSurface {
        listen: config.orchestrator.control_listen,
        token: control_token(config)?,
    };
    let server = serve_with_control(config.orchestrator.listen, state.clone(), control)
        .with_context(|| {
            format!(
                "listening on {} and {} (control API)",
                config.orchestrator.listen, config.orchestrator.control_listen
            )
        })?;
    match trade(config, stop, &state, &flatten_inbox, server.addr) {
        Err(e) => match e.downcast::<Refusal>() {
            Ok(refusal) => stay_refused(&state, &flatten_inbox, stop, refusal),
            Err(e) => Err(e),
        },
        Ok(()) => Ok(()),
    }
}

/// The control API's token, from `orchestrator.control_token_file`: without
/// one the orchestrator does not start (exit 2), because `/status` and
/// `POST /flatten` would answer anyone.
fn control_token(config: &Config) -> Result<ControlToken, ConfigError> {
    let field = "orchestrator.control_token_file";
    let invalid = |message: String| ConfigError::Invalid {
        field: field.into(),
        message,
    };
    let path = config
        .orchestrator
        .control_token_file
        .as_ref()
        .ok_or_else(|| {
            invalid(
                "not set: the control API (GET /status, POST /flatten) needs a bearer token file \
             (in a pod the operator mounts one; `aegis-worker up` generates one; see \
             docs/security.md)"
                    .into(),
            )
        })?;
    ControlToken::load(path).map_err(|e| invalid(e.to_string()))
}

/// After a permanent refusal: no trading, probes and `/status` answered
/// (unready, with the reason), `POST /flatten` refused, until stopped.
fn stay_refused(
    state: &State,
    flatten_inbox: &desk::Inbox,
    stop: &StopFlag,
    refusal: Refusal,
) -> anyhow::Result<()> {
    tracing::error!(reason = %refusal.reason, "{}; the orchestrator stays up and unready rather than restarting", refusal.message);
    *lock(&state.refusal) = Some(refusal.clone());
    while !stop.is_set() {
        state.heartbeat.beat();
        flatten_inbox.serve(
            || Ok::<_, std::convert::Infallible>(desk::refuse(409, refusal.message.clone())),
            |e| match *e {},
        )?;
        std::thread::sleep(REFUSED_BEAT);
    }
    Ok(())
}

/// Trades until stopped, at the end of the signals, or on a permanent
/// refusal (an `Err` holding a [`Refusal`]).
fn trade(
    config: &Config,
    stop: &StopFlag,
    state: &Arc<State>,
    flatten_inbox: &desk::Inbox,
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let Some(mut session) = Session::open(config, state, stop, listen)? else {
        return Ok(());
    };
    let Some(mut input) = SignalInput::open(config, stop, session.exec.last_signal_seq())? else {
        return Ok(());
    };
    let reporter = HealthReporter::start(config, state.clone())?;
    let mut backtest = config
        .orchestrator
        .backtest_report
        .as_ref()
        .map(|_| BacktestRecorder::new(config));
    let freshness = Freshness::new(config);
    let mut batch = Vec::new();
    let mut last_ledger_check = Instant::now();
    let mut last: Option<Signal> = None;
    loop {
        state.heartbeat.beat();
        input.update_gauges(&state.metrics);
        if last_ledger_check.elapsed() >= LEDGER_CHECK_EVERY {
            check_ledger(&session, state);
            last_ledger_check = Instant::now();
        }
        if stop.is_set() {
            break;
        }
        flatten_inbox.serve(
            || flatten::carry_out(&mut session, state, stop),
            |e| desk::refuse(500, format!("{e:#}")),
        )?;
        if input.read(&mut batch) == 0 {
            if let Some(end) = input.end_of_run() {
                finish::close_run(
                    config,
                    &mut session,
                    last,
                    backtest.take(),
                    end,
                    state,
                    stop,
                )?;
                break;
            }
            input.wait();
            continue;
        }
        let started = Instant::now();
        let more_waiting = input.more_waiting();
        let handled = decide::handle_batch(
            &mut session,
            &batch,
            more_waiting,
            &freshness,
            backtest.as_mut(),
            state,
            stop,
        )?;
        if handled == Handled::StoppedUnsettled {
            // Stopped with an order in flight: the cursor stays, and the
            // next start settles the order from the ledger first.
            break;
        }
        // The ledger holds everything these signals caused: only now may
        // the cursor move past them.
        input.commit();
        state.metrics.signals.inc_by(batch.len() as u64);
        last = batch.last().copied();
        *lock(&state.last_signal) = last;
        publish_snapshot(state, &session.exec);
        state
            .metrics
            .loop_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    drop(reporter);
    tracing::info!(
        ledger_entries = session.ledger.entry_count(),
        "orchestrator stopped cleanly; the ledger is flushed"
    );
    Ok(())
}

/// Re-checks that the ledger can be written (readiness) and its size.
fn check_ledger(session: &Session, state: &State) {
    *lock(&state.ledger) = session
        .ledger
        .check_writable()
        .map(|()| "ledger writable".into())
        .map_err(|e| e.to_string());
    state
        .metrics
        .ledger_bytes
        .set(session.ledger.size_bytes() as i64);
}
