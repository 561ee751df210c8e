//! Conformance through kube-rs: PATCH (JSON merge patch, JSON patch with the
//! apiserver's `test` semantics and kube-runtime's finalizer helper,
//! server-side apply with field managers and conflicts; strategic merge patch
//! of built-in kinds, 415 for custom resources).

mod common;

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

async fn with_cm() -> (aegis_tests::cluster::TestCluster, Api<ConfigMap>) {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "a"}, "data": {"x": "1", "y": "2"}}))
            .unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    (cluster, api)
}

#[tokio::test]
async fn json_merge_patch_sets_and_removes_keys() {
    let (cluster, api) = with_cm().await;
    let p = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"x": "9", "y": null}})),
        )
        .await
        .unwrap();
    assert_eq!(p.data.unwrap(), [("x".to_string(), "9".to_string())].into());
    cluster.shutdown().await;
}

#[tokio::test]
async fn json_patch_applies_operations_and_a_failed_test_is_rejected() {
    let (cluster, api) = with_cm().await;
    let ops: json_patch::Patch = serde_json::from_value(json!([{"op": "replace", "path": "/data/x", "value": "7"}, {"op": "add", "path": "/data/z", "value": "3"}])).unwrap();
    let p = api
        .patch("a", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .unwrap();
    let data = p.data.unwrap();
    assert_eq!((data["x"].as_str(), data["z"].as_str()), ("7", "3"));
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/x", "value": "nope"}]))
            .unwrap();
    let e = common::api_error(
        api.patch("a", &PatchParams::default(), &Patch::<()>::Json(failing))
            .await,
    );
    assert_eq!(e.code, 422);
    cluster.shutdown().await;
}

#[tokio::test]
async fn json_patch_test_of_an_absent_member_passes_only_against_null() {
    // kube-apiserver (evanphx/json-patch): an absent member of an existing
    // object equals null; any other value is 422; a missing parent is 422.
    let (cluster, api) = with_cm().await;
    let patch = |ops: serde_json::Value| {
        Patch::<()>::Json(serde_json::from_value::<json_patch::Patch>(ops).unwrap())
    };
    let p = api
        .patch(
            "a",
            &PatchParams::default(),
            &patch(json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/f"]},
                {"op": "test", "path": "/data/x", "value": "1"}
            ])),
        )
        .await
        .unwrap();
    assert_eq!(
        p.metadata.finalizers,
        Some(vec!["example.com/f".to_string()])
    );
    for ops in [
        json!([{"op": "test", "path": "/metadata/labels", "value": {}}]),
        json!([{"op": "test", "path": "/spec/missing/x", "value": null}]),
        json!([{"op": "test", "path": "/data/x", "value": "2"}]),
    ] {
        let e = common::api_error(
            api.patch("a", &PatchParams::default(), &patch(ops.clone()))
                .await,
        );
        assert_eq!(e.code, 422, "{ops}");
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn kube_runtime_finalizer_helper_adds_and_removes_its_finalizer() {
    use kube::runtime::controller::Action;
    use kube::runtime::finalizer::{finalizer, Event};
    use std::sync::{Arc, Mutex};
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let mut w = common::widget("w", json!({"mode": "paper"}));
    w.metadata.finalizers = Some(vec!["example.com/other".into()]);
    widgets.create(&PostParams::default(), &w).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reconcile = |name: &'static str| {
        let widgets = widgets.clone();
        let seen = seen.clone();
        async move {
            let obj = Arc::new(widgets.get(name).await.unwrap());
            finalizer(&widgets, "example.com/cleanup", obj, |ev| async move {
                seen.lock().unwrap().push(match ev {
                    Event::Apply(_) => "apply",
                    Event::Cleanup(_) => "cleanup",
                });
                Ok::<_, std::convert::Infallible>(Action::await_change())
            })
            .await
        }
    };
    // First pass: the helper adds its finalizer (test + add at "/-").
    reconcile("w").await.unwrap();
    let fins = widgets.get("w").await.unwrap().metadata.finalizers;
    assert_eq!(
        fins,
        Some(vec![
            "example.com/other".into(),
            "example.com/cleanup".into()
        ])
    );
    reconcile("w").await.unwrap();
    widgets
        .delete("w", &kube::api::DeleteParams::default())
        .await
        .unwrap();
    // Deleting: cleanup runs, then the helper removes its finalizer (test + remove by index).
    reconcile("w").await.unwrap();
    assert_eq!(*seen.lock().unwrap(), vec!["apply", "cleanup"]);
    let left = widgets.get("w").await.unwrap().metadata.finalizers;
    assert_eq!(left, Some(vec!["example.com/other".into()]));
    // An object with no finalizers: the helper tests the absent list against null.
    widgets
        .create(
            &PostParams::default(),
            &common::widget("bare", json!({"mode": "paper"})),
        )
        .await
        .unwrap();
    reconcile("bare").await.unwrap();
    let fins = widgets.get("bare").await.unwrap().metadata.finalizers;
    assert_eq!(fins, Some(vec!["example.com/cleanup".into()]));
    cluster.shutdown().await;
}

