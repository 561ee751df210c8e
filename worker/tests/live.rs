//! `orchestrator.mode: live` as a real process against the exchange
//! simulator, the test writing the brain's signals into the signal ring:
//! orders placed with their client ids and filled, the ledger equal to the
//! exchange; filters refusing locally; 429, -1021, 5XX, a lost reply and
//! 418 ending in recovery or a clear halt; missing and wrong credentials
//! leaving it up and unready (no restart loop);
//! kill -9 with an order in flight and at random points, after which every
//! signal has at most one exchange order and the ledger's fills are the
//! exchange's orders; and the API secret nowhere in logs, /metrics,
//! /status, reports or the ledger. Exits held by the exchange, exits the
//! engine moves on it, and limit entries are in `live/exits.rs`,
//! `live/moved.rs` and `live/limits.rs`, modules of this binary.
//!
//! Kept as one binary: every test drives the one harness (the exchange
//! simulator, a real orchestrator process, the signal ring it reads); a file
//! under tests/ is a test binary, and each more binary links the worker and
//! the simulator again on CI's two cores.

mod common;
#[path = "live/exits.rs"]
mod exits;
#[path = "live/limits.rs"]
mod limits;
#[path = "live/moved.rs"]
mod moved;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use aegis_contract::api::OrchestratorStatus;
use aegis_contract::records::Signal;
use aegis_engine::ledger::{ledger_id, Entry, HaltKind};
use aegis_exchange::rest::ban::{ban_file_in, SharedBan};
use aegis_exchange::rest::{client_order_id, Side};
use aegis_exchange::BinanceRest;
use aegis_tests::exchange::{ExchangeSim, Fault, SimCandle, SimConfig, SimOrder};
use aegis_worker::config::Secret;
use common::http::{http_get, standalone_control, Control};
use common::up::{signal, wait_exit, Guard};
use common::{free_port_base, ledger_entries, now_ms, temp_dir, wait_for, BIN};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ringbuf_shm::{Overflow, Ring, RingOptions, Writer};
use rust_decimal::Decimal;

const ENGINE: &str = "live-test";
const KEY: &str = "LIVEKEY-7f3a9c-distinctive";
const SECRET: &str = "LIVESECRET-d41d8cd98f00b204-never-shown";
const RING_CAPACITY: u64 = 1024;
const WAIT: Duration = Duration::from_secs(20);

/// A simulator whose market trades at 100, knowing `secret`.
fn sim_with_secret(secret: &str) -> ExchangeSim {
    let last = now_ms().div_euclid(60_000) * 60_000;
    let candles = SimCandle::flat_series(3, 60_000, last - 60_000, Decimal::from(100));
    ExchangeSim::start(SimConfig {
        api_key: KEY.into(),
        api_secret: secret.into(),
        candles,
        ..SimConfig::default()
    })
    .expect("the simulator starts")
}

/// One engine's directory, configuration, signal ring and orchestrator runs.
struct Engine {
    dir: PathBuf,
    config: PathBuf,
    port: u16,
    control: Control,
    writer: Writer<Signal>,
    ring: Ring<Signal>,
    next_seq: u64,
    runs: usize,
    /// Extra environment of the next starts (`AEGIS__...` overrides).
    env: Vec<(String, String)>,
}

impl Engine {
    /// The signals here are dated from 2024-01-01, so the configuration lets
    /// signals of any age trade (`orchestrator.max_signal_age_secs`);
    /// `only_fresh_candles_place_live_orders` tests the default.
    fn new(dir: &Path, sim: &ExchangeSim) -> Engine {
        std::fs::create_dir_all(dir.join("rings")).expect("the ring directory");
        let port = free_port_base();
        let config = dir.join("config.yaml");
        let (control, control_lines) = standalone_control(dir, port + 1);
        let yaml = format!(
            "engine: {ENGINE}\nsymbol: BTCUSDT\ninterval: 1m\nrings:\n  dir: {rings}\n  signals_capacity: {RING_CAPACITY}\nfeed:\n  source: binance\n\
             orchestrator:\n  listen: 127.0.0.1:{port}\n  mode: live\n  data_dir: {data}\n  cash: 1000\n  fee_bps: 0\n  max_signal_age_secs: 1000000000\n  reports:\n    every_minutes: 0.005\n{control_lines}\
             exchange:\n  rest_url: {url}\n  recv_window_ms: 2000\n  timeout_secs: 1\nlog:\n  format: json\n",
            rings = dir.join("rings").display(),
            data = dir.join("data").display(),
            url = sim.url(),
        );
        std::fs::write(&config, yaml).expect("writing the configuration");
        let ring: Ring<Signal> = Ring::create_or_open(
            dir.join("rings/signals"),
            &RingOptions::new(RING_CAPACITY, Overflow::Lossless).with_reader("orchestrator"),
        )
        .expect("the signal ring");
        let writer = ring.writer().expect("the signal writer");
        Engine {
            dir: dir.to_path_buf(),
            config,
            port,
            control,
            writer,
            ring,
            next_seq: 0,
            runs: 0,
            env: Vec::new(),
        }
    }

    fn ledger(&self) -> PathBuf {
        self.dir.join("data/ledger.jsonl")
    }

    fn entries(&self) -> Vec<Entry> {
        if self.ledger().exists() {
            ledger_entries(&self.ledger())
        } else {
            Vec::new()
        }
    }

    /// Starts the orchestrator with these credentials.
    fn start_with(&mut self, key: Option<&str>, secret: Option<&str>) -> Guard {
        self.runs += 1;
        let out = |name: &str| {
            File::create(self.dir.join(format!("{name}-{}.log", self.runs))).expect("a log file")
        };
        let mut cmd = Command::new(BIN);
        cmd.arg("--config")
            .arg(&self.config)
            .arg("orchestrator")
            .env_remove("BINANCE_API_KEY")
            .env_remove("BINANCE_API_SECRET")
            .stdin(Stdio::null())
            .stdout(out("stdout"))
            .stderr(out("stderr"));
        cmd.envs(self.env.iter().cloned());
        if let Some(k) = key {
            cmd.env("BINANCE_API_KEY", k);
        }
        if let Some(s) = secret {
            cmd.env("BINANCE_API_SECRET", s);
        }
        Guard(cmd.spawn().expect("starting the orchestrator"))
    }

