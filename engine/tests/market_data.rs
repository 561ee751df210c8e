//! Tests of the feed's market-data modules: every rejection reason from a
//! crafted CSV, exact counts on a mixed file, chunk boundaries against a naive
//! parse, fatal errors, and the determinism and validity of the GBM source.
//!
//! Kept as one file: the CSV and GBM tests share the file and row builders; a
//! file under tests/ is a test binary, linked once.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::Path;

use aegis_contract::records::Candle;
use aegis_engine::market::csv::{CsvReplay, Row, RowError, HEADER};
use aegis_engine::market::simulated::{MAX_PRICE, MIN_PRICE};
use aegis_engine::market::{
    CandleValidator, CsvError, GbmParams, GbmSource, ParamError, Rejection,
};
use proptest::prelude::*;

const GOOD: &str = "1700000000000,10,11,9,10.5,3";

/// Every item of a validated replay of `text`, split into good rows and errors.
fn replay(text: &str) -> (Vec<Row>, Vec<RowError>) {
    collect(CsvReplay::new(text.as_bytes()).expect("header accepted"))
}

fn collect<R: Read>(replay: CsvReplay<R>) -> (Vec<Row>, Vec<RowError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for item in replay.validated() {
        match item.expect("no I/O error") {
            Ok(row) => good.push(row),
            Err(e) => bad.push(e),
        }
    }
    (good, bad)
}

fn reasons(errors: &[RowError]) -> Vec<(u64, Rejection)> {
    errors.iter().map(|e| (e.line, e.reason)).collect()
}

fn candle(ts_ms: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Candle {
    Candle {
        seq: 0,
        ts_ms,
        open,
        high,
        low,
        close,
        volume,
        ingest_ns: 0,
    }
}

#[test]
fn each_bad_row_is_refused_with_its_reason() {
    use Rejection::*;
    // (case, data line placed at file line 3 after the header and GOOD)
    let cases: &[(&str, &str, Rejection)] = &[
        ("NaN price", "1700000060000,NaN,11,9,10.5,3", NotFinite),
        ("inf high", "1700000060000,10,inf,9,10.5,3", NotFinite),
        ("-inf volume", "1700000060000,10,11,9,10.5,-inf", NotFinite),
        (
            "overflowing number",
            "1700000060000,10,1e400,9,10.5,3",
            NotFinite,
        ),
        ("-1 open", "1700000060000,-1,11,9,10.5,3", NonPositivePrice),
        ("zero low", "1700000060000,10,11,0,10.5,3", NonPositivePrice),
        (
            "negative volume",
            "1700000060000,10,11,9,10.5,-0.1",
            NegativeVolume,
        ),
        ("high < low", "1700000060000,10,8,9,10,3", HighBelowLow),
        (
            "low above body",
            "1700000060000,10,11,10.2,10.5,3",
            LowAboveBody,
        ),
        (
            "high below body",
            "1700000060000,10,10.4,9,10.5,3",
            HighBelowBody,
        ),
        ("duplicate ts", GOOD, DuplicateTimestamp),
        (
            "out-of-order ts",
            "1699999940000,10,11,9,10.5,3",
            OutOfOrderTimestamp,
        ),
        ("non-numeric", "1700000060000,10,abc,9,10.5,3", NonNumeric),
        ("empty field", "1700000060000,10,,9,10.5,3", NonNumeric),
        ("two dots", "1700000060000,10,11.0.1,9,10.5,3", NonNumeric),
        ("word timestamp", "yesterday,10,11,9,10.5,3", BadTimestamp),
        (
            "fractional epoch",
            "1700000060000.5,10,11,9,10.5,3",
            BadTimestamp,
        ),
        (
            "epoch beyond i64",
            "99999999999999999999,10,11,9,10.5,3",
            BadTimestamp,
        ),
        (
            "date without time",
            "2024-01-01,10,11,9,10.5,3",
            BadTimestamp,
        ),
        ("truncated", "1700000060000,10,11,9,10.5", Truncated),
        ("one field", "1700000060000", Truncated),
        ("extra field", "1700000060000,10,11,9,10.5,3,7", ExtraFields),
        (
            "trailing comma",
            "1700000060000,10,11,9,10.5,3,",
            ExtraFields,
        ),
        // Precedence: shape before timestamp before numbers before values.
        ("truncated + bad ts", "nope,10,11", Truncated),
        ("bad ts + non-numeric", "nope,x,11,9,10.5,3", BadTimestamp),
        (
            "NaN + negative volume",
            "1700000060000,NaN,11,9,10.5,-1",
            NotFinite,
        ),
        (
            "non-positive + high < low",
            "1700000060000,-1,8,9,10,3",
            NonPositivePrice,
        ),
        (
            "negative volume + high < low",
            "1700000060000,10,8,9,10,-3",
            NegativeVolume,
        ),
        (
            "high < low + low above body",
            "1700000060000,10,9,9.5,10,3",
            HighBelowLow,
        ),
        (
            "bad values + duplicate ts",
            "1700000000000,10,8,9,10,3",
            HighBelowLow,
        ),
    ];
    for &(case, line, reason) in cases {
        let text = format!("{HEADER}\n{GOOD}\n{line}\n1700000120000,10,11,9,10.5,3\n");
        let (good, bad) = replay(&text);
        assert_eq!(reasons(&bad), [(3, reason)], "{case}");
        assert_eq!(bad[0].text, line, "{case}");
        let lines: Vec<u64> = good.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 4], "{case}: the rows around it are kept");
    }
}

