//! Conformance through kubectl against a written kubeconfig: server-side
//! apply, `get -o json`, `get` with CRD printer columns (Table), `patch
//! --type=merge|json`, `wait --for=condition=...`, `delete`, and the
//! apiserver's error output for invalid objects, client-side `apply` (a
//! strategic merge patch for built-in kinds, 415 for custom resources). Fails (does not skip) when
//! kubectl is not installed.

use std::process::Stdio;

use aegis_tests::kubectl::Kubectl;
use tokio::io::AsyncBufReadExt;

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: web}
data:
  mode: paper
";

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Mode, type: string, jsonPath: .spec.mode}
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Ready, type: string, jsonPath: '.status.conditions[?(@.type==\"Ready\")].status'}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              mode: {type: string, enum: [paper, live]}
              size: {type: integer, default: 1, maximum: 10}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
";

const WIDGET: &str = "apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
spec: {mode: paper}
";

async fn with_widgets() -> Kubectl {
    let k = Kubectl::start().await;
    k.ok(&["apply", "--server-side", "-f", "-"], Some(CRD))
        .await;
    k.ok(
        &[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.com",
            "--timeout=10s",
        ],
        None,
    )
    .await;
    k.ok(&["apply", "--server-side", "-f", "-"], Some(WIDGET))
        .await;
    k
}

#[tokio::test]
async fn server_side_apply_creates_and_get_json_reads_back() {
    let k = Kubectl::start().await;
    let out = k
        .ok(&["apply", "--server-side", "-f", "-"], Some(CONFIGMAP))
        .await;
    assert_eq!(out.trim(), "configmap/settings serverside-applied");
    let json: serde_json::Value = serde_json::from_str(
        &k.ok(&["get", "configmap", "settings", "-o", "json"], None)
            .await,
    )
    .unwrap();
    assert_eq!(json["data"]["mode"], "paper");
    assert_eq!(json["metadata"]["labels"]["app"], "web");
    assert!(json["metadata"]["uid"].is_string());
    let list = k
        .ok(&["get", "configmaps", "-l", "app=web", "-o", "name"], None)
        .await;
    assert_eq!(list.trim(), "configmap/settings");
    k.cluster.shutdown().await;
}

#[tokio::test]
async fn get_prints_crd_additional_printer_columns() {
    let k = with_widgets().await;
    let table = k.ok(&["get", "widgets"], None).await;
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        vec!["NAME", "MODE", "SIZE", "READY", "AGE"],
        "{table}"
    );
    assert_eq!(&lines[1][..3], &["w1", "paper", "1"], "{table}");
    k.cluster.shutdown().await;
}

#[tokio::test]
async fn patch_merge_and_json_change_the_object() {
    let k = Kubectl::start().await;
    k.ok(&["apply", "--server-side", "-f", "-"], Some(CONFIGMAP))
        .await;
    k.ok(
        &[
            "patch",
            "configmap",
            "settings",
            "--type=merge",
            "-p",
            r#"{"data":{"mode":"live"}}"#,
        ],
        None,
    )
    .await;
    k.ok(
        &[
            "patch",
            "configmap",
            "settings",
            "--type=json",
            "-p",
            r#"[{"op":"add","path":"/data/extra","value":"1"}]"#,
        ],
        None,
    )
    .await;
    let data = k
        .ok(
            &["get", "configmap", "settings", "-o", "jsonpath={.data}"],
            None,
        )
        .await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&data).unwrap(),
        serde_json::json!({"mode": "live", "extra": "1"})
    );
    k.cluster.shutdown().await;
}

