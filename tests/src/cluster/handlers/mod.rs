//! Request dispatch: from method and path to the verb handlers, and the
//! replies they give (JSON with a status code, plain text, or a watch stream).

mod approval;
mod delete;
pub mod metadata;
mod patch;
mod read;
mod scale;
pub mod table;
pub mod tokens;
mod watch;
mod write;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use futures::stream::BoxStream;
use serde_json::Value;

use super::error::{ApiError, ApiResult};
use super::resources::ResourceInfo;
use super::route::{self, Route, Target};
use super::state::Shared;
use super::{discovery, openapi};

/// An incoming request, already read.
#[derive(Debug)]
pub struct Request {
    /// HTTP method.
    pub method: Method,
    /// URL path.
    pub path: String,
    /// Decoded query parameters (the last value of a repeated key wins).
    pub query: HashMap<String, String>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Bytes,
    /// `host:port` the server listens on.
    pub server_address: String,
}

/// What a handler answers.
pub enum Reply {
    /// A JSON document with a status code.
    Json(u16, Value),
    /// A JSON document with a specific content type (aggregated discovery,
    /// metadata-only answers).
    JsonAs(u16, Value, &'static str),
    /// Plain text (pod logs).
    Text(u16, String),
    /// A watch: newline-delimited JSON events.
    Watch(BoxStream<'static, Bytes>),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        Reply::Json(e.code, e.to_status())
    }
}

impl Request {
    /// A query parameter.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    /// The media type of the body (Content-Type without parameters).
    pub fn media_type(&self) -> &str {
        self.header("content-type")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
    }

    /// A boolean query parameter (`true` / `1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.param(key), Some("true") | Some("1"))
    }

