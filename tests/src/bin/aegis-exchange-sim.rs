//! `aegis-exchange-sim`: serves the Binance Spot REST simulator on loopback
//! until Ctrl-C, with the default listing (BTCUSDT, 1m), a flat series of
//! 1000 candles ending now at 30000 USDT, and the default test credentials.
//!
//! Usage: `aegis-exchange-sim [--port PORT]`

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use aegis_tests::exchange::{ExchangeSim, SimCandle, SimConfig};
use rust_decimal::Decimal;

fn usage() -> ExitCode {
    eprintln!("usage: aegis-exchange-sim [--port PORT]");
    ExitCode::from(2)
}

/// 1000 one-minute candles at `price`, the last one open now.
fn flat_candles(price: Decimal) -> Vec<SimCandle> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let last = now - now.rem_euclid(60_000);
    (0..1000)
        .rev()
        .map(|back| SimCandle {
            open_time_ms: last - back * 60_000,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: Decimal::ONE,
        })
        .collect()
}

fn main() -> ExitCode {
    let mut port: u16 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|p| p.parse())) {
            ("--port", Some(Ok(n))) => port = n,
            _ => return usage(),
        }
    }
    let config = SimConfig {
        candles: flat_candles(Decimal::from(30_000)),
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
    println!("serving the Binance Spot REST simulator at {}", sim.url());
    println!("BINANCE_API_KEY={key} BINANCE_API_SECRET={secret}");
    println!("try: curl '{}/api/v3/time'", sim.url());
    let ctrl_c = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|rt| rt.block_on(tokio::signal::ctrl_c()));
    if let Ok(Err(e)) | Err(e) = ctrl_c {
        eprintln!("aegis-exchange-sim: cannot wait for Ctrl-C: {e}");
    }
    drop(sim);
    ExitCode::SUCCESS
}
