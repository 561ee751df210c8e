//! The whole live engine end to end on the exchange simulator: `aegis-worker
//! up` with `feed.source: binance` (REST backfill, then the kline stream),
//! the brain, and `orchestrator.mode: live` placing market orders, while the
//! simulator's market moves on by itself.
//!
//! Mid-run the stream is cut and refused for a while (candles keep coming,
//! withheld from the stream), so the feed must reconnect and backfill the
//! gap by REST. At the end: the candle ring holds exactly the exchange's
//! candles from the backfill on, gap-free and without a duplicate; every
//! exchange order has exactly one fill in the ledger with its quantity;
//! every ledger order is settled; and the API key and secret appear in no
//! log, ledger or report.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aegis_contract::api::OrchestratorStatus;
use aegis_contract::records::Candle;
use aegis_engine::ledger::{ledger_id, Entry};
use aegis_exchange::rest::client_order_id;
use aegis_tests::exchange::{ExchangeSim, SimCandle, SimConfig, StreamFault};
use common::http::http_get;
use common::up::Up;
use common::{ledger_entries, now_ms, temp_dir, wait_for};
use rust_decimal::Decimal;

const ENGINE: &str = "e2e-live";
const KEY: &str = "E2EKEY-5d2c81-distinctive";
const SECRET: &str = "E2ESECRET-9b74e2a1c0-must-never-show";
const SPAN_MS: i64 = 1000;
/// Candles of history before the engine starts (the backfill takes them all).
const HISTORY: i64 = 40;
/// Candles the feed is told to backfill: the history plus a minute. The feed
/// counts back from *its* start, a second or more after the test's (longer
/// on a loaded machine), and every second of that pushes one more candle;
/// with exactly `HISTORY` the oldest history candle could fall out. The
/// simulator holds nothing older, so the backfill still starts at `start`.
const BACKFILL: i64 = HISTORY + 60;

/// The candle opening at `open_time_ms`: a zig-zag around 100 with a period
/// of 16 candles, so that an SMA 2/4 cross happens every few candles.
fn candle_at(open_time_ms: i64) -> SimCandle {
    let i = open_time_ms.div_euclid(SPAN_MS);
    let phase = i.rem_euclid(16);
    let level = |p: i64| Decimal::from(100 + if p < 8 { p } else { 16 - p });
    let open = level(phase);
    let close = level((phase + 1).rem_euclid(16));
    SimCandle {
        open_time_ms,
        open,
        high: open.max(close) + Decimal::ONE,
        low: open.min(close) - Decimal::ONE,
        close,
        volume: Decimal::from(3),
    }
}

