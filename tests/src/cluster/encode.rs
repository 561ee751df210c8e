//! Response bodies written as kube-apiserver writes them: one JSON document
//! followed by a newline (Go's `json.Encoder`), with the fields of a
//! `Status` — and of its `details` and `causes` — in the order of the Go
//! structs (`kind`, `apiVersion`, `metadata`, `status`, `message`, `reason`,
//! `details`, `code`). Clients that show or compare error bodies as text
//! (the Python client's `create_from_yaml`) see the same bytes as from a
//! real server. Other objects keep serde_json's key order.

use serde_json::Value;

/// `metav1.Status` field order.
const STATUS: &[&str] = &[
    "kind",
    "apiVersion",
    "metadata",
    "status",
    "message",
    "reason",
    "details",
    "code",
];
/// `metav1.StatusDetails` field order.
const DETAILS: &[&str] = &[
    "name",
    "group",
    "kind",
    "uid",
    "causes",
    "retryAfterSeconds",
];
/// `metav1.StatusCause` field order.
const CAUSE: &[&str] = &["reason", "message", "field"];

/// The body for `v`: Status objects (also inside watch events) in Go field
/// order, then a newline.
pub fn body(v: &Value) -> String {
    let carries_status = is_status(v) || v.get("object").is_some_and(is_status);
    let mut out = if carries_status {
        let mut out = String::new();
        write(&mut out, v, Order::Sorted);
        out
    } else {
        // The common case (objects, lists, watch events) stays on serde_json's
        // own writer: the watch fan-out encodes every event this way.
        v.to_string()
    };
    out.push('\n');
    out
}

/// How to order an object's keys.
#[derive(Clone, Copy)]
enum Order {
    /// serde_json's order; a nested Status is still written in Go order.
    Sorted,
    /// Go struct order for the named fields (any other keys after, sorted).
    Struct(&'static [&'static str], Nested),
}

/// Which Go order applies one level down.
#[derive(Clone, Copy)]
enum Nested {
    /// Below a Status: `details` is a StatusDetails.
    Status,
    /// Below StatusDetails: `causes` holds StatusCauses.
    Details,
    /// Nothing special below.
    None,
}

fn is_status(v: &Value) -> bool {
    v.get("kind").and_then(Value::as_str) == Some("Status")
        && v.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

fn write(out: &mut String, v: &Value, order: Order) {
    match v {
        Value::Object(map) => {
            let order = match order {
                Order::Sorted if is_status(v) => Order::Struct(STATUS, Nested::Status),
                other => other,
            };
            let mut keys: Vec<&String> = map.keys().collect();
            let nested = match order {
                Order::Struct(fields, nested) => {
                    let rank = |k: &str| fields.iter().position(|f| *f == k).unwrap_or(usize::MAX);
                    keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
                    nested
                }
                Order::Sorted => Nested::None,
            };
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                let child = match (nested, k.as_str()) {
                    (Nested::Status, "details") => Order::Struct(DETAILS, Nested::Details),
                    (Nested::Details, "causes") => Order::Struct(CAUSE, Nested::None),
                    _ => Order::Sorted,
                };
                write(out, &map[k], child);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(out, item, order);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_status_is_written_in_go_field_order_with_a_newline() {
        let s = json!({"code": 422, "reason": "Invalid", "status": "Failure", "metadata": {},
            "message": "m", "apiVersion": "v1", "kind": "Status",
            "details": {"kind": "Widget", "name": "w", "group": "example.com",
                "causes": [{"field": "spec.x", "reason": "FieldValueInvalid", "message": "bad"}]}});
        assert_eq!(
            body(&s),
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"m\",\
             \"reason\":\"Invalid\",\"details\":{\"name\":\"w\",\"group\":\"example.com\",\"kind\":\"Widget\",\
             \"causes\":[{\"reason\":\"FieldValueInvalid\",\"message\":\"bad\",\"field\":\"spec.x\"}]},\"code\":422}\n"
        );
    }

    #[test]
    fn a_status_inside_a_watch_event_keeps_go_order_and_other_objects_are_sorted() {
        let ev =
            json!({"type": "ERROR", "object": {"code": 410, "kind": "Status", "apiVersion": "v1"}});
        assert_eq!(
            body(&ev),
            "{\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"code\":410},\"type\":\"ERROR\"}\n"
        );
        assert_eq!(
            body(&json!({"b": 1, "a": [true, null]})),
            "{\"a\":[true,null],\"b\":1}\n"
        );
    }
}
