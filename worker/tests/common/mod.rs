//! Helpers shared by the worker's integration tests: the binary under test,
//! polling, temporary directories, free ports, reading a ledger and its
//! orders. HTTP requests, a running `up` and replay data are in the
//! submodules.

#![allow(dead_code)]

pub mod data;
pub mod http;
pub mod up;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_aegis-worker");

/// Runs `aegis-worker` with `args` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run aegis-worker")
}

/// A finished command's exit status, stdout and stderr, for assertions.
pub fn output_text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every entry of the ledger at `path`; panics naming a bad line.
pub fn ledger_entries(path: &Path) -> Vec<aegis_engine::ledger::Entry> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            aegis_engine::ledger::Entry::from_line(line)
                .unwrap_or_else(|e| panic!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// The orders in `entries`: (signal seq, side, quantity).
pub fn orders(
    entries: &[aegis_engine::ledger::Entry],
) -> Vec<(u64, aegis_engine::trading::Side, rust_decimal::Decimal)> {
    entries
        .iter()
        .filter_map(|e| match e {
            aegis_engine::ledger::Entry::Order {
                signal_seq,
                side,
                qty,
                ..
            } => Some((*signal_seq, *side, *qty)),
            _ => None,
        })
        .collect()
}

/// The wall clock, ms since the epoch (what exchange timestamps are in).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

/// Polls `f` every 50 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let until = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= until {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A temporary directory, in /dev/shm when there is one (rings like memory).
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    if Path::new("/dev/shm").is_dir() {
        if let Ok(dir) = builder.tempdir_in("/dev/shm") {
            return dir;
        }
    }
    builder.tempdir().expect("creating a temporary directory")
}

/// Four consecutive loopback ports free a moment ago, outside the
/// ephemeral range (for `up --port-base` and the standalone roles' listen
/// addresses, the fourth for the control API; see [`aegis_tests::ports`]).
pub fn free_port_base() -> u16 {
    aegis_tests::ports::free_ports(4)
}
