//! Reconciling an engine that exists: server-side apply its ConfigMap, create
//! its ledger claim (`persistence.size`) once, create its control-token
//! Secret before its pod, keep at most one pod of the current spec, and
//! write the status it should show.
//!
//! The pod is never replaced in one step: a pod of an older spec (another
//! spec-hash annotation) is deleted, and the new one is created by a later
//! reconcile that finds no pod — so two pods of one engine never exist at
//! once. A create that answers AlreadyExists means another instance (or a
//! stale cache) raced us: we look again instead of creating under another
//! name.
//!
//! While the orchestrator runs, its control API's `/status` is polled
//! with the engine's token on every reconcile
//! (and every [`TRADING_REFRESH`]) for the trading summary; a failed or slow
//! poll is not a reconcile error: it is logged at debug level and the last
//! summary is kept.
//!
//! Before a pod is made, the operator checks what the spec borrows
//! ([`crate::consent`]): an image off the allow-list, or a Secret or claim
//! without the engine in its `aegis.dev/allowed-engines` annotation, means
//! no pod (a running one is deleted) and a condition and event saying why.
//! Secrets and claims are not watched, so a refused engine looks again every
//! [`SECRET_RETRY`].

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::cache::Cached;
use super::orchestrator::{fetch_status, orchestrator_addr};
use super::{
    control_secret, ledger_claim, Context, ReconcileError, FIELD_MANAGER, RESYNC, SECRET_RETRY,
    TRADING_REFRESH, WAIT_FOR_POD,
};
use crate::consent::{self, Consent, Kind, Refusal};
use crate::crd::{Mode, TradingEngine};
use crate::desired::{
    desired_control_secret, desired_ledger_claim, desired_pod, pod_name, spec_hash_of,
};
use crate::status::{desired_status, Observed};

/// What the pod step decided.
enum PodOutcome {
    /// The pod (if any) is as wanted; look again after [`RESYNC`].
    Settled(Option<Pod>),
    /// A pod is going away or a create raced; look again soon.
    Waiting(Option<Pod>),
}

/// Reconciles `te` toward its desired ConfigMap, pod and status.
pub async fn apply(te: &TradingEngine, ctx: &Context) -> Result<Action, ReconcileError> {
    let name = te.name_any();
    let namespace = te
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace { name: name.clone() })?;
    let client = ctx.client.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pod_name = pod_name(&name);

    let credentials = credentials(te, &client, &namespace).await?;
    let secret_exists = !matches!(credentials, Credentials::Missing);
    let existing = match ctx.caches.pod(&namespace, &pod_name) {
        Cached::Known(pod) => pod,
        Cached::Unknown => pods
            .get_opt(&pod_name)
            .await
            .map_err(ReconcileError::api(format!(
                "get pod {namespace}/{pod_name}"
            )))?,
    };

    let key = &ctx.settings.control_key;
    let desired = desired_pod(te, &ctx.settings).and_then(|(pod, config_map)| {
        let claim = desired_ledger_claim(te)?;
        Ok((pod, config_map, claim, desired_control_secret(te, key)?))
    });
    let (outcome, desired_hash, spec_error, refused) = match desired {
        Err(e) => {
            // Leave any running pod alone: a spec the schema let through but
            // we cannot build is reported, not acted on.
            (
                PodOutcome::Settled(existing),
                None,
                Some(e.to_string()),
                None,
            )
        }
        Ok((pod, config_map, claim, token_secret)) => {
            if config_map_differs(ctx, &namespace, &config_map) {
                apply_config_map(&client, &namespace, &config_map).await?;
            }
            if let Some(claim) = &claim {
                ledger_claim::ensure(&client, &namespace, claim).await?;
            }
            let hash = spec_hash_of(&pod).map(String::from);
            let refused = match te.spec.suspend {
                true => None,
                false => refusal(te, ctx, &credentials, &namespace).await?,
            };
            let no_pod_because = if te.spec.suspend {
                Some("the engine is suspended".to_string())
            } else if let Some(refusal) = &refused {
                Some(format!("{}: {refusal}", refusal.reason()))
            } else if !secret_exists {
                Some("the credentials Secret is missing".to_string())
            } else {
                None
            };
            let wanted = Wanted {
                pod,
                token_secret,
                no_pod_because,
            };
            let outcome = reconcile_pod(te, ctx, &pods, existing, wanted).await?;
            (outcome, hash, None, refused)
        }
    };

    let (observed_pod, settled) = match outcome {
        PodOutcome::Settled(pod) => (pod, true),
        PodOutcome::Waiting(pod) => (pod, false),
    };
    let addr = observed_pod.as_ref().and_then(orchestrator_addr);
    let orchestrator_status = match addr {
        None => None,
        Some(addr) => fetch_status(addr, key.engine_token(te))
            .await
            .inspect_err(|e| {
                tracing::debug!(engine = %name, "orchestrator /status: {e}; keeping the last summary")
            })
            .ok(),
    };
    let action = match (settled, addr.is_some()) {
        (false, _) => Action::requeue(WAIT_FOR_POD),
        (true, _) if !secret_exists => Action::requeue(SECRET_RETRY),
        // Consent is given on objects the operator does not watch.
        (true, _) if refused.as_ref().is_some_and(|r| !r.is_invalid_spec()) => {
            Action::requeue(SECRET_RETRY)
        }
        (true, true) => Action::requeue(TRADING_REFRESH),
        (true, false) => Action::requeue(RESYNC),
    };
    let observed = Observed {
        pod: observed_pod.as_ref(),
        orchestrator_status: orchestrator_status.as_ref(),
        secret_exists,
        spec_error: spec_error.as_deref(),
        desired_hash: desired_hash.as_deref(),
        refused: refused.as_ref(),
    };
    let status = desired_status(te, &observed, chrono::Utc::now());
    if te.status.as_ref() != Some(&status) {
        if let Some(e) = &spec_error {
            ctx.event(te, true, "InvalidSpec", "BuildPod", e.clone())
                .await;
        } else if let Some(refusal) = &refused {
            ctx.event(te, true, refusal.reason(), "CreatePod", refusal.to_string())
                .await;
        } else if !secret_exists {
            let note = match &te.spec.credentials_secret_ref {
                Some(r) => format!(
                    "live mode needs the Secret {namespace}/{}: not found",
                    r.name
                ),
                None => "live mode needs spec.credentialsSecretRef".to_string(),
            };
            ctx.event(te, true, "SecretNotFound", "CreatePod", note)
                .await;
        }
        let engines: Api<TradingEngine> = Api::namespaced(client, &namespace);
        let patch = json!({
            "apiVersion": TradingEngine::api_version(&()),
            "kind": TradingEngine::kind(&()),
            "status": status,
        });
        engines
            .patch_status(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(ReconcileError::api(format!(
                "patch status of TradingEngine {namespace}/{name}"
            )))?;
    }
    Ok(action)
}

