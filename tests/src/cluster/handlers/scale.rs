//! The `/scale` subresource (autoscaling/v1 `Scale`): for custom resources
//! whose CRD version declares `subresources.scale`, and for the built-in
//! workloads that have it (Deployments, ReplicaSets, StatefulSets,
//! ReplicationControllers). GET reads the replica counts at the declared
//! paths; PUT and PATCH (merge, JSON and strategic) change `spec.replicas`
//! of the Scale, which writes the object's replicas path.

use serde_json::{json, Value};

use super::super::crd_serving::ScalePaths;
use super::super::error::{ApiError, ApiResult, Cause};
use super::super::meta::meta_str;
use super::super::objects::{self, existing};
use super::super::resources::ResourceInfo;
use super::super::route::Target;
use super::super::selectors;
use super::super::state::Shared;
use super::write::write_opts;
use super::{as_version, namespace_of, patch, Reply, Request};

/// The Scale of `obj`.
fn scale_of(obj: &Value, paths: &ScalePaths) -> Value {
    let count = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let mut status = json!({"replicas": count(&paths.status_replicas)});
    let selector = match &paths.label_selector {
        Some(p) => obj.pointer(p).map(selectors::to_text),
        None => obj.pointer("/spec/selector").map(selectors::to_text),
    };
    if let Some(sel) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = json!(sel);
    }
    let m = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut meta = json!({});
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = m.get(k) {
            meta[k] = v.clone();
        }
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta,
        "spec": {"replicas": count(&paths.spec_replicas)}, "status": status})
}

/// GET, PUT or PATCH on `{resource}/{name}/scale`.
pub fn scale(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
    paths: &ScalePaths,
) -> ApiResult<Reply> {
    let namespace = namespace_of(target, info);
    let mut state = shared.lock();
    let obj = as_version(
        existing(&state, info, &namespace, name)?,
        info,
        &target.version,
    );
    let current = scale_of(&obj, paths);
    let of = patch::Patched {
        group: "autoscaling",
        plural: "scales",
        kind: "Scale",
        name,
    };
    let Some(wanted) = patch::requested(req, &current, of, "/scale")? else {
        return Ok(Reply::Json(200, current));
    };
    let invalid = |message: &str| {
        ApiError::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![Cause::new("FieldValueInvalid", "spec.replicas", message)],
        )
    };
    let replicas = match wanted.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .ok_or_else(|| invalid("Invalid value: must be an integer"))?,
    };
    if replicas < 0 {
        return Err(invalid(&format!(
            "Invalid value: {replicas}: must be greater than or equal to 0"
        )));
    }
    let rv = meta_str(&wanted, "resourceVersion");
    if !rv.is_empty() && rv != meta_str(&obj, "resourceVersion") {
        return Err(ApiError::stale(&info.group, &info.plural, name));
    }
    let mut new = obj.clone();
    set_at(&mut new, &paths.spec_replicas, json!(replicas));
    let updated = objects::update(
        &mut state,
        info,
        &target.version,
        &namespace,
        name,
        new,
        false,
        &write_opts(req),
    )?;
    Ok(Reply::Json(
        200,
        scale_of(&as_version(updated, info, &target.version), paths),
    ))
}

/// Sets the member at JSON pointer `pointer`, making objects on the way.
fn set_at(doc: &mut Value, pointer: &str, value: Value) {
    let mut cur = doc;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(map) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return;
        }
        cur = map.entry((*part).to_string()).or_insert_with(|| json!({}));
    }
}
