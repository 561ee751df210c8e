//! create (POST) and update (PUT), on the main endpoint and `/status`.

use super::super::error::ApiResult;
use super::super::objects::{self, WriteOpts};
use super::super::resources::ResourceInfo;
use super::super::route::Target;
use super::super::state::Shared;
use super::{as_version, namespace_of, Reply, Request};

/// Write options from the query string.
pub fn write_opts(req: &Request) -> WriteOpts {
    WriteOpts {
        dry_run: req.param("dryRun") == Some("All"),
        strict: req.param("fieldValidation") == Some("Strict"),
        field_manager: field_manager(req),
    }
}

/// The manager of a write: `fieldManager`, else the User-Agent's program
/// name (as the apiserver derives it), else `unknown`.
pub fn field_manager(req: &Request) -> Option<String> {
    if let Some(m) = req.param("fieldManager").filter(|m| !m.is_empty()) {
        return Some(m.to_string());
    }
    let agent = req
        .header("user-agent")
        .split('/')
        .next()
        .unwrap_or("")
        .trim();
    Some(if agent.is_empty() {
        "unknown".to_string()
    } else {
        agent.to_string()
    })
}

/// POST on a collection.
pub fn create(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
) -> ApiResult<Reply> {
    let body = req.body_value()?;
    let mut state = shared.lock();
    let created = objects::create(
        &mut state,
        info,
        &target.version,
        &namespace_of(target, info),
        body,
        &write_opts(req),
    )?;
    Ok(Reply::Json(201, as_version(created, info, &target.version)))
}

/// PUT on an object or its `/status`.
pub fn update(
    shared: &Shared,
    req: &Request,
    target: &Target,
    info: &ResourceInfo,
    name: &str,
    status_only: bool,
) -> ApiResult<Reply> {
    let body = req.body_value()?;
    let mut state = shared.lock();
    let updated = objects::update(
        &mut state,
        info,
        &target.version,
        &namespace_of(target, info),
        name,
        body,
        status_only,
        &write_opts(req),
    )?;
    Ok(Reply::Json(200, as_version(updated, info, &target.version)))
}
