//! ServiceAccount tokens: `serviceaccounts/{name}/token` (TokenRequest)
//! issues a token bound to the account's uid, and `tokenreviews`
//! (authentication.k8s.io/v1 TokenReview, answered, never stored) tells
//! whether a token is one this server issued, unexpired, for an account
//! that still exists, and for which user and audiences. Tokens are opaque
//! strings, not signed JWTs: nothing here verifies signatures.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult, Cause};
use super::super::meta::{self, meta_str};
use super::super::objects::existing;
use super::super::resources::ResourceInfo;
use super::super::route::Target;
use super::super::state::{Issued, Shared};
use super::{namespace_of, Reply, Request};

/// The default and minimum lifetimes kube-apiserver applies.
const DEFAULT_SECONDS: i64 = 3600;
const MIN_SECONDS: i64 = 600;

/// `spec.audiences` of a TokenRequest or TokenReview.
fn audiences(v: &Value) -> Vec<String> {
    v.pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// POST `serviceaccounts/{name}/token`.
pub fn request(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
) -> ApiResult<Reply> {
    let body = req.body_value()?;
    let seconds = body
        .pointer("/spec/expirationSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_SECONDS);
    if seconds < MIN_SECONDS {
        return Err(ApiError::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            name,
            vec![Cause::new(
                "FieldValueInvalid",
                "spec.expirationSeconds",
                format!(
                    "Invalid value: {seconds}: may not specify a duration less than 10 minutes"
                ),
            )],
        ));
    }
    let audiences: Vec<String> = Some(audiences(&body))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| vec!["https://kubernetes.default.svc".into()]);
    let namespace = namespace_of(target, info);
    let mut state = shared.lock();
    let account = existing(&state, info, &namespace, name)?;
    let expires = Utc::now() + Duration::seconds(seconds);
    let token = format!(
        "aegis-test-cluster.{}.{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    state.tokens.insert(
        token.clone(),
        Issued {
            namespace: namespace.clone(),
            name: name.to_string(),
            uid: meta_str(&account, "uid").to_string(),
            audiences: audiences.clone(),
            expires,
        },
    );
    Ok(Reply::Json(
        201,
        json!({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": meta::now()},
            "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": null},
            "status": {"token": token,
                "expirationTimestamp": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)},
        }),
    ))
}

/// POST `tokenreviews`: the review with its status filled in.
pub fn review(shared: &Shared, req: &Request) -> ApiResult<Reply> {
    let mut review = req.body_value()?;
    let token = review
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if token.is_empty() {
        return Err(ApiError::invalid(
            "authentication.k8s.io",
            "TokenReview",
            "",
            vec![Cause::new(
                "FieldValueRequired",
                "spec.token",
                "Required value",
            )],
        ));
    }
    let wanted = audiences(&review);
    let state = shared.lock();
    let account_uid = |i: &Issued| {
        state
            .store
            .list("", "serviceaccounts", Some(&i.namespace))
            .find(|(k, _)| k.name == i.name)
            .map(|(_, o)| meta_str(o, "uid").to_string())
    };
    let status = match state.tokens.get(&token) {
        Some(i) if i.expires <= Utc::now() => {
            json!({"authenticated": false, "error": "token has expired"})
        }
        Some(i) if account_uid(i).as_deref() != Some(i.uid.as_str()) => {
            json!({"authenticated": false,
            "error": format!("service account {}/{} has been deleted", i.namespace, i.name)})
        }
        Some(i) => {
            let audiences: Vec<&String> = if wanted.is_empty() {
                i.audiences.iter().collect()
            } else {
                wanted.iter().filter(|w| i.audiences.contains(w)).collect()
            };
            if audiences.is_empty() {
                json!({"authenticated": false, "error": "token audiences do not match the requested audiences"})
            } else {
                json!({"authenticated": true, "audiences": audiences, "user": {
                    "username": format!("system:serviceaccount:{}:{}", i.namespace, i.name),
                    "uid": i.uid,
                    "groups": ["system:serviceaccounts", format!("system:serviceaccounts:{}", i.namespace), "system:authenticated"],
                }})
            }
        }
        None => json!({"authenticated": false, "error": "invalid bearer token"}),
    };
    review["apiVersion"] = json!("authentication.k8s.io/v1");
    review["kind"] = json!("TokenReview");
    review["status"] = status;
    if !review.get("metadata").is_some_and(Value::is_object) {
        review["metadata"] = json!({});
    }
    review["metadata"]["creationTimestamp"] = Value::Null;
    Ok(Reply::Json(201, review))
}