#[test]
fn labels_are_stable_unique_snake_case() {
    let labels: Vec<&str> = Rejection::ALL.iter().map(|r| r.label()).collect();
    let mut unique = labels.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), labels.len());
    for label in &labels {
        assert!(
            label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{label}"
        );
    }
    assert_eq!(Rejection::NotFinite.label(), "not_finite");
    assert_eq!(
        Rejection::OutOfOrderTimestamp.label(),
        "out_of_order_timestamp"
    );
    assert_eq!(Rejection::MissingHeader.to_string(), "missing_header");
}

#[test]
fn a_rejection_leaves_the_validator_untouched() {
    let mut v = CandleValidator::new();
    assert_eq!(v.last_ts_ms(), None);
    assert_eq!(v.check(&candle(100, 10.0, 11.0, 9.0, 10.0, 1.0)), Ok(()));
    assert_eq!(v.last_ts_ms(), Some(100));
    // A bad candle with a later timestamp does not move the clock...
    let bad = candle(300, 10.0, 11.0, 9.0, 10.0, -1.0);
    assert_eq!(v.check(&bad), Err(Rejection::NegativeVolume));
    assert_eq!(v.last_ts_ms(), Some(100));
    // ...so a good candle at 200 is still in order, and repeats are duplicates.
    let good = candle(200, 10.0, 11.0, 9.0, 10.0, 0.0);
    assert_eq!(v.check(&good), Ok(()));
    assert_eq!(v.check(&good), Err(Rejection::DuplicateTimestamp));
    assert_eq!(v.last_ts_ms(), Some(200));

    let mut resumed = CandleValidator::resume_after(200);
    assert_eq!(resumed.check(&good), Err(Rejection::DuplicateTimestamp));
    assert_eq!(
        resumed.check(&candle(150, 10.0, 11.0, 9.0, 10.0, 1.0)),
        Err(Rejection::OutOfOrderTimestamp)
    );
    assert_eq!(
        resumed.check(&candle(201, 10.0, 10.0, 10.0, 10.0, 1.0)),
        Ok(())
    );
}

