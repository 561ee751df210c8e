//! The engine's performance targets, measured on the release binary
//! (`aegis-worker`) as real processes over real rings:
//!
//! 1. `throughput`: a 1M-candle backtest end to end (process start to exit),
//!    of this build and (with `AEGIS_BENCH_BASELINE_EXE`) a baseline build,
//!    against the single-process loop (`local::inline::run`) over the same
//!    file, both reports checked equal; then where the time goes (the inline
//!    loop's stages, the roles' CPU, the fixed cost of a tiny backtest).
//! 2. `latency`: tick-to-signal, tick-to-order and tick-to-ledger across
//!    processes, with the bench as the feed writing paced candles and the
//!    brain and orchestrator as child processes, for `rings.wait` =
//!    busy-spin and spin-then-block (and a baseline build side by side, with
//!    `AEGIS_BENCH_BASELINE_EXE`).
//! 3. `idle`: the CPU of `aegis-worker up` with its default simulated feed
//!    (one candle a second).
//!
//! Run: `cargo bench -p aegis-worker --bench pipeline [-- throughput|latency|idle]`
//! (several parts may be named; none runs all three, about 40 s).
//!
//! Kept as one file: the three parts share the data generation, the
//! child-process harness and the report printing, and `cargo bench --bench
//! pipeline -- <part>` picks a part; a bench target is one file.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aegis_contract::records::{Candle, Signal};
use aegis_engine::report::BacktestReport;
use aegis_engine::trading::Execution;
use aegis_worker::config::{self, Config, ConfigSource, LogFormat, ParamValue, WaitMode};
use aegis_worker::local::backtest::{backtest_config, BacktestArgs};
use aegis_worker::roles::orchestrator::execution_params;
use aegis_worker::roles::rings::{self, ORCHESTRATOR_READER};
use anyhow::{bail, ensure, Context};
use nix::sys::signal::{kill, Signal as UnixSignal};
use nix::unistd::Pid;

#[path = "support/synthetic.rs"]
mod synthetic;
use synthetic::{machine, write_csv};

/// The binary under test (cargo builds it, in the bench profile, for benches).
const EXE: &str = env!("CARGO_BIN_EXE_aegis-worker");
/// Names another build of `aegis-worker` (say, main's) that the throughput
/// and latency parts measure side by side with this one.
const BASELINE_ENV: &str = "AEGIS_BENCH_BASELINE_EXE";

fn main() -> anyhow::Result<()> {
    // cargo passes `--bench`; anything else not starting with `-` names a part.
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for part in &parts {
        ensure!(
            ["throughput", "latency", "idle"].contains(&part.as_str()),
            "unknown part {part:?}: expected throughput, latency or idle"
        );
    }
    let wants = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    println!("pipeline bench: {}", machine());
    let started = Instant::now();
    if wants("throughput") {
        throughput::run()?;
    }
    if wants("latency") {
        latency::run()?;
    }
    if wants("idle") {
        idle::run()?;
    }
    println!("\ntotal {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The configuration a command line without `--config` gets (built-in
/// defaults; the bench clears `AEGIS_*` variables from its children).
fn default_config() -> anyhow::Result<Config> {
    Ok(config::load(&ConfigSource::default())?)
}

/// A command running `exe` (the binary under test, [`EXE`], or a baseline
/// build) with no `AEGIS_*` variables.
fn engine_command(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AEGIS") {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

/// A fresh temporary directory on tmpfs (/dev/shm) where there is one, like
/// the rings of a pod (an emptyDir of medium Memory).
fn shm_tempdir(prefix: &str) -> anyhow::Result<tempfile::TempDir> {
    let base = if Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&base)
        .with_context(|| format!("creating a temporary directory in {}", base.display()))
}

/// The median of `values` (which must not be empty).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

/// Nearest-rank percentile `q` (0..=1) of sorted `values`.
fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `"yes"` or `"NO"`.
fn met(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "NO"
    }
}

/// Waits for `child` up to `limit`, then kills it; its exit status.
fn wait_or_kill(child: &mut Child, limit: Duration) -> anyhow::Result<ExitStatus> {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            return Ok(child.wait()?);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends SIGTERM to `child`.
fn terminate(child: &Child) -> anyhow::Result<()> {
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    kill(Pid::from_raw(pid), UnixSignal::SIGTERM).context("sending SIGTERM")?;
    Ok(())
}

/// Per-process CPU time from `/proc`.
mod procfs {
    use std::sync::OnceLock;

    /// One process's line of `/proc/<pid>/stat`, the fields we use.
    #[derive(Clone, Copy, Debug)]
    pub struct Stat {
        pub ppid: u32,
        pub state: char,
        /// utime + stime, clock ticks.
        pub cpu_ticks: u64,
    }

    /// Reads `/proc/<pid>/stat` (None if the process is gone).
    pub fn stat(pid: u32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces.
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
        Some(Stat {
            state: fields.first()?.chars().next()?,
            ppid: fields.get(1)?.parse().ok()?,
            cpu_ticks: fields.get(11)?.parse::<u64>().ok()?
                + fields.get(12)?.parse::<u64>().ok()?,
        })
    }

    /// Clock ticks per second (`getconf CLK_TCK`; 100, the Linux value, if
    /// that fails).
    pub fn ticks_per_second() -> f64 {
        static TICKS: OnceLock<f64> = OnceLock::new();
        *TICKS.get_or_init(|| {
            std::process::Command::new("getconf")
                .arg("CLK_TCK")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.trim().parse().ok())
                .filter(|&t: &f64| t > 0.0)
                .unwrap_or(100.0)
        })
    }

    /// CPU seconds `pid` has used (all its threads).
    pub fn cpu_seconds(pid: u32) -> Option<f64> {
        stat(pid).map(|s| s.cpu_ticks as f64 / ticks_per_second())
    }

    /// The live children of `parent` with the last word of their command
    /// line (for the engine's children: the role).
    pub fn children(parent: u32) -> Vec<(u32, String)> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        let mut out: Vec<(u32, String)> = dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| stat(pid).is_some_and(|s| s.ppid == parent))
            .map(|pid| (pid, role_of(pid).unwrap_or_else(|| "?".into())))
            .collect();
        out.sort();
        out
    }

    /// CPU seconds (user + system) of every descendant this process has
    /// waited for (`getrusage(RUSAGE_CHILDREN)`: a `backtest`'s roles roll
    /// up into it once it has waited for them, and it into ours).
    pub fn waited_children_cpu_seconds() -> f64 {
        // SAFETY: `getrusage` only writes the `rusage` it is given, a
        // zeroed plain C struct owned by this frame.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            if libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) != 0 {
                return f64::NAN;
            }
            usage
        };
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        secs(usage.ru_utime) + secs(usage.ru_stime)
    }

    /// The last argument of `pid`'s command line (None once it is exiting).
    pub fn role_of(pid: u32) -> Option<String> {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        raw.split(|&b| b == 0)
            .rfind(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
    }
}

