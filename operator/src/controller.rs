//! The controller: a kube-rs [`Controller`] over every `TradingEngine` that
//! owns the engine's Pod and ConfigMap, and reconciles each engine toward
//! [`desired_pod`](crate::desired::desired_pod) and
//! [`desired_status`](crate::status::desired_status).
//!
//! - [`context`]: what every reconcile shares (client, pod settings,
//!   per-engine error counts for the backoff).
//! - [`apply`]: an engine that exists: ConfigMap, at most one pod, status.
//! - [`cleanup`]: an engine being deleted: its pod stops within its grace
//!   period before the finalizer [`FINALIZER`] is removed (with
//!   `flattenOnDelete`, after the orchestrator flattened the book).
//! - [`orchestrator`]: the orchestrator's HTTP API (`/status`, `/flatten`).
//!
//! [`run`] reconciles as if it were the only instance (safe for the pod: its
//! name is derived from the engine's, so a racing second instance gets
//! AlreadyExists). Leader election, `/healthz`, `/readyz` and `/metrics` are
//! in [`crate::operator`], which runs [`run_with`] while this instance
//! leads; a [`Context`] made [`with_leading`](Context::with_leading) starts
//! no reconcile once the lead is lost.

pub mod apply;
pub mod cache;
pub mod cleanup;
pub mod context;
pub mod finalizer;
pub mod ledger_claim;
pub mod orchestrator;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Client, ResourceExt};

use crate::crd::TradingEngine;
use crate::desired::PodSettings;

pub use context::Context;

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
/// [`STATUS_TIMEOUT`](orchestrator::STATUS_TIMEOUT)).
pub const TRADING_REFRESH: Duration = Duration::from_secs(15);

/// How soon an engine is looked at again while it waits for its pod to go
/// (a replacement or a cleanup); the pod's deletion event usually comes
/// first.
pub const WAIT_FOR_POD: Duration = Duration::from_millis(500);

/// Why a reconcile did not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A call to the API server failed (transient; retried with backoff).
    #[error("{action}: {source}")]
    Api {
        /// What the controller was doing, naming the object.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The engine has no namespace (TradingEngines are namespaced).
    #[error("TradingEngine {name} has no namespace")]
    NoNamespace {
        /// The engine's name.
        name: String,
    },
    /// kube-runtime's finalizer helper could not address the engine (no
    /// name, or a finalizer that is not a JSON pointer segment).
    #[error("the finalizer of TradingEngine {name}: {message}")]
    Finalizer {
        /// The engine's name.
        name: String,
        /// The helper's error.
        message: String,
    },
    /// The engine's pod is still terminating; the finalizer stays until it is gone.
    #[error("pod {namespace}/{pod} is still terminating")]
    PodTerminating {
        /// The namespace.
        namespace: String,
        /// The pod's name.
        pod: String,
    },
}

impl ReconcileError {
    /// An API error while doing `action`.
    pub fn api(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Self {
        let action = action.into();
        move |source| ReconcileError::Api { action, source }
    }

    /// Whether this only means "the pod has not gone yet" (not a failure).
    pub fn is_waiting(&self) -> bool {
        matches!(self, ReconcileError::PodTerminating { .. })
    }

    /// Every [`reason`](Self::reason), one per variant.
    pub const REASONS: [&'static str; 4] = ["api", "finalizer", "no_namespace", "pod_terminating"];

    /// A stable snake_case name of the variant (the metrics' `reason`).
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::Api { .. } => "api",
            ReconcileError::Finalizer { .. } => "finalizer",
            ReconcileError::NoNamespace { .. } => "no_namespace",
            ReconcileError::PodTerminating { .. } => "pod_terminating",
        }
    }

    /// The HTTP status of an API server's error response.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            ReconcileError::Api {
                source: kube::Error::Api(e),
                ..
            } => Some(e.code),
            _ => None,
        }
    }
}

