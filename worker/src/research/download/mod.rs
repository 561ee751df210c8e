//! `aegis-worker download`: klines of one symbol and interval from
//! Binance's public REST API (no key) into the replay CSV `backtest` reads
//! (`timestamp,open,high,low,close,volume`, epoch milliseconds).
//!
//! - Candles opened in `[--from, --to)`, closed ones only: the candle still
//!   open on the exchange is never written.
//! - Paged and paced by `pages` (1000 a request, a weight budget, 429's
//!   `Retry-After` kept, a stop on 418).
//! - Resumable: rows are appended one page at a time, and a second run into
//!   the same file continues after its last row (`existing` checks every
//!   row first and refuses a file it would corrupt). The first row fetched
//!   on resuming is the file's last one again: when it differs, the file
//!   holds another symbol's or interval's data and is refused.
//! - Verified as it goes (`continuity`): no duplicates, no disorder, and
//!   gaps the exchange really has (maintenance) reported with their ranges,
//!   never filled.
//!
//! The exchange is `exchange.rest_url`, else the testnet with `--testnet`
//! or `exchange.testnet`, else the live exchange.

mod continuity;
mod existing;
mod pages;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use crate::config::{self, ConfigSource, UsageError};
use aegis_contract::config::Interval;
use aegis_contract::records::Candle;
use aegis_engine::market::csv::{parse_timestamp, HEADER};
use aegis_exchange::rest::BinanceRest;
pub use continuity::{format_ms, Continuity, Gap};
pub use pages::WEIGHT_BUDGET;

/// Options of `download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The symbol, e.g. BTCUSDT.
    #[arg(long)]
    pub symbol: String,
    /// The candle interval, as Binance spells it (1s, 1m, 5m, 1h, 1d, ...).
    #[arg(long, value_parser = parse_interval)]
    pub interval: Interval,
    /// The first open time: a date (2024-01-01, UTC), RFC 3339 or epoch ms.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub from: i64,
    /// The end (exclusive): a date (2024-03-01, UTC), RFC 3339 or epoch ms.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub to: i64,
    /// The CSV to write; an existing one is resumed after its last row.
    #[arg(long, value_name = "FILE.csv")]
    pub out: PathBuf,
    /// Use Binance's spot testnet (unless `exchange.rest_url` is set).
    #[arg(long)]
    pub testnet: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

fn parse_interval(text: &str) -> Result<Interval, String> {
    text.parse::<Interval>().map_err(|e| e.to_string())
}

/// A date (`2024-01-01`, midnight UTC), an RFC 3339 time or epoch ms.
fn parse_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    parse_timestamp(text.as_bytes()).ok_or_else(|| {
        format!("{text:?} is not a date (2024-01-01), an RFC 3339 time or epoch milliseconds")
    })
}

/// What a download did.
#[derive(Debug)]
pub struct Summary {
    /// Rows appended by this run.
    pub written: u64,
    /// Rows in the file now.
    pub rows: u64,
    /// The gaps in the whole file.
    pub gaps: Vec<Gap>,
}

/// Runs the download and prints its summary.
pub fn run(source: &ConfigSource, args: &DownloadArgs) -> anyhow::Result<()> {
    if args.from >= args.to {
        return Err(UsageError(format!(
            "--from {} is not before --to {}",
            format_ms(args.from),
            format_ms(args.to)
        ))
        .into());
    }
    let mut config = config::load(source)?;
    if args.testnet {
        config.exchange.testnet = true;
    }
    let base = config.exchange.rest_base();
    let client = BinanceRest::market_data(&base, config.exchange.timeout());
    let symbol = args.symbol.trim().to_ascii_uppercase();
    let started = Instant::now();
    let summary = download(&client, &symbol, args)
        .with_context(|| format!("downloading {symbol} {} from {base}", args.interval))?;
    println!(
        "download: {} new candles of {symbol} {} in {:.1} s; {} has {} rows",
        summary.written,
        args.interval,
        started.elapsed().as_secs_f64(),
        args.out.display(),
        summary.rows
    );
    if summary.gaps.is_empty() {
        println!("  no gaps");
    } else {
        let missing: u64 = summary.gaps.iter().map(|g| g.missing).sum();
        println!(
            "  {} gaps the exchange has ({missing} candles missing, not filled):",
            summary.gaps.len()
        );
        for gap in &summary.gaps {
            println!("    {gap}");
        }
    }
    Ok(())
}

