//! Conformance through kube-rs: CustomResourceDefinitions (serving on create,
//! Established condition, structural schema validation and defaulting,
//! generation and the status subresource of custom resources).

mod common;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

/// Creates widget `name` with the spec `{"mode": "paper"}`.
async fn create_paper_widget(widgets: &Api<DynamicObject>, name: &str) -> DynamicObject {
    widgets
        .create(
            &PostParams::default(),
            &common::widget(name, json!({"mode": "paper"})),
        )
        .await
        .expect("create a paper widget")
}

#[tokio::test]
async fn creating_a_crd_serves_its_resource_and_marks_it_established() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &common::crd_resource());
    let crd = crds.get("widgets.example.com").await.unwrap();
    let conditions = crd.data["status"]["conditions"].as_array().unwrap().clone();
    assert!(conditions
        .iter()
        .any(|c| c["type"] == "Established" && c["status"] == "True"));
    let w = create_paper_widget(&widgets, "w1").await;
    assert_eq!(w.metadata.generation, Some(1));
    cluster.shutdown().await;
}

#[tokio::test]
async fn schema_defaults_are_applied_on_create_and_update() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let w = create_paper_widget(&widgets, "w1").await;
    assert_eq!(w.data["spec"]["size"], 1, "default applied on create");
    let mut changed = w.clone();
    changed.data["spec"] = json!({"mode": "live"});
    let updated = widgets
        .replace("w1", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(updated.data["spec"]["size"], 1, "default applied on update");
    cluster.shutdown().await;
}

