//! The Helm chart charts/aegis-operator, with Helm's own engine
//! (helm-python-sdk), kubernetes-validate and checkov driven through
//! operator/tests/chart/render.py, and the real kubectl against the test
//! cluster: it renders with default and non-default values and the values
//! reach the objects; strict lint is clean; bad values are refused naming
//! the field; every object validates against Kubernetes 1.30 and the newest
//! schemas; checkov fails no check; the CRD is manifests/crd.yaml and the
//! RBAC grants exactly manifests/rbac.yaml; and both renders apply
//! server-side to the test cluster. Needs `AEGIS_PYTHON` (a Python with
//! tests/requirements.txt) and kubectl; fails, never skips, without them.
//!
//! Kept as one file: every test renders the chart through the one Python
//! driver (operator/tests/chart/render.py) and compares with the same
//! manifests; one binary starts that driver's setup once per test run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use aegis_operator::desired::{labels as engine_labels, ROLES};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Deserialize;
use serde_json::{json, Value};

const RELEASE_NAMESPACE: &str = "aegis-system";

fn python() -> String {
    let py = std::env::var("AEGIS_PYTHON").unwrap_or_default();
    assert!(
        !py.is_empty() && Path::new(&py).exists(),
        "AEGIS_PYTHON must name a Python with tests/requirements.txt installed \
         (python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt; \
         export AEGIS_PYTHON=$PWD/.venv/bin/python); got {py:?}"
    );
    py
}

fn chart_dir() -> PathBuf {
    common::repo_root().join("charts/aegis-operator")
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("chart-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

/// Runs render.py with `args`: Ok(stdout) on exit 0, Err(stderr) on exit 1
/// (Helm refused); panics on anything else (a missing package, a crash).
fn script(args: &[&str]) -> Result<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chart/render.py");
    let out = Command::new(python())
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(stdout),
        Some(1) => Err(stderr),
        code => panic!("render.py {args:?} exited {code:?}:\n{stdout}\n{stderr}"),
    }
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("render.py printed no JSON ({e}): {text}"))
}

/// What the chart renders with `values`.
struct Rendered {
    /// Template path -> rendered text (NOTES.txt included).
    manifests: BTreeMap<String, String>,
    /// The CRDs of crds/, as Helm loads them.
    crds: Vec<String>,
}

impl Rendered {
    /// Every object of the templates, NOTES.txt and empty documents left out.
    fn objects(&self) -> Vec<Value> {
        self.manifests
            .iter()
            .filter(|(path, _)| !path.ends_with("NOTES.txt"))
            .flat_map(|(path, text)| yaml_documents(path, text))
            .collect()
    }

    /// The templates' objects as one multi-document YAML file.
    fn yaml(&self) -> String {
        self.manifests
            .iter()
            .filter(|(path, text)| !path.ends_with("NOTES.txt") && !text.trim().is_empty())
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>()
            .join("\n---\n")
    }

    fn notes(&self) -> &str {
        self.manifests
            .get("aegis-operator/templates/NOTES.txt")
            .map(String::as_str)
            .unwrap_or_default()
    }
}

fn yaml_documents(what: &str, text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, doc)| {
            Value::deserialize(doc).unwrap_or_else(|e| panic!("{what} document {i}: {e}"))
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// Renders the chart as release aegis-operator in aegis-system.
fn render(values: &Value) -> Result<Rendered, String> {
    let chart = chart_dir();
    let out = script(&[
        "render",
        chart.to_str().expect("a UTF-8 path"),
        &values.to_string(),
    ])?;
    let v = parse_json(&out);
    let manifests = serde_json::from_value(v["manifests"].clone()).expect("a map of manifests");
    let crds = serde_json::from_value(v["crds"].clone()).expect("a list of CRDs");
    Ok(Rendered { manifests, crds })
}

fn render_ok(values: &Value) -> Rendered {
    render(values).unwrap_or_else(|e| panic!("the chart does not render with {values}: {e}"))
}

/// The non-default set: every optional part on, custom images and Lease.
fn custom_values() -> Value {
    json!({
        "replicas": 3,
        "image": {"repository": "registry.example.com/aegis/operator", "tag": "1.2.3"},
        "engineImage": {
            "repository": "registry.example.com/aegis/worker",
            "tag": "1.2.3",
            "allowedRepositories": ["registry.example.com/aegis/", "ghcr.io/aegis/aegis-worker"]
        },
        "leaderElection": {"leaseName": "aegis-leader"},
        "logLevel": "debug",
        "monitoring": {
            "serviceMonitor": {"enabled": true, "labels": {"release": "prometheus"}},
            "podMonitor": {"enabled": true, "interval": "10s"}
        },
        "grafanaDashboard": {"enabled": true, "annotations": {"grafana_folder": "AEGIS"}},
        "networkPolicy": {
            "enabled": true,
            "engineNamespaces": ["default", "trading"],
            "exchange": {"cidrs": ["203.0.113.0/24"], "ports": [443, 9443]}
        }
    })
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} rendered"))
}

