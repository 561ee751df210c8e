//! The ledger file: round trips, torn-write repair, refusal of corruption,
//! durability across reopen, and the duplicate-order check.

use std::fs;
use std::str::FromStr;

use aegis_engine::ledger::{duplicate_orders, Entry, HaltKind};
use aegis_engine::trading::Side;
use aegis_worker::store::{Ledger, LedgerError, Repair};
use rust_decimal::Decimal;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("bad test decimal {s}: {e}"))
}

fn every_kind() -> Vec<Entry> {
    vec![
        Entry::Mark {
            signal_seq: 1,
            ts_ms: 1_700_000_000_000,
            peak_equity: d("10000"),
            day_start_equity: d("10000"),
        },
        Entry::Order {
            signal_seq: 1,
            ts_ms: 1_700_000_000_000,
            side: Side::Buy,
            qty: d("0.23105"),
            target: 1,
            reason: None,
            exit: None,
            limit: None,
            ttl_bars: None,
            atr: None,
        },
        Entry::Fill {
            signal_seq: 1,
            ts_ms: 1_700_000_060_000,
            side: Side::Buy,
            qty: d("0.23105"),
            price: d("43250.12"),
            fee: d("9.99293022600"),
            cash_after: d("0.1"),
            position_after: d("0.23105"),
            realized_pnl_after: d("-0.000000000000000000000000001"),
        },
        Entry::Rejected {
            signal_seq: 2,
            ts_ms: 1_700_000_060_000,
            target: -1,
            reason: "kill switch: \"quoted\"\nnewline".to_string(),
        },
        Entry::Order {
            signal_seq: 3,
            ts_ms: 1_700_000_120_000,
            side: Side::Sell,
            qty: d("1"),
            target: 0,
            reason: Some("flatten".to_string()),
            exit: None,
            limit: None,
            ttl_bars: None,
            atr: None,
        },
        Entry::Cancelled {
            signal_seq: 3,
            ts_ms: 1_700_000_180_000,
            reason: "invalid open".to_string(),
        },
        Entry::Halt {
            signal_seq: 4,
            ts_ms: 1_700_000_180_000,
            kind: HaltKind::KillSwitch,
            reason: "max drawdown".to_string(),
            equity: d("7999.5"),
        },
        Entry::Halt {
            signal_seq: 5,
            ts_ms: 1_700_000_240_000,
            kind: HaltKind::DailyLoss,
            reason: "daily".to_string(),
            equity: d("7000"),
        },
        Entry::Resume {
            ts_ms: 1_700_000_300_000,
        },
    ]
}

