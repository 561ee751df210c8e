//! The operator's control key, and each engine's control-API token made
//! from it.
//!
//! Every engine's orchestrator requires a bearer token on its control API
//! (`GET /status`, `POST /flatten`; see `aegis_runtime::server`). The
//! operator does not store those tokens anywhere it would have to read
//! back: it keeps one random key, in the Secret [`KEY_SECRET`] of its own
//! namespace (made on first start, read on every start), and *derives* each
//! engine's token as HMAC-SHA256(key, engine uid). So the operator needs
//! only `create` on Secrets in engine namespaces — never `get` or `list`,
//! which would let it (or whoever takes it over) read every Secret in the
//! cluster.
//!
//! The token's Secret has a name derived from the key too
//! ([`ControlKey::secret_name`]): nobody without the key can create a
//! Secret of that name in advance with a token of their own choosing. A
//! new key (someone deleted [`KEY_SECRET`]) means new names and new tokens,
//! so engine pods are replaced once with the new Secret mounted.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{Api, PostParams};
use kube::core::ObjectMeta;
use sha2::Sha256;

use aegis_runtime::ControlToken;

use crate::crd::TradingEngine;

/// The Secret (in the operator's namespace) holding the control key.
pub const KEY_SECRET: &str = "aegis-operator-control-key";
/// The key's entry in [`KEY_SECRET`].
pub const KEY_ENTRY: &str = "key";
/// Random bytes in a new key.
pub const KEY_BYTES: usize = 32;
/// The token's entry in an engine's token Secret (the file name in the
/// orchestrator's mount).
pub const TOKEN_ENTRY: &str = "token";

/// Why the key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or creating [`KEY_SECRET`] failed.
    #[error("control key Secret {namespace}/{KEY_SECRET}: {action} failed: {source}")]
    Api {
        /// The operator's namespace.
        namespace: String,
        /// `get` or `create`.
        action: &'static str,
        /// The API error (boxed: it is large, and rare).
        #[source]
        source: Box<kube::Error>,
    },
    /// The Secret exists but holds no usable key (its value is never shown).
    #[error(
        "control key Secret {namespace}/{KEY_SECRET} has no entry {KEY_ENTRY:?} of at least \
         {KEY_BYTES} bytes; delete it and the operator makes a new one (engine pods are then \
         replaced once)"
    )]
    Unusable {
        /// The operator's namespace.
        namespace: String,
    },
    /// The system's random source failed.
    #[error("no randomness for a control key: {0}")]
    Random(String),
}

/// The operator's control key (see the module docs). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ControlKey(Vec<u8>);

impl fmt::Debug for ControlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(aegis_runtime::control_token::REDACTED)
    }
}

impl ControlKey {
    /// A key of these bytes (tests, and the value read from [`KEY_SECRET`]).
    /// `None` when shorter than [`KEY_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= KEY_BYTES).then(|| ControlKey(bytes.to_vec()))
    }

    /// The key in `namespace`'s [`KEY_SECRET`], made (with [`KEY_BYTES`]
    /// random bytes) when it does not exist. Several operator replicas
    /// starting at once agree: a create that loses the race reads the
    /// winner's key.
    pub async fn load_or_create(client: kube::Client, namespace: &str) -> Result<Self, KeyError> {
        let secrets: Api<Secret> = Api::namespaced(client, namespace);
        let api = |action| {
            move |source| KeyError::Api {
                namespace: namespace.to_string(),
                action,
                source: Box::new(source),
            }
        };
        if let Some(found) = secrets.get_opt(KEY_SECRET).await.map_err(api("get"))? {
            return Self::from_secret(&found, namespace);
        }
        let mut bytes = vec![0u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(KEY_SECRET.into()),
                labels: Some(BTreeMap::from([(
                    "app.kubernetes.io/managed-by".to_string(),
                    "aegis-operator".to_string(),
                )])),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(KEY_ENTRY.to_string(), ByteString(bytes))])),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        match secrets.create(&PostParams::default(), &secret).await {
            Ok(made) => Self::from_secret(&made, namespace),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                let found = secrets.get(KEY_SECRET).await.map_err(api("get"))?;
                Self::from_secret(&found, namespace)
            }
            Err(e) => Err(api("create")(e)),
        }
    }

    fn from_secret(secret: &Secret, namespace: &str) -> Result<Self, KeyError> {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(KEY_ENTRY))
            .and_then(|b| Self::from_bytes(&b.0))
            .ok_or_else(|| KeyError::Unusable {
                namespace: namespace.to_string(),
            })
    }

    fn mac(&self, purpose: &str, uid: &str) -> [u8; 32] {
        // HMAC takes a key of any length; new_from_slice cannot fail for it.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC-SHA256 accepts keys of every length"),
        };
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(uid.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The control-API token of the engine with this uid.
    pub fn token(&self, uid: &str) -> ControlToken {
        ControlToken::from_bytes(&self.mac("control-token", uid))
    }

    /// The control-API token of `te`; `None` before it has a uid (it was
    /// not read from the API server).
    pub fn engine_token(&self, te: &TradingEngine) -> Option<ControlToken> {
        te.metadata.uid.as_deref().map(|uid| self.token(uid))
    }

    /// The name of the engine's token Secret: `<engine>-control-<10 hex
    /// digits>`, the digits derived from the key and the engine's uid.
    pub fn secret_name(&self, engine: &str, uid: &str) -> String {
        let digits = hex(&self.mac("secret-name", uid));
        format!("{engine}-control-{}", &digits[..10])
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(fill: u8) -> ControlKey {
        ControlKey::from_bytes(&[fill; KEY_BYTES]).expect("long enough")
    }

    #[test]
    fn tokens_and_names_are_stable_per_engine_and_differ_between_engines_and_keys() {
        let (a, b) = (key(1), key(2));
        assert_eq!(a.token("uid-1"), a.token("uid-1"));
        assert_ne!(a.token("uid-1"), a.token("uid-2"));
        assert_ne!(a.token("uid-1"), b.token("uid-1"));
        let name = a.secret_name("btc", "uid-1");
        assert!(name.starts_with("btc-control-") && name.len() == "btc-control-".len() + 10);
        assert_eq!(name, a.secret_name("btc", "uid-1"));
        assert_ne!(name, b.secret_name("btc", "uid-1"));
        assert_ne!(name, a.secret_name("btc", "uid-2"));
        assert!(
            !a.token("uid-1").expose().contains(&name[12..]),
            "the name does not give away the token"
        );
    }

    #[test]
    fn a_short_key_is_refused_and_no_key_prints() {
        assert!(ControlKey::from_bytes(&[0; KEY_BYTES - 1]).is_none());
        assert_eq!(
            format!("{:?}", key(3)),
            aegis_runtime::control_token::REDACTED
        );
    }
}
