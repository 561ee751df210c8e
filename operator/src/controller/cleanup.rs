//! Cleaning up an engine being deleted: its pod is deleted with its own
//! grace period (the orchestrator flushes its ledger, and with
//! `flattenOnDelete` closes the position, before it exits) and the finalizer
//! stays until the pod is gone.

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::ResourceExt;

use super::apply::delete_pod;
use super::{Context, ReconcileError};
use crate::crd::TradingEngine;
use crate::desired::pod_name;

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
