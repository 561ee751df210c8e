//! Structural OpenAPI v3 schemas of CRDs: pruning unknown fields, applying
//! defaults and validating values (types, required, enum, pattern,
//! minimum/maximum, lengths, items), with the apiserver's cause messages.

use serde_json::{Map, Value};

use super::error::Cause;

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_true(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// The schema that applies to each value of a map (`additionalProperties`).
fn additional(schema: &Value) -> Option<&Value> {
    match schema.get("additionalProperties") {
        Some(Value::Object(o)) if !o.is_empty() => schema.get("additionalProperties"),
        _ => None,
    }
}

fn allows_any_key(schema: &Value) -> bool {
    is_true(schema, "x-kubernetes-preserve-unknown-fields")
        || matches!(schema.get("additionalProperties"), Some(Value::Bool(true)))
        || additional(schema).is_some()
}

/// Removes fields the schema does not know, recording their paths in `unknown`.
pub fn prune(schema: &Value, value: &mut Value, path: &str, root: bool, unknown: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let p = child(path, &k);
                if let Some(sub) = props.and_then(|ps| ps.get(&k)) {
                    if let Some(v) = map.get_mut(&k) {
                        prune(sub, v, &p, false, unknown);
                    }
                } else if let Some(sub) = additional(schema) {
                    if let Some(v) = map.get_mut(&k) {
                        prune(sub, v, &p, false, unknown);
                    }
                } else if !allows_any_key(schema) {
                    map.remove(&k);
                    unknown.push(p);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, v) in items.iter_mut().enumerate() {
                    prune(sub, v, &format!("{path}[{i}]"), false, unknown);
                }
            }
        }
        _ => {}
    }
}

