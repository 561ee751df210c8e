//! The registry of served resources: the built-in kinds and those that CRDs add.

use serde_json::Value;

/// Where a resource's definition comes from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A kind built into the server.
    BuiltIn,
    /// A kind served because of a CustomResourceDefinition.
    Custom(Box<crate::cluster::crd_serving::CrdServing>),
}

/// One served resource (a group/resource with the versions it is served at).
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    /// API group, empty for the core group.
    pub group: String,
    /// Served versions, the preferred (storage) version first.
    pub versions: Vec<String>,
    /// Plural resource name used in paths.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind of one object.
    pub kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Short names (`po`, `cm`, ...).
    pub short_names: Vec<String>,
    /// Categories (`all`, ...).
    pub categories: Vec<String>,
    /// Whether the `/status` subresource splits status from the main endpoint.
    pub status_subresource: bool,
    /// Whether the `/log` subresource is served (pods).
    pub log_subresource: bool,
    /// Whether `metadata.generation` is bumped on spec changes.
    pub tracks_generation: bool,
    /// Whether PUT without metadata.resourceVersion is allowed.
    pub allow_unconditional_update: bool,
    /// Built-in or CRD-defined.
    pub origin: Origin,
}

/// The verbs every served resource supports.
pub const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

impl ResourceInfo {
    /// The apiVersion string for `version` in this resource's group.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// The verbs served (get and list only for read-only kinds, create only for reviews).
    pub fn verbs(&self) -> &'static [&'static str] {
        if read_only(&self.group, &self.plural) {
            &["get", "list"]
        } else if self.group == "authentication.k8s.io" {
            // Reviews are answered, never stored.
            &["create"]
        } else {
            VERBS
        }
    }

    /// Where the `/scale` subresource at `version` reads and writes, if
    /// the resource has one (a CRD version's `subresources.scale`, or the
    /// built-in workloads').
    pub fn scale_paths(&self, version: &str) -> Option<crate::cluster::crd_serving::ScalePaths> {
        if let Some(crd) = self.crd() {
            return crd.version(version).and_then(|v| v.scale.clone());
        }
        let workload = matches!(
            (self.group.as_str(), self.plural.as_str()),
            ("apps", "deployments" | "replicasets" | "statefulsets")
                | ("", "replicationcontrollers")
        );
        workload.then(|| crate::cluster::crd_serving::ScalePaths {
            spec_replicas: "/spec/replicas".into(),
            status_replicas: "/status/replicas".into(),
            label_selector: None,
        })
    }

    /// Whether objects are custom resources.
    pub fn is_custom(&self) -> bool {
        matches!(self.origin, Origin::Custom(_))
    }

    /// The CRD serving data, for custom resources.
    pub fn crd(&self) -> Option<&crate::cluster::crd_serving::CrdServing> {
        match &self.origin {
            Origin::Custom(c) => Some(c),
            Origin::BuiltIn => None,
        }
    }
}

struct BuiltIn {
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    status: bool,
}