    fn start(&mut self) -> Guard {
        self.start_with(Some(KEY), Some(SECRET))
    }

    /// Everything the runs printed.
    fn logs(&self) -> String {
        let mut all = String::new();
        for run in 1..=self.runs {
            for name in ["stdout", "stderr"] {
                let path = self.dir.join(format!("{name}-{run}.log"));
                all.push_str(&std::fs::read_to_string(path).unwrap_or_default());
            }
        }
        all
    }

    /// Publishes the next signal at close 100 with `target`; its seq.
    fn signal(&mut self, target: i64) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.writer.write(&Signal {
            candle_seq: seq,
            ts_ms: 1_704_067_200_000 + seq as i64 * 60_000,
            open: 100.0,
            close: 100.0,
            target,
            ..Signal::default()
        });
        seq
    }

    fn signal_at(&mut self, target: i64, close: f64) -> u64 {
        self.signal_bar(target, close, close)
    }

    /// Publishes the next signal of a candle that traded from `close` up to
    /// `high` and closed at `close`, with `target`; its seq.
    fn signal_bar(&mut self, target: i64, high: f64, close: f64) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.writer.write(&Signal {
            candle_seq: seq,
            ts_ms: 1_704_067_200_000 + seq as i64 * 60_000,
            open: close,
            high,
            low: close,
            close,
            target,
            ..Signal::default()
        });
        seq
    }

    /// Publishes the next signal of the candle that opened at `ts_ms`, at
    /// close 100 with `target`; its seq.
    fn signal_dated(&mut self, target: i64, ts_ms: i64) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.writer.write(&Signal {
            candle_seq: seq,
            ts_ms,
            open: 100.0,
            close: 100.0,
            target,
            ..Signal::default()
        });
        seq
    }

    fn status(&self) -> Option<OrchestratorStatus> {
        self.control.status()
    }

    fn raw(&self, path: &str) -> String {
        http_get(self.port, path, Duration::from_secs(2))
            .map(|r| r.body)
            .unwrap_or_default()
    }

    /// Waits until the orchestrator answers /status and has read the
    /// exchange's balances.
    fn wait_ready(&self) -> OrchestratorStatus {
        wait_for(WAIT, || self.status().filter(|s| s.balances.is_some())).unwrap_or_else(|| {
            panic!(
                "the live orchestrator did not come up; logs:\n{}",
                self.logs()
            )
        })
    }

    /// Waits until the order of `seq` is settled in the ledger (a Fill or
    /// Cancelled) and, after a fill, the balances were read again.
    fn settled(&self, seq: u64) -> Entry {
        let entry = wait_for(WAIT, || {
            self.entries().into_iter().find(|e| {
                matches!(e, Entry::Fill { signal_seq, .. } | Entry::Cancelled { signal_seq, .. } if *signal_seq == seq)
            })
        })
        .unwrap_or_else(|| panic!("the order of signal {seq} was not settled; logs:\n{}", self.logs()));
        if let Entry::Fill {
            cash_after,
            position_after,
            ..
        } = &entry
        {
            let read = wait_for(WAIT, || {
                self.status().and_then(|s| s.balances).filter(|b| {
                    b.ledger_cash == *cash_after && b.ledger_position == *position_after
                })
            });
            assert!(
                read.is_some(),
                "the balances were not read after the fill of {seq}"
            );
        }
        entry
    }

    /// Waits until the orchestrator has read every signal written.
    fn read_all(&self) {
        let all = wait_for(WAIT, || {
            self.status()
                .filter(|s| s.last_signal.is_some_and(|l| l.seq + 1 == self.next_seq))
        });
        assert!(
            all.is_some(),
            "the orchestrator did not read every signal; logs:\n{}",
            self.logs()
        );
    }
}

/// The client order id of signal `seq` in the ledger of `entries`.
fn id(entries: &[Entry], seq: u64) -> String {
    let ledger = ledger_id(entries).expect("a live ledger has an id");
    client_order_id(ENGINE, ledger, seq)
}

fn orders_of(engine: &Engine, sim: &ExchangeSim, seq: u64) -> Vec<SimOrder> {
    let id = id(&engine.entries(), seq);
    sim.orders()
        .into_iter()
        .filter(|o| o.client_order_id == id)
        .collect()
}

