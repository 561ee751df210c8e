//! Server-side apply: field sets, ownership in `managedFields`, conflicts
//! between managers, and merging an applied configuration into an object.
//!
//! Field paths follow the fieldsV1 format: `f:<field>` for map keys,
//! `k:{"name":...}` for items of lists whose items are objects with a `name`
//! (treated as associative lists keyed by name); other lists are atomic.
//! Creates, PUTs and non-apply patches record operation `Update` for the
//! fields they change (taking them from other managers, without conflicts);
//! `Apply` conflicts with any other manager owning a field it would change.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

/// A path to one owned leaf.
pub type FieldPath = Vec<String>;

fn keyed_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").is_some_and(Value::is_string))
}

fn item_key(item: &Value) -> String {
    format!(
        "k:{}",
        json!({"name": item.get("name").cloned().unwrap_or(Value::Null)})
    )
}

/// The leaf paths set by an applied configuration (apiVersion, kind, name and namespace excluded).
pub fn field_set(config: &Value) -> BTreeSet<FieldPath> {
    let mut out = BTreeSet::new();
    collect(config, &mut Vec::new(), &mut out, true);
    out
}

fn collect(v: &Value, path: &mut Vec<String>, out: &mut BTreeSet<FieldPath>, root: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                if root && matches!(k.as_str(), "apiVersion" | "kind") {
                    continue;
                }
                if path.len() == 1
                    && path[0] == "f:metadata"
                    && matches!(
                        k.as_str(),
                        "name"
                            | "namespace"
                            | "resourceVersion"
                            | "uid"
                            | "managedFields"
                            | "generation"
                            | "creationTimestamp"
                    )
                {
                    continue;
                }
                path.push(format!("f:{k}"));
                collect(child, path, out, false);
                path.pop();
            }
        }
        Value::Array(items) if keyed_list(items) => {
            for item in items {
                path.push(item_key(item));
                collect(item, path, out, false);
                path.pop();
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The value at a field path, if present.
pub fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for seg in path {
        if let Some(k) = seg.strip_prefix("f:") {
            cur = cur.get(k)?;
        } else if let Some(k) = seg.strip_prefix("k:") {
            let key: Value = serde_json::from_str(k).ok()?;
            cur = cur
                .as_array()?
                .iter()
                .find(|i| i.get("name") == key.get("name"))?;
        } else {
            return None;
        }
    }
    Some(cur)
}

/// Removes the field at a path (and list items / maps it leaves empty).
pub fn remove_at(obj: &mut Value, path: &[String]) {
    if path.len() >= 2 && path[path.len() - 1] == "f:name" && path[path.len() - 2].starts_with("k:")
    {
        // Dropping an item's key drops the item.
        return remove_at(obj, &path[..path.len() - 1]);
    }
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for seg in parents {
        let next = if let Some(k) = seg.strip_prefix("f:") {
            cur.get_mut(k)
        } else if let Some(k) = seg.strip_prefix("k:") {
            let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
            cur.as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| i.get("name") == key.get("name")))
        } else {
            None
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(k) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(k);
        }
    } else if let Some(k) = last.strip_prefix("k:") {
        let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
        if let Some(a) = cur.as_array_mut() {
            a.retain(|i| i.get("name") != key.get("name"));
        }
    }
}

/// Merges an applied configuration into an object: maps recursively, keyed
/// lists by item name, everything else replaced.
pub fn merge(target: &mut Value, config: &Value) {
    match (target, config) {
        (Value::Object(t), Value::Object(c)) => {
            for (k, v) in c {
                match t.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(c)) if keyed_list(c) && keyed_list(t) => {
            for item in c {
                match t.iter_mut().find(|i| i.get("name") == item.get("name")) {
                    Some(existing) => merge(existing, item),
                    None => t.push(item.clone()),
                }
            }
        }
        (t, c) => *t = c.clone(),
    }
}

/// Renders a field set as fieldsV1.
pub fn to_fields_v1(set: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut cur = &mut root;
        for seg in path {
            let entry = cur.entry(seg.clone()).or_insert_with(|| json!({}));
            cur = match entry {
                Value::Object(m) => m,
                _ => unreachable!("fieldsV1 nodes are objects"),
            };
        }
    }
    Value::Object(root)
}

