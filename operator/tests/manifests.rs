//! The plain manifests under `manifests/`: every document is the
//! k8s-openapi type its `kind` claims, field for field (a misspelt field is
//! an error, not silently dropped); RBAC grants exactly the verbs the
//! controller needs and never a cluster-wide read of Secrets; the operator
//! Deployment runs two hardened replicas; and the samples are accepted by an
//! API server with the CRD installed.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use aegis_contract::config::{TESTNET_REST_URL, TESTNET_WS_URL};
use aegis_operator::cli::{ALLOWED_IMAGES_ENV, ENGINE_IMAGE_ENV, POD_NAMESPACE_ENV};
use aegis_operator::crd::TradingEngine;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every YAML file under manifests/, sorted.
fn manifest_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![common::repo_root().join("manifests")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The documents of a file, as JSON values, with the file and index for messages.
fn documents(path: &PathBuf) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut docs = Vec::new();
    for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let value = Value::deserialize(doc)
            .unwrap_or_else(|e| panic!("{} document {i}: not YAML: {e}", path.display()));
        if !value.is_null() {
            docs.push((format!("{} document {i}", path.display()), value));
        }
    }
    docs
}

/// Every document of every manifest.
fn all_documents() -> Vec<(String, Value)> {
    manifest_files().iter().flat_map(documents).collect()
}

/// Where `written` has something `parsed` lacks or differs from (numbers
/// compare by value; defaults that only `parsed` has are fine).
fn lost(written: &Value, parsed: &Value, path: &str) -> Option<String> {
    match (written, parsed) {
        (Value::Object(w), Value::Object(p)) => w.iter().find_map(|(k, v)| match p.get(k) {
            Some(pv) => lost(v, pv, &format!("{path}.{k}")),
            None => Some(format!("{path}.{k}")),
        }),
        (Value::Array(w), Value::Array(p)) if w.len() == p.len() => w
            .iter()
            .zip(p)
            .enumerate()
            .find_map(|(i, (a, b))| lost(a, b, &format!("{path}[{i}]"))),
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        (a, b) if a == b => None,
        _ => Some(path.to_string()),
    }
}

/// Parses `value` as `T` and checks nothing was lost: a field `T` does not
/// know would vanish in the round trip.
fn round_trip<T: DeserializeOwned + Serialize>(what: &str, value: &Value) -> T {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what}: does not parse as its kind: {e}"));
    let back = serde_json::to_value(&typed).expect("serializes");
    if let Some(path) = lost(value, &back, "") {
        panic!("{what}: {path} was lost or changed when parsed as its kind (a misspelt field?)");
    }
    typed
}

fn check_kind(what: &str, value: &Value) {
    let api_version = value["apiVersion"].as_str().unwrap_or_default();
    let kind = value["kind"].as_str().unwrap_or_default();
    match (api_version, kind) {
        ("v1", "Namespace") => drop(round_trip::<Namespace>(what, value)),
        ("v1", "ServiceAccount") => drop(round_trip::<ServiceAccount>(what, value)),
        ("v1", "Secret") => drop(round_trip::<Secret>(what, value)),
        ("v1", "PersistentVolumeClaim") => drop(round_trip::<PersistentVolumeClaim>(what, value)),
        ("apps/v1", "Deployment") => drop(round_trip::<Deployment>(what, value)),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => {
            drop(round_trip::<ClusterRole>(what, value))
        }
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            drop(round_trip::<ClusterRoleBinding>(what, value))
        }
        ("rbac.authorization.k8s.io/v1", "Role") => drop(round_trip::<Role>(what, value)),
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => {
            drop(round_trip::<RoleBinding>(what, value))
        }
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => {
            drop(round_trip::<CustomResourceDefinition>(what, value))
        }
        ("aegis.dev/v1alpha1", "TradingEngine") => drop(round_trip::<TradingEngine>(what, value)),
        other => panic!("{what}: unexpected kind {other:?}"),
    }
}