#[test]
fn a_file_without_header_reports_it_once_and_keeps_the_data() {
    for first in [
        GOOD,
        "2023-11-14T22:13:20Z,10,11,9,10.5,3",
        "1.7e12,10,11,9,10.5,3",
    ] {
        let text = format!("{first}\n1700000060000,10,11,9,10.5,3\n");
        let (good, bad) = replay(&text);
        assert_eq!(reasons(&bad)[0], (1, Rejection::MissingHeader), "{first}");
        assert_eq!(bad[0].text, first);
        let lines: Vec<u64> = good.iter().map(|r| r.line).collect();
        if first.starts_with("1.7e12") {
            // It looks like data but its timestamp is not an integer.
            assert_eq!(
                reasons(&bad),
                [(1, Rejection::MissingHeader), (1, Rejection::BadTimestamp)]
            );
            assert_eq!(lines, [2]);
        } else {
            assert_eq!(bad.len(), 1, "{first}");
            assert_eq!(lines, [1, 2], "{first}");
            assert_eq!(good[0].candle.ts_ms, 1_700_000_000_000);
        }
    }
    // Without a trailing newline, the single data line is still parsed.
    let (good, bad) = replay(GOOD);
    assert_eq!(reasons(&bad), [(1, Rejection::MissingHeader)]);
    assert_eq!(good.len(), 1);
}

#[test]
fn another_header_is_fatal_and_named() {
    for first in [
        "time,open,high,low,close,volume",
        "timestamp,open,high,low,close",
        "hello",
    ] {
        let text = format!("{first}\n{GOOD}\n");
        match CsvReplay::new(text.as_bytes()) {
            Err(err @ CsvError::BadHeader { .. }) => {
                let message = err.to_string();
                assert!(message.contains(first), "{message}");
                assert!(message.contains("<reader>"), "{message}");
            }
            Err(other) => panic!("{first}: unexpected {other}"),
            Ok(_) => panic!("{first}: accepted"),
        }
    }
}

#[test]
fn the_header_is_case_insensitive_and_tolerates_spaces_bom_and_crlf() {
    for header in [
        "TIMESTAMP,Open,High,Low,Close,Volume",
        " timestamp , open,high,low,close,volume ",
        "\u{feff}timestamp,open,high,low,close,volume",
        "timestamp,open,high,low,close,volume\r",
    ] {
        let (good, bad) = replay(&format!("\n{header}\n{GOOD}\n"));
        assert!(bad.is_empty(), "{header:?}: {bad:?}");
        assert_eq!(good.len(), 1, "{header:?}");
        assert_eq!(good[0].line, 3, "{header:?}");
    }
}

#[test]
fn an_empty_file_yields_nothing() {
    for text in ["", "   ", "\n\n", " \t\r\n\n  \n"] {
        let mut r = CsvReplay::new(text.as_bytes()).expect("empty is fine");
        assert!(r.is_empty_file(), "{text:?}");
        assert!(r.next_row().expect("no I/O error").is_none(), "{text:?}");
    }
    let text = format!("{HEADER}\n");
    let header_only = CsvReplay::new(text.as_bytes()).expect("header");
    assert!(!header_only.is_empty_file());
    assert_eq!(header_only.count(), 0);
}

#[test]
fn crlf_blank_lines_and_rfc3339_are_read() {
    let text = format!(
        "{HEADER}\r\n\r\n{GOOD}\r\n   \r\n\n\
         2023-11-14T23:14:20+01:00,10,11,9,10.5,3\r\n\
         2023-11-14T22:15:20.250Z,10,11,9,10.5,3\r\n\
         2023-11-14T22:16:20.9999-00:00, 10 ,11,9,10.5,3\n\
         1700000300000,10,11,9,10.5,oops\r\n"
    );
    let (good, bad) = replay(&text);
    let got: Vec<(u64, i64)> = good.iter().map(|r| (r.line, r.candle.ts_ms)).collect();
    assert_eq!(
        got,
        [
            (3, 1_700_000_000_000),
            (6, 1_700_000_060_000),
            (7, 1_700_000_120_250),
            (8, 1_700_000_180_999),
        ]
    );
    assert_eq!(reasons(&bad), [(9, Rejection::NonNumeric)]);
    assert_eq!(
        bad[0].text, "1700000300000,10,11,9,10.5,oops",
        "no \\r in the text"
    );
}

