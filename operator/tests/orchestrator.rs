//! The controller and the orchestrator's HTTP API, against a stand-in
//! orchestrator served on the pod's IP (a loopback address the simulated
//! node reports) at the orchestrator's port:
//!
//! - the engine's `status.trading` (and so the Position and PnL printer
//!   columns) follows the orchestrator's `/status`, and keeps the last
//!   summary, without failing the reconcile, while the orchestrator is down
//!   or answers garbage;
//! - deleting an engine with `flattenOnDelete` sends exactly one
//!   `POST /flatten` while the pod still runs, before it is deleted; without
//!   it, none; a failing `/flatten` gives a Warning `FlattenFailed` and the
//!   engine is deleted anyway.
//!
//! - the orchestrator's address is the pod IP and the orchestrator
//!   container's control port named in the pod spec, only while it runs;
//! - every request carries the engine's bearer token: the fake refuses and
//!   counts any other, like the real control API.
//!
//! Each test uses its own 127.66.0.N address, so they run in parallel.
//! Between the controller's periodic refreshes (every `TRADING_REFRESH`), a
//! test makes the controller look again by annotating the engine or by a
//! container's restart count changing.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use aegis_operator::controller::cleanup::FLATTEN_ATTEMPTS;
use aegis_operator::controller::orchestrator::orchestrator_addr;
use aegis_operator::crd::{crd, Phase, TradingEngine, TradingSummary};
use aegis_operator::desired::{desired_pod, PodSettings, CONTROL_PORT_NAME};
use aegis_tests::cluster::node::ContainerState;
use common::harness::{eventually, sma, within_limit, Harness};
use common::orchestrator::{status_with_book, FakeOrchestrator};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{json, Value};

/// The engine's trading summary.
async fn trading(h: &Harness, name: &str) -> Option<TradingSummary> {
    h.engines
        .get(name)
        .await
        .expect("get engine")
        .status
        .and_then(|s| s.trading)
}

/// The restart count the engine's status shows for `container`.
async fn restarts(h: &Harness, name: &str, container: &str) -> Option<i32> {
    h.engines
        .get(name)
        .await
        .expect("get engine")
        .status
        .and_then(|s| s.restarts.get(container).copied())
}

/// Makes the controller reconcile `name` now (any change to an engine does).
async fn poke(h: &Harness, name: &str, n: u32) {
    h.engines
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"test.aegis.dev/poke": n.to_string()}}}),
            ),
        )
        .await
        .expect("annotating the engine");
}

/// What the printer column `column` of the CRD shows for `engine`.
fn printer_column(engine: &Value, column: &str) -> Option<String> {
    let crd = crd();
    let path = crd.spec.versions[0]
        .additional_printer_columns
        .as_ref()?
        .iter()
        .find(|c| c.name == column)?
        .json_path
        .replace('.', "/");
    engine.pointer(&path)?.as_str().map(String::from)
}