/// Reads a fieldsV1 tree back into leaf paths.
pub fn from_fields_v1(v: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut BTreeSet<FieldPath>) {
        match v.as_object() {
            Some(m) if !m.is_empty() => {
                for (k, child) in m {
                    if k == "." {
                        continue;
                    }
                    path.push(k.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// Gives `manager` (operation `Update`) ownership of the fields that differ
/// between `old` and `new`, taking them from every other manager, and writes
/// the result into `new.metadata.managedFields`.
pub fn record_update(
    old: &Value,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
) {
    let changed: BTreeSet<FieldPath> = field_set(new)
        .into_iter()
        .filter(|p| {
            p.first().is_none_or(|s| s != "f:metadata")
                || p.get(1).is_some_and(|s| {
                    s == "f:labels"
                        || s == "f:annotations"
                        || s == "f:finalizers"
                        || s == "f:ownerReferences"
                })
        })
        .filter(|p| value_at(old, p) != value_at(new, p))
        .collect();
    if changed.is_empty() {
        return;
    }
    let entries: Vec<Value> = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let is_mine = |e: &Value| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some("Update")
    };
    let mut mine: BTreeSet<FieldPath> = changed.clone();
    let mut out = Vec::new();
    for mut e in entries {
        let set = from_fields_v1(e.get("fieldsV1").unwrap_or(&Value::Null));
        if is_mine(&e) {
            mine.extend(set);
            continue;
        }
        let kept: BTreeSet<FieldPath> = set.difference(&changed).cloned().collect();
        if kept.is_empty() {
            continue;
        }
        e["fieldsV1"] = to_fields_v1(&kept);
        out.push(e);
    }
    let mut entry = json!({"manager": manager, "operation": "Update", "apiVersion": api_version,
        "time": super::meta::now(), "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(&mine)});
    if let Some(s) = subresource {
        entry["subresource"] = json!(s);
    }
    out.push(entry);
    if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("managedFields".into(), Value::from(out));
    }
}

/// Renders a path for conflict messages: `.spec.replicas`, `.spec.containers[name="a"].image`.
pub fn show_path(path: &[String]) -> String {
    path.iter()
        .map(|s| {
            if let Some(k) = s.strip_prefix("f:") {
                format!(".{k}")
            } else if let Some(k) = s.strip_prefix("k:") {
                let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
                format!("[name={}]", key.get("name").cloned().unwrap_or(Value::Null))
            } else {
                s.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_sets_round_trip_through_fields_v1() {
        let cfg = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "b"}},
            "data": {"k": "v"}, "spec": {"containers": [{"name": "c", "image": "i"}], "args": ["a", "b"]}});
        let set = field_set(&cfg);
        let shown: Vec<String> = set.iter().map(|p| show_path(p)).collect();
        assert_eq!(
            shown,
            vec![
                ".data.k",
                ".metadata.labels.a",
                ".spec.args",
                ".spec.containers[name=\"c\"].image",
                ".spec.containers[name=\"c\"].name"
            ]
        );
        assert_eq!(from_fields_v1(&to_fields_v1(&set)), set);
    }

    #[test]
    fn merge_keys_lists_by_name_and_removal_drops_fields() {
        let mut obj = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}});
        merge(
            &mut obj,
            &json!({"spec": {"containers": [{"name": "b", "image": "3"}]}}),
        );
        assert_eq!(obj["spec"]["containers"][1]["image"], "3");
        assert_eq!(obj["spec"]["containers"][0]["image"], "1");
        remove_at(
            &mut obj,
            &[
                "f:spec".into(),
                "f:containers".into(),
                "k:{\"name\":\"a\"}".into(),
            ],
        );
        assert_eq!(obj["spec"]["containers"].as_array().map(Vec::len), Some(1));
    }
}