#[test]
fn a_last_line_without_newline_is_kept_when_complete() {
    let complete = format!("{HEADER}\n{GOOD}\n1700000060000,10,11,9,10.5,3");
    let (good, bad) = replay(&complete);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(good.len(), 2);
    assert_eq!(
        good[1].candle,
        candle(1_700_000_060_000, 10.0, 11.0, 9.0, 10.5, 3.0)
    );

    for partial in ["1700000060000,10,11", "1700000060000,10,11,9,10.5,"] {
        let (good, bad) = replay(&format!("{HEADER}\n{GOOD}\n{partial}"));
        assert_eq!(reasons(&bad), [(3, Rejection::Truncated)], "{partial}");
        assert_eq!(good.len(), 1);
    }
}

#[test]
fn error_text_is_cut_to_120_characters() {
    let long = format!("{GOOD},{}", "é".repeat(300));
    let (_, bad) = replay(&format!("{HEADER}\n{long}\n"));
    assert_eq!(reasons(&bad), [(2, Rejection::ExtraFields)]);
    assert_eq!(bad[0].text.chars().count(), 120);
    assert!(long.starts_with(&bad[0].text));
}

/// One line of every kind, in one file: exact counts and exactly the good
/// candles, in order.
#[test]
fn a_mixed_file_gives_exact_counts_and_the_good_candles_in_order() {
    use Rejection::*;
    let lines = [
        ("1700000000000,10,11,9,10.5,3", None),
        ("1700000060000,NaN,11,9,10.5,3", Some(NotFinite)),
        ("", None),
        ("1700000060000,10,inf,9,10.5,3", Some(NotFinite)),
        ("1700000060000,10.5,12,10,11.5,4", None),
        ("1700000120000,-1,11,9,10.5,3", Some(NonPositivePrice)),
        ("1700000120000,10,11,9,10.5,-2", Some(NegativeVolume)),
        ("1700000120000,10,8,9,10,3", Some(HighBelowLow)),
        ("1700000120000,10,11,10.2,10.5,3", Some(LowAboveBody)),
        ("1700000120000,10,10.4,9,10.5,3", Some(HighBelowBody)),
        ("1700000060000,10,11,9,10.5,3", Some(DuplicateTimestamp)),
        ("1700000000000,10,11,9,10.5,3", Some(OutOfOrderTimestamp)),
        ("2023-11-14T22:15:20Z,11.5,11.5,11.5,11.5,0", None),
        ("1700000180000,ten,11,9,10.5,3", Some(NonNumeric)),
        ("tomorrow,10,11,9,10.5,3", Some(BadTimestamp)),
        ("1700000180000,10,11,9", Some(Truncated)),
        ("1700000180000,10,11,9,10.5,3,3", Some(ExtraFields)),
        ("   ", None),
        ("1700000180000,1e1,1.1e1,9,10.5,1E-2", None),
    ];
    let mut text = String::from("1699999940000,10,11,9,10.5,3\n"); // no header
    for (line, _) in lines {
        text.push_str(line);
        text.push_str("\r\n");
    }
    let (good, bad) = replay(&text);

    let mut expected_counts: BTreeMap<Rejection, usize> = BTreeMap::new();
    expected_counts.insert(MissingHeader, 1);
    for reason in lines.iter().filter_map(|(_, r)| *r) {
        *expected_counts.entry(reason).or_default() += 1;
    }
    let mut counts: BTreeMap<Rejection, usize> = BTreeMap::new();
    for e in &bad {
        *counts.entry(e.reason).or_default() += 1;
    }
    assert_eq!(counts, expected_counts);
    assert_eq!(bad.len(), 14);
    assert_eq!(counts.len(), Rejection::ALL.len(), "every reason occurs");

    let expected_good = [
        (1, candle(1_699_999_940_000, 10.0, 11.0, 9.0, 10.5, 3.0)),
        (2, candle(1_700_000_000_000, 10.0, 11.0, 9.0, 10.5, 3.0)),
        (6, candle(1_700_000_060_000, 10.5, 12.0, 10.0, 11.5, 4.0)),
        (14, candle(1_700_000_120_000, 11.5, 11.5, 11.5, 11.5, 0.0)),
        (20, candle(1_700_000_180_000, 10.0, 11.0, 9.0, 10.5, 0.01)),
    ];
    let got: Vec<(u64, Candle)> = good.iter().map(|r| (r.line, r.candle)).collect();
    assert_eq!(got, expected_good);
}

