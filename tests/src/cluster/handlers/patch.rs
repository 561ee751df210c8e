//! PATCH: JSON merge patch (RFC 7386), JSON patch (RFC 6902, with the
//! apiserver's `test` semantics: [`jsonpatch`]), strategic merge patch of
//! built-in kinds ([`strategic`]; custom resources answer 415 as on a real
//! server) and server-side apply (`application/apply-patch+yaml`).

use std::collections::BTreeSet;

use axum::http::Method;
use serde_json::{json, Value};

use super::super::apply::{self, FieldPath};
use super::super::error::{ApiError, ApiResult, Cause};
use super::super::jsonpatch;
use super::super::meta::{self, meta_str};
use super::super::objects::{self, key_for, WriteOpts};
use super::super::resources::ResourceInfo;
use super::super::route::Target;
use super::super::state::{Shared, State};
use super::super::strategic;
use super::write::write_opts;
use super::{as_version, namespace_of, Reply, Request};

/// JSON merge patch (RFC 7386).
const MERGE: &str = "application/merge-patch+json";
/// JSON patch (RFC 6902).
const JSON: &str = "application/json-patch+json";
/// Strategic merge patch.
const STRATEGIC: &str = "application/strategic-merge-patch+json";

/// What a patched document is, for the strategic merge strategies and for
/// error details.
#[derive(Debug, Clone, Copy)]
pub struct Patched<'a> {
    /// API group.
    pub group: &'a str,
    /// Plural resource.
    pub plural: &'a str,
    /// Kind.
    pub kind: &'a str,
    /// Object name.
    pub name: &'a str,
}

/// `doc` patched by the request's merge, JSON or strategic merge patch
/// (by its content type); other types are 415.
pub fn patch_document(req: &Request, doc: &Value, of: Patched<'_>) -> ApiResult<Value> {
    let patch: Value = serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let invalid = |message: String| {
        ApiError::invalid(
            of.group,
            of.kind,
            of.name,
            vec![Cause::new("FieldValueInvalid", "", message)],
        )
    };
    let mut new = doc.clone();
    match req.media_type() {
        MERGE if !patch.is_object() => {
            return Err(ApiError::bad_request(
                "a JSON merge patch must be a JSON object",
            ))
        }
        MERGE => json_patch::merge(&mut new, &patch),
        JSON => {
            let ops: json_patch::Patch = serde_json::from_value(patch)
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is malformed: {e}")))?;
            jsonpatch::apply(&mut new, &ops)
                .map_err(|e| invalid(format!("the JSON patch could not be applied: {e}")))?;
        }
        STRATEGIC => {
            let kind = strategic::Kind {
                group: of.group,
                plural: of.plural,
            };
            new = strategic::apply(doc, &patch, kind).map_err(|e| match e {
                strategic::SmpError::Malformed(m) => ApiError::bad_request(m),
                other => invalid(other.to_string()),
            })?;
        }
        other => {
            return Err(ApiError::unsupported_media_type(
                other,
                "unsupported patch type",
            ))
        }
    }
    Ok(new)
}

/// What a request to a subresource view (`/scale`, `/approval`) of
/// `current` asks for: `None` for GET, the body of a PUT, `current` patched
/// by a PATCH; other methods are 405.
pub fn requested(
    req: &Request,
    current: &Value,
    of: Patched<'_>,
    subresource: &str,
) -> ApiResult<Option<Value>> {
    match req.method {
        Method::GET => Ok(None),
        Method::PUT => req.body_value().map(Some),
        Method::PATCH => patch_document(req, current, of).map(Some),
        _ => Err(ApiError::method_not_allowed(&format!(
            "{} on {subresource}",
            req.method
        ))),
    }
}

/// PATCH on an object or its `/status`.
pub fn patch(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
    status_only: bool,
) -> ApiResult<Reply> {
    let content_type = req.media_type();
    let namespace = namespace_of(target, info);
    let mut state = shared.lock();
    let key = key_for(info, &namespace, name);
    let current = state.store.get(&key).cloned();
    let opts = write_opts(req);
    let result = match content_type {
        "application/apply-patch+yaml" => {
            server_side_apply(&mut state, req, target, info, name, status_only, current)?
        }
        STRATEGIC if info.is_custom() => {
            return Err(ApiError::strategic_merge_patch_of_custom_resource())
        }
        MERGE | JSON | STRATEGIC => {
            let old =
                current.ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))?;
            let of = Patched {
                group: &info.group,
                plural: &info.plural,
                kind: &info.kind,
                name,
            };
            let new = patch_document(req, &as_version(old, info, &target.version), of)?;
            objects::update(
                &mut state,
                info,
                &target.version,
                &namespace,
                name,
                new,
                status_only,
                &opts,
            )?
        }
        other => {
            return Err(ApiError::unsupported_media_type(
                other,
                "unsupported patch type",
            ))
        }
    };
    Ok(Reply::Json(200, as_version(result, info, &target.version)))
}