/// Downloads into `args.out` with `client`.
pub fn download(
    client: &BinanceRest,
    symbol: &str,
    args: &DownloadArgs,
) -> anyhow::Result<Summary> {
    let span = i64::try_from(args.interval.as_millis()).unwrap_or(i64::MAX);
    let found = existing::read(&args.out, span, args.from, args.to)?;
    client.sync_time().context("reading the exchange's time")?;
    let mut progress = Progress::new(args, client.server_now_ms(), span);
    if found.cut_bytes > 0 {
        progress.notice(&format!(
            "cut an incomplete last line ({} bytes, an interrupted write) off {}",
            found.cut_bytes,
            args.out.display()
        ));
    }
    let mut file = open_for_append(&args.out)?;
    if !found.has_header {
        write_rows(&mut file, &args.out, format!("{HEADER}\n").as_bytes())?;
    }
    let mut continuity = found.continuity;
    let mut overlap = found.last;
    let mut start = overlap.map_or(args.from, |c| c.ts_ms);
    let end = args.to - 1;
    let mut written = 0u64;
    let mut text = String::new();
    while start <= end {
        let candles = pages::page(client, symbol, args.interval, start, end, &mut |m| {
            progress.notice(m)
        })?;
        let mut fresh = &candles[..];
        if let Some(last) = overlap.take() {
            check_overlap(&last, fresh.first(), symbol, args.interval)?;
            fresh = &fresh[1..];
        }
        let Some(newest) = candles.last() else {
            break;
        };
        text.clear();
        for candle in fresh {
            continuity.push(candle.ts_ms).with_context(|| {
                "the exchange sent a candle out of order; nothing of that page was written"
            })?;
            push_row(&mut text, candle);
        }
        write_rows(&mut file, &args.out, text.as_bytes())?;
        written += fresh.len() as u64;
        progress.advance(continuity.rows(), newest.ts_ms);
        start = newest.ts_ms + span;
    }
    file.sync_data()
        .with_context(|| format!("syncing {}", args.out.display()))?;
    progress.finish();
    Ok(Summary {
        written,
        rows: continuity.rows(),
        gaps: continuity.gaps().to_vec(),
    })
}

/// The first candle fetched on resuming must be the file's last row.
fn check_overlap(
    last: &Candle,
    fetched: Option<&Candle>,
    symbol: &str,
    interval: Interval,
) -> anyhow::Result<()> {
    let values = |c: &Candle| [c.ts_ms as f64, c.open, c.high, c.low, c.close, c.volume];
    match fetched {
        Some(c) if values(c) == values(last) => Ok(()),
        other => bail!(
            "the file's last row ({} open {} high {} low {} close {} volume {}) is not {symbol} {interval}'s candle on the exchange ({}): the file holds other data; not resuming into it (move it away to start over)",
            format_ms(last.ts_ms),
            last.open,
            last.high,
            last.low,
            last.close,
            last.volume,
            other.map_or("none at that time".to_string(), |c| format!(
                "{} open {} high {} low {} close {} volume {}",
                format_ms(c.ts_ms),
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume
            ))
        ),
    }
}

/// One CSV row as `backtest` reads it (Rust's shortest round-trip `f64`
/// text, so the values read back are the ones fetched).
fn push_row(text: &mut String, c: &Candle) {
    use std::fmt::Write as _;
    let _ = writeln!(
        text,
        "{},{},{},{},{},{}",
        c.ts_ms, c.open, c.high, c.low, c.close, c.volume
    );
}

fn open_for_append(path: &Path) -> anyhow::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .with_context(|| format!("opening --out {}", path.display()))
}

fn write_rows(file: &mut std::fs::File, path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}

/// The progress shown on stderr: a bar on a terminal, else a line every
/// few seconds.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    last_line: Instant,
    quiet: bool,
}

impl Progress {
    fn new(args: &DownloadArgs, now_ms: i64, span: i64) -> Self {
        let until = args.to.min(now_ms);
        let expected = ((until - args.from).max(0) / span.max(1)).unsigned_abs();
        let bar = super::progress_bar(
            args.no_progress,
            expected,
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} candles {msg}",
        );
        Progress {
            bar,
            last_line: Instant::now(),
            quiet: args.no_progress,
        }
    }

    fn notice(&self, message: &str) {
        match &self.bar {
            Some(bar) => bar.println(format!("download: {message}")),
            None => eprintln!("download: {message}"),
        }
    }

    fn advance(&mut self, rows: u64, newest_ms: i64) {
        if let Some(bar) = &self.bar {
            bar.set_position(rows);
            bar.set_message(format_ms(newest_ms));
        } else if !self.quiet && self.last_line.elapsed() >= Duration::from_secs(2) {
            self.last_line = Instant::now();
            eprintln!("download: {rows} candles, up to {}", format_ms(newest_ms));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