/// The ledger's fills equal the exchange's orders and trades: every
/// exchange order of this engine that executed has exactly one Fill of its
/// signal (an exit order: one ExitFill of its id), with
/// the quantity the account received (net of a commission in base), the
/// average price and the commissions as the fee; every Fill has its
/// exchange order, and no signal has two. And the ledger's cash and
/// position moved exactly as the account's balances did (the ledger starts
/// with `cash: 1000`, the account with 10000 USDT and no BTC).
fn assert_ledger_matches_exchange(entries: &[Entry], sim: &ExchangeSim) {
    let orders = sim.orders();
    let trades = sim.trades();
    let mut ids: Vec<&str> = orders.iter().map(|o| o.client_order_id.as_str()).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(
        before,
        ids.len(),
        "a signal has two exchange orders: {orders:?}"
    );
    let fills: Vec<(String, Decimal, Decimal, Decimal)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Fill {
                signal_seq,
                qty,
                price,
                fee,
                ..
            }
            | Entry::PartialFill {
                signal_seq,
                qty,
                price,
                fee,
                ..
            } => Some((id(entries, *signal_seq), *qty, *price, *fee)),
            Entry::ExitFill {
                client_order_id,
                qty,
                price,
                fee,
                ..
            } => Some((client_order_id.clone(), *qty, *price, *fee)),
            _ => None,
        })
        .collect();
    // Exit orders that ended with nothing executed have no fill.
    let orders: Vec<SimOrder> = orders
        .into_iter()
        .filter(|o| o.executed_qty > Decimal::ZERO)
        .collect();
    // An order booked in parts (a resting limit): its quantities and fees
    // add up, at its parts' (equal) price.
    let mut booked: std::collections::BTreeMap<&str, (Decimal, Decimal, Decimal)> =
        std::collections::BTreeMap::new();
    for (id, qty, price, fee) in &fills {
        let part = booked
            .entry(id.as_str())
            .or_insert((Decimal::ZERO, *price, Decimal::ZERO));
        assert_eq!(
            part.1, *price,
            "the parts of {id} filled at one price in these tests"
        );
        part.0 += *qty;
        part.2 += *fee;
    }
    for o in &orders {
        let (qty, price, fee) = booked.get(o.client_order_id.as_str()).unwrap_or_else(|| {
            panic!(
                "exchange order {} has no fill in the ledger: {entries:?}",
                o.client_order_id
            )
        });
        let average = o.cummulative_quote_qty / o.executed_qty;
        let (mut in_base, mut expected_fee) = (Decimal::ZERO, Decimal::ZERO);
        for t in trades.iter().filter(|t| t.order_id == o.order_id) {
            if t.commission_asset == "BTC" {
                in_base += t.commission;
                expected_fee += t.commission * average;
            } else {
                expected_fee += t.commission;
            }
        }
        assert!(
            expected_fee > Decimal::ZERO,
            "{} paid a commission",
            o.client_order_id
        );
        let received = if o.side == "BUY" {
            o.executed_qty - in_base
        } else {
            o.executed_qty
        };
        assert_eq!(
            (*qty, *price, *fee),
            (received, average, expected_fee),
            "the fill of {} (quantity, price, fee)",
            o.client_order_id
        );
    }
    assert_eq!(
        booked.len(),
        orders.len(),
        "every fill has its exchange order"
    );
    let last = entries.iter().rev().find_map(|e| match e {
        Entry::Fill {
            cash_after,
            position_after,
            ..
        }
        | Entry::PartialFill {
            cash_after,
            position_after,
            ..
        }
        | Entry::ExitFill {
            cash_after,
            position_after,
            ..
        } => Some((*cash_after, *position_after)),
        _ => None,
    });
    if let Some((cash, position)) = last {
        assert_eq!(
            (cash - Decimal::from(1000), position),
            (
                sim.balance("USDT") + sim.locked("USDT") - Decimal::from(10_000),
                sim.balance("BTC") + sim.locked("BTC")
            ),
            "the ledger's cash and position moved as the account's balances (free and locked by open orders) did"
        );
    }
}

