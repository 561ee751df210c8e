//! `Table` output (meta.k8s.io/v1) for clients that ask for it in Accept, as
//! kubectl get does: Name, the CRD's printer columns, and Age.

use serde_json::{json, Value};

use super::super::resources::ResourceInfo;
use super::Request;

/// Whether the client asked for a Table.
pub fn wanted(req: &Request) -> bool {
    req.header("accept")
        .split(',')
        .next()
        .is_some_and(|first| first.contains("as=Table"))
}

/// Evaluates the simple JSONPath subset printer columns use:
/// `.a.b`, `.a[0].b`, and `.a[?(@.type=="Ready")].status`.
pub fn json_path(obj: &Value, path: &str) -> Option<Value> {
    let mut cur = obj.clone();
    let mut rest = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('.');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = r[end + 1..].trim_start_matches('.');
            if let Ok(i) = inner.parse::<usize>() {
                cur = cur.get(i)?.clone();
            } else {
                let cond = inner.strip_prefix("?(@.")?.strip_suffix(')')?;
                let (field, value) = cond.split_once("==")?;
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                cur = cur
                    .as_array()?
                    .iter()
                    .find(|e| e.get(field.trim()).and_then(Value::as_str) == Some(value))?
                    .clone();
            }
            continue;
        }
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        cur = cur.get(&rest[..end])?.clone();
        rest = rest[end..].trim_start_matches('.');
    }
    Some(cur)
}

fn age(obj: &Value) -> String {
    let created = obj
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .unwrap_or("");
    match chrono::DateTime::parse_from_rfc3339(created) {
        Ok(t) => {
            let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
                .num_seconds()
                .max(0);
            match secs {
                s if s < 120 => format!("{s}s"),
                s if s < 7200 => format!("{}m", s / 60),
                s if s < 172_800 => format!("{}h", s / 3600),
                s => format!("{}d", s / 86_400),
            }
        }
        Err(_) => "<unknown>".into(),
    }
}

/// Renders objects as a Table.
pub fn render(
    info: &ResourceInfo,
    version: &str,
    objects: &[Value],
    rv: &str,
    continue_token: Option<&str>,
    include_object: &str,
) -> Value {
    let columns = info
        .crd()
        .and_then(|c| c.version(version))
        .map(|v| v.printer_columns.clone())
        .unwrap_or_default();
    let mut defs = vec![
        json!({"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0}),
    ];
    for c in &columns {
        defs.push(json!({"name": c.name, "type": c.kind, "format": "", "description": c.description, "priority": c.priority}));
    }
    let has_age = columns.iter().any(|c| c.name == "Age");
    if !has_age {
        defs.push(json!({"name": "Age", "type": "date", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}));
    }
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)];
            for c in &columns {
                let v = json_path(o, &c.json_path).unwrap_or(Value::Null);
                cells.push(if c.kind == "date" { json!(age(&json!({"metadata": {"creationTimestamp": v}}))) } else { v });
            }
            if !has_age {
                cells.push(json!(age(o)));
            }
            let object = match include_object {
                "Object" => o.clone(),
                "None" => Value::Null,
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o.get("metadata").cloned().unwrap_or(json!({}))}),
            };
            json!({"cells": cells, "object": object})
        })
        .collect();
    let mut meta = json!({"resourceVersion": rv});
    if let Some(t) = continue_token {
        meta["continue"] = json!(t);
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "columnDefinitions": defs, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths() {
        let o = json!({"spec": {"n": 3, "xs": [{"a": 1}]}, "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        assert_eq!(json_path(&o, ".spec.n"), Some(json!(3)));
        assert_eq!(json_path(&o, ".spec.xs[0].a"), Some(json!(1)));
        assert_eq!(
            json_path(&o, ".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(json_path(&o, ".spec.missing"), None);
    }
}
