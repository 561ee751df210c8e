//! What the supervisor reports: its events in order, each child's view for
//! the display, and the summary of a run.

use std::time::Duration;

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
