//! The ring across real processes: this test binary re-executes itself as
//! writer and reader children (`multiprocess child ...`), and the tests kill
//! them with SIGKILL at random points.
//!
//! Children check every record they read against the deterministic payload
//! of its sequence (a torn record fails the check), and that the sequences they
//! see are consecutive; they report on stdout and exit non-zero on any fault.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use common::{ring_dir, TestRecord, Wide};
use libtest_mimic::{Arguments, Failed, Trial};
use rand::Rng;
use ringbuf_shm::{Candle, Overflow, Ring, RingOptions, WaitStrategy};

type TestResult = Result<(), Failed>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("child") {
        return match run_child(&args[2..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                say(&format!("error {e}"));
                ExitCode::from(1)
            }
        };
    }
    let trials = vec![
        Trial::test(
            "lossless_ten_million_records_three_reader_processes",
            lossless_ten_million,
        ),
        Trial::test(
            "kill9_writer_lossless_no_torn_reads_and_sequence_continues",
            || kill_writer(Overflow::Lossless, 120),
        ),
        Trial::test(
            "kill9_writer_overwrite_no_torn_reads_and_exact_missed",
            || kill_writer(Overflow::Overwrite, 100),
        ),
        Trial::test(
            "kill9_reader_resumes_after_last_commit_no_gap_no_duplicate",
            kill_reader,
        ),
        Trial::test(
            "overwrite_slow_reader_missed_count_is_exact",
            overwrite_slow_reader,
        ),
    ];
    libtest_mimic::run(&Arguments::from_args(), trials).exit_code()
}

// ---------------------------------------------------------------- children

/// Prints a line for the parent; a parent that stopped listening is no error.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// `child writer PATH TYPE TOTAL PACE` and
/// `child reader PATH TYPE NAME TOTAL COMMIT_EVERY SLEEP_US`, TYPE being
/// `candle` or `wide`.
fn run_child(args: &[String]) -> Result<(), String> {
    match args.get(2).map(String::as_str) {
        Some("candle") => run_child_as::<Candle>(args),
        Some("wide") => run_child_as::<Wide>(args),
        other => Err(format!("unknown record type {other:?}")),
    }
}

fn run_child_as<T: TestRecord>(args: &[String]) -> Result<(), String> {
    let arg = |i: usize| args.get(i).cloned().ok_or(format!("missing argument {i}"));
    let num = |i: usize| -> Result<u64, String> {
        arg(i)?.parse().map_err(|e| format!("argument {i}: {e}"))
    };
    let path = PathBuf::from(arg(1)?);
    let ring = Ring::<T>::open(&path).map_err(|e| e.to_string())?;
    match arg(0)?.as_str() {
        "writer" => child_writer(&ring, num(3)?, num(4)?),
        "reader" => child_reader(&ring, &arg(3)?, num(4)?, num(5)?, num(6)?),
        other => Err(format!("unknown child role {other}")),
    }
}

/// Writes sequences from wherever the ring stands up to `total`, in random
/// batches; with `pace` > 0, pauses 1 µs-ish every `pace` records.
fn child_writer<T: TestRecord>(ring: &Ring<T>, total: u64, pace: u64) -> Result<(), String> {
    let mut w = ring.writer().map_err(|e| e.to_string())?;
    let mut rng = rand::rng();
    let torn = if w.resumed_torn_write() { " torn" } else { "" };
    say(&format!("start {}{torn}", w.next_seq()));
    let mut batch = Vec::with_capacity(64);
    while w.next_seq() < total {
        let n = rng.random_range(1..=64).min(total - w.next_seq());
        batch.clear();
        batch.extend((w.next_seq()..w.next_seq() + n).map(T::make));
        if n == 1 {
            w.write(&batch[0]);
        } else {
            w.write_batch(&batch);
        }
        if pace > 0 && w.next_seq().is_multiple_of(pace) {
            std::thread::sleep(Duration::from_micros(20));
        }
    }
    say(&format!("done {}", w.next_seq()));
    Ok(())
}

