//! Strategic merge patch (`application/strategic-merge-patch+json`) of the
//! built-in kinds, as kube-apiserver applies it: maps merge, `null` deletes,
//! lists follow the field's patch strategy ([`schema`]: merged on a merge
//! key, merged as a set of scalars, or replaced), and the directives
//! `$patch: replace|delete|merge`, `$retainKeys`, `$setElementOrder/<field>`
//! and `$deleteFromPrimitiveList/<field>` are honoured. kubectl's client-side
//! `apply`, `edit`, `scale`-like patches and Helm upgrades send these.

pub mod schema;

use serde_json::{Map, Value};

use schema::Strategy;

/// Why a strategic merge patch cannot be applied (answered as 400 or 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmpError {
    /// The patch is not an object, or a directive has the wrong shape.
    #[error("invalid strategic merge patch: {0}")]
    Malformed(String),
    /// A list element lacks the field's merge key.
    #[error("map: {element} does not contain declared merge key: {key}")]
    MissingMergeKey {
        /// The element, as JSON.
        element: String,
        /// The merge key.
        key: String,
    },
}

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ORDER: &str = "$setElementOrder/";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";

/// The kind a patch applies to, for its fields' strategies.
#[derive(Debug, Clone, Copy)]
pub struct Kind<'a> {
    /// API group.
    pub group: &'a str,
    /// Plural resource.
    pub plural: &'a str,
}

/// `original` patched with `patch`.
pub fn apply(original: &Value, patch: &Value, kind: Kind<'_>) -> Result<Value, SmpError> {
    let Value::Object(p) = patch else {
        return Err(SmpError::Malformed(
            "a strategic merge patch must be a JSON object".into(),
        ));
    };
    let mut doc = original.clone();
    let Value::Object(d) = &mut doc else {
        return Err(SmpError::Malformed(
            "the object to patch is not a JSON object".into(),
        ));
    };
    match merge_map(d, p, kind, &mut Vec::new())? {
        Outcome::Keep => Ok(doc),
        Outcome::Delete => Err(SmpError::Malformed(
            "$patch: delete of the whole object is not allowed".into(),
        )),
    }
}

/// What the parent does with a patched map.
enum Outcome {
    Keep,
    Delete,
}

fn merge_map<'p>(
    doc: &mut Map<String, Value>,
    patch: &'p Map<String, Value>,
    kind: Kind<'_>,
    path: &mut Vec<&'p str>,
) -> Result<Outcome, SmpError> {
    match patch.get(PATCH).map(|v| v.as_str()) {
        None | Some(Some("merge")) => {}
        Some(Some("replace")) => {
            *doc = clean(patch);
            return Ok(Outcome::Keep);
        }
        Some(Some("delete")) => return Ok(Outcome::Delete),
        Some(other) => {
            return Err(SmpError::Malformed(format!(
                "unknown patch type: {}",
                other.unwrap_or("(not a string)")
            )))
        }
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let keep = strings(retain, RETAIN_KEYS)?;
        doc.retain(|k, _| keep.iter().any(|r| r == k));
    }
    let mut orders = Vec::new();
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix(SET_ORDER) {
            orders.push((field, value));
            continue;
        }
        if let Some(field) = key.strip_prefix(DELETE_FROM) {
            let gone = value
                .as_array()
                .ok_or_else(|| SmpError::Malformed(format!("{key} must be a list")))?;
            if let Some(Value::Array(items)) = doc.get_mut(field) {
                items.retain(|i| !gone.contains(i));
            }
            continue;
        }
        if key.starts_with('$') {
            continue;
        }
        path.push(key);
        match value {
            Value::Null => {
                doc.remove(key);
            }
            Value::Object(pm) => match doc.get_mut(key) {
                Some(Value::Object(dm)) => {
                    if let Outcome::Delete = merge_map(dm, pm, kind, path)? {
                        doc.remove(key);
                    }
                }
                _ if pm.get(PATCH).and_then(Value::as_str) == Some("delete") => {
                    doc.remove(key);
                }
                _ => {
                    doc.insert(key.clone(), Value::Object(clean(pm)));
                }
            },
            Value::Array(items) => {
                let strategy = schema::strategy(kind.group, kind.plural, path);
                let merged = merge_list(doc.get(key), items, strategy, kind, path)?;
                doc.insert(key.clone(), Value::Array(merged));
            }
            scalar => {
                doc.insert(key.clone(), scalar.clone());
            }
        }
        path.pop();
    }
    for (field, order) in orders {
        let order = order
            .as_array()
            .ok_or_else(|| SmpError::Malformed(format!("{SET_ORDER}{field} must be a list")))?;
        path.push(field);
        let strategy = schema::strategy(kind.group, kind.plural, path);
        path.pop();
        if let Some(Value::Array(items)) = doc.get_mut(field) {
            reorder(items, order, strategy);
        }
    }
    Ok(Outcome::Keep)
}

