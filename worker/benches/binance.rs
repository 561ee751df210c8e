//! Binance parsing and signing: kline event parse + validate throughput
//! (messages per second on one core, median of 5 runs, each 10 passes over
//! 20,000 distinct closed-kline messages: 7 MB, cache-resident like a message
//! just read from a socket) beside a `serde_json::Value` baseline, and the
//! latency of building + signing a market-order query (p50/p99/p99.9 over
//! 200,000 signatures) beside signing with the key set up per request.
//!
//! Run: `cargo bench -p aegis-worker --bench binance`

use std::hint::black_box;
use std::time::Instant;

use aegis_contract::records::Candle;
use aegis_engine::market::CandleValidator;
use aegis_exchange::{KlineParser, Signer};
use aegis_worker::config::Secret;

#[path = "support/rate.rs"]
mod rate;
use rate::{median_rate, report, BenchResult};

const MESSAGES: usize = 20_000;
const PASSES: usize = 10;
const RUNS: usize = 5;
const SIGNATURES: usize = 200_000;
/// Candles each run must produce.
const PARSED: u64 = (MESSAGES * PASSES) as u64;

fn main() -> BenchResult<()> {
    let messages = kline_messages();
    let bytes: usize = messages.iter().map(String::len).sum();
    println!(
        "binance: {PASSES} passes over {MESSAGES} kline messages of {} bytes on average, median of {RUNS} runs",
        bytes / MESSAGES
    );
    let parser = KlineParser::new("BTCUSDT", "1m".parse()?);
    let ours = median_rate(RUNS, PARSED, || {
        parse_and_validate(&parser, &messages).map(|n| n as u64)
    })?;
    let value = median_rate(RUNS, PARSED, || value_baseline(&messages).map(|n| n as u64))?;
    report("parse + validate", "msgs", ours, value, "Value");
    report("serde_json::Value + parse", "msgs", value, value, "Value");

    let signer = Signer::new(&Secret::new("bench-secret-0123456789abcdef"))?;
    let cached = sign_latencies(|i| order_query(&signer, i))?;
    let fresh = sign_latencies(|i| {
        let signer = Signer::new(&Secret::new("bench-secret-0123456789abcdef"))?;
        order_query(&signer, i)
    })?;
    println!("build + sign a market order query ({SIGNATURES} signatures), ns:");
    println!(
        "  {:<32} p50 {:>6}  p99 {:>6}  p99.9 {:>6}",
        "signer reused", cached[0], cached[1], cached[2]
    );
    println!(
        "  {:<32} p50 {:>6}  p99 {:>6}  p99.9 {:>6}",
        "key set up per request", fresh[0], fresh[1], fresh[2]
    );
    Ok(())
}

/// Closed 1m klines one minute apart, prices like BTCUSDT's.
fn kline_messages() -> Vec<String> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut close = 43_250.12_f64;
    (0..MESSAGES)
        .map(|i| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (state >> 33) as f64 / f64::from(1u32 << 31);
            let open = close;
            close = (open * (1.0 + (r - 0.5) * 0.002) * 100.0).round() / 100.0;
            let high = open.max(close) + 50.38;
            let low = open.min(close) - 50.11;
            let t = 1_700_000_000_000 + i as i64 * 60_000;
            format!(
                r#"{{"e":"kline","E":{},"s":"BTCUSDT","k":{{"t":{t},"T":{},"s":"BTCUSDT","i":"1m","f":{},"L":{},"o":"{open:.8}","c":"{close:.8}","h":"{high:.8}","l":"{low:.8}","v":"{:.8}","n":1234,"x":true,"q":"533956.46220000","V":"6.10000000","Q":"263000.20000000","B":"0"}}}}"#,
                t + 60_005,
                t + 59_999,
                i * 1000,
                i * 1000 + 999,
                1.0 + r * 20.0,
            )
        })
        .collect()
}

fn parse_and_validate(parser: &KlineParser, messages: &[String]) -> BenchResult<usize> {
    let mut candles = 0;
    for _ in 0..PASSES {
        candles += parse_pass(parser, messages)?;
    }
    Ok(candles)
}

fn parse_pass(parser: &KlineParser, messages: &[String]) -> BenchResult<usize> {
    let mut validator = CandleValidator::new();
    let mut candles = 0;
    for msg in messages {
        if let Some(candle) = parser.parse_event(msg.as_bytes())? {
            validator.check(&candle).map_err(|r| r.label())?;
            black_box(&candle);
            candles += 1;
        }
    }
    Ok(candles)
}

/// The obvious implementation: a `serde_json::Value` tree, fields looked up
/// by name, `str::parse` per number, the same validation.
fn value_baseline(messages: &[String]) -> BenchResult<usize> {
    let mut candles = 0;
    for _ in 0..PASSES {
        candles += value_pass(messages)?;
    }
    Ok(candles)
}

fn value_pass(messages: &[String]) -> BenchResult<usize> {
    let mut validator = CandleValidator::new();
    let mut candles = 0;
    for msg in messages {
        let v: serde_json::Value = serde_json::from_slice(msg.as_bytes())?;
        let k = &v["k"];
        if k["s"] != "BTCUSDT" || k["i"] != "1m" || k["x"] != true {
            return Err("unexpected message".into());
        }
        let num =
            |f: &str| -> BenchResult<f64> { Ok(k[f].as_str().ok_or("not a string")?.parse()?) };
        let candle = Candle {
            seq: 0,
            ts_ms: k["t"].as_i64().ok_or("no t")?,
            open: num("o")?,
            high: num("h")?,
            low: num("l")?,
            close: num("c")?,
            volume: num("v")?,
            ingest_ns: 0,
        };
        validator.check(&candle).map_err(|r| r.label())?;
        black_box(&candle);
        candles += 1;
    }
    Ok(candles)
}

/// The query of a MARKET order, as the orchestrator will send it.
fn order_query(signer: &Signer, i: usize) -> BenchResult<String> {
    let client_id = format!("aegis-demo-{i:010}");
    let params = [
        ("symbol", "BTCUSDT"),
        ("side", "BUY"),
        ("type", "MARKET"),
        ("quantity", "0.00123"),
        ("newClientOrderId", client_id.as_str()),
    ];
    Ok(signer.signed_query(&params, 1_700_000_000_000 + i as u64, 5000))
}

/// p50, p99 and p99.9 of `f`'s latency in ns, after 10,000 warm-up calls.
fn sign_latencies(mut f: impl FnMut(usize) -> BenchResult<String>) -> BenchResult<[u64; 3]> {
    for i in 0..10_000 {
        black_box(f(i)?);
    }
    let mut ns = Vec::with_capacity(SIGNATURES);
    for i in 0..SIGNATURES {
        let start = Instant::now();
        let query = f(i)?;
        ns.push(start.elapsed().as_nanos() as u64);
        black_box(query);
    }
    ns.sort_unstable();
    let at = |q: f64| ns[((SIGNATURES as f64 * q) as usize).min(SIGNATURES - 1)];
    Ok([at(0.50), at(0.99), at(0.999)])
}
