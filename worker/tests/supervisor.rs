//! Tests of the `aegis-worker up` supervisor with real processes: the children
//! are this test binary re-executed in a child mode (env `AEGIS_SUP_CHILD`)
//! that serves `/healthz` and `/status` and then behaves as told (stays
//! healthy, exits, hangs its HTTP server, ignores SIGTERM). Also tests the
//! probe HTTP client against in-process servers and the display's rendering.
//!
//! Kept as one file: the tests share the re-executed child mode and its
//! controls; a file under tests/ is a test binary, and a second one would need
//! that child mode again.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aegis_runtime::http_client::{fetch_status_json, http_get, probe_liveness, ProbeError};
use aegis_tests::ports::free_port;
use aegis_worker::supervisor::{
    BackoffSettings, ChildSpec, ChildView, Display, Event, ProbeSettings, Summary, Supervisor,
    SupervisorError,
};
use libtest_mimic::{Arguments, Failed, Trial};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;
use serde_json::json;

const CHILD_MODE_ENV: &str = "AEGIS_SUP_CHILD";
const CHILD_PORT_ENV: &str = "AEGIS_SUP_PORT";

fn main() -> ExitCode {
    if let Ok(mode) = std::env::var(CHILD_MODE_ENV) {
        return child_main(&mode);
    }
    let mut args = Arguments::from_args();
    // The process tests mostly sleep; run them side by side.
    if args.test_threads.is_none() {
        args.test_threads = Some(12);
    }
    let tests = vec![
        Trial::test(
            "exited_child_restarts_with_growing_backoff",
            exited_child_restarts_with_growing_backoff,
        ),
        Trial::test(
            "backoff_resets_after_healthy_time",
            backoff_resets_after_healthy_time,
        ),
        Trial::test(
            "sigkilled_child_restarts_with_new_pid",
            sigkilled_child_restarts_with_new_pid,
        ),
        Trial::test(
            "sigstopped_child_is_killed_within_probe_budget",
            sigstopped_child_is_killed_within_probe_budget,
        ),
        Trial::test(
            "hung_server_does_not_delay_other_probes",
            hung_server_does_not_delay_other_probes,
        ),
        Trial::test(
            "healthy_child_is_never_killed",
            healthy_child_is_never_killed,
        ),
        Trial::test(
            "stop_terms_children_and_kills_after_grace",
            stop_terms_children_and_kills_after_grace,
        ),
        Trial::test(
            "children_die_with_a_sigkilled_supervisor",
            children_die_with_a_sigkilled_supervisor,
        ),
        Trial::test(
            "bad_specs_and_spawn_failures_are_errors",
            bad_specs_and_spawn_failures_are_errors,
        ),
        Trial::test(
            "probe_judges_status_codes_like_the_kubelet",
            probe_judges_status_codes_like_the_kubelet,
        ),
        Trial::test(
            "probe_fails_on_garbage_refusal_and_timeout",
            probe_fails_on_garbage_refusal_and_timeout,
        ),
        Trial::test(
            "status_fetch_reads_chunked_json",
            status_fetch_reads_chunked_json,
        ),
        Trial::test("display_renders_plain_lines", display_renders_plain_lines),
        Trial::test(
            "display_renders_tty_table_in_place",
            display_renders_tty_table_in_place,
        ),
        Trial::test("display_renders_event_lines", display_renders_event_lines),
    ];
    libtest_mimic::run(&args, tests).exit_code()
}

// ---------------------------------------------------------------- child mode