/// Reads until position `total`, checking every record, committing every
/// `commit_every` records; prints `start`, then `done SEEN MISSED`.
fn child_reader<T: TestRecord>(
    ring: &Ring<T>,
    name: &str,
    total: u64,
    commit_every: u64,
    sleep_us: u64,
) -> Result<(), String> {
    let mut r = ring.attach_reader(name).map_err(|e| e.to_string())?;
    r.set_wait_strategy(WaitStrategy::default());
    say(&format!("start {}", r.position()));
    let (mut seen, mut since_commit) = (0u64, 0u64);
    while r.position() < total {
        let missed_before = r.missed();
        let expected = r.position();
        let Some(c) = r.read_timeout(Some(Duration::from_secs(60))) else {
            return Err(format!("no record for 60 s at position {expected}"));
        };
        c.verify()?;
        let skipped = r.missed() - missed_before;
        if c.sequence() != expected + skipped {
            return Err(format!(
                "expected sequence {} (+{skipped} missed), got {}",
                expected,
                c.sequence()
            ));
        }
        seen += 1;
        since_commit += 1;
        if since_commit >= commit_every {
            r.commit();
            since_commit = 0;
        }
        if sleep_us > 0 {
            std::thread::sleep(Duration::from_micros(sleep_us));
        }
    }
    r.commit();
    say(&format!("done {seen} {}", r.missed()));
    Ok(())
}

// ---------------------------------------------------------------- parent side

fn spawn(args: &[&str]) -> Result<Child, Failed> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    Command::new(exe)
        .arg("child")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("spawn child {args:?}: {e}").into())
}

fn line(out: &mut BufReader<ChildStdout>) -> Result<String, Failed> {
    let mut s = String::new();
    out.read_line(&mut s)
        .map_err(|e| format!("read child output: {e}"))?;
    Ok(s.trim().to_string())
}

/// Reads a child's first line, which must be `start N` (a writer may add
/// ` torn`: its predecessor died mid-record); returns N and the line.
fn start_line(child: &mut Child) -> Result<(u64, BufReader<ChildStdout>, String), Failed> {
    let mut out = BufReader::new(child.stdout.take().ok_or("child has no stdout")?);
    let l = line(&mut out)?;
    let n = l
        .strip_prefix("start ")
        .and_then(|n| n.trim_end_matches(" torn").parse().ok())
        .ok_or_else(|| format!("child said {l:?}, expected `start N`"))?;
    Ok((n, out, l))
}

