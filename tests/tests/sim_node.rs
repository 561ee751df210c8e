//! The simulated node: pods bound and started, container statuses reported
//! the way a kubelet reports them, graceful deletion (terminating, then gone)
//! and `pods/log` — all observed through kube-rs.

mod common;

use std::time::Duration;

use aegis_tests::cluster::node::ContainerState;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use serde_json::json;

fn pod(name: &str, restart_policy: &str) -> Pod {
    serde_json::from_value(
        json!({"metadata": {"name": name}, "spec": {"restartPolicy": restart_policy,
        "containers": [{"name": "feed", "image": "aegis"}, {"name": "brain", "image": "aegis"}]}}),
    )
    .unwrap()
}

fn ready(p: &Pod) -> Option<String> {
    p.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.clone())
}

#[tokio::test]
async fn running_node_binds_and_starts_pending_pods() {
    let (cluster, client) = common::start().await;
    let node = cluster.node("node-1").unwrap();
    let task = node.run(Duration::from_millis(20));
    let api: Api<Pod> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pod("p", "Always"))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let p = loop {
        let p = api.get("p").await.unwrap();
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
            break p;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pod never ran: {:?}",
            p.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        p.spec.as_ref().unwrap().node_name.as_deref(),
        Some("node-1")
    );
    assert_eq!(ready(&p).as_deref(), Some("True"));
    assert_eq!(p.status.unwrap().container_statuses.unwrap().len(), 2);
    task.abort();
    cluster.shutdown().await;
}

#[tokio::test]
async fn container_statuses_report_crash_loops_and_exit_codes() {
    let (cluster, client) = common::start().await;
    let node = cluster.node("node-1").unwrap();
    let api: Api<Pod> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pod("p", "Always"))
        .await
        .unwrap();
    node.bind("default", "p").unwrap();
    node.start("default", "p").unwrap();
    node.set_container(
        "default",
        "p",
        "feed",
        ContainerState::Waiting {
            reason: "CrashLoopBackOff".into(),
        },
        3,
    )
    .unwrap();
    let p = api.get("p").await.unwrap();
    assert_eq!(ready(&p).as_deref(), Some("False"));
    let feed = p
        .status
        .unwrap()
        .container_statuses
        .unwrap()
        .into_iter()
        .find(|c| c.name == "feed")
        .unwrap();
    assert_eq!(feed.restart_count, 3);
    assert_eq!(
        feed.state.unwrap().waiting.unwrap().reason.as_deref(),
        Some("CrashLoopBackOff")
    );

    api.create(&PostParams::default(), &pod("job", "Never"))
        .await
        .unwrap();
    node.bind("default", "job").unwrap();
    for c in ["feed", "brain"] {
        node.set_container(
            "default",
            "job",
            c,
            ContainerState::Terminated {
                exit_code: 137,
                reason: "OOMKilled".into(),
            },
            0,
        )
        .unwrap();
    }
    let j = api.get("job").await.unwrap();
    assert_eq!(j.status.as_ref().unwrap().phase.as_deref(), Some("Failed"));
    let term = j.status.unwrap().container_statuses.unwrap()[0]
        .state
        .clone()
        .unwrap()
        .terminated
        .unwrap();
    assert_eq!(
        (term.exit_code, term.reason.as_deref()),
        (137, Some("OOMKilled"))
    );
    assert!(node
        .set_container(
            "default",
            "job",
            "nope",
            ContainerState::Running { ready: true },
            0
        )
        .is_err());
    cluster.shutdown().await;
}

#[tokio::test]
async fn deleting_a_bound_pod_is_graceful_until_the_node_finishes() {
    let (cluster, client) = common::start().await;
    let node = cluster.node("node-1").unwrap();
    let api: Api<Pod> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pod("p", "Always"))
        .await
        .unwrap();
    node.bind("default", "p").unwrap();
    node.start("default", "p").unwrap();
    api.delete("p", &DeleteParams::default()).await.unwrap();
    let terminating = api.get("p").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(terminating.metadata.deletion_grace_period_seconds, Some(30));
    assert_eq!(node.finish_terminations(), 1);
    assert_eq!(common::api_error(api.get("p").await).code, 404);
    // An unscheduled pod has no kubelet to wait for: it goes at once.
    api.create(&PostParams::default(), &pod("q", "Always"))
        .await
        .unwrap();
    api.delete("q", &DeleteParams::default()).await.unwrap();
    assert_eq!(common::api_error(api.get("q").await).code, 404);
    cluster.shutdown().await;
}

#[tokio::test]
async fn pod_log_serves_what_the_node_recorded() {
    let (cluster, client) = common::start().await;
    let node = cluster.node("node-1").unwrap();
    let api: Api<Pod> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &pod("p", "Always"))
        .await
        .unwrap();
    node.append_log("default", "p", "feed", "line 1\nline 2\n");
    let all = api
        .logs(
            "p",
            &LogParams {
                container: Some("feed".into()),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all, "line 1\nline 2\n");
    let tail = api
        .logs(
            "p",
            &LogParams {
                container: Some("feed".into()),
                tail_lines: Some(1),
                ..LogParams::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail, "line 2\n");
    let e = common::api_error(api.logs("p", &LogParams::default()).await);
    assert_eq!(e.code, 400, "two containers: one must be named");
    cluster.shutdown().await;
}
