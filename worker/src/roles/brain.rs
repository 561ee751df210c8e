//! The `brain` role: reads candles, runs the strategy, and publishes one
//! [`Signal`] per candle into the signal ring.
//!
//! Restarts are exact: see [`checkpoint`]. On SIGTERM the
//! brain drains the candles already in the ring (for at most
//! [`DRAIN_LIMIT`]), checkpoints and exits 0.

mod checkpoint;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use prometheus::{Histogram, IntCounter, IntGauge, Registry};
use ringbuf_shm::{precise_ns, seq, Reader, Writer};

use super::rings::{self, BRAIN_READER, IDLE_WAIT};
use crate::config::Config;
use aegis_contract::records::{Candle, Signal};
use aegis_engine::strategy::{self, Strategy, StrategyParams, Target};
use aegis_runtime::metrics::{encode, MetricsBuilder, RingGauges, TimestampGauge};
use aegis_runtime::{serve, Heartbeat, Probe, Probes, StopFlag};
use checkpoint::Checkpoint;

/// How long a stopping brain keeps draining pending candles.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// Candles read per loop iteration.
const BATCH: usize = 256;

struct Metrics {
    registry: Registry,
    candles_read: IntCounter,
    signals: IntCounter,
    changes: IntCounter,
    target: IntGauge,
    last_ts: TimestampGauge,
    ring: RingGauges,
    tick_to_signal: Histogram,
    loop_seconds: Histogram,
    restored: IntCounter,
    no_signal: IntCounter,
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let m = MetricsBuilder::new("brain")?;
        Ok(Metrics {
            candles_read: m.counter(
                "candles_read_total",
                "Candles the brain has read from the candle ring.",
            )?,
            signals: m.counter("signals_total", "Signals published (one per candle).")?,
            changes: m.counter(
                "signal_changes_total",
                "Signals whose target position differs from the previous one.",
            )?,
            target: m.int_gauge(
                "target_position",
                "The strategy's current target: -1 short, 0 flat, 1 long.",
            )?,
            last_ts: m.timestamp(
                "last_candle_timestamp_seconds",
                "Open time of the last candle handled (Unix time, seconds).",
            )?,
            ring: RingGauges::new(&m, "candles", BRAIN_READER)?,
            tick_to_signal: m.latency(
                "tick_to_signal_seconds",
                "From the feed publishing a candle to the brain publishing its signal.",
            )?,
            loop_seconds: m
                .latency("brain_loop_seconds", "Time to handle one batch of candles.")?,
            restored: m.counter(
                "checkpoint_restores_total",
                "Starts that resumed from a checkpoint.",
            )?,
            no_signal: m.counter(
                "rule_no_signal_total",
                "Bars on which a rule could not be decided (a division by zero, a value not there) and the position was held.",
            )?,
            registry: m.build(),
        })
    }
}

struct State {
    heartbeat: Heartbeat,
    metrics: Metrics,
    strategy: String,
    max_lag: u64,
}

impl Probes for State {
    fn live(&self) -> Probe {
        self.heartbeat.check()
    }

    fn ready(&self) -> Probe {
        self.heartbeat.check()?;
        let lag = self.metrics.ring.lag.get();
        if lag as u64 > self.max_lag {
            return Err(format!("{lag} candles unread (limit {})", self.max_lag));
        }
        Ok(format!("{lag} candles unread"))
    }

    fn metrics(&self) -> String {
        encode(&self.metrics.registry)
    }

    fn status(&self) -> serde_json::Value {
        let m = &self.metrics;
        serde_json::json!({
            "role": "brain",
            "strategy": self.strategy,
            "candles_read": m.candles_read.get(),
            "signals": m.signals.get(),
            "signal_changes": m.changes.get(),
            "target": m.target.get(),
            "lag": m.ring.lag.get(),
            "missed": m.ring.missed.get(),
            "last_candle_ts_ms": m.last_ts.get_ms(),
        })
    }
}