fn all_of<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn container(deployment: &Value) -> &Value {
    &deployment["spec"]["template"]["spec"]["containers"][0]
}

fn env(container: &Value, name: &str) -> String {
    container["env"]
        .as_array()
        .and_then(|e| e.iter().find(|v| v["name"] == name))
        .and_then(|v| v["value"].as_str())
        .unwrap_or_else(|| panic!("no env {name} in {container}"))
        .to_string()
}

fn args(container: &Value) -> Vec<String> {
    serde_json::from_value(container["args"].clone()).expect("args are strings")
}

/// Whether every label of `selector` is in `labels`.
fn selects(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let wanted: BTreeMap<String, String> =
        serde_json::from_value(selector.clone()).expect("matchLabels is a string map");
    !wanted.is_empty() && wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn string_map(v: &Value) -> BTreeMap<String, String> {
    serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("not a string map ({e}): {v}"))
}

#[test]
fn default_values_render_the_operator_of_manifests_operator_yaml() {
    let rendered = render_ok(&json!({}));
    let objects = rendered.objects();
    let deployment = find(&objects, "Deployment", "aegis-operator");
    // Field for field a Deployment (a misspelt field is an error).
    serde_json::from_value::<Deployment>(deployment.clone()).expect("a valid Deployment");
    assert_eq!(deployment["metadata"]["namespace"], RELEASE_NAMESPACE);
    assert_eq!(deployment["spec"]["replicas"], 2);
    let c = container(deployment);
    assert_eq!(c["image"], "ghcr.io/aegis/aegis-operator:0.1.0");
    assert_eq!(
        env(c, "AEGIS_ENGINE_IMAGE"),
        "ghcr.io/aegis/aegis-worker:0.1.0"
    );
    // By default engines may run the engine image's repository only.
    assert_eq!(env(c, "AEGIS_ALLOWED_IMAGES"), "ghcr.io/aegis/aegis-worker");
    assert_eq!(
        args(c),
        [
            "run",
            "--http-addr=0.0.0.0:8080",
            "--lease-name=aegis-operator",
            "--lease-namespace=aegis-system"
        ]
    );
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(
        pod["automountServiceAccountToken"], true,
        "the operator needs its token"
    );
    assert_eq!(pod["serviceAccountName"], "aegis-operator");

    // Probes, ports, requests and the hardened securityContext are those of
    // manifests/operator.yaml.
    let plain = std::fs::read_to_string(common::repo_root().join("manifests/operator.yaml"))
        .expect("manifests/operator.yaml");
    let plain_objects = yaml_documents("manifests/operator.yaml", &plain);
    let plain_deployment = find(&plain_objects, "Deployment", "aegis-operator");
    let pc = container(plain_deployment);
    for field in [
        "startupProbe",
        "livenessProbe",
        "readinessProbe",
        "ports",
        "securityContext",
    ] {
        assert_eq!(
            c[field], pc[field],
            "{field} differs from manifests/operator.yaml"
        );
    }
    assert_eq!(c["resources"]["requests"], pc["resources"]["requests"]);
    assert_eq!(c["securityContext"]["runAsUser"], 65532);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));

    // The standard labels, on every object.
    for o in &objects {
        let labels = string_map(&o["metadata"]["labels"]);
        for key in [
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/version",
            "app.kubernetes.io/managed-by",
            "app.kubernetes.io/component",
            "helm.sh/chart",
        ] {
            assert!(
                labels.contains_key(key),
                "{key} missing on {}",
                o["metadata"]["name"]
            );
        }
        assert_eq!(labels["helm.sh/chart"], "aegis-operator-0.1.0");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    }

    // The Service selects the operator's pods on port 8080 named http.
    let service = find(&objects, "Service", "aegis-operator");
    let pod_labels = string_map(&deployment["spec"]["template"]["metadata"]["labels"]);
    assert!(selects(&service["spec"]["selector"], &pod_labels));
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}])
    );

    // Off by default: monitors.
    for kind in ["ServiceMonitor", "PodMonitor"] {
        assert!(
            all_of(&objects, kind).is_empty(),
            "{kind} rendered by default"
        );
    }
    // On by default: NetworkPolicies, for the engines in the release
    // namespace, the operator and the test pod.
    let mut policies: Vec<(String, String)> = all_of(&objects, "NetworkPolicy")
        .iter()
        .map(|p| {
            let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
            (s(&p["metadata"]["namespace"]), s(&p["metadata"]["name"]))
        })
        .collect();
    policies.sort();
    assert_eq!(
        policies,
        [
            (RELEASE_NAMESPACE.into(), "aegis-operator".into()),
            (RELEASE_NAMESPACE.into(), "aegis-operator-engines".into()),
            (RELEASE_NAMESPACE.into(), "aegis-operator-test".into()),
        ]
    );

    // The helm test hook probes the Service's /readyz with the operator image,
    // hardened like the operator and without a token.
    let test = find(&objects, "Pod", "aegis-operator-test-readyz");
    assert_eq!(test["metadata"]["annotations"]["helm.sh/hook"], "test");
    let tc = &test["spec"]["containers"][0];
    assert_eq!(tc["image"], c["image"]);
    assert_eq!(
        args(tc),
        [
            "probe",
            "http://[$(AEGIS_OPERATOR_SERVICE_HOST)]:8080/readyz"
        ]
    );
    assert_eq!(tc["securityContext"], c["securityContext"]);
    assert_eq!(test["spec"]["automountServiceAccountToken"], false);
    assert_eq!(test["spec"]["restartPolicy"], "Never");

    let notes = rendered.notes();
    for says in [
        "kubectl get te",
        "/metrics",
        "aegis-operator-credentials",
        "aegis.dev/allowed-engines",
        "Engines run only images of: ghcr.io/aegis/aegis-worker",
        "helm test aegis-operator",
        "NetworkPolicies are on",
    ] {
        assert!(
            notes.contains(says),
            "NOTES.txt does not say {says:?}:\n{notes}"
        );
    }
}