/// The child: `healthy`, `exit:<ms>:<code>`, `hang:<ms>` (stop answering HTTP)
/// or `ignore-term` (SIGTERM blocked); serves HTTP when `AEGIS_SUP_PORT` is set.
fn child_main(mode: &str) -> ExitCode {
    let parts: Vec<&str> = mode.split(':').collect();
    let number = |index: usize| parts.get(index).and_then(|text| text.parse::<u64>().ok());
    if parts[0] == "supervise" {
        return supervise_main();
    }
    if parts[0] == "ignore-term" {
        let mut set = SigSet::empty();
        set.add(Signal::SIGTERM);
        // Blocked before any thread starts, so every thread inherits it.
        if set.thread_block().is_err() {
            return ExitCode::from(4);
        }
    }
    let hung = Arc::new(AtomicBool::new(false));
    if let Ok(port) = std::env::var(CHILD_PORT_ENV) {
        let Ok(port) = port.parse::<u16>() else {
            eprintln!("child: {CHILD_PORT_ENV}={port:?} is not a port");
            return ExitCode::from(2);
        };
        let Some(listener) = bind_with_retry(port) else {
            eprintln!("child: cannot bind 127.0.0.1:{port}");
            return ExitCode::from(5);
        };
        let hung = Arc::clone(&hung);
        std::thread::spawn(move || serve(listener, &hung));
    }
    match (parts[0], number(1), number(2)) {
        ("healthy" | "ignore-term", _, _) => loop {
            std::thread::sleep(Duration::from_secs(60));
        },
        ("exit", Some(after_ms), Some(code)) => {
            std::thread::sleep(Duration::from_millis(after_ms));
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        ("hang", Some(after_ms), _) => {
            std::thread::sleep(Duration::from_millis(after_ms));
            hung.store(true, Ordering::SeqCst);
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        _ => {
            eprintln!("child: unknown mode {mode:?}");
            ExitCode::from(2)
        }
    }
}

/// Child mode `supervise`: a supervisor of one healthy child that prints
/// `started <pid>` lines and runs until it is killed.
fn supervise_main() -> ExitCode {
    let Ok(spec) = child_spec("feed", "healthy", None) else {
        return ExitCode::from(3);
    };
    let stop = AtomicBool::new(false);
    let mut supervisor = Supervisor::new(vec![spec], fast_probes(), backoff(100, 1000, 60_000));
    let result = supervisor.run(&stop, &mut |event| {
        if let Event::Started { pid, .. } = event {
            println!("started {pid}");
            let _ = std::io::stdout().flush();
        }
    });
    ExitCode::from(u8::from(result.is_err()))
}

fn bind_with_retry(port: u16) -> Option<TcpListener> {
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return Some(listener);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Answers `/healthz` (200) and `/status` (JSON with the count of `/healthz`
/// requests as `candles_written`) until `hung`, then accepts and never answers.
fn serve(listener: TcpListener, hung: &AtomicBool) {
    let healthz_count = AtomicU64::new(0);
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        if hung.load(Ordering::SeqCst) {
            let _held = stream;
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut request_line = String::new();
        let mut reader = BufReader::new(&stream);
        if reader.read_line(&mut request_line).is_err() {
            continue;
        }
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => break,
                Ok(_) if header == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let (status, body) = if request_line.starts_with("GET /healthz ") {
            healthz_count.fetch_add(1, Ordering::SeqCst);
            ("200 OK", "ok".to_owned())
        } else if request_line.starts_with("GET /status ") {
            let body = json!({
                "candles_written": healthz_count.load(Ordering::SeqCst),
                "last_price": 101.5,
            });
            ("200 OK", body.to_string())
        } else {
            ("404 Not Found", "not found".to_owned())
        };
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

// ---------------------------------------------------------------- harness

fn child_spec(name: &str, mode: &str, port: Option<u16>) -> Result<ChildSpec, Failed> {
    let mut spec = ChildSpec::new(name, std::env::current_exe()?);
    spec.env.push((CHILD_MODE_ENV.into(), mode.into()));
    if let Some(port) = port {
        spec.env
            .push((CHILD_PORT_ENV.into(), port.to_string().into()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        spec.health = Some(addr);
        spec.status = Some(addr);
    }
    Ok(spec)
}

fn fast_probes() -> ProbeSettings {
    ProbeSettings {
        initial_delay: Duration::from_millis(100),
        period: Duration::from_millis(100),
        timeout: Duration::from_millis(300),
        failure_threshold: 3,
    }
}

fn backoff(initial_ms: u64, max_ms: u64, reset_ms: u64) -> BackoffSettings {
    BackoffSettings {
        initial: Duration::from_millis(initial_ms),
        max: Duration::from_millis(max_ms),
        reset_after: Duration::from_millis(reset_ms),
    }
}

/// A supervisor running on its own thread, its events collected with the time
/// they were seen.
struct Running {
    events: Receiver<(Instant, Event)>,
    log: Vec<(Instant, Event)>,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Result<Summary, SupervisorError>>,
}

fn launch(mut supervisor: Supervisor) -> Running {
    let (sender, events) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        supervisor.run(&thread_stop, &mut |event| {
            let _ = sender.send((Instant::now(), event));
        })
    });
    Running {
        events,
        log: Vec::new(),
        stop,
        handle,
    }
}

impl Running {
    /// Waits up to `within` for an event matching `wanted`; returns it and its time.
    fn wait_for(
        &mut self,
        within: Duration,
        what: &str,
        mut wanted: impl FnMut(&Event) -> bool,
    ) -> Result<(Instant, Event), Failed> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok((at, event)) => {
                    self.log.push((at, event.clone()));
                    if wanted(&event) {
                        return Ok((at, event));
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "no {what} within {within:?}; events: {:#?}",
                        self.non_ticks()
                    )
                    .into())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!(
                        "supervisor ended before {what}; events: {:#?}",
                        self.non_ticks()
                    )
                    .into())
                }
            }
        }
    }

    /// Collects events for `duration`.
    fn watch(&mut self, duration: Duration) {
        let _ = self.wait_for(duration, "nothing", |_| false);
    }

    fn non_ticks(&self) -> Vec<&Event> {
        self.log
            .iter()
            .map(|(_, event)| event)
            .filter(|event| !matches!(event, Event::Tick { .. }))
            .collect()
    }

    /// Stops the supervisor, checks no child of it is left (alive or zombie)
    /// and returns the summary, the full event log and how long stopping took.
    fn finish(mut self) -> Result<Finished, Failed> {
        let asked = Instant::now();
        self.stop.store(true, Ordering::SeqCst);
        let summary = self
            .handle
            .join()
            .map_err(|_| "supervisor thread panicked")??;
        let took = asked.elapsed();
        self.log.extend(self.events.try_iter());
        for (_, event) in &self.log {
            if let Event::Started { pid, .. } = event {
                assert_not_our_child(*pid)?;
            }
        }
        Ok(Finished {
            summary,
            log: self.log,
            took,
        })
    }
}

/// What a stopped supervisor left: its summary, every event, how long stopping took.
struct Finished {
    summary: Summary,
    log: Vec<(Instant, Event)>,
    took: Duration,
}

/// Fails if `pid` is still a child of this process (running or a zombie).
fn assert_not_our_child(pid: u32) -> Result<(), Failed> {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Ok(());
    };
    // "pid (comm) state ppid ...": comm may hold spaces, so split after ')'.
    let after_comm = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let state = fields.first().copied().unwrap_or("?");
    let ppid: u32 = fields
        .get(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    if ppid == std::process::id() {
        return Err(format!("pid {pid} is still our child (state {state})").into());
    }
    Ok(())
}

fn signal(pid: u32, signal: Signal) -> Result<(), Failed> {
    kill(Pid::from_raw(i32::try_from(pid)?), signal)?;
    Ok(())
}

fn started_pid(event: &Event) -> u32 {
    match event {
        Event::Started { pid, .. } => *pid,
        _ => 0,
    }
}

fn check(condition: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(message().into())
    }
}

