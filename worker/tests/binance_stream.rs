//! The feed's `binance` source against the exchange simulator's REST and
//! WebSocket kline stream, over real sockets: backfill paging, following the
//! stream, dropped and cut connections with withheld candles (the gap must
//! be backfilled, nothing missing, nothing twice), the proactive reconnect,
//! malformed and duplicated messages; the simulator's ping / pong and
//! message-rate limits; and the real `aegis-worker feed` process, killed
//! with SIGKILL mid-stream and restarted, leaving a gap-free candle ring.
//!
//! Time: the candles live at a fixed epoch and the simulator's clock is
//! skewed to just after the last candle pushed, so a test pushes candles as
//! fast as it likes and every pushed candle is closed by the server's clock.
//!
//! Kept as one file: every test shares the simulator clock and candle-pushing
//! harness; a file under tests/ is a test binary, and each more binary links
//! the worker and the simulator again.

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aegis_contract::records::Candle;
use aegis_exchange::stream::{BinanceSource, Polled, StreamCounters, StreamStatus};
use aegis_tests::exchange::{ExchangeSim, Fault, SimCandle, SimConfig, StreamConfig, StreamFault};
use aegis_worker::config::{ExchangeConfig, Interval};
use common::http::http_get;
use common::up::{signal, Guard};
use common::{now_ms, temp_dir, wait_for, BIN};
use nix::sys::signal::Signal;
use prometheus::{IntCounter, IntCounterVec, Opts};
use rust_decimal::Decimal;

/// Open time of the first candle of every test series.
const T0: i64 = 1_700_000_000_000;
/// The candle interval (1 s).
const SPAN: i64 = 1000;

/// The candle opening at `ts`: prices derived from `ts`, all valid.
fn candle(ts: i64) -> SimCandle {
    let step = (ts - T0) / SPAN;
    let close = Decimal::from(20_000 + step.rem_euclid(97));
    SimCandle {
        open_time_ms: ts,
        open: close - Decimal::ONE,
        high: close + Decimal::TWO,
        low: close - Decimal::TWO,
        close,
        volume: Decimal::new(15, 1),
    }
}

/// A simulator of 1 s candles holding `n` closed candles from [`T0`], its
/// clock just after the last one closed.
fn sim_with(n: i64) -> ExchangeSim {
    let sim = ExchangeSim::start(SimConfig {
        interval: ("1s".into(), SPAN),
        candles: (0..n).map(|i| candle(T0 + i * SPAN)).collect(),
        ..SimConfig::default()
    })
    .expect("simulator starts");
    set_clock_after(&sim, T0 + (n - 1) * SPAN);
    sim
}

/// Skews the simulator's clock to 1 ms after the candle opening at `ts`
/// closed.
fn set_clock_after(sim: &ExchangeSim, ts: i64) {
    sim.set_clock_skew_ms(ts + SPAN + 1 - now_ms());
}

/// Pushes the candle after the simulator's last, moving its clock along.
fn push_next(sim: &ExchangeSim) -> i64 {
    let ts = sim.candles().last().map_or(T0, |c| c.open_time_ms + SPAN);
    set_clock_after(sim, ts);
    sim.push_candle(candle(ts));
    ts
}

fn one_second() -> Interval {
    "1s".parse().expect("1s is an interval")
}

fn exchange(sim: &ExchangeSim, backfill: u32) -> ExchangeConfig {
    ExchangeConfig {
        rest_url: Some(sim.url()),
        ws_url: Some(sim.ws_url()),
        backfill_candles: backfill,
        stream_backoff_initial_ms: 20,
        stream_backoff_max_ms: 200,
        stream_reconnect_after_secs: 3600.0,
        stream_idle_timeout_secs: 30.0,
        timeout_secs: 10.0,
        ..ExchangeConfig::default()
    }
}

struct Rig {
    source: BinanceSource,
    counters: StreamCounters,
    status: Arc<StreamStatus>,
    got: Vec<Candle>,
}