#[test]
fn non_default_values_reach_the_rendered_objects() {
    let rendered = render_ok(&custom_values());
    let objects = rendered.objects();
    let deployment = find(&objects, "Deployment", "aegis-operator");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let c = container(deployment);
    assert_eq!(c["image"], "registry.example.com/aegis/operator:1.2.3");
    assert_eq!(
        env(c, "AEGIS_ENGINE_IMAGE"),
        "registry.example.com/aegis/worker:1.2.3"
    );
    assert_eq!(
        env(c, "AEGIS_ALLOWED_IMAGES"),
        "registry.example.com/aegis/,ghcr.io/aegis/aegis-worker"
    );
    assert_eq!(env(c, "RUST_LOG"), "debug");
    assert!(
        args(c).contains(&"--lease-name=aegis-leader".to_string()),
        "{c}"
    );
    let test = find(&objects, "Pod", "aegis-operator-test-readyz");
    assert_eq!(test["spec"]["containers"][0]["image"], c["image"]);

    // The ServiceMonitor scrapes the operator Service's http port.
    let service = find(&objects, "Service", "aegis-operator");
    let sm = find(&objects, "ServiceMonitor", "aegis-operator");
    assert!(selects(
        &sm["spec"]["selector"]["matchLabels"],
        &string_map(&service["metadata"]["labels"])
    ));
    assert_eq!(sm["spec"]["endpoints"][0]["port"], "http");
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
    assert_eq!(sm["metadata"]["labels"]["release"], "prometheus");

    // The PodMonitor selects the pods the operator makes (desired.rs) and
    // scrapes each container's named port.
    let pm = find(&objects, "PodMonitor", "aegis-operator-engines");
    let engine_pod_labels = engine_labels("btc-paper");
    assert!(selects(
        &pm["spec"]["selector"]["matchLabels"],
        &engine_pod_labels
    ));
    let scraped: Vec<&str> = pm["spec"]["podMetricsEndpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .map(|e| {
            assert_eq!(e["interval"], "10s");
            e["port"].as_str().expect("a port name")
        })
        .collect();
    let ports: Vec<&str> = ROLES.iter().map(|r| r.port_name()).collect();
    assert_eq!(scraped, ports);

    // NetworkPolicies: one for the engines in each listed namespace.
    let policies = all_of(&objects, "NetworkPolicy");
    let engine_policies: Vec<&&Value> = policies
        .iter()
        .filter(|p| p["metadata"]["name"] == "aegis-operator-engines")
        .collect();
    let namespaces: Vec<&str> = engine_policies
        .iter()
        .map(|p| p["metadata"]["namespace"].as_str().expect("a namespace"))
        .collect();
    assert_eq!(namespaces, ["default", "trading"]);
    let operator_pod_labels = string_map(&deployment["spec"]["template"]["metadata"]["labels"]);
    for p in engine_policies {
        let spec = &p["spec"];
        assert!(selects(
            &spec["podSelector"]["matchLabels"],
            &engine_pod_labels
        ));
        assert_eq!(spec["policyTypes"], json!(["Ingress", "Egress"]));
        // Two ingress rules, each from named peers only: the control port
        // (/status, POST /flatten) from the operator pods, the metrics and
        // probe ports from Prometheus.
        let ingress = spec["ingress"].as_array().expect("ingress rules");
        assert_eq!(ingress.len(), 2, "{ingress:?}");
        let ports_of = |rule: &Value| -> BTreeSet<i64> {
            rule["ports"]
                .as_array()
                .expect("ports")
                .iter()
                .map(|p| p["port"].as_i64().expect("a port number"))
                .collect()
        };
        let rule_for = |port: i64| -> &Value {
            ingress
                .iter()
                .find(|r| ports_of(r).contains(&port))
                .unwrap_or_else(|| panic!("no ingress rule for {port}: {ingress:?}"))
        };
        let control = rule_for(9104);
        assert_eq!(ports_of(control), BTreeSet::from([9104]));
        let from = control["from"].as_array().expect("from peers");
        assert_eq!(from.len(), 1, "{from:?}");
        assert!(selects(
            &from[0]["podSelector"]["matchLabels"],
            &operator_pod_labels
        ));
        assert_eq!(
            from[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            RELEASE_NAMESPACE
        );
        let metrics = rule_for(9101);
        assert_eq!(ports_of(metrics), BTreeSet::from([9101, 9102, 9103]));
        let from = metrics["from"].as_array().expect("from peers");
        assert_eq!(from.len(), 1, "{from:?}");
        assert_eq!(
            from[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
            "monitoring"
        );
        assert_eq!(
            from[0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
            "prometheus"
        );
        // Egress: DNS and the exchange, nothing else.
        assert_eq!(
            spec["egress"],
            json!([
                {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                {
                    "to": [{"ipBlock": {"cidr": "203.0.113.0/24"}}],
                    "ports": [{"port": 443, "protocol": "TCP"}, {"port": 9443, "protocol": "TCP"}]
                }
            ])
        );
    }
    let operator_policy = find(&objects, "NetworkPolicy", "aegis-operator");
    assert!(selects(
        &operator_policy["spec"]["podSelector"]["matchLabels"],
        &operator_pod_labels
    ));
    assert_eq!(
        operator_policy["spec"]["ingress"][0]["ports"],
        json!([{"port": 8080, "protocol": "TCP"}])
    );
    let egress = operator_policy["spec"]["egress"].to_string();
    for port in ["53", "443", "6443", "9104"] {
        assert!(
            egress.contains(&format!("\"port\":{port}")),
            "operator egress lacks {port}: {egress}"
        );
    }
    assert!(
        !egress.contains("\"port\":9103"),
        "the operator polls /status on the control port, not 9103: {egress}"
    );
    // The test pod may reach the operator's 8080 and nothing else.
    let test_policy = find(&objects, "NetworkPolicy", "aegis-operator-test");
    assert_eq!(
        test_policy["spec"]["egress"][0]["ports"],
        json!([{"port": 8080, "protocol": "TCP"}])
    );
    assert!(rendered.notes().contains("NetworkPolicies are on"));
}

#[test]
fn leader_election_off_runs_one_operator_and_refuses_more() {
    let rendered = render_ok(&json!({"replicas": 1, "leaderElection": {"enabled": false}}));
    let objects = rendered.objects();
    let c = container(find(&objects, "Deployment", "aegis-operator"));
    assert_eq!(
        args(c),
        ["run", "--http-addr=0.0.0.0:8080", "--no-leader-elect"]
    );
    let names = |kind: &str| -> Vec<String> {
        all_of(&objects, kind)
            .iter()
            .map(|o| {
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    };
    assert_eq!(
        names("Role"),
        ["aegis-operator-control-key"],
        "no Lease Role without election"
    );
    assert_eq!(names("RoleBinding"), ["aegis-operator-control-key"]);

    // A Lease elsewhere: the Role follows it.
    let elsewhere = render_ok(&json!({"leaderElection": {"leaseNamespace": "leases"}}));
    let objects = elsewhere.objects();
    assert_eq!(
        find(&objects, "Role", "aegis-operator-leader-election")["metadata"]["namespace"],
        "leases"
    );
    let c = container(find(&objects, "Deployment", "aegis-operator"));
    assert!(args(c).contains(&"--lease-namespace=leases".to_string()));

    let refused = render(&json!({"replicas": 2, "leaderElection": {"enabled": false}}))
        .err()
        .expect("replicas 2 without leader election is refused");
    assert!(
        refused.contains("replicas is 2 but leaderElection.enabled is false"),
        "{refused}"
    );
}

#[test]
fn the_image_allow_list_follows_the_engine_image_unless_set() {
    let rendered = render_ok(&json!({"engineImage": {"repository": "registry.example.com/w"}}));
    let objects = rendered.objects();
    let c = container(find(&objects, "Deployment", "aegis-operator"));
    assert_eq!(env(c, "AEGIS_ALLOWED_IMAGES"), "registry.example.com/w");
    assert!(rendered
        .notes()
        .contains("Engines run only images of: registry.example.com/w"));
}

/// The ConfigMaps holding a Grafana dashboard (the sidecar's label set).
fn dashboards<'a>(objects: &'a [Value], label: &str) -> Vec<&'a Value> {
    all_of(objects, "ConfigMap")
        .into_iter()
        .filter(|c| !c["metadata"]["labels"][label].is_null())
        .collect()
}

#[test]
fn the_grafana_dashboard_is_off_by_default_and_ships_the_dashboard_json_when_on() {
    let off = render_ok(&json!({}));
    assert!(
        dashboards(&off.objects(), "grafana_dashboard").is_empty(),
        "no dashboard unless asked"
    );

    let file = chart_dir().join("dashboards/aegis-engines.json");
    let json_text = std::fs::read_to_string(&file).expect("the dashboard JSON");
    let on = render_ok(&custom_values());
    let objects = on.objects();
    let found = dashboards(&objects, "grafana_dashboard");
    assert_eq!(found.len(), 1, "one dashboard ConfigMap");
    let cm = found[0];
    assert_eq!(cm["metadata"]["name"], "aegis-operator-dashboard");
    assert_eq!(cm["metadata"]["namespace"], RELEASE_NAMESPACE);
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(cm["metadata"]["annotations"]["grafana_folder"], "AEGIS");
    assert_eq!(
        cm["data"]["aegis-engines.json"].as_str(),
        Some(json_text.trim_end()),
        "the ConfigMap carries dashboards/aegis-engines.json unchanged"
    );
    let dashboard: Value = serde_json::from_str(&json_text).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "aegis-engines");
    assert!(
        on.notes()
            .contains("aegis-system/aegis-operator-dashboard (label grafana_dashboard=1)"),
        "{}",
        on.notes()
    );
    assert!(!off.notes().contains("Grafana"), "{}", off.notes());

    // Another sidecar label, value and namespace.
    let custom = render_ok(&json!({"grafanaDashboard": {
        "enabled": true, "label": "example.com/dashboard", "labelValue": "aegis",
        "namespace": "monitoring"
    }}));
    let objects = custom.objects();
    let found = dashboards(&objects, "example.com/dashboard");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]["metadata"]["labels"]["example.com/dashboard"],
        "aegis"
    );
    assert_eq!(found[0]["metadata"]["namespace"], "monitoring");
    assert!(found[0]["metadata"]["labels"]["grafana_dashboard"].is_null());

    let refused = render(&json!({"grafanaDashboard": {
        "enabled": true, "label": "not a label", "labelValue": "1"
    }}))
    .err()
    .expect("a label with spaces is refused");
    assert!(refused.contains("grafanaDashboard"), "{refused}");
}