// ---------------------------------------------------------------- process tests

fn exited_child_restarts_with_growing_backoff() -> Result<(), Failed> {
    let spec = child_spec("feed", "exit:50:3", None)?;
    let mut running = launch(Supervisor::new(
        vec![spec],
        fast_probes(),
        backoff(150, 600, 60_000),
    ));
    // Exit → restart gaps: from each Exited to the next Started.
    let mut gaps = Vec::new();
    let mut delays = Vec::new();
    for _ in 0..4 {
        let (exited_at, exited) = running.wait_for(Duration::from_secs(5), "exit", |e| {
            matches!(e, Event::Exited { .. })
        })?;
        check(
            matches!(&exited, Event::Exited { status, .. } if status == "exit 3"),
            || format!("unexpected {exited:?}"),
        )?;
        let (_, restarting) = running.wait_for(Duration::from_secs(1), "restarting", |e| {
            matches!(e, Event::Restarting { .. })
        })?;
        if let Event::Restarting { after, .. } = restarting {
            delays.push(after);
        }
        let (started_at, _) = running.wait_for(Duration::from_secs(5), "restart", |e| {
            matches!(e, Event::Started { .. })
        })?;
        gaps.push(started_at - exited_at);
    }
    // Every process before the current one is reaped while the supervisor runs.
    let pids: Vec<u32> = running
        .log
        .iter()
        .map(|(_, e)| started_pid(e))
        .filter(|pid| *pid != 0)
        .collect();
    for pid in &pids[..pids.len() - 1] {
        assert_not_our_child(*pid)?;
    }
    let Finished { summary, .. } = running.finish()?;
    println!("backoff gaps: {gaps:?}");
    let expected: Vec<Duration> = [150, 300, 600, 600].map(Duration::from_millis).to_vec();
    check(delays == expected, || {
        format!("backoff delays {delays:?}, expected {expected:?}")
    })?;
    for (gap, delay) in gaps.iter().zip(&delays) {
        check(
            *gap + Duration::from_millis(5) >= *delay && *gap < *delay + Duration::from_millis(400),
            || format!("gap {gap:?} does not match delay {delay:?} (gaps {gaps:?})"),
        )?;
    }
    check(gaps[1] > gaps[0] && gaps[2] > gaps[1], || {
        format!("gaps do not grow: {gaps:?}")
    })?;
    let feed = summary.child("feed").ok_or("no feed in summary")?;
    check(feed.restarts >= 4, || format!("summary {summary:?}"))?;
    Ok(())
}

fn backoff_resets_after_healthy_time() -> Result<(), Failed> {
    let spec = child_spec("brain", "exit:800:1", Some(free_port()))?;
    let probes = ProbeSettings {
        initial_delay: Duration::ZERO,
        ..fast_probes()
    };
    let mut running = launch(Supervisor::new(vec![spec], probes, backoff(100, 5000, 300)));
    let mut delays = Vec::new();
    for _ in 0..3 {
        let (_, event) = running.wait_for(Duration::from_secs(5), "restarting", |e| {
            matches!(e, Event::Restarting { .. })
        })?;
        if let Event::Restarting { after, .. } = event {
            delays.push(after);
        }
    }
    running.finish()?;
    // Healthy for ~800 ms > reset_after each time: the delay never doubles.
    check(
        delays
            .iter()
            .all(|delay| *delay == Duration::from_millis(100)),
        || format!("delays {delays:?}"),
    )
}

