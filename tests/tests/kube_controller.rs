//! A small kube-rs `Controller` runs unchanged against the test cluster: it
//! reconciles on its own objects and on the objects it owns, and the server's
//! garbage collector removes owned objects with their owner.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

async fn reconcile(
    cm: Arc<ConfigMap>,
    secrets: Arc<Api<Secret>>,
) -> Result<Action, ReconcileError> {
    let name = cm.name_any();
    if secrets.get_opt(&name).await?.is_none() {
        let owner = cm.controller_owner_ref(&()).expect("configmaps have uids");
        let mut s: Secret = serde_json::from_value(
            json!({"metadata": {"name": name}, "stringData": {"from": "controller"}}),
        )
        .unwrap();
        s.metadata.owner_references = Some(vec![owner]);
        secrets.create(&PostParams::default(), &s).await?;
    }
    Ok(Action::await_change())
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn controller_reconciles_owned_objects_and_gc_removes_them_with_the_owner() {
    let (cluster, client) = common::start().await;
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let ctx = Arc::new(secrets.clone());
    let controller = Controller::new(cms.clone(), watcher::Config::default())
        .owns(secrets.clone(), watcher::Config::default())
        .run(
            reconcile,
            |_, _, _| Action::requeue(Duration::from_secs(1)),
            ctx,
        )
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);

    cms.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "app"}})).unwrap(),
    )
    .await
    .unwrap();
    eventually("the controller creates the owned secret", || async {
        secrets.get_opt("app").await.unwrap().is_some()
    })
    .await;
    secrets
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the controller recreates the deleted secret", || async {
        secrets.get_opt("app").await.unwrap().is_some()
    })
    .await;
    cms.delete("app", &DeleteParams::default()).await.unwrap();
    eventually("GC removes the secret with its owner", || async {
        secrets.get_opt("app").await.unwrap().is_none()
    })
    .await;
    handle.abort();
    cluster.shutdown().await;
}
