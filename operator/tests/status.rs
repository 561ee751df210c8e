//! The status function: phases and condition reasons for each situation,
//! restarts per container, the trading summary, and transition times that
//! stay put while a condition's status does not change.

mod common;

use aegis_contract::api::{OrchestratorStatus, Refusal};
use aegis_operator::crd::{ConditionStatus, Phase, TradingEngine, TradingEngineStatus};
use aegis_operator::status::{desired_status, Observed, DEGRADED, PROGRESSING, READY};
use chrono::{DateTime, TimeZone, Utc};
use common::orchestrator::{status_with_book, status_without_book};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Value};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0)
        .single()
        .expect("a time")
}

fn engine(spec: Value) -> TradingEngine {
    serde_json::from_value(json!({
        "apiVersion": "aegis.dev/v1alpha1", "kind": "TradingEngine",
        "metadata": {"name": "btc", "namespace": "default", "generation": 3},
        "spec": spec,
    }))
    .expect("engine")
}

fn paper() -> TradingEngine {
    engine(json!({"symbol": "BTCUSDT"}))
}

fn live() -> TradingEngine {
    engine(
        json!({"symbol": "BTCUSDT", "source": "binance", "mode": "live", "credentialsSecretRef": {"name": "keys"}}),
    )
}

fn container(name: &str, ready: bool, started: bool, restarts: i32) -> Value {
    json!({"name": name, "ready": ready, "started": started, "restartCount": restarts,
           "image": "i", "imageID": "", "state": {"running": {}}})
}

fn pod(phase: &str, containers: Vec<Value>) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "btc-engine", "namespace": "default"},
        "status": {"phase": phase, "containerStatuses": containers},
    }))
    .expect("pod")
}

fn running_pod() -> Pod {
    pod(
        "Running",
        vec![
            container("feed", true, true, 0),
            container("brain", true, true, 2),
            container("orchestrator", true, true, 0),
        ],
    )
}

fn crash_looping_pod() -> Pod {
    let mut brain = container("brain", false, false, 5);
    brain["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}});
    brain["lastState"] = json!({"terminated": {"exitCode": 2}});
    pod(
        "Running",
        vec![
            container("feed", true, true, 0),
            brain,
            container("orchestrator", true, true, 1),
        ],
    )
}

fn cond<'a>(s: &'a TradingEngineStatus, t: &str) -> &'a aegis_operator::crd::EngineCondition {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap_or_else(|| panic!("no {t} condition in {s:?}"))
}

fn status_of(te: &TradingEngine, observed: Observed<'_>) -> TradingEngineStatus {
    desired_status(te, &observed, at(0))
}

#[test]
fn a_running_pod_with_ready_containers_is_running_and_ready() {
    let pod = running_pod();
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&pod),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Running));
    assert_eq!(s.observed_generation, Some(3));
    assert_eq!(s.pod_name.as_deref(), Some("btc-engine"));
    assert_eq!(cond(&s, READY).status, ConditionStatus::True);
    assert_eq!(cond(&s, PROGRESSING).status, ConditionStatus::False);
    assert_eq!(cond(&s, DEGRADED).status, ConditionStatus::False);
    assert_eq!(s.restarts["brain"], 2);
    assert_eq!(s.restarts.len(), 3);
    assert!(s
        .conditions
        .iter()
        .all(|c| c.observed_generation == Some(3)));
}

#[test]
fn no_pod_yet_is_pending_and_progressing() {
    let s = status_of(&paper(), Observed::default());
    assert_eq!(s.phase, Some(Phase::Pending));
    assert_eq!(cond(&s, READY).reason, "PodNotCreated");
    assert_eq!(cond(&s, PROGRESSING).status, ConditionStatus::True);
    assert!(s.pod_name.is_none() && s.restarts.is_empty());
}

#[test]
fn an_unscheduled_or_starting_pod_is_pending() {
    let unscheduled = pod("Pending", vec![]);
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&unscheduled),
            ..Default::default()
        },
    );
    assert_eq!(
        (s.phase, cond(&s, READY).reason.as_str()),
        (Some(Phase::Pending), "PodPending")
    );
    let starting = pod(
        "Running",
        vec![
            container("feed", false, false, 0),
            container("brain", true, true, 0),
        ],
    );
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&starting),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Pending));
    assert_eq!(cond(&s, PROGRESSING).reason, "ContainersStarting");
    assert!(cond(&s, PROGRESSING).message.contains("feed"));
}

#[test]
fn crash_loop_back_off_is_degraded_with_the_container_and_exit_code() {
    let pod = crash_looping_pod();
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&pod),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Degraded));
    let d = cond(&s, DEGRADED);
    assert_eq!(
        (d.status, d.reason.as_str()),
        (ConditionStatus::True, "CrashLoopBackOff")
    );
    assert!(
        d.message.contains("container brain") && d.message.contains("last exit code 2"),
        "{}",
        d.message
    );
    assert_eq!(cond(&s, READY).status, ConditionStatus::False);
    assert_eq!(s.restarts["brain"], 5);
}