/// Runs the brain until stopped (or, with `brain.exit_at_end`, until the
/// feed's finite input is handled).
pub fn run(config: &Config, stop: &StopFlag) -> anyhow::Result<()> {
    let strategy_config = &config.brain.strategy;
    let checked = strategy_config
        .checked()
        .with_context(|| "config field brain.strategy".to_string())?;
    let params = checkpoint::params_of(strategy_config);
    let strategy = strategy::from_params(checked.clone())
        .with_context(|| "config field brain.strategy".to_string())?;
    let state = Arc::new(State {
        heartbeat: Heartbeat::default(),
        metrics: Metrics::new().context("registering metrics")?,
        strategy: strategy_config.name.clone(),
        max_lag: config.brain.max_lag,
    });
    let server = serve(config.brain.listen, state.clone())
        .with_context(|| format!("listening on {}", config.brain.listen))?;
    tracing::info!(listen = %server.addr, strategy = %strategy_config.name, "brain started");

    let candles = rings::candles(config)?;
    let signals = rings::signals(config)?;
    let Some(mut reader) = rings::acquire("the brain's candle reader", stop, || {
        candles.reader(BRAIN_READER)
    })?
    else {
        return Ok(());
    };
    let Some(mut writer) = rings::acquire("the signal writer", stop, || signals.writer())? else {
        return Ok(());
    };
    reader.set_wait_strategy(rings::wait_strategy(config));
    writer.set_wait_strategy(rings::wait_strategy(config));

    let mut brain = Brain::resume(
        config,
        (strategy, checked),
        params,
        &mut reader,
        &writer,
        &state,
    )?;
    let candle_end = config.brain.exit_at_end.then(|| config.candles_ring());
    let mut batch = Vec::with_capacity(BATCH);
    let mut out = Vec::with_capacity(BATCH);
    let mut drain_deadline = None;
    loop {
        state.heartbeat.beat();
        state.metrics.ring.observe(&candles, &reader);
        if stop.is_set() {
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_LIMIT);
            if reader.pending() == 0 || Instant::now() >= deadline {
                break;
            }
        }
        batch.clear();
        if reader.read_batch(&mut batch, BATCH) == 0 {
            brain.checkpoint(&mut reader)?;
            if let Some(ring) = &candle_end {
                if let Some(end) = rings::read_end(ring).filter(|e| e.next_seq == reader.position())
                {
                    let marker = rings::EndMarker {
                        next_seq: writer.next_seq(),
                        ..end
                    };
                    rings::mark_end(&config.signals_ring(), &marker)?;
                    tracing::info!(
                        signals = brain.published,
                        "feed finished and every candle is handled"
                    );
                    break;
                }
            }
            if stop.is_set() {
                break;
            }
            reader.wait(Some(IDLE_WAIT));
            continue;
        }
        let started = Instant::now();
        brain.handle(&batch, &mut out, &state.metrics);
        if !rings::publish(&mut writer, &out, &state.heartbeat, stop) {
            // Stopped while the orchestrator was not taking signals: the
            // candles of this batch are not checkpointed, so a restarted
            // brain recomputes and publishes them.
            tracing::warn!(
                unpublished = out.len(),
                "stopping with the signal ring full"
            );
            return Ok(());
        }
        state.metrics.signals.inc_by(out.len() as u64);
        brain.since_checkpoint += batch.len() as u64;
        if brain.since_checkpoint >= config.brain.checkpoint_every {
            brain.checkpoint(&mut reader)?;
        }
        state
            .metrics
            .loop_seconds
            .observe(started.elapsed().as_secs_f64());
    }
    brain.checkpoint(&mut reader)?;
    tracing::info!(signals = brain.published, "brain stopped cleanly");
    Ok(())
}

/// The target of the last signal in the ring (Flat if none): where the
/// change count continues from.
fn last_target(writer: &Writer<Signal>) -> Target {
    writer
        .last_published()
        .and_then(|s| Target::from_i64(s.target))
        .unwrap_or(Target::Flat)
}

/// Without a usable checkpoint, the signal sequence that the candle at the
/// cursor produced. The cursor lags the signals when the brain was killed
/// after publishing but before checkpointing (before its first checkpoint,
/// or with the checkpoint since lost): the candles from the cursor up to the
/// last signal's candle are recomputed but not published again, so every
/// candle keeps exactly one signal.
fn cold_next_signal(config: &Config, reader: &Reader<Candle>, writer: &Writer<Signal>) -> u64 {
    let Some(last) = writer.last_published() else {
        return writer.next_seq();
    };
    let already = seq::distance(last.candle_seq.wrapping_add(1), reader.position());
    if (1..=config.rings.candles_capacity as i64).contains(&already) {
        writer.next_seq().wrapping_sub(already as u64)
    } else {
        writer.next_seq()
    }
}

/// The strategy and the bookkeeping that makes restarts exact.
struct Brain {
    strategy: Box<dyn Strategy>,
    /// What it was built from, to build it afresh.
    checked: StrategyParams,
    /// Its undecided bars already counted in the metric.
    no_signal_seen: u64,
    name: String,
    params: std::collections::BTreeMap<String, String>,
    checkpoint_path: std::path::PathBuf,
    /// Candles before this are already in the strategy's state.
    skip_before: u64,
    /// The signal sequence the next candle produces.
    next_signal: u64,
    /// Signals before this are already in the ring (published before a restart).
    published_until: u64,
    since_checkpoint: u64,
    last_target: Target,
    published: u64,
}

