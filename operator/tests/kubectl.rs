//! The smoke test a user would run, with the real kubectl against the test
//! cluster: `kubectl apply --server-side -f manifests/` installs the CRD,
//! RBAC and the operator Deployment; the samples apply; with the controller
//! running, `kubectl get te` (and the `aegis` category) prints the printer
//! columns with the engine's phase; a bad engine is refused with the
//! apiserver's message. Fails (does not skip) without kubectl.

mod common;

use std::time::Duration;

use aegis_operator::controller;
use aegis_operator::desired::PodSettings;
use aegis_tests::kubectl::Kubectl;

/// Polls `kubectl get te` until `check` accepts its output; fails after 15 s.
async fn get_te_until(k: &Kubectl, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let table = k.ok(&["get", "te"], None).await;
        if check(&table) {
            return table;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last `kubectl get te`:\n{table}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_install_with_kubectl_and_get_te_shows_the_engines() {
    let k = Kubectl::start().await;
    let manifests = common::repo_root().join("manifests");
    let manifests = manifests.to_str().expect("a UTF-8 path");
    let applied = k
        .ok(&["apply", "--server-side", "-f", manifests], None)
        .await;
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/tradingengines.aegis.dev serverside-applied",
        "namespace/aegis-system serverside-applied",
        "deployment.apps/aegis-operator serverside-applied",
        "serviceaccount/aegis-operator serverside-applied",
        "clusterrole.rbac.authorization.k8s.io/aegis-operator serverside-applied",
        "role.rbac.authorization.k8s.io/aegis-operator-leader-election serverside-applied",
    ] {
        assert!(applied.contains(object), "{object} missing in:\n{applied}");
    }
    k.ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/tradingengines.aegis.dev",
            "--timeout=10s",
        ],
        None,
    )
    .await;

    // The operator's work, in process: a simulated node runs the pods.
    let client = k.cluster.client().expect("a client");
    let node = k
        .cluster
        .node("node-1")
        .expect("a simulated node")
        .run(Duration::from_millis(30));
    let settings = PodSettings {
        image: "aegis-worker:test".into(),
        image_pull_policy: None,
        control_key: aegis_operator::control_key::ControlKey::from_bytes(&[7; 32])
            .expect("a test key"),
    };
    let operator = tokio::spawn(controller::run(client, settings, std::future::pending()));

    for sample in ["paper-simulated.yaml", "replay.yaml"] {
        let path = common::repo_root().join("manifests/samples").join(sample);
        let path = path.to_str().expect("a UTF-8 path");
        k.ok(&["apply", "--server-side", "-f", path], None).await;
    }
    let table = get_te_until(&k, "both engines Running", |t| {
        t.lines().filter(|l| l.contains("Running")).count() == 2
    })
    .await;
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "SYMBOL", "MODE", "PHASE", "POSITION", "PNL", "AGE"],
        "{table}"
    );
    let row = |name: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(
        row("btc-paper")[..4],
        ["btc-paper", "BTCUSDT", "paper", "Running"]
    );
    assert_eq!(
        row("eth-replay")[..4],
        ["eth-replay", "ETHUSDT", "paper", "Running"]
    );

    // The category and the long name reach the same resource.
    let by_category = k.ok(&["get", "aegis"], None).await;
    assert!(
        by_category.contains("SYMBOL") && by_category.contains("btc-paper"),
        "`kubectl get aegis` lists the engines with their columns: {by_category}"
    );
    let pods = k
        .ok(
            &[
                "get",
                "pods",
                "-o",
                "name",
                "-l",
                "app.kubernetes.io/part-of=aegis",
            ],
            None,
        )
        .await;
    let mut pods: Vec<&str> = pods.lines().collect();
    pods.sort();
    assert_eq!(pods, ["pod/btc-paper-engine", "pod/eth-replay-engine"]);

    // A bad engine is refused with the rule's message, and nothing changes.
    let bad = "apiVersion: aegis.dev/v1alpha1
kind: TradingEngine
metadata: {name: bad, namespace: default}
spec: {symbol: BTCUSDT, mode: live, source: binance}
";
    let out = k
        .run(&["apply", "--server-side", "-f", "-"], Some(bad))
        .await;
    assert!(!out.ok, "a live engine without credentials is refused");
    assert!(
        out.stderr.contains("credentialsSecretRef"),
        "the error names the missing field: {}",
        out.stderr
    );

    k.ok(
        &["delete", "te", "btc-paper", "--wait=true", "--timeout=20s"],
        None,
    )
    .await;
    let table = get_te_until(&k, "btc-paper gone", |t| !t.contains("btc-paper")).await;
    assert!(table.contains("eth-replay"), "{table}");

    operator.abort();
    node.abort();
    k.cluster.shutdown().await;
}
