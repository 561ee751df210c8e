//! The engine's finalizer [`FINALIZER`](super::FINALIZER): added before
//! anything is created for an engine, removed only after
//! [`cleanup`](super::cleanup::cleanup) found no pod left.
//!
//! Both changes are JSON merge patches of the whole finalizer list carrying
//! the engine's `resourceVersion`, so a concurrent change to the list makes
//! the patch fail with 409 (and the reconcile retry) instead of dropping
//! another controller's finalizer. (kube's `runtime::finalizer` helper is
//! not used: its JSON-patch `test` of an absent `/metadata/finalizers`
//! against `null` is rejected by the test cluster.)

use kube::api::{Api, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::json;

use super::{ReconcileError, FINALIZER};
use crate::crd::TradingEngine;

/// Whether `te` carries the operator's finalizer.
pub fn has_finalizer(te: &TradingEngine) -> bool {
    te.finalizers().iter().any(|f| f == FINALIZER)
}

/// Writes `finalizers` as the engine's finalizer list, if its
/// `resourceVersion` is still the one we saw.
async fn set_finalizers(
    engines: &Api<TradingEngine>,
    te: &TradingEngine,
    finalizers: Vec<String>,
) -> Result<(), ReconcileError> {
    let name = te.name_any();
    let patch = json!({"metadata": {
        "finalizers": finalizers,
        "resourceVersion": te.resource_version(),
    }});
    engines
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(ReconcileError::api(format!(
            "set the finalizers of TradingEngine {name} to {finalizers:?}"
        )))?;
    Ok(())
}

/// Adds [`FINALIZER`] to the engine's finalizers.
pub async fn add(engines: &Api<TradingEngine>, te: &TradingEngine) -> Result<(), ReconcileError> {
    let mut finalizers = te.finalizers().to_vec();
    finalizers.push(FINALIZER.to_string());
    set_finalizers(engines, te, finalizers).await
}

/// Removes [`FINALIZER`] from the engine's finalizers.
pub async fn remove(
    engines: &Api<TradingEngine>,
    te: &TradingEngine,
) -> Result<(), ReconcileError> {
    let finalizers = te
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    set_finalizers(engines, te, finalizers).await
}
