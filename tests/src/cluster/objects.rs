//! Write semantics shared by every verb: create, update (main endpoint or
//! `/status`) and delete, with the metadata rules of the API Conventions.

use serde_json::{json, Value};

use super::apply;
use super::bootstrap;
use super::crd;
use super::error::{ApiError, ApiResult, Cause};
use super::gc::{self, delete_key, Propagation};
use super::meta::{self, meta_mut, meta_str};
use super::resources::ResourceInfo;
use super::state::State;
use super::store::ObjectKey;
use super::validation;

/// Options that shape a write.
#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    /// `dryRun=All`: validate and answer, but store nothing.
    pub dry_run: bool,
    /// `fieldValidation=Strict`: unknown fields are an error instead of pruned.
    pub strict: bool,
    /// The manager whose `Update` operation takes ownership of changed
    /// fields (`None` for server-side apply, which records its own).
    pub field_manager: Option<String>,
}

/// The storage key for an object of `info`.
pub fn key_for(info: &ResourceInfo, namespace: &str, name: &str) -> ObjectKey {
    ObjectKey {
        group: info.group.clone(),
        resource: info.plural.clone(),
        namespace: if info.namespaced {
            namespace.to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

/// The stored object `name` of `info` in `namespace`, or 404 NotFound.
pub fn existing(
    state: &State,
    info: &ResourceInfo,
    namespace: &str,
    name: &str,
) -> ApiResult<Value> {
    state
        .store
        .get(&key_for(info, namespace, name))
        .cloned()
        .ok_or_else(|| ApiError::not_found(&info.group, &info.plural, name))
}

/// Creates a namespace directly (server bootstrap).
pub fn create_namespace(state: &mut State, name: &str) {
    let obj = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "uid": meta::new_uid(), "creationTimestamp": meta::now(),
                      "labels": {"kubernetes.io/metadata.name": name}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"}
    });
    let key = ObjectKey {
        group: String::new(),
        resource: "namespaces".into(),
        namespace: String::new(),
        name: name.into(),
    };
    state.store.create(key, obj);
    bootstrap::namespace_contents(state, name);
}

fn check_type_meta(info: &ResourceInfo, version: &str, body: &Value) -> ApiResult<()> {
    if let Some(problem) = meta::shape_problem(body) {
        return Err(ApiError::bad_request(format!(
            "error decoding the object: {problem}"
        )));
    }
    let expected = info.api_version(version);
    if let Some(av) = body.get("apiVersion").and_then(Value::as_str) {
        if av != expected {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({expected})"
            )));
        }
    }
    if let Some(kind) = body.get("kind").and_then(Value::as_str) {
        if kind != info.kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                info.kind
            )));
        }
    }
    Ok(())
}

/// Checks the namespace exists and is not terminating.
fn check_namespace(state: &State, namespace: &str) -> ApiResult<()> {
    let key = ObjectKey {
        group: String::new(),
        resource: "namespaces".into(),
        namespace: String::new(),
        name: namespace.into(),
    };
    match state.store.get(&key) {
        None => Err(ApiError::not_found("", "namespaces", namespace)),
        Some(ns) if meta::is_deleting(ns) => Err(ApiError::forbidden(format!(
            "unable to create new content in namespace {namespace} because it is being terminated"
        ))),
        Some(_) => Ok(()),
    }
}

