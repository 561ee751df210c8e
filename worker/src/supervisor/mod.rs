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
mod events;
mod run;
mod spec;

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use aegis_runtime::backoff::{Backoff, BackoffSettings};
pub use aegis_runtime::http_client::ProbeError;
pub use display::Display;
pub use events::{ChildSummary, ChildView, Event, Summary};
pub use spec::{ChildSpec, ProbeSettings, SupervisorError};

use run::Run;

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
        let mut run = Run::new(&self.children, self.probe, self.backoff);
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