    /// A header as text, or "".
    pub fn header(&self, key: &str) -> &str {
        self.headers
            .get(key)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Parses the body as JSON (or YAML when the content type says so).
    pub fn body_value(&self) -> ApiResult<Value> {
        let ct = self.header("content-type");
        if ct.contains("protobuf") {
            return Err(ApiError::unsupported_media_type(
                ct,
                "only JSON and YAML bodies are supported",
            ));
        }
        if ct.contains("yaml") {
            return serde_yaml::from_slice(&self.body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML body: {e}")));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::bad_request(format!("error decoding JSON body: {e}")))
    }
}

fn check_accept(req: &Request) -> ApiResult<()> {
    let accept = req.header("accept");
    if accept.is_empty()
        || accept.contains("json")
        || accept.contains("*/*")
        || accept.contains("application/*")
        || accept.contains("yaml")
        || accept.contains("text/plain")
    {
        Ok(())
    } else {
        Err(ApiError::not_acceptable(accept))
    }
}

/// Handles one request.
pub async fn handle(shared: Arc<Shared>, req: Request) -> Reply {
    match dispatch(shared, req) {
        Ok(r) => r,
        Err(e) => e.into(),
    }
}

fn dispatch(shared: Arc<Shared>, req: Request) -> ApiResult<Reply> {
    check_accept(&req)?;
    let parsed = {
        let state = shared.lock();
        route::parse(&req.path, &state.registry)
    };
    let Some(route) = parsed else {
        return Err(ApiError::path_not_found());
    };
    if !matches!(route, Route::Resource(_)) && req.method != Method::GET {
        return Err(ApiError::method_not_allowed(&format!(
            "{} {}",
            req.method, req.path
        )));
    }
    let state = shared.lock();
    let doc = match route {
        Route::Version => discovery::version(),
        Route::Health => return Ok(Reply::Text(200, "ok".into())),
        Route::CoreVersions | Route::Groups
            if discovery::wants_aggregated(req.header("accept")) =>
        {
            let core = route == Route::CoreVersions;
            let doc = discovery::aggregated(&state.registry, core);
            return Ok(Reply::JsonAs(200, doc, discovery::AGGREGATED_V2));
        }
        Route::CoreVersions => discovery::core_versions(&req.server_address),
        Route::Groups => discovery::groups(&state.registry),
        Route::OpenApiIndex => openapi::index(&state.registry),
        Route::OpenApi { group, version } => {
            openapi::group_version(&state.registry, &group, &version)?
        }
        Route::Group(g) => discovery::group(&state.registry, &g)?,
        Route::ResourceList { group, version } => {
            discovery::resource_list(&state.registry, &group, &version)?
        }
        Route::Resource(target) => {
            let info = state
                .registry
                .find(&target.group, &target.version, &target.resource)
                .cloned()
                .ok_or_else(ApiError::path_not_found)?;
            drop(state);
            return resource(shared, req, target, info);
        }
    };
    Ok(Reply::Json(200, doc))
}

fn resource(
    shared: Arc<Shared>,
    req: Request,
    target: Target,
    info: ResourceInfo,
) -> ApiResult<Reply> {
    if target.namespace.is_some() && !info.namespaced {
        return Err(ApiError::path_not_found());
    }
    let reading = req.method == Method::GET && !req.flag("watch");
    if !reading && !info.verbs().contains(&"create") {
        return Err(ApiError::method_not_allowed(&format!(
            "{} on {} (served read-only)",
            req.method, info.plural
        )));
    }
    if info.group == "authentication.k8s.io" {
        return match (&req.method, &target.name) {
            (&Method::POST, None) => tokens::review(&shared, &req),
            _ => Err(ApiError::method_not_allowed(&format!(
                "{} on {} (reviews are only created)",
                req.method, info.plural
            ))),
        };
    }
    match (&target.name, target.subresource.as_deref()) {
        (None, _) => match req.method {
            Method::GET if req.flag("watch") => watch::watch(shared, &req, &target, &info),
            Method::GET => read::list(&shared, &req, &target, &info),
            Method::POST => write::create(&shared, &req, &target, &info),
            Method::DELETE => delete::delete_collection(&shared, &req, &target, &info),
            _ => Err(ApiError::method_not_allowed(&format!(
                "{} on a collection",
                req.method
            ))),
        },
        (Some(name), None) => match req.method {
            Method::GET => read::get(&shared, &req, &target, &info, name),
            Method::PUT => write::update(&shared, &req, &target, &info, name, false),
            Method::PATCH => patch::patch(&shared, &req, &target, &info, name, false),
            Method::DELETE => delete::delete(&shared, &req, &target, &info, name),
            _ => Err(ApiError::method_not_allowed(&format!(
                "{} on an object",
                req.method
            ))),
        },
        (Some(name), Some("status")) if info.status_subresource => match req.method {
            Method::GET => read::get(&shared, &req, &target, &info, name),
            Method::PUT => write::update(&shared, &req, &target, &info, name, true),
            Method::PATCH => patch::patch(&shared, &req, &target, &info, name, true),
            _ => Err(ApiError::method_not_allowed(&format!(
                "{} on /status",
                req.method
            ))),
        },
        (Some(name), Some("log")) if info.log_subresource => match req.method {
            Method::GET => read::log(&shared, &req, &target, &info, name),
            _ => Err(ApiError::method_not_allowed(&format!(
                "{} on /log",
                req.method
            ))),
        },
        (Some(name), Some("token"))
            if info.group.is_empty() && info.plural == "serviceaccounts" =>
        {
            match req.method {
                Method::POST => tokens::request(&shared, &req, &target, &info, name),
                _ => Err(ApiError::method_not_allowed(&format!(
                    "{} on /token",
                    req.method
                ))),
            }
        }
        (Some(name), Some("approval")) if info.plural == "certificatesigningrequests" => {
            approval::approval(&shared, &req, &target, &info, name)
        }
        (Some(name), Some("scale")) if info.scale_paths(&target.version).is_some() => {
            let paths = info
                .scale_paths(&target.version)
                .ok_or_else(ApiError::path_not_found)?;
            scale::scale(&shared, &req, &target, &info, name, &paths)
        }
        (Some(_), Some(other)) if KNOWN_UNSERVED_SUBRESOURCES.contains(&other) => {
            Err(ApiError::not_implemented(format!(
                "the {other} subresource of {} is not implemented by this test cluster",
                info.plural
            )))
        }
        (Some(_), Some(other)) => Err(ApiError::path_not_found().with_message(format!(
            "the server could not find the requested resource ({}/{other} is not served)",
            info.plural
        ))),
    }
}

/// Subresources real clusters serve that this one does not model: 501.
const KNOWN_UNSERVED_SUBRESOURCES: &[&str] = &[
    "exec",
    "attach",
    "portforward",
    "proxy",
    "eviction",
    "binding",
    "ephemeralcontainers",
    "resize",
];

/// The namespace a request addresses ("" for cluster-scoped kinds).
pub fn namespace_of(target: &Target, info: &ResourceInfo) -> String {
    if info.namespaced {
        target.namespace.clone().unwrap_or_default()
    } else {
        String::new()
    }
}

/// Rewrites apiVersion to the version the request used.
pub fn as_version(mut obj: Value, info: &ResourceInfo, version: &str) -> Value {
    if obj.is_object() {
        obj["apiVersion"] = Value::from(info.api_version(version));
    }
    obj
}
