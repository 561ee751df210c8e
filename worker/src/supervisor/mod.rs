//! The local process supervisor behind `aegis-worker up`: runs the roles as
//! child processes and probes and restarts them the way the kubelet does for
//! a pod with `restartPolicy: Always`.
//!
//! * A child that exits, with any status, is restarted after an exponential
//!   backoff ([`BackoffSettings`]), reset once it has been healthy for
//!   `reset_after`.
//! * Liveness: after `initial_delay`, `GET /healthz` every `period` with
//!   `timeout`; `failure_threshold` consecutive failures kill the child with
//!   SIGKILL at once and restart it with backoff. The kubelet sends SIGTERM and
//!   waits the grace period first; we do not, because a failed liveness probe
//!   means the child's loop is hung (or the process is stopped, and a
//!   SIGSTOPped process cannot act on SIGTERM), so waiting only delays recovery.
//! * Every probe and `/status` fetch runs on its own short-lived thread with
//!   one deadline, so a hung child never delays probing of the others.
//! * On stop: SIGTERM (plus SIGCONT, so a stopped child can act on it), wait up
//!   to the grace period, then SIGKILL. Every child is reaped.

pub mod child;
pub mod display;

use std::collections::HashSet;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

pub use aegis_runtime::backoff::{Backoff, BackoffSettings};
use aegis_runtime::http_client as probe;
pub use aegis_runtime::http_client::ProbeError;
pub use display::Display;

/// How often the loop looks for exited children and due restarts.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// One child process to run and keep running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSpec {
    /// Role name, unique among the children (`feed`, `brain`, `orchestrator`).
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Added to (not replacing) the supervisor's environment.
    pub env: Vec<(OsString, OsString)>,
    /// Left out of the supervisor's environment for this child (e.g. the
    /// exchange credentials, for every role but the one that trades).
    pub env_remove: Vec<OsString>,
    /// Liveness probe target: `GET http://<health>/healthz`. `None`: no probe;
    /// the child counts as healthy while it runs.
    pub health: Option<SocketAddr>,
    /// `GET http://<status>/status` (JSON) for the display, once per period.
    pub status: Option<SocketAddr>,
    /// Where the child's stdout and stderr go (appended); `None`: ours.
    pub log: Option<PathBuf>,
}

impl ChildSpec {
    /// A child with no arguments, environment changes, probe or status URL.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            health: None,
            status: None,
            log: None,
        }
    }
}

/// Liveness probe timing, with the kubelet's meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    /// From start to the first probe (default 1 s).
    pub initial_delay: Duration,
    /// Between probes; also the display's tick (default 1 s).
    pub period: Duration,
    /// Of one probe: connect, request and response together (default 500 ms).
    pub timeout: Duration,
    /// Consecutive failures that get the child killed (default 3).
    pub failure_threshold: u32,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        Self {
            initial_delay: Duration::from_secs(1),
            period: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            failure_threshold: 3,
        }
    }
}

/// What the supervisor saw or did, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        name: String,
        pid: u32,
    },
    /// The child could not be started (a restart; a failing first start ends `run`).
    SpawnFailed {
        name: String,
        error: String,
    },
    /// The child exited and was reaped; `status` is `"exit 1"` or `"signal 9"`.
    Exited {
        name: String,
        pid: u32,
        status: String,
    },
    /// A liveness probe failed; `failures` consecutive so far out of `threshold`.
    Unhealthy {
        name: String,
        pid: u32,
        failures: u32,
        threshold: u32,
        reason: String,
    },
    /// The child will be started again after `after`; `restarts` counts this one.
    Restarting {
        name: String,
        after: Duration,
        restarts: u32,
    },
    /// The supervisor sent SIGKILL.
    Killed {
        name: String,
        pid: u32,
        reason: String,
    },
    /// Once per probe period: the state of every child, in spec order.
    Tick {
        children: Vec<ChildView>,
    },
}

