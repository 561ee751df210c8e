//! `x-kubernetes-validations`: CEL rules of CRD schemas, evaluated with
//! `self` bound to the value at the rule's schema node and, for transition
//! rules (rules that mention `oldSelf`), `oldSelf` bound to the previous value
//! at the same path — evaluated only on update when a previous value exists,
//! as the apiserver does. Failures become 422 causes shaped like the
//! apiserver's: `<path>: Invalid value: "<schema type>": <message>`.

use std::collections::HashMap;
use std::sync::Arc;

use cel_interpreter::objects::{Key, Map as CelMap};
use cel_interpreter::{Context, Program, Value as Cel};
use serde_json::Value;

use super::error::Cause;

/// Converts JSON to a CEL value (integers as `int`, as Kubernetes does).
pub fn to_cel(v: &Value) -> Cel {
    match v {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Cel::Int(i),
            None => Cel::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(a) => Cel::List(Arc::new(a.iter().map(to_cel).collect())),
        Value::Object(m) => {
            let map: HashMap<Key, Cel> = m
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            Cel::Map(CelMap { map: Arc::new(map) })
        }
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Outcome of one rule.
enum Verdict {
    Pass,
    Fail,
    Error(String),
}

fn evaluate(rule: &str, value: &Value, old: Option<&Value>) -> Verdict {
    let program = match Program::compile(rule) {
        Ok(p) => p,
        Err(e) => return Verdict::Error(format!("compilation failed: {e}")),
    };
    let mut ctx = Context::default();
    ctx.add_variable_from_value("self", to_cel(value));
    if let Some(o) = old {
        ctx.add_variable_from_value("oldSelf", to_cel(o));
    }
    match program.execute(&ctx) {
        Ok(Cel::Bool(true)) => Verdict::Pass,
        Ok(Cel::Bool(false)) => Verdict::Fail,
        Ok(other) => Verdict::Error(format!("rule did not evaluate to a bool: {other:?}")),
        Err(e) => Verdict::Error(e.to_string()),
    }
}

fn rule_cause(
    rule: &Value,
    kind: &str,
    value: &Value,
    old: Option<&Value>,
    path: &str,
) -> Option<Cause> {
    let text = rule.get("rule").and_then(Value::as_str)?;
    let transition = text.contains("oldSelf");
    if transition && old.is_none() {
        return None;
    }
    let field = match rule.get("fieldPath").and_then(Value::as_str) {
        Some(fp) => format!("{path}{fp}"),
        None if path.is_empty() => "<root>".to_string(),
        None => path.to_string(),
    };
    let reason = rule
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("FieldValueInvalid");
    let message = match evaluate(text, value, old) {
        Verdict::Pass => return None,
        Verdict::Fail => {
            let m = rule
                .get("message")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| format!("failed rule: {text}"));
            match reason {
                "FieldValueForbidden" => format!("Forbidden: {m}"),
                "FieldValueRequired" => format!("Required value: {m}"),
                "FieldValueDuplicate" => format!("Duplicate value: {m}"),
                _ => format!("Invalid value: \"{kind}\": {m}"),
            }
        }
        Verdict::Error(e) => format!("Invalid value: \"{kind}\": {text}: {e}"),
    };
    Some(Cause::new(reason, field, message))
}

/// Evaluates every rule in `schema` against `obj` (with `old` for transition rules).
pub fn check(
    schema: &Value,
    obj: &Value,
    old: Option<&Value>,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    if let Some(rules) = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        // The apiserver reports the schema type of the rule's node as the value.
        let kind = schema
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("object");
        for rule in rules {
            if let Some(c) = rule_cause(rule, kind, obj, old, path) {
                causes.push(c);
            }
        }
    }
    match obj {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (k, v) in map {
                if path.is_empty() && k == "metadata" {
                    continue;
                }
                let sub = props.and_then(|p| p.get(k)).or(additional);
                if let Some(sub) = sub {
                    let old_v = old.and_then(|o| o.get(k));
                    check(sub, v, old_v, &child(path, k), causes);
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    check(sub, v, None, &format!("{path}[{i}]"), causes);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                {"rule": "self.mode == oldSelf.mode || oldSelf.mode == 'paper'", "message": "mode can only change from paper"}
            ],
            "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}, "mode": {"type": "string",
                "x-kubernetes-validations": [{"rule": "self.startsWith('p') || self == 'live'"}]}}
        }}})
    }

    fn causes(obj: Value, old: Option<Value>) -> Vec<Cause> {
        let mut c = Vec::new();
        check(&schema(), &obj, old.as_ref(), "", &mut c);
        c
    }

    #[test]
    fn rules_see_self() {
        assert!(causes(json!({"spec": {"min": 1, "max": 2, "mode": "paper"}}), None).is_empty());
        let c = causes(json!({"spec": {"min": 3, "max": 2, "mode": "paper"}}), None);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].field.as_str(), c[0].message.as_str()),
            ("spec", "Invalid value: \"object\": min must not exceed max")
        );
        let c = causes(json!({"spec": {"min": 1, "max": 2, "mode": "x"}}), None);
        assert_eq!(
            c[0].message,
            "Invalid value: \"string\": failed rule: self.startsWith('p') || self == 'live'"
        );
    }

    #[test]
    fn transition_rules_compare_with_old_self_on_update_only() {
        let live = json!({"spec": {"min": 1, "max": 2, "mode": "live"}});
        let paper = json!({"spec": {"min": 1, "max": 2, "mode": "paper"}});
        assert!(causes(live.clone(), None).is_empty(), "skipped on create");
        assert!(
            causes(live.clone(), Some(paper.clone())).is_empty(),
            "paper -> live allowed"
        );
        let c = causes(paper, Some(live));
        assert_eq!(
            c[0].message,
            "Invalid value: \"object\": mode can only change from paper"
        );
    }
}
