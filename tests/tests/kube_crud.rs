//! Conformance through kube-rs: discovery, CRUD and object metadata semantics
//! (API Concepts / API Conventions).

mod common;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::discovery::Discovery;
use serde_json::json;

fn cm(name: &str) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": {"k": "v"}})).unwrap()
}

#[tokio::test]
async fn discovery_lists_builtin_groups_and_crd_resources() {
    let (cluster, client) = common::start().await;
    let d = Discovery::new(client.clone()).run().await.unwrap();
    let groups: Vec<String> = d.groups().map(|g| g.name().to_string()).collect();
    for g in [
        "",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
    ] {
        assert!(
            groups.iter().any(|x| x == g),
            "group {g:?} missing from {groups:?}"
        );
    }
    common::install_widgets(&client).await;
    let d = Discovery::new(client.clone()).run().await.unwrap();
    let (ar, caps) = d
        .resolve_gvk(&kube::core::GroupVersionKind::gvk(
            "example.com",
            "v1",
            "Widget",
        ))
        .expect("widget served");
    assert_eq!(ar.plural, "widgets");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
    assert!(
        caps.subresources
            .iter()
            .any(|(s, _)| s.plural.ends_with("status")),
        "status subresource listed"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn create_sets_uid_creation_timestamp_and_resource_version() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    assert!(created
        .metadata
        .uid
        .as_deref()
        .is_some_and(|u| u.len() == 36));
    assert!(created.metadata.creation_timestamp.is_some());
    assert!(created.metadata.resource_version.is_some());
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
    let got = api.get("a").await.unwrap();
    assert_eq!(got.metadata.uid, created.metadata.uid);
    cluster.shutdown().await;
}

#[tokio::test]
async fn generate_name_appends_a_random_suffix() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut obj = cm("");
    obj.metadata.name = None;
    obj.metadata.generate_name = Some("gen-".into());
    let a = api.create(&PostParams::default(), &obj).await.unwrap();
    let b = api.create(&PostParams::default(), &obj).await.unwrap();
    let (na, nb) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(na.starts_with("gen-") && na.len() == 9, "{na}");
    assert_ne!(na, nb);
    cluster.shutdown().await;
}

#[tokio::test]
async fn duplicate_create_is_409_already_exists_and_missing_get_is_404() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let e = common::api_error(api.create(&PostParams::default(), &cm("a")).await);
    assert_eq!(
        (e.code, e.reason.as_str(), e.status.as_str()),
        (409, "AlreadyExists", "Failure")
    );
    assert_eq!(e.message, "configmaps \"a\" already exists");
    let e = common::api_error(api.get("nope").await);
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(e.message, "configmaps \"nope\" not found");
    cluster.shutdown().await;
}

