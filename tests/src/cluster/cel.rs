//! `x-kubernetes-validations` CEL rules (placeholder until a CEL engine lands):
//! a schema that carries rules is refused rather than silently accepted.

use serde_json::Value;

use super::error::Cause;

/// Evaluates the CEL rules in `schema` against `obj` (and `old` for transition rules).
pub fn check(
    schema: &Value,
    _obj: &Value,
    _old: Option<&Value>,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    if schema.to_string().contains("x-kubernetes-validations") {
        causes.push(Cause::new(
            "FieldValueInvalid",
            if path.is_empty() { "<root>" } else { path },
            "CEL validation rules are not supported by this test cluster yet",
        ));
    }
}
