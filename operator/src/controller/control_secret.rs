//! The engine's control-token Secret (see [`crate::control_key`]): created
//! before the engine's pod, which mounts it, and never read back — the
//! operator derives the token it needs — so `create` is the only verb the
//! operator has on Secrets outside its own namespace.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::ResourceExt;

use super::ReconcileError;

/// Creates `secret` in `namespace`; one that exists already (made by an
/// earlier reconcile or a racing instance, under a name only the key
/// gives) is as good as ours.
pub async fn ensure(
    client: &kube::Client,
    namespace: &str,
    secret: &Secret,
) -> Result<(), ReconcileError> {
    let name = secret.name_any();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    match secrets.create(&PostParams::default(), secret).await {
        Ok(_) => {
            tracing::info!(secret = %name, %namespace, "created the engine's control-token Secret");
            Ok(())
        }
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(ReconcileError::api(format!(
            "create secret {namespace}/{name}"
        ))(e)),
    }
}