fn managed_entries(obj: &Value) -> Vec<Value> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn server_side_apply(
    state: &mut State,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
    status_only: bool,
    current: Option<Value>,
) -> ApiResult<Value> {
    let manager = req.param("fieldManager").filter(|m| !m.is_empty()).ok_or_else(|| {
        ApiError::bad_request("PATCH /apply requires a fieldManager query parameter: fieldManager is required for apply requests")
    })?;
    let force = req.flag("force");
    let config: Value = serde_yaml::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
    if !config.is_object() {
        return Err(ApiError::bad_request(
            "an applied configuration must be an object",
        ));
    }
    if config.get("apiVersion").is_none() || config.get("kind").is_none() {
        return Err(ApiError::bad_request(
            "apiVersion and kind must be set in an applied configuration",
        ));
    }
    let cfg_name = meta_str(&config, "name");
    if !cfg_name.is_empty() && cfg_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({cfg_name}) does not match the name on the URL ({name})"
        )));
    }
    let namespace = namespace_of(target, info);
    // Apply records its own ownership (operation Apply), not an Update.
    let opts = WriteOpts {
        field_manager: None,
        ..write_opts(req)
    };
    let api_version = info.api_version(&target.version);
    let applied: BTreeSet<FieldPath> = apply::field_set(&config);
    let entry = |set: &BTreeSet<FieldPath>| {
        let mut e = json!({"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": meta::now(),
                "fieldsType": "FieldsV1", "fieldsV1": apply::to_fields_v1(set)});
        if status_only {
            e["subresource"] = json!("status");
        }
        e
    };
    let Some(old) = current else {
        if status_only {
            return Err(ApiError::not_found(&info.group, &info.plural, name));
        }
        let mut obj = config.clone();
        meta::meta_mut(&mut obj).insert("name".into(), json!(name));
        meta::meta_mut(&mut obj).insert("managedFields".into(), json!([entry(&applied)]));
        return objects::create(state, info, &target.version, &namespace, obj, &opts);
    };
    let mut entries = managed_entries(&old);
    let is_mine = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Apply")
    };
    // Conflicts: fields another manager owns whose value would change.
    let mut conflicts = Vec::new();
    for e in entries.iter_mut().filter(|e| !is_mine(e)) {
        let theirs = apply::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
        let contested: Vec<FieldPath> = theirs
            .iter()
            .filter(|p| {
                applied.contains(*p) && apply::value_at(&old, p) != apply::value_at(&config, p)
            })
            .cloned()
            .collect();
        if contested.is_empty() {
            continue;
        }
        if force {
            let kept: BTreeSet<FieldPath> = theirs
                .difference(&contested.iter().cloned().collect())
                .cloned()
                .collect();
            e["fieldsV1"] = apply::to_fields_v1(&kept);
        } else {
            let who = e
                .get("manager")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            conflicts.extend(contested.into_iter().map(|p| (who.clone(), p)));
        }
    }
    if !conflicts.is_empty() {
        let causes: Vec<Cause> = conflicts
            .iter()
            .map(|(who, p)| {
                Cause::new(
                    "FieldManagerConflict",
                    apply::show_path(p),
                    format!("conflict with \"{who}\""),
                )
            })
            .collect();
        let listed: Vec<String> = conflicts
            .iter()
            .map(|(who, p)| format!("conflict with \"{who}\": {}", apply::show_path(p)))
            .collect();
        let mut err = ApiError::conflict(&info.group, &info.plural, name, "");
        err.message = format!(
            "Apply failed with {} conflict{}: {}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            listed.join("\n")
        );
        err.details.causes = causes;
        return Err(err);
    }
    let previously: BTreeSet<FieldPath> = entries
        .iter()
        .filter(|e| is_mine(e))
        .flat_map(|e| apply::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null)))
        .collect();
    let others: BTreeSet<FieldPath> = entries
        .iter()
        .filter(|e| !is_mine(e))
        .flat_map(|e| apply::from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null)))
        .collect();
    let mut new = as_version(old.clone(), info, &target.version);
    for dropped in previously.difference(&applied) {
        if !others.contains(dropped) {
            apply::remove_at(&mut new, dropped);
        }
    }
    let mut cfg = config.clone();
    if let Some(m) = cfg.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    apply::merge(&mut new, &cfg);
    entries.retain(|e| {
        !is_mine(e)
            && e.get("fieldsV1")
                .is_some_and(|f| f.as_object().is_some_and(|m| !m.is_empty()))
    });
    entries.push(entry(&applied));
    meta::meta_mut(&mut new).insert("managedFields".into(), Value::from(entries));
    meta::meta_mut(&mut new).insert(
        "resourceVersion".into(),
        json!(meta_str(&old, "resourceVersion")),
    );
    objects::update(
        state,
        info,
        &target.version,
        &namespace,
        name,
        new,
        status_only,
        &opts,
    )
}
