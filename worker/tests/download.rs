//! `aegis-worker download` as a real process against the exchange
//! simulator: a plain download that `backtest` reads back, a 429 in the
//! middle that is waited out, 5XX replies retried, a killed download (with a torn last line)
//! resumed to the bytes of an uninterrupted one, a gap the exchange has
//! reported and not filled, the still-open candle never written, a 418
//! that stops with a clear error, a file of other data refused, and bad
//! arguments that exit 2 naming the argument.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use aegis_tests::exchange::{ExchangeSim, Fault, SimCandle, SimConfig};
use common::{now_ms, output_text as text, run, temp_dir, wait_for, BIN};
use rust_decimal::Decimal;

const SPAN: i64 = 60_000;
/// 2024-01-01T00:00:00Z.
const JAN_1: i64 = 1_704_067_200_000;
const KLINES: &str = "/api/v3/klines";

/// `count` one-minute candles from `first_ms` on, a seeded walk with two
/// decimals (`shift` moves every price, for "other data").
fn candles(first_ms: i64, count: i64, shift: i64) -> Vec<SimCandle> {
    (0..count)
        .map(|i| {
            let cents = |x: i64| Decimal::new(x, 2);
            let open = 3_000_000 + shift + (i * 7919) % 5000;
            let close = 3_000_000 + shift + ((i + 1) * 7919) % 5000;
            SimCandle {
                open_time_ms: first_ms + i * SPAN,
                open: cents(open),
                high: cents(open.max(close) + 150),
                low: cents(open.min(close) - 120),
                close: cents(close),
                volume: Decimal::new(1 + (i * 31) % 997, 3),
            }
        })
        .collect()
}

fn sim(candles: Vec<SimCandle>) -> ExchangeSim {
    ExchangeSim::start(SimConfig {
        candles,
        ..SimConfig::default()
    })
    .expect("the simulator starts")
}

/// The CSV `download` must write for `candles`.
fn expected_csv(candles: &[SimCandle]) -> String {
    let f = |d: Decimal| d.to_string().parse::<f64>().expect("a number");
    let mut text = String::from("timestamp,open,high,low,close,volume\n");
    for c in candles {
        text.push_str(&format!(
            "{},{},{},{},{},{}\n",
            c.open_time_ms,
            f(c.open),
            f(c.high),
            f(c.low),
            f(c.close),
            f(c.volume)
        ));
    }
    text
}

