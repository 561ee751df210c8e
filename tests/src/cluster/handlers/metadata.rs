//! Metadata-only answers (meta.k8s.io/v1 `PartialObjectMetadata` and
//! `PartialObjectMetadataList`) for clients that ask for them in Accept, as
//! kube-runtime's `metadata_watcher`, kube's `get_metadata`/`list_metadata`
//! and kubectl do: the object's `metadata` only, under the meta.k8s.io kind.

use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::Request;

/// The content type of a PartialObjectMetadata answer.
pub const PARTIAL: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1";
/// The content type of a PartialObjectMetadataList answer.
pub const PARTIAL_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

/// Which metadata-only form the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `as=PartialObjectMetadata`.
    Object,
    /// `as=PartialObjectMetadataList`.
    List,
}

/// The metadata-only form the first media range of Accept names that this
/// server can produce (`g=meta.k8s.io`, `v=v1` or `v1beta1`), if any.
pub fn wanted(req: &Request) -> Option<Form> {
    let first = req.header("accept").split(',').next()?;
    let mut form = None;
    let (mut group, mut version) = (false, false);
    for param in first.split(';').skip(1) {
        match param.trim().split_once('=') {
            Some(("as", "PartialObjectMetadata")) => form = Some(Form::Object),
            Some(("as", "PartialObjectMetadataList")) => form = Some(Form::List),
            Some(("g", g)) => group = g == "meta.k8s.io",
            Some(("v", v)) => version = v == "v1" || v == "v1beta1",
            _ => {}
        }
    }
    form.filter(|_| group && version)
}

/// 406 for a form that does not fit the request (a list asked for as one object or the reverse).
pub fn mismatch(form: Form) -> ApiError {
    let (asked, what) = match form {
        Form::Object => ("PartialObjectMetadata", "a list"),
        Form::List => ("PartialObjectMetadataList", "not a list"),
    };
    let mut e = ApiError::not_acceptable(asked);
    e.message = format!("you requested {asked}, but the requested object is {what}");
    e
}

/// `obj` as a PartialObjectMetadata.
pub fn partial(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// A list answer's items as a PartialObjectMetadataList with the list's `metadata`.
pub fn partial_list(list_meta: Value, items: &[Value]) -> Value {
    json!({
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "items": items.iter().map(partial).collect::<Vec<_>>(),
    })
}

/// Checks the form fits a single object (GET of one object).
pub fn for_object(req: &Request) -> ApiResult<Option<Form>> {
    match wanted(req) {
        Some(Form::List) => Err(mismatch(Form::List)),
        other => Ok(other),
    }
}
