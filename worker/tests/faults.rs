//! Fault tests with real processes: `aegis-worker up` and the standalone
//! roles under SIGKILL, SIGSTOP, a hung main loop, SIGTERM, corrupt ledgers
//! and checkpoints, and a scrape of every role's Prometheus endpoint.
//!
//! Every test uses its own temporary directories and free ports. The chaos
//! test prints its seed; rerun it with `AEGIS_FAULTS_SEED=<seed>`.
//!
//! Kept as one file: the fault tests share the process harness (spawning `up`
//! and the roles, free ports, scraping, waiting); a file under tests/ is a
//! test binary, and each more binary relinks the worker on CI's two cores.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aegis_contract::records::{Candle, Signal as SignalRecord};
use aegis_engine::ledger::{duplicate_orders, Entry};
use common::data::{backtest, good_rows, write_csv};
use common::http::http_get;
use common::up::{signal, wait_exit, Guard, Up, ROLES};
use common::{free_port_base, ledger_entries, temp_dir, wait_for, BIN};
use nix::sys::signal::Signal;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The state letter of `/proc/<pid>/stat` (`R`, `S`, `T`, `Z`...), or `None`
/// once the process is gone.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    after.trim_start().chars().next()
}

/// `n` good one-minute candles as CSV rows that make SMA(3)/SMA(8) cross
/// often, ending in a steady climb (so the last bars decide nothing new).
fn crossing_rows(n: usize) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let start = 1_700_000_040_000i64;
    let mut prev = 100.0f64;
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64;
        let close = if i + 40 < n {
            100.0
                + 5.0 * (t * std::f64::consts::TAU / 23.0).sin()
                + 2.0 * (t * std::f64::consts::TAU / 7.3).sin()
                + rng.random::<f64>()
        } else {
            prev + 0.3
        };
        let open = prev;
        let high = open.max(close) + 0.1;
        let low = open.min(close) - 0.1;
        rows.push(format!(
            "{},{open:.4},{high:.4},{low:.4},{close:.4},1",
            start + i as i64 * 60_000
        ));
        prev = (close * 1e4).round() / 1e4;
    }
    rows
}

/// The Order and Fill entries of signals before `end`.
fn trades_before(entries: &[Entry], end: u64) -> Vec<Entry> {
    entries
        .iter()
        .filter(|e| match e {
            Entry::Order { signal_seq, .. } | Entry::Fill { signal_seq, .. } => *signal_seq < end,
            _ => false,
        })
        .cloned()
        .collect()
}

fn ring_counts(rings: &Path) -> Option<(u64, u64, u64)> {
    let candles = ringbuf_shm::inspect(rings.join("candles")).ok()?;
    let signals = ringbuf_shm::inspect(rings.join("signals")).ok()?;
    let cursor = signals.reader("orchestrator")?.cursor;
    Some((candles.write_seq, signals.write_seq, cursor))
}

/// Every record of the ring at `path`, read by a new reader (which starts at
/// the oldest record the ring still holds).
fn ring_records<T: ringbuf_shm::Record>(path: &Path) -> Vec<T> {
    let ring = ringbuf_shm::Ring::<T>::open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut reader = ring.reader("faults-check").expect("a check reader");
    let mut out = Vec::new();
    while reader.read_batch(&mut out, 4096) > 0 {}
    out
}

// --------------------------------------------------------------- tests ----