/// The random points of a chaos test: seeded from `AEGIS_LIVE_SEED` or the
/// clock, the seed printed so a failure can be run again.
fn seeded_rng() -> ChaCha8Rng {
    let seed = std::env::var("AEGIS_LIVE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| now_ms() as u64);
    println!("seed {seed} (rerun with AEGIS_LIVE_SEED={seed})");
    ChaCha8Rng::seed_from_u64(seed)
}

fn assert_secret_hidden(engine: &Engine) {
    let mut places = vec![
        ("logs", engine.logs()),
        ("/metrics", engine.raw("/metrics")),
        (
            "/status",
            engine
                .control
                .get("/status", Duration::from_secs(2))
                .map(|r| r.body)
                .unwrap_or_default(),
        ),
        (
            "ledger",
            std::fs::read_to_string(engine.ledger()).unwrap_or_default(),
        ),
    ];
    let reports = engine.dir.join("data/reports");
    let mut report_files = 0;
    for file in std::fs::read_dir(&reports).into_iter().flatten().flatten() {
        report_files += 1;
        places.push((
            "report",
            std::fs::read_to_string(file.path()).unwrap_or_default(),
        ));
    }
    assert!(
        report_files > 0,
        "no health report was written in {}",
        reports.display()
    );
    for (place, text) in &places {
        assert!(!text.is_empty() || *place == "ledger", "{place} is empty");
        for (what, value) in [("secret", SECRET), ("API key", KEY)] {
            assert!(
                !text.contains(value),
                "the API {what} appears in the {place}"
            );
        }
    }
}

/// Waits until the orchestrator shows a permanent refusal in `/status`,
/// and checks it stays up and unready, naming `reason`, for a while (no
/// exit, so no restart loop under `up` or the kubelet).
fn assert_refused_and_up(engine: &Engine, child: &mut Guard, reason: &str, names: &[&str]) {
    let refusal = wait_for(WAIT, || engine.status().and_then(|s| s.refusal))
        .unwrap_or_else(|| panic!("no refusal in /status; logs:\n{}", engine.logs()));
    assert_eq!(refusal.reason, reason, "{refusal:?}");
    for name in names {
        assert!(refusal.message.contains(name), "{refusal:?} names {name}");
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        child.0.try_wait().expect("the child's state").is_none(),
        "the orchestrator stays up; logs:\n{}",
        engine.logs()
    );
    let ready = http_get(engine.port, "/readyz", Duration::from_secs(2)).expect("/readyz answers");
    assert_eq!(ready.status, 503, "unready: {}", ready.body);
    assert!(
        ready.body.contains(reason),
        "/readyz says why: {}",
        ready.body
    );
    let live = http_get(engine.port, "/healthz", Duration::from_secs(2)).expect("/healthz answers");
    assert_eq!(
        live.status, 200,
        "alive, so nothing restarts it: {}",
        live.body
    );
    let flatten = engine
        .control
        .post("/flatten", Duration::from_secs(5))
        .expect("/flatten answers");
    assert_eq!(flatten.status, 409, "nothing to flatten: {}", flatten.body);
}

#[test]
fn missing_credentials_leave_it_up_and_unready_naming_the_variables() {
    let work = temp_dir("aegis-live-creds");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    for (key, secret) in [(None, None), (Some(KEY), None), (None, Some(SECRET))] {
        let mut child = engine.start_with(key, secret);
        assert_refused_and_up(
            &engine,
            &mut child,
            "CredentialsMissing",
            &["BINANCE_API_KEY", "BINANCE_API_SECRET"],
        );
    }
    assert_eq!(sim.requests(), 0, "nothing is sent without credentials");
    assert!(!engine.ledger().exists(), "no ledger is opened");
}

#[test]
fn a_wrong_secret_is_sent_once_and_leaves_it_up_and_unready() {
    let work = temp_dir("aegis-live-wrong");
    let sim = sim_with_secret("the-exchange-knows-another-secret");
    let mut engine = Engine::new(work.path(), &sim);
    let mut child = engine.start();
    assert_refused_and_up(
        &engine,
        &mut child,
        "CredentialsRejected",
        &["-1022", "BINANCE_API_SECRET does not belong"],
    );
    // time, exchangeInfo, then the one signed request (the account).
    assert_eq!(sim.requests(), 3, "the refused request is not retried");
    let logs = engine.logs();
    assert!(logs.contains("-1022"), "the log says why: {logs}");
    assert!(!logs.contains(SECRET), "the secret is not printed");
    assert!(!engine.raw("/status").contains(SECRET));
}

#[test]
fn live_orders_fill_match_the_exchange_and_hide_the_secret() {
    let work = temp_dir("aegis-live-orders");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    let _run = engine.start();
    let ready = engine.wait_ready();
    let balances = ready.balances.expect("balances");
    assert!(balances.mismatches.is_empty(), "{balances:?}");
    assert_eq!(
        (balances.base_asset.as_str(), balances.quote_asset.as_str()),
        ("BTC", "USDT")
    );

    let buy = engine.signal(1);
    let fill = engine.settled(buy);
    assert!(
        matches!(fill, Entry::Fill { qty, fee, .. } if qty == Decimal::new(999, 2) && fee == Decimal::ONE),
        "10 bought at 100, 0.01 of it the 0.1 % commission, worth 1 USDT: {fill:?}"
    );
    assert_eq!(orders_of(&engine, &sim, buy).len(), 1);
    assert_eq!(sim.balance("BTC"), Decimal::new(999, 2));
    engine.signal(1); // no change: no order
    let sell = engine.signal(-1); // short is flat on spot: sell to zero
    engine.settled(sell);
    assert_eq!(sim.balance("BTC"), Decimal::ZERO);
    engine.signal(-1);
    engine.read_all();
    assert_eq!(
        sim.orders().len(),
        2,
        "no short is opened: {:?}",
        sim.orders()
    );

    // A quantity the filters refuse (100000 at 0.01 is above maxQty 9000)
    // is cancelled locally: no request.
    let before = sim.requests();
    let refused = engine.signal_at(1, 0.01);
    let entry = engine.settled(refused);
    assert!(
        matches!(&entry, Entry::Cancelled { reason, .. } if reason.contains("maxQty")),
        "{entry:?}"
    );
    assert_eq!(sim.requests(), before, "a refused order sends nothing");

    let status = engine.status().expect("/status");
    let b = status.balances.expect("balances");
    assert!(b.mismatches.is_empty(), "{b:?}");
    assert_eq!(b.quote_free, sim.balance("USDT"));
    let metrics = engine.raw("/metrics");
    for name in [
        "aegis_exchange_used_weight",
        "aegis_exchange_orders_sent_total 2",
        "aegis_exchange_balance{asset=\"USDT\"}",
        "aegis_balance_mismatch{asset=\"BTC\"} 0",
    ] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    assert_ledger_matches_exchange(&engine.entries(), &sim);
    let reports = engine.dir.join("data/reports");
    wait_for(WAIT, || {
        std::fs::read_dir(&reports).ok().and_then(|mut d| d.next())
    });
    assert_secret_hidden(&engine);
}

#[test]
fn exchange_faults_end_in_recovery_or_a_clear_halt() {
    let work = temp_dir("aegis-live-faults");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    let mut run = engine.start();
    engine.wait_ready();
    let mut target = 1;
    let mut next = |engine: &mut Engine, fault: Option<Fault>| {
        if let Some(f) = fault {
            sim.inject(f, 1);
        }
        let seq = engine.signal(target);
        target = 1 - target;
        let entry = engine.settled(seq);
        assert!(
            matches!(entry, Entry::Fill { .. }),
            "signal {seq}: {entry:?}"
        );
        assert_eq!(
            orders_of(engine, &sim, seq).len(),
            1,
            "one exchange order for signal {seq}"
        );
        seq
    };
    // 429: waited out, then sent again.
    next(&mut engine, Some(Fault::RateLimited { retry_after_s: 1 }));
    // -1021: resynced and signed again by the client: the refused order,
    // the server time, the order again, then the account (2 without it).
    let before = sim.requests();
    next(&mut engine, Some(Fault::TimestampOutside));
    assert_eq!(sim.requests() - before, 4, "-1021 is resynced once");
    // 5XX after the order was placed: the query finds it, no resend.
    next(&mut engine, Some(Fault::ServerError));
    // The reply lost to the timeout (1 s): found by the query, no resend.
    next(&mut engine, Some(Fault::Delay(Duration::from_millis(1500))));
    let metrics = engine.raw("/metrics");
    for kind in ["rate_limited", "status_unknown"] {
        let line = format!("aegis_exchange_errors_total{{kind=\"{kind}\"}}");
        assert!(metrics.contains(&line), "/metrics lacks {line}:\n{metrics}");
    }

    // 418: a persistent halt, no further request.
    sim.inject(Fault::Banned { retry_after_s: 5 }, 1);
    let banned = engine.signal(target);
    let entry = engine.settled(banned);
    assert!(
        matches!(&entry, Entry::Cancelled { reason, .. } if reason.contains("418")),
        "{entry:?}"
    );
    let halted = wait_for(WAIT, || {
        engine
            .status()
            .filter(|s| s.book.as_ref().is_some_and(|b| b.halted))
    })
    .expect("halted");
    let reason = halted.book.and_then(|b| b.halt_reason).unwrap_or_default();
    assert!(reason.contains("ban") && reason.contains("418"), "{reason}");
    assert!(engine.entries().iter().any(|e| matches!(
        e,
        Entry::Halt {
            kind: HaltKind::ExchangeBan,
            ..
        }
    )));
    let requests = sim.requests();
    for t in [0, 1, 0, 1] {
        engine.signal(t);
    }
    engine.read_all();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sim.requests(), requests, "no request while banned");
    assert!(engine.raw("/metrics").contains("aegis_halted 1"));
    assert!(engine.logs().contains("exchange ban"), "the ban is logged");
    assert_ledger_matches_exchange(&engine.entries(), &sim);

    // The ban is persistent: a restart sends nothing and stays halted...
    signal(run.0.id(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert!(wait_exit(&mut run.0, WAIT).is_some_and(|s| s.success()));
    let mut run = engine.start();
    let restarted = wait_for(WAIT, || engine.status().filter(|s| s.book.is_some()))
        .expect("the restarted orchestrator answers");
    assert!(restarted.book.is_some_and(|b| b.halted), "still halted");
    engine.signal(1);
    engine.read_all();
    assert_eq!(
        sim.requests(),
        requests,
        "no request after a restart while banned"
    );
    let flatten = engine
        .control
        .post("/flatten", Duration::from_secs(5))
        .expect("POST /flatten answers");
    assert_eq!(
        flatten.status, 409,
        "no flatten while banned: {}",
        flatten.body
    );
    assert!(flatten.body.contains("banned"), "{}", flatten.body);
    signal(run.0.id(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert!(wait_exit(&mut run.0, WAIT).is_some_and(|s| s.success()));

    // ...until clear_halt once the ban is over (every role honours the
    // ban recorded in the ring directory until its Retry-After has passed):
    // then it trades again.
    let ban = SharedBan::at(ban_file_in(&engine.dir.join("rings")))
        .read()
        .expect("a readable ban file")
        .expect("the ban is recorded for every role");
    std::thread::sleep(Duration::from_millis(
        u64::try_from(ban.until_ms - now_ms()).unwrap_or(0),
    ));
    engine.env.push((
        "AEGIS__ORCHESTRATOR__RISK__CLEAR_HALT".into(),
        "true".into(),
    ));
    let _run = engine.start();
    engine.wait_ready();
    let book = engine.status().and_then(|s| s.book).expect("a book");
    // Flat but for the dust the buys' base commissions left (< qty_step).
    assert!(
        !book.halted && book.position < Decimal::new(1, 5),
        "{book:?}"
    );
    let seq = engine.signal(1);
    let entry = engine.settled(seq);
    assert!(
        matches!(entry, Entry::Fill { .. }),
        "trades after clear_halt: {entry:?}"
    );
    assert_ledger_matches_exchange(&engine.entries(), &sim);
}

/// Kills the orchestrator while its order request is in flight, restarts
/// it, and checks the order is settled once: a request delayed 0.9 s is
/// carried out after the kill (the restart's query finds it, or waits out
/// recvWindow and finds it then); one delayed 3 s arrives after its 2 s
/// recvWindow and is refused, so the restart finds nothing after the window
/// and sends it again with the same id.
#[test]
fn kill_9_with_the_order_in_flight_settles_it_once_after_restart() {
    let work = temp_dir("aegis-live-kill");
    for delay_ms in [900, 3000] {
        let sim = sim_with_secret(SECRET);
        let mut engine = Engine::new(&work.path().join(delay_ms.to_string()), &sim);
        let mut run = engine.start();
        engine.wait_ready();
        let requests = sim.requests();
        sim.inject(Fault::Delay(Duration::from_millis(delay_ms)), 1);
        let seq = engine.signal(1);
        let in_flight = wait_for(WAIT, || (sim.requests() > requests).then_some(()));
        assert!(in_flight.is_some(), "the order request was not sent");
        signal(run.0.id(), nix::sys::signal::Signal::SIGKILL).expect("kill -9");
        let _ = wait_exit(&mut run.0, WAIT);
        let written = engine.entries();
        assert!(
            written
                .iter()
                .any(|e| matches!(e, Entry::Order { signal_seq, .. } if *signal_seq == seq)),
            "the order is written ahead of its request"
        );
        assert!(
            !written.iter().any(|e| matches!(e, Entry::Fill { .. })),
            "killed before its fill was written"
        );
        let _run = engine.start();
        let entry = engine.settled(seq);
        assert!(
            matches!(entry, Entry::Fill { .. }),
            "delay {delay_ms} ms: {entry:?}"
        );
        assert_eq!(
            orders_of(&engine, &sim, seq).len(),
            1,
            "delay {delay_ms} ms: exactly one exchange order"
        );
        let later = engine.signal(0);
        engine.settled(later);
        assert_ledger_matches_exchange(&engine.entries(), &sim);
    }
}

/// Kills at random points across a run (every request slowed so that
/// kills land mid-request too) while signals arrive one at a time; the last
/// run settles everything. Signals that arrive while the orchestrator is
/// down or busy are superseded by the newest, so there are at most as many
/// orders as signals — and every exchange order is booked exactly once.
#[test]
fn kill_9_at_random_points_leaves_one_exchange_order_per_signal() {
    let mut rng = seeded_rng();
    let work = temp_dir("aegis-live-chaos");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    sim.inject(Fault::Delay(Duration::from_millis(250)), 10_000);
    let mut run = engine.start();
    let mut kills = 0;
    const SIGNALS: u64 = 12;
    for i in 0..SIGNALS {
        engine.signal(i64::from(i % 2 == 0));
        let after = Duration::from_millis(rng.random_range(300..2500));
        std::thread::sleep(after);
        if kills < 6 && rng.random_bool(0.6) {
            println!(
                "kill {kills} after signal {i} (+{after:?}): {} exchange orders",
                sim.orders().len()
            );
            signal(run.0.id(), nix::sys::signal::Signal::SIGKILL).expect("kill -9");
            let _ = wait_exit(&mut run.0, WAIT);
            kills += 1;
            run = engine.start();
        }
    }
    // The last run: every signal read and every order settled.
    let settled = wait_for(Duration::from_secs(30), || {
        let entries = engine.entries();
        let orders = entries
            .iter()
            .filter(|e| matches!(e, Entry::Order { .. }))
            .count();
        let ends = entries
            .iter()
            .filter(|e| matches!(e, Entry::Fill { .. } | Entry::Cancelled { .. }))
            .count();
        // Every signal handled: the orchestrator's committed cursor (moved
        // only after the ledger append they caused) is past the last one.
        // (`/status`'s last_signal stays empty in a process that had
        // nothing left to read.)
        let read = engine.ring.status().is_ok_and(|s| {
            s.readers
                .iter()
                .any(|r| r.name == "orchestrator" && r.cursor == SIGNALS)
        });
        (read && orders == ends).then_some(entries)
    })
    .unwrap_or_else(|| panic!("not every order was settled: {:?}", engine.entries()));
    let orders = settled
        .iter()
        .filter(|e| matches!(e, Entry::Order { .. }))
        .count();
    println!("{kills} kills, {orders} orders");
    assert!(
        (1..=SIGNALS as usize).contains(&orders),
        "at most one order per signal: {settled:?}"
    );
    assert_ledger_matches_exchange(&settled, &sim);
    assert_eq!(
        aegis_engine::ledger::duplicate_orders(&settled),
        Vec::<u64>::new()
    );
}

/// The symbol's quantity step (0.001 here) is coarser than the configured
/// `qty_step` (0.00001): orders are sized in it, and what a sell leaves of a
/// buy's base commission (below 0.001) counts as flat, so every change of
/// target trades. Taking the configured step, the fourth order's remainder
/// (0.00002) would count as long and the last buy would never be sent.
#[test]
fn a_coarser_exchange_step_sizes_orders_and_leaves_dust_flat() {
    let work = temp_dir("aegis-live-step");
    let last = now_ms().div_euclid(60_000) * 60_000;
    let step = Decimal::new(1, 3);
    let sim = ExchangeSim::start(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.into(),
        candles: SimCandle::flat_series(3, 60_000, last - 60_000, Decimal::from(100)),
        lot_size: (step, Decimal::from(9000), step),
        ..SimConfig::default()
    })
    .expect("the simulator starts");
    let mut engine = Engine::new(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    for (i, target) in [1, 0, 1, 0, 1].into_iter().enumerate() {
        let seq = engine.signal(target);
        let entry = engine.settled(seq);
        assert!(
            matches!(entry, Entry::Fill { .. }),
            "change {i} (to {target}) trades: {entry:?}"
        );
    }
    let entries = engine.entries();
    // The second buy: 998.001 of cash at 100 is 9.98 in steps of 0.001
    // (9.98001 in the configured steps).
    let second_buy = entries.iter().find_map(|e| match e {
        Entry::Order {
            signal_seq: 2, qty, ..
        } => Some(*qty),
        _ => None,
    });
    assert_eq!(second_buy, Some(Decimal::new(998, 2)));
    let position = entries.iter().rev().find_map(|e| match e {
        Entry::Fill { position_after, .. } => Some(*position_after),
        _ => None,
    });
    assert!(
        position.is_some_and(|p| p > Decimal::from(9)),
        "long again: {position:?}"
    );
    assert!(
        engine
            .logs()
            .contains("finer than the symbol's LOT_SIZE step"),
        "the adopted step is logged"
    );
    assert_ledger_matches_exchange(&entries, &sim);
}

/// An account holding less than the ledger is reported (metric, error log
/// with both figures, /status), and the orchestrator keeps running.
#[test]
fn a_balance_mismatch_is_reported_not_fatal() {
    let work = temp_dir("aegis-live-mismatch");
    let sim = sim_with_secret(SECRET);
    sim.set_balance("USDT", Decimal::from(500));
    let mut engine = Engine::new(work.path(), &sim);
    let mut run = engine.start();
    let status = engine.wait_ready();
    let b = status.balances.expect("balances");
    assert_eq!(b.mismatches.len(), 1, "{b:?}");
    assert!(
        b.mismatches[0].contains("1000") && b.mismatches[0].contains("500"),
        "{b:?}"
    );
    let metrics = engine.raw("/metrics");
    assert!(
        metrics.contains("aegis_balance_mismatch{asset=\"USDT\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("aegis_exchange_balance{asset=\"USDT\"} 500"),
        "{metrics}"
    );
    let logged = wait_for(WAIT, || {
        let logs = engine.logs();
        logs.lines()
            .find(|l| l.contains("ERROR") && l.contains("1000") && l.contains("500"))
            .map(str::to_string)
    });
    assert!(
        logged.is_some(),
        "an error line names both figures:\n{}",
        engine.logs()
    );
    assert!(run.0.try_wait().expect("try_wait").is_none(), "not fatal");
}

/// A 429 at startup is waited out; a 418 at startup halts (in the ledger,
/// /status) and the orchestrator stays up without sending anything more.
#[test]
fn startup_rate_limits_are_waited_out_and_a_ban_halts() {
    let work = temp_dir("aegis-live-startup");
    let sim = sim_with_secret(SECRET);
    sim.inject(Fault::RateLimited { retry_after_s: 1 }, 1);
    let mut engine = Engine::new(&work.path().join("limited"), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let seq = engine.signal(1);
    assert!(matches!(engine.settled(seq), Entry::Fill { .. }));
    assert!(engine
        .raw("/metrics")
        .contains("aegis_exchange_errors_total{kind=\"rate_limited\"} 1"));

    let sim = sim_with_secret(SECRET);
    sim.inject(Fault::Banned { retry_after_s: 60 }, 1);
    let mut engine = Engine::new(&work.path().join("banned"), &sim);
    let mut run = engine.start();
    let halted = wait_for(WAIT, || {
        engine
            .status()
            .filter(|s| s.book.as_ref().is_some_and(|b| b.halted))
    })
    .unwrap_or_else(|| panic!("not halted by the ban; logs:\n{}", engine.logs()));
    let reason = halted.book.and_then(|b| b.halt_reason).unwrap_or_default();
    assert!(reason.contains("418"), "{reason}");
    assert!(engine.entries().iter().any(|e| matches!(
        e,
        Entry::Halt {
            kind: HaltKind::ExchangeBan,
            ..
        }
    )));
    engine.signal(1);
    engine.read_all();
    assert_eq!(sim.requests(), 1, "nothing sent after the ban");
    assert!(
        run.0.try_wait().expect("try_wait").is_none(),
        "still running"
    );
}

/// A market order the exchange reports `NEW` (nothing executed yet) is
/// polled until it is filled, then booked once, with the commission its
/// replies never listed read from `GET /api/v3/myTrades`: through a 503 and
/// a 429 there, and when that list stays unreadable, booked without it and
/// the difference reported as a balance mismatch.
#[test]
fn a_working_market_order_is_polled_until_filled_and_its_fee_read_from_my_trades() {
    const MY_TRADES: &str = "/api/v3/myTrades";
    let work = temp_dir("aegis-live-working");
    let last = now_ms().div_euclid(60_000) * 60_000;
    let sim = ExchangeSim::start(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.into(),
        candles: SimCandle::flat_series(1, 60_000, last - 60_000, Decimal::from(100)),
        market_fill_after_queries: 3,
        ..SimConfig::default()
    })
    .expect("the simulator starts");
    let mut engine = Engine::new(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let seq = engine.signal(1);
    let entry = engine.settled(seq);
    assert!(
        matches!(entry, Entry::Fill { qty, fee, .. } if qty == Decimal::new(999, 2) && fee == Decimal::ONE),
        "{entry:?}"
    );
    let orders = orders_of(&engine, &sim, seq);
    assert_eq!(orders.len(), 1, "{orders:?}");
    assert_eq!(orders[0].status, "FILLED");

    // A 503 and a 429 on the trade list: asked again, the fee still exact.
    sim.inject_at(MY_TRADES, Fault::ServerError, 1);
    sim.inject_at(MY_TRADES, Fault::RateLimited { retry_after_s: 1 }, 1);
    let sell = engine.signal(0);
    engine.settled(sell);
    assert_ledger_matches_exchange(&engine.entries(), &sim);

    // The list never readable: booked with no commission, said so, and
    // the base the commission took shows as a mismatch.
    sim.inject_at(MY_TRADES, Fault::ServerError, 100);
    let buy = engine.signal(1);
    let entry = engine.settled(buy);
    assert!(
        matches!(entry, Entry::Fill { fee, .. } if fee.is_zero()),
        "{entry:?}"
    );
    assert!(
        engine
            .logs()
            .contains("the commissions of the rest are not booked"),
        "the unbooked commission is logged"
    );
    let balances = engine.status().and_then(|s| s.balances).expect("balances");
    assert!(
        balances.mismatches.iter().any(|m| m.starts_with("BTC:")),
        "{balances:?}"
    );
}

#[test]
fn only_fresh_candles_place_live_orders() {
    let work = temp_dir("aegis-live-stale");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    // The default for 1m candles: a quarter of the interval, 15 s.
    let yaml = std::fs::read_to_string(&engine.config).expect("the configuration");
    let default_age = yaml.replace("  max_signal_age_secs: 1000000000\n", "");
    assert_ne!(yaml, default_age, "the test's configuration sets an age");
    std::fs::write(&engine.config, default_age).expect("writing the configuration");
    let _run = engine.start();
    engine.wait_ready();
    // A long-closed candle (2024) is passed over: no order, no ledger entry.
    engine.signal(1);
    engine.read_all();
    // So is one that closed 25 s ago (the default before was 90 s).
    let closed_at = |ago_ms: i64| now_ms() - ago_ms - 60_000;
    engine.signal_dated(1, closed_at(25_000));
    engine.read_all();
    assert!(sim.orders().is_empty(), "{:?}", sim.orders());
    assert!(
        engine
            .raw("/metrics")
            .contains("aegis_signals_stale_total 2"),
        "the stale signals are counted"
    );
    // The candle that closed a moment ago trades.
    let seq = engine.signal_dated(1, closed_at(500));
    let fill = engine.settled(seq);
    assert!(matches!(fill, Entry::Fill { .. }), "{fill:?}");
    assert_eq!(orders_of(&engine, &sim, seq).len(), 1);
}

#[test]
fn an_order_never_sent_is_not_sent_late_after_downtime() {
    let work = temp_dir("aegis-live-late");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    engine.env.push((
        "AEGIS__ORCHESTRATOR__MAX_SIGNAL_AGE_SECS".into(),
        "90".into(),
    ));
    // The ledger of a process killed after writing its order ahead and
    // before sending it, two hours ago.
    std::fs::create_dir_all(work.path().join("data")).expect("the data directory");
    let (mut ledger, _) = aegis_worker::store::Ledger::open(engine.ledger()).expect("a new ledger");
    let minute = now_ms().div_euclid(60_000) * 60_000;
    ledger
        .append(&[Entry::Order {
            signal_seq: 0,
            ts_ms: minute - 120 * 60_000,
            side: aegis_engine::trading::Side::Buy,
            qty: Decimal::ONE,
            target: 1,
            reason: None,
            exit: None,
            limit: None,
            ttl_bars: None,
            atr: None,
        }])
        .expect("writing the order ahead");
    drop(ledger);
    let _run = engine.start();
    let entry = engine.settled(0);
    assert!(
        matches!(&entry, Entry::Cancelled { reason, .. } if reason.contains("max_signal_age_secs")),
        "{entry:?}"
    );
    assert!(
        sim.orders().is_empty(),
        "nothing is sent late: {:?}",
        sim.orders()
    );
}

/// Two ledgers — a new data directory, a second engine of the same name on
/// the same account — number their signals from 0 alike. Their orders still
/// have different client ids, so a resend after a 5XX that never reached
/// the exchange finds no order of the other ledger: it is sent again and
/// only its own fill is booked.
#[test]
fn another_ledgers_order_is_never_found_as_this_ones() {
    let work = temp_dir("aegis-live-two-ledgers");
    let sim = sim_with_secret(SECRET);
    let mut first = Engine::new(&work.path().join("first"), &sim);
    let mut run = first.start();
    first.wait_ready();
    let buy = first.signal(1);
    assert!(matches!(first.settled(buy), Entry::Fill { .. }));
    signal(run.0.id(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert!(wait_exit(&mut run.0, WAIT).is_some_and(|s| s.success()));

    let mut second = Engine::new(&work.path().join("second"), &sim);
    let _run = second.start();
    second.wait_ready();
    sim.inject_at("/api/v3/order", Fault::ServerErrorNotCarriedOut, 1);
    let same_seq = second.signal(1);
    assert_eq!(same_seq, buy, "both ledgers number from 0");
    let entry = second.settled(same_seq);
    assert!(matches!(entry, Entry::Fill { .. }), "{entry:?}");
    let (ours, theirs) = (
        id(&second.entries(), same_seq),
        id(&first.entries(), same_seq),
    );
    assert_ne!(ours, theirs, "two ledgers, two client order ids");
    let orders = sim.orders();
    assert_eq!(
        orders.len(),
        2,
        "the resend placed this ledger's order: {orders:?}"
    );
    assert_eq!(orders_of(&second, &sim, same_seq).len(), 1);
    assert!(
        second
            .entries()
            .iter()
            .any(|e| matches!(e, Entry::Sent { client_order_id, .. } if *client_order_id == ours)),
        "the Sent entry records the id"
    );
    let Entry::Fill { qty, .. } = entry else {
        unreachable!()
    };
    let placed = &orders_of(&second, &sim, same_seq)[0];
    assert!(qty <= placed.executed_qty, "booked from its own order");
}

/// An order the exchange holds under the pending order's id that is not
/// the one the ledger sent (another quantity, made before the order was
/// written) is never booked: the order is cancelled in the ledger and
/// trading halts persistently, naming both.
#[test]
fn an_order_found_by_id_that_is_not_the_ledgers_halts_unbooked() {
    let work = temp_dir("aegis-live-mismatch");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    // Somebody else's order under the id of the next signal.
    let next = engine.next_seq;
    let foreign = BinanceRest::new(
        &sim.url(),
        Secret::new(KEY),
        &Secret::new(SECRET),
        Duration::from_secs(5),
    )
    .expect("a client");
    foreign.sync_time().expect("time");
    foreign
        .place_market_order(
            "BTCUSDT",
            Side::Buy,
            Decimal::ONE,
            &id(&engine.entries(), next),
        )
        .expect("the foreign order is placed");
    // This engine's request is lost before it reaches the exchange.
    sim.inject_at("/api/v3/order", Fault::ServerErrorNotCarriedOut, 1);
    let seq = engine.signal(1);
    let entry = engine.settled(seq);
    assert!(
        matches!(&entry, Entry::Cancelled { reason, .. } if reason.contains("not booked") && reason.contains("quantity 1")),
        "{entry:?}"
    );
    let entries = engine.entries();
    assert!(
        !entries.iter().any(|e| matches!(e, Entry::Fill { .. })),
        "nothing booked"
    );
    assert!(
        entries.iter().any(|e| matches!(
            e,
            Entry::Halt {
                kind: HaltKind::OrderMismatch,
                ..
            }
        )),
        "{entries:?}"
    );
    let halted = wait_for(WAIT, || {
        engine.status().and_then(|s| s.book).filter(|b| b.halted)
    })
    .expect("halted");
    assert!(
        halted
            .halt_reason
            .unwrap_or_default()
            .contains("clear_halt"),
        "the reason says how to resume"
    );
    assert_eq!(sim.orders().len(), 1, "only the foreign order exists");
    // Halted: later signals place nothing.
    engine.signal(0);
    engine.signal(1);
    engine.read_all();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sim.orders().len(), 1);
}

/// A backlog (signals that piled up while the orchestrator was down) is
/// not worked through one order at a time: only the newest signal is acted
/// on, so at most one order is placed.
#[test]
fn a_backlog_of_signals_places_at_most_one_order() {
    let work = temp_dir("aegis-live-backlog");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    let targets = [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1];
    for t in targets {
        engine.signal(t);
    }
    let _run = engine.start();
    engine.wait_ready();
    engine.read_all();
    let newest = engine.next_seq - 1;
    let entry = engine.settled(newest);
    assert!(matches!(entry, Entry::Fill { .. }), "{entry:?}");
    std::thread::sleep(Duration::from_millis(300));
    let orders = sim.orders();
    assert_eq!(
        orders.len(),
        1,
        "one order for the newest target: {orders:?}"
    );
    let decided = engine
        .entries()
        .iter()
        .filter(|e| matches!(e, Entry::Order { .. }))
        .count();
    assert_eq!(decided, 1);
    let superseded = format!("aegis_signals_superseded_total {}", targets.len() - 1);
    assert!(engine.raw("/metrics").contains(&superseded), "{superseded}");
    assert_ledger_matches_exchange(&engine.entries(), &sim);
}

/// `/status` counts the fills of the whole ledger, not of this process.
#[test]
fn status_counts_fills_from_the_ledger() {
    let work = temp_dir("aegis-live-fills");
    let sim = sim_with_secret(SECRET);
    let mut engine = Engine::new(work.path(), &sim);
    let mut run = engine.start();
    engine.wait_ready();
    for t in [1, 0] {
        let seq = engine.signal(t);
        engine.settled(seq);
    }
    assert_eq!(engine.status().map(|s| s.fills), Some(2));
    signal(run.0.id(), nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    assert!(wait_exit(&mut run.0, WAIT).is_some_and(|s| s.success()));
    let _run = engine.start();
    let status = engine.wait_ready();
    assert_eq!(
        status.fills, 2,
        "the restarted process counts the ledger's fills"
    );
}