/// Waits for a child to finish; returns its last line, which must start `done`.
fn finish(
    mut child: Child,
    out: Option<BufReader<ChildStdout>>,
    what: &str,
    limit: Duration,
) -> Result<String, Failed> {
    let mut out = match out {
        Some(o) => o,
        None => BufReader::new(child.stdout.take().ok_or("child has no stdout")?),
    };
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut rest = String::new();
            std::io::Read::read_to_string(&mut out, &mut rest).ok();
            let last = rest.lines().last().unwrap_or("").to_string();
            if !status.success() || !last.starts_with("done") {
                return Err(format!("{what} failed ({status}): {rest}").into());
            }
            return Ok(last);
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            return Err(format!("{what} did not finish within {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill9(mut child: Child) -> Result<(), Failed> {
    child.kill().map_err(|e| format!("kill: {e}"))?; // SIGKILL
    child.wait().map_err(|e| format!("wait: {e}"))?;
    Ok(())
}

fn make_ring<T: TestRecord>(
    dir: &Path,
    policy: Overflow,
    cap: u64,
    readers: &[&str],
) -> Result<PathBuf, Failed> {
    let path = dir.join("ring");
    let mut opts = RingOptions::new(cap, policy);
    for r in readers {
        opts = opts.with_reader(*r);
    }
    Ring::<T>::create_or_open(&path, &opts).map_err(|e| e.to_string())?;
    Ok(path)
}

fn parse_done(l: &str) -> Result<(u64, u64), Failed> {
    let mut it = l.split_whitespace().skip(1).map(|x| x.parse::<u64>());
    match (it.next(), it.next()) {
        (Some(Ok(seen)), Some(Ok(missed))) => Ok((seen, missed)),
        _ => Err(format!("bad done line {l:?}").into()),
    }
}

// ---------------------------------------------------------------- tests

/// 1 writer and 3 readers in 4 processes, 10M records, Lossless: every reader
/// sees every sequence exactly once, in order, each record intact.
fn lossless_ten_million() -> TestResult {
    const TOTAL: u64 = 10_000_000;
    let dir = ring_dir();
    let path = make_ring::<Candle>(dir.path(), Overflow::Lossless, 4096, &["r0", "r1", "r2"])?;
    let p = path.to_str().ok_or("path")?;
    let total = TOTAL.to_string();
    let readers: Vec<Child> = ["r0", "r1", "r2"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            spawn(&[
                "reader",
                p,
                "candle",
                name,
                &total,
                &(1 + i * 100).to_string(),
                "0",
            ])
        })
        .collect::<Result<_, _>>()?;
    let writer = spawn(&["writer", p, "candle", &total, "0"])?;
    finish(writer, None, "writer", Duration::from_secs(600))?;
    for (i, r) in readers.into_iter().enumerate() {
        let done = finish(r, None, &format!("reader r{i}"), Duration::from_secs(600))?;
        if parse_done(&done)? != (TOTAL, 0) {
            return Err(format!("reader r{i}: {done}, expected every record once").into());
        }
    }
    let status = ringbuf_shm::inspect(&path).map_err(|e| e.to_string())?;
    if status.write_seq != TOTAL || status.readers.iter().any(|r| r.cursor != TOTAL) {
        return Err(format!("final status {status:?}").into());
    }
    Ok(())
}

/// Kills the writer with SIGKILL `kills` times at random points while two
/// reader processes read. No reader ever sees a torn record; each restarted
/// writer continues the sequence where the ring stands; with Lossless nothing
/// is lost, with Overwrite what is lost is counted exactly.
fn kill_writer(policy: Overflow, kills: usize) -> TestResult {
    let total_records: u64 = match policy {
        Overflow::Lossless => 400_000,
        Overflow::Overwrite => 3_000_000,
    };
    let dir = ring_dir();
    let cap = if policy == Overflow::Lossless {
        256
    } else {
        64
    };
    let path = make_ring::<Wide>(dir.path(), policy, cap, &["a", "b"])?;
    let p = path.to_str().ok_or("path")?;
    let total = total_records.to_string();
    // Overwrite writers never wait, so pace them to still be running at the kills.
    let (sleep, pace) = match policy {
        Overflow::Overwrite => ("1", "64"),
        Overflow::Lossless => ("0", "0"),
    };
    let readers = [
        spawn(&["reader", p, "wide", "a", &total, "1", "0"])?,
        spawn(&["reader", p, "wide", "b", &total, "97", sleep])?,
    ];
    let mut rng = rand::rng();
    let mut last_start = 0u64;
    let mut done_early = false;
    let mut torn_restarts = 0u64;
    for _ in 0..kills {
        let mut w = spawn(&["writer", p, "wide", &total, pace])?;
        let (start, out, said) = start_line(&mut w)?;
        torn_restarts += u64::from(said.ends_with(" torn"));
        if start < last_start {
            return Err(format!("restarted writer went back from {last_start} to {start}").into());
        }
        last_start = start;
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3000)));
        if w.try_wait().map_err(|e| e.to_string())?.is_some() {
            done_early = true;
            drop(out);
            break;
        }
        kill9(w)?;
    }
    if done_early {
        return Err(format!("the writer finished before {kills} kills: raise TOTAL").into());
    }
    finish(
        spawn(&["writer", p, "wide", &total, "0"])?,
        None,
        "final writer",
        Duration::from_secs(300),
    )?;
    for (name, r) in ["a", "b"].iter().zip(readers) {
        let (seen, missed) = parse_done(&finish(
            r,
            None,
            &format!("reader {name}"),
            Duration::from_secs(300),
        )?)?;
        if seen + missed != total_records {
            return Err(
                format!("reader {name}: seen {seen} + missed {missed} != {total_records}").into(),
            );
        }
        if policy == Overflow::Lossless && missed != 0 {
            return Err(format!("reader {name} missed {missed} records of a Lossless ring").into());
        }
    }
    eprintln!("{kills} writer kills, {torn_restarts} of them in the middle of a record");
    // An Overwrite writer never waits, so about a quarter of the kills land in
    // the middle of a 1 KiB record; a Lossless one mostly waits for its readers
    // (and is killed asleep or mid-batch), so there only a few do.
    if policy == Overflow::Overwrite && torn_restarts == 0 {
        return Err("no kill landed in the middle of a record: the test proved nothing".into());
    }
    let status = ringbuf_shm::inspect(&path).map_err(|e| e.to_string())?;
    if status.writer.attaches != kills as u64 + 1 {
        return Err(format!(
            "writer attached {} times, expected {}",
            status.writer.attaches,
            kills + 1
        )
        .into());
    }
    Ok(())
}