/// SIGKILL random roles under `up` during a Lossless replay; nothing is lost,
/// duplicated or traded differently from an undisturbed backtest.
#[test]
fn kill_9_under_up_loses_and_duplicates_nothing() {
    const CANDLES: u64 = 3000;
    // `up` restarts with a backoff of 0.1 s doubling per restart, reset only
    // after 60 s of health: the 7th kill of one role costs 6.4 s, an 8th
    // would push this test past its time budget.
    const KILLS_PER_ROLE: usize = 7;
    let seed = std::env::var("AEGIS_FAULTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("chaos seed {seed} (rerun with AEGIS_FAULTS_SEED={seed})");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let work = temp_dir("aegis-faults-kill");
    let csv = work.path().join("candles.csv");
    write_csv(&csv, true, &crossing_rows(CANDLES as usize));
    let data = work.path().join("data");
    let strategy_sets = [
        "interval=1m".to_string(),
        "brain.strategy.params.fast=3".to_string(),
        "brain.strategy.params.slow=8".to_string(),
        // Protective exits, so restarts also cross stops, targets and a
        // trailing stop's best price (its `Trail` entries).
        "orchestrator.exits.stop_loss=0.015".to_string(),
        "orchestrator.exits.take_profit=0.04".to_string(),
        "orchestrator.exits.trailing_stop=0.01".to_string(),
        "orchestrator.exits.trailing_after=0.01".to_string(),
    ];
    let mut sets = strategy_sets.to_vec();
    sets.extend([
        "feed.source=replay".to_string(),
        format!("feed.replay.file={}", csv.display()),
        // 3000 minutes of candles in ~15 s.
        "feed.replay.speed=12000".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ]);
    let up = Up::start(work.path(), &sets, |_| {});

    let started = Instant::now();
    let mut kills = [0usize; 3];
    // Per role: when it was killed and its pid, until a new pid answers.
    let mut down: [Option<(Instant, u32)>; 3] = [None; 3];
    let mut log = Vec::new();
    let mut restarts: [Vec<f64>; 3] = Default::default();
    let mut watch = |down: &mut [Option<(Instant, u32)>; 3], log: &mut Vec<String>| {
        for (i, role) in ROLES.iter().enumerate() {
            let Some((killed, old)) = down[i] else {
                continue;
            };
            if let Some(new) = up.pid(role).filter(|&p| p != old) {
                let took = killed.elapsed().as_secs_f64();
                restarts[i].push(took);
                log.push(format!(
                    "{:>6.2} s {role} back as pid {new}, {took:.2} s after its kill",
                    started.elapsed().as_secs_f64()
                ));
                down[i] = None;
            }
        }
    };
    while kills.iter().sum::<usize>() < KILLS_PER_ROLE * 3
        && started.elapsed() < Duration::from_secs(40)
    {
        let pause = Instant::now() + Duration::from_millis(rng.random_range(200..900));
        while Instant::now() < pause {
            watch(&mut down, &mut log);
            std::thread::sleep(Duration::from_millis(50));
        }
        let candidates: Vec<(usize, u32)> = ROLES
            .iter()
            .enumerate()
            .filter(|(i, _)| kills[*i] < KILLS_PER_ROLE && down[*i].is_none())
            .filter_map(|(i, role)| up.pid(role).map(|pid| (i, pid)))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let (i, pid) = candidates[rng.random_range(0..candidates.len())];
        signal(pid, Signal::SIGKILL).expect("SIGKILL a role");
        down[i] = Some((Instant::now(), pid));
        kills[i] += 1;
        let progress = ring_counts(&up.rings).unwrap_or_default();
        log.push(format!(
            "{:>6.2} s kill -9 {} (pid {pid}); candles {} signals {} handled {}",
            started.elapsed().as_secs_f64(),
            ROLES[i],
            progress.0,
            progress.1,
            progress.2
        ));
    }
    let back = wait_for(Duration::from_secs(20), || {
        watch(&mut down, &mut log);
        down.iter().all(Option::is_none).then_some(())
    });
    assert!(back.is_some(), "a killed role never came back: {down:?}");
    println!("{}", log.join("\n"));
    println!(
        "kills: feed {} brain {} orchestrator {} in {:.1} s",
        kills[0],
        kills[1],
        kills[2],
        started.elapsed().as_secs_f64()
    );
    for (role, times) in ROLES.iter().zip(&restarts) {
        let times: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
        println!(
            "{role}: kill -9 to a new pid answering /status: {} s",
            times.join(", ")
        );
    }
    // The k-th restart of a role waits initial × 2^(k-1), then starts in
    // well under a second.
    let initial = aegis_worker::local::up::RESTART_BACKOFF
        .initial
        .as_secs_f64();
    for (role, times) in ROLES.iter().zip(&restarts) {
        for (k, &took) in times.iter().enumerate() {
            let backoff = initial * f64::from(1u32 << k);
            assert!(
                (backoff - 0.05..backoff + 1.5).contains(&took),
                "{role} restart {} took {took:.2} s; its backoff is {backoff} s",
                k + 1
            );
        }
    }
    assert!(
        kills.iter().all(|&k| k >= 3),
        "every role must be killed several times: {kills:?}"
    );

    let done = wait_for(Duration::from_secs(60), || {
        ring_counts(&up.rings).filter(|&(_, s, c)| s >= CANDLES && c >= CANDLES)
    });
    let counts = ring_counts(&up.rings);
    println!(
        "all signals handled {:.1} s after the first kill: {counts:?}",
        started.elapsed().as_secs_f64()
    );
    let rings = up.rings.clone();
    let status = up.stop();
    assert!(
        done.is_some(),
        "the pipeline did not finish: (candles, signals, handled) = {counts:?}"
    );
    assert_eq!(
        counts,
        Some((CANDLES, CANDLES, CANDLES)),
        "every candle written once, one signal per candle, all handled"
    );
    assert!(status.success(), "up exited with {status}");
    let after = ring_counts(&rings);
    assert_eq!(after, counts, "nothing moved after the stop");
    let candles: Vec<Candle> = ring_records(&rings.join("candles"));
    let signals: Vec<SignalRecord> = ring_records(&rings.join("signals"));
    for (i, (c, s)) in candles.iter().zip(&signals).enumerate() {
        let ts = 1_700_000_040_000 + i as i64 * 60_000;
        assert_eq!((c.seq, c.ts_ms), (i as u64, ts), "candle {i}");
        assert_eq!(
            (s.seq, s.candle_seq, s.ts_ms, s.close),
            (i as u64, i as u64, ts, c.close),
            "signal {i}"
        );
    }

    let ledger = ledger_entries(&data.join("ledger.jsonl"));
    assert_eq!(duplicate_orders(&ledger), Vec::<u64>::new());

    let out = work.path().join("backtest");
    let mut extra = Vec::new();
    for set in &strategy_sets {
        extra.extend(["--set", set.as_str()]);
    }
    backtest(&csv, &out, &extra);
    let reference = trades_before(&ledger_entries(&out.join("ledger.jsonl")), CANDLES);
    let ours = trades_before(&ledger, CANDLES);
    let orders = ours
        .iter()
        .filter(|e| matches!(e, Entry::Order { .. }))
        .count();
    println!(
        "ledger: {orders} orders, {} order+fill entries; reference {}",
        ours.len(),
        reference.len()
    );
    assert!(
        orders >= 100,
        "the data must trade often, got {orders} orders"
    );
    let mut exits = std::collections::BTreeMap::new();
    for e in &ours {
        if let Entry::Order { exit: Some(r), .. } = e {
            *exits.entry(r.as_str()).or_insert(0) += 1;
        }
    }
    println!("exits by reason: {exits:?}");
    assert!(
        exits.contains_key("stop_loss") && exits.contains_key("trailing_stop"),
        "the data must cross stops: {exits:?}"
    );
    if let Some(i) = (0..ours.len().min(reference.len())).find(|&i| ours[i] != reference[i]) {
        panic!(
            "entry {i} differs:\n  up:       {:?}\n  backtest: {:?}",
            ours[i], reference[i]
        );
    }
    assert_eq!(
        ours.len(),
        reference.len(),
        "same number of orders and fills"
    );
}

/// Measures SIGSTOP → a new process answering `/status` for one role.
fn sigstop_recovery(up: &Up, role: &str) -> Duration {
    let old = up.pid(role).expect("the role answers /status");
    let stopped = Instant::now();
    signal(old, Signal::SIGSTOP).expect("SIGSTOP");
    let new = wait_for(Duration::from_secs(10), || {
        up.pid(role).filter(|&pid| pid != old)
    });
    let took = stopped.elapsed();
    let Some(new) = new else {
        let _ = signal(old, Signal::SIGKILL);
        panic!("no new {role} within 10 s of SIGSTOP");
    };
    let state = proc_state(old);
    println!(
        "SIGSTOP {role} (pid {old}) -> new pid {new} answering /status after {:.2} s; old pid state {state:?}",
        took.as_secs_f64()
    );
    assert!(
        state.is_none() || state == Some('Z'),
        "the stopped {role} must be killed, its state is {state:?}"
    );
    assert!(
        took <= Duration::from_millis(4500),
        "the {role} took {:.2} s to come back (limit 4.5 s)",
        took.as_secs_f64()
    );
    took
}

/// A SIGSTOPped role fails its liveness probes, is killed and replaced within
/// period × threshold + timeout + restart.
#[test]
fn sigstopped_roles_are_replaced_within_the_probe_budget() {
    let work = temp_dir("aegis-faults-stop");
    let data = work.path().join("data");
    let sets = [
        "feed.simulated.speed=20".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ];
    let up = Up::start(work.path(), &sets, |_| {});
    // Past the probes' initial delay, so every role is being probed.
    std::thread::sleep(Duration::from_millis(1500));
    sigstop_recovery(&up, "brain");
    sigstop_recovery(&up, "feed");
    let status = up.stop();
    assert!(status.success(), "up exited with {status}");
}

/// A main loop hung in a system call (the brain's checkpoint read at
/// startup blocks on a FIFO nobody writes) while the process runs:
/// `/healthz` fails once the heartbeat is 2 s old, and `up` kills and
/// replaces the brain.
#[test]
fn a_hung_main_loop_fails_healthz_and_is_replaced() {
    let work = temp_dir("aegis-faults-hang");
    let data = work.path().join("data");
    let sets = [
        "feed.simulated.speed=20".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ];
    let up = Up::start(work.path(), &sets, |rings| {
        let fifo = rings.join("brain.checkpoint.json");
        let made = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("running mkfifo");
        assert!(made.success(), "mkfifo {}", fifo.display());
    });
    let port = up.port("brain");
    let hung_pid = up.pid("brain").expect("the brain answers /status");
    let started = Instant::now();
    let failing = wait_for(Duration::from_secs(12), || {
        http_get(port, "/healthz", Duration::from_millis(400))
            .ok()
            .filter(|r| r.status == 503)
    });
    let failing = failing.expect("/healthz of the hung brain never failed");
    println!(
        "brain /healthz failed {:.2} s after start: {}",
        started.elapsed().as_secs_f64(),
        failing.body.trim()
    );
    assert!(
        failing.body.contains("has not made progress"),
        "{failing:?}"
    );
    let state = proc_state(hung_pid);
    assert!(
        matches!(state, Some('S' | 'D' | 'R')),
        "the hung brain is running (not stopped): state {state:?}"
    );
    // /status still answers: the HTTP thread is not the main loop.
    assert_eq!(up.pid("brain"), Some(hung_pid));
    let replaced = wait_for(Duration::from_secs(8), || {
        up.pid("brain").filter(|&p| p != hung_pid)
    });
    println!(
        "hung brain replaced after {:.2} s in all",
        started.elapsed().as_secs_f64()
    );
    assert!(replaced.is_some(), "up did not replace the hung brain");
    assert!(
        matches!(proc_state(hung_pid), None | Some('Z')),
        "the hung brain was killed"
    );
    // Open and close the FIFO's writing end while a brain waits on it: the
    // brain reads an empty (corrupt) checkpoint, moves it aside and goes on,
    // so it can stop on SIGTERM.
    let fifo = up.rings.join("brain.checkpoint.json");
    let released = wait_for(Duration::from_secs(20), || {
        use std::os::unix::fs::OpenOptionsExt;
        // ENXIO while no brain has it open for reading: try again.
        drop(
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&fifo),
        );
        std::thread::sleep(Duration::from_millis(100));
        let still_fifo = std::fs::symlink_metadata(&fifo).is_ok_and(|m| {
            use std::os::unix::fs::FileTypeExt;
            m.file_type().is_fifo()
        });
        (!still_fifo).then_some(())
    });
    assert!(released.is_some(), "the FIFO was moved aside");
    let status = up.stop();
    assert!(status.success(), "up exited with {status}");
}

