//! Label selectors (equality- and set-based) and field selectors, parsed from
//! their query-string form and matched against objects.

use serde_json::Value;

/// A failed parse, answered as 400 BadRequest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector text is malformed.
    #[error("unable to parse requirement: {0}")]
    Label(String),
    /// The field selector text is malformed.
    #[error("invalid field selector: {0}")]
    Field(String),
    /// The field is not supported for this resource.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelReq {
    /// `key=value` / `key==value`.
    Eq(String, String),
    /// `key!=value`.
    NotEq(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)`.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    NotExists(String),
}

/// A parsed label selector: all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<LabelReq>);

/// Splits on commas that are not inside parentheses.
fn split_top_level(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in s.chars() {
        match ch {
            '(' => {
                depth += 1;
                cur.push(ch)
            }
            ')' => {
                depth -= 1;
                cur.push(ch)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    out.push(cur);
    out
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 317
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_set(key: &str, rest: &str, raw: &str) -> Result<Vec<String>, SelectorError> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            SelectorError::Label(format!("{raw}: expected a parenthesised set for {key}"))
        })?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if vals.iter().any(|v| !valid_value(v)) {
        return Err(SelectorError::Label(format!("{raw}: invalid value in set")));
    }
    Ok(vals)
}

impl LabelSelector {
    /// Parses `app=web,tier in (a,b),!legacy`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(LabelSelector(reqs));
        }
        for raw in split_top_level(s) {
            let part = raw.trim();
            if part.is_empty() {
                return Err(SelectorError::Label(format!("{s}: empty requirement")));
            }
            let req = if let Some(k) = part.strip_prefix('!') {
                let k = k.trim();
                if !valid_key(k) {
                    return Err(SelectorError::Label(format!("{part}: invalid key")));
                }
                LabelReq::NotExists(k.to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelReq::NotEq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelReq::Eq(k.trim().into(), v.trim().into())
            } else if let Some(idx) = part.find(" notin ") {
                let k = part[..idx].trim();
                LabelReq::NotIn(k.into(), parse_set(k, &part[idx + 7..], part)?)
            } else if let Some(idx) = part.find(" in ") {
                let k = part[..idx].trim();
                LabelReq::In(k.into(), parse_set(k, &part[idx + 4..], part)?)
            } else {
                LabelReq::Exists(part.to_string())
            };
            let (key, val) = match &req {
                LabelReq::Eq(k, v) | LabelReq::NotEq(k, v) => (k, Some(v)),
                LabelReq::In(k, _)
                | LabelReq::NotIn(k, _)
                | LabelReq::Exists(k)
                | LabelReq::NotExists(k) => (k, None),
            };
            if !valid_key(key) || val.is_some_and(|v| !valid_value(v)) {
                return Err(SelectorError::Label(format!(
                    "{part}: invalid key or value"
                )));
            }
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| vs.iter().all(|v| v != x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// One field requirement: `field=value` or `field!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldReq {
    /// The JSON pointer of the field.
    pub pointer: String,
    /// What the field reads as when the object lacks it.
    pub absent: &'static str,
    /// The value compared with.
    pub value: String,
    /// Whether the requirement is `!=`.
    pub negated: bool,
}

/// The JSON pointer a selectable field reads (`source` is the event's
/// `source.component`).
fn pointer_of(field: &str) -> String {
    match field {
        "source" => "/source/component".into(),
        _ => format!("/{}", field.replace('.', "/")),
    }
}

/// What an absent field reads as: the Go zero value of its type.
fn absent_value(field: &str) -> &'static str {
    match field {
        "spec.unschedulable" | "spec.hostNetwork" => "false",
        "status.replicas" | "status.successful" => "0",
        _ => "",
    }
}

/// A parsed field selector: all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<FieldReq>);

