//! The pod an engine should have — a pure function of the TradingEngine.
//!
//! [`desired_pod`] returns the Pod and the ConfigMap it reads; the controller
//! creates them, and compares the [`SPEC_HASH_ANNOTATION`] of a running pod
//! with a fresh one to tell a spec change. The pod:
//!
//! - is named `<engine>-engine` (one name, so two racing operators cannot
//!   create two pods: the second create is AlreadyExists), is owned by the
//!   engine (`controller: true`) and carries `app.kubernetes.io/*` labels;
//! - runs three containers — `feed`, `brain`, `orchestrator` — from one
//!   image, args `--config /etc/aegis/config.yaml <role>`, each on its named
//!   port with the probes of [`probes`];
//! - shares a memory-backed emptyDir at `/dev/shm` sized by [`memory`] for
//!   the rings and the brain's largest checkpoint;
//! - mounts the ConfigMap's `config.yaml` ([`config`], the contract's
//!   `Config` type, which every role starts with) at `/etc/aegis`, and the ledger (an emptyDir, or the
//!   claim of `spec.persistence`) at `/var/lib/aegis` in the orchestrator;
//! - gives the exchange keys of `credentialsSecretRef` (keys `apiKey`,
//!   `apiSecret`) to the orchestrator only, and only in live mode;
//! - runs as user 65532 with a read-only root filesystem ([`security`]), no
//!   service account token, and `terminationGracePeriodSeconds` of
//!   [`TERMINATION_GRACE_SECONDS`].

pub mod config;
pub mod memory;
pub mod probes;
pub mod security;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, Pod, PodSpec, Secret, SecretKeySelector, SecretVolumeSource,
    Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::ByteString;
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use crate::control_key::{ControlKey, TOKEN_ENTRY};
use crate::crd::{Mode, TradingEngine, MAX_NAME_LEN};
use crate::quantity::{format_bytes, QuantityError};

/// Where the configuration file is mounted.
pub const CONFIG_DIR: &str = "/etc/aegis";
/// The ConfigMap key (and file name) of the configuration.
pub const CONFIG_KEY: &str = "config.yaml";
/// Where the memory volume is mounted (the rings are in `aegis/` inside).
pub const SHM_DIR: &str = "/dev/shm";
/// Where `replay.claimName` is mounted in the feed.
pub const REPLAY_MOUNT: &str = "/replay";
/// The annotation holding the hash of everything the pod is made from.
pub const SPEC_HASH_ANNOTATION: &str = "aegis.dev/spec-hash";
/// The container environment variables of the exchange API key and secret:
/// the ones the worker reads.
pub use aegis_contract::env::{API_KEY_ENV, API_SECRET_ENV};
/// The keys of the credentials Secret.
pub const SECRET_KEY_API_KEY: &str = "apiKey";
/// See [`SECRET_KEY_API_KEY`].
pub const SECRET_KEY_API_SECRET: &str = "apiSecret";
/// The grace period between SIGTERM and SIGKILL. The roles stop in under a
/// second normally; the brain drains the candle ring for at most 5 s and
/// then checkpoints; with `flattenOnDelete` the orchestrator places and
/// confirms one market order first. 30 s covers all of it several times over
/// (and is the kubelet's default, so nothing surprises an operator).
pub const TERMINATION_GRACE_SECONDS: i64 = 30;
/// The roles, in the order of the containers.
pub const ROLES: [Role; 3] = [Role::Feed, Role::Brain, Role::Orchestrator];

/// What the operator adds to every engine's pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodSettings {
    /// The aegis-worker image, unless the spec overrides it.
    pub image: String,
    /// `imagePullPolicy` of the containers (the cluster default when `None`).
    pub image_pull_policy: Option<String>,
    /// The key each engine's control-API token is derived from.
    pub control_key: ControlKey,
}