/// One child's state in a [`Event::Tick`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChildView {
    pub name: String,
    /// `None` while the child is not running (waiting for its restart).
    pub pid: Option<u32>,
    /// Result of the last liveness probe; `None` before the first one or while
    /// not running. A running child without a probe is `Some(true)`.
    pub healthy: Option<bool>,
    pub restarts: u32,
    /// The last `/status` answer of the current process, if any.
    pub status_json: Option<serde_json::Value>,
}

/// What happened to each child during [`Supervisor::run`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub children: Vec<ChildSummary>,
}

impl Summary {
    /// The summary of the child called `name`.
    pub fn child(&self, name: &str) -> Option<&ChildSummary> {
        self.children.iter().find(|child| child.name == name)
    }
}

/// One child's line of the [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildSummary {
    pub name: String,
    pub restarts: u32,
    /// How its last process ended (`"exit 0"`, `"signal 15"`), if one did.
    pub last_exit: Option<String>,
}

/// Why the supervisor could not run.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("child #{index} has an empty name (program {program:?})")]
    EmptyName { index: usize, program: PathBuf },
    #[error("child name {name:?} is used by more than one child")]
    DuplicateName { name: String },
    #[error("probe setting {field} must be greater than zero")]
    ZeroProbeSetting { field: &'static str },
    #[error("cannot start child {name:?} (program {program:?}): {source}")]
    Spawn {
        name: String,
        program: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot wait for child {name:?} (pid {pid}): {source}")]
    Wait {
        name: String,
        pid: u32,
        source: std::io::Error,
    },
}

/// Runs the children; see the module documentation.
#[derive(Debug, Clone)]
pub struct Supervisor {
    children: Vec<ChildSpec>,
    probe: ProbeSettings,
    backoff: BackoffSettings,
    grace: Duration,
}

impl Supervisor {
    /// A supervisor with the default stop grace period (10 s).
    pub fn new(children: Vec<ChildSpec>, probe: ProbeSettings, backoff: BackoffSettings) -> Self {
        Self {
            children,
            probe,
            backoff,
            grace: Duration::from_secs(10),
        }
    }

    /// Sets how long children get between SIGTERM and SIGKILL on stop.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The children this supervisor runs.
    pub fn children(&self) -> &[ChildSpec] {
        &self.children
    }

    /// Runs until `stop` becomes true (the caller's SIGINT/SIGTERM handler
    /// sets it), then stops all children: SIGTERM, up to the grace period,
    /// SIGKILL. Children are spawned from the calling thread (see
    /// [`child`] on `PR_SET_PDEATHSIG`).
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        events: &mut dyn FnMut(Event),
    ) -> Result<Summary, SupervisorError> {
        self.validate()?;
        let (reports_tx, reports_rx) = mpsc::channel();
        let mut run = Run {
            probe: self.probe,
            slots: self
                .children
                .iter()
                .map(|spec| Slot {
                    spec: spec.clone(),
                    backoff: Backoff::new(self.backoff),
                    restarts: 0,
                    last_exit: None,
                    generation: 0,
                    state: State::Stopped,
                    status_json: None,
                    status_in_flight: false,
                })
                .collect(),
            reports_tx,
            reports_rx,
        };
        let outcome = run
            .start_all(events)
            .and_then(|()| run.supervise(stop, events));
        let stopped = run.stop_all(self.grace, events);
        outcome.and(stopped)?;
        Ok(run.summary())
    }

    fn validate(&self) -> Result<(), SupervisorError> {
        let mut names = HashSet::new();
        for (index, spec) in self.children.iter().enumerate() {
            if spec.name.is_empty() {
                return Err(SupervisorError::EmptyName {
                    index,
                    program: spec.program.clone(),
                });
            }
            if !names.insert(spec.name.as_str()) {
                return Err(SupervisorError::DuplicateName {
                    name: spec.name.clone(),
                });
            }
        }
        for (field, value) in [
            ("period", self.probe.period),
            ("timeout", self.probe.timeout),
        ] {
            if value.is_zero() {
                return Err(SupervisorError::ZeroProbeSetting { field });
            }
        }
        if self.probe.failure_threshold == 0 {
            return Err(SupervisorError::ZeroProbeSetting {
                field: "failure_threshold",
            });
        }
        Ok(())
    }
}

