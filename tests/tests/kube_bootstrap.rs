//! Conformance through kube-rs: the objects a real cluster makes for itself
//! (the `kubernetes` Service and Endpoints, bootstrap ClusterRoles and
//! bindings, a `default` ServiceAccount per namespace, read-only
//! componentstatuses).

mod common;

use k8s_openapi::api::core::v1::{ComponentStatus, Endpoints, Namespace, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn the_kubernetes_service_points_at_the_apiserver() {
    let (cluster, client) = common::start().await;
    let svc = Api::<Service>::default_namespaced(client.clone())
        .get("kubernetes")
        .await
        .unwrap();
    let spec = svc.spec.unwrap();
    let port = &spec.ports.unwrap()[0];
    assert_eq!((port.name.as_deref(), port.port), (Some("https"), 443));
    let ep = Api::<Endpoints>::default_namespaced(client)
        .get("kubernetes")
        .await
        .unwrap();
    let subset = &ep.subsets.unwrap()[0];
    assert_eq!(
        subset.ports.as_ref().unwrap()[0].port,
        i32::from(cluster.addr().port())
    );
    assert_eq!(subset.addresses.as_ref().unwrap()[0].ip, "127.0.0.1");
    cluster.shutdown().await;
}

#[tokio::test]
async fn bootstrap_cluster_roles_and_bindings_exist() {
    let (cluster, client) = common::start().await;
    let roles: Api<ClusterRole> = Api::all(client.clone());
    for name in ["cluster-admin", "admin", "edit", "view", "system:discovery"] {
        let r = roles
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            r.metadata.labels.unwrap()["kubernetes.io/bootstrapping"],
            "rbac-defaults"
        );
    }
    let view = roles.get("view").await.unwrap();
    assert_eq!(
        view.metadata.labels.unwrap()["rbac.authorization.k8s.io/aggregate-to-edit"],
        "true"
    );
    assert!(view.aggregation_rule.is_some());
    let admin = Api::<ClusterRoleBinding>::all(client)
        .get("cluster-admin")
        .await
        .unwrap();
    assert_eq!(admin.role_ref.name, "cluster-admin");
    assert_eq!(admin.subjects.unwrap()[0].name, "system:masters");
    cluster.shutdown().await;
}

#[tokio::test]
async fn every_namespace_gets_a_default_service_account() {
    let (cluster, client) = common::start().await;
    for ns in ["default", "kube-system"] {
        Api::<ServiceAccount>::namespaced(client.clone(), ns)
            .get("default")
            .await
            .unwrap_or_else(|e| panic!("{ns}: {e}"));
    }
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let sas = Api::<ServiceAccount>::namespaced(client, "team")
        .list(&ListParams::default())
        .await
        .unwrap();
    let names: Vec<_> = sas
        .items
        .iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .collect();
    assert_eq!(names, ["default"]);
    cluster.shutdown().await;
}

#[tokio::test]
async fn componentstatuses_are_served_read_only() {
    let (cluster, client) = common::start().await;
    let api: Api<ComponentStatus> = Api::all(client);
    let list = api.list(&ListParams::default()).await.unwrap();
    let mut names: Vec<_> = list
        .items
        .iter()
        .filter_map(|c| c.metadata.name.clone())
        .collect();
    names.sort();
    assert_eq!(names, ["controller-manager", "etcd-0", "scheduler"]);
    let healthy = &api.get("scheduler").await.unwrap().conditions.unwrap()[0];
    assert_eq!(
        (healthy.type_.as_str(), healthy.status.as_str()),
        ("Healthy", "True")
    );
    let extra: ComponentStatus =
        serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
    let e = common::api_error(api.create(&PostParams::default(), &extra).await);
    assert_eq!((e.code, e.reason.as_str()), (405, "MethodNotAllowed"));
    cluster.shutdown().await;
}
