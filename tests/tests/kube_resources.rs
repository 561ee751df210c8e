//! Every built-in kind the issue lists is served with create/get/list/delete
//! through kube-rs' typed APIs (k8s-openapi types round-trip).

mod common;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Secret, Service, ServiceAccount};
use k8s_openapi::api::events::v1::Event as EventV1;
use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;

async fn round_trip<K>(api: Api<K>, body: serde_json::Value)
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(body).expect("valid object");
    let created = api
        .create(&PostParams::default(), &obj)
        .await
        .expect("created");
    let name = created.meta().name.clone().expect("named");
    assert!(created.meta().uid.is_some());
    api.get(&name).await.expect("read back");
    // Listed (next to the objects a cluster makes itself, such as the
    // `default` ServiceAccount or the `kubernetes` Service).
    let listed = api.list(&ListParams::default()).await.expect("listed");
    assert!(listed
        .items
        .iter()
        .any(|o| o.meta().name.as_deref() == Some(name.as_str())));
    api.delete(&name, &DeleteParams::default())
        .await
        .expect("deleted");
    assert_eq!(common::api_error(api.get(&name).await).code, 404);
}

#[tokio::test]
async fn built_in_kinds_are_served() {
    let (cluster, client) = common::start().await;
    let c = || client.clone();
    let regarding = json!({"kind": "Pod", "name": "p", "namespace": "default"});
    round_trip(Api::<Lease>::default_namespaced(c()), json!({"metadata": {"name": "leader"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}})).await;
    round_trip(Api::<Event>::default_namespaced(c()), json!({"metadata": {"name": "e1"}, "involvedObject": regarding, "reason": "Started", "type": "Normal"})).await;
    round_trip(Api::<EventV1>::default_namespaced(c()), json!({"metadata": {"name": "e2"}, "regarding": regarding, "reason": "Started", "type": "Normal", "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "aegis", "reportingInstance": "x", "action": "Run"})).await;
    round_trip(
        Api::<Secret>::default_namespaced(c()),
        json!({"metadata": {"name": "keys"}, "type": "Opaque", "data": {"k": "dmFsdWU="}}),
    )
    .await;
    round_trip(
        Api::<ServiceAccount>::default_namespaced(c()),
        json!({"metadata": {"name": "operator"}}),
    )
    .await;
    round_trip(
        Api::<Service>::default_namespaced(c()),
        json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .await;
    round_trip(
        Api::<Role>::default_namespaced(c()),
        json!({"metadata": {"name": "r"}, "rules": []}),
    )
    .await;
    round_trip(
        Api::<ClusterRole>::all(c()),
        json!({"metadata": {"name": "cr"}, "rules": []}),
    )
    .await;
    cluster.shutdown().await;
}