impl Rig {
    fn new(x: &ExchangeConfig, resume: Option<i64>) -> Rig {
        let counters = StreamCounters {
            rejected: IntCounterVec::new(Opts::new("r", "r"), &["reason"]).expect("metric"),
            duplicates: IntCounter::new("d", "d").expect("metric"),
            reconnects: IntCounter::new("c", "c").expect("metric"),
            backfilled: IntCounter::new("b", "b").expect("metric"),
        };
        let status = Arc::new(StreamStatus::default());
        let source = BinanceSource::new(
            x,
            "BTCUSDT",
            one_second(),
            resume,
            counters.clone(),
            Arc::clone(&status),
        );
        Rig {
            source,
            counters,
            status,
            got: Vec::new(),
        }
    }

    /// Polls until `n` candles in all have come, failing after 30 s.
    fn until(&mut self, n: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.got.len() < n {
            assert!(
                Instant::now() < deadline,
                "awaited {n} candles ({what}), got {}; stream {}",
                self.got.len(),
                self.status.json()
            );
            if let Polled::Candle(c) = self.source.poll() {
                self.got.push(c);
            }
        }
    }

    /// Polls for `d` (nothing must come then, or it is kept).
    fn poll_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if let Polled::Candle(c) = self.source.poll() {
                self.got.push(c);
            }
        }
    }

    fn rejected(&self, reason: &str) -> u64 {
        self.counters.rejected.with_label_values(&[reason]).get()
    }
}

/// The open times `first, first + 1 s, ...` up to `last`.
fn times(first: i64, last: i64) -> Vec<i64> {
    (first..=last).step_by(SPAN as usize).collect()
}

fn ts_of(candles: &[Candle]) -> Vec<i64> {
    candles.iter().map(|c| c.ts_ms).collect()
}

fn wait(what: &str, mut f: impl FnMut() -> bool) {
    let ok = wait_for(Duration::from_secs(30), || f().then_some(()));
    assert!(ok.is_some(), "awaited: {what}");
}

#[test]
fn backfills_in_pages_then_follows_the_stream() {
    let sim = sim_with(2500);
    let before = sim.requests();
    let mut rig = Rig::new(&exchange(&sim, 2500), None);
    rig.until(2500, "the backfill");
    // One time sync, then 2500 candles in pages of at most 1000: three.
    assert_eq!(sim.requests() - before, 4, "1 time + 3 klines requests");
    assert_eq!(rig.counters.backfilled.get(), 2500);
    wait("the stream connected", || sim.open_streams() == 1);
    push_next(&sim);
    push_next(&sim);
    let last = push_next(&sim);
    rig.until(2503, "three streamed candles");
    assert_eq!(ts_of(&rig.got), times(T0, last));
    let c = &rig.got[2502];
    assert_eq!((c.open, c.high, c.low, c.close, c.volume), {
        let k = candle(last);
        let f = |d: Decimal| d.to_string().parse::<f64>().expect("a number");
        (f(k.open), f(k.high), f(k.low), f(k.close), f(k.volume))
    });
    assert_eq!(rig.counters.reconnects.get(), 0);
    assert_eq!(rig.status.json()["state"], "streaming");
}

