//! One [`Supervisor::run`](super::Supervisor::run): start the children,
//! probe them, restart them with backoff, and stop them.

use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use aegis_runtime::backoff::{Backoff, BackoffSettings};
use aegis_runtime::http_client as probe;
use aegis_runtime::http_client::ProbeError;

use super::child;
use super::events::{ChildSummary, ChildView, Event, Summary};
use super::spec::{ChildSpec, ProbeSettings, SupervisorError};

/// How often the loop looks for exited children and due restarts.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The mutable state of one [`Supervisor::run`].
pub(super) struct Run {
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
    /// A run of `children`, none started yet.
    pub(super) fn new(
        children: &[ChildSpec],
        probe: ProbeSettings,
        backoff: BackoffSettings,
    ) -> Run {
        let (reports_tx, reports_rx) = mpsc::channel();
        Run {
            probe,
            slots: children
                .iter()
                .map(|spec| Slot {
                    spec: spec.clone(),
                    backoff: Backoff::new(backoff),
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
        }
    }

    pub(super) fn start_all(
        &mut self,
        events: &mut dyn FnMut(Event),
    ) -> Result<(), SupervisorError> {
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

    pub(super) fn supervise(
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
            let token = slot.spec.status_token.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("status-{}", slot.spec.name))
                .spawn(move || {
                    let json = probe::fetch_status_json(addr, token.as_ref(), timeout);
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
    pub(super) fn stop_all(
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

    pub(super) fn summary(&self) -> Summary {
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