fn sigkilled_child_restarts_with_new_pid() -> Result<(), Failed> {
    let spec = child_spec("orchestrator", "healthy", Some(free_port()))?;
    let mut running = launch(Supervisor::new(
        vec![spec],
        fast_probes(),
        backoff(100, 1000, 60_000),
    ));
    let (_, started) = running.wait_for(Duration::from_secs(5), "start", |e| {
        matches!(e, Event::Started { .. })
    })?;
    let first = started_pid(&started);
    signal(first, Signal::SIGKILL)?;
    let (_, exited) = running.wait_for(Duration::from_secs(3), "exit", |e| {
        matches!(e, Event::Exited { .. })
    })?;
    check(
        exited
            == Event::Exited {
                name: "orchestrator".into(),
                pid: first,
                status: "signal 9".into(),
            },
        || format!("{exited:?}"),
    )?;
    let (_, restarted) = running.wait_for(Duration::from_secs(3), "restart", |e| {
        matches!(e, Event::Started { .. })
    })?;
    let second = started_pid(&restarted);
    check(second != first, || {
        format!("restarted with the same pid {second}")
    })?;
    assert_not_our_child(first)?;
    // The new process answers probes: a tick shows it healthy.
    running.wait_for(Duration::from_secs(3), "healthy tick", |e| {
        matches!(e, Event::Tick { children } if children[0].pid == Some(second) && children[0].healthy == Some(true))
    })?;
    let Finished { summary, .. } = running.finish()?;
    check(
        summary.child("orchestrator").map(|c| c.restarts) == Some(1),
        || format!("{summary:?}"),
    )
}

fn sigstopped_child_is_killed_within_probe_budget() -> Result<(), Failed> {
    // The kubelet's numbers: 1 s initial delay and period, 500 ms timeout, 3 failures.
    let probes = ProbeSettings::default();
    let spec = child_spec("feed", "healthy", Some(free_port()))?;
    let mut running = launch(Supervisor::new(
        vec![spec],
        probes,
        backoff(100, 1000, 60_000),
    ));
    let (_, started) = running.wait_for(Duration::from_secs(5), "start", |e| {
        matches!(e, Event::Started { .. })
    })?;
    let first = started_pid(&started);
    running.wait_for(
        Duration::from_secs(5),
        "healthy tick",
        |e| matches!(e, Event::Tick { children } if children[0].healthy == Some(true)),
    )?;
    let stopped_at = Instant::now();
    signal(first, Signal::SIGSTOP)?;
    let (killed_at, _) = running.wait_for(Duration::from_secs(8), "kill", |e| {
        matches!(e, Event::Killed { .. })
    })?;
    let took = killed_at - stopped_at;
    let budget =
        probes.period * probes.failure_threshold + probes.timeout + Duration::from_millis(1000);
    println!("SIGSTOP to SIGKILL: {took:?} (budget {budget:?})");
    let failures: Vec<u32> = running
        .log
        .iter()
        .filter_map(|(at, e)| match e {
            Event::Unhealthy {
                failures, reason, ..
            } if *at >= stopped_at && reason.contains("timed out") => Some(*failures),
            _ => None,
        })
        .collect();
    check(failures == [1, 2, 3], || {
        format!(
            "unhealthy failures {failures:?}; events {:#?}",
            running.non_ticks()
        )
    })?;
    check(took < budget, || {
        format!("SIGSTOP to SIGKILL took {took:?}, budget {budget:?}")
    })?;
    running.wait_for(
        Duration::from_secs(2),
        "exit",
        |e| matches!(e, Event::Exited { status, .. } if status == "signal 9"),
    )?;
    let (_, restarted) = running.wait_for(Duration::from_secs(3), "restart", |e| {
        matches!(e, Event::Started { .. })
    })?;
    check(started_pid(&restarted) != first, || {
        "restarted with the same pid".into()
    })?;
    running.finish()?;
    Ok(())
}