/// Rows in many shapes, some straddling every chunk boundary.
fn varied_rows(n: usize) -> (String, Vec<(u64, Candle)>) {
    let mut text = format!("{HEADER}\n");
    let mut expected = Vec::new();
    let mut line = 1u64;
    for i in 0..n {
        let ts = 1_700_000_000_000 + i as i64 * 60_000;
        let open = 100.0 + (i % 97) as f64 * 0.37;
        let close = 100.0 + (i % 89) as f64 * 0.41;
        let high = open.max(close) + (i % 7) as f64;
        let low = open.min(close) - (i % 5) as f64 * 0.1;
        let volume = (i % 13) as f64 * 1.25;
        let row = match i % 6 {
            0 => format!("{ts},{open},{high},{low},{close},{volume}\n"),
            1 => format!("{ts},{open:e},{high:.20},{low},{close},{volume}\r\n"),
            2 => {
                let secs = ts / 1000;
                let t = chrono::DateTime::from_timestamp(secs, 0).expect("in range");
                format!("{},{open},{high},{low},{close},{volume}\n", t.to_rfc3339())
            }
            3 => format!("{ts}, {open} ,{high},{low},{close},{volume:.3}\n\n"),
            4 => format!("{ts},{open},{high},{low},{close},{}\n", "1".repeat(25)),
            _ => format!("+{ts},{open},{high},{low},{close},-0\n"),
        };
        text.push_str(&row);
        line += 1;
        let fields: Vec<&str> = row.trim_end().split(',').collect();
        let num = |k: usize| fields[k].trim().parse::<f64>().expect("number");
        expected.push((line, candle(ts, num(1), num(2), num(3), num(4), num(5))));
        line += row.matches('\n').count() as u64 - 1;
    }
    (text, expected)
}

#[test]
fn chunk_boundaries_do_not_change_the_rows() {
    let (text, expected) = varied_rows(40_000);
    assert!(text.len() > 2 << 20, "bigger than the default chunk");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("varied.csv");
    std::fs::write(&path, &text).expect("write");

    let file = open(&path).expect("open");
    let (good, bad) = collect(file);
    assert!(bad.is_empty(), "{:?}", &bad[..bad.len().min(3)]);
    let got: Vec<(u64, Candle)> = good.iter().map(|r| (r.line, r.candle)).collect();
    assert_eq!(got.len(), expected.len());
    assert!(
        got == expected,
        "default chunk differs from the naive parse"
    );

    for chunk in [128, 131, 1000] {
        let r =
            CsvReplay::with_chunk_size(text.as_bytes(), Path::new("mem"), chunk).expect("header");
        let (good, bad) = collect(r);
        assert!(
            bad.is_empty(),
            "chunk {chunk}: {:?}",
            &bad[..bad.len().min(3)]
        );
        let got: Vec<(u64, Candle)> = good.iter().map(|r| (r.line, r.candle)).collect();
        assert!(
            got == expected,
            "chunk {chunk} differs from the naive parse"
        );
    }

    let mut r = open(&path).expect("open");
    while r.next_row().expect("read").is_some() {}
    assert_eq!(r.bytes_read(), text.len() as u64);
}

#[test]
fn a_line_longer_than_the_chunk_is_refused_and_skipped() {
    let long_number = "1".repeat(300);
    let lines = [
        (
            format!("1700000060000,10,11,9,10.5,{long_number}"),
            Rejection::NonNumeric,
        ),
        (
            format!("{long_number},10,11,9,10.5,3"),
            Rejection::BadTimestamp,
        ),
        (
            format!("1700000060000,10,11,{long_number}"),
            Rejection::Truncated,
        ),
        (
            format!("1700000060000,10,11,9,10.5,3,{long_number},1"),
            Rejection::ExtraFields,
        ),
    ];
    for (line, reason) in &lines {
        let text = format!("{HEADER}\n{GOOD}\n{line}\n1700000120000,10,11,9,10.5,3\n");
        let r = CsvReplay::with_chunk_size(text.as_bytes(), Path::new("mem"), 128).expect("header");
        let (good, bad) = collect(r);
        assert_eq!(reasons(&bad), [(3, *reason)]);
        assert_eq!(bad[0].text.len(), 120);
        assert_eq!(good.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4]);
    }
}