/// The file's bytes for `entries`, as `append` writes them.
fn lines_of(entries: &[Entry]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(e.to_line()?.as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

#[test]
fn round_trip_of_every_kind_survives_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("nested/deeper/ledger.jsonl");
    let entries = every_kind();
    {
        let (mut ledger, recovered) = Ledger::open(&path)?;
        assert!(recovered.entries.is_empty());
        assert_eq!(recovered.repaired, None);
        ledger.append(&entries[..3])?;
        ledger.append(&entries[3..])?;
        ledger.append(&[])?;
        assert_eq!(ledger.entries_written(), entries.len());
        assert_eq!(ledger.entry_count(), entries.len());
        assert_eq!(ledger.size_bytes(), fs::metadata(&path)?.len());
        assert_eq!(ledger.path(), path.as_path());
    }
    let (ledger, recovered) = Ledger::open(&path)?;
    assert_eq!(recovered.entries, entries);
    assert_eq!(recovered.repaired, None);
    assert_eq!(ledger.entries_written(), 0);
    assert_eq!(ledger.entry_count(), entries.len());
    assert_eq!(fs::read(&path)?, lines_of(&entries)?);
    Ok(())
}

#[test]
fn lines_are_versioned_and_decimals_are_strings() -> TestResult {
    let fill = &every_kind()[2];
    let line = fill.to_line()?;
    let json: serde_json::Value = serde_json::from_str(&line)?;
    assert_eq!(json["v"], 1);
    assert_eq!(json["type"], "fill");
    assert_eq!(json["side"], "buy");
    assert_eq!(json["price"], "43250.12");
    assert_eq!(json["cash_after"], "0.1");
    assert_eq!(json["realized_pnl_after"], "-0.000000000000000000000000001");
    assert_eq!(json["signal_seq"], 1);
    let halt: serde_json::Value = serde_json::from_str(&every_kind()[6].to_line()?)?;
    assert_eq!(halt["kind"], "kill_switch");
    // An order without a reason omits the field.
    assert!(!every_kind()[1].to_line()?.contains("reason"));
    Ok(())
}

#[test]
fn entry_parsing_is_strict() {
    let good = r#"{"v":1,"type":"resume","ts_ms":5}"#;
    assert_eq!(Entry::from_line(good), Ok(Entry::Resume { ts_ms: 5 }));
    for (line, says) in [
        (r#"{"v":2,"type":"resume","ts_ms":5}"#, "version"),
        (r#"{"type":"resume","ts_ms":5}"#, "v"),
        (r#"{"v":1,"type":"teleport","ts_ms":5}"#, "teleport"),
        (
            r#"{"v":1,"type":"cancelled","signal_seq":1,"ts_ms":5,"reason":7}"#,
            "invalid type",
        ),
        // Money as a JSON number would have passed through a float: refused.
        (
            r#"{"v":1,"type":"halt","signal_seq":1,"ts_ms":5,"kind":"daily_loss","reason":"x","equity":1.5}"#,
            "",
        ),
        (
            r#"{"v":1,"type":"halt","signal_seq":1,"ts_ms":5,"kind":"daily_loss","reason":"x","equity":"1.5x"}"#,
            "",
        ),
        (
            r#"{"v":1,"type":"halt","signal_seq":1,"ts_ms":5,"kind":"nap","reason":"x","equity":"1"}"#,
            "nap",
        ),
        (
            r#"{"v":1,"type":"rejected","signal_seq":-1,"ts_ms":5,"target":0,"reason":"x"}"#,
            "",
        ),
    ] {
        match Entry::from_line(line) {
            Ok(e) => panic!("{line} parsed as {e:?}"),
            Err(reason) => assert!(reason.contains(says), "{line}: {reason}"),
        }
    }
}

#[test]
fn torn_last_line_is_cut_at_any_offset() -> TestResult {
    let entries = every_kind();
    let whole = lines_of(&entries)?;
    let complete = lines_of(&entries[..entries.len() - 1])?;
    let last_len = whole.len() - complete.len(); // with its newline
    let dir = tempfile::tempdir()?;
    for keep in [1, 2, last_len / 2, last_len - 2, last_len - 1] {
        let path = dir.path().join(format!("torn-{keep}.jsonl"));
        fs::write(&path, &whole[..complete.len() + keep])?;
        let (mut ledger, recovered) = Ledger::open(&path)?;
        assert_eq!(
            recovered.entries,
            entries[..entries.len() - 1],
            "keep {keep}"
        );
        assert_eq!(
            recovered.repaired,
            Some(Repair {
                line: entries.len(),
                bytes_dropped: keep as u64,
            }),
            "keep {keep}"
        );
        assert_eq!(
            fs::read(&path)?,
            complete,
            "truncated to the last complete line"
        );
        assert_eq!(ledger.size_bytes(), complete.len() as u64);
        // Appending after the repair continues a clean file.
        ledger.append(&entries[entries.len() - 1..])?;
        drop(ledger);
        let (_, again) = Ledger::open(&path)?;
        assert_eq!(again.entries, entries);
        assert_eq!(again.repaired, None);
    }
    Ok(())
}

#[test]
fn torn_single_line_and_zero_filled_tail_are_cut() -> TestResult {
    let dir = tempfile::tempdir()?;
    let only = dir.path().join("only.jsonl");
    let torn = br#"{"v":1,"type":"res"#;
    fs::write(&only, torn)?;
    let (ledger, recovered) = Ledger::open(&only)?;
    assert!(recovered.entries.is_empty());
    assert_eq!(
        recovered.repaired,
        Some(Repair {
            line: 1,
            bytes_dropped: torn.len() as u64
        })
    );
    assert_eq!(ledger.size_bytes(), 0);
    assert_eq!(fs::metadata(&only)?.len(), 0);

    // A crash can leave the file extended with zeros (or any junk) past the
    // last newline: that is a torn tail too.
    let zeros = dir.path().join("zeros.jsonl");
    let mut bytes = lines_of(&every_kind()[..2])?;
    bytes.extend_from_slice(&[0u8; 4096]);
    bytes.extend_from_slice(&[0xff, 0xfe]);
    fs::write(&zeros, &bytes)?;
    let (_, recovered) = Ledger::open(&zeros)?;
    assert_eq!(recovered.entries, every_kind()[..2]);
    assert_eq!(
        recovered.repaired.map(|r| (r.line, r.bytes_dropped)),
        Some((3, 4098))
    );
    Ok(())
}

fn expect_corrupt(
    result: Result<(Ledger, aegis_worker::store::Recovered), LedgerError>,
    want_line: usize,
    says: &str,
) {
    match result {
        Err(LedgerError::Corrupt { line, reason, .. }) => {
            assert_eq!(line, want_line, "{reason}");
            assert!(
                reason.contains(says),
                "reason {reason:?} should mention {says:?}"
            );
        }
        Err(other) => panic!("expected corruption at line {want_line}, got {other}"),
        Ok((_, r)) => panic!("expected corruption at line {want_line}, read {r:?}"),
    }
}

#[test]
fn a_corrupt_complete_line_is_refused_and_left_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let entries = every_kind();
    let good = lines_of(&entries)?;
    let cases: Vec<(&str, Vec<u8>, usize, &str)> = vec![
        ("garbage", b"this is not json".to_vec(), 2, "expected"),
        (
            "unknown",
            br#"{"v":1,"type":"teleport"}"#.to_vec(),
            2,
            "teleport",
        ),
        ("non-utf8", vec![b'{', 0xff, 0xfe, b'}'], 2, "UTF-8"),
        ("blank", Vec::new(), 2, "empty line"),
    ];
    for (name, bad, line, says) in cases {
        let path = dir.path().join(format!("{name}.jsonl"));
        let mut bytes = lines_of(&entries[..1])?;
        bytes.extend_from_slice(&bad);
        bytes.push(b'\n');
        bytes.extend_from_slice(&good[lines_of(&entries[..1])?.len()..]);
        fs::write(&path, &bytes)?;
        expect_corrupt(Ledger::open(&path), line, says);
        assert_eq!(
            fs::read(&path)?,
            bytes,
            "{name}: a corrupt ledger is never modified"
        );
        let message = Ledger::open(&path)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(message.contains(&format!("line {line}")), "{message}");
        assert!(message.contains(&path.display().to_string()), "{message}");
    }
    // A complete last line that does not parse is corruption, not a torn write.
    let path = dir.path().join("last.jsonl");
    let mut bytes = lines_of(&entries[..3])?;
    bytes.extend_from_slice(b"{\"v\":1}\n");
    fs::write(&path, &bytes)?;
    expect_corrupt(Ledger::open(&path), 4, "");
    Ok(())
}

#[test]
fn empty_file_and_missing_file_open_empty() -> TestResult {
    let dir = tempfile::tempdir()?;
    let empty = dir.path().join("empty.jsonl");
    fs::write(&empty, b"")?;
    let (ledger, recovered) = Ledger::open(&empty)?;
    assert!(recovered.entries.is_empty());
    assert_eq!(recovered.repaired, None);
    assert_eq!(ledger.size_bytes(), 0);
    ledger.check_writable()?;

    let missing = dir.path().join("a/b/c.jsonl");
    let (_, recovered) = Ledger::open(&missing)?;
    assert!(recovered.entries.is_empty());
    assert!(missing.exists());
    Ok(())
}

#[test]
fn opening_a_directory_or_an_unreadable_parent_is_an_io_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    match Ledger::open(dir.path()) {
        Err(e @ LedgerError::Io { .. }) => {
            assert!(e.to_string().contains(&dir.path().display().to_string()))
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    // A parent path that is a regular file cannot be created as a directory.
    let file = dir.path().join("plain");
    fs::write(&file, b"x")?;
    assert!(matches!(
        Ledger::open(file.join("ledger.jsonl")),
        Err(LedgerError::Io { .. })
    ));
    Ok(())
}

/// A symbolic link planted at the ledger's path or its directory is
/// refused with an error naming the path, never followed; a missing
/// directory is made private (0700) and the ledger readable by its owner only.
#[test]
fn a_planted_link_at_the_ledger_or_its_directory_is_refused() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let victim = dir.path().join("victim");
    fs::write(&victim, b"")?;
    let path = dir.path().join("ledger.jsonl");
    std::os::unix::fs::symlink(&victim, &path)?;
    match Ledger::open(&path) {
        Err(e @ LedgerError::Io { .. }) => {
            assert!(e.to_string().contains(&path.display().to_string()), "{e}")
        }
        other => panic!("a link at the ledger path: {:?}", other.map(|_| ())),
    }
    assert_eq!(fs::read(&victim)?, b"");

    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere)?;
    let data = dir.path().join("data");
    std::os::unix::fs::symlink(&elsewhere, &data)?;
    let err = Ledger::open(data.join("ledger.jsonl"))
        .map(|_| ())
        .expect_err("a link as the ledger's directory");
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert!(!elsewhere.join("ledger.jsonl").exists());

    let fresh = dir.path().join("new/ledger.jsonl");
    Ledger::open(&fresh)?;
    let mode = |p: &std::path::Path| fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode(&dir.path().join("new"))?, 0o700);
    assert_eq!(mode(&fresh)?, 0o600);
    Ok(())
}

#[test]
fn appends_accumulate_across_reopens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ledger.jsonl");
    let entries = every_kind();
    for (i, entry) in entries.iter().enumerate() {
        let (mut ledger, recovered) = Ledger::open(&path)?;
        assert_eq!(recovered.entries, entries[..i]);
        ledger.append(std::slice::from_ref(entry))?;
        assert_eq!(ledger.entry_count(), i + 1);
        assert_eq!(ledger.entries_written(), 1);
    }
    let (_, recovered) = Ledger::open(&path)?;
    assert_eq!(recovered.entries, entries);
    Ok(())
}

