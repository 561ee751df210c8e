//! A minimal OpenAPI v3 surface: `/openapi/v3` lists one document per group
//! version, and each document declares, per served kind, the object paths
//! with their operations, the `x-kubernetes-group-version-kind` extension and
//! the `fieldValidation` / `dryRun` / `fieldManager` parameters. That is what
//! kubectl reads to decide it can leave validation to the server
//! (`fieldValidation=Strict`). Schemas are open objects (`CRD` kinds carry
//! their own schema); `/openapi/v2` is not served (404).

use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::resources::Registry;

/// A tag that changes when the served resources change (cache busting).
fn hash(registry: &Registry, group: &str, version: &str) -> String {
    let names: Vec<String> = registry
        .in_group_version(group, version)
        .map(|r| format!("{}:{}", r.plural, r.kind))
        .collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in names.join(",").bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`.
pub fn index(registry: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs: Vec<(String, String)> = vec![(String::new(), "v1".to_string())];
    for (g, vs) in registry.groups() {
        gvs.extend(vs.into_iter().map(|v| (g.clone(), v)));
    }
    for (g, v) in gvs {
        let p = gv_path(&g, &v);
        paths.insert(p.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={}", hash(registry, &g, &v))}));
    }
    json!({"paths": paths})
}

fn params() -> Value {
    json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": true}},
        {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}
    ])
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
pub fn group_version(registry: &Registry, group: &str, version: &str) -> ApiResult<Value> {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    let prefix = format!("/{}", gv_path(group, version));
    let mut any = false;
    for r in registry.in_group_version(group, version) {
        any = true;
        let gvk = json!({"group": group, "version": version, "kind": r.kind});
        let object_path = if r.namespaced {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
        } else {
            format!("{prefix}/{}/{{name}}", r.plural)
        };
        let op = |id: &str| json!({"operationId": format!("{id}{}", r.kind), "x-kubernetes-group-version-kind": gvk, "parameters": params(), "responses": {"200": {"description": "OK"}}});
        paths.insert(object_path, json!({"get": op("read"), "put": op("replace"), "patch": op("patch"), "delete": op("delete")}));
        let schema_name = format!(
            "{}.{}.{}",
            if group.is_empty() {
                "io.k8s.api.core"
            } else {
                group
            },
            version,
            r.kind
        );
        let mut schema = r
            .crd()
            .and_then(|c| c.version(version))
            .and_then(|v| v.schema.clone())
            .unwrap_or_else(
                || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            );
        schema["x-kubernetes-group-version-kind"] = json!([gvk]);
        schemas.insert(schema_name, schema);
    }
    if !any {
        return Err(ApiError::path_not_found());
    }
    Ok(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": super::discovery::version()["gitVersion"].clone()},
        "paths": paths,
        "components": {"schemas": schemas}
    }))
}
