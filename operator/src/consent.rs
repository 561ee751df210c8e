//! Consent for what a TradingEngine borrows: whoever may create a
//! TradingEngine must not thereby get the operator to mount a Secret or a
//! claim they could not use themselves, or to run an image of their choice
//! (a confused deputy: the operator may create pods, they may not).
//!
//! - A Secret (`credentialsSecretRef`, live mode) or a PersistentVolumeClaim
//!   the spec names (`persistence.claimName`, `replay.claimName`) is used
//!   only if it carries the annotation [`ALLOWED_ENGINES_ANNOTATION`], whose
//!   value lists TradingEngine names of the same namespace separated by
//!   commas, or is `*` for every engine of the namespace. A claim the
//!   engine controls (its own ledger claim, `persistence.size`) needs none.
//! - Images: see [`images`].
//!
//! These functions only decide; the controller reads the objects' metadata,
//! and a [`Refusal`] becomes the engine's Degraded condition, an event, and
//! no pod (a pod already running is deleted: whoever withdrew consent wants
//! the object out of use, and the pod holds the keys or the volume for as
//! long as it runs).

pub mod images;

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::crd::{Mode, TradingEngine};
use images::ImageNotAllowed;

/// The annotation by which a Secret or claim consents to engines.
pub const ALLOWED_ENGINES_ANNOTATION: &str = "aegis.dev/allowed-engines";

/// The value of [`ALLOWED_ENGINES_ANNOTATION`] that admits every engine of
/// the namespace.
pub const ANY_ENGINE: &str = "*";

/// What an object's annotation says about one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Consent {
    /// The engine is listed (or `*`), or owns the object.
    Granted,
    /// The object has no [`ALLOWED_ENGINES_ANNOTATION`].
    NoAnnotation,
    /// The annotation is there but does not list the engine.
    NotListed {
        /// The annotation's value.
        value: String,
    },
}

/// Whether the object with `annotations` consents to the engine `engine`.
/// Entries are trimmed; names are compared exactly.
pub fn consent(annotations: Option<&BTreeMap<String, String>>, engine: &str) -> Consent {
    let Some(value) = annotations.and_then(|a| a.get(ALLOWED_ENGINES_ANNOTATION)) else {
        return Consent::NoAnnotation;
    };
    let listed = value
        .split(',')
        .map(str::trim)
        .any(|entry| entry == ANY_ENGINE || entry == engine);
    if listed {
        Consent::Granted
    } else {
        Consent::NotListed {
            value: value.clone(),
        }
    }
}

/// Whether the object `meta` consents to `te`: by the annotation, or
/// because `te` controls it (an owner reference with `controller: true` and
/// the engine's uid).
pub fn object_consent(meta: &ObjectMeta, te: &TradingEngine) -> Consent {
    let engine_uid = te.metadata.uid.as_deref();
    let owned = meta.owner_references.as_deref().is_some_and(|refs| {
        refs.iter().any(|r| {
            r.controller == Some(true)
                && r.kind == "TradingEngine"
                && engine_uid == Some(r.uid.as_str())
        })
    });
    if owned {
        return Consent::Granted;
    }
    consent(
        meta.annotations.as_ref(),
        te.metadata.name.as_deref().unwrap_or_default(),
    )
}

/// The kinds of objects an engine borrows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A Secret.
    Secret,
    /// A PersistentVolumeClaim.
    Claim,
}

impl Kind {
    /// How `kubectl` names the kind.
    pub fn kubectl_name(self) -> &'static str {
        match self {
            Kind::Secret => "secret",
            Kind::Claim => "persistentvolumeclaim",
        }
    }

    /// How messages name it.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Secret => "Secret",
            Kind::Claim => "PersistentVolumeClaim",
        }
    }
}

/// One object of the engine's namespace that the spec names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Borrowed {
    /// Its kind.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The spec field naming it.
    pub field: &'static str,
}