/// Writes a configuration for the standalone roles; returns its path.
fn standalone_config(dir: &Path, base: u16) -> PathBuf {
    standalone_config_with(dir, base, &Sections::default())
}

/// Extra lines (each indented by two spaces) for sections of a standalone
/// configuration.
#[derive(Default)]
struct Sections {
    rings: &'static str,
    feed: &'static str,
    brain: &'static str,
    /// `feed.simulated.speed` (default 20 candles a second).
    feed_speed: Option<u32>,
}

fn standalone_config_with(dir: &Path, base: u16, extra: &Sections) -> PathBuf {
    let path = dir.join("config.yaml");
    let yaml = format!(
        "rings:\n  dir: {rings}\n{rings_extra}feed:\n  listen: 127.0.0.1:{feed}\n  simulated:\n    speed: {speed}\n{feed_extra}brain:\n  listen: 127.0.0.1:{brain}\n{brain_extra}orchestrator:\n  listen: 127.0.0.1:{orch}\n  data_dir: {data}\n{control}log:\n  format: json\n",
        rings = dir.join("rings").display(),
        data = dir.join("data").display(),
        feed = base,
        brain = base + 1,
        orch = base + 2,
        rings_extra = extra.rings,
        feed_extra = extra.feed,
        brain_extra = extra.brain,
        speed = extra.feed_speed.unwrap_or(20),
        control = common::http::standalone_control(dir, base + 3).1,
    );
    std::fs::write(&path, yaml).expect("writing the configuration");
    path
}

/// A standalone role with its stdout and stderr in files.
struct Role {
    guard: Guard,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Role {
    fn start(config: &Path, role: &str) -> Role {
        let dir = config.parent().expect("the config's directory");
        let stdout = dir.join(format!("{role}.out"));
        let stderr = dir.join(format!("{role}.err"));
        let child = Command::new(BIN)
            .arg("--config")
            .arg(config)
            .arg(role)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).expect("creating stdout"))
            .stderr(File::create(&stderr).expect("creating stderr"))
            .spawn()
            .expect("starting a role");
        Role {
            guard: Guard(child),
            stdout,
            stderr,
        }
    }

    /// Every role on `config`, each healthy on its port from `base` on.
    fn start_all(config: &Path, base: u16) -> Vec<Role> {
        let mut roles: Vec<Role> = ROLES.iter().map(|r| Role::start(config, r)).collect();
        for (i, role) in roles.iter_mut().enumerate() {
            role.wait_healthy(base + i as u16);
        }
        roles
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
            + &std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn wait_healthy(&mut self, port: u16) {
        let ok = wait_for(Duration::from_secs(10), || {
            if self.guard.0.try_wait().ok().flatten().is_some() {
                return Some(false);
            }
            http_get(port, "/healthz", Duration::from_millis(300))
                .ok()
                .filter(|r| r.status == 200)
                .map(|_| true)
        });
        assert_eq!(
            ok,
            Some(true),
            "no healthy /healthz on {port}; output:\n{}",
            self.output()
        );
    }
}

