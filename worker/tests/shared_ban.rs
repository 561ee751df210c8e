//! One IP ban for all roles, with real processes on the exchange simulator:
//! the feed meets a 418 during its backfill and records the ban in the ring
//! directory; an orchestrator started meanwhile (a separate process sharing
//! that directory) sends no request while the ban lasts and halts for it
//! with a readable reason; the feed's log names the wait it really keeps;
//! and once the ban has ended the feed goes on.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use aegis_contract::api::OrchestratorStatus;
use aegis_exchange::rest::ban::{ban_file_in, SharedBan};
use aegis_tests::exchange::{ExchangeSim, Fault, SimCandle, SimConfig};
use common::http::{http_get, Control};
use common::up::Guard;
use common::{free_port_base, now_ms, temp_dir, wait_for, BIN};
use rust_decimal::Decimal;

const KEY: &str = "BANKEY-21c9";
const SECRET: &str = "BANSECRET-88e0d1";
const SPAN_MS: i64 = 1000;
/// The ban's `Retry-After`, s: long enough to start the orchestrator in.
const BAN_S: u64 = 8;

fn config(dir: &Path, sim: &ExchangeSim, port: u16) -> std::path::PathBuf {
    let path = dir.join("config.yaml");
    let yaml = format!(
        "engine: ban-test\ninterval: 1s\nrings:\n  dir: {rings}\n\
         feed:\n  listen: 127.0.0.1:{port}\n  source: binance\n\
         orchestrator:\n  listen: 127.0.0.1:{orchestrator}\n  mode: live\n  data_dir: {data}\n  cash: 1000\n{control}\
         exchange:\n  rest_url: {rest}\n  ws_url: {ws}\n  backfill_candles: 20\n  stream_backoff_initial_ms: 20\n  stream_backoff_max_ms: 200\n\
         log:\n  format: json\n",
        rings = dir.join("rings").display(),
        orchestrator = port + 2,
        control = common::http::standalone_control(dir, port + 3).1,
        data = dir.join("data").display(),
        rest = sim.url(),
        ws = sim.ws_url(),
    );
    std::fs::write(&path, yaml).expect("writing the configuration");
    path
}

fn start(role: &str, config: &Path, log: &Path) -> Guard {
    let out = File::create(log).expect("a log file");
    let err = out.try_clone().expect("a log file");
    Guard(
        Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg(role)
            .env("BINANCE_API_KEY", KEY)
            .env("BINANCE_API_SECRET", SECRET)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting the {role}: {e}")),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_ban_met_by_the_feed_is_honoured_by_the_orchestrator() {
    let work = temp_dir("aegis-shared-ban");
    let first = now_ms().div_euclid(SPAN_MS) * SPAN_MS - 20 * SPAN_MS;
    let sim = ExchangeSim::start(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.into(),
        interval: ("1s".into(), SPAN_MS),
        candles: SimCandle::flat_series(20, SPAN_MS, first, Decimal::from(100)),
        ..SimConfig::default()
    })
    .expect("the simulator starts");
    sim.inject_at(
        "/api/v3/klines",
        Fault::Banned {
            retry_after_s: BAN_S,
        },
        1,
    );
    let port = free_port_base();
    let config = config(work.path(), &sim, port);
    let (feed_log, orchestrator_log) = (work.path().join("feed.log"), work.path().join("orch.log"));

    let _feed = start("feed", &config, &feed_log);
    let ban = SharedBan::at(ban_file_in(&work.path().join("rings")));
    let recorded = wait_for(Duration::from_secs(20), || ban.read().ok().flatten())
        .unwrap_or_else(|| panic!("the feed records the ban; its log:\n{}", read(&feed_log)));
    assert!(recorded.reason.contains("retry after 8s"), "{recorded:?}");
    let before = sim.requests();

    let _orchestrator = start("orchestrator", &config, &orchestrator_log);
    let halted = wait_for(Duration::from_secs(20), || {
        let status: OrchestratorStatus = Control::of_up(port, work.path())?.status()?;
        status.book.filter(|b| b.halted)?.halt_reason
    })
    .unwrap_or_else(|| {
        panic!(
            "the orchestrator halts; its log:\n{}",
            read(&orchestrator_log)
        )
    });
    let during = sim.requests();
    assert!(
        now_ms() < recorded.until_ms,
        "the orchestrator was checked within the ban (it took too long to start)"
    );
    assert_eq!(
        during,
        before,
        "no role sent a request during the ban; orchestrator log:\n{}",
        read(&orchestrator_log)
    );
    assert!(
        halted.contains("banned") && halted.contains("retry after") && !halted.contains("Some("),
        "a readable ban reason: {halted}"
    );

    // The feed said the wait it keeps: the Retry-After, not a backoff step.
    let waits: Vec<u64> = read(&feed_log)
        .lines()
        .filter(|l| l.contains("kline stream down") && l.contains("418"))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["retry_in_ms"].as_u64())
        .collect();
    assert_eq!(
        waits,
        [BAN_S * 1000],
        "one 'kline stream down' line naming the real wait; log:\n{}",
        read(&feed_log)
    );

    // Once the ban is over the feed backfills and follows the stream.
    let resumed = wait_for(Duration::from_secs(BAN_S + 20), || {
        let body = http_get(port, "/status", Duration::from_secs(1)).ok()?.body;
        let status: serde_json::Value = serde_json::from_str(&body).ok()?;
        (status["stream"]["state"] == "streaming" && sim.requests() > during).then_some(())
    });
    assert!(
        resumed.is_some(),
        "the feed resumes after the ban; its log:\n{}",
        read(&feed_log)
    );
}
