//! Object metadata helpers: names, timestamps, uids and the parts of an object
//! that count as "spec" for generation tracking.

use rand::Rng;
use serde_json::{Map, Value};

/// The current time as an RFC 3339 timestamp with second precision.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A fresh object uid.
pub fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Five random characters from the apiserver's generateName alphabet.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Why `name` is not a valid DNS-1123 subdomain (or label, when `label`).
pub fn name_problem(name: &str, label: bool) -> Option<String> {
    let max = if label { 63 } else { 253 };
    if name.len() > max {
        return Some(format!("must be no more than {max} characters"));
    }
    let allowed =
        |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (!label && c == '.');
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if name.is_empty()
        || !name.chars().all(allowed)
        || !ends_ok(name.chars().next())
        || !ends_ok(name.chars().last())
    {
        let what = if label {
            "RFC 1123 label"
        } else {
            "RFC 1123 subdomain"
        };
        return Some(format!(
            "a lowercase {what} must consist of lower case alphanumeric characters, '-'{} and must start and end with an alphanumeric character",
            if label { "" } else { " or '.'" }
        ));
    }
    None
}

/// Checks the JSON shape of `metadata` as the apiserver's decoder would:
/// an object whose string fields are strings, labels and annotations maps of
/// strings, finalizers a list of strings, ownerReferences a list of objects.
pub fn shape_problem(obj: &Value) -> Option<String> {
    let meta = match obj.get("metadata") {
        None | Some(Value::Null) => return None,
        Some(Value::Object(m)) => m,
        Some(_) => return Some("metadata must be an object".into()),
    };
    for k in [
        "name",
        "generateName",
        "namespace",
        "resourceVersion",
        "uid",
    ] {
        if meta.get(k).is_some_and(|v| !v.is_string() && !v.is_null()) {
            return Some(format!("metadata.{k} must be a string"));
        }
    }
    for k in ["labels", "annotations"] {
        match meta.get(k) {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) if m.values().all(Value::is_string) => {}
            Some(_) => return Some(format!("metadata.{k} must be a map of strings")),
        }
    }
    match meta.get("finalizers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_string) => {}
        Some(_) => return Some("metadata.finalizers must be a list of strings".into()),
    }
    match meta.get("ownerReferences") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) if a.iter().all(Value::is_object) => {}
        Some(_) => return Some("metadata.ownerReferences must be a list of objects".into()),
    }
    None
}

/// Makes `obj[key]` an object (replacing anything else) and returns it.
pub fn object_at<'a>(obj: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !obj.get(key).is_some_and(Value::is_object) {
        obj[key] = Value::Object(Map::new());
    }
    match obj.get_mut(key) {
        Some(Value::Object(m)) => m,
        _ => unreachable!("the field was just made an object"),
    }
}

/// The object's metadata map, created if missing.
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = Value::Object(Map::new());
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("metadata was just made an object"),
    }
}

/// A string field of metadata, or "".
pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The object's finalizers.
pub fn finalizers(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces the object's finalizers (removing the field when empty).
pub fn set_finalizers(obj: &mut Value, list: &[String]) {
    let meta = meta_mut(obj);
    if list.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), Value::from(list.to_vec()));
    }
}

/// Whether the object is being deleted.
pub fn is_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// Everything but metadata and status: the part whose change bumps generation.
pub fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(k);
        }
    }
    v
}

/// The object without its resourceVersion, for no-op detection.
pub fn comparable(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_shapes() {
        use serde_json::json;
        assert!(shape_problem(&json!({"metadata": {"name": "a", "labels": {"x": "y"}}})).is_none());
        assert!(shape_problem(&json!({"metadata": {"labels": "x"}})).is_some());
        assert!(shape_problem(&json!({"metadata": {"labels": {"x": 1}}})).is_some());
        assert!(shape_problem(&json!({"metadata": {"finalizers": [1]}})).is_some());
        assert!(shape_problem(&json!({"metadata": 3})).is_some());
    }

    #[test]
    fn dns_names() {
        assert!(name_problem("web-1.example", false).is_none());
        assert!(name_problem("web-1.example", true).is_some());
        assert!(name_problem("Web", false).is_some());
        assert!(name_problem("-a", false).is_some());
        assert!(name_problem("", false).is_some());
        assert_eq!(random_suffix().len(), 5);
    }
}
