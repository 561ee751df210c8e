//! Parsing request paths into what they address: discovery documents or a
//! resource collection / object / subresource.

use super::resources::Registry;

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/version`.
    Version,
    /// `/api`.
    CoreVersions,
    /// `/apis`.
    Groups,
    /// `/apis/{group}`.
    Group(String),
    /// `/api/v1` or `/apis/{group}/{version}`.
    ResourceList {
        /// API group.
        group: String,
        /// API version.
        version: String,
    },
    /// A collection, object or subresource.
    Resource(Target),
    /// `/healthz`, `/readyz`, `/livez`.
    Health,
    /// `/openapi/v3`.
    OpenApiIndex,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
    OpenApi {
        /// API group.
        group: String,
        /// API version.
        version: String,
    },
}

/// A resource path: collection (`name` none), object, or subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// API group.
    pub group: String,
    /// API version from the path.
    pub version: String,
    /// Plural resource.
    pub resource: String,
    /// Namespace from the path (`None` for cluster-wide).
    pub namespace: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Subresource (`status`, `log`, ...).
    pub subresource: Option<String>,
}

/// Parses a path (without query); `None` when nothing is served there.
pub fn parse(path: &str, registry: &Registry) -> Option<Route> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz"] | ["readyz"] | ["livez"] => Some(Route::Health),
        ["api"] => Some(Route::CoreVersions),
        ["openapi", "v3"] => Some(Route::OpenApiIndex),
        ["openapi", "v3", "api", v] => Some(Route::OpenApi {
            group: String::new(),
            version: v.to_string(),
        }),
        ["openapi", "v3", "apis", g, v] => Some(Route::OpenApi {
            group: g.to_string(),
            version: v.to_string(),
        }),
        ["apis"] => Some(Route::Groups),
        ["apis", g] => Some(Route::Group(g.to_string())),
        ["api", v] => Some(Route::ResourceList {
            group: String::new(),
            version: v.to_string(),
        }),
        ["apis", g, v] => Some(Route::ResourceList {
            group: g.to_string(),
            version: v.to_string(),
        }),
        ["api", v, rest @ ..] => resource_route("", v, rest, registry),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest, registry),
        _ => None,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str], registry: &Registry) -> Option<Route> {
    // `namespaces/{ns}/{resource}...` addresses a namespaced resource unless the
    // third segment is not a resource of this group version (then it is a
    // subresource of the namespace itself, like `namespaces/x/status`).
    let (namespace, rest) = match rest {
        ["namespaces", ns, res, tail @ ..]
            if registry
                .find(group, version, res)
                .is_some_and(|r| r.namespaced) =>
        {
            (Some(ns.to_string()), {
                let mut v = vec![*res];
                v.extend_from_slice(tail);
                v
            })
        }
        other => (None, other.to_vec()),
    };
    let (resource, name, subresource) = match rest.as_slice() {
        [r] => (r.to_string(), None, None),
        [r, n] => (r.to_string(), Some(n.to_string()), None),
        [r, n, s] => (r.to_string(), Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    Some(Route::Resource(Target {
        group: group.to_string(),
        version: version.to_string(),
        resource,
        namespace,
        name,
        subresource,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str) -> Target {
        match parse(path, &Registry::new()) {
            Some(Route::Resource(t)) => t,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaced_object_paths() {
        let x = t("/api/v1/namespaces/default/pods/p1/status");
        assert_eq!(x.namespace.as_deref(), Some("default"));
        assert_eq!(x.resource, "pods");
        assert_eq!(x.name.as_deref(), Some("p1"));
        assert_eq!(x.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn namespace_itself_and_its_status() {
        let x = t("/api/v1/namespaces/default/status");
        assert_eq!(
            (x.resource.as_str(), x.name.as_deref(), x.namespace),
            ("namespaces", Some("default"), None)
        );
        let y = t("/api/v1/namespaces/default");
        assert_eq!(y.name.as_deref(), Some("default"));
    }

    #[test]
    fn cluster_wide_list_of_namespaced_resource() {
        let x = t("/apis/coordination.k8s.io/v1/leases");
        assert_eq!(
            (x.group.as_str(), x.namespace, x.name),
            ("coordination.k8s.io", None, None)
        );
    }
}