fn args<'a>(sim_url: &'a str, out: &'a Path, from: &'a str, to: &'a str) -> Vec<String> {
    [
        "--set",
        &format!("exchange.rest_url={sim_url}"),
        "download",
        "--symbol",
        "BTCUSDT",
        "--interval",
        "1m",
        "--from",
        from,
        "--to",
        to,
        "--out",
        out.to_str().expect("utf-8 path"),
        "--no-progress",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn download(sim: &ExchangeSim, out: &Path, from: &str, to: &str) -> Output {
    let args = args(&sim.url(), out, from, to);
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn succeeded(output: &Output) -> String {
    let all = text(output);
    assert!(output.status.success(), "download failed: {all}");
    all
}

#[test]
fn a_download_pages_through_the_range_and_backtest_reads_it_back() {
    let dir = temp_dir("aegis-download");
    let series = candles(JAN_1, 2500, 0);
    let sim = sim(series.clone());
    let out = dir.path().join("btcusdt-1m.csv");
    // [2024-01-01, 2024-01-02T12:00) is 2160 candles: three pages.
    let report = succeeded(&download(&sim, &out, "2024-01-01", "2024-01-02T12:00:00Z"));
    assert!(
        report.contains("2160 new candles") && report.contains("no gaps"),
        "{report}"
    );
    let written = std::fs::read_to_string(&out).expect("the file");
    assert_eq!(written, expected_csv(&series[..2160]));
    assert_eq!(
        sim.requests(),
        1 + 3,
        "the time, then three pages of at most 1000"
    );

    let backtest = common::data::backtest(&out, &dir.path().join("report"), &[]);
    assert_eq!(backtest.candles, 2160);
    assert_eq!(backtest.rejected.values().sum::<u64>(), 0);

    // Run again: nothing is left to fetch and the file is unchanged.
    let again = succeeded(&download(&sim, &out, "2024-01-01", "2024-01-02T12:00:00Z"));
    assert!(again.contains("0 new candles"), "{again}");
    assert_eq!(std::fs::read_to_string(&out).expect("the file"), written);
}

#[test]
fn a_429_in_the_middle_is_waited_out_for_its_retry_after() {
    let dir = temp_dir("aegis-download");
    let series = candles(JAN_1, 3000, 0);
    let sim = sim(series.clone());
    sim.inject_at_after(KLINES, 1, Fault::RateLimited { retry_after_s: 2 }, 1);
    let out = dir.path().join("k.csv");
    let started = Instant::now();
    let report = succeeded(&download(&sim, &out, "2024-01-01", "2024-01-03"));
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the Retry-After was not kept"
    );
    assert!(
        report.contains("HTTP 429") && report.contains("2.0 s"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).expect("the file"),
        expected_csv(&series[..2880])
    );
    assert_eq!(sim.requests(), 1 + 3 + 1, "the refused page was sent again");
}

#[test]
fn timeouts_and_5xx_in_the_middle_are_retried() {
    let dir = temp_dir("aegis-download");
    let series = candles(JAN_1, 2100, 0);
    let sim = sim(series.clone());
    sim.inject_at_after(KLINES, 1, Fault::ServerErrorNotCarriedOut, 2);
    let out = dir.path().join("k.csv");
    let report = succeeded(&download(&sim, &out, "2024-01-01", "2024-01-02"));
    assert!(report.contains("retrying in"), "{report}");
    assert_eq!(
        std::fs::read_to_string(&out).expect("the file"),
        expected_csv(&series[..1440])
    );
    assert_eq!(sim.requests(), 1 + 2 + 2, "each failed page was sent again");
}

#[test]
fn a_killed_download_resumes_to_the_same_file_as_an_uninterrupted_one() {
    let dir = temp_dir("aegis-download");
    let series = candles(JAN_1, 6000, 0);
    let sim = sim(series.clone());
    let whole = dir.path().join("whole.csv");
    succeeded(&download(&sim, &whole, "2024-01-01", "2024-01-05"));

    let out = dir.path().join("k.csv");
    sim.inject_at(KLINES, Fault::Delay(Duration::from_millis(400)), 1000);
    let args = args(&sim.url(), &out, "2024-01-01", "2024-01-05");
    let mut child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the download");
    let rows = |p: &Path| std::fs::read_to_string(p).map_or(0, |t| t.lines().count());
    wait_for(Duration::from_secs(30), || {
        (rows(&out) > 2000).then_some(())
    })
    .expect("two pages written");
    child.kill().expect("killing the download");
    child.wait().expect("reaping it");
    let partial = rows(&out);
    assert!(partial < 5761, "the download finished before it was killed");
    // A write cut short by the kill leaves half a line.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&out)
        .expect("the partial file");
    file.write_all(b"1704999999999,42000.1")
        .expect("a torn line");
    drop(file);

    let report = succeeded(&download(&sim, &out, "2024-01-01", "2024-01-05"));
    assert!(report.contains("incomplete last line"), "{report}");
    assert_eq!(
        std::fs::read(&out).expect("the resumed file"),
        std::fs::read(&whole).expect("the whole file"),
        "resumed after {partial} lines"
    );
    assert_eq!(
        std::fs::read_to_string(&out).expect("the file"),
        expected_csv(&series[..5760])
    );
}

#[test]
fn a_gap_the_exchange_has_is_reported_with_its_range_and_not_filled() {
    let dir = temp_dir("aegis-download");
    let mut series = candles(JAN_1, 1500, 0);
    // Maintenance: 30 minutes from 2024-01-01T10:00 missing (across no page edge).
    series.drain(600..630);
    let sim = sim(series.clone());
    let out = dir.path().join("k.csv");
    let report = succeeded(&download(&sim, &out, "2024-01-01", "2024-01-02"));
    assert!(
        report.contains("1 gaps the exchange has (30 candles missing")
            && report.contains("2024-01-01T10:00:00Z .. 2024-01-01T10:30:00Z (30 candles)"),
        "{report}"
    );
    assert_eq!(
        std::fs::read_to_string(&out).expect("the file"),
        expected_csv(&series[..1410])
    );
}

#[test]
fn the_candle_still_open_on_the_exchange_is_never_written() {
    let dir = temp_dir("aegis-download");
    let now = now_ms();
    let current = now - now.rem_euclid(SPAN);
    // 1200 candles, the last one opened this minute and still open.
    let series = candles(current - 1199 * SPAN, 1200, 0);
    let sim = sim(series.clone());
    let out = dir.path().join("k.csv");
    let from = (current - 1199 * SPAN).to_string();
    let to = (current + 10 * SPAN).to_string();
    succeeded(&download(&sim, &out, &from, &to));
    let written = std::fs::read_to_string(&out).expect("the file");
    // Unless the minute turned meanwhile, the last candle is not there.
    let expected_closed = if now_ms() - now_ms().rem_euclid(SPAN) == current {
        1199
    } else {
        1200
    };
    assert!(
        written == expected_csv(&series[..1199])
            || (expected_closed == 1200 && written == expected_csv(&series)),
        "{} rows",
        written.lines().count()
    );
    assert!(!written.contains(&format!("\n{current},")) || expected_closed == 1200);
}

#[test]
fn a_418_stops_the_download_with_a_clear_error_and_keeps_what_it_has() {
    let dir = temp_dir("aegis-download");
    let series = candles(JAN_1, 3000, 0);
    let sim = sim(series.clone());
    sim.inject_at_after(KLINES, 1, Fault::Banned { retry_after_s: 120 }, 1);
    let out = dir.path().join("k.csv");
    let output = download(&sim, &out, "2024-01-01", "2024-01-03");
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("HTTP 418") && all.contains("download stopped") && all.contains("120 s"),
        "{all}"
    );
    assert_eq!(sim.requests(), 1 + 2, "nothing sent after the ban");
    assert_eq!(
        std::fs::read_to_string(&out).expect("the file"),
        expected_csv(&series[..1000]),
        "the first page is kept to resume from"
    );
}