/// Every item of a validated replay of `bytes` read `chunk` bytes at a time,
/// or the fatal error's message.
fn items_with_chunk(bytes: &[u8], chunk: usize) -> Result<Vec<Result<Row, RowError>>, String> {
    let replay =
        CsvReplay::with_chunk_size(bytes, Path::new("mem"), chunk).map_err(|e| e.to_string())?;
    replay
        .validated()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

fn csv_line() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("1700000000000"),
        Just("1700000060000"),
        Just("2023-11-14T22:14:20+00:00"),
        Just("10"),
        Just("10.5"),
        Just("-1"),
        Just("9"),
        Just("11"),
        Just("NaN"),
        Just("1e3"),
        Just(""),
        Just(" 7 "),
        Just("abc"),
        Just("timestamp"),
    ];
    (
        prop::collection::vec(field, 0..8),
        prop_oneof![Just("\n"), Just("\r\n")],
    )
        .prop_map(|(fields, end)| format!("{}{end}", fields.join(",")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Lines (at most 183 bytes) of plausible and broken fields give the
    /// same items whatever the chunk size, so chunk boundaries never change a
    /// row.
    #[test]
    fn items_do_not_depend_on_the_chunk_size(
        lines in prop::collection::vec(csv_line(), 0..60),
        header in any::<bool>(),
        unterminated_end in any::<bool>(),
    ) {
        let mut text = if header { format!("{HEADER}\n") } else { String::new() };
        text.extend(lines);
        if unterminated_end {
            text.truncate(text.trim_end_matches(['\r', '\n']).len());
        }
        let reference = items_with_chunk(text.as_bytes(), 1 << 20);
        for chunk in [184, 185, 256] {
            prop_assert_eq!(&items_with_chunk(text.as_bytes(), chunk), &reference, "chunk {}", chunk);
        }
    }

    /// Arbitrary bytes never panic the parser.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(prop_oneof![
        Just(b'\n'), Just(b'\r'), Just(b','), Just(b'.'), Just(b'-'), Just(b'e'), Just(b'T'),
        Just(b':'), Just(b'Z'), Just(b' '), b'0'..=b'9', any::<u8>(),
    ], 0..2000)) {
        let _ = items_with_chunk(&bytes, 128);
        let _ = items_with_chunk(&bytes, 1 << 20);
    }
}

/// Serves `good` bytes, then fails.
struct FailingReader {
    good: io::Cursor<Vec<u8>>,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.good.read(buf)? {
            0 => Err(io::Error::other("disk on fire")),
            n => Ok(n),
        }
    }
}