fn merge_list<'p>(
    current: Option<&Value>,
    patch: &'p [Value],
    strategy: Strategy,
    kind: Kind<'_>,
    path: &mut Vec<&'p str>,
) -> Result<Vec<Value>, SmpError> {
    let replace_all = patch
        .iter()
        .any(|e| e.get(PATCH).and_then(Value::as_str) == Some("replace"));
    let mut items = match current {
        Some(Value::Array(items)) if !replace_all => items.clone(),
        _ => Vec::new(),
    };
    let patch_items = patch
        .iter()
        .filter(|e| e.get(PATCH).and_then(Value::as_str) != Some("replace"));
    match strategy {
        Strategy::Replace => Ok(patch_items.map(clean_value).collect()),
        Strategy::MergeScalars => {
            for p in patch_items {
                if !items.contains(p) {
                    items.push(p.clone());
                }
            }
            Ok(items)
        }
        Strategy::MergeOn(merge_key) => {
            for p in patch_items {
                let Value::Object(pm) = p else {
                    // A list declared mergeable but holding scalars: a set.
                    if !items.contains(p) {
                        items.push(p.clone());
                    }
                    continue;
                };
                let id = pm.get(merge_key).ok_or_else(|| SmpError::MissingMergeKey {
                    element: p.to_string(),
                    key: merge_key.to_string(),
                })?;
                let at = items.iter().position(|i| i.get(merge_key) == Some(id));
                let deleting = pm.get(PATCH).and_then(Value::as_str) == Some("delete");
                match (at, deleting) {
                    (_, true) => items.retain(|i| i.get(merge_key) != Some(id)),
                    (Some(i), false) => {
                        if let Value::Object(dm) = &mut items[i] {
                            if let Outcome::Delete = merge_map(dm, pm, kind, path)? {
                                items.remove(i);
                            }
                        }
                    }
                    (None, false) => items.push(Value::Object(clean(pm))),
                }
            }
            Ok(items)
        }
    }
}

/// Orders `items` as `order` lists them (by merge key, or by value for
/// scalars); items the order does not name keep their place after those it does.
fn reorder(items: &mut [Value], order: &[Value], strategy: Strategy) {
    let ident = |v: &Value| -> Value {
        match strategy {
            Strategy::MergeOn(k) => v.get(k).cloned().unwrap_or_else(|| v.clone()),
            _ => v.clone(),
        }
    };
    let rank = |v: &Value| {
        let id = ident(v);
        order
            .iter()
            .position(|o| ident(o) == id)
            .unwrap_or(usize::MAX)
    };
    items.sort_by_key(|v| rank(v));
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, SmpError> {
    v.as_array()
        .and_then(|a| a.iter().map(|s| s.as_str().map(String::from)).collect())
        .ok_or_else(|| SmpError::Malformed(format!("{what} must be a list of strings")))
}

/// A patch map without its directives (for values set where nothing was).
fn clean(patch: &Map<String, Value>) -> Map<String, Value> {
    patch
        .iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), clean_value(v)))
        .collect()
}

fn clean_value(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(clean(m)),
        Value::Array(items) => Value::Array(items.iter().map(clean_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DEPLOY: Kind<'static> = Kind {
        group: "apps",
        plural: "deployments",
    };

    fn deployment() -> Value {
        json!({"metadata": {"name": "d", "labels": {"a": "1", "b": "2"}, "finalizers": ["x"]},
            "spec": {"replicas": 1, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
              "template": {"spec": {"containers": [
                {"name": "main", "image": "v1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                {"name": "side", "image": "s1"}]}}}})
    }

    #[test]
    fn lists_with_a_merge_key_merge_element_by_element() {
        let p = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "main", "image": "v2", "env": [{"name": "B", "value": "3"}]},
            {"name": "new", "image": "n1"}]}}}});
        let out = apply(&deployment(), &p, DEPLOY).unwrap();
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["image"], "v2");
        assert_eq!(
            cs[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}])
        );
        assert_eq!(cs[1]["name"], "side");
        assert_eq!(cs[2]["name"], "new");
    }

    #[test]
    fn directives_delete_replace_retain_keys_and_order() {
        let p = json!({
            "metadata": {"labels": {"a": null}, "finalizers": ["y"], "$deleteFromPrimitiveList/finalizers": ["x"]},
            "spec": {
                "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                "template": {"spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "main"}],
                    "containers": [{"name": "main", "$patch": "delete"}, {"name": "side", "image": "s2"}]}}}});
        let out = apply(&deployment(), &p, DEPLOY).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["y"]));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"],
            json!([{"name": "side", "image": "s2"}])
        );
        let replaced = apply(
            &deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}]}}}}),
            DEPLOY,
        )
        .unwrap();
        assert_eq!(
            replaced["spec"]["template"]["spec"]["containers"],
            json!([{"name": "only", "image": "o"}])
        );
        let whole = apply(
            &deployment(),
            &json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            DEPLOY,
        )
        .unwrap();
        assert_eq!(whole["metadata"]["labels"], json!({"c": "3"}));
    }

    #[test]
    fn lists_without_a_strategy_are_replaced_and_bad_input_is_an_error() {
        let p = json!({"spec": {"template": {"spec": {"tolerations": [{"key": "k"}]}}}});
        let out = apply(&deployment(), &p, DEPLOY).unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["tolerations"],
            json!([{"key": "k"}])
        );
        let e = apply(
            &deployment(),
            &json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}),
            DEPLOY,
        );
        assert!(matches!(e, Err(SmpError::MissingMergeKey { .. })), "{e:?}");
        assert!(apply(&deployment(), &json!([1]), DEPLOY).is_err());
        assert!(apply(
            &deployment(),
            &json!({"spec": {"$patch": "sideways"}}),
            DEPLOY
        )
        .is_err());
    }
}