/// A spec the schema let through that cannot make a pod. The controller
/// reports it as a condition and an event instead of crash-looping a pod.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The engine was not read from the API server (no uid to own by).
    #[error(
        "the TradingEngine has no name, namespace or uid yet; it must be read from the API server"
    )]
    NotPersisted,
    /// `metadata.name` is longer than [`MAX_NAME_LEN`].
    #[error("metadata.name {name:?} is longer than {MAX_NAME_LEN} characters")]
    NameTooLong {
        /// The name.
        name: String,
    },
    /// `spec.interval` is not a worker interval.
    #[error("spec.interval {value:?}: {message}")]
    Interval {
        /// The value.
        value: String,
        /// The worker's explanation.
        message: String,
    },
    /// `spec.ringCapacity` out of range or not a power of two.
    #[error("spec.ringCapacity {value}: must be a power of two from 1024 to 4194304")]
    RingCapacity {
        /// The value.
        value: u64,
    },
    /// `source: replay` without `replay`.
    #[error("spec.replay: required when spec.source is replay")]
    MissingReplay,
    /// `mode: live` without `credentialsSecretRef`.
    #[error("spec.credentialsSecretRef: required when spec.mode is live")]
    MissingCredentials,
    /// The strategy refuses its parameters.
    #[error("spec.strategy: {message}")]
    Strategy {
        /// The worker's explanation.
        message: String,
    },
    /// An amount that is not a finite decimal.
    #[error("spec.{field}: {value} is not a finite decimal amount")]
    Amount {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
    },
    /// A memory quantity that cannot be read.
    #[error("spec.{field}: {source}")]
    Resources {
        /// The field, e.g. `resources.limits.memory`.
        field: &'static str,
        /// Why.
        source: QuantityError,
    },
    /// A memory request above the limit.
    #[error("spec.resources: the memory request {request} is above the limit {limit}")]
    MemoryRequestAboveLimit {
        /// The request.
        request: String,
        /// The limit.
        limit: String,
    },
    /// The worker would refuse the configuration made from the spec (e.g. a
    /// short strategy in live mode); its message names the worker's field.
    #[error("the engine configuration made from the spec is invalid: {message}")]
    Invalid {
        /// The worker's error.
        message: String,
    },
    /// Writing the configuration failed.
    #[error("serializing the engine configuration: {message}")]
    Serialize {
        /// Why.
        message: String,
    },
}

/// One of the engine's three processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Market data into the candle ring.
    Feed,
    /// Strategy: candles to signals.
    Brain,
    /// Execution, risk, ledger.
    Orchestrator,
}

impl Role {
    /// The container name and the worker subcommand.
    pub fn name(self) -> &'static str {
        match self {
            Role::Feed => "feed",
            Role::Brain => "brain",
            Role::Orchestrator => "orchestrator",
        }
    }

    /// The HTTP port: /healthz /readyz /metrics, and /status for the feed
    /// and the brain (the orchestrator's is on [`config::CONTROL_PORT`]).
    pub fn port(self) -> u16 {
        match self {
            Role::Feed => config::FEED_PORT,
            Role::Brain => config::BRAIN_PORT,
            Role::Orchestrator => config::ORCHESTRATOR_PORT,
        }
    }

    /// The port's name (at most 15 characters, unique in the pod).
    pub fn port_name(self) -> &'static str {
        match self {
            Role::Feed => "feed-http",
            Role::Brain => "brain-http",
            Role::Orchestrator => "orch-http",
        }
    }
}

/// The pod's name for the engine `name`.
pub fn pod_name(name: &str) -> String {
    format!("{name}-engine")
}

/// The ConfigMap's name for the engine `name`.
pub fn config_map_name(name: &str) -> String {
    format!("{name}-engine-config")
}

/// The name of the claim the operator creates for `persistence.size`.
pub fn ledger_claim_name(name: &str) -> String {
    format!("{name}-ledger")
}

