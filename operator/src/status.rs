//! The status an engine should show, as a pure function of what the
//! controller observed: the engine, its pod, the orchestrator's `/status`,
//! whether the credentials Secret exists, whether the spec could be
//! turned into a pod, and whether the operator refuses it. The controller writes the result through the status
//! subresource when it differs from the current one.
//!
//! Three conditions, Kubernetes style: `Ready` (every container ready),
//! `Progressing` (a pod is being created, started or replaced) and
//! `Degraded` (something needs attention). A condition keeps its
//! `lastTransitionTime` while its status stays the same, so re-computing an
//! unchanged status gives an equal value and the controller writes nothing.
//!
//! | situation | phase | reason (Ready / Degraded) |
//! | --- | --- | --- |
//! | the spec cannot make a pod | Failed | `InvalidSpec` |
//! | `suspend: true` | Suspended | `Suspended` |
//! | live, Secret missing | Degraded | `SecretNotFound` |
//! | `spec.image` not on the allow-list | Failed | `InvalidSpec` |
//! | a Secret or claim the spec names does not consent ([`crate::consent`]) | Degraded | `SecretNotConsented` / `ClaimNotConsented` |
//! | a claim the spec names does not exist | Degraded | `ClaimNotFound` |
//! | no pod yet | Pending | `PodNotCreated` |
//! | pod being deleted (replacement) | Pending | `PodTerminating` |
//! | pod failed (e.g. evicted) | Failed | the pod's reason, else `PodFailed` |
//! | a container waiting in back-off | Degraded | `CrashLoopBackOff`, `ImagePullBackOff`, ... |
//! | pod not scheduled / containers starting | Pending | `PodPending` / `ContainersStarting` |
//! | running, a container unready | Degraded | `ContainersNotReady` |
//! | the orchestrator refuses to trade (its `/status` `refusal`) | Degraded | `CredentialsRejected`, `CredentialsMissing` |
//! | running, all ready | Running | `AllContainersReady` / `AsExpected` |
//!
//! A pod whose spec-hash annotation (`aegis.dev/spec-hash`) is not [`Observed::desired_hash`] also
//! sets `Progressing` to True with reason `SpecChanged`: it is about to be
//! replaced, whatever its containers say.
//!
//! The trading summary comes from the orchestrator's `/status`, read as the
//! worker's own type [`OrchestratorStatus`] (`position`, `equity`,
//! `realized_pnl + unrealized_pnl`, `halted` of its book). When
//! the orchestrator could not be asked, the last known summary is kept: the
//! printer columns then show the book as last seen, which is still the book
//! (the ledger is durable), rather than blanks.

use std::collections::BTreeMap;

use aegis_contract::api::OrchestratorStatus;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::consent::Refusal;
use crate::crd::{
    ConditionStatus, EngineCondition, Mode, Phase, TradingEngine, TradingEngineStatus,
    TradingSummary,
};
use crate::desired::spec_hash_of;

/// The `Ready` condition type.
pub const READY: &str = "Ready";
/// The `Progressing` condition type.
pub const PROGRESSING: &str = "Progressing";
/// The `Degraded` condition type.
pub const DEGRADED: &str = "Degraded";

/// Container waiting reasons that mean the container cannot run as it is.
const BACK_OFF_REASONS: [&str; 6] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
];

/// What the controller observed for one engine.
#[derive(Clone, Copy, Debug, Default)]
pub struct Observed<'a> {
    /// The engine's pod, if it exists.
    pub pod: Option<&'a Pod>,
    /// The orchestrator's `/status`, if it answered.
    pub orchestrator_status: Option<&'a OrchestratorStatus>,
    /// Whether `credentialsSecretRef` names an existing Secret (ignored in
    /// paper mode).
    pub secret_exists: bool,
    /// Why the spec could not be turned into a pod, if it could not
    /// (a [`SpecError`](crate::desired::SpecError) as text).
    pub spec_error: Option<&'a str>,
    /// The [`SPEC_HASH_ANNOTATION`](crate::desired::SPEC_HASH_ANNOTATION) of the pod the spec asks for now; a pod
    /// with another hash runs an older spec and is about to be replaced.
    pub desired_hash: Option<&'a str>,
    /// Why the operator will not make the pod the spec asks for (an image
    /// off the allow-list, a Secret or claim that does not consent).
    pub refused: Option<&'a Refusal>,
}

