//! Conformance through kube-rs and raw HTTP: metadata-only requests
//! (`Accept: application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`)
//! for get, list and watch, as kube's `get_metadata`/`list_metadata` and
//! kube-runtime's `metadata_watcher` send them.

mod common;

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::{metadata_watcher, watcher, WatchStreamExt};
use serde_json::json;

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": "web"}}, "data": {"secret-ish": "payload"}}))
        .unwrap()
}

#[tokio::test]
async fn get_and_list_metadata_answer_partial_object_metadata() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let one = api.get_metadata("a").await.unwrap();
    assert_eq!(one.metadata.name.as_deref(), Some("a"));
    assert_eq!(one.metadata.labels.unwrap()["app"], "web");
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(list.metadata.resource_version.is_some());
    // On the wire: the meta.k8s.io kind, the content type, no data.
    let accept = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, head, body) = common::raw_http(
        &cluster.url(),
        "GET",
        &format!("{path}/a"),
        &[("Accept", accept)],
        "",
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        head.contains(&format!("content-type: {}", accept.to_lowercase())),
        "{head}"
    );
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (doc["kind"].as_str(), doc["apiVersion"].as_str()),
        (Some("PartialObjectMetadata"), Some("meta.k8s.io/v1"))
    );
    assert!(doc.get("data").is_none(), "{doc}");
    let list_accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let (_, _, body) =
        common::raw_http(&cluster.url(), "GET", path, &[("Accept", list_accept)], "").await;
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["kind"], "PartialObjectMetadataList");
    assert_eq!(doc["items"][0]["kind"], "PartialObjectMetadata");
    assert!(doc["items"][0].get("data").is_none());
    // A list asked for as one object, or an object as a list, is 406.
    let (code, _, _) =
        common::raw_http(&cluster.url(), "GET", path, &[("Accept", accept)], "").await;
    assert_eq!(code, 406);
    let (code, _, _) = common::raw_http(
        &cluster.url(),
        "GET",
        &format!("{path}/a"),
        &[("Accept", list_accept)],
        "",
    )
    .await;
    assert_eq!(code, 406);
    cluster.shutdown().await;
}

/// The next object a watcher stream applies, within 10 s.
async fn next_applied<S, T, E>(stream: &mut S) -> T
where
    S: futures::Stream<Item = Result<T, E>> + Unpin,
    E: std::fmt::Debug,
{
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10s")
        .expect("the stream goes on")
        .expect("no watcher error")
}

#[tokio::test]
async fn metadata_watcher_sees_existing_and_new_objects() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("before"))
        .await
        .unwrap();
    let mut stream = metadata_watcher(api.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let first: kube::core::PartialObjectMeta<ConfigMap> = next_applied(&mut stream).await;
    assert_eq!(first.metadata.name.as_deref(), Some("before"));
    api.create(&PostParams::default(), &cm("after"))
        .await
        .unwrap();
    let second: kube::core::PartialObjectMeta<ConfigMap> = next_applied(&mut stream).await;
    assert_eq!(second.metadata.name.as_deref(), Some("after"));
    assert_eq!(second.metadata.labels.unwrap()["app"], "web");
    cluster.shutdown().await;
}