fn hung_server_does_not_delay_other_probes() -> Result<(), Failed> {
    // Timeout longer than the period: serial probing would starve `brain`.
    let probes = ProbeSettings {
        initial_delay: Duration::ZERO,
        period: Duration::from_millis(100),
        timeout: Duration::from_millis(600),
        failure_threshold: 3,
    };
    let hanging = child_spec("feed", "hang:200", Some(free_port()))?;
    let healthy = child_spec("brain", "healthy", Some(free_port()))?;
    let mut running = launch(Supervisor::new(
        vec![hanging, healthy],
        probes,
        backoff(100, 1000, 60_000),
    ));
    let (first_failure, _) = running.wait_for(
        Duration::from_secs(5),
        "feed unhealthy",
        |e| matches!(e, Event::Unhealthy { name, .. } if name == "feed"),
    )?;
    running.watch(Duration::from_millis(1200));
    // brain's /status counts its /healthz requests; read it from the ticks.
    let counts: Vec<(Instant, u64)> = running
        .log
        .iter()
        .filter_map(|(at, e)| match e {
            Event::Tick { children } if *at >= first_failure => children[1]
                .status_json
                .as_ref()
                .and_then(|json| json["candles_written"].as_u64())
                .map(|count| (*at, count)),
            _ => None,
        })
        .collect();
    let (Some(first), Some(last)) = (counts.first(), counts.last()) else {
        return Err(format!("no brain status during the hang: {counts:?}").into());
    };
    let probes_per_second = (last.1 - first.1) as f64 / (last.0 - first.0).as_secs_f64();
    println!("brain probes/s while feed hangs: {probes_per_second:.1}");
    check(probes_per_second >= 6.0, || {
        format!("brain was probed only {probes_per_second:.1}/s: {counts:?}")
    })?;
    let brain_failed = running.non_ticks().iter().any(|e| matches!(e, Event::Unhealthy { name, .. } | Event::Killed { name, .. } if name == "brain"));
    check(!brain_failed, || {
        format!("brain failed: {:#?}", running.non_ticks())
    })?;
    running.wait_for(
        Duration::from_secs(5),
        "feed killed",
        |e| matches!(e, Event::Killed { name, .. } if name == "feed"),
    )?;
    running.finish()?;
    Ok(())
}

fn healthy_child_is_never_killed() -> Result<(), Failed> {
    let probes = ProbeSettings {
        timeout: Duration::from_millis(500),
        ..fast_probes()
    };
    let spec = child_spec("feed", "healthy", Some(free_port()))?;
    let mut running = launch(Supervisor::new(
        vec![spec],
        probes,
        backoff(100, 1000, 60_000),
    ));
    running.watch(Duration::from_secs(5));
    let bad: Vec<&Event> = running
        .non_ticks()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::Killed { .. } | Event::Exited { .. } | Event::Restarting { .. }
            )
        })
        .collect();
    check(bad.is_empty(), || {
        format!("a healthy child was disturbed: {bad:#?}")
    })?;
    let unhealthy = running
        .non_ticks()
        .iter()
        .filter(|e| matches!(e, Event::Unhealthy { .. }))
        .count();
    println!("unhealthy probes of a healthy child in 5 s: {unhealthy}");
    let ticks: Vec<&ChildView> = running
        .log
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Tick { children } => children.first(),
            _ => None,
        })
        .collect();
    check((35..=60).contains(&ticks.len()), || {
        format!("{} ticks in 5 s at a 100 ms period", ticks.len())
    })?;
    let last = ticks.last().ok_or("no tick")?;
    check(last.healthy == Some(true) && last.restarts == 0, || {
        format!("last tick {last:?}")
    })?;
    let price = last
        .status_json
        .as_ref()
        .and_then(|json| json["last_price"].as_f64());
    check(
        price.is_some_and(|price| (price - 101.5).abs() < 1e-9),
        || format!("status not fetched: {last:?}"),
    )?;
    let Finished { summary, .. } = running.finish()?;
    let feed = summary.child("feed").ok_or("no feed in summary")?;
    check(
        feed.restarts == 0 && feed.last_exit.as_deref() == Some("signal 15"),
        || format!("{summary:?}"),
    )
}

fn stop_terms_children_and_kills_after_grace() -> Result<(), Failed> {
    let polite = child_spec("feed", "healthy", Some(free_port()))?;
    let stubborn = child_spec("brain", "ignore-term", Some(free_port()))?;
    let grace = Duration::from_millis(700);
    let supervisor = Supervisor::new(
        vec![polite, stubborn],
        fast_probes(),
        backoff(100, 1000, 60_000),
    )
    .with_grace(grace);
    let mut running = launch(supervisor);
    // Both serve HTTP only after any signal setup, so healthy means ready.
    running.wait_for(Duration::from_secs(5), "both healthy", |e| {
        matches!(e, Event::Tick { children } if children.iter().all(|c| c.healthy == Some(true)))
    })?;
    let Finished { summary, log, took } = running.finish()?;
    println!("stop took {took:?} with grace {grace:?}");
    check(
        took >= grace && took < grace + Duration::from_millis(800),
        || format!("stop took {took:?}"),
    )?;
    let exits: Vec<(String, String)> = log
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Exited { name, status, .. } => Some((name.clone(), status.clone())),
            _ => None,
        })
        .collect();
    let expected = vec![
        ("feed".to_owned(), "signal 15".to_owned()),
        ("brain".to_owned(), "signal 9".to_owned()),
    ];
    check(exits == expected, || format!("exits {exits:?}"))?;
    let killed = log
        .iter()
        .any(|(_, e)| matches!(e, Event::Killed { name, .. } if name == "brain"));
    check(killed, || "brain was not reported killed".into())?;
    check(
        summary.child("brain").and_then(|c| c.last_exit.as_deref()) == Some("signal 9"),
        || format!("{summary:?}"),
    )
}