/// JSON log lines (stdout) whose text contains `needle`.
fn log_lines_with(text: &str, needle: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// SIGTERM stops each standalone role with status 0 and a clean-stop line.
#[test]
fn sigterm_stops_each_standalone_role_cleanly() {
    let work = temp_dir("aegis-faults-term");
    let base = free_port_base();
    let config = standalone_config(work.path(), base);
    let roles = Role::start_all(&config, base);
    // Let candles flow through all three for a moment.
    let flowing = wait_for(Duration::from_secs(5), || {
        ring_counts(&work.path().join("rings")).filter(|&(_, _, c)| c > 10)
    });
    assert!(flowing.is_some(), "no signals handled by the orchestrator");
    // Upstream first: the brain then drains, the orchestrator handles the rest.
    for (name, mut role) in ROLES.iter().zip(roles) {
        let pid = role.guard.0.id();
        let sent = Instant::now();
        signal(pid, Signal::SIGTERM).expect("SIGTERM");
        let status = wait_exit(&mut role.guard.0, Duration::from_secs(5));
        let output = role.output();
        let status = status.unwrap_or_else(|| panic!("{name} did not exit within 5 s:\n{output}"));
        println!(
            "{name}: {status} {:.0} ms after SIGTERM",
            sent.elapsed().as_secs_f64() * 1e3
        );
        assert!(status.success(), "{name} exited with {status}:\n{output}");
        let stdout = std::fs::read_to_string(&role.stdout).unwrap_or_default();
        assert!(
            !log_lines_with(&stdout, "stopped cleanly").is_empty(),
            "{name}: no JSON 'stopped cleanly' line in stdout:\n{stdout}"
        );
    }
}

/// Each order's log line carries the latency of every step from the
/// candle's arrival at the feed: the signal, the decision, then the ledger
/// append holding the order, in that order and all stamped.
#[test]
fn order_lines_stamp_each_step_from_the_candle() {
    let work = temp_dir("aegis-faults-stamps");
    let base = free_port_base();
    let config = standalone_config_with(
        work.path(),
        base,
        &Sections {
            // Flips its target on most bars: orders from the first seconds.
            brain: "  strategy:\n    name: sma-cross\n    params:\n      fast: 1\n      slow: 2\n",
            feed_speed: Some(100),
            ..Sections::default()
        },
    );
    let roles = Role::start_all(&config, base);
    let orchestrator = &roles[2];
    let orders = wait_for(Duration::from_secs(10), || {
        let stdout = std::fs::read_to_string(&orchestrator.stdout).unwrap_or_default();
        let lines: Vec<serde_json::Value> = log_lines_with(&stdout, "\"order\"")
            .into_iter()
            .filter(|v| v["message"] == "order")
            .collect();
        (lines.len() >= 20).then_some(lines)
    });
    let orders = orders.unwrap_or_else(|| {
        panic!(
            "fewer than 20 order lines in 10 s:\n{}",
            orchestrator.output()
        )
    });
    for line in &orders {
        let ns = |field: &str| {
            line[field]
                .as_u64()
                .unwrap_or_else(|| panic!("no {field} in {line}"))
        };
        let (signal, order, ledger) = (
            ns("tick_to_signal_ns"),
            ns("tick_to_order_ns"),
            ns("tick_to_ledger_ns"),
        );
        assert!(
            0 < signal && signal <= order && order <= ledger,
            "steps out of order in {line}"
        );
        // The append is fsync'd; a stamp taken before it could not tell.
        assert!(ledger < 10_000_000_000, "a 10 s step in {line}");
    }
}

/// A running brain whose rules cannot decide (a division by zero on every
/// bar) holds its position and counts those bars in
/// `aegis_rule_no_signal_total`.
#[test]
fn a_running_brain_counts_the_bars_its_rules_could_not_decide() {
    let work = temp_dir("aegis-faults-rules");
    let base = free_port_base();
    let config = standalone_config_with(
        work.path(),
        base,
        &Sections {
            brain: "  strategy:\n    name: rules\n    rules:\n      enter_long: \"close / (open - open) > 1\"\n      exit_long: \"close < 0\"\n",
            feed_speed: Some(100),
            ..Sections::default()
        },
    );
    let roles = Role::start_all(&config, base);
    let brain = base + 1;
    let counted = wait_for(Duration::from_secs(10), || {
        let r = http_get(brain, "/metrics", Duration::from_secs(1)).ok()?;
        let samples = parse_prometheus(&r.body).ok()?;
        sample(&samples, "aegis_rule_no_signal_total").filter(|&n| n >= 20.0)
    });
    assert!(
        counted.is_some(),
        "no 20 undecided bars counted in 10 s:\n{}",
        roles[1].output()
    );
    // Held flat: no order ever.
    let orchestrator = std::fs::read_to_string(&roles[2].stdout).unwrap_or_default();
    assert!(
        log_lines_with(&orchestrator, "\"order\"")
            .iter()
            .all(|v| v["message"] != "order"),
        "an order from rules that never decide:\n{orchestrator}"
    );
}

fn mark_line(seq: u64) -> String {
    Entry::Mark {
        signal_seq: seq,
        ts_ms: 1_700_000_040_000 + seq as i64 * 1000,
        peak_equity: "10000".parse().expect("a decimal"),
        day_start_equity: "10000".parse().expect("a decimal"),
    }
    .to_line()
    .expect("encoding a Mark")
}

/// A garbage complete line in the ledger stops the orchestrator with an error
/// naming the file and the line; a torn last line is cut off with a warning.
#[test]
fn corrupt_ledgers_fail_loudly_and_torn_lines_are_repaired() {
    // A garbage line in the middle.
    let work = temp_dir("aegis-faults-ledger");
    let base = free_port_base();
    let config = standalone_config(work.path(), base);
    let ledger = work.path().join("data/ledger.jsonl");
    std::fs::create_dir_all(ledger.parent().expect("a parent")).expect("creating data");
    let text = format!(
        "{}\n{{\"v\":1,\"type\":\"garbage\n{}\n",
        mark_line(0),
        mark_line(1)
    );
    std::fs::write(&ledger, &text).expect("writing the ledger");
    let mut role = Role::start(&config, "orchestrator");
    let status = wait_exit(&mut role.guard.0, Duration::from_secs(5));
    let output = role.output();
    let status = status.unwrap_or_else(|| panic!("a corrupt ledger did not stop it:\n{output}"));
    assert!(!status.success(), "exit status {status}:\n{output}");
    let stderr = std::fs::read_to_string(&role.stderr).unwrap_or_default();
    assert!(
        stderr.contains(&ledger.display().to_string()) && stderr.contains("line 2"),
        "stderr must name {} and line 2:\n{stderr}",
        ledger.display()
    );
    assert_eq!(
        std::fs::read_to_string(&ledger).ok().as_deref(),
        Some(text.as_str()),
        "a corrupt ledger is left as it was"
    );

    // A torn last line.
    let work = temp_dir("aegis-faults-torn");
    let base = free_port_base();
    let config = standalone_config(work.path(), base);
    let ledger = work.path().join("data/ledger.jsonl");
    std::fs::create_dir_all(ledger.parent().expect("a parent")).expect("creating data");
    let complete = format!("{}\n{}\n", mark_line(0), mark_line(1));
    let torn = &mark_line(2)[..20];
    std::fs::write(&ledger, format!("{complete}{torn}")).expect("writing the ledger");
    let mut role = Role::start(&config, "orchestrator");
    role.wait_healthy(base + 2);
    // The log reaches the file a moment after it is written: wait for it.
    let torn_warning = |stdout: &str| {
        log_lines_with(stdout, "torn")
            .iter()
            .any(|w| w["level"] == "WARN" && w.to_string().contains("\"line\":3"))
    };
    let warned = wait_for(Duration::from_secs(10), || {
        let stdout = std::fs::read_to_string(&role.stdout).unwrap_or_default();
        torn_warning(&stdout).then_some(())
    });
    let stdout = std::fs::read_to_string(&role.stdout).unwrap_or_default();
    assert!(warned.is_some(), "no warning naming torn line 3:\n{stdout}");
    assert_eq!(
        std::fs::read_to_string(&ledger).ok().as_deref(),
        Some(complete.as_str()),
        "the ledger is cut back to its last complete line"
    );
    signal(role.guard.0.id(), Signal::SIGTERM).expect("SIGTERM");
    let status = wait_exit(&mut role.guard.0, Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// Garbage in the brain's checkpoint: the brain starts cold, says so at
/// error level and keeps the bad file aside.
#[test]
fn a_corrupt_brain_checkpoint_is_moved_aside() {
    let work = temp_dir("aegis-faults-ckpt");
    let base = free_port_base();
    let config = standalone_config(work.path(), base);
    let rings = work.path().join("rings");
    std::fs::create_dir_all(&rings).expect("creating rings");
    let checkpoint = rings.join("brain.checkpoint.json");
    let garbage = "{\"strategy\": \"sma-cross\", \"params\": 17 oops";
    std::fs::write(&checkpoint, garbage).expect("writing the checkpoint");
    let mut brain = Role::start(&config, "brain");
    brain.wait_healthy(base + 1);
    // Still the same process a moment later: no crash loop.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        brain.guard.0.try_wait().ok().flatten().is_none(),
        "the brain exited:\n{}",
        brain.output()
    );
    let stdout = std::fs::read_to_string(&brain.stdout).unwrap_or_default();
    let errors = log_lines_with(&stdout, "brain checkpoint");
    assert!(
        errors
            .iter()
            .any(|e| e["level"] == "ERROR"
                && e.to_string().contains("brain.checkpoint.json.corrupt")),
        "no error naming where the checkpoint went:\n{stdout}"
    );
    let aside = rings.join("brain.checkpoint.json.corrupt");
    assert_eq!(
        std::fs::read_to_string(&aside).ok().as_deref(),
        Some(garbage),
        "the corrupt checkpoint is kept at {}",
        aside.display()
    );
    assert!(
        !checkpoint.exists(),
        "the corrupt checkpoint is gone from its place"
    );
    signal(brain.guard.0.id(), Signal::SIGTERM).expect("SIGTERM");
    let status = wait_exit(&mut brain.guard.0, Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// Parses the Prometheus text format; returns (name, labels, value) per sample.
fn parse_prometheus(text: &str) -> Result<Vec<(String, String, f64)>, String> {
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let bad = |why: &str| format!("line {}: {why}: {line:?}", i + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .ok_or_else(|| bad("no value"))?;
        let name = &line[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad("bad metric name"));
        }
        let mut rest = &line[name_end..];
        let mut labels = String::new();
        if rest.starts_with('{') {
            let close = rest.find('}').ok_or_else(|| bad("unclosed labels"))?;
            labels = rest[1..close].to_string();
            for pair in labels.split(',').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').ok_or_else(|| bad("label without ="))?;
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(bad("bad label name"));
                }
                if !(v.len() >= 2 && v.starts_with('"') && v.ends_with('"')) {
                    return Err(bad("unquoted label value"));
                }
            }
            rest = &rest[close + 1..];
        }
        let mut fields = rest.split_whitespace();
        let value = fields.next().ok_or_else(|| bad("no value"))?;
        let value: f64 = value.parse().map_err(|_| bad("value is not a number"))?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| bad("bad timestamp"))?;
        }
        if fields.next().is_some() {
            return Err(bad("trailing fields"));
        }
        if !rest.starts_with(' ') {
            return Err(bad("no space before the value"));
        }
        samples.push((name.to_string(), labels, value));
    }
    Ok(samples)
}