const BUILT_INS: &[BuiltIn] = &[
    BuiltIn {
        group: "",
        version: "v1",
        plural: "namespaces",
        kind: "Namespace",
        namespaced: false,
        short: &["ns"],
        status: true,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "pods",
        kind: "Pod",
        namespaced: true,
        short: &["po"],
        status: true,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "services",
        kind: "Service",
        namespaced: true,
        short: &["svc"],
        status: true,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "configmaps",
        kind: "ConfigMap",
        namespaced: true,
        short: &["cm"],
        status: false,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "persistentvolumeclaims",
        kind: "PersistentVolumeClaim",
        namespaced: true,
        short: &["pvc"],
        status: true,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
        namespaced: true,
        short: &[],
        status: false,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "serviceaccounts",
        kind: "ServiceAccount",
        namespaced: true,
        short: &["sa"],
        status: false,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
        short: &["ev"],
        status: false,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "endpoints",
        kind: "Endpoints",
        namespaced: true,
        short: &["ep"],
        status: false,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "componentstatuses",
        kind: "ComponentStatus",
        namespaced: false,
        short: &["cs"],
        status: false,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "nodes",
        kind: "Node",
        namespaced: false,
        short: &["no"],
        status: true,
    },
    BuiltIn {
        group: "events.k8s.io",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true,
        short: &["ev"],
        status: false,
    },
    BuiltIn {
        group: "apps",
        version: "v1",
        plural: "deployments",
        kind: "Deployment",
        namespaced: true,
        short: &["deploy"],
        status: true,
    },
    BuiltIn {
        group: "",
        version: "v1",
        plural: "replicationcontrollers",
        kind: "ReplicationController",
        namespaced: true,
        short: &["rc"],
        status: true,
    },
    BuiltIn {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        kind: "ReplicaSet",
        namespaced: true,
        short: &["rs"],
        status: true,
    },
    BuiltIn {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        kind: "StatefulSet",
        namespaced: true,
        short: &["sts"],
        status: true,
    },
    BuiltIn {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        kind: "DaemonSet",
        namespaced: true,
        short: &["ds"],
        status: true,
    },
    BuiltIn {
        group: "batch",
        version: "v1",
        plural: "jobs",
        kind: "Job",
        namespaced: true,
        short: &[],
        status: true,
    },
    BuiltIn {
        group: "batch",
        version: "v1",
        plural: "cronjobs",
        kind: "CronJob",
        namespaced: true,
        short: &["cj"],
        status: true,
    },
    BuiltIn {
        group: "certificates.k8s.io",
        version: "v1",
        plural: "certificatesigningrequests",
        kind: "CertificateSigningRequest",
        namespaced: false,
        short: &["csr"],
        status: true,
    },
    BuiltIn {
        group: "apiregistration.k8s.io",
        version: "v1",
        plural: "apiservices",
        kind: "APIService",
        namespaced: false,
        short: &[],
        status: true,
    },
    BuiltIn {
        group: "authentication.k8s.io",
        version: "v1",
        plural: "tokenreviews",
        kind: "TokenReview",
        namespaced: false,
        short: &[],
        status: false,
    },
    BuiltIn {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        kind: "Lease",
        namespaced: true,
        short: &[],
        status: false,
    },
    BuiltIn {
        group: "networking.k8s.io",
        version: "v1",
        plural: "networkpolicies",
        kind: "NetworkPolicy",
        namespaced: true,
        short: &["netpol"],
        status: false,
    },
    BuiltIn {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "roles",
        kind: "Role",
        namespaced: true,
        short: &[],
        status: false,
    },
    BuiltIn {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "rolebindings",
        kind: "RoleBinding",
        namespaced: true,
        short: &[],
        status: false,
    },
    BuiltIn {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterroles",
        kind: "ClusterRole",
        namespaced: false,
        short: &[],
        status: false,
    },
    BuiltIn {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        plural: "clusterrolebindings",
        kind: "ClusterRoleBinding",
        namespaced: false,
        short: &[],
        status: false,
    },
    BuiltIn {
        group: "apiextensions.k8s.io",
        version: "v1",
        plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition",
        namespaced: false,
        short: &["crd", "crds"],
        status: true,
    },
];

/// All served resources.
#[derive(Debug, Clone)]
pub struct Registry {
    resources: Vec<ResourceInfo>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// The registry with only the built-in kinds.
    pub fn new() -> Self {
        let resources = BUILT_INS
            .iter()
            .map(|b| ResourceInfo {
                group: b.group.into(),
                versions: vec![b.version.into()],
                plural: b.plural.into(),
                singular: b.kind.to_lowercase(),
                kind: b.kind.into(),
                namespaced: b.namespaced,
                short_names: b.short.iter().map(|s| s.to_string()).collect(),
                categories: if matches!(b.plural, "pods" | "services") {
                    vec!["all".into()]
                } else {
                    vec![]
                },
                status_subresource: b.status,
                log_subresource: b.plural == "pods",
                tracks_generation: matches!(b.plural, "customresourcedefinitions" | "pods"),
                allow_unconditional_update: true,
                origin: Origin::BuiltIn,
            })
            .collect();
        Registry { resources }
    }

    /// The resource served at `group`/`version` under `plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceInfo> {
        self.resources.iter().find(|r| {
            r.group == group && r.plural == plural && r.versions.iter().any(|v| v == version)
        })
    }

    /// Every resource in `group` served at `version`.
    pub fn in_group_version<'a>(
        &'a self,
        group: &'a str,
        version: &'a str,
    ) -> impl Iterator<Item = &'a ResourceInfo> + 'a {
        self.resources
            .iter()
            .filter(move |r| r.group == group && r.versions.iter().any(|v| v == version))
    }

    /// All resources.
    pub fn all(&self) -> &[ResourceInfo] {
        &self.resources
    }

    /// The groups (other than core) with their versions, in first-seen order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in self.resources.iter().filter(|r| !r.group.is_empty()) {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) => {
                    for v in &r.versions {
                        if !vs.contains(v) {
                            vs.push(v.clone());
                        }
                    }
                }
                None => out.push((r.group.clone(), r.versions.clone())),
            }
        }
        out
    }

    /// Adds or replaces the resource `info` (same group and plural).
    pub fn upsert(&mut self, info: ResourceInfo) {
        self.remove(&info.group.clone(), &info.plural.clone());
        self.resources.push(info);
    }

    /// Stops serving `group`/`plural`.
    pub fn remove(&mut self, group: &str, plural: &str) {
        self.resources
            .retain(|r| !(r.group == group && r.plural == plural));
    }
}

/// Reads a string at a JSON pointer, or "".
pub fn str_at<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Whether `group`/`plural` is served read-only (get and list only).
pub fn read_only(group: &str, plural: &str) -> bool {
    group.is_empty() && plural == "componentstatuses"
}