fn summary(position: &str, pnl: &str, equity: &str, halted: bool) -> TradingSummary {
    TradingSummary {
        position: Some(position.into()),
        equity: Some(equity.into()),
        pnl: Some(pnl.into()),
        halted,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trading_summary_follows_the_orchestrator_and_survives_its_failures() {
    let h = Harness::start().await;
    let ip = Ipv4Addr::new(127, 66, 0, 2);
    h.sim_node
        .set_pod_ip("default", "btc-engine", &ip.to_string());
    let first = status_with_book("0.5", "10100", "60", "40.5", false);
    let mut fake = FakeOrchestrator::start(ip, h.pods.clone(), "btc-engine", &first).await;
    within_limit(async {
        h.create("btc", sma(5)).await;
        let want = summary("0.5", "100.5", "10100", false);
        eventually("status.trading shows the orchestrator's book", || async {
            trading(&h, "btc").await.as_ref() == Some(&want)
        })
        .await;
        let engine = serde_json::to_value(h.engines.get("btc").await.expect("get engine"))
            .expect("an engine is JSON");
        assert_eq!(printer_column(&engine, "Position").as_deref(), Some("0.5"));
        assert_eq!(printer_column(&engine, "PnL").as_deref(), Some("100.5"));

        fake.set_status(&status_with_book("-0.25", "10050", "70", "-20", true));
        poke(&h, "btc", 1).await;
        let want = summary("-0.25", "50", "10050", true);
        eventually("status.trading follows a new /status", || async {
            trading(&h, "btc").await.as_ref() == Some(&want)
        })
        .await;

        // Down, then garbage, then an error status: each reconcile still
        // writes the status (the restart count it shows) and keeps the book.
        fake.stop().await;
        let bad_answers = [None, Some((200, "this is not JSON")), Some((500, "{}"))];
        for (restart, answer) in (1..).zip(bad_answers) {
            if let Some((code, body)) = answer {
                fake.set_status_raw(code, body);
                fake.serve().await;
            }
            let running = ContainerState::Running { ready: true };
            h.sim_node
                .set_container("default", "btc-engine", "feed", running, restart)
                .expect("the node reports a feed restart");
            eventually("the status shows the feed's restart", || async {
                restarts(&h, "btc", "feed").await == Some(restart as i32)
            })
            .await;
            assert_eq!(
                trading(&h, "btc").await.as_ref(),
                Some(&want),
                "the last summary is kept (answer {answer:?})"
            );
            assert_eq!(h.phase("btc").await, Some(Phase::Running));
            fake.stop().await;
        }
    })
    .await;
    h.stop().await;
}

/// Creates `name` with `flattenOnDelete` as given, its pod on `ip` where a
/// fake orchestrator answers; waits until the controller has polled it.
async fn running_engine(h: &Harness, name: &str, ip: Ipv4Addr, flatten: bool) -> FakeOrchestrator {
    let pod = format!("{name}-engine");
    h.sim_node.set_pod_ip("default", &pod, &ip.to_string());
    let book = status_with_book("0.5", "10100", "60", "40.5", false);
    let fake = FakeOrchestrator::start(ip, h.pods.clone(), &pod, &book).await;
    let mut spec = sma(5);
    spec["flattenOnDelete"] = json!(flatten);
    h.create(name, spec).await;
    eventually("the engine runs and shows its book", || async {
        h.phase(name).await == Some(Phase::Running) && trading(h, name).await.is_some()
    })
    .await;
    fake
}

/// Deletes the engine and waits until it is gone (finalizer removed).
async fn delete_and_wait(h: &Harness, name: &str) {
    h.engines
        .delete(name, &DeleteParams::default())
        .await
        .expect("deleting the engine");
    eventually("the engine is gone", || async {
        h.engines.get_opt(name).await.expect("get engine").is_none()
    })
    .await;
}

/// The notes of the events about `name` with `reason`.
async fn notes(h: &Harness, name: &str, reason: &str) -> Vec<String> {
    h.events(name)
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.note)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flatten_on_delete_posts_once_before_the_pod_is_deleted() {
    let h = Harness::start().await;
    within_limit(async {
        let fake = running_engine(&h, "btc", Ipv4Addr::new(127, 66, 0, 3), true).await;
        assert!(fake.posts().is_empty(), "no flatten while the engine lives");
        delete_and_wait(&h, "btc").await;
        let posts = fake.posts();
        assert_eq!(posts.len(), 1, "exactly one POST /flatten: {posts:?}");
        assert!(
            !posts[0].pod_was_terminating,
            "the POST came before the pod's deletionTimestamp was set"
        );
        let flattened = notes(&h, "btc", "Flattened").await;
        assert!(
            flattened.iter().any(|n| n.contains("position 0")),
            "a Flattened event with the position: {flattened:?}"
        );
        assert_eq!(
            fake.unauthorized(),
            0,
            "every status poll and the flatten carried the engine's token"
        );
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_flatten_on_delete_nothing_is_posted() {
    let h = Harness::start().await;
    within_limit(async {
        let fake = running_engine(&h, "eth", Ipv4Addr::new(127, 66, 0, 4), false).await;
        delete_and_wait(&h, "eth").await;
        assert!(
            fake.posts().is_empty(),
            "no POST /flatten: {:?}",
            fake.posts()
        );
        assert!(notes(&h, "eth", "Flattened").await.is_empty());
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_flatten_is_a_warning_and_the_engine_is_still_deleted() {
    let h = Harness::start().await;
    within_limit(async {
        let fake = running_engine(&h, "sol", Ipv4Addr::new(127, 66, 0, 5), true).await;
        fake.set_flatten_raw(409, r#"{"reason":"no price seen since the start"}"#);
        delete_and_wait(&h, "sol").await;
        assert_eq!(fake.posts().len(), FLATTEN_ATTEMPTS as usize, "retried");
        let failed = notes(&h, "sol", "FlattenFailed").await;
        assert!(
            failed
                .iter()
                .any(|n| n.contains("409") && n.contains("no price seen")),
            "a FlattenFailed warning naming the reason: {failed:?}"
        );
        assert!(notes(&h, "sol", "Flattened").await.is_empty());
    })
    .await;
    h.stop().await;
}

/// The engine's desired pod with the orchestrator's port renumbered to
/// 9999, as a running pod at 10.1.2.3 whose containers all run.
fn running_pod() -> Pod {
    let te: TradingEngine = serde_json::from_value(json!({
        "apiVersion": "aegis.dev/v1alpha1", "kind": "TradingEngine",
        "metadata": {"name": "btc", "namespace": "default", "uid": "0e8f-test"},
        "spec": sma(5),
    }))
    .expect("an engine");
    let settings = PodSettings {
        image: "aegis-worker:test".into(),
        image_pull_policy: None,
        control_key: aegis_operator::control_key::ControlKey::from_bytes(&[7; 32])
            .expect("a test key"),
    };
    let (pod, _) = desired_pod(&te, &settings).expect("a pod");
    let mut pod = serde_json::to_value(pod).expect("a pod is JSON");
    for container in pod["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
    {
        for port in container["ports"].as_array_mut().into_iter().flatten() {
            if port["name"] == CONTROL_PORT_NAME {
                port["containerPort"] = json!(9999);
            }
        }
    }
    let running = |name: &str| json!({"name": name, "ready": true, "restartCount": 0, "image": "", "imageID": "", "state": {"running": {}}});
    pod["status"] = json!({
        "phase": "Running",
        "podIP": "10.1.2.3",
        "containerStatuses": [running("feed"), running("brain"), running("orchestrator")],
    });
    serde_json::from_value(pod).expect("a running pod")
}

#[test]
fn the_orchestrator_is_reached_at_the_pod_ip_and_its_named_port_only_while_it_runs() {
    let pod = running_pod();
    assert_eq!(
        orchestrator_addr(&pod),
        Some(SocketAddr::from(([10, 1, 2, 3], 9999))),
        "the port comes from the pod spec, by name"
    );
    let changed = |change: &dyn Fn(&mut Pod)| {
        let mut p = pod.clone();
        change(&mut p);
        orchestrator_addr(&p)
    };
    let status = |p: &mut Pod| p.status.clone().expect("a status");
    assert_eq!(
        changed(&|p| p.metadata.deletion_timestamp = Some(Time(chrono::Utc::now()))),
        None,
        "terminating"
    );
    assert_eq!(
        changed(&|p| {
            let mut s = status(p);
            s.phase = Some("Pending".into());
            p.status = Some(s);
        }),
        None,
        "not running"
    );
    assert_eq!(
        changed(&|p| {
            let mut s = status(p);
            s.pod_ip = None;
            p.status = Some(s);
        }),
        None,
        "no pod IP"
    );
    assert_eq!(
        changed(&|p| {
            let mut s = status(p);
            for c in s.container_statuses.iter_mut().flatten() {
                if c.name == "orchestrator" {
                    c.state = Some(
                        serde_json::from_value(json!({"waiting": {"reason": "CrashLoopBackOff"}}))
                            .expect("a state"),
                    );
                }
            }
            p.status = Some(s);
        }),
        None,
        "the orchestrator container is not running"
    );
}