#[test]
fn a_started_but_unready_container_is_degraded_naming_it() {
    let pod = pod(
        "Running",
        vec![
            container("feed", false, true, 0),
            container("brain", true, true, 0),
        ],
    );
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&pod),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Degraded));
    assert_eq!(cond(&s, DEGRADED).reason, "ContainersNotReady");
    assert!(cond(&s, DEGRADED).message.contains("feed"));
}

#[test]
fn an_orchestrator_refusing_its_credentials_is_degraded_credentials_rejected() {
    let pod = running_pod();
    let refused = OrchestratorStatus {
        refusal: Some(Refusal {
            reason: Refusal::CREDENTIALS_REJECTED.into(),
            message: "live trading is off: Binance refused the API key (-2015)".into(),
        }),
        ..status_with_book("0", "1000", "0", "0", false)
    };
    let s = status_of(
        &live(),
        Observed {
            pod: Some(&pod),
            orchestrator_status: Some(&refused),
            secret_exists: true,
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Degraded));
    let d = cond(&s, DEGRADED);
    assert_eq!(
        (d.status, d.reason.as_str()),
        (ConditionStatus::True, "CredentialsRejected")
    );
    assert!(d.message.contains("-2015"), "{}", d.message);
    assert_eq!(cond(&s, READY).status, ConditionStatus::False);
    assert_eq!(s.trading.map(|t| t.equity), Some(Some("1000".into())));
}

#[test]
fn live_without_its_secret_is_degraded_secret_not_found() {
    let s = status_of(
        &live(),
        Observed {
            secret_exists: false,
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Degraded));
    let d = cond(&s, DEGRADED);
    assert_eq!(
        (d.status, d.reason.as_str()),
        (ConditionStatus::True, "SecretNotFound")
    );
    assert!(d.message.contains("\"keys\""), "{}", d.message);
    let s = status_of(
        &live(),
        Observed {
            secret_exists: true,
            ..Default::default()
        },
    );
    assert_eq!(
        s.phase,
        Some(Phase::Pending),
        "with the Secret, the pod comes"
    );
    let s = status_of(
        &paper(),
        Observed {
            secret_exists: false,
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Pending), "paper needs no Secret");
}

#[test]
fn suspended_engines_are_suspended_and_progressing_while_the_pod_goes() {
    let mut te = paper();
    te.spec.suspend = true;
    let pod = running_pod();
    let s = status_of(
        &te,
        Observed {
            pod: Some(&pod),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Suspended));
    assert_eq!(cond(&s, PROGRESSING).status, ConditionStatus::True);
    let s = status_of(&te, Observed::default());
    assert_eq!(s.phase, Some(Phase::Suspended));
    assert_eq!(cond(&s, READY).reason, "Suspended");
    assert_eq!(cond(&s, PROGRESSING).status, ConditionStatus::False);
}

#[test]
fn an_invalid_spec_is_failed_with_the_error() {
    let s = status_of(
        &paper(),
        Observed {
            spec_error: Some("spec.strategy: slow (5) must be greater than fast (10)"),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Failed));
    let d = cond(&s, DEGRADED);
    assert_eq!(d.reason, "InvalidSpec");
    assert!(d.message.contains("slow (5)"));
}

#[test]
fn an_evicted_or_terminating_pod_is_reported_as_such() {
    let mut evicted = pod("Failed", vec![]);
    if let Some(st) = evicted.status.as_mut() {
        st.reason = Some("Evicted".into());
        st.message = Some("Usage of EmptyDir volume \"shm\" exceeds the limit \"10Mi\".".into());
    }
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&evicted),
            ..Default::default()
        },
    );
    assert_eq!(
        (s.phase, cond(&s, DEGRADED).reason.as_str()),
        (Some(Phase::Failed), "Evicted")
    );
    let mut leaving = running_pod();
    leaving.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(0)));
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&leaving),
            ..Default::default()
        },
    );
    assert_eq!(
        (s.phase, cond(&s, PROGRESSING).reason.as_str()),
        (Some(Phase::Pending), "PodTerminating")
    );
}

#[test]
fn the_trading_summary_comes_from_the_orchestrator_and_survives_its_absence() {
    let pod = running_pod();
    let book = status_with_book("0.015", "10012.5", "10.25", "2.25", true);
    let mut te = paper();
    let s = status_of(
        &te,
        Observed {
            pod: Some(&pod),
            orchestrator_status: Some(&book),
            ..Default::default()
        },
    );
    let t = s.trading.clone().expect("a summary");
    assert_eq!(t.position.as_deref(), Some("0.015"));
    assert_eq!(t.equity.as_deref(), Some("10012.5"));
    assert_eq!(
        t.pnl.as_deref(),
        Some("12.5"),
        "realized + unrealized, exact"
    );
    assert!(t.halted);
    te.status = Some(s);
    let later = desired_status(
        &te,
        &Observed {
            pod: Some(&pod),
            ..Default::default()
        },
        at(60),
    );
    assert_eq!(
        later.trading.as_ref(),
        Some(&t),
        "the last known book is kept"
    );
    let no_book = status_without_book();
    let s = status_of(
        &paper(),
        Observed {
            orchestrator_status: Some(&no_book),
            ..Default::default()
        },
    );
    assert!(s.trading.is_none(), "no book yet, no summary");
}