/// The labels of everything the operator makes for the engine `name`.
pub fn labels(name: &str) -> BTreeMap<String, String> {
    [
        ("app.kubernetes.io/name", "aegis-engine"),
        ("app.kubernetes.io/instance", name),
        ("app.kubernetes.io/component", "engine"),
        ("app.kubernetes.io/part-of", "aegis"),
        ("app.kubernetes.io/managed-by", "aegis-operator"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Name, namespace, labels and the controller owner reference.
fn owned_meta(te: &TradingEngine, name: String) -> Result<ObjectMeta, SpecError> {
    let owner = te
        .controller_owner_ref(&())
        .ok_or(SpecError::NotPersisted)?;
    let namespace = te.namespace().ok_or(SpecError::NotPersisted)?;
    Ok(ObjectMeta {
        name: Some(name),
        namespace: Some(namespace),
        labels: Some(labels(&te.name_any())),
        owner_references: Some(vec![owner]),
        ..Default::default()
    })
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..Default::default()
    }
}

fn secret_env(env: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: env.into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The name of the orchestrator's control-API port.
pub const CONTROL_PORT_NAME: &str = "orch-control";
/// Mode of the token file: the pod's group (fsGroup) reads it, nobody else.
const TOKEN_FILE_MODE: i32 = 0o440;

/// Volumes, by name.
const CONTROL_VOLUME: &str = "control";
const SHM_VOLUME: &str = "shm";
const CONFIG_VOLUME: &str = "config";
const DATA_VOLUME: &str = "data";
const REPLAY_VOLUME: &str = "replay";

/// The pod and its ConfigMap for `te`, both owned by it; the pod carries the
/// [`SPEC_HASH_ANNOTATION`] of both.
pub fn desired_pod(te: &TradingEngine, ctx: &PodSettings) -> Result<(Pod, ConfigMap), SpecError> {
    let name = te.name_any();
    if name.len() > MAX_NAME_LEN {
        return Err(SpecError::NameTooLong { name });
    }
    let spec = &te.spec;
    let worker = config::worker_config(&name, spec)?;
    let config_yaml = config::config_yaml(&worker)?;
    // Valid here (worker_config checked it); the largest any spec allows
    // otherwise, so the volume is never too small.
    let checkpoint_bytes = worker
        .brain
        .strategy
        .checked()
        .map_or(aegis_contract::strategy::MAX_CHECKPOINT_BYTES, |p| {
            p.checkpoint_bytes_max()
        });
    let shm_bytes = memory::shm_size_bytes(spec.ring_capacity, checkpoint_bytes);
    let image = spec.image.clone().unwrap_or_else(|| ctx.image.clone());
    let uid = te.uid().ok_or(SpecError::NotPersisted)?;
    let control_secret = ctx.control_key.secret_name(&name, &uid);

    let mut containers = Vec::new();
    for role in ROLES {
        let mut mounts = vec![
            mount(SHM_VOLUME, SHM_DIR, false),
            mount(CONFIG_VOLUME, CONFIG_DIR, true),
        ];
        let mut env = Vec::new();
        let mut ports = vec![ContainerPort {
            name: Some(role.port_name().into()),
            container_port: i32::from(role.port()),
            protocol: Some("TCP".into()),
            ..Default::default()
        }];
        match role {
            Role::Feed => {
                if spec.replay.as_ref().is_some_and(|r| r.claim_name.is_some()) {
                    mounts.push(mount(REPLAY_VOLUME, REPLAY_MOUNT, true));
                }
            }
            Role::Brain => {}
            Role::Orchestrator => {
                mounts.push(mount(DATA_VOLUME, config::DATA_DIR, false));
                // The control token reaches this container only.
                mounts.push(mount(CONTROL_VOLUME, config::CONTROL_TOKEN_DIR, true));
                ports.push(ContainerPort {
                    name: Some(CONTROL_PORT_NAME.into()),
                    container_port: i32::from(config::CONTROL_PORT),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                });
                if let (Mode::Live, Some(secret)) = (spec.mode, &spec.credentials_secret_ref) {
                    env.push(secret_env(API_KEY_ENV, &secret.name, SECRET_KEY_API_KEY));
                    env.push(secret_env(
                        API_SECRET_ENV,
                        &secret.name,
                        SECRET_KEY_API_SECRET,
                    ));
                }
            }
        }
        containers.push(Container {
            name: role.name().into(),
            image: Some(image.clone()),
            image_pull_policy: ctx.image_pull_policy.clone(),
            args: Some(vec![
                "--config".into(),
                format!("{CONFIG_DIR}/{CONFIG_KEY}"),
                role.name().into(),
            ]),
            ports: Some(ports),
            env: (!env.is_empty()).then_some(env),
            resources: Some(memory::container_resources(
                spec.resources.as_ref(),
                shm_bytes,
                role == Role::Feed,
            )?),
            liveness_probe: Some(probes::liveness(role.port_name())),
            readiness_probe: Some(probes::readiness(role.port_name())),
            startup_probe: Some(probes::startup(role.port_name())),
            security_context: Some(security::container()),
            volume_mounts: Some(mounts),
            termination_message_policy: Some("FallbackToLogsOnError".into()),
            ..Default::default()
        });
    }

    let config_map_name = config_map_name(&name);
    let mut volumes = vec![
        Volume {
            name: SHM_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                size_limit: Some(format_bytes(shm_bytes)),
            }),
            ..Default::default()
        },
        Volume {
            name: CONFIG_VOLUME.into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map_name.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let data = match &spec.persistence {
        Some(p) => Volume {
            name: DATA_VOLUME.into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: p
                    .claim_name
                    .clone()
                    .unwrap_or_else(|| ledger_claim_name(&name)),
                read_only: Some(false),
            }),
            ..Default::default()
        },
        None => Volume {
            name: DATA_VOLUME.into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    };
    volumes.push(data);
    volumes.push(Volume {
        name: CONTROL_VOLUME.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(control_secret),
            default_mode: Some(TOKEN_FILE_MODE),
            optional: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    });
    if let Some(claim) = spec.replay.as_ref().and_then(|r| r.claim_name.clone()) {
        volumes.push(Volume {
            name: REPLAY_VOLUME.into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim,
                read_only: Some(true),
            }),
            ..Default::default()
        });
    }

    let pod_spec = PodSpec {
        containers,
        volumes: Some(volumes),
        restart_policy: Some("Always".into()),
        termination_grace_period_seconds: Some(TERMINATION_GRACE_SECONDS),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(security::pod()),
        ..Default::default()
    };
    let hash = spec_hash(&pod_spec, &config_yaml)?;

    let mut cm_meta = owned_meta(te, config_map_name)?;
    cm_meta.annotations = Some(BTreeMap::from([(
        SPEC_HASH_ANNOTATION.to_string(),
        hash.clone(),
    )]));
    let config_map = ConfigMap {
        metadata: cm_meta,
        data: Some(BTreeMap::from([(CONFIG_KEY.to_string(), config_yaml)])),
        ..Default::default()
    };

    let mut pod_meta = owned_meta(te, pod_name(&name))?;
    pod_meta.annotations = Some(BTreeMap::from([
        ("prometheus.io/scrape".to_string(), "true".to_string()),
        ("prometheus.io/path".to_string(), "/metrics".to_string()),
        (SPEC_HASH_ANNOTATION.to_string(), hash),
    ]));
    let pod = Pod {
        metadata: pod_meta,
        spec: Some(pod_spec),
        status: None,
    };
    Ok((pod, config_map))
}