#[test]
fn io_errors_are_fatal_and_name_the_reader() {
    let text = format!("{HEADER}\n{GOOD}\n1700000060000,1");
    let reader = FailingReader {
        good: io::Cursor::new(text.into_bytes()),
    };
    let items: Vec<_> = CsvReplay::new(reader).expect("header").collect();
    assert_eq!(items.len(), 2, "one row, then the error, then nothing");
    assert!(matches!(items[0], Ok(Ok(Row { line: 2, .. }))));
    match &items[1] {
        Err(e @ CsvError::Io { .. }) => assert!(e.to_string().contains("disk on fire"), "{e}"),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn a_replay_file_on_disk_reads_like_a_reader() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("small.csv");
    let mut f = std::fs::File::create(&path).expect("create");
    write!(f, "{HEADER}\n{GOOD}\n1700000000000,10,11,9,10.5,3\n").expect("write");
    drop(f);
    let (good, bad) = collect(open(&path).expect("open"));
    assert_eq!(good.len(), 1);
    assert_eq!(reasons(&bad), [(3, Rejection::DuplicateTimestamp)]);
}

// ----- GBM source -----

fn series(params: GbmParams, n: usize) -> Vec<Candle> {
    let mut source = GbmSource::new(params).expect("valid params");
    (0..n).map(|_| source.next_candle()).collect()
}

#[test]
fn gbm_is_deterministic_for_a_seed_and_differs_across_seeds() {
    let a = series(GbmParams::default(), 1000);
    let b = series(GbmParams::default(), 1000);
    assert_eq!(a, b);
    let c = series(
        GbmParams {
            seed: 43,
            ..GbmParams::default()
        },
        1000,
    );
    let differing = a.iter().zip(&c).filter(|(x, y)| x.close != y.close).count();
    assert!(differing > 990, "only {differing} closes differ");

    let p = GbmParams::default();
    assert_eq!(a[0].open, p.start_price);
    assert_eq!(a[0].ts_ms, 1_704_067_200_000);
    for (k, pair) in a.windows(2).enumerate() {
        assert_eq!(pair[1].open, pair[0].close, "candle {k}");
        assert_eq!(pair[1].ts_ms, pair[0].ts_ms + 1000);
    }
}

#[test]
fn gbm_resumes_the_same_series_after_the_last_candle() {
    for steps in [1, 2, 15, 16] {
        let params = GbmParams {
            steps_per_candle: steps,
            seed: 7,
            ..GbmParams::default()
        };
        let full = series(params.clone(), 300);
        for cut in [1, 2, 137, 299] {
            let mut resumed =
                GbmSource::resume_after(params.clone(), &full[cut - 1]).expect("on grid");
            assert_eq!(resumed.next_index(), cut as u64);
            let rest: Vec<Candle> = (cut..300).map(|_| resumed.next_candle()).collect();
            assert!(rest == full[cut..], "steps {steps}, cut {cut}");
        }
    }
    let params = GbmParams::default();
    let first = series(params.clone(), 1)[0];
    let off_grid = Candle {
        ts_ms: first.ts_ms + 1,
        ..first
    };
    let err = GbmSource::resume_after(params.clone(), &off_grid).expect_err("off grid");
    assert!(matches!(err, ParamError::ResumeOffGrid { .. }), "{err}");
    let before = Candle {
        ts_ms: first.ts_ms - 1000,
        ..first
    };
    assert!(GbmSource::resume_after(params.clone(), &before).is_err());
    let nan_close = Candle {
        close: f64::NAN,
        ..first
    };
    let err = GbmSource::resume_after(params, &nan_close).expect_err("bad close");
    assert!(err.to_string().contains("close NaN"), "{err}");
}

#[test]
fn gbm_param_errors_name_the_field() {
    let d = GbmParams::default;
    let cases = [
        (
            GbmParams {
                start_price: 0.0,
                ..d()
            },
            "start_price",
        ),
        (
            GbmParams {
                start_price: -5.0,
                ..d()
            },
            "start_price",
        ),
        (
            GbmParams {
                start_price: f64::NAN,
                ..d()
            },
            "start_price",
        ),
        (
            GbmParams {
                start_price: f64::INFINITY,
                ..d()
            },
            "start_price",
        ),
        (
            GbmParams {
                drift: f64::NAN,
                ..d()
            },
            "drift",
        ),
        (
            GbmParams {
                volatility: -0.1,
                ..d()
            },
            "volatility",
        ),
        (
            GbmParams {
                volatility: f64::INFINITY,
                ..d()
            },
            "volatility",
        ),
        (
            GbmParams {
                volatility: f64::NAN,
                ..d()
            },
            "volatility",
        ),
        (
            GbmParams {
                interval_ms: 0,
                ..d()
            },
            "interval_ms",
        ),
        (
            GbmParams {
                steps_per_candle: 0,
                ..d()
            },
            "steps_per_candle",
        ),
    ];
    for (params, field) in cases {
        let err = GbmSource::new(params.clone()).expect_err("invalid");
        assert!(
            matches!(&err, ParamError::Invalid { field: f, .. } if *f == field),
            "{err}"
        );
        assert!(err.to_string().contains(&format!("`{field}`")), "{err}");
    }
    assert_eq!(d().validate(), Ok(()));
    assert!(GbmSource::new(GbmParams {
        volatility: 0.0,
        ..d()
    })
    .is_ok());
}

#[test]
fn gbm_returns_have_the_requested_volatility() {
    // 1-minute candles, 40 % annualised: per-candle log returns have standard
    // deviation 0.4 · sqrt(60 000 ms / year).
    let params = GbmParams {
        volatility: 0.4,
        interval_ms: 60_000,
        ..GbmParams::default()
    };
    let candles = series(params, 20_000);
    let returns: Vec<f64> = candles.iter().map(|c| (c.close / c.open).ln()).collect();
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let sd = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n).sqrt();
    let expected = 0.4 * (60_000.0 / (365.25 * 86_400_000.0_f64)).sqrt();
    assert!((sd / expected - 1.0).abs() < 0.03, "sd {sd} vs {expected}");
    assert!(mean.abs() < 4.0 * expected / n.sqrt(), "mean {mean}");

    let flat = series(
        GbmParams {
            volatility: 0.0,
            ..GbmParams::default()
        },
        10,
    );
    assert!(flat
        .iter()
        .all(|c| c.high == 100.0 && c.low == 100.0 && c.close == 100.0));
}