/// Creates an object in `namespace` (ignored for cluster-scoped kinds).
pub fn create(
    state: &mut State,
    info: &ResourceInfo,
    version: &str,
    namespace: &str,
    body: Value,
    opts: &WriteOpts,
) -> ApiResult<Value> {
    let mut obj = body;
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    check_type_meta(info, version, &obj)?;
    obj["apiVersion"] = json!(info.api_version(version));
    obj["kind"] = json!(info.kind);
    if info.namespaced {
        let body_ns = meta_str(&obj, "namespace");
        if !body_ns.is_empty() && body_ns != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        check_namespace(state, namespace)?;
    }
    let mut name = meta_str(&obj, "name").to_string();
    let generate = meta_str(&obj, "generateName").to_string();
    if name.is_empty() && !generate.is_empty() {
        name = loop {
            let candidate = format!("{generate}{}", meta::random_suffix());
            if state
                .store
                .get(&key_for(info, namespace, &candidate))
                .is_none()
            {
                break candidate;
            }
        };
    }
    if name.is_empty() {
        return Err(ApiError::invalid(
            &info.group,
            &info.kind,
            "",
            vec![Cause::new(
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )],
        ));
    }
    if let Some(problem) = meta::name_problem(&name, info.plural == "namespaces") {
        return Err(ApiError::invalid(
            &info.group,
            &info.kind,
            &name,
            vec![Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": {problem}"),
            )],
        ));
    }
    let key = key_for(info, namespace, &name);
    if state.store.get(&key).is_some() {
        return Err(ApiError::already_exists(&info.group, &info.plural, &name));
    }
    {
        let m = meta_mut(&mut obj);
        m.insert("name".into(), json!(name));
        if info.namespaced {
            m.insert("namespace".into(), json!(namespace));
        } else {
            m.remove("namespace");
        }
        m.insert("uid".into(), json!(meta::new_uid()));
        m.insert("creationTimestamp".into(), json!(meta::now()));
        for k in [
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "resourceVersion",
            "selfLink",
        ] {
            m.remove(k);
        }
        if info.tracks_generation || info.is_custom() {
            m.insert("generation".into(), json!(1));
        } else {
            m.remove("generation");
        }
    }
    if info.status_subresource {
        if let Some(o) = obj.as_object_mut() {
            o.remove("status");
        }
    }
    match (info.group.as_str(), info.plural.as_str()) {
        ("", "pods") => obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"}),
        ("", "namespaces") => {
            meta_mut(&mut obj).entry("labels").or_insert(json!({}))
                ["kubernetes.io/metadata.name"] = json!(name);
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
        }
        ("apiextensions.k8s.io", "customresourcedefinitions") => crd::validate_definition(&obj)?,
        _ => validation::validate(info, &obj)?,
    }
    if let Some(serving) = info.crd() {
        obj = crd::admit(info, serving, version, obj, None, opts.strict)?;
    }
    if let Some(manager) = &opts.field_manager {
        apply::record_update(
            &json!({}),
            &mut obj,
            manager,
            &info.api_version(version),
            None,
        );
    }
    if opts.dry_run {
        return Ok(obj);
    }
    let stored = state.store.create(key, obj);
    if info.group.is_empty() && info.plural == "namespaces" {
        bootstrap::namespace_contents(state, &name);
    }
    if info.group == "apiextensions.k8s.io" {
        return crd::establish(state, &stored);
    }
    Ok(stored)
}