#[test]
fn a_bad_backfilled_row_is_counted_and_passed_over_not_retried_for_ever() {
    let mut candles: Vec<SimCandle> = (0..20).map(|i| candle(T0 + i * SPAN)).collect();
    candles[7].volume = Decimal::from(-1);
    let sim = ExchangeSim::start(SimConfig {
        interval: ("1s".into(), SPAN),
        candles,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    set_clock_after(&sim, T0 + 19 * SPAN);
    let mut rig = Rig::new(&exchange(&sim, 20), None);
    rig.until(19, "the 19 good rows");
    assert_eq!(rig.rejected("negative_volume"), 1);
    let mut expected = times(T0, T0 + 19 * SPAN);
    expected.remove(7);
    assert_eq!(ts_of(&rig.got), expected, "the bad row alone is left out");
    wait("the stream connected", || sim.open_streams() == 1);
    let next = push_next(&sim);
    rig.until(20, "the stream after the bad row");
    assert_eq!(rig.got.last().map(|c| c.ts_ms), Some(next));
}

#[test]
fn a_backfill_takes_only_the_last_n_closed_candles() {
    let sim = sim_with(30);
    let mut rig = Rig::new(&exchange(&sim, 10), None);
    rig.until(10, "the backfill");
    rig.poll_for(Duration::from_millis(300));
    assert_eq!(ts_of(&rig.got), times(T0 + 20 * SPAN, T0 + 29 * SPAN));
}

#[test]
fn dropped_connections_and_withheld_candles_are_backfilled_exactly() {
    let sim = sim_with(20);
    let mut rig = Rig::new(&exchange(&sim, 20), None);
    rig.until(20, "the backfill");
    wait("the stream connected", || sim.open_streams() == 1);
    push_next(&sim);
    rig.until(21, "a streamed candle");
    for round in 0..2 {
        sim.refuse_streams(true);
        sim.stream_fault(StreamFault::DropAll);
        for _ in 0..4 {
            push_next(&sim);
        }
        // Candles withheld: the source is disconnected and retrying.
        rig.poll_for(Duration::from_millis(400));
        let held = rig.got.len();
        assert_eq!(held, 21 + round * 6, "nothing arrives while refused");
        sim.refuse_streams(false);
        wait("the stream reconnected", || {
            rig.poll_for(Duration::from_millis(50));
            sim.open_streams() == 1
        });
        push_next(&sim);
        push_next(&sim);
        rig.until(held + 6, "the gap and two new candles");
    }
    rig.poll_for(Duration::from_millis(300));
    let last = sim.candles().last().expect("candles").open_time_ms;
    assert_eq!(
        ts_of(&rig.got),
        times(T0, last),
        "no candle missing or twice"
    );
    assert_eq!(rig.counters.reconnects.get(), 2);
    assert!(sim.stream_connections() >= 3);
}

#[test]
fn a_failed_backfill_is_retried_after_a_backoff() {
    let sim = sim_with(10);
    let mut rig = Rig::new(&exchange(&sim, 10), None);
    rig.until(10, "the backfill");
    wait("the stream connected", || sim.open_streams() == 1);
    // The reconnect's REST backfill meets 429s: the source must drop the
    // connection, back off, and try again, still losing nothing.
    sim.inject(Fault::RateLimited { retry_after_s: 0 }, 3);
    sim.refuse_streams(true);
    sim.stream_fault(StreamFault::DropAll);
    push_next(&sim);
    push_next(&sim);
    rig.poll_for(Duration::from_millis(200));
    sim.refuse_streams(false);
    rig.until(12, "the withheld candles after the 429s");
    push_next(&sim);
    rig.until(13, "a streamed candle");
    rig.poll_for(Duration::from_millis(300));
    assert_eq!(ts_of(&rig.got), times(T0, T0 + 12 * SPAN));
    assert!(
        sim.stream_connections() >= 3,
        "a failed backfill drops the connection and reconnects: {} connections",
        sim.stream_connections()
    );
}

#[test]
fn the_24_hour_cut_and_the_proactive_reconnect_lose_nothing() {
    let sim = sim_with(5);
    let mut x = exchange(&sim, 5);
    x.stream_reconnect_after_secs = 1.0;
    let mut rig = Rig::new(&x, None);
    rig.until(5, "the backfill");
    wait("the stream connected", || sim.open_streams() == 1);
    sim.stream_fault(StreamFault::CutAll);
    push_next(&sim);
    rig.until(6, "the candle pushed during the cut");
    let connections = sim.stream_connections();
    assert!(
        connections >= 2,
        "the server's close was followed by a reconnect"
    );
    // Proactive: a new connection every second without any fault.
    rig.poll_for(Duration::from_millis(2600));
    assert!(
        sim.stream_connections() >= connections + 2,
        "the source reconnects itself before the cut: {} then {}",
        connections,
        sim.stream_connections()
    );
    for _ in 0..3 {
        push_next(&sim);
        rig.poll_for(Duration::from_millis(100));
    }
    rig.until(9, "candles across proactive reconnects");
    rig.poll_for(Duration::from_millis(300));
    assert_eq!(ts_of(&rig.got), times(T0, T0 + 8 * SPAN));
}

#[test]
fn malformed_unexpected_and_duplicate_messages_are_counted_not_written() {
    let sim = sim_with(3);
    let mut rig = Rig::new(&exchange(&sim, 3), None);
    rig.until(3, "the backfill");
    wait("the stream connected", || sim.open_streams() == 1);
    push_next(&sim);
    rig.until(4, "one streamed candle");
    let dups = rig.counters.duplicates.get();
    sim.stream_fault(StreamFault::Raw("{\"e\":\"kline\",\"k\":".into()));
    sim.stream_fault(StreamFault::Raw("{\"result\":null,\"id\":1}".into()));
    sim.stream_fault(StreamFault::DuplicateLastClosed);
    sim.stream_fault(StreamFault::DuplicateLastClosed);
    push_next(&sim);
    rig.until(5, "the candle after the faults");
    rig.poll_for(Duration::from_millis(300));
    assert_eq!(rig.rejected("malformed"), 1);
    assert_eq!(rig.rejected("not_kline"), 1);
    assert_eq!(rig.counters.duplicates.get() - dups, 2);
    assert_eq!(ts_of(&rig.got), times(T0, T0 + 4 * SPAN));
    assert_eq!(
        rig.counters.reconnects.get(),
        0,
        "bad messages are not fatal"
    );
}

#[test]
fn a_restarted_source_resumes_after_the_last_candle() {
    let sim = sim_with(40);
    let resume = T0 + 24 * SPAN;
    let mut rig = Rig::new(&exchange(&sim, 5), Some(resume));
    rig.until(15, "the candles after the resume point");
    rig.poll_for(Duration::from_millis(300));
    assert_eq!(ts_of(&rig.got), times(resume + SPAN, T0 + 39 * SPAN));
}

/// A raw client of the simulator's stream.
fn raw_client(sim: &ExchangeSim) -> tungstenite::WebSocket<std::net::TcpStream> {
    let tcp = std::net::TcpStream::connect(sim.addr()).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let url = format!("{}/btcusdt@kline_1s", sim.ws_url());
    tungstenite::client::client(url.as_str(), tcp)
        .expect("handshake")
        .0
}

#[test]
fn the_simulator_drops_a_client_that_does_not_pong_and_keeps_one_that_does() {
    let sim = sim_with(1);
    sim.set_stream_config(StreamConfig {
        // 3 pings (so 3 pongs) a second stay under the limit of 5.
        ping_every: Duration::from_millis(300),
        pong_timeout: Duration::from_millis(1000),
        max_incoming_per_s: 5,
    });
    let mut ponging = raw_client(&sim);
    let silent = raw_client(&sim);
    wait("two connections", || sim.open_streams() == 2);
    let mut pings = 0;
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        // Reading answers pings (tungstenite queues the pong, flush sends it).
        if let Ok(tungstenite::Message::Ping(_)) = ponging.read() {
            pings += 1;
        }
        let _ = ponging.flush();
    }
    assert!(pings >= 5, "pings every 300 ms, got {pings} in 2.5 s");
    assert_eq!(sim.open_streams(), 1, "the silent client was dropped");
    push_next(&sim);
    let got = wait_for(Duration::from_secs(10), || match ponging.read() {
        Ok(tungstenite::Message::Text(t)) if t.contains("\"x\":true") => Some(t),
        _ => None,
    });
    assert!(got.is_some(), "the ponging client still gets events");
    drop(silent);
}

#[test]
fn the_simulator_drops_a_client_over_five_messages_a_second() {
    let sim = sim_with(1);
    let mut calm = raw_client(&sim);
    let mut loud = raw_client(&sim);
    wait("two connections", || sim.open_streams() == 2);
    for i in 0..4 {
        calm.send(tungstenite::Message::Text(format!("{{\"id\":{i}}}").into()))
            .expect("send");
    }
    for i in 0..8 {
        let _ = loud.send(tungstenite::Message::Text(format!("{{\"id\":{i}}}").into()));
    }
    wait("the loud client dropped", || sim.open_streams() == 1);
    let mut broke = false;
    for _ in 0..20 {
        match loud.read() {
            Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => {
                broke = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(broke, "the loud client's connection is closed");
}

// ------------------------------------------------- the feed process ----

fn feed_config(dir: &Path, sim: &ExchangeSim, port: u16) -> std::path::PathBuf {
    let path = dir.join("feed.yaml");
    let yaml = format!(
        "interval: 1s\nrings:\n  dir: {rings}\n  candles_capacity: 4096\nfeed:\n  listen: 127.0.0.1:{port}\n  source: binance\n  stale_after_secs: 30\nexchange:\n  rest_url: {rest}\n  ws_url: {ws}\n  backfill_candles: 1500\n  stream_backoff_initial_ms: 20\n  stream_backoff_max_ms: 200\nlog:\n  format: json\n",
        rings = dir.join("rings").display(),
        rest = sim.url(),
        ws = sim.ws_url(),
    );
    std::fs::write(&path, yaml).expect("writing the configuration");
    path
}

fn start_feed(config: &Path, log: &Path) -> Guard {
    let out = File::options()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let err = out.try_clone().expect("log file");
    Guard(
        Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg("feed")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("starting the feed"),
    )
}

fn ring_ts(path: &Path) -> Vec<i64> {
    let ring = ringbuf_shm::Ring::<Candle>::open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut reader = ring.reader("stream-check").expect("a check reader");
    let mut out = Vec::new();
    while reader.read_batch(&mut out, 4096) > 0 {}
    ts_of(&out)
}

fn metric(port: u16, name: &str) -> Option<f64> {
    let body = http_get(port, "/metrics", Duration::from_millis(500))
        .ok()?
        .body;
    body.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[test]
fn the_feed_process_follows_the_stream_and_survives_kill_9() {
    let work = temp_dir("aegis-binance-feed");
    let sim = sim_with(1500);
    let port = common::free_port_base();
    let config = feed_config(work.path(), &sim, port);
    let log = work.path().join("feed.log");
    let mut feed = start_feed(&config, &log);
    let output = || std::fs::read_to_string(&log).unwrap_or_default();
    let written = |n: f64| {
        let ok = wait_for(Duration::from_secs(40), || {
            (metric(port, "aegis_candles_written_total")? >= n).then_some(())
        });
        assert!(
            ok.is_some(),
            "awaited {n} candles written; output:\n{}",
            output()
        );
    };
    written(1500.0);
    wait("the feed's stream connected", || sim.open_streams() == 1);
    // A pusher moves the market on while the feed runs.
    let running = Arc::new(AtomicBool::new(true));
    let sim = Arc::new(sim);
    let pusher = {
        let (sim, running) = (Arc::clone(&sim), Arc::clone(&running));
        std::thread::spawn(move || {
            while running.load(SeqCst) {
                push_next(&sim);
                std::thread::sleep(Duration::from_millis(30));
            }
        })
    };
    written(1520.0);
    let ready = http_get(port, "/readyz", Duration::from_millis(500)).expect("readyz");
    assert_eq!(ready.status, 200, "ready with fresh data: {}", ready.body);
    sim.stream_fault(StreamFault::Raw("not json at all".into()));
    let ok = wait_for(Duration::from_secs(10), || {
        let status: serde_json::Value = serde_json::from_str(
            &http_get(port, "/status", Duration::from_millis(500))
                .ok()?
                .body,
        )
        .ok()?;
        (status["stream"]["state"] == "streaming").then_some(())?;
        (metric(
            port,
            "aegis_feed_stream_messages_rejected_total{reason=\"malformed\"}",
        )? >= 1.0)
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "the malformed message counted, /status streaming; output:\n{}",
        output()
    );
    sim.stream_fault(StreamFault::DropAll);
    let ok = wait_for(Duration::from_secs(20), || {
        (metric(port, "aegis_feed_stream_reconnects_total")? >= 1.0).then_some(())
    });
    assert!(
        ok.is_some(),
        "the dropped stream reconnected; output:\n{}",
        output()
    );

    // SIGKILL mid-stream, a few candles pushed while it is down, restart.
    signal(feed.0.id(), Signal::SIGKILL).expect("kill -9");
    let _ = feed.0.wait();
    std::thread::sleep(Duration::from_millis(300));
    let mut feed = start_feed(&config, &log);
    let target = sim.candles().len() as f64 + 30.0;
    let ok = wait_for(Duration::from_secs(40), || {
        let ring = ring_ts(&work.path().join("rings/candles"));
        (ring.len() as f64 >= target).then_some(())
    });
    assert!(
        ok.is_some(),
        "the restarted feed went on; output:\n{}",
        output()
    );
    running.store(false, SeqCst);
    pusher.join().expect("pusher");
    let ring = ring_ts(&work.path().join("rings/candles"));
    let expected = times(T0, *ring.last().expect("candles"));
    assert_eq!(ring.len(), expected.len(), "no candle missing or twice");
    assert_eq!(ring, expected, "the ring is gap-free after kill -9");
    let _ = writeln!(std::io::stderr(), "ring holds {} candles", ring.len());
    signal(feed.0.id(), Signal::SIGTERM).expect("SIGTERM");
    let _ = feed.0.wait();
}

#[test]
fn the_feed_stays_live_while_the_exchange_is_slow_or_unreachable() {
    let work = temp_dir("aegis-binance-down");
    let sim = sim_with(10);
    sim.refuse_streams(true);
    // Every REST request takes 3 s: longer than the heartbeat's 2 s stall.
    sim.inject(Fault::Delay(Duration::from_secs(3)), 1000);
    let port = common::free_port_base();
    let config = feed_config(work.path(), &sim, port);
    let log = work.path().join("feed.log");
    let mut feed = start_feed(&config, &log);
    let output = || std::fs::read_to_string(&log).unwrap_or_default();
    let status = || -> Option<serde_json::Value> {
        serde_json::from_str(
            &http_get(port, "/status", Duration::from_millis(500))
                .ok()?
                .body,
        )
        .ok()
    };
    let waiting = wait_for(Duration::from_secs(20), || {
        (status()?["stream"]["state"] == "waiting_to_reconnect").then_some(())
    });
    assert!(
        waiting.is_some(),
        "/status shows the stream waiting; output:\n{}",
        output()
    );
    // Live the whole time the stream is refused and then while REST is slow.
    sim.refuse_streams(false);
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let live = http_get(port, "/healthz", Duration::from_secs(1)).expect("healthz");
        assert_eq!(live.status, 200, "the feed must stay live: {}", live.body);
        std::thread::sleep(Duration::from_millis(200));
    }
    let ready = http_get(port, "/readyz", Duration::from_secs(1)).expect("readyz");
    assert_ne!(ready.status, 200, "not ready without data: {}", ready.body);
    signal(feed.0.id(), Signal::SIGTERM).expect("SIGTERM");
    let exited = wait_for(Duration::from_secs(10), || feed.0.try_wait().ok().flatten());
    assert!(
        exited.is_some_and(|s| s.success()),
        "a stop is honoured while the source waits on the network: {exited:?}; output:\n{}",
        output()
    );
}
