//! Conformance through kube-rs: watch semantics (API Concepts, "Efficient
//! detection of changes"), list selectors and pagination, and the runtime's
//! watcher and Controller running unchanged against the test cluster.

mod common;

use std::time::Duration;

use aegis_tests::cluster::{Config, TestCluster};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::{watcher, WatchStreamExt};
use serde_json::json;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"k": "v"}}),
    )
    .unwrap()
}

async fn next_event<S>(stream: &mut S) -> WatchEvent<ConfigMap>
where
    S: futures::Stream<Item = Result<WatchEvent<ConfigMap>, kube::Error>> + Unpin,
{
    loop {
        let e = next_any(stream).await;
        if !matches!(e, WatchEvent::Bookmark(_)) {
            return e;
        }
    }
}

async fn next_any<S>(stream: &mut S) -> WatchEvent<ConfigMap>
where
    S: futures::Stream<Item = Result<WatchEvent<ConfigMap>, kube::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5s")
        .expect("stream open")
        .expect("event decodes")
}

/// The resourceVersion of a list of everything: where a watch "from now" starts.
async fn list_version(api: &Api<ConfigMap>) -> String {
    api.list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a list has a resourceVersion")
}

/// The names a list returns, in order.
async fn list_names<K>(api: &kube::Api<K>, params: &ListParams) -> Vec<String>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = api.list(params).await.expect("list");
    list.items
        .into_iter()
        .filter_map(|o| o.meta().name.clone())
        .collect()
}

fn name_of(e: &WatchEvent<ConfigMap>) -> (String, String) {
    match e {
        WatchEvent::Added(o) => ("ADDED".into(), o.metadata.name.clone().unwrap()),
        WatchEvent::Modified(o) => ("MODIFIED".into(), o.metadata.name.clone().unwrap()),
        WatchEvent::Deleted(o) => ("DELETED".into(), o.metadata.name.clone().unwrap()),
        WatchEvent::Bookmark(_) => ("BOOKMARK".into(), String::new()),
        WatchEvent::Error(e) => ("ERROR".into(), e.reason.clone()),
    }
}

#[tokio::test]
async fn watch_from_a_list_resource_version_sees_changes_in_order() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("before", json!({})))
        .await
        .unwrap();
    let list = api.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let mut w = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "w"}})),
    )
    .await
    .unwrap();
    api.delete("a", &DeleteParams::default()).await.unwrap();
    let seen: Vec<(String, String)> = vec![
        name_of(&next_event(&mut w).await),
        name_of(&next_event(&mut w).await),
        name_of(&next_event(&mut w).await),
    ];
    assert_eq!(
        seen,
        vec![
            ("ADDED".into(), "a".into()),
            ("MODIFIED".into(), "a".into()),
            ("DELETED".into(), "a".into())
        ]
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn watch_replays_changes_after_an_older_resource_version() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let a = api
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("b", json!({})))
        .await
        .unwrap();
    let mut w = api
        .watch(
            &WatchParams::default(),
            a.metadata.resource_version.as_deref().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    assert_eq!(
        name_of(&next_event(&mut w).await),
        ("ADDED".into(), "b".into())
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn watch_with_bookmarks_sends_bookmark_events() {
    let config = Config {
        bookmark_interval: Duration::from_millis(100),
        ..Config::default()
    };
    let cluster = TestCluster::start_with(config).await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(cluster.client().unwrap());
    let rv = list_version(&api).await;
    let params = WatchParams {
        bookmarks: true,
        ..WatchParams::default()
    };
    let mut w = api.watch(&params, &rv).await.unwrap().boxed();
    match next_any(&mut w).await {
        WatchEvent::Bookmark(b) => assert_eq!(b.metadata.resource_version, rv),
        other => panic!("expected a bookmark, got {other:?}"),
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn watch_ends_after_timeout_seconds() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let rv = list_version(&api).await;
    let params = WatchParams {
        bookmarks: false,
        ..WatchParams::default()
    }
    .timeout(1);
    let mut w = api.watch(&params, &rv).await.unwrap().boxed();
    let end = tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("the watch closes by itself");
    assert!(
        end.is_none(),
        "no event, just the end of the stream: {end:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn watch_from_a_compacted_version_is_an_error_event_410_expired() {
    let cluster = TestCluster::start_with(Config {
        history_limit: 3,
        ..Config::default()
    })
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(cluster.client().unwrap());
    let first = api
        .create(&PostParams::default(), &cm("first", json!({})))
        .await
        .unwrap();
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let mut w = api
        .watch(
            &WatchParams::default(),
            first.metadata.resource_version.as_deref().unwrap(),
        )
        .await
        .unwrap()
        .boxed();
    match next_event(&mut w).await {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected ERROR 410, got {other:?}"),
    }
    cluster.shutdown().await;
}

#[tokio::test]
async fn label_selector_watch_sees_objects_leave_as_deleted() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let rv = list_version(&api).await;
    let mut w = api
        .watch(&WatchParams::default().labels("app=web"), &rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("other", json!({"app": "db"})))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("a", json!({"app": "web"})))
        .await
        .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
    )
    .await
    .unwrap();
    assert_eq!(
        name_of(&next_event(&mut w).await),
        ("ADDED".into(), "a".into())
    );
    assert_eq!(
        name_of(&next_event(&mut w).await),
        ("DELETED".into(), "a".into())
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn list_filters_by_equality_and_set_based_label_selectors() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for (n, l) in [
        ("a", json!({"app": "web", "tier": "fe"})),
        ("b", json!({"app": "db"})),
        ("c", json!({"app": "cache"})),
    ] {
        api.create(&PostParams::default(), &cm(n, l)).await.unwrap();
    }
    assert_eq!(
        list_names(&api, &ListParams::default().labels("app=web")).await,
        vec!["a"]
    );
    assert_eq!(
        list_names(&api, &ListParams::default().labels("app in (db,cache)")).await,
        vec!["b", "c"]
    );
    assert_eq!(
        list_names(&api, &ListParams::default().labels("app,!tier")).await,
        vec!["b", "c"]
    );
    assert_eq!(
        list_names(&api, &ListParams::default().labels("app!=web")).await,
        vec!["b", "c"]
    );
    let e = common::api_error(api.list(&ListParams::default().labels("app in web")).await);
    assert_eq!(e.code, 400);
    cluster.shutdown().await;
}

#[tokio::test]
async fn list_filters_pods_by_field_selectors() {
    let (cluster, client) = common::start().await;
    let api: Api<Pod> = Api::default_namespaced(client);
    for (n, node) in [("p1", "n1"), ("p2", "n2")] {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": n}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}})).unwrap();
        api.create(&PostParams::default(), &pod).await.unwrap();
    }
    api.patch_status(
        "p2",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running"}})),
    )
    .await
    .unwrap();
    assert_eq!(
        list_names(&api, &ListParams::default().fields("spec.nodeName=n1")).await,
        vec!["p1"]
    );
    assert_eq!(
        list_names(&api, &ListParams::default().fields("status.phase=Running")).await,
        vec!["p2"]
    );
    assert_eq!(
        list_names(
            &api,
            &ListParams::default().fields("metadata.name!=p1,metadata.namespace=default")
        )
        .await,
        vec!["p2"]
    );
    let e = common::api_error(
        api.list(&ListParams::default().fields("spec.bogus=x"))
            .await,
    );
    assert_eq!(
        (e.code, e.message.as_str()),
        (400, "field label not supported: spec.bogus")
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn list_with_limit_pages_through_continue_tokens() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut lp = ListParams::default().limit(2);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|o| o.metadata.name.unwrap()));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec!["c0", "c1", "c2", "c3", "c4"]);
    cluster.shutdown().await;
}