/// Replaces an object through the main endpoint or, with `status_only`, `/status`.
#[allow(clippy::too_many_arguments)]
pub fn update(
    state: &mut State,
    info: &ResourceInfo,
    version: &str,
    namespace: &str,
    name: &str,
    body: Value,
    status_only: bool,
    opts: &WriteOpts,
) -> ApiResult<Value> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    check_type_meta(info, version, &body)?;
    let key = key_for(info, namespace, name);
    let old = existing(state, info, namespace, name)?;
    let body_name = meta_str(&body, "name");
    if !body_name.is_empty() && body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if info.namespaced {
        let body_ns = meta_str(&body, "namespace");
        if !body_ns.is_empty() && body_ns != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    let rv = meta_str(&body, "resourceVersion");
    if rv.is_empty() {
        if !info.allow_unconditional_update {
            return Err(ApiError::invalid(
                &info.group,
                &info.kind,
                name,
                vec![Cause::new(
                    "FieldValueInvalid",
                    "metadata.resourceVersion",
                    "Invalid value: 0x0: must be specified for an update",
                )],
            ));
        }
    } else if rv != meta_str(&old, "resourceVersion") {
        return Err(ApiError::stale(&info.group, &info.plural, name));
    }
    let mut new = if status_only {
        let mut n = old.clone();
        match body.get("status") {
            Some(s) => n["status"] = s.clone(),
            None => {
                if let Some(o) = n.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        n
    } else {
        let mut n = body;
        if info.status_subresource {
            match old.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    if let Some(o) = n.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
        }
        n
    };
    new["apiVersion"] = json!(info.api_version(version));
    new["kind"] = json!(info.kind);
    {
        let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
        let m = meta_mut(&mut new);
        for k in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "resourceVersion",
        ] {
            match old_meta.get(k) {
                Some(v) => m.insert(k.into(), v.clone()),
                None => m.remove(k),
            };
        }
        if !m.contains_key("managedFields") {
            if let Some(mf) = old_meta.get("managedFields") {
                m.insert("managedFields".into(), mf.clone());
            }
        }
    }
    if meta::is_deleting(&old) {
        let before = meta::finalizers(&old);
        let added: Vec<String> = meta::finalizers(&new)
            .into_iter()
            .filter(|f| !before.contains(f))
            .collect();
        if !added.is_empty() {
            return Err(ApiError::invalid(&info.group, &info.kind, name, vec![Cause::new(
                "FieldValueForbidden",
                "metadata.finalizers",
                format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"),
            )]));
        }
    }
    if let Some(serving) = info.crd() {
        new = crd::admit(info, serving, version, new, Some(&old), opts.strict)?;
    }
    if let Some(manager) = &opts.field_manager {
        let sub = status_only.then_some("status");
        apply::record_update(&old, &mut new, manager, &info.api_version(version), sub);
    }
    if (info.tracks_generation || info.is_custom())
        && meta::spec_part(&new) != meta::spec_part(&old)
    {
        let g = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        meta_mut(&mut new).insert("generation".into(), json!(g + 1));
    }
    if meta::comparable(&new) == meta::comparable(&old) {
        return Ok(old);
    }
    if info.group == "apiextensions.k8s.io" && !status_only {
        crd::validate_definition(&new)?;
    }
    if !status_only {
        validation::validate(info, &new)?;
    }
    if opts.dry_run {
        return Ok(new);
    }
    let finished = meta::is_deleting(&new)
        && meta::finalizers(&new).is_empty()
        && !gc::awaits_kubelet(&key, &new);
    let stored = state.store.replace(key.clone(), new);
    if info.group == "apiextensions.k8s.io" && !status_only {
        crd::establish(state, &stored)?;
    }
    if finished {
        gc::collect(state);
    }
    Ok(state.store.get(&key).cloned().unwrap_or(stored))
}

/// Options of a delete request.
#[derive(Debug, Clone, Default)]
pub struct DeleteOpts {
    /// `propagationPolicy`.
    pub propagation: Propagation,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `gracePeriodSeconds`.
    pub grace_period: Option<i64>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// Deletes an object: at once, or by setting deletionTimestamp while
/// finalizers (or a kubelet's graceful termination) hold it.
pub fn delete(
    state: &mut State,
    info: &ResourceInfo,
    namespace: &str,
    name: &str,
    opts: &DeleteOpts,
) -> ApiResult<Value> {
    let key = key_for(info, namespace, name);
    let old = existing(state, info, namespace, name)?;
    if let Some(uid) = &opts.uid {
        if uid != meta_str(&old, "uid") {
            return Err(ApiError::conflict(
                &info.group,
                &info.plural,
                name,
                &format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    meta_str(&old, "uid")
                ),
            ));
        }
    }
    if let Some(rv) = &opts.resource_version {
        if rv != meta_str(&old, "resourceVersion") {
            return Err(ApiError::conflict(&info.group, &info.plural, name, &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta_str(&old, "resourceVersion")
            )));
        }
    }
    if opts.dry_run {
        return Ok(old);
    }
    let last = delete_key(state, &key, opts.propagation, opts.grace_period);
    gc::collect(state);
    Ok(state.store.get(&key).cloned().unwrap_or(last))
}
