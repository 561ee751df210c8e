//! Conformance through the official Python `kubernetes` client (list and
//! watch). Needs `AEGIS_PYTHON` pointing at a Python with the packages of
//! tests/requirements.txt; fails with a message saying so when it is missing.

use aegis_tests::cluster::{Config, TestCluster};

fn python() -> String {
    let py = std::env::var("AEGIS_PYTHON").unwrap_or_default();
    assert!(
        !py.is_empty() && std::path::Path::new(&py).exists(),
        "AEGIS_PYTHON must name a Python with tests/requirements.txt installed \
         (python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt; \
         export AEGIS_PYTHON=$PWD/.venv/bin/python); got {py:?}"
    );
    py
}

#[tokio::test]
async fn python_client_lists_with_selectors_and_watches_from_a_resource_version() {
    let py = python();
    let cluster = TestCluster::start_with(Config {
        history_limit: 6,
        ..Config::default()
    })
    .await
    .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/list_watch.py");
    let out = tokio::process::Command::new(&py)
        .arg(script)
        .arg(cluster.kubeconfig_path())
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "list_watch.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_str(stdout.trim()).expect("the script prints JSON");
    // labelSelector filters the list; the list has the List kind.
    assert_eq!(seen["listed"], serde_json::json!(["a"]));
    assert_eq!(seen["list_kind"], "ConfigMapList");
    // A watch from the list's resourceVersion sees later changes in order, filtered.
    assert_eq!(
        seen["events"],
        serde_json::json!([["ADDED", "c"], ["DELETED", "a"]])
    );
    // Errors are Status objects the client decodes.
    assert_eq!(seen["not_found"], serde_json::json!([404, "NotFound"]));
    // A watch from a version older than the retained history ends with 410 Gone.
    assert_eq!(seen["expired"], 410);
    cluster.shutdown().await;
}