#[tokio::test]
async fn stale_resource_version_update_is_409_conflict() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let first = api.create(&PostParams::default(), &cm("a")).await.unwrap();
    let mut second = first.clone();
    second.data = Some([("k".to_string(), "w".to_string())].into());
    let updated = api
        .replace("a", &PostParams::default(), &second)
        .await
        .unwrap();
    assert_ne!(
        updated.metadata.resource_version,
        first.metadata.resource_version
    );
    let e = common::api_error(api.replace("a", &PostParams::default(), &second).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(
        e.message.contains("the object has been modified"),
        "{}",
        e.message
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn invalid_name_is_422_with_a_field_cause() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let e = common::api_error(api.create(&PostParams::default(), &cm("Not_Valid")).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(
        e.message
            .starts_with("ConfigMap \"Not_Valid\" is invalid: metadata.name: Invalid value"),
        "{}",
        e.message
    );
    // The raw Status carries details.causes with the field.
    let req = http::Request::post(format!(
        "{}/api/v1/namespaces/default/configmaps",
        cluster.url()
    ))
    .header("content-type", "application/json")
    .body(serde_json::to_vec(&json!({"metadata": {"name": "Bad"}})).unwrap())
    .unwrap();
    let status: serde_json::Value = match client.request::<serde_json::Value>(req).await {
        Err(kube::Error::Api(_)) => {
            // kube-rs hides details; read it through a plain request instead.
            plain_post(
                &cluster.url(),
                "/api/v1/namespaces/default/configmaps",
                json!({"metadata": {"name": "Bad"}}),
            )
            .await
        }
        other => panic!("expected an error, got {other:?}"),
    };
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["apiVersion"], "v1");
    assert_eq!(status["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueInvalid"
    );
    cluster.shutdown().await;
}

/// POSTs JSON with a bare HTTP/1.1 request and returns the JSON answer.
async fn plain_post(base: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = body.to_string();
    let req = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let json_start = out.find("\r\n\r\n").map(|i| i + 4).unwrap();
    serde_json::from_str(&out[json_start..]).unwrap()
}

#[tokio::test]
async fn create_in_a_missing_namespace_is_404() {
    let (cluster, client) = common::start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "nowhere");
    let e = common::api_error(api.create(&PostParams::default(), &cm("a")).await);
    assert_eq!(
        (e.code, e.message.as_str()),
        (404, "namespaces \"nowhere\" not found")
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn pods_status_subresource_is_split_from_the_main_endpoint() {
    let (cluster, client) = common::start().await;
    let api: Api<Pod> = Api::default_namespaced(client);
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}, "status": {"phase": "Running"}})).unwrap();
    let created = api.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(
        created.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending"),
        "status on create is reset"
    );
    let mut changed = created.clone();
    changed.status.as_mut().unwrap().phase = Some("Running".into());
    let after_main = api
        .replace("p", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(
        after_main.status.unwrap().phase.as_deref(),
        Some("Pending"),
        "main endpoint ignores status"
    );
    let after_status = api
        .patch_status(
            "p",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(
                json!({"status": {"phase": "Running"}, "spec": {"nodeName": "n1"}}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        after_status.status.unwrap().phase.as_deref(),
        Some("Running")
    );
    assert_eq!(
        after_status.spec.unwrap().node_name,
        None,
        "/status ignores spec"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_contents() {
    let (cluster, client) = common::start().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap(),
    )
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "team");
    api.create(&PostParams::default(), &cm("a")).await.unwrap();
    nss.delete("team", &DeleteParams::default()).await.unwrap();
    assert_eq!(common::api_error(nss.get("team").await).code, 404);
    let all: Api<ConfigMap> = Api::all(client);
    assert!(all
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty());
    cluster.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_status_objects() {
    // API Conventions: every error is a Status; malformed input is BadRequest.
    let (cluster, _client) = common::start().await;
    let path = "/api/v1/namespaces/default/configmaps";
    for body in [
        json!({"metadata": {"name": "a", "labels": "not-a-map"}}),
        json!({"metadata": {"name": "a", "finalizers": [1]}}),
        json!({"metadata": 7}),
        json!(["not", "an", "object"]),
        json!({"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "a"}}),
    ] {
        let status = plain_post(&cluster.url(), path, body.clone()).await;
        assert_eq!(
            (
                status["kind"].as_str(),
                status["code"].as_i64(),
                status["reason"].as_str()
            ),
            (Some("Status"), Some(400), Some("BadRequest")),
            "{body}: {status}"
        );
    }
    // The server is still up and consistent.
    let ok = plain_post(&cluster.url(), path, json!({"metadata": {"name": "fine"}})).await;
    assert_eq!(ok["metadata"]["name"], "fine");
    cluster.shutdown().await;
}

#[tokio::test]
async fn unmodelled_pod_subresources_answer_501() {
    let (cluster, client) = common::start().await;
    let api: Api<Pod> = Api::default_namespaced(client);
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}),
    )
    .unwrap();
    api.create(&PostParams::default(), &pod).await.unwrap();
    let e = common::api_error(api.evict("p", &Default::default()).await);
    assert_eq!((e.code, e.reason.as_str()), (501, "NotImplemented"));
    cluster.shutdown().await;
}

/// GETs a path with an Accept header; returns the content type and JSON body.
async fn plain_get(base: &str, path: &str, accept: &str) -> (String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or("")
        .to_string();
    (content_type, serde_json::from_str(body).unwrap())
}

#[tokio::test]
async fn aggregated_discovery_is_served_when_asked_for() {
    // API Concepts, discovery: Accept g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList.
    let (cluster, client) = common::start().await;
    common::install_widgets(&client).await;
    let accept =
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let (ct, doc) = plain_get(&cluster.url(), "/apis", accept).await;
    assert_eq!(
        ct,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(doc["kind"], "APIGroupDiscoveryList");
    let group = doc["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["metadata"]["name"] == "example.com")
        .expect("CRD group listed");
    let widgets = &group["versions"][0]["resources"][0];
    assert_eq!(
        (widgets["resource"].as_str(), widgets["scope"].as_str()),
        (Some("widgets"), Some("Namespaced"))
    );
    assert_eq!(widgets["subresources"][0]["subresource"], "status");
    let (ct, legacy) = plain_get(&cluster.url(), "/apis", "application/json").await;
    assert_eq!(
        (ct.as_str(), legacy["kind"].as_str()),
        ("application/json", Some("APIGroupList"))
    );
    let (_, core) = plain_get(&cluster.url(), "/api", accept).await;
    assert!(core["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["resource"] == "pods"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn error_bodies_are_kube_apiservers_bytes() {
    // kube-apiserver encodes metav1.Status with Go's json.Encoder: fields in
    // struct order, empty ones (the core group) left out, then a newline.
    let (cluster, _client) = common::start().await;
    let (code, head, body) = common::raw_http(
        &cluster.url(),
        "GET",
        "/api/v1/namespaces/default/configmaps/missing",
        &[],
        "",
    )
    .await;
    assert_eq!(code, 404);
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(
        body,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\
         \"message\":\"configmaps \\\"missing\\\" not found\",\"reason\":\"NotFound\",\
         \"details\":{\"name\":\"missing\",\"kind\":\"configmaps\"},\"code\":404}\n"
    );
    // Causes too: reason, message, field.
    let (code, _, body) = common::raw_http(
        &cluster.url(),
        "POST",
        "/api/v1/namespaces/default/configmaps",
        &[("Content-Type", "application/json")],
        r#"{"metadata":{"name":"Bad_Name"}}"#,
    )
    .await;
    assert_eq!(code, 422);
    let at = |k: &str| body.find(k).unwrap_or_else(|| panic!("{k} in {body}"));
    let order = [
        "\"kind\":\"Status\"",
        "\"apiVersion\"",
        "\"metadata\"",
        "\"status\"",
        "\"message\"",
        "\"reason\":\"Invalid\"",
        "\"details\":{\"name\":\"Bad_Name\",\"kind\":\"ConfigMap\",\"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\"",
        "\"field\":\"metadata.name\"}]}",
        "\"code\":422}\n",
    ];
    let positions: Vec<usize> = order.iter().map(|k| at(k)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{body}");
    assert!(body.ends_with("}\n"), "{body:?}");
    cluster.shutdown().await;
}