#[tokio::test]
async fn schema_violations_are_422_with_one_cause_per_field() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let bad = common::widget("w1", json!({"mode": "yolo", "size": 11, "symbol": "btc"}));
    let e = common::api_error(widgets.create(&PostParams::default(), &bad).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(
        e.message
            .starts_with("Widget.example.com \"w1\" is invalid: ["),
        "{}",
        e.message
    );
    for part in [
        "spec.mode: Unsupported value: \"yolo\"",
        "spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10",
        "spec.symbol: Invalid value: \"btc\": spec.symbol in body should match '^[A-Z]+$'",
    ] {
        assert!(
            e.message.contains(part),
            "missing {part:?} in {}",
            e.message
        );
    }
    let missing = common::widget("w2", json!({}));
    let e = common::api_error(widgets.create(&PostParams::default(), &missing).await);
    assert!(
        e.message.contains("spec.mode: Required value"),
        "{}",
        e.message
    );
    let wrong_type = common::widget("w3", json!({"mode": "paper", "size": "big"}));
    let e = common::api_error(widgets.create(&PostParams::default(), &wrong_type).await);
    assert!(
        e.message
            .contains("spec.size in body must be of type integer"),
        "{}",
        e.message
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn unknown_fields_are_pruned_or_rejected_with_strict_validation() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let w = widgets
        .create(
            &PostParams::default(),
            &common::widget("w1", json!({"mode": "paper", "bogus": 1})),
        )
        .await
        .unwrap();
    assert!(
        w.data["spec"].get("bogus").is_none(),
        "unknown field pruned"
    );
    let strict = PatchParams::default().validation_strict();
    let e = common::api_error(
        widgets
            .patch("w1", &strict, &Patch::Merge(json!({"spec": {"bogus": 1}})))
            .await,
    );
    assert_eq!(e.code, 400);
    assert!(
        e.message.contains("unknown field \"spec.bogus\""),
        "{}",
        e.message
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn generation_changes_on_spec_changes_only_with_status_subresource() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    create_paper_widget(&widgets, "w1").await;
    let pp = PatchParams::default();
    let s = widgets
        .patch_status(
            "w1",
            &pp,
            &Patch::Merge(json!({"status": {"phase": "Ready"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        (s.metadata.generation, s.data["status"]["phase"].as_str()),
        (Some(1), Some("Ready")),
        "status change keeps generation"
    );
    let l = widgets
        .patch(
            "w1",
            &pp,
            &Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        l.metadata.generation,
        Some(1),
        "metadata change keeps generation"
    );
    let m = widgets
        .patch(
            "w1",
            &pp,
            &Patch::Merge(json!({"spec": {"size": 3}, "status": {"phase": "Ignored"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        m.metadata.generation,
        Some(2),
        "spec change bumps generation"
    );
    assert_eq!(
        m.data["status"]["phase"], "Ready",
        "main endpoint ignores status"
    );
    let t = widgets
        .patch_status("w1", &pp, &Patch::Merge(json!({"spec": {"size": 9}})))
        .await
        .unwrap();
    assert_eq!(t.data["spec"]["size"], 3, "/status ignores spec");
    cluster.shutdown().await;
}

#[tokio::test]
async fn custom_resource_update_requires_a_resource_version() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let mut w = widgets
        .create(
            &PostParams::default(),
            &common::widget("w1", json!({"mode": "paper"})),
        )
        .await
        .unwrap();
    w.metadata.resource_version = None;
    let e = common::api_error(widgets.replace("w1", &PostParams::default(), &w).await);
    assert_eq!(e.code, 422);
    assert!(
        e.message.contains(
            "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
        ),
        "{}",
        e.message
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn deleting_a_crd_stops_serving_and_removes_its_objects() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    create_paper_widget(&widgets, "w1").await;
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &common::crd_resource());
    crds.delete("widgets.example.com", &Default::default())
        .await
        .unwrap();
    let e = common::api_error(widgets.get("w1").await);
    assert_eq!(e.code, 404);
    cluster.shutdown().await;
}

#[tokio::test]
async fn a_crd_whose_name_is_not_plural_dot_group_is_invalid() {
    let (cluster, client) = common::start().await;
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &common::crd_resource());
    let mut crd = common::widget_crd();
    crd["metadata"]["name"] = json!("wrong.example.com");
    let e = common::api_error(
        crds.create(
            &PostParams::default(),
            &serde_json::from_value(crd).unwrap(),
        )
        .await,
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .contains("must be spec.names.plural+\".\"+spec.group"),
        "{}",
        e.message
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn cel_rules_reject_invalid_objects_with_the_rule_message() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let e = common::api_error(
        widgets
            .create(
                &PostParams::default(),
                &common::widget("w1", json!({"mode": "paper", "symbol": "AB"})),
            )
            .await,
    );
    assert_eq!(e.code, 422);
    assert_eq!(e.message, "Widget.example.com \"w1\" is invalid: spec.symbol: Invalid value: \"object\": symbol is too short");
    cluster.shutdown().await;
}

#[tokio::test]
async fn cel_transition_rules_compare_against_old_self_on_update() {
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    let pp = PatchParams::default();
    create_paper_widget(&widgets, "w1").await;
    widgets
        .patch("w1", &pp, &Patch::Merge(json!({"spec": {"mode": "live"}})))
        .await
        .expect("paper -> live is allowed");
    let e = common::api_error(
        widgets
            .patch("w1", &pp, &Patch::Merge(json!({"spec": {"mode": "paper"}})))
            .await,
    );
    assert_eq!(e.code, 422);
    assert!(
        e.message
            .ends_with("spec: Invalid value: \"object\": mode can only change from paper"),
        "{}",
        e.message
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_the_declared_replicas_path() {
    // subresources.scale: specReplicasPath .spec.size, statusReplicasPath .status.replicas.
    let (cluster, client) = common::start().await;
    let widgets = common::install_widgets(&client).await;
    widgets
        .create(
            &PostParams::default(),
            &common::widget("w", json!({"mode": "paper", "size": 2})),
        )
        .await
        .unwrap();
    widgets
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 2}})),
        )
        .await
        .unwrap();
    let s = widgets.get_scale("w").await.unwrap();
    assert_eq!(s.spec.unwrap().replicas, Some(2));
    assert_eq!(s.status.unwrap().replicas, 2);
    let s = widgets
        .patch_scale(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(s.spec.unwrap().replicas, Some(5));
    assert_eq!(widgets.get("w").await.unwrap().data["spec"]["size"], 5);
    // PUT with a stale resourceVersion is 409; a value the schema refuses is 422.
    let body = |rv: &str, n: i64| {
        serde_json::to_vec(&json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
            "metadata": {"name": "w", "namespace": "default", "resourceVersion": rv}, "spec": {"replicas": n}}))
        .unwrap()
    };
    let e = common::api_error(
        widgets
            .replace_scale("w", &PostParams::default(), body("1", 3))
            .await,
    );
    assert_eq!(e.code, 409);
    let rv = widgets
        .get("w")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let e = common::api_error(
        widgets
            .replace_scale("w", &PostParams::default(), body(&rv, 11))
            .await,
    );
    assert_eq!(e.code, 422, "size has maximum 10");
    let s = widgets
        .replace_scale("w", &PostParams::default(), body(&rv, 7))
        .await
        .unwrap();
    assert_eq!(s.spec.unwrap().replicas, Some(7));
    cluster.shutdown().await;
}
