//! Helpers shared by the worker's process-level tests: synthetic replay files
//! and running the `aegis-worker` binary.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use aegis_worker::market::{GbmParams, GbmSource};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_aegis-worker");

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

/// Runs `aegis-worker` with `args` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run aegis-worker")
}

/// Runs a backtest of `data` into `out` with `extra` arguments; panics with
/// the output if it fails.
pub fn backtest(data: &Path, out: &Path, extra: &[&str]) -> aegis_worker::report::BacktestReport {
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

/// Three consecutive free TCP ports on loopback (for `up --port-base`).
pub fn free_port_base() -> u16 {
    for _ in 0..100 {
        let Ok(first) = std::net::TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(base) = first.local_addr().map(|a| a.port()) else {
            continue;
        };
        if base > u16::MAX - 2 {
            continue;
        }
        let others: Vec<_> = (1..3)
            .filter_map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if others.len() == 2 {
            return base;
        }
    }
    panic!("no three consecutive free ports on 127.0.0.1");
}

/// `GET http://127.0.0.1:<port><path>`: the status and body, or None.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    aegis_worker::supervisor::probe::http_get(addr, path, std::time::Duration::from_secs(2))
        .ok()
        .map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned()))
}

/// Polls `done` every 50 ms for up to `secs` seconds.
pub fn wait_until(secs: f64, mut done: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    while std::time::Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    done()
}

/// A running `aegis-worker up`, stopped with SIGTERM when dropped.
pub struct Up {
    pub child: std::process::Child,
    pub port_base: u16,
    pub dir: tempfile::TempDir,
}

impl Up {
    /// Starts `up` in a fresh directory with `sets` as `--set` flags; the
    /// orchestrator's data goes to `<dir>/data`.
    pub fn start(sets: &[&str]) -> Up {
        let dir = tempfile::tempdir().expect("tempdir");
        let port_base = free_port_base();
        let mut cmd = Command::new(BIN);
        let data = format!(
            "orchestrator.data_dir={}",
            dir.path().join("data").display()
        );
        cmd.args(["--set", &data]);
        for set in sets {
            cmd.args(["--set", set]);
        }
        cmd.args(["up", "--dir"])
            .arg(dir.path().join("rings"))
            .args(["--port-base", &port_base.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let child = cmd.spawn().expect("start up");
        Up {
            child,
            port_base,
            dir,
        }
    }

    /// The port of `role`.
    pub fn port(&self, role: &str) -> u16 {
        self.port_base
            + match role {
                "feed" => 0,
                "brain" => 1,
                _ => 2,
            }
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        self.child.wait().expect("wait for up")
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}
