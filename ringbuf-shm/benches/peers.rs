//! The two sides of each measurement, shared by the bench's parent and its
//! re-executed child process.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringbuf_shm::{Candle, Overflow, Ring, RingOptions, WaitStrategy};

/// Sizes of one run.
pub struct Config {
    pub round_trips: usize,
    pub ring_records: u64,
    pub socket_records: u64,
    pub batch: usize,
}

/// One run's one-way latency percentiles, ns.
#[derive(Clone, Copy)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

/// Median and range of one figure across runs.
#[derive(Clone, Copy)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: impl Iterator<Item = f64>) -> Spread {
        let mut v: Vec<f64> = values.collect();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return Spread {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        Spread {
            median: v[v.len() / 2],
            min: v[0],
            max: v[v.len() - 1],
        }
    }
}

impl Latency {
    /// Percentiles of round-trip times (ns), halved to one-way.
    pub fn from_round_trips(mut rtt: Vec<u64>) -> Latency {
        rtt.sort_unstable();
        let at = |q: f64| rtt[((rtt.len() as f64 * q) as usize).min(rtt.len() - 1)] as f64 / 2.0;
        Latency {
            p50: at(0.50),
            p99: at(0.99),
            p999: at(0.999),
        }
    }
}

/// Online cores. Not `available_parallelism`: that counts the calling
/// process's affinity mask, which a child inherits from its pinned parent.
pub fn cores() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// Pins the calling thread to `core` (modulo the number of cores).
pub fn pin(core: usize) {
    let core = core % cores();
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write within it, and
    // sched_setaffinity only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn strategy(name: &str) -> WaitStrategy {
    match name {
        "busy" => WaitStrategy::BusySpin,
        "futex" => WaitStrategy::SpinThenBlock {
            spin: Duration::ZERO,
        },
        _ => WaitStrategy::default(),
    }
}

/// A directory for this run's rings and sockets.
pub fn scratch() -> tempfile::TempDir {
    let base = if Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    tempfile::Builder::new()
        .prefix("ipc-bench-")
        .tempdir_in(base)
        .expect("scratch directory")
}

pub fn spawn_child(args: &[&str]) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .arg("child")
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn bench child")
}

fn wait_child(mut c: Child) {
    let status = c.wait().expect("wait for bench child");
    assert!(status.success(), "bench child failed: {status}");
}

/// The child side: `ring-echo DIR STRATEGY`, `ring-stream DIR N BATCH`,
/// `sock-echo PATH N`, `sock-stream PATH N BATCH`, and iceoryx2's.
pub fn run_child(args: &[String]) {
    pin(1);
    let a = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let n = |i: usize| a(i).parse::<u64>().expect("numeric argument");
    match a(0) {
        "ring-echo" => ring_echo(Path::new(a(1)), a(2)),
        "ring-stream" => ring_stream(Path::new(a(1)), n(2), n(3) as usize),
        "sock-echo" => sock_echo(Path::new(a(1)), n(2)),
        "sock-stream" => sock_stream(Path::new(a(1)), n(2), n(3) as usize),
        #[cfg(feature = "iceoryx2")]
        other if other.starts_with("ice-") => crate::iceoryx::run_child(args),
        other => panic!("unknown bench child {other}"),
    }
}

fn rings(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("ping"), dir.join("pong"))
}

fn ring_options(reader: &str) -> RingOptions {
    RingOptions::new(1024, Overflow::Lossless).with_reader(reader)
}

fn ring_echo(dir: &Path, strat: &str) {
    let (ping, pong) = rings(dir);
    let mut r = Ring::<Candle>::open(&ping)
        .unwrap()
        .attach_reader("echo")
        .unwrap();
    let mut w = Ring::<Candle>::open(&pong).unwrap().writer().unwrap();
    r.set_wait_strategy(strategy(strat));
    let mut n = 0u64;
    loop {
        let c = r.read_timeout(None).unwrap();
        if c.ts_ms < 0 {
            break;
        }
        w.write(&c);
        n += 1;
        if n.is_multiple_of(64) {
            r.commit();
        }
    }
    r.commit();
}

pub fn ring_latency(cfg: &Config, strat: &str) -> Latency {
    ring_latency_paced(cfg.round_trips, strat, None)
}

/// Ping-pong like [`ring_latency`], `round_trips` of them, each after a
/// pause of `pace` (`None`: back to back). Paced and with the futex wait,
/// both processes are asleep on otherwise idle cores when a record comes,
/// as the engine's roles are between candles: each one-way figure is then a
/// futex wake-up of a sleeper on an idle core.
pub fn ring_latency_paced(round_trips: usize, strat: &str, pace: Option<Duration>) -> Latency {
    pin(0);
    let dir = scratch();
    let (ping, pong) = rings(dir.path());
    let ping = Ring::<Candle>::create_or_open(&ping, &ring_options("echo")).unwrap();
    let pong = Ring::<Candle>::create_or_open(&pong, &ring_options("main")).unwrap();
    let mut w = ping.writer().unwrap();
    let mut r = pong.attach_reader("main").unwrap();
    r.set_wait_strategy(strategy(strat));
    let child = spawn_child(&["ring-echo", dir.path().to_str().unwrap(), strat]);
    let warmup = round_trips / 10;
    let mut rtt = Vec::with_capacity(round_trips);
    let mut c = Candle::default();
    for i in 0..warmup + round_trips {
        c.ts_ms = i as i64;
        if let Some(pace) = pace {
            std::thread::sleep(pace);
        }
        let t0 = Instant::now();
        w.write(&c);
        let back = r.read_timeout(None).unwrap();
        let dt = t0.elapsed();
        assert_eq!(back.ts_ms, c.ts_ms, "echo of another ping");
        if i >= warmup {
            rtt.push(dt.as_nanos() as u64);
        }
        if i.is_multiple_of(64) {
            r.commit();
        }
    }
    c.ts_ms = -1;
    w.write(&c);
    wait_child(child);
    Latency::from_round_trips(rtt)
}

