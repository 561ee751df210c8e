//! What the supervisor is asked to run: each child's command line and
//! ports, the probe settings, and why a request is refused.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use aegis_runtime::ControlToken;

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
    /// The bearer token `status` needs (a control API's `/status`).
    pub status_token: Option<ControlToken>,
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
            status_token: None,
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
