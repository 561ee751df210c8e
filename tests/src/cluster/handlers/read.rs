//! get, list (selectors, limit/continue) and pod logs.

use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::objects::{existing, key_for};
use super::super::resources::ResourceInfo;
use super::super::route::Target;
use super::super::selectors::{FieldSelector, LabelSelector};
use super::super::state::Shared;
use super::{as_version, metadata, namespace_of, table, Reply, Request};

/// GET on an object (or its `/status`).
pub fn get(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
) -> ApiResult<Reply> {
    let state = shared.lock();
    let obj = existing(&state, info, &namespace_of(target, info), name)?;
    let obj = as_version(obj, info, &target.version);
    if table::wanted(req) {
        return Ok(Reply::Json(
            200,
            table::render(
                info,
                &target.version,
                &[obj],
                &state.store.current_rv().to_string(),
                None,
                req.param("includeObject").unwrap_or("Metadata"),
            ),
        ));
    }
    if metadata::for_object(req)?.is_some() {
        return Ok(Reply::JsonAs(
            200,
            metadata::partial(&obj),
            metadata::PARTIAL,
        ));
    }
    Ok(Reply::Json(200, obj))
}

/// Selectors of a list or watch request.
pub struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    /// Parses `labelSelector` and `fieldSelector`.
    pub fn from_request(req: &Request, info: &ResourceInfo) -> ApiResult<Self> {
        let labels = LabelSelector::parse(req.param("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = FieldSelector::parse(
            req.param("fieldSelector").unwrap_or(""),
            &info.group,
            &info.plural,
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Filter { labels, fields })
    }

    /// Whether `obj` is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(obj) && self.fields.matches(obj)
    }
}

/// A continue token: the list's resourceVersion and the last key served.
fn encode_continue(rv: u64, namespace: &str, name: &str) -> String {
    let raw = json!({"rv": rv, "ns": namespace, "name": name}).to_string();
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> Option<(u64, String, String)> {
    if token.len() & 1 == 1 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok())
        .collect();
    let v: Value = serde_json::from_slice(&bytes?).ok()?;
    Some((
        v.get("rv")?.as_u64()?,
        v.get("ns")?.as_str()?.to_string(),
        v.get("name")?.as_str()?.to_string(),
    ))
}

/// Lists are always served from the latest state: a request for an exact
/// older version is 410 Expired, one for a version from the future is 504
/// (the apiserver's "Too large resource version"), rather than a silently
/// different answer.
fn check_list_version(req: &Request, current: u64, compacted: u64) -> ApiResult<()> {
    let rv = match req.param("resourceVersion") {
        None | Some("") | Some("0") => return Ok(()),
        Some(rv) => rv
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
    };
    if rv > current {
        let mut e = ApiError::expired(format!(
            "Timeout: Too large resource version: {rv}, current: {current}"
        ));
        e.code = 504;
        e.reason = "Timeout";
        return Err(e);
    }
    if req.param("resourceVersionMatch") == Some("Exact") && rv != current {
        let why = if rv < compacted {
            "too old resource version"
        } else {
            "this test cluster serves lists only at the latest resource version"
        };
        return Err(ApiError::expired(format!("{why}: {rv} ({current})")));
    }
    Ok(())
}

/// GET on a collection.
pub fn list(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
) -> ApiResult<Reply> {
    let filter = Filter::from_request(req, info)?;
    let metadata_only = match metadata::wanted(req) {
        Some(metadata::Form::Object) => return Err(metadata::mismatch(metadata::Form::Object)),
        form => form.is_some(),
    };
    let limit = match req.param("limit") {
        None | Some("") => None,
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
        ),
    }
    .filter(|l| *l > 0);
    let state = shared.lock();
    let current = state.store.current_rv();
    check_list_version(req, current, state.store.compacted_rv())?;
    let (list_rv, after) = match req.param("continue").filter(|c| !c.is_empty()) {
        None => (current, None),
        Some(token) => {
            let (rv, ns, name) = decode_continue(token)
                .ok_or_else(|| ApiError::bad_request("continue key is not valid"))?;
            if rv < state.store.compacted_rv() {
                return Err(ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ));
            }
            (rv, Some((ns, name)))
        }
    };
    let namespace = if info.namespaced {
        target.namespace.as_deref()
    } else {
        None
    };
    let mut items = Vec::new();
    let mut next = None;
    let mut remaining = 0usize;
    for (key, obj) in state.store.list(&info.group, &info.plural, namespace) {
        if let Some((ns, name)) = &after {
            if (key.namespace.as_str(), key.name.as_str()) <= (ns.as_str(), name.as_str()) {
                continue;
            }
        }
        if !filter.matches(obj) {
            continue;
        }
        if limit.is_some_and(|l| items.len() >= l) {
            remaining += 1;
            continue;
        }
        if limit.is_some_and(|l| items.len() + 1 == l) {
            next = Some((key.namespace.clone(), key.name.clone()));
        }
        items.push(as_version(obj.clone(), info, &target.version));
    }
    let rv = list_rv.to_string();
    let token = if remaining > 0 {
        next.map(|(ns, name)| encode_continue(list_rv, &ns, &name))
    } else {
        None
    };
    if table::wanted(req) {
        return Ok(Reply::Json(
            200,
            table::render(
                info,
                &target.version,
                &items,
                &rv,
                token.as_deref(),
                req.param("includeObject").unwrap_or("Metadata"),
            ),
        ));
    }
    let mut meta = json!({"resourceVersion": rv});
    if let Some(t) = token {
        meta["continue"] = json!(t);
        meta["remainingItemCount"] = json!(remaining);
    }
    if metadata_only {
        return Ok(Reply::JsonAs(
            200,
            metadata::partial_list(meta, &items),
            metadata::PARTIAL_LIST,
        ));
    }
    Ok(Reply::Json(
        200,
        json!({
            "apiVersion": info.api_version(&target.version),
            "kind": format!("{}List", info.kind),
            "metadata": meta,
            "items": items,
        }),
    ))
}

/// GET pods/{name}/log: the simulated log the node helper recorded.
pub fn log(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
) -> ApiResult<Reply> {
    let state = shared.lock();
    let key = key_for(info, &namespace_of(target, info), name);
    let pod = existing(&state, info, &key.namespace, name)?;
    let containers: Vec<String> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str).map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let container = match req.param("container") {
        Some(c) => c.to_string(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: {containers:?}"
            )))
        }
    };
    if !containers.contains(&container) {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let text = state
        .logs
        .get(&(key.namespace.clone(), name.to_string(), container))
        .cloned()
        .unwrap_or_default();
    let text = match req.param("tailLines").and_then(|t| t.parse::<usize>().ok()) {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let start = lines.len().saturating_sub(n);
            lines[start..].iter().map(|l| format!("{l}\n")).collect()
        }
        None => text,
    };
    Ok(Reply::Text(200, text))
}
