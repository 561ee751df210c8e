//! Helpers shared by the conformance tests.

#![allow(dead_code)]

use aegis_tests::cluster::TestCluster;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{json, Value};

/// Starts a cluster and a client for it.
pub async fn start() -> (TestCluster, kube::Client) {
    let cluster = TestCluster::start().await.expect("test cluster starts");
    let client = cluster.client().expect("client builds");
    (cluster, client)
}

/// The API error of a failed call (panics if the call succeeded or failed otherwise).
pub fn api_error<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> kube::core::ErrorResponse {
    match r {
        Err(kube::Error::Api(e)) => e,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// A CRD for `widgets.example.com` (namespaced, v1, status and scale subresources,
/// printer column, schema with defaults and bounds, CEL rules).
pub fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"], "categories": ["all"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.replicas"}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["mode"],
                            "x-kubernetes-validations": [
                                {"rule": "self.mode == oldSelf.mode || oldSelf.mode == 'paper'", "message": "mode can only change from paper"},
                                {"rule": "!has(self.symbol) || size(self.symbol) >= 3", "message": "symbol is too short", "fieldPath": ".symbol"}
                            ],
                            "properties": {
                                "mode": {"type": "string", "enum": ["paper", "live"]},
                                "size": {"type": "integer", "minimum": 1, "maximum": 10, "default": 1},
                                "symbol": {"type": "string", "pattern": "^[A-Z]+$", "maxLength": 12}
                            }
                        },
                        "status": {"type": "object", "properties": {
                            "phase": {"type": "string"},
                            "replicas": {"type": "integer"},
                            "conditions": {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
                        }}
                    }
                }}
            }]
        }
    })
}

/// Creates the widget CRD and returns an Api for widgets in `default`.
pub async fn install_widgets(client: &kube::Client) -> Api<DynamicObject> {
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &crd_resource());
    let crd: DynamicObject = serde_json::from_value(widget_crd()).expect("crd parses");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("crd is created");
    Api::namespaced_with(client.clone(), "default", &widget_resource())
}

/// The ApiResource of CRDs.
pub fn crd_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    )
}

/// The ApiResource of widgets.
pub fn widget_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    )
}

/// A widget object.
pub fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, "spec": spec}))
        .expect("widget parses")
}

/// One HTTP/1.1 exchange without a client library: `method path` with
/// `headers` and `body`; returns the status code, the lower-cased headers
/// and the body exactly as the server wrote it.
pub async fn raw_http(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.expect("request written");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("answer read");
    let (head, rest) = out.split_once("\r\n\r\n").expect("a header block");
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let head = head.to_lowercase();
    let body = if head.contains("transfer-encoding: chunked") {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (code, head, body)
}

/// The payload of a chunked HTTP body.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}
