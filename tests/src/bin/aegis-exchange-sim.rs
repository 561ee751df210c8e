//! `aegis-exchange-sim`: serves the Binance Spot simulator (REST and the
//! WebSocket kline stream) on loopback until Ctrl-C, with the default listing
//! (BTCUSDT), 1000 closed candles ending now, and the default test
//! credentials. With `--candle-every-ms` it goes on by itself: every so
//! often it pushes the next candle of a seeded random walk (history, stream
//! and fill price), so `aegis-worker up` with `feed.source: binance` can be
//! pointed at it.
//!
//! Usage: `aegis-exchange-sim [--port PORT] [--interval 1s|1m|...]
//! [--candle-every-ms MS] [--seed N]`. Keep `--candle-every-ms` at or above
//! the interval's length, or the candles run ahead of the clock and a
//! client sees them as not yet closed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aegis_tests::exchange::{ExchangeSim, SimCandle, SimConfig};
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

fn usage() -> ExitCode {
    eprintln!(
        "usage: aegis-exchange-sim [--port PORT] [--interval 1s|1m|5m|1h] [--candle-every-ms MS] [--seed N]"
    );
    ExitCode::from(2)
}

/// The length of a Binance interval name this binary accepts, ms.
fn interval_ms(name: &str) -> Option<i64> {
    let (n, unit) = name.split_at(name.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let unit = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(n * unit)
}

/// The next candle of the walk: opens at `prev`'s close, moves up to ±0.2 %.
fn next_candle(prev: &SimCandle, span_ms: i64, rng: &mut impl Rng) -> SimCandle {
    let open = prev.close;
    let step = Decimal::from(rng.random_range(-20..=20i64)) * open / Decimal::from(10_000);
    let close = (open + step).round_dp(2);
    let wick = (open * Decimal::new(5, 4)).round_dp(2);
    SimCandle {
        open_time_ms: prev.open_time_ms + span_ms,
        open,
        high: open.max(close) + wick,
        low: open.min(close) - wick,
        close,
        volume: Decimal::new(rng.random_range(1..=500i64), 2),
    }
}

/// 1000 closed candles at `price`, the last one ending before now.
fn flat_candles(price: Decimal, span_ms: i64) -> Vec<SimCandle> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let last = now - now.rem_euclid(span_ms) - span_ms;
    SimCandle::flat_series(1000, span_ms, last, price)
}

fn main() -> ExitCode {
    let mut port: u16 = 0;
    let mut interval = "1m".to_string();
    let mut every_ms: Option<u64> = None;
    let mut seed: u64 = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next();
        let ok = match (arg.as_str(), value) {
            ("--port", Some(v)) => v.parse().map(|n| port = n).is_ok(),
            ("--interval", Some(v)) => {
                let known = interval_ms(&v).is_some();
                interval = v;
                known
            }
            ("--candle-every-ms", Some(v)) => {
                v.parse().map(|n: u64| every_ms = Some(n.max(1))).is_ok()
            }
            ("--seed", Some(v)) => v.parse().map(|n| seed = n).is_ok(),
            _ => false,
        };
        if !ok {
            return usage();
        }
    }
    let Some(span) = interval_ms(&interval) else {
        return usage();
    };
    let config = SimConfig {
        interval: (interval.clone(), span),
        candles: flat_candles(Decimal::from(30_000), span),
        ..SimConfig::default()
    };
    let (key, secret) = (config.api_key.clone(), config.api_secret.clone());
    let sim = match ExchangeSim::start_at(config, SocketAddr::from(([127, 0, 0, 1], port))) {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("aegis-exchange-sim: cannot listen on port {port}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("serving the Binance Spot simulator at {}", sim.url());
    println!(
        "kline stream: {}/btcusdt@kline_{interval} (exchange.rest_url: {}, exchange.ws_url: {})",
        sim.ws_url(),
        sim.url(),
        sim.ws_url()
    );
    println!("BINANCE_API_KEY={key} BINANCE_API_SECRET={secret}");
    println!("try: curl '{}/api/v3/time'", sim.url());
    let ctrl_c = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| {
            rt.block_on(async {
                let Some(every) = every_ms else {
                    return tokio::signal::ctrl_c().await;
                };
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let mut tick = tokio::time::interval(Duration::from_millis(every));
                tick.tick().await;
                loop {
                    tokio::select! {
                        r = tokio::signal::ctrl_c() => return r,
                        _ = tick.tick() => {
                            if let Some(prev) = sim.candles().last() {
                                sim.push_candle(next_candle(prev, span, &mut rng));
                            }
                        }
                    }
                }
            })
        });
    if let Ok(Err(e)) | Err(e) = ctrl_c {
        eprintln!("aegis-exchange-sim: cannot wait for Ctrl-C: {e}");
    }
    drop(sim);
    ExitCode::SUCCESS
}