/// Part 1: backtest throughput, pipeline against the inline baseline.
mod throughput {
    use super::*;

    const CANDLES: u64 = 1_000_000;
    const RUNS: usize = 5;
    /// Rows of the small file that measures a backtest's fixed cost.
    const SMALL: u64 = 1_000;
    const TARGET_PER_S: f64 = 5e6;
    /// The rules strategy's targets (issue 20): end to end, and against the
    /// built-in sma-cross in the same run.
    const RULES_TARGET_PER_S: f64 = 1e6;
    const RULES_MAX_SLOWDOWN: f64 = 3.0;
    /// sma-cross(10, 30) written as rules: two indicators, the same trades.
    const RULES: &str = "indicators:\n  fast: sma(close, 10)\n  slow: sma(close, 30)\n\
                         enter_long: crossAbove(fast, slow)\nexit_long: crossBelow(fast, slow)\n";
    /// Protective exits (issue 19): a stop-loss and a take-profit, then all
    /// three kinds (a trailing stop writes a ledger line per new best price).
    const EXITS: [(&str, &str); 2] = [
        (
            "stop-loss and take-profit",
            "orchestrator:\n  exits:\n    stop_loss: 0.02\n    take_profit: 0.04\n",
        ),
        (
            "stop-loss, take-profit and trailing stop",
            "orchestrator:\n  exits:\n    stop_loss: 0.02\n    take_profit: 0.04\n    \
             trailing_stop: 0.03\n    trailing_after: 0.01\n",
        ),
    ];
    /// What exits may cost of the built-in's throughput (issue 19).
    const EXITS_MAX_COST: f64 = 0.10;
    /// The strategy of every throughput run, as `backtest` flags.
    const SMA_CROSS_ARGS: [&str; 6] = [
        "--strategy",
        "sma-cross",
        "--param",
        "fast=10",
        "--param",
        "slow=30",
    ];

