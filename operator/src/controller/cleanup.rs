//! Cleaning up an engine being deleted: its pod is deleted with its own
//! grace period (the orchestrator flushes its ledger before it exits) and
//! the finalizer stays until the pod is gone.
//!
//! With `spec.flattenOnDelete`, the orchestrator is first asked to close the
//! position (`POST /flatten`): a SIGTERM alone cannot tell it a delete from a
//! replacement. This happens once, while the pod still runs (not yet
//! terminating): success publishes a Normal event `Flattened` with the
//! resulting position; a failure after [`FLATTEN_ATTEMPTS`] tries publishes a
//! Warning `FlattenFailed` naming the reason, and the deletion goes on
//! anyway — the user asked for the engine to go, and an engine that cannot
//! be deleted because its orchestrator is down would be worse (the warning
//! says the position may still be open; the ledger has the book).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::ResourceExt;

use super::apply::delete_pod;
use super::orchestrator::{flatten, orchestrator_addr, OrchestratorError};
use super::{Context, ReconcileError};
use crate::crd::TradingEngine;
use crate::desired::pod_name;

/// Tries of `POST /flatten` before giving up.
pub const FLATTEN_ATTEMPTS: u32 = 3;
/// The pause between two tries.
pub const FLATTEN_RETRY_PAUSE: Duration = Duration::from_millis(300);

/// Deletes the engine's pod; `Ok` (the finalizer may go) only once no pod is
/// left, else [`ReconcileError::PodTerminating`] so the engine is looked at
/// again soon.
pub async fn cleanup(te: &TradingEngine, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = te.name_any();
    let namespace = te
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace { name: name.clone() })?;
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let pod = pod_name(&name);
    let existing = pods
        .get_opt(&pod)
        .await
        .map_err(ReconcileError::api(format!("get pod {namespace}/{pod}")))?;
    let left = match existing {
        None => None,
        Some(p) if p.metadata.deletion_timestamp.is_some() => Some(p),
        Some(p) => {
            if te.spec.flatten_on_delete {
                flatten_before_delete(te, ctx, &p).await;
            }
            tracing::info!(engine = %name, %namespace, pod = %pod, "engine deleted: stopping its pod");
            let note = format!("engine deleted: stopping pod {pod} within its grace period");
            ctx.event(te, false, "PodStopping", "DeletePod", note).await;
            delete_pod(&pods, p).await?
        }
    };
    match left {
        None => Ok(Action::await_change()),
        Some(_) => Err(ReconcileError::PodTerminating { namespace, pod }),
    }
}

/// Asks the orchestrator of `pod` to flatten the book, retrying quickly, and
/// reports the outcome as an event. Never fails the cleanup.
async fn flatten_before_delete(te: &TradingEngine, ctx: &Context, pod: &Pod) {
    let pod_name = pod.name_any();
    let Some(addr) = orchestrator_addr(pod) else {
        let note = format!(
            "flattenOnDelete: the orchestrator of pod {pod_name} is not running, so it could not \
             flatten; deleting anyway (the position may still be open)"
        );
        tracing::warn!(pod = %pod_name, "{note}");
        ctx.event(te, true, "FlattenFailed", "Flatten", note).await;
        return;
    };
    let mut last_error: Option<OrchestratorError> = None;
    for attempt in 1..=FLATTEN_ATTEMPTS {
        match flatten(addr, ctx.settings.control_key.engine_token(te)).await {
            Ok(reply) => {
                let note = format!(
                    "flattened before deleting pod {pod_name}: position {}, equity {}, halted {}",
                    reply.position, reply.equity, reply.halted
                );
                tracing::info!(pod = %pod_name, "{note}");
                ctx.event(te, false, "Flattened", "Flatten", note).await;
                return;
            }
            Err(e) => {
                tracing::debug!(pod = %pod_name, attempt, "POST /flatten failed: {e}");
                last_error = Some(e);
            }
        }
        if attempt < FLATTEN_ATTEMPTS {
            tokio::time::sleep(FLATTEN_RETRY_PAUSE).await;
        }
    }
    let reason = last_error.map(|e| e.to_string()).unwrap_or_default();
    let note = format!(
        "flattenOnDelete: POST /flatten to pod {pod_name} failed {FLATTEN_ATTEMPTS} times: \
         {reason}; deleting anyway (the position may still be open)"
    );
    tracing::warn!(pod = %pod_name, "{note}");
    ctx.event(te, true, "FlattenFailed", "Flatten", note).await;
}
