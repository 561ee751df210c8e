//! The objects a real cluster makes for itself, which clients expect to
//! find: the `kubernetes` Service in `default` and its Endpoints (the
//! apiserver's own address), the bootstrap ClusterRoles (`cluster-admin`,
//! the aggregated `admin`/`edit`/`view`, and the `system:` discovery roles)
//! with the bindings kube-apiserver creates for them, the `default`
//! ServiceAccount the controller-manager adds to every namespace, and the
//! read-only `componentstatuses`. Role rules are stored, never enforced.

use std::net::SocketAddr;

use serde_json::{json, Value};

use super::meta;
use super::state::State;
use super::store::ObjectKey;

/// Labels and annotation kube-apiserver puts on its bootstrap RBAC objects.
fn rbac_meta(name: &str, extra_labels: Value) -> Value {
    let mut labels = json!({"kubernetes.io/bootstrapping": "rbac-defaults"});
    if let (Some(l), Some(e)) = (labels.as_object_mut(), extra_labels.as_object()) {
        l.extend(e.clone());
    }
    json!({"name": name, "labels": labels,
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}})
}

/// Stores `obj` (already carrying apiVersion, kind and metadata.name) under
/// `group`/`plural` in `namespace`, stamping uid and creationTimestamp.
fn seed(state: &mut State, group: &str, plural: &str, namespace: &str, mut obj: Value) {
    let name = meta::meta_str(&obj, "name").to_string();
    {
        let m = meta::meta_mut(&mut obj);
        if !namespace.is_empty() {
            m.insert("namespace".into(), json!(namespace));
        }
        m.insert("uid".into(), json!(meta::new_uid()));
        m.insert("creationTimestamp".into(), json!(meta::now()));
    }
    let key = ObjectKey {
        group: group.into(),
        resource: plural.into(),
        namespace: namespace.into(),
        name,
    };
    if state.store.get(&key).is_none() {
        state.store.create(key, obj);
    }
}

/// What the controller-manager adds to a new namespace: its `default` ServiceAccount.
pub fn namespace_contents(state: &mut State, namespace: &str) {
    seed(
        state,
        "",
        "serviceaccounts",
        namespace,
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
    );
}

/// The apiVersion of the RBAC objects.
const RBAC: &str = "rbac.authorization.k8s.io/v1";

/// Stores the bootstrap ClusterRole `name` with `labels` and `body`'s fields
/// (`rules`, `aggregationRule`).
fn cluster_role(state: &mut State, name: &str, labels: Value, body: Value) {
    let mut role =
        json!({"apiVersion": RBAC, "kind": "ClusterRole", "metadata": rbac_meta(name, labels)});
    if let (Some(r), Some(b)) = (role.as_object_mut(), body.as_object()) {
        r.extend(b.clone());
    }
    seed(state, "rbac.authorization.k8s.io", "clusterroles", "", role);
}

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

/// The cluster-scoped objects made at start-up (namespaces exist already).
pub fn cluster_objects(state: &mut State) {
    seed(
        state,
        "",
        "services",
        "default",
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster",
                "sessionAffinity": "None",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
            "status": {"loadBalancer": {}}
        }),
    );
    cluster_role(
        state,
        "cluster-admin",
        json!({}),
        json!({"rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]},
                         {"nonResourceURLs": ["*"], "verbs": ["*"]}]}),
    );
    let workloads = json!([
        {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "endpoints",
            "persistentvolumeclaims", "serviceaccounts", "replicationcontrollers", "events"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets", "daemonsets"]},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"]}
    ]);
    let with_verbs = |verbs: &[&str]| -> Value {
        Value::Array(
            workloads
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    let mut r = r.clone();
                    r["verbs"] = json!(verbs);
                    r
                })
                .collect(),
        )
    };
    let all: Vec<&str> = READ.iter().chain(WRITE).copied().collect();
    for (name, aggregates_to, from, rules) in [
        ("admin", None, "aggregate-to-admin", with_verbs(&all)),
        (
            "edit",
            Some("aggregate-to-admin"),
            "aggregate-to-edit",
            with_verbs(&all),
        ),
        (
            "view",
            Some("aggregate-to-edit"),
            "aggregate-to-view",
            with_verbs(READ),
        ),
    ] {
        let labels = match aggregates_to {
            Some(to) => json!({ format!("rbac.authorization.k8s.io/{to}"): "true" }),
            None => json!({}),
        };
        cluster_role(
            state,
            name,
            labels,
            json!({
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": { format!("rbac.authorization.k8s.io/{from}"): "true" }}]},
                "rules": rules
            }),
        );
    }
    let system_roles = [
        (
            "system:discovery",
            json!([{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
            &["system:authenticated"][..],
        ),
        (
            "system:basic-user",
            json!([{"apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], "verbs": ["create"]}]),
            &["system:authenticated"][..],
        ),
        (
            "system:public-info-viewer",
            json!([{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"], "verbs": ["get"]}]),
            &["system:authenticated", "system:unauthenticated"][..],
        ),
    ];
    let bindings = [("cluster-admin", &["system:masters"][..])]
        .into_iter()
        .chain(system_roles.iter().map(|(n, _, g)| (*n, *g)));
    for (name, rules, _) in &system_roles {
        cluster_role(state, name, json!({}), json!({ "rules": rules }));
    }
    for (name, groups) in bindings {
        let subjects: Vec<Value> = groups
            .iter()
            .map(|g| json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": g}))
            .collect();
        seed(
            state,
            "rbac.authorization.k8s.io",
            "clusterrolebindings",
            "",
            json!({
                "apiVersion": RBAC, "kind": "ClusterRoleBinding", "metadata": rbac_meta(name, json!({})),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": subjects
            }),
        );
    }
    for (name, message) in [
        ("scheduler", "ok"),
        ("controller-manager", "ok"),
        ("etcd-0", "{\"health\":\"true\",\"reason\":\"\"}"),
    ] {
        seed(
            state,
            "",
            "componentstatuses",
            "",
            json!({
                "apiVersion": "v1", "kind": "ComponentStatus", "metadata": {"name": name},
                "conditions": [{"type": "Healthy", "status": "True", "message": message}]
            }),
        );
    }
}

/// The `kubernetes` Endpoints: where the apiserver itself listens.
pub fn apiserver_endpoints(state: &mut State, addr: SocketAddr) {
    seed(
        state,
        "",
        "endpoints",
        "default",
        json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": addr.ip().to_string()}],
                         "ports": [{"name": "https", "port": addr.port(), "protocol": "TCP"}]}]
        }),
    );
}
