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
pub mod constants;
pub mod context;
pub mod control_secret;
pub mod error;
pub mod finalizer;
pub mod ledger_claim;
pub mod orchestrator;

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Client, ResourceExt};

use crate::crd::TradingEngine;
use crate::desired::PodSettings;

pub use constants::{
    DEBOUNCE, FIELD_MANAGER, FINALIZER, RECONCILE_CONCURRENCY, RESYNC, SECRET_RETRY,
    TRADING_REFRESH, WAIT_FOR_POD,
};
pub use context::Context;
pub use error::ReconcileError;

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
