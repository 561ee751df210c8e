//! The ring in action: this process writes simulated candles into a ring in
//! /dev/shm, a second process (this program re-executed) reads them, and both
//! print what they see: rates, one-way latency, lag.
//!
//! ```text
//! cargo run --release -p ringbuf-shm --example demo [-- --seconds N]
//! ```
//!
//! Phase 1 paces the writer at 200,000 candles/s, one write each, so the
//! reader's latency is the ring's hand-off time (the reader uses the default
//! wait strategy: spin briefly, then sleep on a futex). Phase 2 writes as fast
//! as it can in batches. To measure latency the demo puts each candle's send
//! time (CLOCK_MONOTONIC, shared by both processes) in its `ingest_ns` field; the
//! engine itself never does that. (`ringbuf_shm::monotonic_ns` is the coarse
//! heartbeat clock, too coarse for this.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use ringbuf_shm::{Candle, Overflow, Ring, RingOptions};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = if args.get(1).map(String::as_str) == Some("reader") {
        match args.get(2) {
            Some(path) => reader(Path::new(path)),
            None => Err("usage: demo reader RING_PATH".to_string()),
        }
    } else {
        let seconds = args
            .iter()
            .position(|a| a == "--seconds")
            .and_then(|i| args.get(i + 1))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(6);
        writer(seconds.max(2))
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Nanoseconds on CLOCK_MONOTONIC, comparable across the two processes.
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A seeded geometric random walk, one candle per step.
struct Market {
    price: f64,
    state: u64,
    ts_ms: i64,
}

impl Market {
    fn next(&mut self) -> Candle {
        // xorshift64*: cheap, deterministic noise for the demo.
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let u = (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64;
        let open = self.price;
        self.price *= 1.0 + (u - 0.5) * 0.002;
        self.ts_ms += 1000;
        Candle {
            ts_ms: self.ts_ms,
            open,
            high: open.max(self.price) * 1.0005,
            low: open.min(self.price) * 0.9995,
            close: self.price,
            volume: 1.0 + u * 10.0,
            ingest_ns: now_ns(),
            ..Candle::default()
        }
    }
}

fn writer(seconds: u64) -> Result<(), String> {
    let dir = tempfile_dir()?;
    let path = dir.join("candles");
    let ring = Ring::<Candle>::create_or_open(
        &path,
        &RingOptions::new(1 << 16, Overflow::Lossless).with_reader("demo"),
    )
    .map_err(|e| e.to_string())?;
    println!(
        "ring {} ({} slots of 64 bytes, lossless)",
        path.display(),
        ring.capacity()
    );
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Command::new(exe)
        .arg("reader")
        .arg(&path)
        .spawn()
        .map_err(|e| format!("start the reader process: {e}"))?;
    let mut w = ring.writer().map_err(|e| e.to_string())?;
    let mut market = Market {
        price: 30_000.0,
        state: 0x9e37_79b9_7f4a_7c15,
        ts_ms: 1_700_000_000_000,
    };

    let paced = Duration::from_secs(seconds / 2);
    println!(
        "phase 1: {} s at 200,000 candles/s, one write each",
        paced.as_secs()
    );
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < paced {
        let due = (start.elapsed().as_nanos() / 5_000) as u64; // one per 5 µs
        while sent < due {
            w.write(&market.next());
            sent += 1;
        }
        std::hint::spin_loop();
    }
    let flat_out = Duration::from_secs(seconds - seconds / 2);
    println!(
        "phase 2: {} s as fast as possible, batches of 256",
        flat_out.as_secs()
    );
    let start = Instant::now();
    let mut batch = Vec::with_capacity(256);
    while start.elapsed() < flat_out {
        batch.clear();
        batch.extend((0..256).map(|_| market.next()));
        w.write_batch(&batch);
        sent += 256;
    }
    // End marker: a candle with a negative timestamp.
    w.write(&Candle {
        ts_ms: -1,
        ..Candle::default()
    });
    let status = child.wait().map_err(|e| e.to_string())?;
    println!("writer: {sent} candles written");
    let _ = std::fs::remove_dir_all(&dir);
    if status.success() {
        Ok(())
    } else {
        Err(format!("reader process failed: {status}"))
    }
}

fn reader(path: &Path) -> Result<(), String> {
    let mut r = Ring::<Candle>::open(path)
        .map_err(|e| e.to_string())?
        .attach_reader("demo")
        .map_err(|e| e.to_string())?;
    let mut lat = Vec::with_capacity(1 << 20);
    let mut window_start = Instant::now();
    let mut window_n = 0u64;
    let mut total = 0u64;
    let mut last_close;
    let out = std::io::stdout();
    loop {
        let Some(c) = r.read_timeout(Some(Duration::from_secs(10))) else {
            return Err("no candle for 10 s".into());
        };
        if c.ts_ms < 0 {
            break;
        }
        lat.push(now_ns().saturating_sub(c.ingest_ns));
        total += 1;
        window_n += 1;
        last_close = c.close;
        if window_n.is_multiple_of(256) {
            r.commit();
        }
        if window_start.elapsed() >= Duration::from_secs(1) {
            let secs = window_start.elapsed().as_secs_f64();
            let (p50, p99) = percentiles(&mut lat);
            let _ = writeln!(
                out.lock(),
                "reader: {:>12.0} candles/s   latency p50 {:>8.2} µs  p99 {:>8.2} µs   lag {:>6}   last close {:.2}",
                window_n as f64 / secs,
                p50 / 1000.0,
                p99 / 1000.0,
                r.pending(),
                last_close
            );
            lat.clear();
            window_n = 0;
            window_start = Instant::now();
        }
    }
    r.commit();
    println!(
        "reader: {total} candles read, {} missed, none torn (each was validated by its slot stamp)",
        r.missed()
    );
    Ok(())
}

fn percentiles(v: &mut [u64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)] as f64;
    (at(0.5), at(0.99))
}

/// A fresh directory under /dev/shm (or the system temp dir without one).
fn tempfile_dir() -> Result<PathBuf, String> {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("aegis-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    Ok(dir)
}
