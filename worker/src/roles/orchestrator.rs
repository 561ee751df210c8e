//! The `orchestrator` role: reads signals, trades them on the paper broker
//! under the risk limits, and records every order and fill in the durable
//! ledger before acting further.
//!
//! Restarts are exact: the book is rebuilt from the ledger, and the signal
//! cursor is committed only after the ledger append (fsync'd for orders and
//! fills) that a batch of signals caused. A restarted orchestrator re-reads
//! the signals after its last commit, and the signal sequence number — the
//! idempotency key of the order it causes — keeps it from acting twice.
//!
//! - [`api`]: the bodies of `GET /status` and `POST /flatten` (shared with
//!   the operator).
//! - [`flatten`]: how `POST /flatten` reaches the main loop, which closes the
//!   book at the last close, appends the fill (fsync'd) and halts trading
//!   persistently with reason [`api::FLATTENED`].
//! - [`live`]: `orchestrator.mode: live`, the orders placed on Binance spot
//!   (write-ahead, recovery by client order id, faults, balances).

mod epoch;
pub mod flatten;
mod health_report;
pub mod live;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use prometheus::{Gauge, Histogram, IntCounter, IntCounterVec, IntGauge, Registry};
use ringbuf_shm::{precise_ns, seq, Reader, Ring};

use health_report::HealthReporter;
use super::rings::{self, IDLE_WAIT, ORCHESTRATOR_READER};
use crate::config::{Config, ExecutionMode};
use crate::store::Ledger;
use aegis_contract::api::{
    Balances, Book, FlattenReply, LastSignal, OrchestratorStatus, Refusal, FLATTENED,
};
use aegis_contract::records::Signal;
use aegis_engine::ledger::Entry;
use aegis_engine::report::recorder::BacktestRecorder;
use aegis_engine::trading::{price_from_f64, Execution, ExecutionParams, RiskLimits, Snapshot};
use aegis_exchange::RestError;
use aegis_runtime::metrics::{encode, MetricsBuilder, RingGauges};
use aegis_runtime::{serve, Heartbeat, JsonReply, Probe, Probes, StopFlag};
use live::{ExchangeMetrics, Live, Outcome};

/// Signals read per loop iteration.
const BATCH: usize = 256;
/// How often the ledger's writability is re-checked for readiness.
const LEDGER_CHECK_EVERY: Duration = Duration::from_secs(1);
/// How often a refused orchestrator beats its heartbeat and looks for a
/// stop or a flatten request.
const REFUSED_BEAT: Duration = Duration::from_millis(100);

struct Metrics {
    registry: Registry,
    signals: IntCounter,
    stale: IntCounter,
    superseded: IntCounter,
    orders: IntCounterVec,
    fills: IntCounter,
    rejected: IntCounter,
    cancelled: IntCounter,
    halts: IntCounter,
    position: Gauge,
    equity: Gauge,
    realized: Gauge,
    unrealized: Gauge,
    drawdown: Gauge,
    halted: IntGauge,
    ledger_bytes: IntGauge,
    ring: RingGauges,
    tick_to_order: Histogram,
    loop_seconds: Histogram,
    exchange: ExchangeMetrics,
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let m = MetricsBuilder::new("orchestrator")?;
        let orders = m.counter_vec("orders_total", "Orders placed, by side.", &["side"])?;
        for side in ["buy", "sell"] {
            orders.with_label_values(&[side]);
        }
        Ok(Metrics {
            signals: m.counter("signals_read_total", "Signals read from the signal ring.")?,
            stale: m.counter(
                "signals_stale_total",
                "Live: signals passed over because their candle closed longer ago than orchestrator.max_signal_age_secs.",
            )?,
            superseded: m.counter(
                "signals_superseded_total",
                "Live: signals passed over because a newer signal was already waiting (only the newest is acted on).",
            )?,
            orders,
            fills: m.counter("fills_total", "Orders filled.")?,
            rejected: m.counter(
                "orders_rejected_total",
                "Signals whose order the risk rules refused.",
            )?,
            cancelled: m.counter(
                "orders_cancelled_total",
                "Orders that ended without a fill.",
            )?,
            halts: m.counter("halts_total", "Times a risk rule halted new entries.")?,
            position: m.gauge("position", "Signed position, base asset.")?,
            equity: m.gauge(
                "equity",
                "Cash plus position at the last close, quote currency.",
            )?,
            realized: m.gauge(
                "realized_pnl",
                "Realized PnL (gross of fees), quote currency.",
            )?,
            unrealized: m.gauge(
                "unrealized_pnl",
                "Unrealized PnL at the last close, quote currency.",
            )?,
            drawdown: m.gauge("drawdown", "Drawdown from peak equity, a fraction.")?,
            halted: m.int_gauge("halted", "1 while new entries are blocked by a risk rule.")?,
            ledger_bytes: m.int_gauge("ledger_bytes", "Size of the ledger file.")?,
            ring: RingGauges::new(&m, "signals", ORCHESTRATOR_READER)?,
            tick_to_order: m.latency(
                "tick_to_order_seconds",
                "From the feed publishing a candle to the order it caused being recorded.",
            )?,
            loop_seconds: m.latency(
                "orchestrator_loop_seconds",
                "Time to handle one batch of signals, ledger writes included.",
            )?,
            exchange: ExchangeMetrics::new(&m)?,
            registry: m.build(),
        })
    }

    fn show(&self, s: &Snapshot) {
        use rust_decimal::prelude::ToPrimitive;
        let f = |d: rust_decimal::Decimal| d.to_f64().unwrap_or(f64::NAN);
        self.position.set(f(s.position));
        self.equity.set(f(s.equity));
        self.realized.set(f(s.realized_pnl));
        self.unrealized.set(f(s.unrealized_pnl));
        self.drawdown.set(f(s.drawdown));
        self.halted.set(i64::from(s.halted));
    }
}