#[tokio::test]
async fn merge_patch_with_a_stale_resource_version_is_409() {
    let (cluster, api) = with_cm().await;
    let e = common::api_error(
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "data": {"x": "2"}})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn strategic_merge_patch_merges_built_ins_and_is_415_for_custom_resources() {
    let (cluster, api) = with_cm().await;
    let p = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Strategic(json!({"data": {"x": "2", "y": null}})),
        )
        .await
        .unwrap();
    assert_eq!(p.data.unwrap(), [("x".to_string(), "2".to_string())].into());
    let pods: Api<Pod> = Api::default_namespaced(api.clone().into_client());
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p", "finalizers": ["a/b"]}, "spec": {"containers": [
        {"name": "main", "image": "m:1", "ports": [{"containerPort": 80}]},
        {"name": "side", "image": "s:1"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let p = pods
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Strategic(
                json!({"metadata": {"finalizers": ["c/d"]}, "spec": {"containers": [
                {"name": "side", "image": "s:2"},
                {"name": "main", "ports": [{"containerPort": 81}]}]}}),
            ),
        )
        .await
        .unwrap();
    let spec = serde_json::to_value(p.spec.unwrap()).unwrap();
    assert_eq!(spec["containers"][0]["image"], "m:1", "{spec}");
    assert_eq!(
        spec["containers"][0]["ports"],
        json!([{"containerPort": 80}, {"containerPort": 81}])
    );
    assert_eq!(spec["containers"][1]["image"], "s:2");
    assert_eq!(
        p.metadata.finalizers,
        Some(vec!["a/b".into(), "c/d".into()])
    );
    let widgets = common::install_widgets(&api.into_client()).await;
    widgets
        .create(
            &PostParams::default(),
            &common::widget("w", json!({"mode": "paper"})),
        )
        .await
        .unwrap();
    let e = common::api_error(
        widgets
            .patch(
                "w",
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {"size": 2}})),
            )
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (415, "UnsupportedMediaType"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_creates_and_records_managed_fields() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied"}, "data": {"x": "1"}});
    let a = api
        .patch("applied", &PatchParams::apply("alice"), &Patch::Apply(cfg))
        .await
        .unwrap();
    assert_eq!(a.data.unwrap()["x"], "1");
    let mf = a.metadata.managed_fields.unwrap();
    assert_eq!(mf.len(), 1);
    assert_eq!(
        (mf[0].manager.as_deref(), mf[0].operation.as_deref()),
        (Some("alice"), Some("Apply"))
    );
    assert_eq!(
        mf[0].fields_v1.as_ref().unwrap().0,
        json!({"f:data": {"f:x": {}}})
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_conflicts_with_another_manager_unless_forced() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let cfg = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": v}});
    api.patch("c", &PatchParams::apply("alice"), &Patch::Apply(cfg("1")))
        .await
        .unwrap();
    // Same value: shared ownership, no conflict.
    api.patch("c", &PatchParams::apply("bob"), &Patch::Apply(cfg("1")))
        .await
        .unwrap();
    let e = common::api_error(
        api.patch("c", &PatchParams::apply("carol"), &Patch::Apply(cfg("2")))
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(
        e.message
            .starts_with("Apply failed with 2 conflicts: conflict with \"alice\": .data.x"),
        "{}",
        e.message
    );
    let forced = api
        .patch(
            "c",
            &PatchParams::apply("carol").force(),
            &Patch::Apply(cfg("2")),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["x"], "2");
    let managers: Vec<String> = forced
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert_eq!(
        managers,
        vec!["carol"],
        "forcing takes the field from alice and bob"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn server_side_apply_removes_fields_the_manager_stops_applying() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let first = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "r"}, "data": {"x": "1", "y": "2"}});
    api.patch("r", &PatchParams::apply("alice"), &Patch::Apply(first))
        .await
        .unwrap();
    let second = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "r"}, "data": {"x": "1"}});
    let r = api
        .patch("r", &PatchParams::apply("alice"), &Patch::Apply(second))
        .await
        .unwrap();
    assert_eq!(r.data.unwrap(), [("x".to_string(), "1".to_string())].into());
    cluster.shutdown().await;
}

#[tokio::test]
async fn apply_without_a_field_manager_is_400() {
    let (cluster, api) = with_cm().await;
    let params = PatchParams {
        field_manager: None,
        ..PatchParams::default()
    };
    let e = common::api_error(
        api.patch(
            "a",
            &params,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap"})),
        )
        .await,
    );
    assert_eq!(e.code, 400);
    cluster.shutdown().await;
}

#[tokio::test]
async fn fields_changed_by_an_update_belong_to_its_manager_and_conflict_with_apply() {
    // Server-Side Apply docs: non-apply writes are recorded as operation Update
    // and their fields conflict with an applier that sets a different value.
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let cfg = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"}, "data": {"x": v}});
    api.patch("u", &PatchParams::apply("alice"), &Patch::Apply(cfg("1")))
        .await
        .unwrap();
    let patched = api
        .patch(
            "u",
            &PatchParams {
                field_manager: Some("editor".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(json!({"data": {"x": "2"}})),
        )
        .await
        .unwrap();
    let mf = patched.metadata.managed_fields.unwrap();
    let editor = mf
        .iter()
        .find(|m| m.manager.as_deref() == Some("editor"))
        .expect("editor recorded");
    assert_eq!(editor.operation.as_deref(), Some("Update"));
    assert_eq!(
        editor.fields_v1.as_ref().unwrap().0,
        json!({"f:data": {"f:x": {}}})
    );
    assert!(
        mf.iter().all(|m| m.manager.as_deref() != Some("alice")),
        "alice lost .data.x to the update"
    );
    let e = common::api_error(
        api.patch("u", &PatchParams::apply("alice"), &Patch::Apply(cfg("3")))
            .await,
    );
    assert_eq!(e.code, 409);
    assert!(
        e.message.contains("conflict with \"editor\""),
        "{}",
        e.message
    );
    cluster.shutdown().await;
}
