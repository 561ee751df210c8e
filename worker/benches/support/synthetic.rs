//! What the worker's process benches share: the synthetic replay file
//! they run on and a line describing the machine they ran on.

use std::io::{BufWriter, Write};
use std::path::Path;

use aegis_engine::market::{GbmParams, GbmSource};
use anyhow::Context;

/// Candles from a GBM series (BTC-like: 43,000, 80 % volatility, 1-minute
/// bars) as CSV rows with prices rounded to cents, OHLC kept consistent.
pub fn write_csv(path: &Path, rows: u64) -> anyhow::Result<()> {
    let params = GbmParams {
        seed: 42,
        start_price: 43_000.0,
        drift: 0.0,
        volatility: 0.8,
        interval_ms: 60_000,
        start_ts_ms: 1_704_067_200_000,
        steps_per_candle: 16,
    };
    let mut source = GbmSource::new(params)?;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    writeln!(out, "timestamp,open,high,low,close,volume")?;
    let cents = |x: f64| (x * 100.0).round() / 100.0;
    for _ in 0..rows {
        let c = source.next_candle();
        let (open, close) = (cents(c.open), cents(c.close));
        let high = cents(c.high).max(open).max(close);
        let low = cents(c.low).min(open).min(close);
        writeln!(
            out,
            "{},{open:.2},{high:.2},{low:.2},{close:.2},{:.4}",
            c.ts_ms, c.volume
        )?;
    }
    out.flush()?;
    Ok(())
}

/// The CPUs, their model and the load average, for the printed figures.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cpus} CPUs online, {model}, load average {}",
        load.join(" ")
    )
}