fn children_die_with_a_sigkilled_supervisor() -> Result<(), Failed> {
    let mut supervisor = std::process::Command::new(std::env::current_exe()?)
        .env(CHILD_MODE_ENV, "supervise")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = supervisor.stdout.take().ok_or("no stdout")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let grandchild: u32 = line
        .trim()
        .strip_prefix("started ")
        .and_then(|pid| pid.parse().ok())
        .ok_or_else(|| format!("bad line {line:?}"))?;
    signal(supervisor.id(), Signal::SIGKILL)?;
    supervisor.wait()?;
    let killed_at = Instant::now();
    // PR_SET_PDEATHSIG sends it SIGTERM; its new parent reaps it.
    while killed_at.elapsed() < Duration::from_secs(3) {
        let alive = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
        });
        if !alive {
            println!(
                "orphaned child gone {:?} after the supervisor's SIGKILL",
                killed_at.elapsed()
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = signal(grandchild, Signal::SIGKILL);
    Err(format!("child {grandchild} outlived its SIGKILLed supervisor by 3 s").into())
}

fn bad_specs_and_spawn_failures_are_errors() -> Result<(), Failed> {
    let stop = AtomicBool::new(false);
    let run = |children: Vec<ChildSpec>, probes: ProbeSettings| {
        Supervisor::new(children, probes, BackoffSettings::default()).run(&stop, &mut |_| {})
    };
    let missing = ChildSpec::new("feed", "/nonexistent/aegis-worker");
    match run(
        vec![child_spec("brain", "healthy", None)?, missing],
        fast_probes(),
    ) {
        Err(error @ SupervisorError::Spawn { .. }) => {
            let text = error.to_string();
            check(
                text.contains("feed") && text.contains("/nonexistent/aegis-worker"),
                || text,
            )?;
        }
        other => return Err(format!("missing program: {other:?}").into()),
    }
    let twice = vec![
        child_spec("feed", "healthy", None)?,
        child_spec("feed", "healthy", None)?,
    ];
    check(
        matches!(run(twice, fast_probes()), Err(SupervisorError::DuplicateName { name }) if name == "feed"),
        || "duplicate".into(),
    )?;
    check(
        matches!(
            run(vec![ChildSpec::new("", "/bin/true")], fast_probes()),
            Err(SupervisorError::EmptyName { index: 0, .. })
        ),
        || "empty name".into(),
    )?;
    let zero = ProbeSettings {
        period: Duration::ZERO,
        ..fast_probes()
    };
    check(
        matches!(
            run(vec![], zero),
            Err(SupervisorError::ZeroProbeSetting { field: "period" })
        ),
        || "zero period".into(),
    )?;
    Ok(())
}

// ---------------------------------------------------------------- probe client

/// Serves `response` once on a fresh port; returns the address and the request it got.
fn one_shot_server(response: &'static [u8]) -> Result<(SocketAddr, JoinHandle<String>), Failed> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let handle = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
            request.push(byte[0]);
        }
        let _ = stream.write_all(response);
        String::from_utf8_lossy(&request).into_owned()
    });
    Ok((addr, handle))
}

const TIMEOUT: Duration = Duration::from_millis(500);

fn probe_judges_status_codes_like_the_kubelet() -> Result<(), Failed> {
    let (addr, server) = one_shot_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")?;
    check(probe_liveness(addr, TIMEOUT)? == 200, || "200".into())?;
    let request = server.join().map_err(|_| "server panicked")?;
    check(
        request.starts_with("GET /healthz HTTP/1.1\r\n")
            && request.contains(&format!("Host: {addr}\r\n"))
            && request.contains("Connection: close\r\n"),
        || format!("request {request:?}"),
    )?;
    let (addr, _) = one_shot_server(b"HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n")?;
    check(probe_liveness(addr, TIMEOUT)? == 302, || "302".into())?;
    for (response, code) in [
        (&b"HTTP/1.1 404 Not Found\r\n\r\n"[..], 404u16),
        (b"HTTP/1.0 500 Oops\r\nContent-Length: 0\r\n\r\n", 500),
        (b"HTTP/1.1 199 Odd\r\n\r\n", 199),
    ] {
        let (addr, _) = one_shot_server(response)?;
        match probe_liveness(addr, TIMEOUT) {
            Err(error @ ProbeError::Status { status, .. }) if status == code => {
                check(error.to_string().contains(&code.to_string()), || {
                    error.to_string()
                })?
            }
            other => return Err(format!("status {code}: {other:?}").into()),
        }
    }
    Ok(())
}

