//! Conformance through kube-rs' typed APIs: the kinds every cluster serves
//! (batch Jobs and CronJobs, apps DaemonSets, StatefulSets and ReplicaSets,
//! ReplicationControllers, CertificateSigningRequests with `/approval`,
//! apiregistration APIServices, ServiceAccount tokens and TokenReviews)
//! are stored with their documented validation; field selectors per kind.

mod common;

use k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenReview};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use k8s_openapi::api::core::v1::{Node, ReplicationController, ServiceAccount};
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

fn pod_template(restart: &str) -> Value {
    json!({"metadata": {"labels": {"app": "x"}},
        "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "i"}]}})
}

/// Creates `good` (it must be stored and listed) and `bad` (it must be 422 on `field`).
async fn good_and_bad<K>(api: Api<K>, good: Value, bad: Value, field: &str)
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let obj: K = serde_json::from_value(good).expect("a valid object");
    let created = api
        .create(&PostParams::default(), &obj)
        .await
        .expect("created");
    let name = created.meta().name.clone().unwrap_or_default();
    let listed = api.list(&ListParams::default()).await.expect("listed");
    assert!(listed
        .items
        .iter()
        .any(|o| o.meta().name.as_deref() == Some(name.as_str())));
    let obj: K = serde_json::from_value(bad).expect("a well-formed object");
    let e = common::api_error(api.create(&PostParams::default(), &obj).await);
    assert_eq!(e.code, 422, "{e:?}");
    assert!(e.message.contains(field), "{field} in {}", e.message);
}

#[tokio::test]
async fn workloads_are_stored_with_their_documented_validation() {
    let (cluster, client) = common::start().await;
    let c = || client.clone();
    let selector = json!({"matchLabels": {"app": "x"}});
    good_and_bad(
        Api::<Job>::default_namespaced(c()),
        json!({"metadata": {"name": "j"}, "spec": {"template": pod_template("Never")}}),
        json!({"metadata": {"name": "j2"}, "spec": {"template": pod_template("Always")}}),
        "spec.template.spec.restartPolicy",
    )
    .await;
    good_and_bad(
        Api::<CronJob>::default_namespaced(c()),
        json!({"metadata": {"name": "cj"}, "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": pod_template("OnFailure")}}}}),
        json!({"metadata": {"name": "cj2"}, "spec": {"schedule": "every minute", "jobTemplate": {"spec": {"template": pod_template("OnFailure")}}}}),
        "spec.schedule",
    )
    .await;
    let mismatched = json!({"matchLabels": {"app": "other"}});
    good_and_bad(
        Api::<DaemonSet>::default_namespaced(c()),
        json!({"metadata": {"name": "ds"}, "spec": {"selector": selector, "template": pod_template("Always")}}),
        json!({"metadata": {"name": "ds2"}, "spec": {"selector": mismatched, "template": pod_template("Always")}}),
        "`selector` does not match template `labels`",
    )
    .await;
    good_and_bad(
        Api::<StatefulSet>::default_namespaced(c()),
        json!({"metadata": {"name": "sts"}, "spec": {"serviceName": "s", "selector": selector, "template": pod_template("Always")}}),
        json!({"metadata": {"name": "sts2"}, "spec": {"serviceName": "s", "selector": selector, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": []}}}}),
        "spec.template.spec.containers",
    )
    .await;
    good_and_bad(
        Api::<ReplicaSet>::default_namespaced(c()),
        json!({"metadata": {"name": "rs"}, "spec": {"selector": selector, "template": pod_template("Always")}}),
        json!({"metadata": {"name": "rs2"}, "spec": {"template": pod_template("Always")}}),
        "spec.selector",
    )
    .await;
    good_and_bad(
        Api::<ReplicationController>::default_namespaced(c()),
        json!({"metadata": {"name": "rc"}, "spec": {"selector": {"app": "x"}, "template": pod_template("Always")}}),
        json!({"metadata": {"name": "rc2"}, "spec": {"selector": {"app": "x"}}}),
        "spec.template.spec.containers",
    )
    .await;
    cluster.shutdown().await;
}

#[tokio::test]
async fn certificate_signing_requests_are_approved_through_their_approval_subresource() {
    let (cluster, client) = common::start().await;
    let api: Api<CertificateSigningRequest> = Api::all(client);
    // base64 of a PEM block header and footer (no parser checks the DER here).
    let pem = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
    let request = k8s_openapi::ByteString(pem.as_bytes().to_vec());
    let csr = |name: &str, signer: &str| -> CertificateSigningRequest {
        serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"request": request,
            "signerName": signer, "usages": ["client auth"]}}),
        )
        .unwrap()
    };
    api.create(&PostParams::default(), &csr("ok", "example.com/signer"))
        .await
        .unwrap();
    let e = common::api_error(
        api.create(&PostParams::default(), &csr("bad", "nosigner"))
            .await,
    );
    assert_eq!(e.code, 422);
    let mut approved = api.get("ok").await.unwrap();
    approved.status = Some(serde_json::from_value(json!({"conditions": [
        {"type": "Approved", "status": "True", "reason": "Test", "message": "approved by the test"}]})).unwrap());
    let body = serde_json::to_vec(&approved).unwrap();
    let after: CertificateSigningRequest = api
        .replace_subresource("approval", "ok", &PostParams::default(), body)
        .await
        .unwrap();
    let conditions = after.status.unwrap().conditions.unwrap();
    assert_eq!(
        (conditions[0].type_.as_str(), conditions[0].status.as_str()),
        ("Approved", "True")
    );
    // Approved and Denied together is refused.
    let mut both = api.get("ok").await.unwrap();
    both.status = Some(
        serde_json::from_value(json!({"conditions": [
        {"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}]}))
        .unwrap(),
    );
    let body = serde_json::to_vec(&both).unwrap();
    let e = common::api_error(
        api.replace_subresource("approval", "ok", &PostParams::default(), body)
            .await,
    );
    assert_eq!(e.code, 422);
    cluster.shutdown().await;
}

#[tokio::test]
async fn api_services_are_stored_and_their_group_is_discoverable() {
    let (cluster, client) = common::start().await;
    let api: Api<APIService> = Api::all(client.clone());
    let svc: APIService = serde_json::from_value(json!({"metadata": {"name": "v1beta1.metrics.example.com"},
        "spec": {"group": "metrics.example.com", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 10,
            "service": {"namespace": "kube-system", "name": "metrics"}}}))
    .unwrap();
    api.create(&PostParams::default(), &svc).await.unwrap();
    let misnamed: APIService = serde_json::from_value(json!({"metadata": {"name": "wrong"},
        "spec": {"group": "metrics.example.com", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 10}}))
    .unwrap();
    let e = common::api_error(api.create(&PostParams::default(), &misnamed).await);
    assert_eq!(e.code, 422);
    let groups = client.list_api_groups().await.unwrap();
    assert!(groups
        .groups
        .iter()
        .any(|g| g.name == "apiregistration.k8s.io"));
    cluster.shutdown().await;
}

#[tokio::test]
async fn service_account_tokens_are_reviewed_until_the_account_goes() {
    let (cluster, client) = common::start().await;
    let sas: Api<ServiceAccount> = Api::default_namespaced(client.clone());
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "bot"}})).unwrap(),
    )
    .await
    .unwrap();
    let tr: TokenRequest = serde_json::from_value(
        json!({"spec": {"audiences": ["aegis"], "expirationSeconds": 3600}}),
    )
    .unwrap();
    let issued = sas
        .create_token_request("bot", &PostParams::default(), &tr)
        .await
        .unwrap();
    let token = issued.status.unwrap().token;
    assert!(!token.is_empty());
    let short: TokenRequest =
        serde_json::from_value(json!({"spec": {"audiences": [], "expirationSeconds": 60}}))
            .unwrap();
    assert_eq!(
        common::api_error(
            sas.create_token_request("bot", &PostParams::default(), &short)
                .await
        )
        .code,
        422
    );
    let reviews: Api<TokenReview> = Api::all(client);
    let review =
        |t: &str| -> TokenReview { serde_json::from_value(json!({"spec": {"token": t}})).unwrap() };
    let ok = reviews
        .create(&PostParams::default(), &review(&token))
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(ok.authenticated, Some(true));
    let user = ok.user.unwrap();
    assert_eq!(
        user.username.as_deref(),
        Some("system:serviceaccount:default:bot")
    );
    assert_eq!(ok.audiences, Some(vec!["aegis".to_string()]));
    let forged = reviews
        .create(&PostParams::default(), &review("forged"))
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(forged.authenticated, Some(false));
    sas.delete("bot", &DeleteParams::default()).await.unwrap();
    let gone = reviews
        .create(&PostParams::default(), &review(&token))
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(
        gone.authenticated,
        Some(false),
        "a deleted account's token is no longer valid"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn field_selectors_follow_each_kinds_documented_set() {
    let (cluster, client) = common::start().await;
    let nodes: Api<Node> = Api::all(client);
    for name in ["n1", "n2"] {
        nodes
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
            )
            .await
            .unwrap();
    }
    nodes.cordon("n1").await.unwrap();
    let names = |l: kube::core::ObjectList<Node>| -> Vec<String> {
        l.items
            .into_iter()
            .filter_map(|n| n.metadata.name)
            .collect()
    };
    let schedulable = nodes
        .list(&ListParams::default().fields("spec.unschedulable=false"))
        .await
        .unwrap();
    assert_eq!(names(schedulable), ["n2"]);
    let by_name = nodes
        .list(&ListParams::default().fields("metadata.name=n1"))
        .await
        .unwrap();
    assert_eq!(names(by_name), ["n1"]);
    let e = common::api_error(
        nodes
            .list(&ListParams::default().fields("spec.podCIDR=x"))
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    cluster.shutdown().await;
}