fn ring_stream(dir: &Path, n: u64, batch: usize) {
    let mut w = Ring::<Candle>::open(dir.join("stream"))
        .unwrap()
        .writer()
        .unwrap();
    let buf: Vec<Candle> = (0..batch)
        .map(|i| Candle {
            ts_ms: i as i64,
            ..Candle::default()
        })
        .collect();
    let mut sent = 0u64;
    while sent < n {
        if batch == 1 {
            w.write(&buf[0]);
            sent += 1;
        } else {
            let k = (batch as u64).min(n - sent) as usize;
            w.write_batch(&buf[..k]);
            sent += k as u64;
        }
    }
}

/// Records/s the parent receives while the child writes `n` (in `batch`es).
pub fn ring_throughput(cfg: &Config, batch: usize) -> f64 {
    pin(0);
    let dir = scratch();
    let ring = Ring::<Candle>::create_or_open(
        dir.path().join("stream"),
        &RingOptions::new(4096, Overflow::Lossless).with_reader("main"),
    )
    .unwrap();
    let mut r = ring.attach_reader("main").unwrap();
    r.set_wait_strategy(WaitStrategy::BusySpin);
    let n = cfg.ring_records;
    let child = spawn_child(&[
        "ring-stream",
        dir.path().to_str().unwrap(),
        &n.to_string(),
        &batch.to_string(),
    ]);
    let mut buf = Vec::with_capacity(cfg.batch);
    r.wait(None);
    let t0 = Instant::now();
    let mut got = 0u64;
    while got < n {
        buf.clear();
        let k = r.read_batch(&mut buf, cfg.batch);
        if k == 0 {
            r.wait(None);
            continue;
        }
        got += k as u64;
        r.commit();
    }
    let secs = t0.elapsed().as_secs_f64();
    wait_child(child);
    n as f64 / secs
}

fn sock_echo(path: &Path, n: u64) {
    let mut s = UnixStream::connect(path).unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..n {
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    }
}

pub fn socket_latency(cfg: &Config) -> Latency {
    pin(0);
    let dir = scratch();
    let path = dir.path().join("sock");
    let listener = UnixListener::bind(&path).unwrap();
    let warmup = cfg.round_trips / 10;
    let total = warmup + cfg.round_trips;
    let child = spawn_child(&["sock-echo", path.to_str().unwrap(), &total.to_string()]);
    let (mut s, _) = listener.accept().unwrap();
    let mut buf = [7u8; 64];
    let mut rtt = Vec::with_capacity(cfg.round_trips);
    for i in 0..total {
        let t0 = Instant::now();
        s.write_all(&buf).unwrap();
        s.read_exact(&mut buf).unwrap();
        if i >= warmup {
            rtt.push(t0.elapsed().as_nanos() as u64);
        }
    }
    wait_child(child);
    Latency::from_round_trips(rtt)
}

fn sock_stream(path: &Path, n: u64, batch: usize) {
    let mut s = UnixStream::connect(path).unwrap();
    let buf = vec![1u8; 64 * batch];
    let mut sent = 0u64;
    while sent < n {
        let k = (batch as u64).min(n - sent);
        s.write_all(&buf[..64 * k as usize]).unwrap();
        sent += k;
    }
}

pub fn socket_throughput(cfg: &Config, batch: usize) -> f64 {
    pin(0);
    let dir = scratch();
    let path = dir.path().join("sock");
    let listener = UnixListener::bind(&path).unwrap();
    let n = cfg.socket_records;
    let child = spawn_child(&[
        "sock-stream",
        path.to_str().unwrap(),
        &n.to_string(),
        &batch.to_string(),
    ]);
    let (mut s, _) = listener.accept().unwrap();
    // Reads as the receiver of single messages would: one 64-byte record per
    // read for single writes, up to a batch per read otherwise.
    let mut buf = vec![0u8; 64 * batch];
    let mut first = [0u8; 64];
    s.read_exact(&mut first).unwrap();
    let t0 = Instant::now();
    let mut bytes = 64u64;
    while bytes < n * 64 {
        let k = s.read(&mut buf).unwrap();
        assert!(k > 0, "socket closed early");
        bytes += k as u64;
    }
    let secs = t0.elapsed().as_secs_f64();
    wait_child(child);
    (n - 1) as f64 / secs
}
