//! The `feed` role: takes candles from a source (simulated, CSV replay,
//! Binance klines by REST and WebSocket), validates every one, and writes
//! the good ones to the candle ring.
//!
//! Bad data never reaches the ring: a rejected candle or row is counted by
//! reason (`aegis_candles_rejected_total{reason}`) and logged at warn with
//! its line or timestamp, and the feed goes on. A restarted feed continues
//! after the last candle in the ring: a replay skips the rows already
//! published, the simulation regenerates its series up to there, the
//! binance source backfills by REST from just after it.
//!
//! The binance source's stream counts its own troubles:
//! `aegis_feed_stream_messages_rejected_total{reason}`,
//! `aegis_feed_stream_duplicates_total`, `aegis_feed_stream_reconnects_total`,
//! `aegis_feed_stream_backfilled_total`; its state is `stream` in /status.

mod pacing;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use prometheus::{Gauge, Histogram, IntCounter, IntCounterVec, Registry};
use ringbuf_shm::precise_ns;

use super::rings::{self, IDLE_WAIT};
use crate::config::{Config, SourceKind};
use aegis_contract::records::Candle;
use aegis_engine::market::{
    CandleValidator, CsvError, CsvReplay, GbmParams, GbmSource, Rejection, RowError,
};
use aegis_exchange::rest::ban::ban_file_in;
use aegis_exchange::stream::{BinanceSource, Polled, SourceThread, StreamCounters, StreamStatus};
use aegis_runtime::metrics::{encode, MetricsBuilder, TimestampGauge};
use aegis_runtime::{serve, Heartbeat, Probe, Probes, StopFlag};
use pacing::Pacer;

/// Candles written per batch when unpaced.
const BATCH: usize = 256;

struct Metrics {
    registry: Registry,
    written: IntCounter,
    rejected: IntCounterVec,
    skipped: IntCounter,
    last_price: Gauge,
    last_ts: TimestampGauge,
    loop_seconds: Histogram,
    stream: StreamCounters,
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let m = MetricsBuilder::new("feed")?;
        let rejected = m.counter_vec(
            "candles_rejected_total",
            "Candles or CSV rows refused by validation, by reason.",
            &["reason"],
        )?;
        for reason in Rejection::ALL {
            rejected.with_label_values(&[reason.label()]);
        }
        let stream_rejected = m.counter_vec(
            "feed_stream_messages_rejected_total",
            "Kline stream messages refused (not written), by reason.",
            &["reason"],
        )?;
        for reason in [
            "malformed",
            "not_kline",
            "wrong_symbol",
            "wrong_interval",
            "binary",
        ] {
            stream_rejected.with_label_values(&[reason]);
        }
        Ok(Metrics {
            written: m.counter(
                "candles_written_total",
                "Candles written to the candle ring.",
            )?,
            rejected,
            skipped: m.counter(
                "candles_skipped_on_resume_total",
                "Replay rows passed over after a restart: the ring already holds them (or an earlier feed rejected them).",
            )?,
            last_price: m.gauge("last_price", "Close of the last candle written.")?,
            last_ts: m.timestamp(
                "last_candle_timestamp_seconds",
                "Open time of the last candle written (Unix time, seconds).",
            )?,
            loop_seconds: m.latency(
                "feed_loop_seconds",
                "Time to produce and write one batch of candles.",
            )?,
            stream: StreamCounters {
                rejected: stream_rejected,
                duplicates: m.counter(
                    "feed_stream_duplicates_total",
                    "Closed klines received again (stream repeats, backfill overlap), dropped.",
                )?,
                reconnects: m.counter(
                    "feed_stream_reconnects_total",
                    "Kline stream connections made after the first.",
                )?,
                backfilled: m.counter(
                    "feed_stream_backfilled_total",
                    "Closed klines loaded by REST (at start and after every reconnect).",
                )?,
            },
            registry: m.build(),
        })
    }
}

impl Metrics {
    /// Rejections so far, by reason.
    fn rejected_counts(&self) -> std::collections::BTreeMap<String, u64> {
        Rejection::ALL
            .iter()
            .map(|r| {
                (
                    r.label().to_string(),
                    self.rejected.with_label_values(&[r.label()]).get(),
                )
            })
            .collect()
    }
}

struct State {
    heartbeat: Heartbeat,
    metrics: Metrics,
    source: SourceKind,
    stale_after: Duration,
    /// Monotonic ns of the last write (0: none yet).
    last_write_ns: AtomicU64,
    finished: AtomicBool,
    /// The binance source's stream state.
    stream: Arc<StreamStatus>,
}

impl State {
    fn data_age(&self) -> Option<Duration> {
        // Relaxed: a timestamp for probes only.
        match self.last_write_ns.load(Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(precise_ns().saturating_sub(ns))),
        }
    }
}

impl Probes for State {
    fn live(&self) -> Probe {
        self.heartbeat.check()
    }