/// The Secrets and claims `te`'s pod would use that the spec names (in the
/// order the controller checks them): the credentials Secret in live mode
/// only (a paper pod does not mount it), then the ledger claim and the
/// replay claim.
pub fn borrowed(te: &TradingEngine) -> Vec<Borrowed> {
    let spec = &te.spec;
    let mut objects = Vec::new();
    if let (Mode::Live, Some(secret)) = (spec.mode, &spec.credentials_secret_ref) {
        objects.push(Borrowed {
            kind: Kind::Secret,
            name: secret.name.clone(),
            field: "spec.credentialsSecretRef",
        });
    }
    if let Some(claim) = spec.persistence.as_ref().and_then(|p| p.claim_name.clone()) {
        objects.push(Borrowed {
            kind: Kind::Claim,
            name: claim,
            field: "spec.persistence.claimName",
        });
    }
    if let Some(claim) = spec.replay.as_ref().and_then(|r| r.claim_name.clone()) {
        objects.push(Borrowed {
            kind: Kind::Claim,
            name: claim,
            field: "spec.replay.claimName",
        });
    }
    objects
}

/// Why the operator will not make a pod for an engine whose spec it could
/// otherwise build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The spec's image is not on the allow-list.
    Image(ImageNotAllowed),
    /// A borrowed object does not consent.
    NotConsented {
        /// The engine.
        engine: String,
        /// The namespace (the engine's and the object's).
        namespace: String,
        /// The object.
        object: Borrowed,
        /// What its annotation says (never [`Consent::Granted`]).
        consent: Consent,
    },
    /// A claim the spec names does not exist (a missing Secret keeps its own
    /// reason, `SecretNotFound`).
    ClaimNotFound {
        /// The namespace.
        namespace: String,
        /// The claim.
        object: Borrowed,
    },
}