#[test]
fn network_policies_can_be_turned_off_and_notes_say_so() {
    let rendered = render_ok(&json!({"networkPolicy": {"enabled": false}}));
    assert!(all_of(&rendered.objects(), "NetworkPolicy").is_empty());
    assert!(
        rendered.notes().contains("NetworkPolicies are off"),
        "{}",
        rendered.notes()
    );
}

#[test]
fn strict_lint_is_clean_and_bad_values_are_refused_naming_the_field() {
    let chart = chart_dir();
    let chart = chart.to_str().expect("a UTF-8 path");
    for values in [json!({}), custom_values()] {
        let report = parse_json(&script(&["lint", chart, &values.to_string()]).expect("lint runs"));
        assert_eq!(report["total_charts_linted"], 1, "{report}");
        assert_eq!(report["errors"], json!([]), "{report}");
        // Severity 2 is a warning, 3 an error (1: info such as "icon is recommended").
        let serious: Vec<&Value> = report["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["severity"].as_i64().unwrap_or(3) >= 2)
            .collect();
        assert!(serious.is_empty(), "lint with {values}: {serious:?}");
    }
    let report = parse_json(&script(&["lint", chart, r#"{"replicas": -1}"#]).expect("lint runs"));
    assert!(
        report["errors"].to_string().contains("/replicas"),
        "lint names the field: {report}"
    );

    for (values, named) in [
        (
            json!({"replicas": -1}),
            "'/replicas': minimum: got -1, want 1",
        ),
        (
            json!({"replicas": "two"}),
            "'/replicas': got string, want integer",
        ),
        (json!({"replicaz": 2}), "'replicaz' not allowed"),
        (
            json!({"image": {"pullPolicy": "Sometimes"}}),
            "/image/pullPolicy",
        ),
        (json!({"image": {"digest": "latest"}}), "/image/digest"),
        (
            json!({"leaderElection": {"enabled": "yes"}}),
            "/leaderElection/enabled",
        ),
        (
            json!({"networkPolicy": {"exchange": {"ports": [70000]}}}),
            "/networkPolicy/exchange/ports/0",
        ),
        (
            json!({"networkPolicy": {"exchange": {"cidrs": ["everywhere"]}}}),
            "/networkPolicy/exchange/cidrs/0",
        ),
        (
            json!({"monitoring": {"podMonitor": {"interval": "often"}}}),
            "/monitoring/podMonitor/interval",
        ),
        (
            json!({"engineImage": {"allowedRepositories": ["ghcr.io/aegis/aegis-worker:1.2"]}}),
            "/engineImage/allowedRepositories/0",
        ),
    ] {
        let refused = render(&values)
            .err()
            .unwrap_or_else(|| panic!("{values} was accepted"));
        assert!(
            refused.contains(named),
            "{values}: {named:?} not in:\n{refused}"
        );
    }
}

/// Writes the default render, the non-default render and the CRD to `dir`.
fn write_renders(dir: &Path) -> Vec<PathBuf> {
    let default = render_ok(&json!({}));
    let custom = render_ok(&custom_values());
    let files = [
        ("default.yaml", default.yaml()),
        ("custom.yaml", custom.yaml()),
        ("crd.yaml", default.crds.join("\n---\n")),
    ];
    files
        .into_iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            path
        })
        .collect()
}

fn paths(files: &[PathBuf]) -> Vec<&str> {
    files
        .iter()
        .map(|p| p.to_str().expect("a UTF-8 path"))
        .collect()
}

#[test]
fn every_rendered_object_validates_against_kubernetes_1_30_and_the_newest_schemas() {
    let dir = scratch("validate");
    let files = write_renders(&dir);
    let objects: usize = files
        .iter()
        .map(|f| yaml_documents("render", &std::fs::read_to_string(f).expect("written")).len())
        .sum();
    for version in ["1.30.0", "1.37.0"] {
        let mut args = vec!["validate", version];
        args.extend(paths(&files));
        let report = parse_json(&script(&args).expect("validate runs"));
        assert_eq!(
            report["errors"],
            json!([]),
            "Kubernetes {version}: {report}"
        );
        let checked = report["checked"].as_array().expect("checked");
        assert_eq!(checked.len(), objects, "every object is checked: {report}");
        let monitors = checked
            .iter()
            .filter(|c| c["against"] == "monitoring-crds.yaml")
            .count();
        assert_eq!(monitors, 2, "the ServiceMonitor and PodMonitor: {report}");
    }

    // The validation is strict: a wrong type and an unknown field are named.
    let broken = dir.join("broken.yaml");
    std::fs::write(
        &broken,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec:\n  replicas: two\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i, imagePort: 1}]}\n---\napiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata: {name: m}\nspec: {selector: {}, podMetricEndpoints: []}\n",
    )
    .expect("written");
    let report = parse_json(
        &script(&["validate", "1.30.0", broken.to_str().expect("a UTF-8 path")])
            .expect("validate runs"),
    );
    let errors = report["errors"].to_string();
    for named in ["spec.replicas", "imagePort", "podMetricEndpoints"] {
        assert!(errors.contains(named), "{named} not named in {errors}");
    }
}