/// Kills a reader with SIGKILL at random points and restarts it: each
/// incarnation starts exactly at the cursor the last one committed (no gap,
/// no duplicate relative to the last commit), and the last one reaches the end.
fn kill_reader() -> TestResult {
    const TOTAL: u64 = 2_000_000;
    const KILLS: usize = 60;
    let dir = ring_dir();
    let path = make_ring::<Candle>(dir.path(), Overflow::Lossless, 512, &["victim"])?;
    let p = path.to_str().ok_or("path")?;
    let total = TOTAL.to_string();
    let writer = spawn(&["writer", p, "candle", &total, "0"])?;
    let mut rng = rand::rng();
    for i in 0..KILLS {
        let committed = ringbuf_shm::inspect(&path)
            .map_err(|e| e.to_string())?
            .reader("victim")
            .ok_or("victim not registered")?
            .cursor;
        let commit_every = rng.random_range(1..500u64).to_string();
        let mut r = spawn(&["reader", p, "candle", "victim", &total, &commit_every, "0"])?;
        let (start, _out, _) = start_line(&mut r)?;
        if start != committed {
            return Err(
                format!("incarnation {i} started at {start}, last commit was {committed}").into(),
            );
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..8000)));
        kill9(r)?;
    }
    let committed = ringbuf_shm::inspect(&path)
        .map_err(|e| e.to_string())?
        .reader("victim")
        .ok_or("victim")?
        .cursor;
    let mut r = spawn(&["reader", p, "candle", "victim", &total, "100", "0"])?;
    let (start, out, _) = start_line(&mut r)?;
    if start != committed {
        return Err(
            format!("last incarnation started at {start}, last commit was {committed}").into(),
        );
    }
    let (seen, missed) = parse_done(&finish(
        r,
        Some(out),
        "last reader",
        Duration::from_secs(300),
    )?)?;
    if seen != TOTAL - committed || missed != 0 {
        return Err(format!(
            "last reader saw {seen} (missed {missed}), expected {}",
            TOTAL - committed
        )
        .into());
    }
    finish(writer, None, "writer", Duration::from_secs(60))?;
    Ok(())
}

/// A deliberately slow reader on an Overwrite ring: the records it reports
/// missing are exactly those it did not see (the child checks each jump
/// against the missed counter; here seen + missed = total).
fn overwrite_slow_reader() -> TestResult {
    const TOTAL: u64 = 200_000;
    let dir = ring_dir();
    let path = make_ring::<Candle>(dir.path(), Overflow::Overwrite, 64, &["slow"])?;
    let p = path.to_str().ok_or("path")?;
    let total = TOTAL.to_string();
    let reader = spawn(&["reader", p, "candle", "slow", &total, "10", "20"])?;
    let writer = spawn(&["writer", p, "candle", &total, "64"])?;
    finish(writer, None, "writer", Duration::from_secs(120))?;
    let (seen, missed) = parse_done(&finish(reader, None, "reader", Duration::from_secs(120))?)?;
    if seen + missed != TOTAL {
        return Err(format!("seen {seen} + missed {missed} != {TOTAL}").into());
    }
    if missed == 0 || seen == 0 {
        return Err(format!(
            "the reader was not lapped (seen {seen}, missed {missed}): slow it down"
        )
        .into());
    }
    let status = ringbuf_shm::inspect(&path).map_err(|e| e.to_string())?;
    let slow = status.reader("slow").ok_or("slow reader")?;
    if slow.missed != missed {
        return Err(format!("header says {} missed, reader said {missed}", slow.missed).into());
    }
    Ok(())
}
