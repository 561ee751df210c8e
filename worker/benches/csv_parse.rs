//! Throughput of the CSV replay parser: rows per second for parse-only,
//! parse + validate, and a naive `lines()` + `split(',')` + `str::parse`
//! baseline over the same 1M-row file (median of 5 runs each), by wall clock
//! and by the thread's CPU time (the machines are shared).
//!
//! Run: `cargo bench -p aegis-worker --bench csv_parse`

use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;

use aegis_contract::records::Candle;

#[path = "support/rate.rs"]
mod rate;
use rate::{median_rate, report, BenchResult};

const ROWS: u64 = 1_000_000;
const RUNS: usize = 5;

fn main() -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("candles.csv");
    write_file(&path)?;
    let size = std::fs::metadata(&path)?.len();
    println!(
        "csv_parse: {ROWS} rows, {:.1} MiB, median of {RUNS} runs",
        size as f64 / f64::from(1 << 20)
    );

    let parse = median_rate(RUNS, ROWS, || parse_only(&path))?;
    let validate = median_rate(RUNS, ROWS, || parse_and_validate(&path))?;
    let naive = median_rate(RUNS, ROWS, || naive_parse(&path))?;
    report("parse only", "rows", parse, naive, "naive");
    report("parse + validate", "rows", validate, naive, "naive");
    report("naive lines/split/parse", "rows", naive, naive, "naive");
    Ok(())
}

/// Lines like `1700000000000,43250.12,43300.5,43200.01,43280.77,12.345678`.
fn write_file(path: &Path) -> BenchResult<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "timestamp,open,high,low,close,volume")?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut close = 43_250.12_f64;
    for i in 0..ROWS {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = (state >> 33) as f64 / f64::from(1u32 << 31);
        let open = close;
        close = (open * (1.0 + (r - 0.5) * 0.002) * 100.0).round() / 100.0;
        let high = open.max(close) + 50.38;
        let low = open.min(close) - 50.11;
        let volume = 1.0 + r * 20.0;
        writeln!(
            out,
            "{},{open:.2},{high:.2},{low:.2},{close:.2},{volume:.6}",
            1_700_000_000_000 + i * 60_000
        )?;
    }
    out.flush()?;
    Ok(())
}

fn parse_only(path: &Path) -> BenchResult<u64> {
    let mut replay = aegis_worker::store::replay::open_csv(path)?;
    let mut rows = 0;
    while let Some(row) = replay.next_row()? {
        if let Ok(row) = row {
            black_box(&row);
            rows += 1;
        }
    }
    Ok(rows)
}

fn parse_and_validate(path: &Path) -> BenchResult<u64> {
    let mut replay = aegis_worker::store::replay::open_csv(path)?.validated();
    let mut rows = 0;
    while let Some(row) = replay.next_row()? {
        if let Ok(row) = row {
            black_box(&row);
            rows += 1;
        }
    }
    Ok(rows)
}

/// The obvious implementation: whole file as a `String`, `lines()`,
/// `split(',')`, `str::parse` per field.
fn naive_parse(path: &Path) -> BenchResult<u64> {
    let text = std::fs::read_to_string(path)?;
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let mut fields = line.split(',');
        let mut next = || fields.next().ok_or("short line");
        let candle = Candle {
            seq: 0,
            ts_ms: next()?.parse()?,
            open: next()?.parse()?,
            high: next()?.parse()?,
            low: next()?.parse()?,
            close: next()?.parse()?,
            volume: next()?.parse()?,
            ingest_ns: 0,
        };
        black_box(&candle);
        rows += 1;
    }
    Ok(rows)
}