fn sample(samples: &[(String, String, f64)], name: &str) -> Option<f64> {
    samples
        .iter()
        .find(|(n, labels, _)| n == name && labels.is_empty())
        .map(|s| s.2)
}

#[test]
fn prometheus_parser_refuses_malformed_lines() {
    assert!(parse_prometheus("# HELP a b\na_total 3\nb{x=\"1\",y=\"2\"} 1.5e3 1700\n").is_ok());
    for bad in [
        "a_total",
        "a_total three",
        "a{x=1} 2",
        "a{x=\"1\" 2",
        "9a 1",
        "a 1 2 3",
    ] {
        assert!(parse_prometheus(bad).is_err(), "{bad:?} must be refused");
    }
}

/// Every role's `/metrics` is Prometheus text whose counters grow, and the
/// feed turns ready once candles flow.
#[test]
fn metrics_are_prometheus_text_and_counters_grow() {
    let work = temp_dir("aegis-faults-metrics");
    let data = work.path().join("data");
    let sets = [
        "feed.simulated.speed=20".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ];
    let up = Up::start(work.path(), &sets, |_| {});
    let ready = wait_for(Duration::from_secs(5), || {
        http_get(up.port("feed"), "/readyz", Duration::from_millis(300))
            .ok()
            .filter(|r| r.status == 200)
    });
    assert!(ready.is_some(), "the feed never became ready");

    let expected: [(&str, &[&str]); 3] = [
        ("feed", &["aegis_candles_written_total"]),
        ("brain", &["aegis_signals_total"]),
        (
            "orchestrator",
            &["aegis_signals_read_total", "aegis_equity"],
        ),
    ];
    let scrape = |role: &str| {
        let port = up.port(role);
        let r = http_get(port, "/metrics", Duration::from_secs(1))
            .unwrap_or_else(|e| panic!("scraping the {role}: {e}"));
        assert_eq!(r.status, 200, "{role} /metrics");
        let kind = r.content_type.clone().unwrap_or_default();
        assert!(
            kind.starts_with("text/plain; version=0.0.4"),
            "{role} content type {kind:?}"
        );
        parse_prometheus(&r.body).unwrap_or_else(|e| panic!("{role} /metrics: {e}"))
    };
    let first: Vec<_> = expected.iter().map(|(role, _)| scrape(role)).collect();
    std::thread::sleep(Duration::from_millis(1500));
    let second: Vec<_> = expected.iter().map(|(role, _)| scrape(role)).collect();
    for (i, (role, names)) in expected.iter().enumerate() {
        for name in *names {
            let a = sample(&first[i], name);
            let b = sample(&second[i], name);
            println!("{role} {name}: {a:?} -> {b:?}");
            let (Some(a), Some(b)) = (a, b) else {
                panic!("{role} does not export {name}");
            };
            if name.ends_with("_total") {
                assert!(b > a, "{role} {name} did not grow: {a} -> {b}");
            } else {
                assert!(b.is_finite() && b > 0.0, "{role} {name} = {b}");
            }
        }
    }
    let status = up.stop();
    assert!(status.success(), "up exited with {status}");
}