/// Pushes the next closed candle as soon as its close time has passed,
/// until stopped.
fn market(sim: Arc<ExchangeSim>, first_open_ms: i64, stop: Arc<AtomicBool>) {
    let mut next = first_open_ms;
    // Relaxed: a stop flag; the candles travel through the simulator's lock.
    while !stop.load(Ordering::Relaxed) {
        if next + SPAN_MS <= now_ms() {
            sim.push_candle(candle_at(next));
            next += SPAN_MS;
        } else {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn status(up: &Up) -> Option<OrchestratorStatus> {
    up.control().status()
}

fn feed_last_ts(up: &Up) -> Option<i64> {
    let body = http_get(up.port("feed"), "/status", Duration::from_secs(1))
        .ok()?
        .body;
    serde_json::from_str::<serde_json::Value>(&body).ok()?["last_ts_ms"].as_i64()
}

fn ring_candles(path: &Path) -> Vec<Candle> {
    let ring = ringbuf_shm::Ring::<Candle>::open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut reader = ring.reader("e2e-check").expect("a check reader");
    let mut out = Vec::new();
    while reader.read_batch(&mut out, 4096) > 0 {}
    out
}

fn read_tree(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            read_tree(&path, out);
        } else if let Ok(text) = std::fs::read(&path) {
            out.push((
                path.display().to_string(),
                String::from_utf8_lossy(&text).into_owned(),
            ));
        }
    }
}

#[test]
fn live_feed_brain_and_orders_survive_a_stream_outage_exactly() {
    let work = temp_dir("aegis-live-e2e");
    let start = now_ms().div_euclid(SPAN_MS) * SPAN_MS - HISTORY * SPAN_MS;
    let history: Vec<SimCandle> = (0..HISTORY)
        .map(|i| candle_at(start + i * SPAN_MS))
        .collect();
    let sim = Arc::new(
        ExchangeSim::start(SimConfig {
            api_key: KEY.into(),
            api_secret: SECRET.into(),
            interval: ("1s".into(), SPAN_MS),
            candles: history,
            ..SimConfig::default()
        })
        .expect("the simulator starts"),
    );
    let stop_market = Arc::new(AtomicBool::new(false));
    let pusher = {
        let (sim, stop) = (Arc::clone(&sim), Arc::clone(&stop_market));
        std::thread::spawn(move || market(sim, start + HISTORY * SPAN_MS, stop))
    };

    let data = work.path().join("data");
    let sets = [
        format!("engine={ENGINE}"),
        "interval=1s".into(),
        "feed.source=binance".into(),
        format!("exchange.rest_url={}", sim.url()),
        format!("exchange.ws_url={}", sim.ws_url()),
        format!("exchange.backfill_candles={BACKFILL}"),
        "exchange.stream_backoff_initial_ms=100".into(),
        "exchange.stream_backoff_max_ms=500".into(),
        "brain.strategy.params.fast=2".into(),
        "brain.strategy.params.slow=4".into(),
        "orchestrator.mode=live".into(),
        "orchestrator.cash=1000".into(),
        format!("orchestrator.data_dir={}", data.display()),
        "orchestrator.reports.every_minutes=0.05".into(),
    ];
    let up = Up::start_with_env(
        work.path(),
        &sets,
        &[("BINANCE_API_KEY", KEY), ("BINANCE_API_SECRET", SECRET)],
        |_| {},
    );

    let orders_by = |n: usize, what: &str| {
        wait_for(Duration::from_secs(60), || {
            (sim.orders().len() >= n).then_some(())
        })
        .unwrap_or_else(|| panic!("{what}: {} exchange orders", sim.orders().len()));
    };
    orders_by(2, "two live orders from the streamed candles");
    // Only the orchestrator's environment holds the keys.
    for (role, has_keys) in [("feed", false), ("brain", false), ("orchestrator", true)] {
        let pid = up.pid(role).unwrap_or_else(|| panic!("{role} runs"));
        let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("its environment");
        let environ = String::from_utf8_lossy(&environ);
        for var in ["BINANCE_API_KEY=", "BINANCE_API_SECRET="] {
            assert_eq!(
                environ.split('\0').any(|v| v.starts_with(var)),
                has_keys,
                "{role}: {var}"
            );
        }
    }

    // The stream goes away for a while; candles go on (REST history only).
    let connections = sim.stream_connections();
    sim.refuse_streams(true);
    sim.stream_fault(StreamFault::DropAll);
    std::thread::sleep(Duration::from_secs(3));
    sim.refuse_streams(false);
    wait_for(Duration::from_secs(30), || {
        (sim.stream_connections() > connections).then_some(())
    })
    .expect("the feed reconnects to the stream");
    let orders_before = sim.orders().len();
    orders_by(orders_before + 2, "two more orders after the outage");

    stop_market.store(true, Ordering::Relaxed);
    pusher.join().expect("the market thread");
    let last_open = sim.candles().last().expect("candles").open_time_ms;
    wait_for(Duration::from_secs(30), || {
        let fed = feed_last_ts(&up) == Some(last_open);
        let traded = status(&up)
            .and_then(|s| s.last_signal)
            .is_some_and(|l| l.candle_ts_ms == last_open);
        (fed && traded).then_some(())
    })
    .unwrap_or_else(|| {
        panic!("the last candle ({last_open}) reaches the feed and the orchestrator")
    });
    let final_status = status(&up).expect("the orchestrator's /status");
    let rings = up.rings.clone();
    let up_out = up.stdout.clone();
    let exit = up.stop();
    assert!(exit.success(), "up exits cleanly: {exit:?}");

    // The ring: the exchange's candles from the backfill on, each once.
    let ring = ring_candles(&rings.join("candles"));
    let exchange = sim.candles();
    let first = ring.first().expect("candles in the ring").ts_ms;
    let expected: Vec<(i64, f64)> = exchange
        .iter()
        .filter(|c| c.open_time_ms >= first)
        .map(|c| {
            (
                c.open_time_ms,
                c.close.to_string().parse().unwrap_or(f64::NAN),
            )
        })
        .collect();
    let got: Vec<(i64, f64)> = ring.iter().map(|c| (c.ts_ms, c.close)).collect();
    assert_eq!(
        got, expected,
        "the ring holds every exchange candle once, in order"
    );
    assert_eq!(
        first, start,
        "the backfill reached the first candle of the history"
    );

    // The ledger against the exchange.
    let entries = ledger_entries(&data.join("ledger.jsonl"));
    let ledger = ledger_id(&entries).expect("a live ledger has an id");
    // The backfill's history, full of crosses, warms the strategy but is
    // not traded through: at most one order (the newest signal's target).
    let history_end = start + HISTORY * SPAN_MS;
    let backfill_orders = entries
        .iter()
        .filter(|e| matches!(e, Entry::Order { ts_ms, .. } if *ts_ms < history_end))
        .count();
    assert!(
        backfill_orders <= 1,
        "{backfill_orders} orders on the backfilled history: {entries:?}"
    );
    let orders = sim.orders();
    let mut ids: Vec<&str> = orders.iter().map(|o| o.client_order_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), orders.len(), "one exchange order per client id");
    for o in &orders {
        let fills: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                matches!(e, Entry::Fill { signal_seq, .. } if client_order_id(ENGINE, ledger, *signal_seq) == o.client_order_id)
            })
            .collect();
        assert_eq!(
            fills.len(),
            1,
            "exchange order {} has one fill: {fills:?}",
            o.client_order_id
        );
        if let Entry::Fill { qty, .. } = fills[0] {
            assert!(
                *qty > Decimal::ZERO && *qty <= o.executed_qty,
                "{o:?} vs {qty}"
            );
        }
    }
    for e in &entries {
        if let Entry::Order { signal_seq, .. } = e {
            let settled = entries.iter().any(|x| {
                matches!(x, Entry::Fill { signal_seq: s, .. } | Entry::Cancelled { signal_seq: s, .. } if s == signal_seq)
            });
            assert!(
                settled,
                "order of signal {signal_seq} is settled in the ledger"
            );
        }
    }
    let balances = final_status.balances.expect("live /status shows balances");
    assert!(
        balances.mismatches.is_empty(),
        "the exchange's balances agree with the ledger: {balances:?}"
    );

    // The secret and key are nowhere the engine writes.
    let mut files = Vec::new();
    read_tree(&rings.join("logs"), &mut files);
    read_tree(&data, &mut files);
    files.push((
        "up's stdout".into(),
        std::fs::read_to_string(&up_out).unwrap_or_default(),
    ));
    assert!(
        files.iter().any(|(p, _)| p.contains("reports")),
        "a health report was written: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (path, text) in &files {
        assert!(!text.contains(SECRET), "the API secret is in {path}");
        assert!(!text.contains(KEY), "the API key is in {path}");
    }
}