#[test]
fn every_manifest_is_the_kind_it_claims() {
    let docs = all_documents();
    assert!(
        docs.len() >= 15,
        "expected the CRD, RBAC, Deployment and samples, got {}",
        docs.len()
    );
    for (what, value) in &docs {
        check_kind(what, value);
    }
    let kinds: BTreeSet<&str> = docs
        .iter()
        .filter_map(|(_, v)| v["kind"].as_str())
        .collect();
    for kind in [
        "CustomResourceDefinition",
        "Deployment",
        "ClusterRole",
        "Role",
        "TradingEngine",
        "Secret",
    ] {
        assert!(kinds.contains(kind), "no {kind} in manifests/");
    }
}

#[test]
fn a_misspelt_field_is_caught() {
    let value = serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "x"}, "automountServiceAccountTokn": false});
    let caught = std::panic::catch_unwind(|| check_kind("test", &value));
    assert!(
        caught.is_err(),
        "the round trip must notice the unknown field"
    );
}

fn docs_of_kind<T: DeserializeOwned>(kind: &str) -> Vec<T> {
    all_documents()
        .into_iter()
        .filter(|(_, v)| v["kind"] == kind)
        .map(|(what, v)| serde_json::from_value(v).unwrap_or_else(|e| panic!("{what}: {e}")))
        .collect()
}

fn grants(rules: &[PolicyRule]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in rules {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    out.insert((group.clone(), resource.clone(), verb.clone()));
                }
            }
        }
    }
    out
}

fn set(items: &[(&str, &str, &[&str])]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .flat_map(|(g, r, verbs)| {
            verbs
                .iter()
                .map(move |v| (g.to_string(), r.to_string(), v.to_string()))
        })
        .collect()
}

#[test]
fn rbac_grants_exactly_what_the_controller_uses() {
    let cluster_roles: Vec<ClusterRole> = docs_of_kind("ClusterRole");
    let by_name = |n: &str| {
        cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(n))
            .unwrap_or_else(|| panic!("no ClusterRole {n}"))
    };
    assert_eq!(
        grants(
            by_name("aegis-operator")
                .rules
                .as_deref()
                .unwrap_or_default()
        ),
        set(&[
            ("aegis.dev", "tradingengines", &["list", "watch", "patch"]),
            ("aegis.dev", "tradingengines/status", &["patch"]),
            ("aegis.dev", "tradingengines/finalizers", &["update"]),
            ("", "pods", &["get", "list", "watch", "create", "delete"]),
            ("", "configmaps", &["list", "watch", "create", "patch"]),
            ("", "persistentvolumeclaims", &["get", "create"]),
            ("events.k8s.io", "events", &["create", "patch"]),
            ("", "secrets", &["create"]),
        ])
    );
    assert_eq!(
        grants(
            by_name("aegis-operator-credentials")
                .rules
                .as_deref()
                .unwrap_or_default()
        ),
        set(&[("", "secrets", &["get"])])
    );
    let roles: Vec<Role> = docs_of_kind("Role");
    assert_eq!(roles.len(), 2);
    let role = |n: &str| {
        roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(n))
            .unwrap_or_else(|| panic!("no Role {n}"))
    };
    assert_eq!(
        grants(
            role("aegis-operator-leader-election")
                .rules
                .as_deref()
                .unwrap_or_default()
        ),
        set(&[(
            "coordination.k8s.io",
            "leases",
            &["get", "create", "update"]
        )])
    );
    // The control key: read only by its name, created once.
    let key_rules = role("aegis-operator-control-key")
        .rules
        .clone()
        .unwrap_or_default();
    assert_eq!(
        grants(&key_rules),
        set(&[("", "secrets", &["get", "create"])])
    );
    for rule in &key_rules {
        if rule.verbs.iter().any(|v| v == "get") {
            assert_eq!(
                rule.resource_names.as_deref(),
                Some(&["aegis-operator-control-key".to_string()][..]),
                "get only of the key's Secret"
            );
        }
    }
    // No ClusterRoleBinding reaches Secrets: only aegis-operator is bound cluster-wide.
    for binding in docs_of_kind::<ClusterRoleBinding>("ClusterRoleBinding") {
        assert_eq!(
            binding.role_ref.name, "aegis-operator",
            "{:?}",
            binding.metadata.name
        );
    }
    // And no rule anywhere lists or watches Secrets; none reads them
    // cluster-wide (the bound ClusterRole only creates them).
    for role in &cluster_roles {
        let bound = role.metadata.name.as_deref() == Some("aegis-operator");
        for (_, resource, verb) in grants(role.rules.as_deref().unwrap_or_default()) {
            let allowed: &[&str] = if bound { &["create"] } else { &["get"] };
            assert!(
                resource != "secrets" || allowed.contains(&verb.as_str()),
                "{:?} grants {verb} on secrets",
                role.metadata.name
            );
        }
    }
}

