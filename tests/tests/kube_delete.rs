//! Conformance through kube-rs: deletion (finalizers and deletionTimestamp,
//! preconditions, ownerReference garbage collection in background,
//! foreground and orphan modes), and what a DELETE answers: a Success
//! Status for an object gone at once, the object while finalizers hold it,
//! and the deleted object for the kinds whose storage returns it (pods).

mod common;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::DynamicObject;
use kube::api::{
    Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
};
use serde_json::json;

fn cm(name: &str, extra_meta: serde_json::Value) -> ConfigMap {
    let mut v = json!({"metadata": {"name": name}});
    if let (Some(m), Some(e)) = (v["metadata"].as_object_mut(), extra_meta.as_object()) {
        m.extend(e.clone());
    }
    serde_json::from_value(v).unwrap()
}

fn owned_by(owner: &ConfigMap) -> serde_json::Value {
    json!({"ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid, "blockOwnerDeletion": true}]})
}

/// Creates ConfigMap `owner` and ConfigMap `dep` owned by it; `dep_meta` adds
/// metadata fields to the dependent (e.g. finalizers).
async fn create_owner_and_dependent(api: &Api<ConfigMap>, dep_meta: serde_json::Value) {
    let owner = api
        .create(&PostParams::default(), &cm("owner", json!({})))
        .await
        .expect("create owner");
    let mut meta = owned_by(&owner);
    if let (Some(meta), serde_json::Value::Object(extra)) = (meta.as_object_mut(), dep_meta) {
        meta.extend(extra);
    }
    api.create(&PostParams::default(), &cm("dep", meta))
        .await
        .expect("create dependent");
}

#[tokio::test]
async fn finalizers_hold_an_object_with_deletion_timestamp_until_removed() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(
        &PostParams::default(),
        &cm("f", json!({"finalizers": ["example.com/hold"]})),
    )
    .await
    .unwrap();
    api.delete("f", &DeleteParams::default()).await.unwrap();
    let held = api.get("f").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    let e = common::api_error(
        api.patch(
            "f",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
            ),
        )
        .await,
    );
    assert_eq!(e.code, 422, "no new finalizers while deleting");
    api.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(common::api_error(api.get("f").await).code, 404);
    cluster.shutdown().await;
}

#[tokio::test]
async fn delete_preconditions_on_uid_and_resource_version_are_409_when_stale() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let c = api
        .create(&PostParams::default(), &cm("p", json!({})))
        .await
        .unwrap();
    let stale = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("wrong".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    assert_eq!(common::api_error(api.delete("p", &stale).await).code, 409);
    let stale_rv = DeleteParams {
        preconditions: Some(Preconditions {
            uid: None,
            resource_version: Some("1".into()),
        }),
        ..DeleteParams::default()
    };
    assert_eq!(
        common::api_error(api.delete("p", &stale_rv).await).code,
        409
    );
    let ok = DeleteParams {
        preconditions: Some(Preconditions {
            uid: c.metadata.uid.clone(),
            resource_version: c.metadata.resource_version.clone(),
        }),
        ..DeleteParams::default()
    };
    api.delete("p", &ok).await.unwrap();
    assert_eq!(common::api_error(api.get("p").await).code, 404);
    cluster.shutdown().await;
}

#[tokio::test]
async fn background_propagation_deletes_dependents_after_the_owner() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    create_owner_and_dependent(&api, json!({})).await;
    api.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    assert_eq!(common::api_error(api.get("owner").await).code, 404);
    assert_eq!(
        common::api_error(api.get("dep").await).code,
        404,
        "dependent collected"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn foreground_propagation_waits_for_dependents_held_by_finalizers() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    create_owner_and_dependent(&api, json!({"finalizers": ["example.com/hold"]})).await;
    api.delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    let o = api.get("owner").await.unwrap();
    assert!(o.metadata.deletion_timestamp.is_some());
    assert_eq!(
        o.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()])
    );
    assert!(
        api.get("dep")
            .await
            .unwrap()
            .metadata
            .deletion_timestamp
            .is_some(),
        "dependent is being deleted"
    );
    api.patch(
        "dep",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(common::api_error(api.get("dep").await).code, 404);
    assert_eq!(
        common::api_error(api.get("owner").await).code,
        404,
        "owner goes once dependents are gone"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn orphan_propagation_keeps_dependents_without_the_owner_reference() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    create_owner_and_dependent(&api, json!({})).await;
    let orphan = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    api.delete("owner", &orphan).await.unwrap();
    assert_eq!(common::api_error(api.get("owner").await).code, 404);
    let dep = api.get("dep").await.unwrap();
    assert!(
        dep.metadata.owner_references.is_none(),
        "owner reference removed"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn deleting_a_custom_resource_answers_a_status_or_the_held_object() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let created = widgets
        .create(
            &PostParams::default(),
            &common::widget("gone", json!({"mode": "paper"})),
        )
        .await
        .unwrap();
    let answer = widgets
        .delete("gone", &DeleteParams::default())
        .await
        .unwrap();
    let status = answer
        .right()
        .expect("a Status for a custom resource gone at once");
    assert!(status.is_success(), "{status:?}");
    let d = status.details.expect("details");
    assert_eq!(
        (
            d.name.as_str(),
            d.group.as_str(),
            d.kind.as_str(),
            d.uid.as_str()
        ),
        (
            "gone",
            "example.com",
            "widgets",
            created.metadata.uid.as_deref().unwrap()
        )
    );
    let mut held: DynamicObject = common::widget("held", json!({"mode": "paper"}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    widgets.create(&PostParams::default(), &held).await.unwrap();
    let answer = widgets
        .delete("held", &DeleteParams::default())
        .await
        .unwrap();
    let obj = answer.left().expect("the object finalizers hold");
    assert_eq!(obj.metadata.name.as_deref(), Some("held"));
    assert!(obj.metadata.deletion_timestamp.is_some());
    cluster.shutdown().await;
}

#[tokio::test]
async fn built_in_kinds_answer_as_their_storage_does() {
    let (cluster, client) = common::start().await;
    // ConfigMaps (like Secrets, Deployments, ...) answer a Status without group.
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(&PostParams::default(), &cm("c", json!({})))
        .await
        .unwrap();
    let status = cms
        .delete("c", &DeleteParams::default())
        .await
        .unwrap()
        .right()
        .expect("a Status for a ConfigMap");
    let d = status.details.expect("details");
    assert_eq!((d.kind.as_str(), d.group.as_str()), ("configmaps", ""));
    // Pods return the deleted object (an unscheduled pod goes at once).
    let pods: Api<Pod> = Api::default_namespaced(client);
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let last = pods
        .delete("p", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("the deleted pod");
    assert_eq!(last.metadata.name.as_deref(), Some("p"));
    assert_eq!(common::api_error(pods.get("p").await).code, 404);
    cluster.shutdown().await;
}