/// Reconciles one engine through kube-runtime's finalizer helper
/// ([`finalizer::reconcile`]): an engine without [`FINALIZER`] gets it
/// first; a live engine is [`apply::apply`]'d; a deleting one is
/// [`cleanup::cleanup`]'d and then loses the finalizer.
pub async fn reconcile(
    te: Arc<TradingEngine>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    if !ctx.may_reconcile() {
        // Lost the lead: the new leader reconciles this engine.
        return Ok(Action::await_change());
    }
    let started = std::time::Instant::now();
    let result = reconcile_engine(te, &ctx).await;
    if let Some(metrics) = ctx.metrics() {
        metrics.reconciled(started.elapsed());
    }
    result
}

async fn reconcile_engine(
    te: Arc<TradingEngine>,
    ctx: &Arc<Context>,
) -> Result<Action, ReconcileError> {
    let name = te.name_any();
    let namespace = te
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace { name: name.clone() })?;
    let engines: Api<TradingEngine> = Api::namespaced(ctx.client.clone(), &namespace);
    // Adding the finalizer answers await_change: the patch's own watch
    // event brings the engine back with it.
    let result = finalizer::reconcile(&engines, te, ctx).await;
    if result.is_ok() {
        ctx.forget_failures(&namespace, &name);
    }
    result
}

/// What to do after a failed reconcile: look again soon while a pod
/// terminates, else back off exponentially per engine.
pub fn error_policy(te: Arc<TradingEngine>, error: &ReconcileError, ctx: Arc<Context>) -> Action {
    if let Some(metrics) = ctx.metrics() {
        metrics.reconcile_failed(error);
    }
    let namespace = te.namespace().unwrap_or_default();
    if error.is_waiting() {
        tracing::debug!(engine = %te.name_any(), %namespace, "{error}");
        return Action::requeue(WAIT_FOR_POD);
    }
    let delay = ctx.record_failure(&namespace, &te.name_any());
    tracing::warn!(engine = %te.name_any(), %namespace, retry_in = ?delay, "reconcile failed: {error}");
    Action::requeue(delay)
}

/// Runs the controller over every namespace until `shutdown` completes
/// (reconciles in flight finish first).
pub async fn run(
    client: Client,
    settings: PodSettings,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    run_with(Arc::new(Context::new(client, settings)), shutdown).await;
}

/// Runs the controller with `ctx` until `shutdown` completes (reconciles in
/// flight finish first); its engine cache feeds the engine gauge meanwhile.
pub async fn run_with(
    ctx: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let engines: Api<TradingEngine> = Api::all(ctx.client.clone());
    let (pod_store, pods) = cached_watch::<Pod>(&ctx.client);
    let (config_map_store, config_maps) = cached_watch::<ConfigMap>(&ctx.client);
    ctx.caches.set(pod_store, config_map_store);
    let config = controller::Config::default()
        .concurrency(RECONCILE_CONCURRENCY)
        .debounce(DEBOUNCE);
    let controller = Controller::new(engines, watcher::Config::default()).with_config(config);
    if let Some(metrics) = ctx.metrics() {
        metrics.watch_engines(Some(controller.store()));
    }
    controller
        .owns_stream(pods)
        .owns_stream(config_maps)
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|result| async move {
            match result {
                Ok((engine, _)) => tracing::debug!(engine = %engine.name, namespace = engine.namespace.as_deref().unwrap_or_default(), "reconciled"),
                Err(e) => tracing::debug!("controller: {e}"),
            }
        })
        .await;
    if let Some(metrics) = ctx.metrics() {
        metrics.watch_engines(None);
    }
    ctx.caches.clear();
}

/// A watch of every `K` in the cluster that fills a cache (without
/// `managedFields`, which the controller never reads) and yields what it
/// touches, to trigger the owners' reconciles.
fn cached_watch<K>(
    client: &Client,
) -> (
    reflector::Store<K>,
    impl futures::Stream<Item = Result<K, watcher::Error>> + Send + 'static,
)
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (store, writer) = reflector::store();
    let stream = watcher(Api::<K>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .modify(|object| object.managed_fields_mut().clear())
        .reflect(writer)
        .touched_objects();
    (store, stream)
}
