//! JSON patch (RFC 6902) as kube-apiserver applies it. Every operation but
//! `test` is the `json-patch` crate's; `test` follows the library the
//! apiserver uses (evanphx/json-patch): a path whose parent exists but whose
//! last member is absent holds "nothing", which equals a `null` value — so
//! kube-runtime's finalizer helper, which tests `/metadata/finalizers`
//! against `null` before adding the first finalizer, succeeds — while any
//! other value fails, as does a path whose parent is missing.

use json_patch::{Patch, PatchOperation};
use serde_json::Value;

/// Why a patch could not be applied (answered as 422).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonPatchError {
    /// A `test` operation found another value.
    #[error("testing value {0} failed: test failed")]
    TestFailed(String),
    /// A `test` operation's path has no parent in the document.
    #[error("test operation does not apply: is missing path: {0}")]
    Missing(String),
    /// Another operation failed.
    #[error("{0}")]
    Operation(String),
}

/// Applies `patch` to `doc` in order; on error `doc` may be half-patched,
/// so callers patch a copy.
pub fn apply(doc: &mut Value, patch: &Patch) -> Result<(), JsonPatchError> {
    for op in &patch.0 {
        match op {
            PatchOperation::Test(t) => test(doc, t.path.as_str(), &t.value)?,
            other => json_patch::patch(doc, std::slice::from_ref(other))
                .map_err(|e| JsonPatchError::Operation(e.to_string()))?,
        }
    }
    Ok(())
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn test(doc: &Value, path: &str, expected: &Value) -> Result<(), JsonPatchError> {
    let failed = || JsonPatchError::TestFailed(path.to_string());
    if path.is_empty() {
        return if doc == expected {
            Ok(())
        } else {
            Err(failed())
        };
    }
    let (parent, last) = path.rsplit_once('/').unwrap_or(("", path));
    let container = doc
        .pointer(parent)
        .ok_or_else(|| JsonPatchError::Missing(path.to_string()))?;
    let key = unescape(last);
    let found = match container {
        Value::Object(map) => map.get(&key),
        Value::Array(items) => Some(
            key.parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .ok_or_else(|| JsonPatchError::Missing(path.to_string()))?,
        ),
        _ => return Err(JsonPatchError::Missing(path.to_string())),
    };
    match found {
        None | Some(Value::Null) if expected.is_null() => Ok(()),
        Some(v) if v == expected => Ok(()),
        _ => Err(failed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(doc: &Value, ops: Value) -> Result<Value, JsonPatchError> {
        let mut d = doc.clone();
        let patch: Patch = serde_json::from_value(ops).expect("a patch");
        apply(&mut d, &patch).map(|_| d)
    }

    #[test]
    fn test_of_an_absent_member_against_null_passes_and_anything_else_fails() {
        let doc = json!({"metadata": {"name": "a"}});
        let added = run(
            &doc,
            json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}
            ]),
        )
        .unwrap();
        assert_eq!(added["metadata"]["finalizers"], json!(["f"]));
        assert_eq!(
            run(
                &doc,
                json!([{"op": "test", "path": "/metadata/finalizers", "value": []}])
            ),
            Err(JsonPatchError::TestFailed("/metadata/finalizers".into()))
        );
        assert_eq!(
            run(
                &doc,
                json!([{"op": "test", "path": "/spec/x", "value": null}])
            ),
            Err(JsonPatchError::Missing("/spec/x".into()))
        );
    }

    #[test]
    fn test_compares_values_and_array_members() {
        let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
        assert!(run(
            &doc,
            json!([{"op": "test", "path": "/metadata/finalizers/1", "value": "b"}])
        )
        .is_ok());
        assert!(run(
            &doc,
            json!([{"op": "test", "path": "/metadata/finalizers/1", "value": "a"}])
        )
        .is_err());
        assert!(run(
            &doc,
            json!([{"op": "test", "path": "/metadata/finalizers/5", "value": null}])
        )
        .is_err());
        assert!(run(
            &doc,
            json!([{"op": "test", "path": "/metadata/finalizers", "value": ["a", "b"]}])
        )
        .is_ok());
    }
}