#[test]
fn transition_times_move_only_when_a_condition_status_changes() {
    let mut te = paper();
    let running = running_pod();
    let first = desired_status(
        &te,
        &Observed {
            pod: Some(&running),
            ..Default::default()
        },
        at(0),
    );
    te.status = Some(first.clone());
    let again = desired_status(
        &te,
        &Observed {
            pod: Some(&running),
            ..Default::default()
        },
        at(30),
    );
    assert_eq!(
        again, first,
        "nothing changed: an equal status, nothing to write"
    );
    let crashing = crash_looping_pod();
    let degraded = desired_status(
        &te,
        &Observed {
            pod: Some(&crashing),
            ..Default::default()
        },
        at(60),
    );
    assert_eq!(
        cond(&degraded, READY).last_transition_time.0,
        at(60),
        "Ready went False"
    );
    assert_eq!(
        cond(&degraded, DEGRADED).last_transition_time.0,
        at(60),
        "Degraded went True"
    );
    assert_eq!(
        cond(&degraded, PROGRESSING).last_transition_time.0,
        at(0),
        "Progressing stayed False (reason changed, status did not)"
    );
    assert_ne!(
        cond(&degraded, PROGRESSING).reason,
        cond(&first, PROGRESSING).reason
    );
}

#[test]
fn a_pod_of_an_older_spec_is_progressing_spec_changed() {
    let mut pod = running_pod();
    pod.metadata.annotations =
        Some([("aegis.dev/spec-hash".to_string(), "old".to_string())].into());
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&pod),
            desired_hash: Some("new"),
            ..Default::default()
        },
    );
    let p = cond(&s, PROGRESSING);
    assert_eq!(
        (p.status, p.reason.as_str()),
        (ConditionStatus::True, "SpecChanged")
    );
    let s = status_of(
        &paper(),
        Observed {
            pod: Some(&pod),
            desired_hash: Some("old"),
            ..Default::default()
        },
    );
    assert_eq!(
        cond(&s, PROGRESSING).status,
        ConditionStatus::False,
        "current pod"
    );
    assert_eq!(s.phase, Some(Phase::Running));
}

#[test]
fn transition_times_are_whole_seconds_as_the_api_server_stores_them() {
    let now = at(5) + chrono::Duration::milliseconds(750);
    let s = desired_status(&paper(), &Observed::default(), now);
    assert!(s
        .conditions
        .iter()
        .all(|c| c.last_transition_time.0 == at(5)));
}

#[test]
fn a_refusal_is_degraded_with_its_reason_and_an_image_refusal_is_an_invalid_spec() {
    use aegis_operator::consent::images::AllowedImages;
    use aegis_operator::consent::{Borrowed, Consent, Kind, Refusal};

    let not_consented = Refusal::NotConsented {
        engine: "btc".into(),
        namespace: "default".into(),
        object: Borrowed {
            kind: Kind::Secret,
            name: "keys".into(),
            field: "spec.credentialsSecretRef",
        },
        consent: Consent::NoAnnotation,
    };
    let s = status_of(
        &live(),
        Observed {
            secret_exists: true,
            refused: Some(&not_consented),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Degraded));
    let degraded = cond(&s, DEGRADED);
    assert_eq!(degraded.status, ConditionStatus::True);
    assert_eq!(degraded.reason, "SecretNotConsented");
    assert!(degraded.message.contains("aegis.dev/allowed-engines"));
    assert_eq!(cond(&s, READY).status, ConditionStatus::False);

    let image = AllowedImages::only_default("ghcr.io/aegis/aegis-worker:1")
        .check(Some("evil.example/miner:1"))
        .expect_err("refused");
    let refused = Refusal::Image(image);
    let s = status_of(
        &paper(),
        Observed {
            secret_exists: true,
            refused: Some(&refused),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Failed));
    let degraded = cond(&s, DEGRADED);
    assert_eq!(degraded.reason, "InvalidSpec");
    assert!(degraded.message.contains("evil.example/miner:1"));

    // Suspended wins: a suspended engine has no pod to refuse.
    let suspended = engine(json!({"symbol": "BTCUSDT", "suspend": true}));
    let s = status_of(
        &suspended,
        Observed {
            refused: Some(&refused),
            ..Default::default()
        },
    );
    assert_eq!(s.phase, Some(Phase::Suspended));
}