    fn ready(&self) -> Probe {
        self.heartbeat.check()?;
        // Relaxed: a flag for probes only.
        if self.finished.load(Relaxed) {
            return Ok("the replay is finished".into());
        }
        match self.data_age() {
            None => Err("no candle written yet".into()),
            Some(age) if age > self.stale_after => Err(format!(
                "last candle written {:.1} s ago (stale after {:.1} s)",
                age.as_secs_f64(),
                self.stale_after.as_secs_f64()
            )),
            Some(age) => Ok(format!(
                "last candle written {:.1} s ago",
                age.as_secs_f64()
            )),
        }
    }

    fn metrics(&self) -> String {
        encode(&self.metrics.registry)
    }

    fn status(&self) -> serde_json::Value {
        let m = &self.metrics;
        let rejected = m.rejected_counts();
        let written = m.written.get();
        serde_json::json!({
            "role": "feed",
            "source": self.source,
            "candles_written": written,
            "last_price": (written > 0).then(|| m.last_price.get()),
            "last_ts_ms": (written > 0).then(|| m.last_ts.get_ms()),
            "last_candle_age_ms": self.data_age().map(|a| a.as_millis() as u64),
            "rejected": rejected,
            "rejected_total": rejected.values().sum::<u64>(),
            // Relaxed: a flag for probes only.
            "finished": self.finished.load(Relaxed),
            "stream": (self.source == SourceKind::Binance).then(|| self.stream.json()),
        })
    }
}

/// Where candles come from.
enum Source {
    Simulated(Box<GbmSource>),
    Replay(CsvReplay<std::fs::File>),
    Binance(SourceThread),
}

/// One item from a source.
enum Item {
    /// A candle, with its line in the replay file.
    Candle(Candle, Option<u64>),
    Rejected(RowError),
    Failed(CsvError),
    /// Nothing yet (the stream): write what the batch holds, beat, go on.
    Idle,
    End,
}

impl Source {
    /// The next item; the stream waits for one only while `batch_empty`
    /// (a candle already in hand is written without delay).
    fn next(&mut self, batch_empty: bool) -> Item {
        match self {
            Source::Simulated(gbm) => Item::Candle(gbm.next_candle(), None),
            Source::Replay(csv) => match csv.next() {
                Some(Ok(Ok(row))) => Item::Candle(row.candle, Some(row.line)),
                Some(Ok(Err(e))) => Item::Rejected(e),
                Some(Err(e)) => Item::Failed(e),
                None => Item::End,
            },
            Source::Binance(binance) => match binance.next(if batch_empty {
                IDLE_WAIT
            } else {
                Duration::ZERO
            }) {
                Polled::Candle(c) => Item::Candle(c, None),
                Polled::Idle => Item::Idle,
            },
        }
    }
}

/// Runs the feed until stopped (or, with `feed.exit_at_end`, until a replay
/// is exhausted).
pub fn run(config: &Config, stop: &StopFlag) -> anyhow::Result<()> {
    crate::config::check_replay_file(config)?;
    let state = Arc::new(State {
        heartbeat: Heartbeat::default(),
        metrics: Metrics::new().context("registering metrics")?,
        source: config.feed.source,
        stale_after: Duration::from_secs_f64(config.stale_after_secs()),
        last_write_ns: AtomicU64::new(0),
        finished: AtomicBool::new(false),
        stream: Arc::new(StreamStatus::default()),
    });
    let server = serve(config.feed.listen, state.clone())
        .with_context(|| format!("listening on {}", config.feed.listen))?;
    let ring = rings::candles(config)?;
    let Some(mut writer) = rings::acquire("the candle writer", stop, || ring.writer())? else {
        return Ok(());
    };
    writer.set_wait_strategy(rings::wait_strategy(config));
    let last = writer.last_published();
    let resume_ts = last.map(|c| c.ts_ms);
    tracing::info!(listen = %server.addr, source = ?config.feed.source, resume_after_ts_ms = ?resume_ts, "feed started");

    let (mut source, speed) = open_source(config, last, &state)?;
    let mut validator = match resume_ts {
        Some(ts) => CandleValidator::resume_after(ts),
        None => CandleValidator::new(),
    };
    let interval_ms = config.interval.as_millis() as i64;
    // A restarted replay passes over the rows an earlier feed already
    // published (or rejected) until it reaches the first candle after the
    // last one in the ring.
    let mut catching_up = resume_ts.is_some() && matches!(source, Source::Replay(_));
    let mut pacer = Pacer::new(speed);
    let mut batch: Vec<Candle> = Vec::with_capacity(BATCH);
    let m = &state.metrics;
    loop {
        state.heartbeat.beat();
        if stop.is_set() {
            break;
        }
        let started = Instant::now();
        let mut ended = false;
        batch.clear();
        while batch.len() < if pacer.unpaced() { BATCH } else { 1 } {
            match source.next(batch.is_empty()) {
                Item::Candle(candle, line) => {
                    if catching_up {
                        if matches!(resume_ts, Some(ts) if candle.ts_ms <= ts) {
                            m.skipped.inc();
                            continue;
                        }
                        catching_up = false;
                    }
                    match validator.check(&candle) {
                        Ok(()) => batch.push(candle),
                        Err(reason) => {
                            m.rejected.with_label_values(&[reason.label()]).inc();
                            tracing::warn!(
                                line,
                                ts_ms = candle.ts_ms,
                                reason = reason.label(),
                                "candle rejected"
                            );
                        }
                    }
                }
                Item::Rejected(_) if catching_up => {
                    // Counted by the feed that published these rows.
                    m.skipped.inc();
                }
                Item::Rejected(e) => {
                    m.rejected.with_label_values(&[e.reason.label()]).inc();
                    tracing::warn!(line = e.line, reason = e.reason.label(), text = %e.text, "replay row rejected");
                }
                Item::Failed(e) => return Err(e).context("reading the replay file"),
                Item::Idle => break,
                Item::End => {
                    ended = true;
                    break;
                }
            }
        }
        if let Some(&last) = batch.last() {
            let wait = pacer.wait_for(last.ts_ms.saturating_add(interval_ms));
            if !sleep_unless_stopped(wait, &state.heartbeat, stop) {
                break;
            }
            let now = precise_ns();
            for c in &mut batch {
                c.ingest_ns = now;
            }
            if !rings::publish(&mut writer, &batch, &state.heartbeat, stop) {
                break;
            }
            m.written.inc_by(batch.len() as u64);
            m.last_price.set(last.close);
            m.last_ts.set_ms(last.ts_ms);
            // Relaxed: a timestamp for probes only.
            state.last_write_ns.store(now, Relaxed);
            m.loop_seconds.observe(started.elapsed().as_secs_f64());
        } else {
            // Waiting for the stream: readers still see a live writer.
            writer.heartbeat();
        }
        if ended {
            let marker = rings::EndMarker {
                next_seq: writer.next_seq(),
                rejected: m.rejected_counts(),
            };
            rings::mark_end(&config.candles_ring(), &marker)?;
            // Relaxed: a flag for probes only.
            state.finished.store(true, Relaxed);
            tracing::info!(written = m.written.get(), "replay finished");
            if config.feed.exit_at_end {
                return Ok(());
            }
            while !stop.is_set() {
                state.heartbeat.beat();
                writer.heartbeat();
                std::thread::sleep(IDLE_WAIT);
            }
            break;
        }
    }
    tracing::info!(written = m.written.get(), "feed stopped cleanly");
    Ok(())
}