#[test]
fn the_operator_runs_two_hardened_replicas_with_probes() {
    let deployments: Vec<Deployment> = docs_of_kind("Deployment");
    assert_eq!(deployments.len(), 1);
    let spec = deployments[0].spec.as_ref().expect("spec");
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.as_ref().expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("aegis-operator"));
    assert_eq!(
        pod.security_context
            .as_ref()
            .and_then(|s| s.run_as_non_root),
        Some(true)
    );
    let c = &pod.containers[0];
    let sc = c
        .security_context
        .as_ref()
        .expect("container security context");
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_string()])
    );
    let path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|g| g.path.clone())
    };
    assert_eq!(path(&c.liveness_probe).as_deref(), Some("/healthz"));
    assert_eq!(path(&c.readiness_probe).as_deref(), Some("/readyz"));
    let ports: BTreeSet<(Option<String>, i32)> = c
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone(), p.container_port))
        .collect();
    // One port serves the probes and the metrics, and Prometheus scrapes it.
    assert_eq!(ports, BTreeSet::from([(Some("http".into()), 8080)]));
    let annotations = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default();
    assert_eq!(
        annotations.get("prometheus.io/port").map(String::as_str),
        Some("8080")
    );
    // The engine image comes from the variable the binary reads.
    let env: BTreeSet<String> = c.env.iter().flatten().map(|e| e.name.clone()).collect();
    for name in [
        ENGINE_IMAGE_ENV,
        ALLOWED_IMAGES_ENV,
        POD_NAMESPACE_ENV,
        "POD_NAME",
    ] {
        assert!(
            env.contains(name),
            "the Deployment does not set {name}: {env:?}"
        );
    }
}

#[tokio::test]
async fn the_samples_are_accepted_by_an_api_server_with_the_crd() {
    let (cluster, client, engines) = common::cluster_with_crd().await;
    let samples: Vec<(String, Value)> = manifest_files()
        .iter()
        .filter(|p| p.parent().is_some_and(|d| d.ends_with("samples")))
        .flat_map(documents)
        .collect();
    let mut created = 0;
    for (what, value) in &samples {
        let (group, version) = match value["apiVersion"]
            .as_str()
            .unwrap_or_default()
            .split_once('/')
        {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (
                String::new(),
                value["apiVersion"].as_str().unwrap_or_default().to_string(),
            ),
        };
        let kind = value["kind"].as_str().unwrap_or_default();
        // The test cluster does not serve PersistentVolumeClaims; they are
        // checked as types above.
        if kind == "PersistentVolumeClaim" {
            continue;
        }
        let plural = format!("{}s", kind.to_lowercase());
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(&group, &version, kind),
            &plural,
        );
        let namespace = value["metadata"]["namespace"].as_str().unwrap_or("default");
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
        let object: DynamicObject = serde_json::from_value(value.clone()).expect("an object");
        api.create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("{what}: the API server refused it: {e}"));
        created += 1;
    }
    assert!(created >= 5, "created {created} sample objects");
    let names: BTreeSet<String> = engines
        .list(&Default::default())
        .await
        .expect("list engines")
        .items
        .into_iter()
        .filter_map(|te| te.metadata.name)
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "btc-paper".to_string(),
            "btc-rules".to_string(),
            "eth-replay".to_string(),
            "btc-live-testnet".to_string()
        ])
    );
    cluster.shutdown().await;
}

#[test]
fn the_live_sample_trades_on_the_testnet() {
    let engines: Vec<TradingEngine> = docs_of_kind("TradingEngine");
    let live = engines
        .iter()
        .find(|te| te.metadata.name.as_deref() == Some("btc-live-testnet"))
        .expect("the live sample");
    let config = aegis_operator::desired::config::worker_config("btc-live-testnet", &live.spec)
        .expect("the sample makes a valid worker configuration");
    assert_eq!(config.exchange.rest_base(), TESTNET_REST_URL);
    assert_eq!(config.exchange.ws_base(), TESTNET_WS_URL);
}