/// One computed condition before its transition time is settled.
struct Verdict {
    phase: Phase,
    ready: (ConditionStatus, &'static str, String),
    progressing: (ConditionStatus, &'static str, String),
    degraded: (ConditionStatus, String, String),
}

use ConditionStatus::{False, True};

fn simple(phase: Phase, reason: &'static str, message: String, progressing: bool) -> Verdict {
    Verdict {
        phase,
        ready: (False, reason, message.clone()),
        progressing: (if progressing { True } else { False }, reason, message),
        degraded: (False, "AsExpected".into(), String::new()),
    }
}

fn degraded(phase: Phase, reason: &str, message: String) -> Verdict {
    Verdict {
        phase,
        ready: (False, "NotReady", message.clone()),
        progressing: (False, "NotProgressing", message.clone()),
        degraded: (True, reason.to_string(), message),
    }
}

fn container_statuses(pod: &Pod) -> &[ContainerStatus] {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or(&[])
}

/// A container waiting in one of [`BACK_OFF_REASONS`]: (reason, message).
fn back_off(pod: &Pod) -> Option<(String, String)> {
    container_statuses(pod).iter().find_map(|c| {
        let waiting = c.state.as_ref()?.waiting.as_ref()?;
        let reason = waiting.reason.as_deref()?;
        if !BACK_OFF_REASONS.contains(&reason) {
            return None;
        }
        let last_exit = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| format!(", last exit code {}", t.exit_code))
            .unwrap_or_default();
        Some((
            reason.to_string(),
            format!(
                "container {} is in {reason} ({} restarts{last_exit}){}",
                c.name,
                c.restart_count,
                waiting
                    .message
                    .as_deref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
        ))
    })
}

fn pod_verdict(pod: &Pod) -> Verdict {
    if pod.metadata.deletion_timestamp.is_some() {
        return simple(
            Phase::Pending,
            "PodTerminating",
            "the previous pod is stopping; its replacement follows".into(),
            true,
        );
    }
    let status = pod.status.as_ref();
    let pod_phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if pod_phase == "Failed" || pod_phase == "Succeeded" {
        let reason = status
            .and_then(|s| s.reason.clone())
            .unwrap_or_else(|| "PodFailed".into());
        let message = status
            .and_then(|s| s.message.clone())
            .unwrap_or_else(|| format!("the pod is {pod_phase}"));
        return degraded(Phase::Failed, &reason, message);
    }
    if let Some((reason, message)) = back_off(pod) {
        return degraded(Phase::Degraded, &reason, message);
    }
    let containers = container_statuses(pod);
    if pod_phase == "Pending" || containers.is_empty() {
        return simple(
            Phase::Pending,
            "PodPending",
            "the pod is not running yet".into(),
            true,
        );
    }
    let starting: Vec<&str> = containers
        .iter()
        .filter(|c| c.started != Some(true))
        .map(|c| c.name.as_str())
        .collect();
    if !starting.is_empty() {
        return simple(
            Phase::Pending,
            "ContainersStarting",
            format!("starting: {}", starting.join(", ")),
            true,
        );
    }
    let unready: Vec<&str> = containers
        .iter()
        .filter(|c| !c.ready)
        .map(|c| c.name.as_str())
        .collect();
    if !unready.is_empty() {
        return degraded(
            Phase::Degraded,
            "ContainersNotReady",
            format!("not ready: {}", unready.join(", ")),
        );
    }
    Verdict {
        phase: Phase::Running,
        ready: (True, "AllContainersReady", String::new()),
        progressing: (False, "Running", String::new()),
        degraded: (False, "AsExpected".into(), String::new()),
    }
}

fn verdict(te: &TradingEngine, observed: &Observed<'_>) -> Verdict {
    if let Some(error) = observed.spec_error {
        return degraded(Phase::Failed, "InvalidSpec", error.to_string());
    }
    if te.spec.suspend {
        let (progressing, message) = match observed.pod {
            Some(_) => (true, "suspending: the pod is being removed"),
            None => (false, "spec.suspend is true"),
        };
        return simple(Phase::Suspended, "Suspended", message.into(), progressing);
    }
    if let Some(refusal) = observed.refused {
        let phase = if refusal.is_invalid_spec() {
            Phase::Failed
        } else {
            Phase::Degraded
        };
        return degraded(phase, refusal.reason(), refusal.to_string());
    }
    if te.spec.mode == Mode::Live && !observed.secret_exists {
        let name = te
            .spec
            .credentials_secret_ref
            .as_ref()
            .map(|s| s.name.as_str())
            .unwrap_or("<none>");
        return degraded(
            Phase::Degraded,
            "SecretNotFound",
            format!(
                "the credentials Secret {name:?} does not exist; no pod is created until it does"
            ),
        );
    }
    match observed.pod {
        None => simple(
            Phase::Pending,
            "PodNotCreated",
            "the pod is being created".into(),
            true,
        ),
        Some(pod) => {
            let mut v = pod_verdict(pod);
            let refusal = observed
                .orchestrator_status
                .and_then(|s| s.refusal.as_ref())
                .filter(|_| pod.metadata.deletion_timestamp.is_none());
            if let Some(refusal) = refusal {
                // Up but refusing to trade (credentials missing or refused
                // by the exchange): no restart cures it, so say why.
                v = degraded(Phase::Degraded, &refusal.reason, refusal.message.clone());
            }
            let running_hash = spec_hash_of(pod);
            if let Some(wanted) = observed.desired_hash {
                if pod.metadata.deletion_timestamp.is_none() && running_hash != Some(wanted) {
                    v.progressing = (
                        True,
                        "SpecChanged",
                        "the pod runs an older spec; it is being replaced".into(),
                    );
                }
            }
            v
        }
    }
}

fn condition(
    previous: &[EngineCondition],
    type_: &str,
    (status, reason, message): (ConditionStatus, String, String),
    generation: Option<i64>,
    now: DateTime<Utc>,
) -> EngineCondition {
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    EngineCondition {
        type_: type_.to_string(),
        status,
        reason,
        message,
        last_transition_time,
        observed_generation: generation,
    }
}

/// The trading summary in an orchestrator's `/status`, if it has a book.
pub fn trading_summary(status: &OrchestratorStatus) -> Option<TradingSummary> {
    let book = status.book.as_ref()?;
    Some(TradingSummary {
        position: Some(book.position.to_string()),
        equity: Some(book.equity.to_string()),
        pnl: book
            .realized_pnl
            .checked_add(book.unrealized_pnl)
            .map(|d| d.normalize().to_string()),
        halted: book.halted,
    })
}

/// The status `te` should have, given what was observed at `now`.
pub fn desired_status(
    te: &TradingEngine,
    observed: &Observed<'_>,
    now: DateTime<Utc>,
) -> TradingEngineStatus {
    // `metav1.Time` is written with whole seconds: a sub-second `now` would
    // never equal what the API server stores, and every reconcile would
    // write the status again.
    let now = DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
    let previous = te.status.clone().unwrap_or_default();
    let generation = te.metadata.generation;
    let v = verdict(te, observed);
    let (r_status, r_reason, r_message) = v.ready;
    let (p_status, p_reason, p_message) = v.progressing;
    let conditions = vec![
        condition(
            &previous.conditions,
            READY,
            (r_status, r_reason.to_string(), r_message),
            generation,
            now,
        ),
        condition(
            &previous.conditions,
            PROGRESSING,
            (p_status, p_reason.to_string(), p_message),
            generation,
            now,
        ),
        condition(&previous.conditions, DEGRADED, v.degraded, generation, now),
    ];
    let restarts: BTreeMap<String, i32> = observed
        .pod
        .map(|pod| {
            container_statuses(pod)
                .iter()
                .map(|c| (c.name.clone(), c.restart_count))
                .collect()
        })
        .unwrap_or_default();
    let trading = observed
        .orchestrator_status
        .and_then(trading_summary)
        .or(previous.trading);
    TradingEngineStatus {
        phase: Some(v.phase),
        observed_generation: generation,
        conditions,
        pod_name: observed.pod.and_then(|p| p.metadata.name.clone()),
        restarts,
        trading,
    }
}
