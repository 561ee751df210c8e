//! The controller's names and timings: its finalizer, its field manager,
//! how many reconciles run at once and how often engines are looked at.

use std::time::Duration;

/// The finalizer the operator puts on every engine.
pub const FINALIZER: &str = "aegis.dev/cleanup";

/// The field manager of the operator's server-side applies.
pub const FIELD_MANAGER: &str = "aegis-operator";

/// Reconciles in flight at once. Unbounded, a burst of 1,000 new engines
/// opens a connection per request in flight (112 MiB peak); at 32 the API
/// server was left idle between replies; 64 settled 1,000 engines fastest
/// at 70 MiB (docs/benchmarks.md, "Operator").
pub const RECONCILE_CONCURRENCY: u16 = 64;

/// How long an engine's triggers are gathered before it is reconciled: the
/// steps that follow one change (its ConfigMap, its pod created, bound and
/// started, its own status) arrive within a few hundred milliseconds and
/// are worth one reconcile, not five. Short next to the probes' 3 s.
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// How often an engine is reconciled when nothing happens (to refresh its
/// status from the pod and the orchestrator).
pub const RESYNC: Duration = Duration::from_secs(30);

/// How often a live engine whose credentials Secret is missing looks for it
/// again (the operator does not watch Secrets: it may only `get` the one it
/// is told about).
pub const SECRET_RETRY: Duration = Duration::from_secs(5);

/// How often an engine whose orchestrator runs is reconciled when nothing
/// happens, to refresh the trading summary from its `/status` (the
/// orchestrator's book changes at most once a bar, a minute or more
/// typically; 15 s keeps `kubectl get te` within a bar while 1,000 engines
/// cost about 70 polls a second, each at most
/// [`STATUS_TIMEOUT`](super::orchestrator::STATUS_TIMEOUT)).
pub const TRADING_REFRESH: Duration = Duration::from_secs(15);

/// How soon an engine is looked at again while it waits for its pod to go
/// (a replacement or a cleanup); the pod's deletion event usually comes
/// first.
pub const WAIT_FOR_POD: Duration = Duration::from_millis(500);