/// What the HTTP thread and the health reporter read.
pub(super) struct State {
    heartbeat: Heartbeat,
    metrics: Metrics,
    pub(super) snapshot: Mutex<Option<Snapshot>>,
    last_signal: Mutex<Option<Signal>>,
    ledger: Mutex<Probe>,
    flatten: flatten::Desk,
    balances: Mutex<Option<Balances>>,
    /// A permanent refusal that stopped trading: unready while set.
    refusal: Mutex<Option<Refusal>>,
    /// Fills in the ledger when this process opened it (`/status` counts
    /// those and this process's).
    fills_before: AtomicU64,
}

impl Probes for State {
    fn live(&self) -> Probe {
        self.heartbeat.check()
    }

    fn ready(&self) -> Probe {
        self.heartbeat.check()?;
        if let Some(refusal) = lock(&self.refusal).as_ref() {
            return Err(format!("{}: {}", refusal.reason, refusal.message));
        }
        self.ledger
            .lock()
            .map_err(|_| "ledger state poisoned".to_string())?
            .clone()
    }

    fn metrics(&self) -> String {
        encode(&self.metrics.registry)
    }

    fn status(&self) -> serde_json::Value {
        let snapshot = self.snapshot.lock().ok().and_then(|s| s.clone());
        let last = self.last_signal.lock().ok().and_then(|s| *s);
        let status = OrchestratorStatus {
            role: "orchestrator".into(),
            signals_read: self.metrics.signals.get(),
            // Relaxed: a count for display, written once before trading.
            fills: self.fills_before.load(Ordering::Relaxed) + self.metrics.fills.get(),
            lag: self.metrics.ring.lag.get(),
            last_signal: last.as_ref().map(LastSignal::from),
            book: snapshot.as_ref().map(Book::from),
            balances: lock(&self.balances).clone(),
            refusal: lock(&self.refusal).clone(),
        };
        serde_json::to_value(&status)
            .unwrap_or_else(|e| serde_json::json!({"role": "orchestrator", "error": e.to_string()}))
    }

    fn flatten(&self) -> Option<JsonReply> {
        Some(self.flatten.ask())
    }
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
    }
}

/// Runs the orchestrator until stopped (or, with `orchestrator.exit_at_end`,
/// until the brain has finished and every signal is handled). A permanent
/// [`Refusal`] (live credentials missing or refused) stops trading but not
/// the process: it stays up, unready, until stopped.
pub fn run(config: &Config, stop: &StopFlag) -> anyhow::Result<()> {
    let (desk, flatten_inbox) = flatten::channel();
    let state = Arc::new(State {
        flatten: desk,
        heartbeat: Heartbeat::default(),
        metrics: Metrics::new().context("registering metrics")?,
        snapshot: Mutex::new(None),
        last_signal: Mutex::new(None),
        ledger: Mutex::new(Err("the ledger is not open yet".into())),
        balances: Mutex::new(None),
        refusal: Mutex::new(None),
        fills_before: AtomicU64::new(0),
    });
    let server = serve(config.orchestrator.listen, state.clone())
        .with_context(|| format!("listening on {}", config.orchestrator.listen))?;
    match trade(config, stop, &state, &flatten_inbox, server.addr) {
        Err(e) => match e.downcast::<Refusal>() {
            Ok(refusal) => stay_refused(&state, &flatten_inbox, stop, refusal),
            Err(e) => Err(e),
        },
        Ok(()) => Ok(()),
    }
}

