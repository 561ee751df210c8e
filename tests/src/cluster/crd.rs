//! CustomResourceDefinitions: checking a definition, serving its resource once
//! created (status conditions `NamesAccepted` and `Established`), and admitting
//! custom resources through their structural schema (see [`schema`]).

use serde_json::{json, Value};

pub use super::crd_serving::{CrdServing, CrdVersion, PrinterColumn, ScalePaths};
use super::error::{ApiError, ApiResult, Cause};
use super::meta::meta_str;
use super::resources::{Origin, ResourceInfo};
use super::schema;
use super::state::State;
use super::store::ObjectKey;

fn invalid(obj: &Value, field: &str, reason: &str, message: String) -> ApiError {
    ApiError::invalid(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        meta_str(obj, "name"),
        vec![Cause::new(reason, field, message)],
    )
}

/// Checks the parts of a CRD the server relies on.
pub fn validate_definition(obj: &Value) -> ApiResult<()> {
    let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
    let group = s("/spec/group");
    let plural = s("/spec/names/plural");
    for (field, value) in [
        ("spec.group", group),
        ("spec.names.plural", plural),
        ("spec.names.kind", s("/spec/names/kind")),
    ] {
        if value.is_empty() {
            return Err(invalid(
                obj,
                field,
                "FieldValueRequired",
                "Required value".into(),
            ));
        }
    }
    if !matches!(s("/spec/scope"), "Namespaced" | "Cluster") {
        return Err(invalid(
            obj,
            "spec.scope",
            "FieldValueNotSupported",
            format!(
                "Unsupported value: \"{}\": supported values: \"Cluster\", \"Namespaced\"",
                s("/spec/scope")
            ),
        ));
    }
    let expected = format!("{plural}.{group}");
    if meta_str(obj, "name") != expected {
        return Err(invalid(
            obj,
            "metadata.name",
            "FieldValueInvalid",
            format!(
                "Invalid value: \"{}\": must be spec.names.plural+\".\"+spec.group",
                meta_str(obj, "name")
            ),
        ));
    }
    let versions = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        return Err(invalid(
            obj,
            "spec.versions",
            "FieldValueInvalid",
            "Invalid value: null: must have exactly one version marked as storage version".into(),
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        return Err(invalid(
            obj,
            "spec.versions",
            "FieldValueInvalid",
            format!(
                "Invalid value: {}: must have exactly one version marked as storage version",
                Value::from(versions.clone())
            ),
        ));
    }
    for (i, v) in versions.iter().enumerate() {
        if v.pointer("/schema/openAPIV3Schema").is_none() {
            return Err(invalid(
                obj,
                &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "FieldValueRequired",
                "Required value: schemas are required".into(),
            ));
        }
    }
    Ok(())
}

/// Kubernetes version priority: GA > beta > alpha, higher numbers first.
fn version_rank(v: &str) -> (u8, i64, i64) {
    let rest = v.strip_prefix('v').unwrap_or(v);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse::<i64>().unwrap_or(-1);
    let tail = &rest[digits.len()..];
    let (tier, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (tier, major, minor)
}

/// The ResourceInfo a CRD serves.
pub fn serving_info(obj: &Value) -> ResourceInfo {
    let s = |p: &str| {
        obj.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let strings = |p: &str| -> Vec<String> {
        obj.pointer(p)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let raw_versions = obj
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut served: Vec<&Value> = raw_versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
        .collect();
    served.sort_by_key(|v| {
        std::cmp::Reverse(version_rank(
            v.get("name").and_then(Value::as_str).unwrap_or(""),
        ))
    });
    let storage = raw_versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true));
    let versions = served
        .iter()
        .map(|v| CrdVersion {
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            schema: v.pointer("/schema/openAPIV3Schema").cloned(),
            scale: v
                .pointer("/subresources/scale")
                .and_then(ScalePaths::from_crd),
            printer_columns: v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .map(|c| PrinterColumn {
                            name: c.get("name").and_then(Value::as_str).unwrap_or("").into(),
                            kind: c
                                .get("type")
                                .and_then(Value::as_str)
                                .unwrap_or("string")
                                .into(),
                            json_path: c
                                .get("jsonPath")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .into(),
                            description: c
                                .get("description")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .into(),
                            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect::<Vec<_>>();
    let kind = s("/spec/names/kind");
    let singular = match s("/spec/names/singular") {
        x if x.is_empty() => kind.to_lowercase(),
        x => x,
    };
    ResourceInfo {
        group: s("/spec/group"),
        versions: versions.iter().map(|v| v.name.clone()).collect(),
        plural: s("/spec/names/plural"),
        singular,
        kind,
        namespaced: s("/spec/scope") == "Namespaced",
        short_names: strings("/spec/names/shortNames"),
        categories: strings("/spec/names/categories"),
        status_subresource: storage
            .and_then(|v| v.pointer("/subresources/status"))
            .is_some(),
        log_subresource: false,
        tracks_generation: true,
        allow_unconditional_update: false,
        origin: Origin::Custom(Box::new(CrdServing { versions })),
    }
}

/// Starts serving a stored CRD and records its status conditions.
pub fn establish(state: &mut State, crd: &Value) -> ApiResult<Value> {
    let info = serving_info(crd);
    let key = ObjectKey {
        group: "apiextensions.k8s.io".into(),
        resource: "customresourcedefinitions".into(),
        namespace: String::new(),
        name: meta_str(crd, "name").into(),
    };
    let mut names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    names["singular"] = json!(info.singular);
    names["listKind"] = json!(format!("{}List", info.kind));
    let storage: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("name").cloned())
        .collect();
    let now = super::meta::now();
    let status = json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now}
        ],
        "storedVersions": storage,
    });
    state.registry.upsert(info);
    let mut obj = crd.clone();
    if obj.get("status") == Some(&status) {
        return Ok(obj);
    }
    obj["status"] = status;
    Ok(state.store.replace(key, obj))
}

/// Stops serving resources whose CRD is gone, deleting their objects.
pub fn drop_orphaned_resources(state: &mut State) {
    let custom: Vec<(String, String)> = state
        .registry
        .all()
        .iter()
        .filter(|r| r.is_custom())
        .map(|r| (r.group.clone(), r.plural.clone()))
        .collect();
    for (group, plural) in custom {
        let key = ObjectKey {
            group: "apiextensions.k8s.io".into(),
            resource: "customresourcedefinitions".into(),
            namespace: String::new(),
            name: format!("{plural}.{group}"),
        };
        if state.store.get(&key).is_some() {
            continue;
        }
        let keys: Vec<ObjectKey> = state
            .store
            .list(&group, &plural, None)
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            state.store.remove(&k);
        }
        state.registry.remove(&group, &plural);
    }
}

/// Admits a custom resource: prunes unknown fields, applies defaults, and
/// validates against the version's schema; `old` enables transition rules.
pub fn admit(
    info: &ResourceInfo,
    serving: &CrdServing,
    version: &str,
    mut obj: Value,
    old: Option<&Value>,
    strict: bool,
) -> ApiResult<Value> {
    let Some(schema) = serving.version(version).and_then(|v| v.schema.as_ref()) else {
        return Ok(obj);
    };
    let name = meta_str(&obj, "name").to_string();
    let mut unknown = Vec::new();
    schema::prune(schema, &mut obj, "", true, &mut unknown);
    if strict && !unknown.is_empty() {
        let list: Vec<String> = unknown
            .iter()
            .map(|u| format!("unknown field \"{u}\""))
            .collect();
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            list.join(", ")
        )));
    }
    schema::apply_defaults(schema, &mut obj);
    let mut causes = Vec::new();
    schema::validate(schema, &obj, "", true, &mut causes);
    if causes.is_empty() {
        super::cel::check(schema, &obj, old, "", &mut causes);
    }
    if causes.is_empty() {
        Ok(obj)
    } else {
        Err(ApiError::invalid(&info.group, &info.kind, &name, causes))
    }
}