/// The mutable state of one [`Supervisor::run`].
struct Run {
    probe: ProbeSettings,
    slots: Vec<Slot>,
    reports_tx: Sender<Report>,
    reports_rx: Receiver<Report>,
}

struct Slot {
    spec: ChildSpec,
    backoff: Backoff,
    restarts: u32,
    last_exit: Option<String>,
    /// Bumped at every start, so reports about an earlier process are dropped.
    generation: u64,
    state: State,
    status_json: Option<serde_json::Value>,
    status_in_flight: bool,
}

enum State {
    Running(Running),
    WaitingToRestart { until: Instant },
    Stopped,
}

struct Running {
    child: Child,
    pid: u32,
    next_probe: Instant,
    probe_in_flight: bool,
    failures: u32,
    healthy: Option<bool>,
    healthy_since: Option<Instant>,
    /// SIGKILL was sent; waiting to reap it.
    killed: bool,
}

/// A result from a probe or status thread.
enum Report {
    Probe {
        slot: usize,
        generation: u64,
        result: Result<u16, ProbeError>,
    },
    Status {
        slot: usize,
        generation: u64,
        json: Option<serde_json::Value>,
    },
}

impl Run {
    fn start_all(&mut self, events: &mut dyn FnMut(Event)) -> Result<(), SupervisorError> {
        for index in 0..self.slots.len() {
            let slot = &mut self.slots[index];
            match child::spawn(&slot.spec) {
                Ok(process) => slot.started(process, self.probe, events),
                Err(source) => {
                    return Err(SupervisorError::Spawn {
                        name: slot.spec.name.clone(),
                        program: slot.spec.program.clone(),
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    fn supervise(
        &mut self,
        stop: &AtomicBool,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), SupervisorError> {
        let period = self.probe.period;
        let mut next_tick = Instant::now() + period;
        while !stop.load(Ordering::SeqCst) {
            match self.reports_rx.recv_timeout(POLL_INTERVAL) {
                Ok(report) => self.handle_report(report, events),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
            }
            while let Ok(report) = self.reports_rx.try_recv() {
                self.handle_report(report, events);
            }
            let now = Instant::now();
            for index in 0..self.slots.len() {
                // Ctrl-C reaches the children too (same process group): one
                // that exited because of it is reaped by `stop_all`, not
                // restarted.
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                self.reap(index, events)?;
                self.restart_if_due(index, now, events);
                self.probe_if_due(index, now);
            }
            if now >= next_tick {
                next_tick += period;
                if next_tick <= now {
                    next_tick = now + period;
                }
                self.fetch_statuses();
                events(Event::Tick {
                    children: self.slots.iter().map(Slot::view).collect(),
                });
            }
        }
        Ok(())
    }

    fn handle_report(&mut self, report: Report, events: &mut dyn FnMut(Event)) {
        match report {
            Report::Status {
                slot,
                generation,
                json,
            } => {
                let Some(slot) = self.slots.get_mut(slot) else {
                    return;
                };
                if slot.generation == generation {
                    slot.status_in_flight = false;
                    if matches!(slot.state, State::Running(_)) {
                        slot.status_json = json;
                    }
                }
            }
            Report::Probe {
                slot,
                generation,
                result,
            } => {
                let threshold = self.probe.failure_threshold;
                let Some(slot) = self.slots.get_mut(slot) else {
                    return;
                };
                if slot.generation != generation {
                    return;
                }
                let State::Running(running) = &mut slot.state else {
                    return;
                };
                running.probe_in_flight = false;
                if running.killed {
                    return;
                }
                match result {
                    Ok(_) => {
                        running.failures = 0;
                        running.healthy = Some(true);
                        let since = *running.healthy_since.get_or_insert_with(Instant::now);
                        slot.backoff.note_healthy_for(since.elapsed());
                    }
                    Err(error) => {
                        running.failures += 1;
                        running.healthy = Some(false);
                        running.healthy_since = None;
                        events(Event::Unhealthy {
                            name: slot.spec.name.clone(),
                            pid: running.pid,
                            failures: running.failures,
                            threshold,
                            reason: error.to_string(),
                        });
                        if running.failures >= threshold {
                            // SIGKILL at once; see the module documentation.
                            // An error means it is already gone: reap() sees that.
                            let _ = running.child.kill();
                            running.killed = true;
                            events(Event::Killed {
                                name: slot.spec.name.clone(),
                                pid: running.pid,
                                reason: format!(
                                    "liveness probe failed {} times in a row: {error}",
                                    running.failures
                                ),
                            });
                        }
                    }
                }
            }
        }
    }

    /// Reaps the child of slot `index` if it exited and schedules its restart.
    fn reap(&mut self, index: usize, events: &mut dyn FnMut(Event)) -> Result<(), SupervisorError> {
        let slot = &mut self.slots[index];
        let State::Running(running) = &mut slot.state else {
            return Ok(());
        };
        let status = running
            .child
            .try_wait()
            .map_err(|source| SupervisorError::Wait {
                name: slot.spec.name.clone(),
                pid: running.pid,
                source,
            })?;
        let Some(status) = status else { return Ok(()) };
        if let Some(since) = running.healthy_since {
            slot.backoff.note_healthy_for(since.elapsed());
        }
        slot.exited(child::describe_exit(status), events);
        slot.schedule_restart(events);
        Ok(())
    }

    fn restart_if_due(&mut self, index: usize, now: Instant, events: &mut dyn FnMut(Event)) {
        let slot = &mut self.slots[index];
        let State::WaitingToRestart { until } = slot.state else {
            return;
        };
        if now < until {
            return;
        }
        match child::spawn(&slot.spec) {
            Ok(process) => slot.started(process, self.probe, events),
            Err(error) => {
                events(Event::SpawnFailed {
                    name: slot.spec.name.clone(),
                    error: format!("program {:?}: {error}", slot.spec.program),
                });
                slot.schedule_restart(events);
            }
        }
    }

    fn probe_if_due(&mut self, index: usize, now: Instant) {
        let period = self.probe.period;
        let timeout = self.probe.timeout;
        let slot = &mut self.slots[index];
        let Some(addr) = slot.spec.health else { return };
        let generation = slot.generation;
        let State::Running(running) = &mut slot.state else {
            return;
        };
        if running.killed || now < running.next_probe {
            return;
        }
        running.next_probe += period;
        if running.next_probe <= now {
            running.next_probe = now + period;
        }
        if running.probe_in_flight {
            return;
        }
        let reports = self.reports_tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("probe-{}", slot.spec.name))
            .spawn(move || {
                let result = probe::probe_liveness(addr, timeout);
                let _ = reports.send(Report::Probe {
                    slot: index,
                    generation,
                    result,
                });
            });
        // If no thread could be made, the probe is simply tried next period.
        running.probe_in_flight = spawned.is_ok();
    }

    fn fetch_statuses(&mut self) {
        let timeout = self.probe.timeout.min(self.probe.period);
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(addr) = slot.spec.status else {
                continue;
            };
            if slot.status_in_flight || !matches!(slot.state, State::Running(_)) {
                continue;
            }
            let generation = slot.generation;
            let reports = self.reports_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("status-{}", slot.spec.name))
                .spawn(move || {
                    let json = probe::fetch_status_json(addr, timeout);
                    let _ = reports.send(Report::Status {
                        slot: index,
                        generation,
                        json,
                    });
                });
            slot.status_in_flight = spawned.is_ok();
        }
    }

    /// SIGTERM (and SIGCONT) to every running child, up to `grace` for them to
    /// exit, then SIGKILL; reaps them all.
    fn stop_all(
        &mut self,
        grace: Duration,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), SupervisorError> {
        for slot in &mut self.slots {
            match &slot.state {
                State::Running(running) => {
                    // Errors mean the process is already gone; reaping tells.
                    let _ = child::send_signal(&running.child, Signal::SIGTERM);
                    let _ = child::send_signal(&running.child, Signal::SIGCONT);
                }
                State::WaitingToRestart { .. } => slot.state = State::Stopped,
                State::Stopped => {}
            }
        }
        let deadline = Instant::now() + grace;
        let mut first_error = None;
        loop {
            for slot in &mut self.slots {
                if let Err(error) = slot.reap_stopping(events) {
                    first_error.get_or_insert(error);
                }
            }
            let running = self
                .slots
                .iter()
                .any(|slot| matches!(slot.state, State::Running(_)));
            if !running || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(
                POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now())),
            );
        }
        for slot in &mut self.slots {
            let State::Running(running) = &mut slot.state else {
                continue;
            };
            let _ = running.child.kill();
            events(Event::Killed {
                name: slot.spec.name.clone(),
                pid: running.pid,
                reason: format!("still running {grace:?} after SIGTERM"),
            });
            let waited = running
                .child
                .wait()
                .map_err(|source| SupervisorError::Wait {
                    name: slot.spec.name.clone(),
                    pid: running.pid,
                    source,
                });
            match waited {
                Ok(status) => slot.exited(child::describe_exit(status), events),
                Err(error) => {
                    first_error.get_or_insert(error);
                    slot.state = State::Stopped;
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn summary(&self) -> Summary {
        Summary {
            children: self
                .slots
                .iter()
                .map(|slot| ChildSummary {
                    name: slot.spec.name.clone(),
                    restarts: slot.restarts,
                    last_exit: slot.last_exit.clone(),
                })
                .collect(),
        }
    }
}

impl Slot {
    fn started(&mut self, process: Child, probe: ProbeSettings, events: &mut dyn FnMut(Event)) {
        let now = Instant::now();
        let pid = process.id();
        self.generation += 1;
        self.status_json = None;
        self.status_in_flight = false;
        let probed = self.spec.health.is_some();
        self.state = State::Running(Running {
            child: process,
            pid,
            next_probe: now + probe.initial_delay,
            probe_in_flight: false,
            failures: 0,
            healthy: if probed { None } else { Some(true) },
            healthy_since: if probed { None } else { Some(now) },
            killed: false,
        });
        events(Event::Started {
            name: self.spec.name.clone(),
            pid,
        });
    }

    fn schedule_restart(&mut self, events: &mut dyn FnMut(Event)) {
        let after = self.backoff.next_delay();
        self.restarts += 1;
        self.state = State::WaitingToRestart {
            until: Instant::now() + after,
        };
        self.status_json = None;
        events(Event::Restarting {
            name: self.spec.name.clone(),
            after,
            restarts: self.restarts,
        });
    }

    /// During stop: reaps the child if it exited, without restarting it.
    fn reap_stopping(&mut self, events: &mut dyn FnMut(Event)) -> Result<(), SupervisorError> {
        let State::Running(running) = &mut self.state else {
            return Ok(());
        };
        let waited = running
            .child
            .try_wait()
            .map_err(|source| SupervisorError::Wait {
                name: self.spec.name.clone(),
                pid: running.pid,
                source,
            });
        match waited {
            Ok(Some(status)) => self.exited(child::describe_exit(status), events),
            Ok(None) => {}
            Err(error) => {
                // Cannot wait: stop trying (a second try would fail the same way).
                self.state = State::Stopped;
                return Err(error);
            }
        }
        Ok(())
    }

    fn exited(&mut self, status: String, events: &mut dyn FnMut(Event)) {
        if let State::Running(running) = &self.state {
            events(Event::Exited {
                name: self.spec.name.clone(),
                pid: running.pid,
                status: status.clone(),
            });
        }
        self.last_exit = Some(status);
        self.state = State::Stopped;
        self.status_json = None;
    }

    fn view(&self) -> ChildView {
        let (pid, healthy) = match &self.state {
            State::Running(running) => (Some(running.pid), running.healthy),
            State::WaitingToRestart { .. } | State::Stopped => (None, None),
        };
        ChildView {
            name: self.spec.name.clone(),
            pid,
            healthy,
            restarts: self.restarts,
            status_json: self.status_json.clone(),
        }
    }
}