impl Refusal {
    /// The condition's and the event's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::Image(_) => "InvalidSpec",
            Refusal::NotConsented { object, .. } => match object.kind {
                Kind::Secret => "SecretNotConsented",
                Kind::Claim => "ClaimNotConsented",
            },
            Refusal::ClaimNotFound { .. } => "ClaimNotFound",
        }
    }

    /// Whether the spec itself is at fault (phase Failed) rather than
    /// something the engine waits for (phase Degraded).
    pub fn is_invalid_spec(&self) -> bool {
        matches!(self, Refusal::Image(_))
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Image(e) => write!(f, "{e}; no pod is created"),
            Refusal::NotConsented {
                engine,
                namespace,
                object,
                consent,
            } => {
                let Borrowed { kind, name, field } = object;
                write!(
                    f,
                    "the {} {namespace}/{name} ({field}) does not consent to this engine: ",
                    kind.title()
                )?;
                let value = match consent {
                    Consent::NotListed { value } => {
                        write!(f, "its annotation {ALLOWED_ENGINES_ANNOTATION}={value:?} does not list {engine:?}")?;
                        format!("{},{engine}", value.trim_end_matches([',', ' ']))
                    }
                    Consent::NoAnnotation | Consent::Granted => {
                        write!(f, "it has no annotation {ALLOWED_ENGINES_ANNOTATION}")?;
                        engine.clone()
                    }
                };
                write!(
                    f,
                    ". No pod is created until its owner adds the engine: kubectl -n {namespace} annotate --overwrite {} {name} {ALLOWED_ENGINES_ANNOTATION}={value} (or \"{ANY_ENGINE}\" for every engine in {namespace})",
                    kind.kubectl_name()
                )
            }
            Refusal::ClaimNotFound { namespace, object } => write!(
                f,
                "the PersistentVolumeClaim {namespace}/{} ({}) does not exist; no pod is created until it does (and carries the annotation {ALLOWED_ENGINES_ANNOTATION})",
                object.name, object.field
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
    use serde_json::json;

    fn annotated(value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(ALLOWED_ENGINES_ANNOTATION.to_string(), value.to_string())])
    }

    fn engine(spec: serde_json::Value) -> TradingEngine {
        serde_json::from_value(json!({
            "apiVersion": "aegis.dev/v1alpha1", "kind": "TradingEngine",
            "metadata": {"name": "btc", "namespace": "trading", "uid": "uid-btc"},
            "spec": spec,
        }))
        .expect("an engine")
    }

    #[test]
    fn the_annotation_lists_engines_or_admits_all_with_a_star() {
        assert_eq!(consent(None, "btc"), Consent::NoAnnotation);
        assert_eq!(
            consent(Some(&BTreeMap::new()), "btc"),
            Consent::NoAnnotation
        );
        assert_eq!(consent(Some(&annotated("btc")), "btc"), Consent::Granted);
        assert_eq!(
            consent(Some(&annotated("eth, btc ,sol")), "btc"),
            Consent::Granted
        );
        assert_eq!(consent(Some(&annotated("*")), "btc"), Consent::Granted);
        assert_eq!(consent(Some(&annotated("eth,*")), "btc"), Consent::Granted);
        for value in ["", "eth", "btc-live", "bt", "BTC", "btc*", "**"] {
            assert_eq!(
                consent(Some(&annotated(value)), "btc"),
                Consent::NotListed {
                    value: value.to_string()
                },
                "{value:?}"
            );
        }
        // Another annotation or a label of the same name does not count.
        let other = BTreeMap::from([("aegis.dev/allowed-engine".to_string(), "btc".to_string())]);
        assert_eq!(consent(Some(&other), "btc"), Consent::NoAnnotation);
    }

    #[test]
    fn an_object_the_engine_controls_needs_no_annotation() {
        let te = engine(json!({"symbol": "BTCUSDT"}));
        let owner = |uid: &str, controller| OwnerReference {
            api_version: "aegis.dev/v1alpha1".into(),
            kind: "TradingEngine".into(),
            name: "btc".into(),
            uid: uid.into(),
            controller: Some(controller),
            ..Default::default()
        };
        let meta = |refs| ObjectMeta {
            owner_references: Some(refs),
            ..Default::default()
        };
        assert_eq!(
            object_consent(&meta(vec![owner("uid-btc", true)]), &te),
            Consent::Granted
        );
        // Another engine of the same name (deleted and re-created), or a
        // non-controller reference, is not this engine.
        assert_eq!(
            object_consent(&meta(vec![owner("uid-old", true)]), &te),
            Consent::NoAnnotation
        );
        assert_eq!(
            object_consent(&meta(vec![owner("uid-btc", false)]), &te),
            Consent::NoAnnotation
        );
        let listed = ObjectMeta {
            annotations: Some(annotated("btc")),
            ..Default::default()
        };
        assert_eq!(object_consent(&listed, &te), Consent::Granted);
    }

    #[test]
    fn the_borrowed_objects_are_the_live_secret_and_the_named_claims() {
        let paper = engine(json!({"symbol": "BTCUSDT",
            "credentialsSecretRef": {"name": "keys"}, "persistence": {"size": "1Gi"}}));
        assert_eq!(borrowed(&paper), vec![], "paper mounts no Secret");
        let live = engine(
            json!({"symbol": "BTCUSDT", "mode": "live", "source": "binance",
            "credentialsSecretRef": {"name": "keys"},
            "persistence": {"claimName": "ledger"},
            "replay": {"path": "/replay/x.csv", "claimName": "data"}}),
        );
        let objects = borrowed(&live);
        let names: Vec<(Kind, &str, &str)> = objects
            .iter()
            .map(|b| (b.kind, b.name.as_str(), b.field))
            .collect();
        assert_eq!(
            names,
            [
                (Kind::Secret, "keys", "spec.credentialsSecretRef"),
                (Kind::Claim, "ledger", "spec.persistence.claimName"),
                (Kind::Claim, "data", "spec.replay.claimName"),
            ]
        );
    }

    #[test]
    fn a_refusal_names_the_object_the_annotation_and_how_to_add_it() {
        let refusal = |kind, consent| Refusal::NotConsented {
            engine: "btc".into(),
            namespace: "trading".into(),
            object: Borrowed {
                kind,
                name: "keys".into(),
                field: "spec.credentialsSecretRef",
            },
            consent,
        };
        let missing = refusal(Kind::Secret, Consent::NoAnnotation);
        assert_eq!(missing.reason(), "SecretNotConsented");
        assert!(!missing.is_invalid_spec());
        let text = missing.to_string();
        for says in [
            "Secret trading/keys",
            "spec.credentialsSecretRef",
            "no annotation aegis.dev/allowed-engines",
            "kubectl -n trading annotate --overwrite secret keys aegis.dev/allowed-engines=btc",
        ] {
            assert!(text.contains(says), "{says:?} not in {text}");
        }
        let other = refusal(
            Kind::Claim,
            Consent::NotListed {
                value: "eth,sol".into(),
            },
        );
        assert_eq!(other.reason(), "ClaimNotConsented");
        let text = other.to_string();
        for says in [
            "PersistentVolumeClaim trading/keys",
            "aegis.dev/allowed-engines=\"eth,sol\" does not list \"btc\"",
            "annotate --overwrite persistentvolumeclaim keys aegis.dev/allowed-engines=eth,sol,btc",
        ] {
            assert!(text.contains(says), "{says:?} not in {text}");
        }
    }
}
