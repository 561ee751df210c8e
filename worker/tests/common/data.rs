//! Replay files (synthetic candles as CSV) and `aegis-worker backtest` runs.

use std::io::Write;
use std::path::Path;

use aegis_engine::market::{GbmParams, GbmSource};

use super::run;

/// The replay file header.
pub const HEADER: &str = "timestamp,open,high,low,close,volume";

/// `n` valid one-minute candles from a seeded random walk, as CSV rows
/// (without the header), prices with two decimals.
pub fn good_rows(n: usize, seed: u64) -> Vec<String> {
    let params = GbmParams {
        seed,
        interval_ms: 60_000,
        start_ts_ms: 1_700_000_000_000,
        volatility: 2.0,
        ..GbmParams::default()
    };
    let gbm = GbmSource::new(params).expect("valid GBM parameters");
    gbm.take(n)
        .map(|c| {
            let r = |x: f64| (x * 100.0).round() / 100.0;
            let (open, close) = (r(c.open), r(c.close));
            let high = r(c.high).max(open).max(close);
            let low = r(c.low).min(open).min(close);
            format!(
                "{},{open:.2},{high:.2},{low:.2},{close:.2},{:.4}",
                c.ts_ms, c.volume
            )
        })
        .collect()
}

/// Writes a replay file: the header (unless `header` is false) and `rows`.
pub fn write_csv(path: &Path, header: bool, rows: &[String]) {
    let mut f = std::fs::File::create(path).expect("create csv");
    if header {
        writeln!(f, "{HEADER}").expect("write csv");
    }
    for row in rows {
        writeln!(f, "{row}").expect("write csv");
    }
}

/// Runs a backtest of `data` into `out` with `extra` arguments (global flags
/// such as `--set` included); panics with the output if it fails.
pub fn backtest(data: &Path, out: &Path, extra: &[&str]) -> aegis_engine::report::BacktestReport {
    let mut args = vec![
        "backtest",
        "--data",
        data.to_str().expect("utf-8 path"),
        "--out",
        out.to_str().expect("utf-8 path"),
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        output.status.success(),
        "backtest failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let json = std::fs::read(out.join("report.json")).expect("report.json");
    serde_json::from_slice(&json).expect("report.json parses")
}