#[test]
fn a_file_of_other_data_is_refused_and_left_alone() {
    let dir = temp_dir("aegis-download");
    let sim = sim(candles(JAN_1, 2000, 0));
    let out = dir.path().join("k.csv");
    succeeded(&download(&sim, &out, "2024-01-01", "2024-01-01T12:00:00Z"));
    let before = std::fs::read(&out).expect("the file");
    // The same times, other prices: another symbol's history.
    sim.set_candles(candles(JAN_1, 2000, 90_000));
    let output = download(&sim, &out, "2024-01-01", "2024-01-02");
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("is not BTCUSDT 1m's candle") && all.contains("not resuming"),
        "{all}"
    );
    assert_eq!(std::fs::read(&out).expect("the file"), before);

    // Rows of another interval (5 minutes apart) are refused before any request.
    let five = dir.path().join("5m.csv");
    std::fs::write(
        &five,
        "timestamp,open,high,low,close,volume\n1704067200000,1,2,0.5,1,1\n1704067500000,1,2,0.5,1,1\n1704067530000,1,2,0.5,1,1\n",
    )
    .expect("writing");
    let output = download(&sim, &five, "2024-01-01", "2024-01-02");
    let all = text(&output);
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert!(
        all.contains("line 4") && all.contains("not a multiple"),
        "{all}"
    );
}

#[test]
fn impossible_arguments_exit_2_naming_the_argument() {
    let dir = temp_dir("aegis-download");
    let out = dir.path().join("k.csv");
    let url = "http://127.0.0.1:9";
    for (from, to, interval, named) in [
        ("2024-03-01", "2024-01-01", "1m", "--from"),
        ("2024-01-01", "2024-01-01", "1m", "--from"),
        ("2024-01-01", "2024-03-01", "7m", "--interval"),
        ("yesterday", "2024-03-01", "1m", "--from"),
        ("2024-01-01", "2024-02-30", "1m", "--to"),
    ] {
        let mut a = args(url, &out, from, to);
        a[6] = interval.to_string();
        let output = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
        let all = text(&output);
        assert_eq!(output.status.code(), Some(2), "{all}");
        assert!(all.contains(named), "{named}: {all}");
        assert!(!out.exists(), "nothing written");
    }
}