/// What the controller knows of the engine's credentials Secret.
enum Credentials {
    /// Paper mode: none are used.
    NotNeeded,
    /// Live mode, and the Secret (or the reference) is missing.
    Missing,
    /// Live mode: the Secret's metadata (its data is never read).
    Found(Box<ObjectMeta>),
}

/// The engine's credentials Secret, in live mode: only its metadata, and
/// only of that one Secret.
async fn credentials(
    te: &TradingEngine,
    client: &kube::Client,
    namespace: &str,
) -> Result<Credentials, ReconcileError> {
    match (te.spec.mode, &te.spec.credentials_secret_ref) {
        (Mode::Paper, _) => Ok(Credentials::NotNeeded),
        (Mode::Live, None) => Ok(Credentials::Missing),
        (Mode::Live, Some(secret)) => {
            let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
            let found =
                secrets
                    .get_metadata_opt(&secret.name)
                    .await
                    .map_err(ReconcileError::api(format!(
                        "get secret {namespace}/{}",
                        secret.name
                    )))?;
            Ok(found.map_or(Credentials::Missing, |s| {
                Credentials::Found(Box::new(s.metadata))
            }))
        }
    }
}

/// Why the operator will not run the pod `te` asks for, if it will not: its
/// image is off the allow-list, or a Secret or claim it names does not
/// consent (or, for a claim, does not exist). A missing Secret is left to
/// `SecretNotFound`.
async fn refusal(
    te: &TradingEngine,
    ctx: &Context,
    credentials: &Credentials,
    namespace: &str,
) -> Result<Option<Refusal>, ReconcileError> {
    if let Err(e) = ctx.allowed_images.check(te.spec.image.as_deref()) {
        return Ok(Some(Refusal::Image(e)));
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), namespace);
    for object in consent::borrowed(te) {
        let meta =
            match object.kind {
                Kind::Secret => match credentials {
                    Credentials::Found(meta) => (**meta).clone(),
                    Credentials::NotNeeded | Credentials::Missing => continue,
                },
                Kind::Claim => {
                    let found = claims.get_metadata_opt(&object.name).await.map_err(
                        ReconcileError::api(format!(
                            "get persistentvolumeclaim {namespace}/{}",
                            object.name
                        )),
                    )?;
                    match found {
                        Some(claim) => claim.metadata,
                        None => {
                            return Ok(Some(Refusal::ClaimNotFound {
                                namespace: namespace.to_string(),
                                object,
                            }))
                        }
                    }
                }
            };
        match consent::object_consent(&meta, te) {
            Consent::Granted => {}
            consent => {
                return Ok(Some(Refusal::NotConsented {
                    engine: te.name_any(),
                    namespace: namespace.to_string(),
                    object,
                    consent,
                }))
            }
        }
    }
    Ok(None)
}