impl Brain {
    fn resume(
        config: &Config,
        (strategy, checked): (Box<dyn Strategy>, StrategyParams),
        params: std::collections::BTreeMap<String, String>,
        reader: &mut Reader<Candle>,
        writer: &Writer<Signal>,
        state: &State,
    ) -> anyhow::Result<Brain> {
        let path = checkpoint::path(&config.rings.dir);
        let name = config.brain.strategy.name.clone();
        let saved = match checkpoint::load(&path) {
            Ok(saved) => saved,
            Err(e) => {
                let aside = path.with_extension("json.corrupt");
                tracing::error!(error = %format!("{e:#}"), moved_to = %aside.display(), "ignoring the brain checkpoint; the strategy starts cold");
                // Best effort, but durable: a crash must not bring it back.
                if std::fs::rename(&path, &aside).is_ok() {
                    if let Some(dir) = path.parent() {
                        let _ = aegis_runtime::durable::sync_dir(dir);
                    }
                }
                None
            }
        };
        let mut brain = Brain {
            strategy,
            checked,
            no_signal_seen: 0,
            name,
            params,
            checkpoint_path: path,
            skip_before: reader.position(),
            next_signal: cold_next_signal(config, reader, writer),
            published_until: writer.next_seq(),
            since_checkpoint: 0,
            last_target: Target::Flat,
            published: 0,
        };
        match saved {
            Some(ck) if ck.strategy == brain.name && ck.params == brain.params => {
                // The cursor never passes the checkpoint (it is committed
                // right after writing it), nor does the signal ring lag it.
                // Otherwise the rings were recreated and the checkpoint
                // belongs to another run.
                let behind = seq::distance(ck.candle_next, reader.position());
                let published = seq::distance(writer.next_seq(), ck.signal_next);
                if !(0..=config.rings.candles_capacity as i64).contains(&behind) || published < 0 {
                    tracing::warn!(
                        candle_next = ck.candle_next,
                        cursor = reader.position(),
                        signal_next = ck.signal_next,
                        signals_published = writer.next_seq(),
                        "the checkpoint does not match the rings; the strategy starts cold"
                    );
                    brain.last_target = last_target(writer);
                    return Ok(brain);
                }
                match brain.strategy.restore(&ck.state) {
                    Ok(()) => {
                        brain.skip_before = ck.candle_next;
                        brain.next_signal = ck.signal_next;
                        state.metrics.restored.inc();
                        tracing::info!(
                            candle_next = ck.candle_next,
                            signal_next = ck.signal_next,
                            already_published = writer.next_seq().wrapping_sub(ck.signal_next),
                            "resumed from checkpoint"
                        );
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "checkpoint state rejected; the strategy starts cold");
                        brain.strategy = strategy::from_params(brain.checked.clone())?;
                    }
                }
            }
            Some(ck) => {
                tracing::warn!(old = %ck.strategy, new = %brain.name, "the strategy or its parameters changed; starting cold")
            }
            None => {}
        }
        brain.last_target = last_target(writer);
        Ok(brain)
    }

    /// Runs the strategy over `batch`; fills `out` with the signals to publish.
    fn handle(&mut self, batch: &[Candle], out: &mut Vec<Signal>, m: &Metrics) {
        out.clear();
        let now = precise_ns();
        for c in batch {
            m.last_ts.set_ms(c.ts_ms);
            // Already folded into the restored state.
            if seq::distance(self.skip_before, c.seq) > 0 {
                continue;
            }
            let signal = strategy::signal_for(self.strategy.as_mut(), c, now);
            let target = self.strategy.target();
            let signal_seq = self.next_signal;
            self.next_signal = self.next_signal.wrapping_add(1);
            if target != self.last_target {
                m.changes.inc();
                self.last_target = target;
            }
            m.target.set(signal.target);
            if seq::distance(self.published_until, signal_seq) > 0 {
                // Published before the restart; recomputed identically.
                continue;
            }
            out.push(signal);
            if c.ingest_ns != 0 {
                m.tick_to_signal
                    .observe(now.saturating_sub(c.ingest_ns) as f64 * 1e-9);
            }
        }
        m.candles_read.inc_by(batch.len() as u64);
        let no_signal = self.strategy.no_signal_bars();
        m.no_signal
            .inc_by(no_signal.saturating_sub(self.no_signal_seen));
        self.no_signal_seen = no_signal;
        self.published += out.len() as u64;
    }

    /// Saves the strategy state, then commits the candle cursor up to it.
    fn checkpoint(&mut self, reader: &mut Reader<Candle>) -> anyhow::Result<()> {
        if reader.committed() == reader.position() {
            return Ok(());
        }
        let ck = Checkpoint {
            strategy: self.name.clone(),
            params: self.params.clone(),
            state: self.strategy.save(),
            candle_next: reader.position(),
            signal_next: self.next_signal,
        };
        checkpoint::store(&self.checkpoint_path, &ck)?;
        reader.commit();
        self.since_checkpoint = 0;
        Ok(())
    }
}
