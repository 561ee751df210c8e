//! The REST client against the exchange simulator (`aegis_tests::exchange`):
//! time sync with a skewed server clock, signed reads, orders placed and
//! queried back, and each injected fault ending in the typed error (or the
//! one documented retry) it must.

mod common;

use std::time::Duration;

use aegis_exchange::rest::{client_order_id, Side};
use aegis_exchange::{BinanceRest, RestError};
use aegis_tests::exchange::{ExchangeSim, Fault, SimCandle, SimConfig};
use aegis_worker::config::{Interval, Secret};
use common::now_ms;
use rust_decimal::Decimal;

const KEY: &str = "sim-api-key";
const SECRET: &str = "sim-api-secret-0123456789";

/// Five one-minute candles at 20000, the last one open now.
fn sim() -> ExchangeSim {
    let last = now_ms() - now_ms().rem_euclid(60_000);
    let candles = SimCandle::flat_series(5, 60_000, last, Decimal::from(20_000));
    ExchangeSim::start(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.into(),
        candles,
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

fn one_minute() -> Interval {
    "1m".parse().expect("1m is an interval")
}

fn client_with(sim: &ExchangeSim, secret: &str) -> BinanceRest {
    BinanceRest::new(
        &sim.url(),
        Secret::new(KEY),
        &Secret::new(secret),
        Duration::from_secs(20),
    )
    .expect("client builds")
}

fn client(sim: &ExchangeSim) -> BinanceRest {
    let c = client_with(sim, SECRET);
    c.sync_time().expect("time sync");
    c
}

/// No error shows the key or the secret.
fn assert_no_credentials(e: &RestError) {
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains(SECRET), "secret in {shown}");
        assert!(!shown.contains(KEY), "API key in {shown}");
    }
}

#[test]
fn syncs_with_a_skewed_clock_then_signed_reads_work() {
    let sim = sim();
    // 8 s: well past the 5 s recvWindow (at exactly 5 s, a request served
    // within the same millisecond would still be accepted).
    sim.set_clock_skew_ms(8_000);
    let c = client_with(&sim, SECRET);
    // Stamped with the local clock, a request is 8 s late: the first call
    // meets -1021, resyncs and succeeds on its one retry.
    let balances = c.account().expect("account after the resync");
    let offset = c.time_offset_ms();
    assert!(
        (offset - 8_000).abs() < 1_500,
        "offset {offset} ms, expected about 8000"
    );
    assert_eq!(balances["USDT"].free, Decimal::from(10_000));
    assert_eq!(balances["BTC"].free, Decimal::ZERO);
    assert!(c.used_weight() > 0, "X-MBX-USED-WEIGHT-1M not read");

    sim.set_clock_skew_ms(-3_000);
    assert!((c.sync_time().expect("resync") + 3_000).abs() < 1_500);
    c.account().expect("account with a late server clock");
    let filters = c.exchange_info("BTCUSDT").expect("exchangeInfo");
    assert_eq!(
        filters.lot_size.map(|l| l.step_size),
        Some(Decimal::new(1, 5))
    );
    let candles = c
        .klines("BTCUSDT", one_minute(), None, None, 1000)
        .expect("klines")
        .candles;
    // The newest of the five opened this (local) minute, so it is open by
    // any clock here and must be left out; on a server clock 3 s behind,
    // the one before it is still open too during a minute's first 3 s.
    assert!(
        (3..=4).contains(&candles.len()),
        "the still-open candles are left out: {} candles",
        candles.len()
    );
}

#[test]
fn market_order_is_placed_and_queried_back() {
    let sim = sim();
    let c = client(&sim);
    let id = client_order_id("rest-test", "0000000000001", 1);
    let placed = c
        .place_market_order("BTCUSDT", Side::Buy, Decimal::new(1, 2), &id)
        .expect("order placed");
    assert_eq!((placed.status.as_str(), placed.side), ("FILLED", Side::Buy));
    assert_eq!(placed.executed_qty, Decimal::new(1, 2));
    assert_eq!(placed.cummulative_quote_qty, Decimal::from(200));
    let found = c
        .query_order("BTCUSDT", &id)
        .expect("query")
        .expect("order found");
    assert_eq!(found.client_order_id, id);
    assert_eq!(found.order_id, placed.order_id);
    assert_eq!(c.query_order("BTCUSDT", "never-sent").expect("query"), None);
    let e = c
        .cancel_order("BTCUSDT", &id)
        .expect_err("a filled order is not open");
    assert!(matches!(e, RestError::UnknownOrder { .. }), "{e:?}");
    assert!(!e.retryable());
}