/// After a permanent refusal: no trading, probes and `/status` answered
/// (unready, with the reason), `POST /flatten` refused, until stopped.
fn stay_refused(
    state: &State,
    flatten_inbox: &flatten::Inbox,
    stop: &StopFlag,
    refusal: Refusal,
) -> anyhow::Result<()> {
    tracing::error!(reason = %refusal.reason, "{}; the orchestrator stays up and unready rather than restarting", refusal.message);
    *lock(&state.refusal) = Some(refusal.clone());
    while !stop.is_set() {
        state.heartbeat.beat();
        flatten_inbox.serve(
            || Ok::<_, std::convert::Infallible>(flatten::refuse(409, refusal.message.clone())),
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
    flatten_inbox: &flatten::Inbox,
    listen: std::net::SocketAddr,
) -> anyhow::Result<()> {
    let credentials = match config.orchestrator.mode {
        ExecutionMode::Live => Some(live::credentials()?),
        ExecutionMode::Paper => None,
    };
    let state = state.clone();
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
    publish_snapshot(&state, &exec);
    let live = match credentials {
        Some(_) if exec.banned() => {
            // A ban in the ledger: no request at all until clear_halt.
            exec.set_live();
            None
        }
        Some(credentials) => 'live: {
            exec.set_live();
            let ids = live::ensure_ledger_id(&recovered.entries, exec.pending(), &mut ledger)?;
            let live = match Live::connect(config, credentials, ids, &state, stop) {
                Ok(Some(live)) => live,
                Ok(None) => return Ok(()),
                Err(e) => match e.downcast_ref::<RestError>() {
                    Some(ban @ RestError::Banned { .. }) => {
                        // Halted and silent, but still serving /status.
                        Live::ban_at_startup(&mut exec, &mut ledger, &state, ban)?;
                        break 'live None;
                    }
                    _ => return Err(e),
                },
            };
            live.adopt_step(&mut exec);
            live.check_balances(&mut exec, &mut ledger, &state)?;
            if live.settle(&mut exec, &mut ledger, &state, stop, false, None)? == Outcome::Unsettled
                && stop.is_set()
            {
                return Ok(());
            }
            Some(live)
        }
        None => None,
    };

    let signals = rings::signals(config)?;
    let Some(mut reader) = rings::acquire("the orchestrator's signal reader", stop, || {
        signals.reader(ORCHESTRATOR_READER)
    })?
    else {
        return Ok(());
    };
    reader.set_wait_strategy(rings::wait_strategy(config));
    let epoch = epoch::resolve(
        &config.orchestrator.data_dir,
        signals.creation_id(),
        exec.last_signal_seq(),
    )?;
    let reporter = HealthReporter::start(config, state.clone())?;
    let mut backtest = config
        .orchestrator
        .backtest_report
        .as_ref()
        .map(|_| BacktestRecorder::new(config));
    let signal_end = config
        .orchestrator
        .exit_at_end
        .then(|| config.signals_ring());
    let interval_ms = i64::try_from(config.interval.as_millis()).unwrap_or(i64::MAX);
    let max_signal_age = config.max_signal_age();
    let mut batch = Vec::with_capacity(BATCH);
    let mut last_ledger_check = Instant::now();
    let mut last: Option<Signal> = None;
    loop {
        state.heartbeat.beat();
        update_ring_gauges(&state.metrics, &signals, &reader);
        if last_ledger_check.elapsed() >= LEDGER_CHECK_EVERY {
            *lock(&state.ledger) = ledger
                .check_writable()
                .map(|()| "ledger writable".into())
                .map_err(|e| e.to_string());
            state.metrics.ledger_bytes.set(ledger.size_bytes() as i64);
            last_ledger_check = Instant::now();
        }
        if stop.is_set() {
            break;
        }
        flatten_inbox.serve(
            || flatten_now(&mut exec, &mut ledger, &state, live.as_ref(), stop),
            |e| flatten::refuse(500, format!("{e:#}")),
        )?;
        batch.clear();
        if reader.read_batch(&mut batch, BATCH) == 0 {
            if let Some(ring) = &signal_end {
                if let Some(end) = rings::read_end(ring).filter(|e| e.next_seq == reader.position())
                {
                    finish(
                        config,
                        &mut exec,
                        &mut ledger,
                        last,
                        backtest.take(),
                        end,
                        (&state, live.as_ref(), stop),
                    )?;
                    break;
                }
            }
            reader.wait(Some(IDLE_WAIT));
            continue;
        }
        let started = Instant::now();
        let mut entries = Vec::new();
        let mut decided = Vec::new();
        let mut unsettled = false;
        let mut stale = 0u64;
        // Live: of the signals waiting, only the newest is acted on (see
        // `superseded`); backtests and paper act on every one.
        let newest = batch.len() - 1;
        let more_waiting = seq::lag(signals.write_seq(), reader.position()) > 0;
        let mut superseded = 0u64;
        for (i, s) in batch.iter_mut().enumerate() {
            s.seq = s.seq.wrapping_add(epoch.offset);
            if exec.is_live() && superseded_by_newer(i, newest, more_waiting) {
                superseded += 1;
                continue;
            }
            // The clock is read for live signals only (paper needs no age).
            if exec.is_live()
                && is_stale(
                    s.ts_ms,
                    interval_ms,
                    max_signal_age,
                    exchange_now_ms(live.as_ref()),
                )
            {
                // A live order is placed only on a fresh candle, never on
                // the feed's backfill or what piled up during downtime.
                stale += 1;
                continue;
            }
            let produced = exec.on_signal(s);
            if produced.iter().any(|e| matches!(e, Entry::Order { .. })) {
                // Tick-to-order ends when the order is decided, before its
                // fsync'd ledger write (measured apart as the loop time).
                decided.push((s.seq, precise_ns()));
            }
            if let Some(recorder) = backtest.as_mut() {
                recorder.bar(&produced, s, &exec)?;
            }
            if let Some(live) = &live {
                // Live: each signal's entries are written (the order ahead
                // of its request) and its order settled before the next.
                if !produced.is_empty() {
                    ledger.append(&produced).with_context(|| {
                        format!("appending to the ledger {}", ledger_path.display())
                    })?;
                    count(&state.metrics, &produced, &[*s], &decided);
                }
                let price = price_from_f64(s.close);
                let outcome = live.settle(&mut exec, &mut ledger, &state, stop, true, price)?;
                if outcome == Outcome::Unsettled && stop.is_set() {
                    unsettled = true;
                    break;
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
                max_age_s = max_signal_age.as_secs_f64(),
                "passed over signals of candles that closed too long ago: live orders follow fresh candles only"
            );
        }
        if unsettled {
            // Stopped with an order in flight: the cursor stays, and the
            // next start settles the order from the ledger first.
            break;
        }
        if !entries.is_empty() {
            ledger
                .append(&entries)
                .with_context(|| format!("appending to the ledger {}", ledger_path.display()))?;
            count(&state.metrics, &entries, &batch, &decided);
        }
        // The ledger holds everything these signals caused: only now may
        // the cursor move past them.
        reader.commit();
        state.metrics.signals.inc_by(batch.len() as u64);
        last = batch.last().copied();
        *lock(&state.last_signal) = last;
        publish_snapshot(&state, &exec);
        state
            .metrics
            .loop_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    drop(reporter);
    tracing::info!(
        ledger_entries = ledger.entry_count(),
        "orchestrator stopped cleanly; the ledger is flushed"
    );
    Ok(())
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

/// Whether the candle opened at `candle_ts_ms` closed longer than `max_age`
/// before `now_ms`: too old for a live order (`orchestrator.max_signal_age_secs`).
fn is_stale(candle_ts_ms: i64, interval_ms: i64, max_age: Duration, now_ms: i64) -> bool {
    let closed_ms = candle_ts_ms.saturating_add(interval_ms);
    now_ms.saturating_sub(closed_ms) > i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn publish_snapshot(state: &State, exec: &Execution) {
    let snapshot = exec.snapshot();
    state.metrics.show(&snapshot);
    *lock(&state.snapshot) = Some(snapshot);
}

fn update_ring_gauges(m: &Metrics, ring: &Ring<Signal>, reader: &Reader<Signal>) {
    m.ring
        .lag
        .set(seq::lag(ring.write_seq(), reader.position()).min(i64::MAX as u64) as i64);
    m.ring
        .missed
        .set(reader.missed().min(i64::MAX as u64) as i64);
}

/// Counts what a batch caused and logs orders (with their latency from the
/// candle's arrival at the feed), fills and halts.
fn count(m: &Metrics, entries: &[Entry], signals: &[Signal], decided: &[(u64, u64)]) {
    for entry in entries {
        match entry {
            Entry::Order {
                signal_seq,
                side,
                qty,
                target,
                reason,
                ..
            } => {
                let side_label = format!("{side:?}").to_ascii_lowercase();
                m.orders.with_label_values(&[side_label.as_str()]).inc();
                let signal = signals
                    .iter()
                    .find(|s| s.seq == *signal_seq && s.ingest_ns != 0);
                let decided_ns = decided
                    .iter()
                    .find(|(seq, _)| seq == signal_seq)
                    .map(|d| d.1);
                let tick_to_order_ns = signal
                    .zip(decided_ns)
                    .map(|(s, ns)| ns.saturating_sub(s.ingest_ns));
                let tick_to_signal_ns = signal.map(|s| s.signal_ns.saturating_sub(s.ingest_ns));
                if let Some(ns) = tick_to_order_ns {
                    m.tick_to_order.observe(ns as f64 * 1e-9);
                }
                tracing::info!(signal_seq, side = %side_label, qty = %qty, target, reason = ?reason, tick_to_signal_ns, tick_to_order_ns, "order");
            }
            Entry::Fill {
                signal_seq,
                side,
                qty,
                price,
                fee,
                ..
            } => {
                m.fills.inc();
                tracing::info!(signal_seq, side = ?side, qty = %qty, price = %price, fee = %fee, "fill");
            }
            Entry::Rejected {
                signal_seq, reason, ..
            } => {
                m.rejected.inc();
                tracing::warn!(signal_seq, reason = %reason, "order refused by risk rules");
            }
            Entry::Cancelled {
                signal_seq, reason, ..
            } => {
                m.cancelled.inc();
                tracing::warn!(signal_seq, reason = %reason, "order cancelled");
            }
            Entry::Halt { reason, .. } => {
                m.halts.inc();
                tracing::error!(reason = %reason, "trading halted");
            }
            Entry::Mark { .. }
            | Entry::Resume { .. }
            | Entry::LedgerId { .. }
            | Entry::Sent { .. } => {}
        }
    }
}

/// Carries out one `POST /flatten`: the closing entries are appended (and
/// fsync'd) before the answer. An `Err` is a ledger failure: the book is then
/// ahead of the file, and the orchestrator must stop (its restart rebuilds
/// the book from the ledger).
fn flatten_now(
    exec: &mut Execution,
    ledger: &mut Ledger,
    state: &State,
    live: Option<&Live>,
    stop: &StopFlag,
) -> anyhow::Result<JsonReply> {
    let entries = match exec.flatten(FLATTENED, chrono::Utc::now().timestamp_millis()) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(reason = %e, "flatten refused");
            return Ok(flatten::refuse(409, e.to_string()));
        }
    };
    if !entries.is_empty() {
        ledger
            .append(&entries)
            .context("appending the flatten to the ledger")?;
        count(&state.metrics, &entries, &[], &[]);
    }
    if let Some(live) = live {
        let mark = exec.snapshot().mark;
        live.settle(exec, ledger, state, stop, true, Some(mark))?;
    }
    publish_snapshot(state, exec);
    let s = exec.snapshot();
    tracing::warn!(position = %s.position, equity = %s.equity, changed = !entries.is_empty(), "flattened on request: trading is halted");
    Ok(flatten::done(&FlattenReply {
        position: s.position,
        equity: s.equity,
        halted: s.halted,
        changed: !entries.is_empty(),
    }))
}

/// The end of a finite run: close what is open at the last close, write the
/// backtest report if asked.
fn finish(
    config: &Config,
    exec: &mut Execution,
    ledger: &mut Ledger,
    last: Option<Signal>,
    backtest: Option<BacktestRecorder>,
    end: rings::EndMarker,
    (state, live, stop): (&State, Option<&Live>, &StopFlag),
) -> anyhow::Result<()> {
    let closing = last.map(|s| exec.finish(&s)).unwrap_or_default();
    if !closing.is_empty() {
        ledger.append(&closing)?;
        count(&state.metrics, &closing, &[], &[]);
    }
    if let (Some(live), Some(s)) = (live, last) {
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