#[tokio::test]
async fn runtime_watcher_relists_after_410_and_converges() {
    let cluster = TestCluster::start_with(Config {
        history_limit: 2,
        ..Config::default()
    })
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(cluster.client().unwrap());
    let store_api = api.clone();
    let writer = tokio::spawn(async move {
        for i in 0..30 {
            store_api
                .create(&PostParams::default(), &cm(&format!("w{i}"), json!({})))
                .await
                .unwrap();
        }
    });
    let (reader, wr) = kube::runtime::reflector::store();
    let stream = kube::runtime::reflector(wr, watcher(api.clone(), watcher::Config::default()))
        .applied_objects();
    let drive = tokio::spawn(async move {
        let mut s = stream.boxed();
        while let Some(r) = s.next().await {
            let _ = r;
        }
    });
    writer.await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while reader.state().len() < 30 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reflector saw {} of 30",
            reader.state().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drive.abort();
    cluster.shutdown().await;
}

#[tokio::test]
async fn runtime_watcher_streams_initial_state_and_updates() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let mut s = watcher(api.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(5), s.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("a"));
    api.create(&PostParams::default(), &cm("b", json!({})))
        .await
        .unwrap();
    let second = tokio::time::timeout(Duration::from_secs(5), s.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(second.metadata.name.as_deref(), Some("b"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn streaming_list_watch_sends_initial_events_then_an_initial_events_end_bookmark() {
    // API Concepts, "Streaming lists": sendInitialEvents=true with bookmarks.
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let (reader, writer) = kube::runtime::reflector::store();
    let stream = kube::runtime::reflector(
        writer,
        watcher(api.clone(), watcher::Config::default().streaming_lists()),
    );
    let drive = tokio::spawn(stream.for_each(|_| async {}));
    // The store is ready only once the initial-events-end bookmark arrived.
    tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready())
        .await
        .expect("initial events end")
        .unwrap();
    assert_eq!(reader.state().len(), 1);
    api.create(&PostParams::default(), &cm("b", json!({})))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while reader.state().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "b never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drive.abort();
    cluster.shutdown().await;
}

#[tokio::test]
async fn list_at_an_exact_older_or_future_version_is_an_error_not_a_different_answer() {
    // API Concepts, "Semantics for get and list": Exact needs that version.
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let a = api
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("b", json!({})))
        .await
        .unwrap();
    let old = a.metadata.resource_version.unwrap();
    let e = common::api_error(
        api.list(
            &ListParams::default()
                .at(&old)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await,
    );
    assert_eq!(e.code, 410);
    let e = common::api_error(api.list(&ListParams::default().at("999999")).await);
    assert_eq!((e.code, e.reason.as_str()), (504, "Timeout"));
    let fresh = api
        .list(
            &ListParams::default()
                .at(&old)
                .matching(kube::api::VersionMatch::NotOlderThan),
        )
        .await
        .unwrap();
    assert_eq!(
        fresh.items.len(),
        2,
        "NotOlderThan is served from the latest state"
    );
    cluster.shutdown().await;
}