/// The rings as a brain leaves them when it is killed after publishing its
/// first signals but before its first checkpoint: `published` signals in the
/// signal ring, no checkpoint, the candle cursor still at 0. Returns the
/// candles written.
fn rings_before_first_checkpoint(rings: &Path, candles: u64, published: u64) -> Vec<Candle> {
    use aegis_engine::strategy;
    use ringbuf_shm::{Overflow, Ring, RingOptions};
    std::fs::create_dir_all(rings).expect("creating rings");
    let candle_ring: Ring<Candle> = Ring::create_or_open(
        rings.join("candles"),
        &RingOptions::new(65536, Overflow::Lossless).with_reader("brain"),
    )
    .expect("creating the candle ring");
    let signal_ring: Ring<SignalRecord> = Ring::create_or_open(
        rings.join("signals"),
        &RingOptions::new(65536, Overflow::Lossless).with_reader("orchestrator"),
    )
    .expect("creating the signal ring");
    let mut strategy =
        strategy::build("sma-cross", &Default::default()).expect("the default strategy");
    let written: Vec<Candle> = (0..candles)
        .map(|i| {
            let close = 100.0 + (i as f64 * 0.7).sin() * 5.0;
            Candle {
                seq: 0,
                ts_ms: 1_700_000_000_000 + i as i64 * 1000,
                open: close,
                high: close + 1.0,
                low: close - 1.0,
                close,
                volume: 1.0,
                ingest_ns: 0,
            }
        })
        .collect();
    let mut candle_writer = candle_ring.writer().expect("the candle writer");
    candle_writer.write_batch(&written);
    let mut signal_writer = signal_ring.writer().expect("the signal writer");
    for (i, c) in written.iter().take(published as usize).enumerate() {
        let target = strategy.on_close(c.close).as_i64();
        signal_writer.write(&SignalRecord {
            candle_seq: i as u64,
            ts_ms: c.ts_ms,
            open: c.open,
            close: c.close,
            target,
            ..SignalRecord::default()
        });
    }
    written
}

/// A brain killed between publishing signals and its first checkpoint
/// continues with exactly one signal per candle: it neither republishes the
/// candles whose signals the ring holds under new sequence numbers nor skips
/// any.
#[test]
fn a_brain_killed_before_its_first_checkpoint_publishes_no_duplicates() {
    const CANDLES: u64 = 40;
    const PUBLISHED: u64 = 25;
    let work = temp_dir("aegis-faults-first-ckpt");
    let base = free_port_base();
    let config = standalone_config(work.path(), base);
    let rings = work.path().join("rings");
    let written = rings_before_first_checkpoint(&rings, CANDLES, PUBLISHED);
    let mut brain = Role::start(&config, "brain");
    brain.wait_healthy(base + 1);
    // The brain handles the candles, checkpoints when idle and commits its cursor.
    let handled = wait_for(Duration::from_secs(5), || {
        ringbuf_shm::inspect(rings.join("candles"))
            .ok()
            .and_then(|s| s.reader("brain").map(|r| r.cursor))
            .filter(|&c| c == CANDLES)
    });
    signal(brain.guard.0.id(), Signal::SIGTERM).expect("SIGTERM");
    let status = wait_exit(&mut brain.guard.0, Duration::from_secs(5));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
    assert!(handled.is_some(), "the brain did not handle every candle");
    let signals: Vec<SignalRecord> = ring_records(&rings.join("signals"));
    let candle_seqs: Vec<u64> = signals.iter().map(|s| s.candle_seq).collect();
    assert_eq!(
        candle_seqs,
        (0..CANDLES).collect::<Vec<_>>(),
        "one signal per candle, in order"
    );
    // A strategy that never checkpointed restarts from the first candle, so
    // even the targets are those of an uninterrupted run.
    let mut strategy = aegis_engine::strategy::build("sma-cross", &Default::default())
        .expect("the default strategy");
    for (s, c) in signals.iter().zip(&written) {
        assert_eq!(s.target, strategy.on_close(c.close).as_i64(), "{s:?}");
    }
}

