//! Helpers shared by the operator's integration tests: a test cluster with
//! the TradingEngine CRD installed, API error extraction, polling with a
//! deadline, a paper engine, a severable proxy ([`proxy`]), the controller
//! harness ([`harness`]), a stand-in orchestrator ([`orchestrator`]) and
//! Prometheus' tools ([`prometheus`]).

#![allow(dead_code)]

pub mod dashboard;
pub mod harness;
pub mod orchestrator;
pub mod prometheus;
pub mod proxy;

use std::future::Future;
use std::time::Duration;

use aegis_operator::crd::{crd, TradingEngine};
use aegis_tests::cluster::TestCluster;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, PostParams};

/// The repository root (the operator crate's parent).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the operator crate lives in the repository")
        .to_path_buf()
}

/// A test cluster with the CRD created, and an Api for engines in `default`.
pub async fn cluster_with_crd() -> (TestCluster, kube::Client, Api<TradingEngine>) {
    let cluster = TestCluster::start().await.expect("the test cluster starts");
    let client = cluster.client().expect("a client for the test cluster");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &crd())
        .await
        .expect("the test cluster accepts the CRD");
    let engines = Api::namespaced(client.clone(), "default");
    (cluster, client, engines)
}

/// The API error of a call that must have failed with one.
pub fn api_error<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> kube::core::ErrorResponse {
    match r {
        Err(kube::Error::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls `check` every 50 ms until it holds, failing the test with `what`
/// after `limit`.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates the paper engine `name` in `default`.
pub async fn create_engine(engines: &Api<TradingEngine>, name: &str) -> TradingEngine {
    let te: TradingEngine = serde_json::from_value(serde_json::json!({
        "apiVersion": "aegis.dev/v1alpha1", "kind": "TradingEngine",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"symbol": "BTCUSDT", "strategy": {"name": "sma-cross", "params": {"fast": 10, "slow": 30}}},
    }))
    .expect("an engine");
    engines
        .create(&PostParams::default(), &te)
        .await
        .expect("the engine is accepted")
}
