//! Conformance through the official Python `kubernetes` client (list,
//! watch, and the error text of `create_from_yaml`). Needs `AEGIS_PYTHON` pointing at a Python with the packages of
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

/// Runs tests/python/`script` with `args`; returns the JSON it prints.
async fn run_script(py: &str, script: &str, args: &[&std::path::Path]) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(script);
    let out = tokio::process::Command::new(py)
        .arg(path)
        .args(args)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("the script prints JSON")
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
    let seen = run_script(&py, "list_watch.py", &[cluster.kubeconfig_path()]).await;
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

#[tokio::test]
async fn create_from_yaml_conflict_text_is_kube_apiservers() {
    // create_from_yaml's FailToCreateError shows the server's body verbatim:
    // kube-apiserver writes a Status in Go field order (details without the
    // empty core group) and ends the body with a newline.
    let py = python();
    let cluster = TestCluster::start().await.unwrap();
    let manifest = cluster.kubeconfig_path().with_file_name("settings.yaml");
    std::fs::write(
        &manifest,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: paper}\n",
    )
    .unwrap();
    let seen = run_script(
        &py,
        "create_from_yaml.py",
        &[cluster.kubeconfig_path(), &manifest],
    )
    .await;
    assert_eq!(
        seen["error"],
        "Error from server (Conflict): {\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\
         \"status\":\"Failure\",\"message\":\"configmaps \\\"settings\\\" already exists\",\
         \"reason\":\"AlreadyExists\",\"details\":{\"name\":\"settings\",\"kind\":\"configmaps\"},\
         \"code\":409}\n"
    );
    cluster.shutdown().await;
}
