//! delete and deletecollection, with DeleteOptions from the body or query.
//!
//! What a DELETE answers follows kube-apiserver's generic registry: an
//! object gone at once is reported by a `Status` (status Success, details
//! name, group, kind = resource, uid), except for the kinds whose storage
//! returns the deleted object (`ReturnDeletedObject`: pods, services,
//! namespaces, persistent volumes and claims, service accounts) and CRDs
//! (whose deletion waits on a cleanup finalizer). An object that finalizers
//! or graceful termination still hold is returned as it now is.

use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::gc;
use super::super::gc::Propagation;
use super::super::meta::{self, meta_str};
use super::super::objects::{self, DeleteOpts};
use super::super::resources::ResourceInfo;
use super::super::route::Target;
use super::super::state::Shared;
use super::read::Filter;
use super::{as_version, namespace_of, Reply, Request};

fn delete_opts(req: &Request) -> ApiResult<DeleteOpts> {
    let body: Value = if req.body.is_empty() {
        json!({})
    } else {
        req.body_value()?
    };
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| req.param(k).map(String::from))
    };
    let propagation = match text("propagationPolicy").as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::invalid("", "DeleteOptions", "", vec![super::super::error::Cause::new(
                "FieldValueNotSupported",
                "propagationPolicy",
                format!("Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\""),
            )]))
        }
    };
    let propagation = if body.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
        Propagation::Orphan
    } else {
        propagation
    };
    let grace_period = body
        .get("gracePeriodSeconds")
        .and_then(Value::as_i64)
        .or_else(|| req.param("gracePeriodSeconds").and_then(|g| g.parse().ok()));
    let dry_run = req.param("dryRun") == Some("All")
        || body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|x| x == "All"));
    Ok(DeleteOpts {
        propagation,
        uid: body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from),
        resource_version: body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from),
        grace_period,
        dry_run,
    })
}

/// Whether kube-apiserver answers a finished delete of `info` with the
/// deleted object rather than a Status.
fn returns_deleted_object(info: &ResourceInfo) -> bool {
    match info.group.as_str() {
        "" => matches!(
            info.plural.as_str(),
            "pods"
                | "services"
                | "namespaces"
                | "persistentvolumes"
                | "persistentvolumeclaims"
                | "serviceaccounts"
        ),
        "apiextensions.k8s.io" => true,
        _ => false,
    }
}

/// The Success Status of a finished delete (no code, as the registry writes it).
fn deleted_status(info: &ResourceInfo, last: &Value) -> Value {
    let mut details =
        json!({"name": meta_str(last, "name"), "kind": info.plural, "uid": meta_str(last, "uid")});
    if !info.group.is_empty() {
        details["group"] = json!(info.group);
    }
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
}

/// DELETE on an object: the object while something holds it, else the
/// deleted object or a Success Status (see the module docs).
pub fn delete(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
) -> ApiResult<Reply> {
    let opts = delete_opts(req)?;
    let mut state = shared.lock();
    let last = objects::delete(&mut state, info, &namespace_of(target, info), name, &opts)?;
    let still_there = state
        .store
        .get(&objects::key_for(info, &namespace_of(target, info), name))
        .is_some();
    let code = if still_there && !opts.dry_run {
        202
    } else {
        200
    };
    let gone = if opts.dry_run {
        meta::finalizers(&last).is_empty()
    } else {
        !still_there
    };
    if gone && !returns_deleted_object(info) {
        return Ok(Reply::Json(200, deleted_status(info, &last)));
    }
    Ok(Reply::Json(code, as_version(last, info, &target.version)))
}

/// DELETE on a collection: deletes every selected object.
pub fn delete_collection(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
) -> ApiResult<Reply> {
    let opts = delete_opts(req)?;
    let filter = Filter::from_request(req, info)?;
    let mut state = shared.lock();
    let namespace = if info.namespaced {
        target.namespace.clone()
    } else {
        None
    };
    let keys: Vec<_> = state
        .store
        .list(&info.group, &info.plural, namespace.as_deref())
        .filter(|(_, o)| filter.matches(o))
        .map(|(k, _)| k.clone())
        .collect();
    let mut items = Vec::new();
    for key in keys {
        if opts.dry_run {
            if let Some(o) = state.store.get(&key) {
                items.push(o.clone());
            }
            continue;
        }
        items.push(as_version(
            super::super::gc::delete_key(&mut state, &key, opts.propagation, opts.grace_period),
            info,
            &target.version,
        ));
    }
    gc::collect(&mut state);
    let rv = state.store.current_rv().to_string();
    Ok(Reply::Json(
        200,
        json!({
            "apiVersion": info.api_version(&target.version),
            "kind": format!("{}List", info.kind),
            "metadata": {"resourceVersion": rv},
            "items": items,
        }),
    ))
}