#[test]
fn checkov_fails_no_check_on_either_render() {
    let dir = scratch("checkov");
    let mut files = write_renders(&dir);
    // A pod with none of the chart's hardening: checkov must flag it, so a
    // clean result for the chart means the checks ran.
    let insecure = dir.join("insecure.yaml");
    std::fs::write(
        &insecure,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: insecure, namespace: aegis-system}\nspec:\n  containers: [{name: c, image: 'busybox:1.36'}]\n",
    )
    .expect("written");
    files.push(insecure);
    let mut args = vec!["checkov"];
    args.extend(paths(&files));
    let report = parse_json(&script(&args).expect("checkov runs"));
    let failed: Vec<String> =
        serde_json::from_value(report["failed"].clone()).expect("failed checks");
    let (on_insecure, on_chart): (Vec<&String>, Vec<&String>) =
        failed.iter().partition(|f| f.contains("insecure.yaml"));
    assert!(
        on_chart.is_empty(),
        "checkov fails on the chart: {on_chart:#?}"
    );
    for check in ["CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_28"] {
        assert!(
            on_insecure.iter().any(|f| f.starts_with(check)),
            "checkov did not flag {check} on the insecure pod: {on_insecure:#?}"
        );
    }
    assert!(report["passed"].as_i64().unwrap_or(0) > 100, "{report}");
    // The only skips in the chart are the annotated ones (two renders each).
    let skipped: BTreeSet<String> =
        serde_json::from_value(report["skipped"].clone()).expect("skipped checks");
    assert_eq!(
        skipped,
        BTreeSet::from([
            "CKV_K8S_38: Deployment.aegis-system.aegis-operator".to_string(),
            "CKV_K8S_8: Pod.aegis-system.aegis-operator-test-readyz".to_string(),
            "CKV_K8S_9: Pod.aegis-system.aegis-operator-test-readyz".to_string(),
        ])
    );
}