/// Whether the engine's ConfigMap is missing or differs from `desired` in
/// its data or labels (unknown counts as different).
fn config_map_differs(ctx: &Context, namespace: &str, desired: &ConfigMap) -> bool {
    match ctx.caches.config_map(namespace, &desired.name_any()) {
        Cached::Known(Some(current)) => {
            current.data != desired.data || current.metadata.labels != desired.metadata.labels
        }
        Cached::Known(None) | Cached::Unknown => true,
    }
}

/// Server-side applies the engine's ConfigMap.
async fn apply_config_map(
    client: &kube::Client,
    namespace: &str,
    config_map: &ConfigMap,
) -> Result<(), ReconcileError> {
    let cm_name = config_map.name_any();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    config_maps
        .patch(
            &cm_name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(config_map),
        )
        .await
        .map_err(ReconcileError::api(format!(
            "apply configmap {namespace}/{cm_name}"
        )))?;
    Ok(())
}

/// What the pod step works toward.
struct Wanted {
    /// The pod of the current spec.
    pod: Pod,
    /// Its control-token Secret, created before the pod that mounts it.
    token_secret: Secret,
    /// Why no pod should run (suspended, refused, no credentials), if so.
    no_pod_because: Option<String>,
}

/// Brings the pod toward `wanted` (or toward none, when it says why not),
/// one step at a time.
async fn reconcile_pod(
    te: &TradingEngine,
    ctx: &Context,
    pods: &Api<Pod>,
    existing: Option<Pod>,
    wanted: Wanted,
) -> Result<PodOutcome, ReconcileError> {
    let Wanted {
        pod: desired,
        token_secret,
        no_pod_because,
    } = wanted;
    let name = desired.name_any();
    let wants_pod = no_pod_because.is_none();
    let Some(pod) = existing else {
        if !wants_pod {
            return Ok(PodOutcome::Settled(None));
        }
        let namespace = te.namespace().unwrap_or_default();
        control_secret::ensure(&ctx.client, &namespace, &token_secret).await?;
        return match pods.create(&PostParams::default(), &desired).await {
            Ok(created) => {
                tracing::info!(engine = %te.name_any(), namespace = %te.namespace().unwrap_or_default(), pod = %name, "created the engine pod");
                let note = format!("created pod {name}");
                ctx.event(te, false, "PodCreated", "CreatePod", note).await;
                Ok(PodOutcome::Settled(Some(created)))
            }
            Err(kube::Error::Api(e)) if e.code == 409 => {
                tracing::info!(engine = %te.name_any(), namespace = %te.namespace().unwrap_or_default(), pod = %name, "the pod exists already (a racing create); looking again");
                Ok(PodOutcome::Waiting(None))
            }
            Err(e) => Err(ReconcileError::api(format!("create pod {name}"))(e)),
        };
    };
    if pod.metadata.deletion_timestamp.is_some() {
        return Ok(PodOutcome::Waiting(Some(pod)));
    }
    let current = wants_pod && spec_hash_of(&pod) == spec_hash_of(&desired);
    if current {
        return Ok(PodOutcome::Settled(Some(pod)));
    }
    let (reason, note) = match &no_pod_because {
        None => ("PodReplaced", format!("deleting pod {name}: it runs an older spec; its replacement follows once it is gone")),
        Some(why) => ("PodDeleted", format!("deleting pod {name}: {why}")),
    };
    tracing::info!(engine = %te.name_any(), namespace = %te.namespace().unwrap_or_default(), pod = %name, "{note}");
    ctx.event(te, false, reason, "DeletePod", note).await;
    let pod = delete_pod(pods, pod).await?;
    Ok(PodOutcome::Waiting(pod))
}

/// Deletes `pod` (only that incarnation: the uid is a precondition) with its
/// own grace period; returns what is left of it (terminating), if anything.
pub async fn delete_pod(pods: &Api<Pod>, pod: Pod) -> Result<Option<Pod>, ReconcileError> {
    let name = pod.name_any();
    let params = DeleteParams {
        preconditions: pod.uid().map(|uid| Preconditions {
            uid: Some(uid),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match pods.delete(&name, &params).await {
        Ok(either) => Ok(either.left()),
        // Gone already, or replaced by another incarnation (uid precondition
        // failed): the next reconcile looks at what is there.
        Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(None),
        Err(e) => Err(ReconcileError::api(format!("delete pod {name}"))(e)),
    }
}