#[tokio::test]
async fn wait_for_condition_sees_a_status_subresource_update() {
    let k = with_widgets().await;
    let mut wait = k.command(&[
        "wait",
        "--for=condition=Ready",
        "widget/w1",
        "--timeout=20s",
    ]);
    let waiter = tokio::spawn(async move {
        let out = wait.output().await.expect("kubectl runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    k.ok(
        &[
            "patch",
            "widget",
            "w1",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
        ],
        None,
    )
    .await;
    let (ok, stdout, stderr) = waiter.await.unwrap();
    assert!(ok, "wait failed: {stdout} {stderr}");
    assert_eq!(stdout.trim(), "widget.example.com/w1 condition met");
    let table = k.ok(&["get", "wd", "w1", "--no-headers"], None).await;
    assert!(table.split_whitespace().nth(3) == Some("True"), "{table}");
    k.cluster.shutdown().await;
}

#[tokio::test]
async fn delete_removes_the_object() {
    let k = with_widgets().await;
    assert_eq!(
        k.ok(&["delete", "widget", "w1"], None).await.trim(),
        "widget.example.com \"w1\" deleted"
    );
    let out = k.run(&["get", "widget", "w1"], None).await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("widgets.example.com \"w1\" not found"),
        "{}",
        out.stderr
    );
    k.cluster.shutdown().await;
}

#[tokio::test]
async fn invalid_custom_resource_reports_the_apiservers_field_errors() {
    let k = with_widgets().await;
    let bad = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: bad}\nspec: {mode: yolo, size: 50}\n";
    let out = k
        .run(&["apply", "--server-side", "-f", "-"], Some(bad))
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("The Widget \"bad\" is invalid"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("spec.mode: Unsupported value: \"yolo\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "spec.size: Invalid value: 50: spec.size in body should be less than or equal to 10"
        ),
        "{}",
        out.stderr
    );
    k.cluster.shutdown().await;
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: web:1
        env: [{name: MODE, value: paper}]
      - name: sidecar
        image: proxy:1
";

#[tokio::test]
async fn client_side_apply_twice_of_manifests_is_unchanged_the_second_time() {
    // kubectl apply without --server-side: the CRD first (a CR needs its
    // mapping), then every manifest; the second run sends no change.
    let k = Kubectl::start().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../manifests");
    let crd = format!("{dir}/crd.yaml");
    k.ok(&["apply", "-f", &crd], None).await;
    k.ok(
        &[
            "wait",
            "--for=condition=Established",
            "-f",
            &crd,
            "--timeout=10s",
        ],
        None,
    )
    .await;
    let first = k.ok(&["apply", "-R", "-f", dir], None).await;
    assert!(
        first.contains("deployment.apps/aegis-operator created"),
        "{first}"
    );
    let second = k.ok(&["apply", "-R", "-f", dir], None).await;
    let lines: Vec<&str> = second.lines().collect();
    assert!(lines.len() > 10, "{second}");
    assert!(
        lines.iter().all(|l| l.ends_with(" unchanged")),
        "the second apply changed something:\n{second}"
    );
    k.cluster.shutdown().await;
}

#[tokio::test]
async fn client_side_apply_of_a_changed_built_in_is_a_strategic_merge() {
    // kubectl's three-way strategic merge patch: containers merge on their
    // name, a dropped env entry and label are deleted, other containers stay.
    let k = Kubectl::start().await;
    k.ok(&["apply", "-f", "-"], Some(DEPLOYMENT)).await;
    k.ok(&["apply", "-f", "-"], Some(CONFIGMAP)).await;
    let changed = CONFIGMAP.replace("mode: paper", "mode: live");
    let out = k.ok(&["apply", "-f", "-"], Some(&changed)).await;
    assert_eq!(out.trim(), "configmap/settings configured");
    let cm: serde_json::Value =
        serde_json::from_str(&k.ok(&["get", "cm", "settings", "-o", "json"], None).await).unwrap();
    assert_eq!(cm["data"]["mode"], "live");
    let changed = DEPLOYMENT
        .replace("image: web:1", "image: web:2")
        .replace("env: [{name: MODE, value: paper}]", "env: []");
    let out = k.ok(&["apply", "-f", "-"], Some(&changed)).await;
    assert_eq!(out.trim(), "deployment.apps/web configured");
    // An out-of-band change kubectl apply does not own survives it.
    k.ok(
        &["patch", "deployment", "web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"proxy:2"}]}}}}"#],
        None,
    )
    .await;
    let d: serde_json::Value = serde_json::from_str(
        &k.ok(&["get", "deployment", "web", "-o", "json"], None)
            .await,
    )
    .unwrap();
    let containers = &d["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers[0]["name"], "main");
    assert_eq!(containers[0]["image"], "web:2");
    assert!(
        containers[0]
            .get("env")
            .is_none_or(|e| e == &serde_json::json!([])),
        "{containers}"
    );
    assert_eq!(containers[1]["image"], "proxy:2", "{containers}");
    assert_eq!(containers.as_array().map(Vec::len), Some(2));
    k.cluster.shutdown().await;
}

#[tokio::test]
async fn scale_writes_replicas_through_the_scale_subresource() {
    let k = Kubectl::start().await;
    k.ok(&["apply", "-f", "-"], Some(DEPLOYMENT)).await;
    let out = k
        .ok(&["scale", "deployment", "web", "--replicas=3"], None)
        .await;
    assert_eq!(out.trim(), "deployment.apps/web scaled");
    let replicas = k
        .ok(
            &[
                "get",
                "deployment",
                "web",
                "-o",
                "jsonpath={.spec.replicas}",
            ],
            None,
        )
        .await;
    assert_eq!(replicas, "3");
    k.cluster.shutdown().await;
}

#[tokio::test]
async fn strategic_merge_patch_of_a_custom_resource_is_415_as_on_a_real_server() {
    let k = with_widgets().await;
    let out = k
        .run(
            &[
                "patch",
                "widget",
                "w1",
                "--type=strategic",
                "-p",
                r#"{"spec":{"size":2}}"#,
            ],
            None,
        )
        .await;
    assert!(!out.ok);
    assert!(
        out.stderr.contains("UnsupportedMediaType") || out.stderr.contains("unknown format"),
        "{}",
        out.stderr
    );
    k.cluster.shutdown().await;
}

/// The first two columns of the next line kubectl prints.
async fn next_row(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
) -> Vec<String> {
    let line = tokio::time::timeout(std::time::Duration::from_secs(15), lines.next_line())
        .await
        .expect("a row within 15s")
        .expect("readable")
        .expect("the watch is still open");
    line.split_whitespace().take(2).map(String::from).collect()
}

#[tokio::test]
async fn get_watch_prints_rows_as_changes_arrive() {
    // kubectl get -w asks for Table rows in watch events.
    let k = Kubectl::start().await;
    k.ok(&["apply", "--server-side", "-f", "-"], Some(CONFIGMAP))
        .await;
    let mut watch = k.command(&["get", "configmaps", "--watch", "--output-watch-events"]);
    watch
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = watch.spawn().expect("kubectl runs");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    assert_eq!(next_row(&mut lines).await, vec!["EVENT", "NAME"]);
    assert_eq!(next_row(&mut lines).await, vec!["ADDED", "settings"]);
    k.ok(&["delete", "configmap", "settings"], None).await;
    assert_eq!(next_row(&mut lines).await, vec!["DELETED", "settings"]);
    child.start_kill().expect("the watch is stopped");
    let _ = child.wait().await;
    k.cluster.shutdown().await;
}