/// Sleeps `wait` in short steps, beating; false if a stop came first.
fn sleep_unless_stopped(wait: Duration, heartbeat: &Heartbeat, stop: &StopFlag) -> bool {
    let until = Instant::now() + wait;
    loop {
        heartbeat.beat();
        if stop.is_set() {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(IDLE_WAIT));
    }
}

fn open_source(
    config: &Config,
    last: Option<Candle>,
    state: &State,
) -> anyhow::Result<(Source, f64)> {
    match config.feed.source {
        SourceKind::Simulated => {
            let sim = &config.feed.simulated;
            let interval = config.interval.as_millis();
            let start = sim.start_ts_ms.unwrap_or_else(|| {
                let now = chrono::Utc::now().timestamp_millis();
                now - now.rem_euclid(interval as i64)
            });
            let mut params = GbmParams {
                seed: sim.seed,
                start_price: sim.start_price,
                drift: sim.drift,
                volatility: sim.volatility,
                interval_ms: interval,
                start_ts_ms: start,
                ..GbmParams::default()
            };
            let gbm = match last {
                // Continue the series after the last candle in the ring. With
                // a configured start the continuation is bit for bit the
                // uninterrupted series; without one, the series restarts its
                // randomness from the last candle (its close and time).
                Some(last) => {
                    if sim.start_ts_ms.is_none() {
                        params.start_ts_ms = last.ts_ms;
                    }
                    GbmSource::resume_after(params, &last)
                }
                None => GbmSource::new(params),
            }
            .context("config field feed.simulated")?;
            Ok((Source::Simulated(Box::new(gbm)), sim.speed))
        }
        SourceKind::Replay => {
            let file =
                config.feed.replay.file.as_ref().context(
                    "config field feed.replay.file is required with feed.source: replay",
                )?;
            let csv = crate::store::replay::open_csv(file)
                .with_context(|| format!("replay file {}", file.display()))?;
            if csv.is_empty_file() {
                tracing::warn!(file = %file.display(), "the replay file is empty: no candles");
            }
            Ok((Source::Replay(csv), config.feed.replay.speed))
        }
        SourceKind::Binance => {
            let source = BinanceSource::new(
                &config.exchange,
                &config.symbol,
                config.interval,
                last.map(|c| c.ts_ms),
                state.metrics.stream.clone(),
                Arc::clone(&state.stream),
            )
            .with_ban_file(ban_file_in(&config.rings.dir));
            tracing::info!(url = source.url(), "following the Binance kline stream");
            // Live data comes at its own pace: never paced.
            let thread = source.spawn().context("starting the stream thread")?;
            Ok((Source::Binance(thread), 0.0))
        }
    }
}