/// A consumer that stops taking candles makes the feed unready (stale data),
/// never dead; once the consumer reads again the feed is ready again.
#[test]
fn a_full_candle_ring_makes_the_feed_unready_not_dead() {
    let work = temp_dir("aegis-faults-stale");
    let base = free_port_base();
    let config = standalone_config_with(
        work.path(),
        base,
        &Sections {
            rings: "  candles_capacity: 64\n",
            feed: "  stale_after_secs: 1\n",
            brain: "  checkpoint_every: 16\n",
            feed_speed: Some(100),
        },
    );
    let mut feed = Role::start(&config, "feed");
    feed.wait_healthy(base);
    let readyz = |port: u16| http_get(port, "/readyz", Duration::from_millis(400)).ok();
    let ready = wait_for(Duration::from_secs(3), || {
        readyz(base).filter(|r| r.status == 200)
    });
    assert!(ready.is_some(), "the feed never became ready");
    // Nobody reads: the Lossless ring fills, and the last candle ages.
    let stale = wait_for(Duration::from_secs(5), || {
        readyz(base).filter(|r| r.status == 503)
    })
    .expect("the feed stayed ready with a full ring");
    println!("feed /readyz: {}", stale.body.trim());
    assert!(stale.body.contains("stale after"), "{stale:?}");
    let live = http_get(base, "/healthz", Duration::from_millis(400)).expect("/healthz");
    assert_eq!(
        live.status, 200,
        "a slow consumer must not kill the feed: {live:?}"
    );
    let ring = ringbuf_shm::inspect(work.path().join("rings/candles")).expect("the candle ring");
    assert_eq!(ring.write_seq, 64, "the feed filled the ring and waits");

    let mut brain = Role::start(&config, "brain");
    brain.wait_healthy(base + 1);
    let ready = wait_for(Duration::from_secs(5), || {
        readyz(base).filter(|r| r.status == 200)
    });
    assert!(ready.is_some(), "the feed did not become ready again");
    for (name, mut role) in [("brain", brain), ("feed", feed)] {
        signal(role.guard.0.id(), Signal::SIGTERM).expect("SIGTERM");
        let status = wait_exit(&mut role.guard.0, Duration::from_secs(5));
        assert!(status.is_some_and(|s| s.success()), "{name}: {status:?}");
    }
}

/// `kill -9` of `up` itself takes its three children with it, and `up` run
/// again on the same directories resumes the rings and the ledger.
#[test]
fn kill_9_of_up_takes_its_children_and_a_rerun_resumes() {
    let work = temp_dir("aegis-faults-up-kill");
    let data = work.path().join("data");
    let sets = [
        "feed.simulated.speed=50".to_string(),
        "feed.simulated.start_ts_ms=1700000000000".to_string(),
        "brain.strategy.params.fast=2".to_string(),
        "brain.strategy.params.slow=4".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ];
    let mut up = Up::start(work.path(), &sets, |_| {});
    let rings = up.rings.clone();
    let flowed = wait_for(Duration::from_secs(5), || {
        ring_counts(&rings).filter(|&(_, _, c)| c >= 50)
    });
    assert!(flowed.is_some(), "no signals handled");
    let pids: Vec<u32> = ROLES.iter().filter_map(|r| up.pid(r)).collect();
    assert_eq!(pids.len(), 3);
    signal(up.guard.0.id(), Signal::SIGKILL).expect("SIGKILL up");
    let _ = up.guard.0.wait();
    let gone = wait_for(Duration::from_secs(3), || {
        pids.iter()
            .all(|&p| matches!(proc_state(p), None | Some('Z')))
            .then_some(())
    });
    assert!(
        gone.is_some(),
        "children outlived a SIGKILLed up: {:?}",
        pids.iter().map(|&p| proc_state(p)).collect::<Vec<_>>()
    );
    let before = ring_counts(&rings).expect("the rings");
    println!("after kill -9 of up: (candles, signals, handled) = {before:?}");

    let up = Up::resume(work.path(), &sets, &rings);
    let more = wait_for(Duration::from_secs(5), || {
        ring_counts(&rings).filter(|&(c, _, h)| c >= before.0 + 50 && h >= before.0 + 50)
    });
    let status = up.stop();
    assert!(
        more.is_some(),
        "the rerun did not resume: {:?}",
        ring_counts(&rings)
    );
    assert!(status.success(), "up exited with {status}");
    let (candles, signals, handled) = ring_counts(&rings).expect("the rings");
    assert_eq!(
        (signals, handled),
        (candles, candles),
        "all handled after the stop"
    );
    let stored: Vec<Candle> = ring_records(&rings.join("candles"));
    for (i, c) in stored.iter().enumerate() {
        assert_eq!(
            (c.seq, c.ts_ms),
            (i as u64, 1_700_000_000_000 + i as i64 * 1000),
            "the simulation continues on its grid without a gap or a repeat"
        );
    }
    let ledger = ledger_entries(&data.join("ledger.jsonl"));
    let orders = ledger
        .iter()
        .filter(|e| matches!(e, Entry::Order { .. }))
        .count();
    println!("rerun resumed: {candles} candles, {orders} orders in the ledger");
    assert!(orders > 2, "fast=2 slow=4 must trade");
    assert_eq!(duplicate_orders(&ledger), Vec::<u64>::new());
}

