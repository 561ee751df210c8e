//! The controller test harness: the in-memory test cluster with
//! manifests/crd.yaml installed, a simulated node running pods, and the real
//! controller; plus polling with a deadline.

use std::future::Future;
use std::time::Duration;

use aegis_operator::controller;
use aegis_operator::crd::{Phase, TradingEngine};
use aegis_operator::desired::PodSettings;
use aegis_tests::cluster::node::SimNode;
use aegis_tests::cluster::TestCluster;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

/// Everything a test needs; dropping the handles stops the background tasks.
pub struct Harness {
    /// The in-memory API server.
    pub cluster: TestCluster,
    /// A client for it.
    pub client: Client,
    /// Engines in `default`.
    pub engines: Api<TradingEngine>,
    /// Pods in `default`.
    pub pods: Api<Pod>,
    /// The simulated node that runs pods.
    pub sim_node: SimNode,
    /// The node's background loop.
    pub node: JoinHandle<()>,
    /// The controller.
    pub controller: JoinHandle<()>,
}

impl Harness {
    /// A test cluster with manifests/crd.yaml installed, a simulated node
    /// and the controller running.
    pub async fn start() -> Harness {
        let cluster = TestCluster::start().await.expect("the test cluster starts");
        let client = cluster.client().expect("a client for the test cluster");
        let path = super::repo_root().join("manifests/crd.yaml");
        let yaml = std::fs::read_to_string(&path).expect("manifests/crd.yaml is readable");
        let crd: CustomResourceDefinition =
            serde_yaml::from_str(&yaml).expect("manifests/crd.yaml is a CRD");
        Api::<CustomResourceDefinition>::all(client.clone())
            .create(&PostParams::default(), &crd)
            .await
            .expect("the test cluster accepts the CRD");
        let sim_node = cluster.node("node-1").expect("a simulated node");
        let node = sim_node.clone().run(Duration::from_millis(30));
        let settings = PodSettings {
            image: "aegis-worker:test".into(),
            image_pull_policy: None,
            control_key: control_key(),
        };
        let controller = tokio::spawn(controller::run(
            client.clone(),
            settings,
            std::future::pending(),
        ));
        Harness {
            engines: Api::namespaced(client.clone(), "default"),
            pods: Api::namespaced(client.clone(), "default"),
            cluster,
            client,
            sim_node,
            node,
            controller,
        }
    }

    /// Stops the controller, the node and the cluster.
    pub async fn stop(self) {
        self.controller.abort();
        self.node.abort();
        self.cluster.shutdown().await;
    }

    /// Creates the engine `name` in `default` with `spec`.
    pub async fn create(&self, name: &str, spec: Value) -> TradingEngine {
        let te: TradingEngine = serde_json::from_value(json!({
            "apiVersion": "aegis.dev/v1alpha1", "kind": "TradingEngine",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }))
        .expect("an engine");
        self.engines
            .create(&PostParams::default(), &te)
            .await
            .expect("the engine is accepted")
    }

    /// Merge-patches the spec of engine `name`.
    pub async fn patch_spec(&self, name: &str, spec: Value) {
        self.engines
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await
            .expect("the spec patch is accepted");
    }

    /// The pod `name` in `default`, if it exists.
    pub async fn pod(&self, name: &str) -> Option<Pod> {
        self.pods.get_opt(name).await.expect("get pod")
    }

    /// The events published about engine `name`.
    pub async fn events(&self, name: &str) -> Vec<K8sEvent> {
        let events: Api<K8sEvent> = Api::namespaced(self.client.clone(), "default");
        events
            .list(&Default::default())
            .await
            .expect("list events")
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .collect()
    }

    /// The reasons of the events published about engine `name`.
    pub async fn event_reasons(&self, name: &str) -> Vec<String> {
        self.events(name)
            .await
            .into_iter()
            .filter_map(|e| e.reason)
            .collect()
    }

    /// The phase of engine `name`.
    pub async fn phase(&self, name: &str) -> Option<Phase> {
        self.engines
            .get(name)
            .await
            .expect("get engine")
            .status
            .and_then(|s| s.phase)
    }
}

/// Polls `check` until it holds, failing the test after 8 s (more than
/// `controller::SECRET_RETRY`).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// Runs a test body with a hard limit so it cannot hang.
pub async fn within_limit(body: impl Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(20), body)
        .await
        .expect("the test finishes within 20 s");
}

/// A paper BTCUSDT spec with sma-cross(fast, 30).
pub fn sma(fast: i64) -> Value {
    json!({"symbol": "BTCUSDT", "strategy": {"name": "sma-cross", "params": {"fast": fast, "slow": 30}}})
}

/// The control key the harness's operator derives engine tokens from.
pub fn control_key() -> aegis_operator::control_key::ControlKey {
    aegis_operator::control_key::ControlKey::from_bytes(&[7; 32]).expect("a test key")
}
