//! 1,000 TradingEngines created at once against the test cluster (a
//! benchmark, not a timed test): the time until every engine has its pod and
//! a written status, and the operator process' peak resident memory.
//!
//! The baseline, run side by side on the same cluster, is the API server's
//! floor for the same work: the bench itself writes each engine, its
//! ConfigMap, its pod (from the same `desired_pod`) and its status, with the
//! same concurrency and no controller. The ratio says what the operator
//! (watches, queueing, reconciles) costs on top of the writes it must make.
//!
//! Run: `cargo bench -p aegis-operator --bench thousand_engines`
//! (size: `AEGIS_BENCH_ENGINES`, default 1000). Targets: < 20 s, < 100 MB.

mod support;

use std::time::{Duration, Instant};

use aegis_operator::crd::{crd, TradingEngine};
use aegis_operator::desired::{desired_pod, pod_name, PodSettings};
use aegis_operator::status::{desired_status, Observed};
use aegis_tests::cluster::TestCluster;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

/// Writes in flight at once, for the baseline and for creating engines.
const CONCURRENCY: usize = 32;
/// The image the engine pods name (nothing pulls it: the node is simulated).
const IMAGE: &str = "aegis-worker:bench";

/// The name of engine `i`.
fn engine_name(i: usize) -> String {
    format!("bench-{i:04}")
}

fn engine(name: &str, namespace: &str) -> TradingEngine {
    serde_json::from_value(json!({
        "apiVersion": "aegis.dev/v1alpha1", "kind": "TradingEngine",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"symbol": "BTCUSDT", "strategy": {"name": "sma-cross", "params": {"fast": 10, "slow": 30}}},
    }))
    .expect("a valid engine")
}

/// Creates `n` engines in `namespace`, `CONCURRENCY` at a time.
async fn create_engines(client: &Client, namespace: &str, n: usize) -> Vec<TradingEngine> {
    let engines: Api<TradingEngine> = Api::namespaced(client.clone(), namespace);
    futures::stream::iter(0..n)
        .map(|i| {
            let engines = engines.clone();
            async move {
                let te = engine(&engine_name(i), namespace);
                engines
                    .create(&PostParams::default(), &te)
                    .await
                    .expect("the engine is created")
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// The baseline: the writes the operator makes per engine, made directly.
async fn baseline(client: &Client, n: usize) -> Duration {
    let namespace = "default";
    let started = Instant::now();
    let created = create_engines(client, namespace, n).await;
    let settings = PodSettings {
        image: IMAGE.into(),
        image_pull_policy: None,
        control_key: aegis_operator::control_key::ControlKey::from_bytes(&[7; 32])
            .expect("a test key"),
    };
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let engines: Api<TradingEngine> = Api::namespaced(client.clone(), namespace);
    futures::stream::iter(created)
        .map(|te| {
            let (pods, config_maps, engines, settings) = (
                pods.clone(),
                config_maps.clone(),
                engines.clone(),
                settings.clone(),
            );
            async move {
                let (pod, config_map) = desired_pod(&te, &settings).expect("a pod");
                let apply = PatchParams::apply("bench").force();
                config_maps
                    .patch(&config_map.name_any(), &apply, &Patch::Apply(&config_map))
                    .await
                    .expect("the ConfigMap is applied");
                let pod = pods
                    .create(&PostParams::default(), &pod)
                    .await
                    .expect("the pod is created");
                let observed = Observed {
                    pod: Some(&pod),
                    orchestrator_status: None,
                    secret_exists: true,
                    spec_error: None,
                    desired_hash: None,
                    refused: None,
                };
                let status = desired_status(&te, &observed, chrono::Utc::now());
                let patch = json!({"apiVersion": "aegis.dev/v1alpha1", "kind": "TradingEngine", "status": status});
                engines
                    .patch_status(&te.name_any(), &apply, &Patch::Apply(&patch))
                    .await
                    .expect("the status is written");
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

/// Counts, in `namespace`, the pods and the engines with a status for their
/// current generation.
async fn settled(client: &Client, namespace: &str) -> (usize, usize) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let engines: Api<TradingEngine> = Api::namespaced(client.clone(), namespace);
    let with_pod = pods
        .list_metadata(&ListParams::default())
        .await
        .expect("list pods")
        .items
        .len();
    let with_status = engines
        .list(&ListParams::default())
        .await
        .expect("list engines")
        .items
        .iter()
        .filter(|te| {
            te.status.as_ref().is_some_and(|s| {
                s.phase.is_some() && s.observed_generation == te.metadata.generation
            })
        })
        .count();
    (with_pod, with_status)
}

/// A fresh test cluster with the CRD and a simulated node that binds and
/// starts pods (so engines move on to Running as they would on a cluster).
async fn cluster_with_node(n: usize) -> (TestCluster, Client, tokio::task::JoinHandle<()>) {
    let cluster = TestCluster::start().await.expect("the test cluster starts");
    let client = cluster.client().expect("a client");
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd())
        .await
        .expect("the CRD is accepted");
    let node = cluster.node("node-1").expect("a simulated node");
    for i in 0..n {
        node.set_pod_ip("default", &pod_name(&engine_name(i)), &support::pod_ip(i));
    }
    let node = node.run(Duration::from_millis(50));
    (cluster, client, node)
}

#[tokio::main]
async fn main() {
    let n = support::env_usize("AEGIS_BENCH_ENGINES", 1000);

    // The baseline on a cluster of its own, so the operator sees only its
    // engines.
    let (cluster, client, node) = cluster_with_node(n).await;
    let baseline = baseline(&client, n).await;
    node.abort();
    cluster.shutdown().await;

    let (cluster, client, node) = cluster_with_node(n).await;
    let orchestrators = support::serve_orchestrators().await;
    let log = std::env::temp_dir().join("aegis-bench-operator.log");
    let operator = support::Operator::spawn(cluster.kubeconfig_path(), IMAGE, log);
    // Let it win the Lease and start watching before the burst, as a
    // running operator would have.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    create_engines(&client, "default", n).await;
    let created = started.elapsed();
    let deadline = started + Duration::from_secs(120);
    let (mut pods, mut statuses) = (0, 0);
    let mut report = Instant::now();
    while (pods, statuses) != (n, n) {
        assert!(
            Instant::now() < deadline,
            "not settled after 120 s: {pods} pods, {statuses} statuses of {n} (operator log: {})",
            operator.log.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        (pods, statuses) = settled(&client, "default").await;
        if report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  {:>5.1} s: {pods} pods, {statuses} statuses",
                started.elapsed().as_secs_f64()
            );
            report = Instant::now();
        }
    }
    let elapsed = started.elapsed();
    let peak = operator.peak_rss_mib();
    let (reconciles, mean) = operator.reconciles();
    drop(operator);

    println!("engines                         {n}");
    println!(
        "creating the engines            {:.2} s",
        created.as_secs_f64()
    );
    println!(
        "operator: all pods and statuses {:.2} s (target < 20 s)",
        elapsed.as_secs_f64()
    );
    println!(
        "baseline: same writes, direct   {:.2} s",
        baseline.as_secs_f64()
    );
    println!(
        "ratio operator / baseline       {:.2}",
        elapsed.as_secs_f64() / baseline.as_secs_f64()
    );
    println!(
        "reconciles                      {reconciles} (mean {:.1} ms)",
        mean * 1e3
    );
    println!("operator peak RSS (VmHWM)       {peak:.1} MiB (target < 100 MB)");
    orchestrators.abort();
    node.abort();
    cluster.shutdown().await;
}