#[test]
fn check_writable_notices_a_removed_or_replaced_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("ledger.jsonl");
    let (ledger, _) = Ledger::open(&path)?;
    ledger.check_writable()?;
    fs::remove_file(&path)?;
    assert!(matches!(
        ledger.check_writable(),
        Err(LedgerError::NotWritable { .. })
    ));
    fs::write(&path, b"")?;
    let err = ledger
        .check_writable()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("different file"), "{err}");
    Ok(())
}

#[test]
fn duplicate_orders_lists_reused_keys() {
    let order = |seq| Entry::Order {
        signal_seq: seq,
        ts_ms: 0,
        side: Side::Buy,
        qty: d("1"),
        target: 1,
        reason: None,
        exit: None,
        limit: None,
        ttl_bars: None,
        atr: None,
    };
    assert!(duplicate_orders(&every_kind()).is_empty());
    let entries = vec![order(5), order(3), order(5), order(9), order(3), order(5)];
    assert_eq!(duplicate_orders(&entries), vec![3, 5]);
    // Fills and rejections sharing a seq with an order are not duplicates.
    let mixed = vec![
        order(1),
        Entry::Rejected {
            signal_seq: 1,
            ts_ms: 0,
            target: 1,
            reason: String::new(),
        },
    ];
    assert!(duplicate_orders(&mixed).is_empty());
}