#[test]
fn gbm_prices_stay_finite_and_positive_with_extreme_volatility() {
    let year_ms = 366 * 86_400_000;
    let extreme = |drift, volatility| GbmParams {
        drift,
        volatility,
        interval_ms: year_ms,
        steps_per_candle: 3,
        ..GbmParams::default()
    };
    // Crashing to the floor, exploding to the ceiling, and a driftless walk in
    // log space (drift = volatility² / 2) that wanders between the two.
    for (drift, volatility, floor, ceiling) in [
        (-1000.0, 1000.0, true, false),
        (1000.0, 0.0, false, true),
        (968.0, 44.0, true, true),
    ] {
        let candles = series(extreme(drift, volatility), 5000);
        let mut v = CandleValidator::new();
        for c in &candles {
            assert_eq!(v.check(c), Ok(()), "{c:?}");
            assert!(c.low >= MIN_PRICE && c.high <= MAX_PRICE, "{c:?}");
        }
        let case = format!("drift {drift}, volatility {volatility}");
        assert_eq!(
            candles.iter().any(|c| c.low == MIN_PRICE),
            floor,
            "{case}: floor"
        );
        assert_eq!(
            candles.iter().any(|c| c.high == MAX_PRICE),
            ceiling,
            "{case}: ceiling"
        );
    }
}

fn gbm_params() -> impl Strategy<Value = GbmParams> {
    (
        any::<u64>(),
        prop_oneof![1e-6..1e6, Just(MIN_PRICE), Just(MAX_PRICE)],
        -5.0..5.0f64,
        prop_oneof![0.0..3.0f64, Just(1000.0)],
        prop_oneof![1u64..100_000, Just(86_400_000u64)],
        -10_000_000_000_000i64..10_000_000_000_000,
        1u32..32,
    )
        .prop_map(
            |(seed, start_price, drift, volatility, interval_ms, start_ts_ms, steps_per_candle)| {
                GbmParams {
                    seed,
                    start_price,
                    drift,
                    volatility,
                    interval_ms,
                    start_ts_ms,
                    steps_per_candle,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_gbm_candle_passes_the_validator(params in gbm_params()) {
        let mut source = GbmSource::new(params.clone()).expect("valid params");
        let mut v = CandleValidator::new();
        for k in 0..1000i64 {
            let c = source.next_candle();
            prop_assert_eq!(v.check(&c), Ok(()), "candle {} of {:?}: {:?}", k, params, c);
            prop_assert!(c.volume > 0.0 && c.volume.is_finite());
            prop_assert_eq!(c.ts_ms, params.start_ts_ms + k * params.interval_ms as i64);
        }
    }
}

/// A replay of the file at `path`, opened the way the worker opens one.
fn open(path: &Path) -> Result<CsvReplay<std::fs::File>, CsvError> {
    let file = std::fs::File::open(path).expect("the test's file exists");
    CsvReplay::with_chunk_size(file, path, aegis_engine::market::csv::DEFAULT_CHUNK_SIZE)
}