/// Fills in `default`s of absent properties, recursively.
pub fn apply_defaults(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, sub) in props {
                    if !map.contains_key(k) {
                        if let Some(d) = sub.get("default") {
                            map.insert(k.clone(), d.clone());
                        }
                    }
                    if let Some(v) = map.get_mut(k) {
                        apply_defaults(sub, v);
                    }
                }
            }
            if let Some(sub) = additional(schema) {
                let declared: Map<String, Value> = schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (k, v) in map.iter_mut() {
                    if !declared.contains_key(k) {
                        apply_defaults(sub, v);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for v in items {
                    apply_defaults(sub, v);
                }
            }
        }
        _ => {}
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// How a value is quoted in messages: strings quoted, others as JSON.
pub fn shown(v: &Value) -> String {
    match v {
        Value::Object(_) => "\"object\"".into(),
        Value::Array(_) => "\"array\"".into(),
        other => other.to_string(),
    }
}

fn type_ok(expected: &str, v: &Value) -> bool {
    match (expected, v) {
        ("integer", Value::Number(n)) => {
            n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        ("number", Value::Number(_)) => true,
        (t, v) => t == type_name(v),
    }
}

/// Validates `value` against `schema`, pushing one cause per violation.
pub fn validate(schema: &Value, value: &Value, path: &str, root: bool, causes: &mut Vec<Cause>) {
    let shown_path = if path.is_empty() {
        "<root>".to_string()
    } else {
        path.to_string()
    };
    if value.is_null() {
        if !is_true(schema, "nullable") && schema.get("type").is_some() {
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                &shown_path,
                format!(
                    "Invalid value: \"null\": {shown_path} in body must be of type {}: \"null\"",
                    schema
                        .get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("object")
                ),
            ));
        }
        return;
    }
    let int_or_string = is_true(schema, "x-kubernetes-int-or-string");
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = if int_or_string {
            type_ok("integer", value) || value.is_string()
        } else {
            type_ok(t, value)
        };
        if !ok {
            causes.push(Cause::new(
                "FieldValueTypeInvalid",
                &shown_path,
                format!(
                    "Invalid value: \"{}\": {shown_path} in body must be of type {t}: \"{}\"",
                    type_name(value),
                    type_name(value)
                ),
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            let list: Vec<String> = options.iter().map(Value::to_string).collect();
            causes.push(Cause::new(
                "FieldValueNotSupported",
                &shown_path,
                format!(
                    "Unsupported value: {}: supported values: {}",
                    value,
                    list.join(", ")
                ),
            ));
        }
    }
    match value {
        Value::String(s) => {
            let len = s.chars().count() as u64;
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if len > max {
                    causes.push(Cause::new(
                        "FieldValueTooLong",
                        &shown_path,
                        format!("Too long: may not be more than {max} bytes"),
                    ));
                }
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if len < min {
                    causes.push(Cause::new("FieldValueInvalid", &shown_path, format!(
                        "Invalid value: {value}: {shown_path} in body should be at least {min} chars long"
                    )));
                }
            }
            if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                match regex::Regex::new(p) {
                    Ok(re) if re.is_match(s) => {}
                    Ok(_) => causes.push(Cause::new(
                        "FieldValueInvalid",
                        &shown_path,
                        format!("Invalid value: {value}: {shown_path} in body should match '{p}'"),
                    )),
                    Err(e) => causes.push(Cause::new(
                        "FieldValueInvalid",
                        &shown_path,
                        format!("the schema pattern '{p}' does not compile: {e}"),
                    )),
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(0.0);
            let excl_max = is_true(schema, "exclusiveMaximum");
            let excl_min = is_true(schema, "exclusiveMinimum");
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                if x > max || (excl_max && x >= max) {
                    let rel = if excl_max {
                        "less than"
                    } else {
                        "less than or equal to"
                    };
                    causes.push(Cause::new(
                        "FieldValueInvalid",
                        &shown_path,
                        format!(
                            "Invalid value: {value}: {shown_path} in body should be {rel} {}",
                            schema["maximum"]
                        ),
                    ));
                }
            }
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                if x < min || (excl_min && x <= min) {
                    let rel = if excl_min {
                        "greater than"
                    } else {
                        "greater than or equal to"
                    };
                    causes.push(Cause::new(
                        "FieldValueInvalid",
                        &shown_path,
                        format!(
                            "Invalid value: {value}: {shown_path} in body should be {rel} {}",
                            schema["minimum"]
                        ),
                    ));
                }
            }
        }
        Value::Array(items) => {
            if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    causes.push(Cause::new(
                        "FieldValueTooMany",
                        &shown_path,
                        format!("Too many: {}: must have at most {max} items", items.len()),
                    ));
                }
            }
            if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    causes.push(Cause::new("FieldValueInvalid", &shown_path, format!(
                        "Invalid value: {}: {shown_path} in body should have at least {min} items", items.len()
                    )));
                }
            }
            if let Some(sub) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    validate(sub, v, &format!("{path}[{i}]"), false, causes);
                }
            }
        }
        Value::Object(map) => {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        causes.push(Cause::new(
                            "FieldValueRequired",
                            child(path, r),
                            "Required value",
                        ));
                    }
                }
            }
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(sub) = props.and_then(|p| p.get(k)) {
                    validate(sub, v, &child(path, k), false, causes);
                } else if let Some(sub) = additional(schema) {
                    validate(sub, v, &child(path, k), false, causes);
                }
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["mode"], "properties": {
            "mode": {"type": "string", "enum": ["paper", "live"]},
            "replicas": {"type": "integer", "minimum": 0, "maximum": 1, "default": 1},
            "symbol": {"type": "string", "pattern": "^[A-Z]+$", "maxLength": 12},
            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}}
        }}}})
    }

    fn causes_of(v: Value) -> Vec<Cause> {
        let mut c = Vec::new();
        validate(&schema(), &v, "", true, &mut c);
        c
    }

    #[test]
    fn defaults_fill_absent_fields_only() {
        let mut v = json!({"spec": {"mode": "paper"}});
        apply_defaults(&schema(), &mut v);
        assert_eq!(v["spec"]["replicas"], 1);
        let mut w = json!({"spec": {"mode": "paper", "replicas": 0}});
        apply_defaults(&schema(), &mut w);
        assert_eq!(w["spec"]["replicas"], 0);
    }

    #[test]
    fn unknown_fields_are_pruned_unless_preserved() {
        let mut v = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a"},
            "spec": {"mode": "paper", "bogus": 1, "extra": {"anything": 2}, "tags": {"a": "b"}}, "top": 1});
        let mut unknown = Vec::new();
        prune(&schema(), &mut v, "", true, &mut unknown);
        assert_eq!(unknown, vec!["spec.bogus".to_string(), "top".to_string()]);
        assert_eq!(v["spec"]["extra"]["anything"], 2);
        assert_eq!(v["spec"]["tags"]["a"], "b");
        assert_eq!(v["metadata"]["name"], "a");
    }

    #[test]
    fn violations_name_their_fields() {
        let c = causes_of(
            json!({"spec": {"mode": "x", "replicas": 2, "symbol": "btc", "tags": {"a": 1}}}),
        );
        let fields: Vec<&str> = c.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["spec.mode", "spec.replicas", "spec.symbol", "spec.tags.a"]
        );
        assert_eq!(c[0].reason, "FieldValueNotSupported");
        assert!(
            c[1].message.contains("less than or equal to 1"),
            "{}",
            c[1].message
        );
        assert_eq!(c[3].reason, "FieldValueTypeInvalid");
        let r = causes_of(json!({"spec": {}}));
        assert_eq!(
            (r[0].field.as_str(), r[0].reason.as_str()),
            ("spec.mode", "FieldValueRequired")
        );
    }
}