#[test]
fn the_chart_crd_is_manifests_crd_yaml() {
    let chart_crd = std::fs::read(chart_dir().join("crds/tradingengines.aegis.dev.yaml"))
        .expect("the chart's CRD");
    let manifests_crd =
        std::fs::read(common::repo_root().join("manifests/crd.yaml")).expect("manifests/crd.yaml");
    assert!(
        chart_crd == manifests_crd,
        "charts/aegis-operator/crds/tradingengines.aegis.dev.yaml differs from manifests/crd.yaml; \
         copy it: cp manifests/crd.yaml charts/aegis-operator/crds/tradingengines.aegis.dev.yaml"
    );
    // And Helm loads exactly that one CRD.
    let rendered = render_ok(&json!({}));
    assert_eq!(rendered.crds.len(), 1);
    assert_eq!(rendered.crds[0].as_bytes(), manifests_crd.as_slice());
}

/// Rules as comparable sets: (apiGroups, resources, verbs) per rule.
type RuleSet = BTreeSet<(Vec<String>, Vec<String>, Vec<String>, Vec<String>)>;

fn rule_set(object: &Value) -> RuleSet {
    let rules: Vec<PolicyRule> =
        serde_json::from_value(object["rules"].clone()).expect("PolicyRules");
    rules
        .into_iter()
        .map(|r| {
            let sorted = |v: Option<Vec<String>>| {
                let mut v = v.unwrap_or_default();
                v.sort();
                v
            };
            assert!(r.non_resource_urls.is_none());
            (
                sorted(r.api_groups),
                sorted(r.resources),
                sorted(r.resource_names),
                sorted(Some(r.verbs)),
            )
        })
        .collect()
}

