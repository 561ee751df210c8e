//! The engine's ledger claim (`persistence.size`): created once, owned by the
//! engine (so deleting the engine deletes its ledger; name an existing claim
//! with `persistence.claimName` to keep a ledger beyond its engine).
//!
//! A claim is never updated: its storage request can only grow, and only
//! where the storage class allows it, so a changed `size` is reported in the
//! log and left for the user to resize by hand.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, PostParams};
use kube::ResourceExt;

use super::ReconcileError;

/// Creates `claim` in `namespace` unless a claim of its name exists.
pub async fn ensure(
    client: &kube::Client,
    namespace: &str,
    claim: &PersistentVolumeClaim,
) -> Result<(), ReconcileError> {
    let name = claim.name_any();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let existing = claims
        .get_opt(&name)
        .await
        .map_err(ReconcileError::api(format!(
            "get persistentvolumeclaim {namespace}/{name}"
        )))?;
    if let Some(existing) = existing {
        let requested = |c: &PersistentVolumeClaim| {
            c.spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage").cloned())
        };
        if requested(&existing) != requested(claim) {
            tracing::info!(
                claim = %name,
                "the ledger claim's size differs from persistence.size; a claim is not resized by the operator"
            );
        }
        return Ok(());
    }
    match claims.create(&PostParams::default(), claim).await {
        Ok(_) => {
            tracing::info!(claim = %name, "created the ledger claim");
            Ok(())
        }
        // Created meanwhile by a racing instance: as good as ours.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(ReconcileError::api(format!(
            "create persistentvolumeclaim {namespace}/{name}"
        ))(e)),
    }
}