/// The fields selectable on a resource, beyond metadata.name /
/// metadata.namespace: those kube-apiserver's field label conversions
/// accept for the kind (pkg/apis/*/v1 conversion, the registries' GetAttrs).
pub fn extra_fields(group: &str, resource: &str) -> &'static [&'static str] {
    match (group, resource) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") | ("apps", "replicasets") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        ("certificates.k8s.io", "certificatesigningrequests") => &["spec.signerName"],
        ("", "secrets") => &["type"],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "events") => &[
            "regarding.kind",
            "regarding.name",
            "regarding.namespace",
            "reason",
            "type",
        ],
        ("", "namespaces") => &["status.phase"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses `metadata.name=x,status.phase!=Running` for `group`/`resource`.
    pub fn parse(s: &str, group: &str, resource: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        if s.trim().is_empty() {
            return Ok(FieldSelector(reqs));
        }
        for part in s.split(',') {
            let part = part.trim();
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(SelectorError::Field(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let supported = matches!(field, "metadata.name" | "metadata.namespace")
                || extra_fields(group, resource).contains(&field);
            if !supported {
                return Err(SelectorError::UnsupportedField(field.to_string()));
            }
            reqs.push(FieldReq {
                pointer: pointer_of(field),
                absent: absent_value(field),
                value: value.trim().to_string(),
                negated,
            });
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether the object satisfies every requirement (a missing field reads as "").
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|r| {
            let actual = match obj.pointer(&r.pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => r.absent.to_string(),
                Some(other) => other.to_string(),
            };
            (actual == r.value) != r.negated
        })
    }
}

/// The text form of a label selector object (`matchLabels`, `matchExpressions` with In/NotIn/
/// Exists/DoesNotExist) or a plain map, as selector text.
pub fn to_text(v: &Value) -> String {
    let Some(map) = v.as_object() else {
        return v.as_str().unwrap_or("").to_string();
    };
    if !map.contains_key("matchLabels") && !map.contains_key("matchExpressions") {
        // A ReplicationController's selector is a plain map.
        return map
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(",");
    }
    let mut parts: Vec<String> = v
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    for e in v
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        parts.push(match e.get("operator").and_then(Value::as_str) {
            Some("In") => format!("{key} in ({})", values.join(",")),
            Some("NotIn") => format!("{key} notin ({})", values.join(",")),
            Some("DoesNotExist") => format!("!{key}"),
            _ => key.to_string(),
        });
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(labels: Value) -> Value {
        json!({"metadata": {"name": "n", "namespace": "ns", "labels": labels}, "status": {"phase": "Running"}, "spec": {"nodeName": "node-1"}})
    }

    #[test]
    fn equality_based_requirements() {
        let o = obj(json!({"app": "web", "tier": "fe"}));
        assert!(LabelSelector::parse("app=web").unwrap().matches(&o));
        assert!(LabelSelector::parse("app==web,tier=fe")
            .unwrap()
            .matches(&o));
        assert!(!LabelSelector::parse("app!=web").unwrap().matches(&o));
        assert!(LabelSelector::parse("app!=db").unwrap().matches(&o));
    }

    #[test]
    fn set_based_requirements() {
        let o = obj(json!({"app": "web"}));
        assert!(LabelSelector::parse("app in (db, web)")
            .unwrap()
            .matches(&o));
        assert!(!LabelSelector::parse("app notin (db,web)")
            .unwrap()
            .matches(&o));
        assert!(LabelSelector::parse("tier notin (x)").unwrap().matches(&o));
        assert!(LabelSelector::parse("app,!tier").unwrap().matches(&o));
        assert!(!LabelSelector::parse("tier").unwrap().matches(&o));
        assert!(LabelSelector::parse("app in (web),tier notin (x)")
            .unwrap()
            .matches(&o));
    }

    #[test]
    fn malformed_label_selectors_are_rejected() {
        assert!(LabelSelector::parse("app in web").is_err());
        assert!(LabelSelector::parse("a=b,,c=d").is_err());
        assert!(LabelSelector::parse("a b=c").is_err());
    }

    #[test]
    fn pod_field_selectors() {
        let o = obj(json!({}));
        let sel =
            FieldSelector::parse("status.phase=Running,spec.nodeName=node-1", "", "pods").unwrap();
        assert!(sel.matches(&o));
        assert!(!FieldSelector::parse("metadata.name!=n", "", "pods")
            .unwrap()
            .matches(&o));
        assert!(
            FieldSelector::parse("metadata.namespace==ns", "", "configmaps")
                .unwrap()
                .matches(&o)
        );
    }

    #[test]
    fn node_fields_read_absent_booleans_as_false() {
        let cordoned =
            serde_json::json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        let plain = serde_json::json!({"metadata": {"name": "n2"}, "spec": {}});
        let sel = FieldSelector::parse("spec.unschedulable=false", "", "nodes").unwrap();
        assert!(!sel.matches(&cordoned));
        assert!(sel.matches(&plain));
        assert!(FieldSelector::parse("spec.unschedulable=true", "", "nodes")
            .unwrap()
            .matches(&cordoned));
    }

    #[test]
    fn unsupported_fields_are_rejected() {
        assert_eq!(
            FieldSelector::parse("status.phase=Running", "", "configmaps"),
            Err(SelectorError::UnsupportedField("status.phase".into()))
        );
    }
}