/// The ledger outlives the rings: `up` run again with fresh rings (as a new
/// pod gets a fresh emptyDir) but the same data directory trades the new
/// ring's signals from its first one, under keys after the ledger's last.
#[test]
fn fresh_rings_with_an_old_ledger_trade_from_the_first_signal() {
    let work = temp_dir("aegis-faults-new-rings");
    let data = work.path().join("data");
    let sets = [
        "feed.simulated.speed=50".to_string(),
        "brain.strategy.params.fast=2".to_string(),
        "brain.strategy.params.slow=4".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ];
    let mut last_keys = Vec::new();
    for run in ["first", "second"] {
        let up = Up::start(&work.path().join(run), &sets, |_| {});
        let rings = up.rings.clone();
        let handled = wait_for(Duration::from_secs(5), || {
            ring_counts(&rings).filter(|&(_, _, c)| c >= 60)
        });
        let status = up.stop();
        assert!(handled.is_some(), "{run} run: no signals handled");
        assert!(status.success(), "{run} run: up exited with {status}");
        let ledger = ledger_entries(&data.join("ledger.jsonl"));
        assert_eq!(duplicate_orders(&ledger), Vec::<u64>::new());
        let keys: Vec<u64> = ledger
            .iter()
            .filter_map(|e| match e {
                Entry::Order { signal_seq, .. } => Some(*signal_seq),
                _ => None,
            })
            .collect();
        let handled_here = ring_counts(&rings).map_or(0, |c| c.2);
        let before = last_keys.len();
        let new_orders = keys.len() - before;
        println!(
            "{run} run: {handled_here} signals handled, {new_orders} new orders, keys {:?}",
            &keys[before..]
        );
        assert!(
            new_orders >= 3,
            "the {run} run must trade (fast=2 slow=4 over {handled_here} bars)"
        );
        if let Some(&old_last) = last_keys.last() {
            assert!(
                keys[before..].iter().all(|&k| k > old_last),
                "new orders are keyed after the old ones"
            );
        }
        last_keys = keys;
    }
}

/// SIGTERM to `up` while a role is SIGSTOPped: the role is continued, stops
/// cleanly, and `up` exits 0 well within its 10 s grace period.
#[test]
fn up_stops_cleanly_with_a_stopped_role() {
    let work = temp_dir("aegis-faults-term-stopped");
    let data = work.path().join("data");
    let sets = [
        "feed.simulated.speed=20".to_string(),
        format!("orchestrator.data_dir={}", data.display()),
    ];
    let up = Up::start(work.path(), &sets, |_| {});
    let pid = up.pid("orchestrator").expect("the orchestrator answers");
    let log = up.rings.join("logs/orchestrator.log");
    let stdout = up.stdout.clone();
    signal(pid, Signal::SIGSTOP).expect("SIGSTOP");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(proc_state(pid), Some('T'), "the orchestrator is stopped");
    let sent = Instant::now();
    let status = up.stop();
    let took = sent.elapsed();
    println!(
        "up exited {status} {:.2} s after SIGTERM with the orchestrator stopped",
        took.as_secs_f64()
    );
    assert!(status.success(), "up exited with {status}");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}: the grace ran out"
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    // The orchestrator was never replaced, so the clean stop is the stopped one's.
    let summary = std::fs::read_to_string(&stdout).unwrap_or_default();
    assert!(
        summary.contains("orchestrator=0"),
        "the orchestrator was restarted:\n{summary}"
    );
    assert!(
        !log_lines_with(&text, "stopped cleanly").is_empty(),
        "no clean stop in {}:\n{text}",
        log.display()
    );
    assert!(
        matches!(proc_state(pid), None | Some('Z')),
        "the orchestrator is gone"
    );
}

/// A feed restarted after replaying a file with bad rows passes over them
/// with the rows it already published: each bad row is counted once.
#[test]
fn a_restarted_replay_counts_each_bad_row_once() {
    let work = temp_dir("aegis-faults-resume-rejects");
    let data = work.path().join("dirty.csv");
    let mut rows = good_rows(200, 5);
    rows.insert(50, "garbage,row".into());
    rows.insert(120, "1700000000001,NaN,1,1,1,1".into());
    write_csv(&data, true, &rows);
    let sets = [
        "feed.source=replay".to_string(),
        format!("feed.replay.file={}", data.display()),
        "feed.replay.speed=0".into(),
        "interval=1m".into(),
        format!(
            "orchestrator.data_dir={}",
            work.path().join("data").display()
        ),
    ];
    let up = Up::start(work.path(), &sets, |_| {});
    let feed_status = |up: &Up| -> Option<serde_json::Value> {
        let r = http_get(up.port("feed"), "/status", Duration::from_secs(1)).ok()?;
        serde_json::from_str(&r.body).ok()
    };
    assert!(
        wait_for(Duration::from_secs(20), || ring_counts(&up.rings)
            .filter(|c| c.0 == 200))
        .is_some(),
        "the replay did not finish"
    );
    let before = feed_status(&up).expect("feed status");
    assert_eq!(before["rejected_total"], 2, "{before}");
    let old = up.pid("feed").expect("feed pid");
    signal(old, Signal::SIGKILL).expect("kill -9 the feed");
    let after = wait_for(Duration::from_secs(10), || {
        feed_status(&up).filter(|s| {
            s["pid"].as_u64().is_some_and(|p| p != u64::from(old)) && s["finished"] == true
        })
    })
    .expect("a new feed finished passing over the file");
    assert_eq!(after["rejected_total"], 0, "counted again: {after}");
    assert_eq!(after["candles_written"], 0, "{after}");
    assert_eq!(
        ring_counts(&up.rings).map(|c| c.0),
        Some(200),
        "no candle written twice"
    );
    assert!(up.stop().success());
}

/// A ring directory another user could have planted — a symbolic link to a
/// directory elsewhere — is refused by a role before it writes anything,
/// naming the path.
#[test]
fn a_planted_ring_directory_is_refused() {
    let work = temp_dir("aegis-faults-planted");
    let elsewhere = work.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).expect("a directory");
    let rings = work.path().join("rings");
    std::os::unix::fs::symlink(&elsewhere, &rings).expect("a symlink");
    let set = format!("rings.dir={}", rings.display());
    let output = common::run(&["--set", &set, "--set", "feed.listen=127.0.0.1:0", "feed"]);
    assert!(!output.status.success(), "the feed refuses it");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("symbolic link") && stderr.contains(&rings.display().to_string()),
        "{stderr}"
    );
    let planted: Vec<_> = std::fs::read_dir(&elsewhere).expect("listed").collect();
    assert!(planted.is_empty(), "nothing was written through the link");
}