    pub fn run() -> anyhow::Result<()> {
        println!("\n== 1. backtest throughput: {CANDLES} candles, sma-cross fast=10 slow=30, median of {RUNS} ==");
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let data = dir.path().join("candles.csv");
        let small = dir.path().join("small.csv");
        let made = Instant::now();
        write_csv(&data, CANDLES)?;
        write_csv(&small, SMALL)?;
        println!(
            "  data: {} ({:.1} MiB, made in {:.1} s)",
            data.display(),
            std::fs::metadata(&data)?.len() as f64 / f64::from(1 << 20),
            made.elapsed().as_secs_f64()
        );

        let config = inline_config(&data, &dir.path().join("inline-out"))?;
        let rules_file = dir.path().join("rules.yaml");
        std::fs::write(&rules_file, RULES)?;
        let mut exits_files = Vec::new();
        for (i, (_, yaml)) in EXITS.iter().enumerate() {
            let file = dir.path().join(format!("exits-{i}.yaml"));
            std::fs::write(&file, yaml)?;
            exits_files.push(file);
        }
        let mut exits_s = vec![Vec::new(); EXITS.len()];
        let mut exits_report = vec![None; EXITS.len()];
        // CPU seconds of each run's three processes: what exits cost does
        // not depend on how the two cores were shared, unlike wall time.
        let mut exits_cpu = vec![Vec::new(); EXITS.len()];
        let mut pipeline_cpu = Vec::new();
        // The same exits in the single-threaded inline loop: the engine's
        // own extra work, free of waits and of the cores' sharing.
        let mut exits_inline_s = vec![Vec::new(); EXITS.len()];
        let mut exits_inline_configs = Vec::new();
        for (k, file) in exits_files.iter().enumerate() {
            let out = dir.path().join(format!("exits-inline-{k}"));
            exits_inline_configs.push(inline_config_with(&data, &out, Some(file))?);
        }
        let mut pipeline_s = Vec::new();
        let mut rules_s = Vec::new();
        let mut inline_s = Vec::new();
        let mut pipeline_report = None;
        let mut rules_report = None;
        let mut inline_report = None;
        let baseline = std::env::var_os(BASELINE_ENV).map(PathBuf::from);
        let mut baseline_s = Vec::new();
        let mut baseline_report = None;
        for i in 0..RUNS {
            if let Some(exe) = &baseline {
                let out = dir.path().join(format!("baseline-{i}"));
                let (secs, report) = backtest_process(exe, &data, &out, None)?;
                baseline_s.push(secs);
                baseline_report = Some(report);
            }
            let out = dir.path().join(format!("out-{i}"));
            let cpu = procfs::waited_children_cpu_seconds();
            let (secs, report) = backtest_process(Path::new(EXE), &data, &out, None)?;
            pipeline_cpu.push(procfs::waited_children_cpu_seconds() - cpu);
            pipeline_s.push(secs);
            pipeline_report = Some(report);
            let out = dir.path().join(format!("rules-{i}"));
            let rules_arg = rules_file.to_string_lossy();
            let (secs, report) =
                backtest_process_with(&data, &out, &["--strategy-file", &rules_arg])?;
            rules_s.push(secs);
            rules_report = Some(report);
            for (k, file) in exits_files.iter().enumerate() {
                let out = dir.path().join(format!("exits-{k}-{i}"));
                let exits_arg = file.to_string_lossy();
                let mut args = SMA_CROSS_ARGS.to_vec();
                args.extend(["--config", &exits_arg]);
                let cpu = procfs::waited_children_cpu_seconds();
                let (secs, report) = backtest_process_with(&data, &out, &args)?;
                exits_cpu[k].push(procfs::waited_children_cpu_seconds() - cpu);
                exits_s[k].push(secs);
                exits_report[k] = Some(report);
            }
            let t = Instant::now();
            let report = aegis_worker::local::inline::run(&config)?;
            inline_s.push(t.elapsed().as_secs_f64());
            inline_report = Some(report);
            for (k, exits_config) in exits_inline_configs.iter().enumerate() {
                let t = Instant::now();
                let report = aegis_worker::local::inline::run(exits_config)?;
                exits_inline_s[k].push(t.elapsed().as_secs_f64());
                if let Some(piped) = &exits_report[k] {
                    ensure!(
                        (report.num_trades, report.final_equity)
                            == (piped.num_trades, piped.final_equity),
                        "the inline run with exits differs from the pipeline's"
                    );
                }
            }
        }
        let (Some(pipe), Some(inline), Some(rules)) =
            (pipeline_report, inline_report, rules_report)
        else {
            bail!("no runs");
        };
        ensure!(
            (rules.candles, &rules.trades, rules.final_equity)
                == (pipe.candles, &pipe.trades, pipe.final_equity),
            "the rules' report differs from the built-in sma-cross's"
        );
        ensure!(
            pipe.candles == CANDLES,
            "the pipeline saw {} candles of {CANDLES}",
            pipe.candles
        );
        ensure!(
            (pipe.candles, pipe.num_trades, pipe.final_equity)
                == (inline.candles, inline.num_trades, inline.final_equity),
            "the reports differ: pipeline {} candles, {} trades, equity {}; inline {} candles, {} trades, equity {}",
            pipe.candles,
            pipe.num_trades,
            pipe.final_equity,
            inline.candles,
            inline.num_trades,
            inline.final_equity
        );
        if let Some(b) = &baseline_report {
            ensure!(
                (b.candles, b.num_trades, b.final_equity)
                    == (pipe.candles, pipe.num_trades, pipe.final_equity),
                "the baseline build's report differs: {} candles, {} trades, equity {}",
                b.candles,
                b.num_trades,
                b.final_equity
            );
        }
        let rate = |secs: &[f64]| CANDLES as f64 / median(secs);
        let (pipe_rate, inline_rate) = (rate(&pipeline_s), rate(&inline_s));
        let span = |secs: &[f64]| {
            let lo = secs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = secs.iter().copied().fold(0.0, f64::max);
            format!(
                "[{:.2}–{:.2}]",
                CANDLES as f64 / hi / 1e6,
                CANDLES as f64 / lo / 1e6
            )
        };
        println!(
            "  reports agree: {} candles, {} trades, final equity {}",
            pipe.candles, pipe.num_trades, pipe.final_equity
        );
        println!("  | run | median s | M candles/s | [min–max] |");
        println!(
            "  | pipeline (3 processes, end to end) | {:.3} | {:.2} | {} |",
            median(&pipeline_s),
            pipe_rate / 1e6,
            span(&pipeline_s)
        );
        if !baseline_s.is_empty() {
            println!(
                "  | pipeline, the baseline build ({BASELINE_ENV}) | {:.3} | {:.2} | {} |",
                median(&baseline_s),
                rate(&baseline_s) / 1e6,
                span(&baseline_s)
            );
        }
        println!(
            "  | inline loop (1 thread, baseline) | {:.3} | {:.2} | {} |",
            median(&inline_s),
            inline_rate / 1e6,
            span(&inline_s)
        );
        println!(
            "  pipeline / inline: {:.2}; target ≥ 5 M candles/s end to end: {}",
            pipe_rate / inline_rate,
            met(pipe_rate >= TARGET_PER_S)
        );
        let rules_rate = rate(&rules_s);
        println!(
            "  | rules sma-cross(10, 30) (3 processes, end to end) | {:.3} | {:.2} | {} |",
            median(&rules_s),
            rules_rate / 1e6,
            span(&rules_s)
        );
        println!(
            "  rules / built-in: {:.2} (same trades); targets ≥ 1 M candles/s: {}, within {RULES_MAX_SLOWDOWN}× of the built-in: {}",
            rules_rate / pipe_rate,
            met(rules_rate >= RULES_TARGET_PER_S),
            met(pipe_rate / rules_rate <= RULES_MAX_SLOWDOWN)
        );
        for (k, (name, _)) in EXITS.iter().enumerate() {
            let exits_rate = rate(&exits_s[k]);
            let exits_closed = exits_report[k]
                .as_ref()
                .map(|r| {
                    r.trades_by_exit_reason
                        .iter()
                        .map(|(k, v)| format!("{k} {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            println!(
                "  | sma-cross(10, 30) with {name} (3 processes) | {:.3} | {:.2} | {} |",
                median(&exits_s[k]),
                exits_rate / 1e6,
                span(&exits_s[k])
            );
            // What exits cost, free of the cores' sharing: the CPU seconds
            // of the three processes (their waits' spinning included), and
            // the single-threaded inline loop (the engine's work alone).
            let cpu_ratio = median(&exits_cpu[k]) / median(&pipeline_cpu);
            let inline_ratio = median(&exits_inline_s[k]) / median(&inline_s);
            println!(
                "  {name} / built-in: wall {:.2}, CPU {:.3} s / {:.3} s = {cpu_ratio:.3}, inline {:.3} s / {:.3} s = {inline_ratio:.3} (trades closed by: {exits_closed}); target: exits cost < {:.0} % (inline): {}",
                exits_rate / pipe_rate,
                median(&exits_cpu[k]),
                median(&pipeline_cpu),
                median(&exits_inline_s[k]),
                median(&inline_s),
                EXITS_MAX_COST * 100.0,
                met(inline_ratio <= 1.0 / (1.0 - EXITS_MAX_COST))
            );
        }
        where_the_time_goes(dir.path(), &data, &small, &config)
    }

    fn backtest_args(data: &Path, out: &Path) -> BacktestArgs {
        BacktestArgs {
            data: data.to_path_buf(),
            strategy: Some("sma-cross".into()),
            strategy_file: None,
            params: vec![("fast".into(), "10".into()), ("slow".into(), "30".into())],
            fee_bps: None,
            slippage_bps: None,
            cash: None,
            out: out.to_path_buf(),
            no_progress: true,
        }
    }

    /// The configuration `backtest` gives its roles, for the inline loop.
    fn inline_config(data: &Path, out: &Path) -> anyhow::Result<Config> {
        inline_config_with(data, out, None)
    }

    /// [`inline_config`] over the configuration file `file`, as
    /// `backtest --config file` reads it.
    fn inline_config_with(data: &Path, out: &Path, file: Option<&Path>) -> anyhow::Result<Config> {
        // The control token goes beside the rings, here in `out`.
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let base = config::load(&ConfigSource {
            file: file.map(Path::to_path_buf),
            ..ConfigSource::default()
        })?;
        backtest_config(base, &backtest_args(data, out), out)
    }

    /// CPU seconds and alive wall time of one role during a backtest.
    #[derive(Default, Clone, Copy)]
    pub struct RoleUse {
        pub cpu_s: f64,
        pub alive_s: f64,
    }

    /// The report.json a backtest wrote into `out`.
    fn read_report(out: &Path) -> anyhow::Result<BacktestReport> {
        let path = out.join("report.json");
        serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("parsing {}", path.display()))
    }

    /// Runs `aegis-worker backtest` once with `args` (the strategy and
    /// its settings): wall seconds from spawn to exit and its report.
    fn backtest_process_with(
        data: &Path,
        out: &Path,
        args: &[&str],
    ) -> anyhow::Result<(f64, BacktestReport)> {
        let mut cmd = engine_command(Path::new(EXE));
        cmd.arg("backtest").arg("--data").arg(data);
        cmd.args(args);
        cmd.arg("--out").arg(out).arg("--no-progress");
        let started = Instant::now();
        let output = cmd.output().context("starting aegis-worker backtest")?;
        let secs = started.elapsed().as_secs_f64();
        check_success(output.status, &output.stdout, &output.stderr)?;
        Ok((secs, read_report(out)?))
    }

    /// Runs `aegis-worker backtest` once: wall seconds from spawn to exit and
    /// its report. With `roles`, samples the roles' CPU every 5 ms meanwhile.
    pub fn backtest_process(
        exe: &Path,
        data: &Path,
        out: &Path,
        mut roles: Option<&mut BTreeMap<String, RoleUse>>,
    ) -> anyhow::Result<(f64, BacktestReport)> {
        let args = backtest_args(data, out);
        let mut cmd = engine_command(exe);
        cmd.arg("backtest").arg("--data").arg(&args.data);
        cmd.args(SMA_CROSS_ARGS);
        cmd.arg("--out").arg(&args.out).arg("--no-progress");
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().context("starting aegis-worker backtest")?;
        let mut seen: BTreeMap<u32, (String, f64, Instant, Instant)> = BTreeMap::new();
        let status = match roles.as_deref_mut() {
            None => {
                let output = child.wait_with_output()?;
                check_success(output.status, &output.stdout, &output.stderr)?;
                output.status
            }
            Some(_) => loop {
                if let Some(status) = child.try_wait()? {
                    break status;
                }
                if seen.len() < 3 {
                    for (pid, role) in procfs::children(child.id()) {
                        let now = Instant::now();
                        seen.entry(pid).or_insert((role, 0.0, now, now));
                    }
                }
                for (pid, (role, cpu, _, last_alive)) in seen.iter_mut() {
                    if let Some(stat) = procfs::stat(*pid) {
                        *cpu = stat.cpu_ticks as f64 / procfs::ticks_per_second();
                        if stat.state != 'Z' {
                            *last_alive = Instant::now();
                            // A child seen between fork and exec still has
                            // the parent's command line.
                            // An exiting one has no command line any more.
                            if let Some(now) = procfs::role_of(*pid) {
                                *role = now;
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            },
        };
        let secs = started.elapsed().as_secs_f64();
        if let Some(roles) = roles {
            ensure!(status.success(), "aegis-worker backtest failed: {status}");
            for (role, cpu, first, last) in seen.into_values() {
                roles.insert(
                    role,
                    RoleUse {
                        cpu_s: cpu,
                        alive_s: last.duration_since(first).as_secs_f64(),
                    },
                );
            }
        }
        Ok((secs, read_report(out)?))
    }

    fn check_success(status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> anyhow::Result<()> {
        ensure!(
            status.success(),
            "aegis-worker backtest failed ({status}):\n{}\n{}",
            String::from_utf8_lossy(stdout),
            String::from_utf8_lossy(stderr)
        );
        Ok(())
    }

    /// The inline loop stage by stage, the roles' CPU in one pipeline run,
    /// and the fixed cost of a backtest.
    fn where_the_time_goes(
        dir: &Path,
        data: &Path,
        small: &Path,
        config: &Config,
    ) -> anyhow::Result<()> {
        const STAGE_RUNS: usize = 3;
        println!("\n  where the time goes (median of {STAGE_RUNS}):");
        println!("  | stage (single thread, cumulative) | s | M candles/s | ns/candle |");
        for stage in Stage::ALL {
            let mut secs = Vec::new();
            for _ in 0..STAGE_RUNS {
                let t = Instant::now();
                let n = stage.run(data, config)?;
                secs.push(t.elapsed().as_secs_f64());
                ensure!(n == CANDLES, "{} saw {n} candles", stage.name());
            }
            let s = median(&secs);
            println!(
                "  | {} | {s:.3} | {:.2} | {:.0} |",
                stage.name(),
                CANDLES as f64 / s / 1e6,
                s * 1e9 / CANDLES as f64
            );
        }

        let mut roles = BTreeMap::new();
        let (secs, _) = backtest_process(
            Path::new(EXE),
            data,
            &dir.join("out-profile"),
            Some(&mut roles),
        )?;
        println!(
            "\n  one pipeline run, {secs:.3} s end to end; each role (CPU sampled every 5 ms):"
        );
        println!("  | role | CPU s | alive s | CPU ns/candle |");
        for (role, use_) in &roles {
            println!(
                "  | {role} | {:.3} | {:.3} | {:.0} |",
                use_.cpu_s,
                use_.alive_s,
                use_.cpu_s * 1e9 / CANDLES as f64
            );
        }

        let mut fixed = Vec::new();
        for i in 0..RUNS {
            let (s, report) =
                backtest_process(Path::new(EXE), small, &dir.join(format!("small-{i}")), None)?;
            ensure!(
                report.candles == SMALL,
                "small backtest saw {} candles",
                report.candles
            );
            fixed.push(s);
        }
        let fixed = median(&fixed);
        println!(
            "\n  fixed cost: a {SMALL}-candle backtest takes {:.3} s end to end (median of {RUNS});",
            fixed
        );
        println!(
            "  the rest of a 1M run, {:.3} s, is {:.2} M candles/s",
            secs - fixed,
            CANDLES as f64 / (secs - fixed).max(1e-9) / 1e6
        );
        Ok(())
    }

    /// The inline loop cut after each stage.
    #[derive(Clone, Copy)]
    enum Stage {
        Parse,
        Validate,
        Strategy,
        Execution,
        Report,
    }

    impl Stage {
        const ALL: [Stage; 5] = [
            Stage::Parse,
            Stage::Validate,
            Stage::Strategy,
            Stage::Execution,
            Stage::Report,
        ];

        fn name(self) -> &'static str {
            match self {
                Stage::Parse => "parse",
                Stage::Validate => "+ validate",
                Stage::Strategy => "+ strategy",
                Stage::Execution => "+ execution (Signal, Execution::on_signal)",
                Stage::Report => "+ report = local::inline::run",
            }
        }

        /// Runs the stages up to this one over `data`; the candles accepted.
        fn run(self, data: &Path, config: &Config) -> anyhow::Result<u64> {
            match self {
                Stage::Parse => {
                    let mut n = 0;
                    for row in aegis_worker::store::replay::open_csv(data)? {
                        n += u64::from(row?.is_ok());
                    }
                    Ok(n)
                }
                Stage::Report => Ok(aegis_worker::local::inline::run(config)?.candles),
                _ => self.partial(data, config),
            }
        }

        fn partial(self, data: &Path, config: &Config) -> anyhow::Result<u64> {
            let mut strategy =
                aegis_engine::strategy::from_params(config.brain.strategy.checked()?)?;
            let mut exec = Execution::new(execution_params(config))?;
            let mut seq = 0u64;
            let mut last = None;
            for row in aegis_worker::store::replay::open_csv(data)?.validated() {
                let Ok(row) = row? else { continue };
                let c = row.candle;
                if matches!(self, Stage::Validate) {
                    std::hint::black_box(&c);
                    seq += 1;
                    continue;
                }
                let candle = Candle { seq, ..c };
                let signal = Signal {
                    seq,
                    ..aegis_engine::strategy::signal_for(strategy.as_mut(), &candle, 0)
                };
                seq += 1;
                if matches!(self, Stage::Execution) {
                    std::hint::black_box(exec.on_signal(&signal));
                } else {
                    std::hint::black_box(&signal);
                }
                last = Some(signal);
            }
            if let (Some(last), Stage::Execution) = (last, self) {
                std::hint::black_box(exec.finish(&last));
            }
            Ok(seq)
        }
    }
}

/// Part 2: tick-to-signal, tick-to-order and tick-to-ledger across
/// processes.
///
/// The bench is the feed: it writes paced candles, stamping `ingest_ns` with
/// `ringbuf_shm::precise_ns` (`CLOCK_MONOTONIC`) as the feed does. It never
/// spins: between candles it blocks on a periodic timer (a `timerfd`),
/// leaving both cores to the roles. The figures are the
/// engine's own stamps, from the orchestrator's `"order"` log lines:
/// `tick_to_signal_ns` (the brain published the signal), `tick_to_order_ns`
/// (the orchestrator decided the order) and `tick_to_ledger_ns` (the ledger
/// append holding it returned: serialized, written and fsync'd, on tmpfs).
///
/// With `AEGIS_BENCH_BASELINE_EXE` naming another build of `aegis-worker`
/// (say, main's), each row is measured for it too, in the same run.
mod latency {
    use super::*;

    /// Candles per second the bench (as the feed) writes.
    const RATE: u64 = 2_000;
    const WARMUP_S: u64 = 1;
    const MEASURE_S: u64 = 5;

    /// p50, p99, p99.9 in ns.
    type Percentiles = [u64; 3];

    struct Figures {
        build: String,
        wait: &'static str,
        orders: usize,
        signal: Percentiles,
        order: Percentiles,
        /// The orchestrator's own hop: signal published -> order decided.
        hop: Percentiles,
        /// `None` for a build that does not stamp the ledger append.
        ledger: Option<Percentiles>,
        /// Smallest non-zero logged latency: the engine clock's step.
        step_ns: u64,
        brain_cpu: f64,
        orchestrator_cpu: f64,
    }

    pub fn run() -> anyhow::Result<()> {
        println!(
            "\n== 2. tick-to-signal / tick-to-order / tick-to-ledger: the bench writes {RATE} candles/s ({WARMUP_S} s warm-up, {MEASURE_S} s measured) to brain and orchestrator processes =="
        );
        let mut builds = Vec::new();
        if let Some(baseline) = std::env::var_os(BASELINE_ENV) {
            builds.push(("baseline".to_string(), PathBuf::from(baseline)));
        }
        builds.push(("this build".to_string(), PathBuf::from(EXE)));
        let mut rows = Vec::new();
        for (wait, name) in [
            (WaitMode::BusySpin, "busy-spin"),
            (WaitMode::SpinThenBlock, "spin-then-block (default)"),
        ] {
            for (build, exe) in &builds {
                rows.push(measure(build, exe, wait, name)?);
            }
        }
        let us = |p: &Percentiles| {
            format!(
                "{:.1} / {:.1} / {:.1}",
                p[0] as f64 / 1e3,
                p[1] as f64 / 1e3,
                p[2] as f64 / 1e3
            )
        };
        println!("  engine's stamps (orchestrator log, CLOCK_MONOTONIC), µs p50 / p99 / p99.9:");
        println!("  | rings.wait | build | orders | tick-to-signal | tick-to-order | signal-to-order | tick-to-ledger | CPU brain | CPU orchestrator | clock step seen |");
        for r in &rows {
            println!(
                "  | {} | {} | {} | {} | {} | {} | {} | {:.0} % | {:.0} % | {:.3} µs |",
                r.wait,
                r.build,
                r.orders,
                us(&r.signal),
                us(&r.order),
                us(&r.hop),
                r.ledger.as_ref().map_or("-".into(), us),
                r.brain_cpu,
                r.orchestrator_cpu,
                r.step_ns as f64 / 1e3
            );
        }
        let this = |wait: &str| {
            rows.iter()
                .find(|r| r.wait == wait && r.build == "this build")
        };
        if let (Some(spin), Some(default)) = (this("busy-spin"), this("spin-then-block (default)"))
        {
            println!(
                "  targets (this build, the engine's stamps: candle published by the feed -> order decided):\n  busy-spin p50 < 5 µs: {} ({:.1} µs), p99 < 25 µs: {} ({:.1} µs); default p99 < 50 µs: {} ({:.1} µs)",
                met(spin.order[0] < 5_000),
                spin.order[0] as f64 / 1e3,
                met(spin.order[1] < 25_000),
                spin.order[1] as f64 / 1e3,
                met(default.order[1] < 50_000),
                default.order[1] as f64 / 1e3
            );
            if spin.step_ns >= 1_000_000 {
                println!(
                    "  note: the engine's latency stamps move in steps of {:.0} ms: its logged µs figures are not measurements",
                    spin.step_ns as f64 / 1e6
                );
            }
        }
        Ok(())
    }

    /// The bench's clock: a periodic `timerfd`. The kernel re-arms it when
    /// a read returns an expiry, before the bench stamps and writes the
    /// candle, so that after the write the bench blocks without arming a
    /// timer. A sleep per candle (`nanosleep`) arms one after every write,
    /// which on a virtual machine is a trapped timer write: it kept the core
    /// from the role the bench's wake-up had displaced about 6 µs longer
    /// (issue 23; docs/benchmarks.md). A real feed blocks on its socket.
    struct Ticker(std::os::fd::OwnedFd);

    impl Ticker {
        /// Expires every `period` from now on.
        fn every(period: Duration) -> anyhow::Result<Ticker> {
            use std::os::fd::FromRawFd;
            // SAFETY: timerfd_create takes two integers and returns a new file
            // descriptor (or -1), touching no memory of ours.
            let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_CLOEXEC) };
            ensure!(
                fd >= 0,
                "timerfd_create: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: `fd` was just returned open by timerfd_create and is
            // owned by nothing else.
            let ticker = Ticker(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
            let spec = libc::timespec {
                tv_sec: period.as_secs() as libc::time_t,
                tv_nsec: period.subsec_nanos() as libc::c_long,
            };
            let value = libc::itimerspec {
                it_interval: spec,
                it_value: spec,
            };
            // SAFETY: the descriptor is a live timerfd; `value` outlives the
            // call and the old value is not asked for (null).
            let rc = unsafe {
                libc::timerfd_settime(
                    std::os::fd::AsRawFd::as_raw_fd(&ticker.0),
                    0,
                    &value,
                    std::ptr::null_mut(),
                )
            };
            ensure!(
                rc == 0,
                "timerfd_settime: {}",
                std::io::Error::last_os_error()
            );
            Ok(ticker)
        }

        /// Blocks until the next expiry; how many periods passed since the
        /// last read (more than 1 when the bench fell behind).
        fn wait(&self) -> anyhow::Result<u64> {
            let mut expiries = 0u64;
            // SAFETY: reads 8 bytes into `expiries`, a live, writable u64.
            let n = unsafe {
                libc::read(
                    std::os::fd::AsRawFd::as_raw_fd(&self.0),
                    (&mut expiries as *mut u64).cast(),
                    8,
                )
            };
            ensure!(
                n == 8,
                "reading the timerfd: {}",
                std::io::Error::last_os_error()
            );
            Ok(expiries)
        }
    }

    fn config(dir: &Path, wait: WaitMode) -> anyhow::Result<Config> {
        let mut c = default_config()?;
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        c.rings.dir = dir.join("rings");
        c.rings.wait = wait;
        c.feed.listen = any;
        c.brain.listen = any;
        c.orchestrator.listen = any;
        c.orchestrator.control_listen = any;
        let token = dir.join("control-token");
        aegis_runtime::control_token::ControlToken::generate()?.store(&token)?;
        c.orchestrator.control_token_file = Some(token);
        c.brain.strategy.name = "sma-cross".into();
        c.brain.strategy.params = BTreeMap::from([
            ("fast".to_string(), ParamValue::Int(1)),
            ("slow".to_string(), ParamValue::Int(2)),
        ]);
        c.orchestrator.data_dir = dir.join("data");
        // Round trips at the same price: equity stays put however many.
        c.orchestrator.fee_bps = rust_decimal::Decimal::ZERO;
        c.log.format = LogFormat::Json;
        c.validate()?;
        Ok(c)
    }

    /// Bar `i` of the zig-zag: closes 100, 101, 100, ... around a fixed open
    /// of 100.5, so sma-cross(1, 2) flips its target every bar and every fill
    /// (at the next open) is at the same price.
    fn candle(i: u64) -> Candle {
        let close = if i.is_multiple_of(2) { 100.0 } else { 101.0 };
        let open = 100.5;
        Candle {
            seq: 0,
            ts_ms: 1_704_067_200_000 + i as i64 * 1_000,
            open,
            high: f64::max(open, close),
            low: f64::min(open, close),
            close,
            volume: 1.0,
            ingest_ns: 0,
        }
    }

    fn spawn_role(exe: &Path, config_file: &Path, role: &str, log: &Path) -> anyhow::Result<Child> {
        let file = std::fs::File::create(log)?;
        engine_command(exe)
            .arg("--config")
            .arg(config_file)
            .arg(role)
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("starting the {role} ({})", exe.display()))
    }

    /// Waits until `log` says `started`, or fails after 10 s.
    fn wait_for_log(log: &Path, started: &str) -> anyhow::Result<()> {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if std::fs::read_to_string(log).is_ok_and(|t| t.contains(started)) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("no {started:?} in {} after 10 s", log.display())
    }

    fn sorted_percentiles(mut v: Vec<u64>) -> Percentiles {
        v.sort_unstable();
        [
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 0.999),
        ]
    }

    fn measure(
        build: &str,
        exe: &Path,
        wait: WaitMode,
        name: &'static str,
    ) -> anyhow::Result<Figures> {
        let dir = shm_tempdir("aegis-bench-latency")?;
        let config = config(dir.path(), wait)?;
        let config_file = dir.path().join("config.yaml");
        std::fs::write(&config_file, serde_yaml::to_string(&config)?)?;
        let ring = rings::candles(&config)?;
        let mut writer = ring.writer()?;
        writer.set_wait_strategy(rings::wait_strategy(&config));
        let (brain_log, orch_log) = (
            dir.path().join("brain.log"),
            dir.path().join("orchestrator.log"),
        );
        let mut brain = spawn_role(exe, &config_file, "brain", &brain_log)?;
        let mut orchestrator = spawn_role(exe, &config_file, "orchestrator", &orch_log)?;
        let pids = (brain.id(), orchestrator.id());
        let result = (|| {
            wait_for_log(&brain_log, "brain started")?;
            wait_for_log(&orch_log, "orchestrator started")?;
            feed(&mut writer, &config, pids)
        })();
        for child in [&brain, &orchestrator] {
            let _ = terminate(child);
        }
        let brain_status = wait_or_kill(&mut brain, Duration::from_secs(10))?;
        let orch_status = wait_or_kill(&mut orchestrator, Duration::from_secs(10))?;
        let cpu = result?;
        ensure!(brain_status.success(), "the brain exited {brain_status}");
        ensure!(
            orch_status.success(),
            "the orchestrator exited {orch_status}"
        );

        let text = std::fs::read_to_string(&orch_log)?;
        let (mut signal, mut order, mut hop, mut ledger) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let total = RATE * (WARMUP_S + MEASURE_S);
        let first_measured = RATE * WARMUP_S;
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            if v["message"] != "order" {
                continue;
            }
            let seq = v["signal_seq"].as_u64().unwrap_or(0);
            ensure!(
                seq < total,
                "an order for signal {seq}, past the {total} candles written"
            );
            if seq < first_measured {
                continue;
            }
            if let (Some(s), Some(o)) = (
                v["tick_to_signal_ns"].as_u64(),
                v["tick_to_order_ns"].as_u64(),
            ) {
                signal.push(s);
                order.push(o);
                hop.push(o.saturating_sub(s));
            }
            if let Some(l) = v["tick_to_ledger_ns"].as_u64() {
                ledger.push(l);
            }
        }
        let measured = total - first_measured;
        ensure!(
            order.len() as u64 * 10 >= measured * 9,
            "only {} orders with latencies for {measured} measured candles (log {})",
            order.len(),
            orch_log.display()
        );
        let step_ns = signal
            .iter()
            .chain(&order)
            .copied()
            .filter(|&ns| ns > 0)
            .min()
            .unwrap_or(0);
        Ok(Figures {
            build: build.to_string(),
            wait: name,
            orders: order.len(),
            signal: sorted_percentiles(signal),
            order: sorted_percentiles(order),
            hop: sorted_percentiles(hop),
            ledger: (!ledger.is_empty()).then(|| sorted_percentiles(ledger)),
            step_ns,
            brain_cpu: cpu.0,
            orchestrator_cpu: cpu.1,
        })
    }

    /// Writes the paced candles as the feed does, blocking on the ticker
    /// between them; the brain's and the orchestrator's CPU (% of one core) over
    /// the measured window.
    fn feed(
        writer: &mut ringbuf_shm::Writer<Candle>,
        config: &Config,
        (brain, orchestrator): (u32, u32),
    ) -> anyhow::Result<(f64, f64)> {
        let warmup = RATE * WARMUP_S;
        let total = warmup + RATE * MEASURE_S;
        let ticker = Ticker::every(Duration::from_nanos(1_000_000_000 / RATE))?;
        let cpu = |pid| procfs::cpu_seconds(pid).context("reading a child's CPU time");
        let mut window = None;
        for i in 0..total {
            if i == warmup {
                window = Some((Instant::now(), cpu(brain)?, cpu(orchestrator)?));
            }
            ticker.wait()?;
            let mut c = candle(i);
            c.ingest_ns = ringbuf_shm::precise_ns();
            writer.write(&c);
        }
        let Some((from, brain0, orch0)) = window else {
            bail!("no measured window");
        };
        let secs = from.elapsed().as_secs_f64();
        let figures = (
            (cpu(brain)? - brain0) / secs * 100.0,
            (cpu(orchestrator)? - orch0) / secs * 100.0,
        );
        // Let the orchestrator handle the last signal before stopping it.
        let signal_path = config.signals_ring();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let done = ringbuf_shm::inspect(&signal_path)
                .ok()
                .and_then(|s| s.reader(ORCHESTRATOR_READER).map(|r| r.cursor));
            if done == Some(total) {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(figures)
    }
}

/// Part 3: the CPU of an idle engine (`up`, one simulated candle a second).
mod idle {
    use super::*;

    const WARMUP: Duration = Duration::from_secs(3);
    const MEASURE: Duration = Duration::from_secs(10);
    const TARGET_PCT: f64 = 2.0;

    pub fn run() -> anyhow::Result<()> {
        println!(
            "\n== 3. idle engine: `aegis-worker up`, simulated feed at 1 candle/s, {} s after {} s warm-up ==",
            MEASURE.as_secs(),
            WARMUP.as_secs()
        );
        let dir = shm_tempdir("aegis-bench-idle")?;
        let port = free_port_base()?;
        let log = std::fs::File::create(dir.path().join("up.out"))?;
        let mut up = engine_command(Path::new(EXE))
            .arg("--set")
            .arg(format!(
                "orchestrator.data_dir={}",
                dir.path().join("data").display()
            ))
            .arg("up")
            .arg("--dir")
            .arg(dir.path())
            .arg("--port-base")
            .arg(port.to_string())
            .current_dir(dir.path())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting aegis-worker up")?;
        let result = measure(up.id());
        let _ = terminate(&up);
        let status = wait_or_kill(&mut up, Duration::from_secs(15))?;
        let (children, up_pct) = result?;
        println!("  | process | CPU, % of one core |");
        let mut total = 0.0;
        for (role, pct) in &children {
            println!("  | {role} | {pct:.2} |");
            total += pct;
        }
        println!("  | three roles together | {total:.2} |");
        println!("  | up (the supervisor, probing each role once a second) | {up_pct:.2} |");
        println!(
            "  target < {TARGET_PCT} % of a core for the roles: {}; `up` exited on SIGTERM with {status}: {}",
            met(total < TARGET_PCT),
            met(status.success())
        );
        ensure!(
            status.success(),
            "up exited {status} on SIGTERM (log {})",
            dir.path().join("up.out").display()
        );
        Ok(())
    }

    /// A port p with p, p+1 and p+2 free on 127.0.0.1.
    fn free_port_base() -> anyhow::Result<u16> {
        for _ in 0..50 {
            let first = TcpListener::bind("127.0.0.1:0")?;
            let p = first.local_addr()?.port();
            if p > u16::MAX - 2 {
                continue;
            }
            if TcpListener::bind(("127.0.0.1", p + 1)).is_ok()
                && TcpListener::bind(("127.0.0.1", p + 2)).is_ok()
            {
                return Ok(p);
            }
        }
        bail!("no three consecutive free ports on 127.0.0.1")
    }

    /// Each child's CPU and up's own, % of one core over the window.
    fn measure(up: u32) -> anyhow::Result<(Vec<(String, f64)>, f64)> {
        std::thread::sleep(WARMUP);
        let children = procfs::children(up);
        ensure!(
            children.len() == 3,
            "up has {} children after {} s: {children:?}",
            children.len(),
            WARMUP.as_secs()
        );
        let cpu = |pid| procfs::cpu_seconds(pid).with_context(|| format!("process {pid} is gone"));
        let t0 = Instant::now();
        let before: Vec<f64> = children
            .iter()
            .map(|(pid, _)| cpu(*pid))
            .collect::<anyhow::Result<_>>()?;
        let up0 = cpu(up)?;
        std::thread::sleep(MEASURE);
        let after: Vec<f64> = children
            .iter()
            .map(|(pid, _)| cpu(*pid))
            .collect::<anyhow::Result<_>>()?;
        let up1 = cpu(up)?;
        let secs = t0.elapsed().as_secs_f64();
        let now = procfs::children(up);
        ensure!(
            now == children,
            "up's children changed during the window (a restart?): {children:?} then {now:?}"
        );
        let pct = |a: f64, b: f64| (b - a) / secs * 100.0;
        let roles = children
            .iter()
            .zip(before.iter().zip(&after))
            .map(|((_, role), (a, b))| (role.clone(), pct(*a, *b)))
            .collect();
        Ok((roles, pct(up0, up1)))
    }
}