#[test]
fn the_rendered_rbac_grants_exactly_manifests_rbac_yaml() {
    let plain = std::fs::read_to_string(common::repo_root().join("manifests/rbac.yaml"))
        .expect("manifests/rbac.yaml");
    let plain = yaml_documents("manifests/rbac.yaml", &plain);
    let chart = render_ok(&json!({})).objects();
    let rbac_kinds = [
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ServiceAccount",
    ];
    let names = |objects: &[Value]| -> BTreeSet<(String, String, String)> {
        objects
            .iter()
            .filter(|o| rbac_kinds.iter().any(|k| o["kind"] == *k))
            .map(|o| {
                let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
                (
                    s(&o["kind"]),
                    s(&o["metadata"]["name"]),
                    s(&o["metadata"]["namespace"]),
                )
            })
            .collect()
    };
    assert_eq!(names(&chart), names(&plain), "the same RBAC objects");
    for (kind, name) in [
        ("ClusterRole", "aegis-operator"),
        ("ClusterRole", "aegis-operator-credentials"),
        ("Role", "aegis-operator-leader-election"),
        ("Role", "aegis-operator-control-key"),
    ] {
        assert_eq!(
            rule_set(find(&chart, kind, name)),
            rule_set(find(&plain, kind, name)),
            "{kind}/{name} grants differ"
        );
    }
    for (kind, name) in [
        ("ClusterRoleBinding", "aegis-operator"),
        ("RoleBinding", "aegis-operator-leader-election"),
        ("RoleBinding", "aegis-operator-control-key"),
    ] {
        let (c, p) = (find(&chart, kind, name), find(&plain, kind, name));
        assert_eq!(c["roleRef"], p["roleRef"], "{kind}/{name}");
        assert_eq!(c["subjects"], p["subjects"], "{kind}/{name}");
    }
    // The credentials ClusterRole is never bound cluster-wide by the chart.
    assert!(all_of(&chart, "ClusterRoleBinding")
        .iter()
        .all(|b| b["roleRef"]["name"] != "aegis-operator-credentials"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_renders_apply_server_side_to_the_test_cluster() {
    let dir = scratch("apply");
    let files = write_renders(&dir);
    let [default, custom, crd] =
        [&files[0], &files[1], &files[2]].map(|p| p.to_str().expect("a UTF-8 path"));
    let k = aegis_tests::kubectl::Kubectl::start().await;
    // What `helm install --create-namespace` and the engines' namespaces give.
    for ns in [RELEASE_NAMESPACE, "trading"] {
        let namespace = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n");
        k.ok(&["apply", "--server-side", "-f", "-"], Some(&namespace))
            .await;
    }
    // Helm installs crds/ first.
    k.ok(&["apply", "--server-side", "-f", crd], None).await;
    let applied = k.ok(&["apply", "--server-side", "-f", default], None).await;
    for object in [
        "deployment.apps/aegis-operator serverside-applied",
        "service/aegis-operator serverside-applied",
        "serviceaccount/aegis-operator serverside-applied",
        "clusterrole.rbac.authorization.k8s.io/aegis-operator-credentials serverside-applied",
        "role.rbac.authorization.k8s.io/aegis-operator-leader-election serverside-applied",
        "pod/aegis-operator-test-readyz serverside-applied",
        "networkpolicy.networking.k8s.io/aegis-operator-engines serverside-applied",
        "networkpolicy.networking.k8s.io/aegis-operator serverside-applied",
    ] {
        assert!(applied.contains(object), "{object} missing in:\n{applied}");
    }

    // The monitors need prometheus-operator's CRDs: a minimal copy of them
    // (operator/tests/chart/monitoring-crds.yaml) goes in first.
    let monitoring = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/chart/monitoring-crds.yaml");
    k.ok(
        &[
            "apply",
            "--server-side",
            "-f",
            monitoring.to_str().expect("a UTF-8 path"),
        ],
        None,
    )
    .await;
    for crd in [
        "crd/servicemonitors.monitoring.coreos.com",
        "crd/podmonitors.monitoring.coreos.com",
    ] {
        k.ok(
            &["wait", "--for=condition=Established", crd, "--timeout=10s"],
            None,
        )
        .await;
    }
    let applied = k.ok(&["apply", "--server-side", "-f", custom], None).await;
    for object in [
        "deployment.apps/aegis-operator serverside-applied",
        "servicemonitor.monitoring.coreos.com/aegis-operator serverside-applied",
        "podmonitor.monitoring.coreos.com/aegis-operator-engines serverside-applied",
        "networkpolicy.networking.k8s.io/aegis-operator-engines serverside-applied",
        "networkpolicy.networking.k8s.io/aegis-operator serverside-applied",
    ] {
        assert!(applied.contains(object), "{object} missing in:\n{applied}");
    }
    let replicas = k
        .ok(
            &[
                "get",
                "deployment",
                "aegis-operator",
                "-n",
                RELEASE_NAMESPACE,
                "-o",
                "jsonpath={.spec.replicas}",
            ],
            None,
        )
        .await;
    assert_eq!(
        replicas.trim(),
        "3",
        "the second apply changed the Deployment"
    );
    // The engines' policy of the default render (aegis-system) and of the
    // custom one (default, trading).
    let policies = k
        .ok(&["get", "networkpolicies", "-A", "-o", "name"], None)
        .await;
    assert_eq!(
        policies
            .lines()
            .filter(|l| l.contains("aegis-operator-engines"))
            .count(),
        3,
        "{policies}"
    );
    k.cluster.shutdown().await;
}

/// `kubectl apply` without `--server-side` (a three-way strategic merge on
/// the second apply of built-in kinds) takes the default render twice, and
/// the second changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_render_applies_client_side_twice_unchanged() {
    let dir = scratch("apply-client-side");
    let files = write_renders(&dir);
    let [default, crd] = [&files[0], &files[2]].map(|p| p.to_str().expect("a UTF-8 path"));
    let k = aegis_tests::kubectl::Kubectl::start().await;
    let namespace =
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {RELEASE_NAMESPACE}\n");
    k.ok(&["apply", "-f", "-"], Some(&namespace)).await;
    k.ok(&["apply", "--server-side", "-f", crd], None).await;
    let first = k.ok(&["apply", "-f", default], None).await;
    assert!(
        first.contains("deployment.apps/aegis-operator created"),
        "{first}"
    );
    let second = k.ok(&["apply", "-f", default], None).await;
    let lines: Vec<&str> = second.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(
            line.ends_with(" unchanged"),
            "the second apply changed something: {second}"
        );
    }
    k.cluster.shutdown().await;
}