#[test]
fn timestamp_error_resyncs_and_retries_once() {
    let sim = sim();
    let c = client(&sim);
    sim.inject(Fault::TimestampOutside, 1);
    let before = sim.requests();
    c.account().expect("one resync and retry succeed");
    // account (-1021), time, account.
    assert_eq!(sim.requests() - before, 3);

    // A second -1021 after the resync is reported, not retried again.
    sim.inject(Fault::TimestampOutside, 2);
    let before = sim.requests();
    let e = c.account().expect_err("-1021 twice");
    assert_eq!(
        sim.requests() - before,
        3,
        "account, time, account: one retry only"
    );
    assert!(matches!(e, RestError::Timestamp { .. }), "{e:?}");
    assert!(e.to_string().contains("-1021"), "{e}");
}

#[test]
fn rate_limit_and_ban_are_typed() {
    let sim = sim();
    let c = client(&sim);
    sim.inject(Fault::RateLimited { retry_after_s: 9 }, 1);
    let e = c.server_time().expect_err("429");
    assert!(matches!(e, RestError::RateLimited { .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(9)));
    assert!(e.retryable() && !e.must_halt());

    sim.inject(Fault::Banned { retry_after_s: 120 }, 1);
    let e = c.account().expect_err("418");
    assert!(matches!(e, RestError::Banned { .. }), "{e:?}");
    assert!(e.must_halt() && !e.retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));
    assert_no_credentials(&e);
}

#[test]
fn wrong_secret_is_a_clear_error_never_retried() {
    let sim = sim();
    let c = client_with(&sim, "not-the-secret");
    c.sync_time().expect("time is public");
    let before = sim.requests();
    let e = c.account().expect_err("bad signature");
    assert_eq!(sim.requests() - before, 1, "a bad signature is not retried");
    assert!(matches!(e, RestError::BadSignature { .. }), "{e:?}");
    assert!(!e.retryable());
    assert!(e.to_string().contains("BINANCE_API_SECRET"), "{e}");
    assert_no_credentials(&e);

    let unknown_key = BinanceRest::new(
        &sim.url(),
        Secret::new("other"),
        &Secret::new(SECRET),
        Duration::from_secs(20),
    )
    .expect("client builds");
    let e = unknown_key.account().expect_err("unknown key");
    assert!(
        matches!(e, RestError::BadApiKey { code: -2015, .. }),
        "{e:?}"
    );
    assert_no_credentials(&e);
}

#[test]
fn refusals_by_balance_and_filters_are_not_retried() {
    let sim = sim();
    let c = client(&sim);
    let before = sim.requests();
    let e = c
        .place_market_order(
            "BTCUSDT",
            Side::Buy,
            Decimal::ONE,
            &client_order_id("t", "0000000000001", 1),
        )
        .expect_err("20000 USDT needed, 10000 held");
    assert!(matches!(e, RestError::InsufficientBalance { .. }), "{e:?}");
    assert!(!e.retryable());
    assert_eq!(sim.requests() - before, 1);
    assert_no_credentials(&e);

    let e = c
        .place_market_order(
            "BTCUSDT",
            Side::Buy,
            Decimal::new(15, 6),
            &client_order_id("t", "0000000000001", 2),
        )
        .expect_err("off the lot step");
    assert!(matches!(e, RestError::FilterFailure { .. }), "{e:?}");
    assert!(e.to_string().contains("LOT_SIZE"), "{e}");
    assert!(sim.orders().is_empty());
}

#[test]
fn server_error_is_unknown_and_a_query_finds_the_order() {
    let sim = sim();
    let c = client(&sim);
    let id = client_order_id("t", "0000000000001", 9);
    sim.inject(Fault::ServerError, 1);
    let e = c
        .place_market_order("BTCUSDT", Side::Buy, Decimal::new(1, 2), &id)
        .expect_err("503");
    assert!(e.status_unknown() && !e.retryable(), "{e:?}");
    assert_no_credentials(&e);
    let found = c
        .query_order("BTCUSDT", &id)
        .expect("query")
        .expect("the order was placed");
    assert_eq!(found.status, "FILLED");
    assert_eq!(sim.orders().len(), 1);
}

#[test]
fn a_dead_server_is_unknown() {
    let url = {
        let sim = sim();
        sim.url()
    };
    let c = BinanceRest::new(
        &url,
        Secret::new(KEY),
        &Secret::new(SECRET),
        Duration::from_secs(5),
    )
    .expect("client builds");
    let e = c.server_time().expect_err("nobody listens");
    assert!(e.status_unknown(), "{e:?}");
}
