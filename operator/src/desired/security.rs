//! The security context of engine pods: a fixed non-root user, nothing
//! writable but the volumes, no privilege escalation, no capabilities, the
//! runtime's default seccomp profile.

use k8s_openapi::api::core::v1::{
    Capabilities, PodSecurityContext, SeccompProfile, SecurityContext,
};

/// The user (and group) every engine container runs as: the conventional
/// "nonroot" user of distroless images.
pub const RUN_AS_USER: i64 = 65532;

fn seccomp() -> Option<SeccompProfile> {
    Some(SeccompProfile {
        type_: "RuntimeDefault".into(),
        ..Default::default()
    })
}

/// The pod's security context; `fsGroup` makes a claim's files writable by
/// the user.
pub fn pod() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        fs_group: Some(RUN_AS_USER),
        seccomp_profile: seccomp(),
        ..Default::default()
    }
}

/// Each container's security context.
pub fn container() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        seccomp_profile: seccomp(),
        ..Default::default()
    }
}
