//! `certificatesigningrequests/{name}/approval`: GET reads the request; PUT
//! and PATCH (merge, JSON or strategic) change only its `Approved` / `Denied` / `Failed` conditions (the
//! approval strategy), refusing a request both approved and denied. Nothing
//! signs a certificate: `status.certificate` stays whatever the status
//! subresource wrote.

use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult, Cause};
use super::super::meta;
use super::super::objects::{self, existing};
use super::super::resources::ResourceInfo;
use super::super::route::Target;
use super::super::state::Shared;
use super::write::write_opts;
use super::{as_version, namespace_of, patch, Reply, Request};

/// GET, PUT or PATCH on `/approval`.
pub fn approval(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
) -> ApiResult<Reply> {
    let namespace = namespace_of(target, info);
    let mut state = shared.lock();
    let old = as_version(
        existing(&state, info, &namespace, name)?,
        info,
        &target.version,
    );
    let of = patch::Patched {
        group: &info.group,
        plural: &info.plural,
        kind: &info.kind,
        name,
    };
    let Some(wanted) = patch::requested(req, &old, of, "/approval")? else {
        return Ok(Reply::Json(200, old));
    };
    let conditions: Vec<Value> = wanted
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let invalid = |field: String, message: String| {
        ApiError::invalid(
            &info.group,
            &info.kind,
            name,
            vec![Cause::new("FieldValueInvalid", field, message)],
        )
    };
    let mut stamped = Vec::new();
    for (i, c) in conditions.iter().enumerate() {
        let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "Approved" | "Denied" | "Failed") {
            return Err(invalid(
                format!("status.conditions[{i}].type"),
                format!("Unsupported value: \"{kind}\": supported values: \"Approved\", \"Denied\", \"Failed\""),
            ));
        }
        let mut c = c.clone();
        if c.get("status").is_none() {
            c["status"] = json!("True");
        }
        for t in ["lastUpdateTime", "lastTransitionTime"] {
            if c.get(t).is_none() {
                c[t] = json!(meta::now());
            }
        }
        stamped.push(c);
    }
    let has = |t: &str| stamped.iter().any(|c| c["type"] == t);
    if has("Approved") && has("Denied") {
        return Err(invalid(
            "status.conditions".into(),
            "Invalid value: \"Approved\": Approved and Denied conditions are mutually exclusive"
                .into(),
        ));
    }
    let mut new = old.clone();
    new["status"]["conditions"] = Value::Array(stamped);
    let rv = meta::meta_str(&wanted, "resourceVersion");
    if !rv.is_empty() {
        meta::meta_mut(&mut new).insert("resourceVersion".into(), json!(rv));
    }
    let updated = objects::update(
        &mut state,
        info,
        &target.version,
        &namespace,
        name,
        new,
        true,
        &write_opts(req),
    )?;
    Ok(Reply::Json(200, as_version(updated, info, &target.version)))
}
