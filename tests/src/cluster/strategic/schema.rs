//! The patch strategies of the built-in kinds' fields, as their Go types
//! declare them (`patchStrategy` / `patchMergeKey` struct tags, published
//! as `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` in the
//! OpenAPI document). A field not listed here is replaced as a whole, which
//! is what the apiserver does for lists without a strategy.
//!
//! Fields are found by their path of member names from the object's root
//! (list elements are transparent), relative to the PodSpec where a kind
//! embeds one, so one table serves Pods and every workload's template.

/// How a list (or map) field is patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Replaced as a whole (no strategy declared).
    Replace,
    /// A list of objects merged element by element on `merge key`.
    MergeOn(&'static str),
    /// A list of scalars merged as a set (original order, new values appended).
    MergeScalars,
}

/// Where a kind keeps its PodSpec, as member names from the root.
fn pod_spec_roots(group: &str, plural: &str) -> &'static [&'static [&'static str]] {
    match (group, plural) {
        ("", "pods") => &[&["spec"]],
        ("", "podtemplates") => &[&["template", "spec"]],
        ("", "replicationcontrollers")
        | ("apps", "deployments" | "replicasets" | "statefulsets" | "daemonsets")
        | ("batch", "jobs") => &[&["spec", "template", "spec"]],
        ("batch", "cronjobs") => &[&["spec", "jobTemplate", "spec", "template", "spec"]],
        _ => &[],
    }
}

/// Fields of a PodSpec (and of its containers), relative to the PodSpec.
fn in_pod_spec(rel: &[&str]) -> Option<Strategy> {
    use Strategy::*;
    let s = match rel {
        ["containers" | "initContainers" | "ephemeralContainers"] => MergeOn("name"),
        ["containers" | "initContainers" | "ephemeralContainers", "env"] => MergeOn("name"),
        ["containers" | "initContainers" | "ephemeralContainers", "ports"] => {
            MergeOn("containerPort")
        }
        ["containers" | "initContainers" | "ephemeralContainers", "volumeMounts"] => {
            MergeOn("mountPath")
        }
        ["containers" | "initContainers" | "ephemeralContainers", "volumeDevices"] => {
            MergeOn("devicePath")
        }
        ["volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims"] => MergeOn("name"),
        ["hostAliases"] => MergeOn("ip"),
        ["topologySpreadConstraints"] => MergeOn("topologyKey"),
        _ => return None,
    };
    Some(s)
}

/// The strategy of the field at `path` (member names from the root) of a
/// built-in object of `group`/`plural`.
pub fn strategy(group: &str, plural: &str, path: &[&str]) -> Strategy {
    use Strategy::*;
    for root in pod_spec_roots(group, plural) {
        if let Some(rel) = path.strip_prefix(*root) {
            if let Some(s) = in_pod_spec(rel) {
                return s;
            }
        }
    }
    // ObjectMeta, wherever it appears (the object's own, a template's).
    match path {
        [.., "metadata", "finalizers"] => return MergeScalars,
        [.., "metadata", "ownerReferences"] => return MergeOn("uid"),
        _ => {}
    }
    match (group, plural, path) {
        (_, _, ["status", "conditions"]) => MergeOn("type"),
        ("", "services", ["spec", "ports"]) => MergeOn("port"),
        ("", "serviceaccounts", ["secrets"]) => MergeOn("name"),
        ("", "nodes", ["status", "addresses"]) => MergeOn("type"),
        ("", "nodes", ["spec", "podCIDRs"]) => MergeScalars,
        _ => Replace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_spec_fields_are_found_in_pods_and_templates() {
        assert_eq!(
            strategy("", "pods", &["spec", "containers"]),
            Strategy::MergeOn("name")
        );
        assert_eq!(
            strategy(
                "apps",
                "deployments",
                &["spec", "template", "spec", "containers", "ports"]
            ),
            Strategy::MergeOn("containerPort")
        );
        assert_eq!(
            strategy(
                "batch",
                "cronjobs",
                &["spec", "jobTemplate", "spec", "template", "spec", "volumes"]
            ),
            Strategy::MergeOn("name")
        );
        assert_eq!(
            strategy("", "pods", &["spec", "tolerations"]),
            Strategy::Replace
        );
        assert_eq!(
            strategy("apps", "deployments", &["spec", "containers"]),
            Strategy::Replace
        );
    }

    #[test]
    fn metadata_and_kind_specific_fields() {
        assert_eq!(
            strategy(
                "apps",
                "deployments",
                &["spec", "template", "metadata", "finalizers"]
            ),
            Strategy::MergeScalars
        );
        assert_eq!(
            strategy("", "services", &["spec", "ports"]),
            Strategy::MergeOn("port")
        );
        assert_eq!(
            strategy("", "configmaps", &["spec", "ports"]),
            Strategy::Replace
        );
    }
}