fn probe_fails_on_garbage_refusal_and_timeout() -> Result<(), Failed> {
    let (addr, _) = one_shot_server(b"SSH-2.0-OpenSSH_9.6\r\n")?;
    check(
        matches!(
            probe_liveness(addr, TIMEOUT),
            Err(ProbeError::Malformed { .. })
        ),
        || "garbage".into(),
    )?;
    let (addr, _) = one_shot_server(b"")?;
    check(
        matches!(
            probe_liveness(addr, TIMEOUT),
            Err(ProbeError::Malformed { .. } | ProbeError::Io { .. })
        ),
        || "closed".into(),
    )?;
    let (addr, _) = one_shot_server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")?;
    check(
        matches!(
            probe_liveness(addr, TIMEOUT),
            Err(ProbeError::Malformed { .. })
        ),
        || "short body".into(),
    )?;
    let refused = SocketAddr::from(([127, 0, 0, 1], free_port()));
    check(
        matches!(
            probe_liveness(refused, TIMEOUT),
            Err(ProbeError::Connect { .. })
        ),
        || "refused".into(),
    )?;
    // Accepted by the kernel, never answered.
    let silent = TcpListener::bind("127.0.0.1:0")?;
    let started = Instant::now();
    let result = probe_liveness(silent.local_addr()?, TIMEOUT);
    let took = started.elapsed();
    check(matches!(result, Err(ProbeError::Timeout { .. })), || {
        format!("silent: {result:?}")
    })?;
    check(
        took >= TIMEOUT && took < TIMEOUT + Duration::from_millis(300),
        || format!("timeout took {took:?}"),
    )?;
    // A server dribbling bytes cannot stretch the deadline.
    let dribbler = TcpListener::bind("127.0.0.1:0")?;
    let addr = dribbler.local_addr()?;
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = dribbler.accept() {
            for _ in 0..40 {
                if stream.write_all(b"H").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    let started = Instant::now();
    let result = http_get(addr, "/healthz", TIMEOUT);
    let took = started.elapsed();
    check(
        matches!(
            result,
            Err(ProbeError::Timeout { .. } | ProbeError::Malformed { .. })
        ),
        || format!("dribble: {result:?}"),
    )?;
    check(took < TIMEOUT + Duration::from_millis(300), || {
        format!("dribble took {took:?}")
    })?;
    Ok(())
}

fn status_fetch_reads_chunked_json() -> Result<(), Failed> {
    let (addr, server) = one_shot_server(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{\"lag\": 3\r\n1\r\n}\r\n0\r\n\r\n",
    )?;
    check(
        fetch_status_json(addr, None, TIMEOUT) == Some(json!({"lag": 3})),
        || "chunked json".into(),
    )?;
    check(
        server
            .join()
            .map_err(|_| "server panicked")?
            .starts_with("GET /status HTTP/1.1\r\n"),
        || "path".into(),
    )?;
    let (addr, _) = one_shot_server(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n{x}")?;
    check(fetch_status_json(addr, None, TIMEOUT).is_none(), || {
        "not json".into()
    })?;
    let (addr, _) = one_shot_server(b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}")?;
    check(fetch_status_json(addr, None, TIMEOUT).is_none(), || {
        "500 with json".into()
    })?;
    Ok(())
}

// ---------------------------------------------------------------- display

fn synthetic_children(candles: u64) -> Vec<ChildView> {
    vec![
        ChildView {
            name: "feed".into(),
            pid: Some(1),
            healthy: Some(true),
            restarts: 0,
            status_json: Some(json!({"candles_written": candles, "last_price": 101.2})),
        },
        ChildView {
            name: "brain".into(),
            pid: Some(2),
            healthy: Some(false),
            restarts: 1,
            status_json: Some(json!({"signals": 1200, "lag": null})),
        },
        ChildView {
            name: "orchestrator".into(),
            pid: None,
            healthy: None,
            restarts: 0,
            status_json: Some(json!({"position": 0.5, "equity": "10023.1", "halted": false})),
        },
    ]
}

fn display_renders_plain_lines() -> Result<(), Failed> {
    let mut display = Display::new(false);
    let t0 = Instant::now();
    let first = display.render(
        &Event::Tick {
            children: synthetic_children(700),
        },
        t0,
    );
    let expected_first = "up: feed pid=1 ok candles=700 (-/s) price=101.200 | brain pid=2 failing signals=1200 lag=- | orchestrator pid=- down pos=0.5 equity=10023.10 pnl=- halted=false | restarts feed=0 brain=1 orchestrator=0\n";
    check(first == expected_first, || {
        format!("first:\n{first:?}\n{expected_first:?}")
    })?;
    let throttled = display.render(
        &Event::Tick {
            children: synthetic_children(800),
        },
        t0 + Duration::from_secs(1),
    );
    check(throttled.is_empty(), || {
        format!("printed within 5 s: {throttled:?}")
    })?;
    let second = display.render(
        &Event::Tick {
            children: synthetic_children(1200),
        },
        t0 + Duration::from_secs(5),
    );
    let expected_second = "up: feed pid=1 ok candles=1200 (100/s) price=101.200 | brain pid=2 failing signals=1200 lag=- | orchestrator pid=- down pos=0.5 equity=10023.10 pnl=- halted=false | restarts feed=0 brain=1 orchestrator=0\n";
    check(second == expected_second, || {
        format!("second:\n{second:?}\n{expected_second:?}")
    })?;
    // No status at all: every number is '-'.
    let mut bare = synthetic_children(0);
    for child in &mut bare {
        child.status_json = None;
    }
    let line = Display::new(false)
        .with_plain_every(Duration::ZERO)
        .render(&Event::Tick { children: bare }, t0);
    let expected_bare = "up: feed pid=1 ok candles=- (-/s) price=- | brain pid=2 failing signals=- lag=- | orchestrator pid=- down pos=- equity=- pnl=- halted=- | restarts feed=0 brain=1 orchestrator=0\n";
    check(line == expected_bare, || {
        format!("bare:\n{line:?}\n{expected_bare:?}")
    })?;
    // An orchestrator refusing to trade says why on the terminal.
    let mut refused = synthetic_children(0);
    refused[2].status_json = Some(json!({"position": "0", "halted": false,
        "refusal": {"reason": "CredentialsRejected", "message": "live trading is off: Binance refused the API key (-2015)"}}));
    let line = Display::new(false)
        .with_plain_every(Duration::ZERO)
        .render(&Event::Tick { children: refused }, t0);
    check(
        line.contains(
            "halted=false REFUSED: live trading is off: Binance refused the API key (-2015) |",
        ),
        || format!("refused: {line:?}"),
    )
}

fn display_renders_tty_table_in_place() -> Result<(), Failed> {
    let mut display = Display::new(true);
    let t0 = Instant::now();
    let first = display.render(
        &Event::Tick {
            children: synthetic_children(1000),
        },
        t0,
    );
    let rows = [
        "ROLE              PID  HEALTH    RESTARTS  DETAILS",
        "feed                1  ok               0  candles=1000 (-/s) price=101.200",
        "brain               2  failing          1  signals=1200 lag=-",
        "orchestrator        -  down             0  pos=0.5 equity=10023.10 pnl=- halted=false",
    ];
    let expected: String = rows.iter().map(|row| format!("\x1b[2K{row}\n")).collect();
    check(first == expected, || {
        format!("first table:\n{first}\n{first:?}\n{expected:?}")
    })?;
    let second = display.render(
        &Event::Tick {
            children: synthetic_children(1050),
        },
        t0 + Duration::from_millis(500),
    );
    check(second.starts_with("\x1b[4A\x1b[2KROLE"), || {
        format!("no redraw in place: {second:?}")
    })?;
    check(
        second.contains("candles=1050 (100/s) price=101.200\n"),
        || format!("rate: {second:?}"),
    )?;
    // An event erases the table and is printed as a plain line above the next one.
    let line = display.render(
        &Event::Started {
            name: "brain".into(),
            pid: 7,
        },
        t0,
    );
    check(line == "\x1b[4A\x1b[Jup: brain started (pid 7)\n", || {
        format!("event in tty: {line:?}")
    })?;
    let third = display.render(
        &Event::Tick {
            children: synthetic_children(1100),
        },
        t0 + Duration::from_secs(1),
    );
    check(third.starts_with("\x1b[2KROLE"), || {
        format!("table after an event must not move up: {third:?}")
    })
}

fn display_renders_event_lines() -> Result<(), Failed> {
    let mut display = Display::new(false);
    let now = Instant::now();
    let cases = [
        (
            Event::Exited {
                name: "brain".into(),
                pid: 5,
                status: "signal 9".into(),
            },
            "up: brain (pid 5) exited (signal 9)\n",
        ),
        (
            Event::Restarting {
                name: "brain".into(),
                after: Duration::from_millis(500),
                restarts: 1,
            },
            "up: brain restarting in 0.5s (restart 1)\n",
        ),
        (
            Event::Restarting {
                name: "feed".into(),
                after: Duration::from_secs(30),
                restarts: 7,
            },
            "up: feed restarting in 30s (restart 7)\n",
        ),
        (
            Event::Unhealthy {
                name: "feed".into(),
                pid: 3,
                failures: 2,
                threshold: 3,
                reason: "timed out".into(),
            },
            "up: feed (pid 3) liveness probe failed (2/3): timed out\n",
        ),
        (
            Event::Killed {
                name: "feed".into(),
                pid: 3,
                reason: "hung".into(),
            },
            "up: feed (pid 3) killed with SIGKILL: hung\n",
        ),
        (
            Event::SpawnFailed {
                name: "feed".into(),
                error: "no such file".into(),
            },
            "up: feed failed to start: no such file\n",
        ),
    ];
    for (event, expected) in cases {
        let text = display.render(&event, now);
        check(text == expected, || {
            format!("{event:?} rendered {text:?}, expected {expected:?}")
        })?;
    }
    Ok(())
}