/// The Secret holding the engine's control-API token (entry
/// [`TOKEN_ENTRY`]), owned by the engine so it goes with it, named and
/// filled from `key` (see [`crate::control_key`]).
pub fn desired_control_secret(te: &TradingEngine, key: &ControlKey) -> Result<Secret, SpecError> {
    let name = te.name_any();
    let uid = te.uid().ok_or(SpecError::NotPersisted)?;
    let token = key.token(&uid);
    Ok(Secret {
        metadata: owned_meta(te, key.secret_name(&name, &uid))?,
        data: Some(BTreeMap::from([(
            TOKEN_ENTRY.to_string(),
            ByteString(token.expose().as_bytes().to_vec()),
        )])),
        type_: Some("Opaque".into()),
        immutable: Some(true),
        ..Default::default()
    })
}

/// The [`SPEC_HASH_ANNOTATION`] of a pod (an existing one, or one from
/// [`desired_pod`]): equal hashes mean the pod runs the current spec.
pub fn spec_hash_of(pod: &Pod) -> Option<&str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(SPEC_HASH_ANNOTATION)
        .map(String::as_str)
}

/// A short hash of everything the pod is made from: its spec and the
/// configuration file (which the spec only names).
fn spec_hash(pod_spec: &PodSpec, config_yaml: &str) -> Result<String, SpecError> {
    let spec_json = serde_json::to_vec(pod_spec).map_err(|e| SpecError::Serialize {
        message: e.to_string(),
    })?;
    let mut hasher = Sha256::new();
    hasher.update(&spec_json);
    hasher.update([0u8]);
    hasher.update(config_yaml.as_bytes());
    let digest = hasher.finalize();
    Ok(digest[..8].iter().map(|b| format!("{b:02x}")).collect())
}

/// The claim the operator creates for `persistence.size`, owned by the
/// engine; `None` when the spec names an existing claim or has no persistence.
pub fn desired_ledger_claim(
    te: &TradingEngine,
) -> Result<Option<PersistentVolumeClaim>, SpecError> {
    let Some(size) = te
        .spec
        .persistence
        .as_ref()
        .and_then(|p| p.claim_name.is_none().then(|| p.size.clone()).flatten())
    else {
        return Ok(None);
    };
    crate::quantity::parse_bytes(&size).map_err(|source| SpecError::Resources {
        field: "persistence.size",
        source,
    })?;
    let name = te.name_any();
    Ok(Some(PersistentVolumeClaim {
        metadata: owned_meta(te, ledger_claim_name(&name))?,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), size)])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        status: None,
    }))
}
