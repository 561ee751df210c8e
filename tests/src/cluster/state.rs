//! The server's shared state: the resource registry and the object store,
//! behind one lock so that a CRD and the objects it serves change together.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::resources::Registry;
use super::store::Store;

/// Tunables for a test cluster.
#[derive(Debug, Clone)]
pub struct Config {
    /// Number of changes kept for watches; older resourceVersions answer 410.
    pub history_limit: usize,
    /// Interval between BOOKMARK events on watches that allow them.
    pub bookmark_interval: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            history_limit: super::store::DEFAULT_HISTORY,
            bookmark_interval: std::time::Duration::from_secs(1),
        }
    }
}

/// Registry plus store.
#[derive(Debug)]
pub struct State {
    /// Served resources.
    pub registry: Registry,
    /// Stored objects.
    pub store: Store,
    /// Simulated container logs by (namespace, pod, container).
    pub logs: BTreeMap<(String, String, String), String>,
    /// Tokens issued through `serviceaccounts/{name}/token`, by token.
    pub tokens: BTreeMap<String, Issued>,
}

/// The state shared by all request handlers.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    /// Tunables.
    pub config: Config,
}

impl Shared {
    /// An empty state: no namespace, no object (the caller seeds it; see
    /// `TestCluster::start_at`).
    pub fn new(config: Config) -> Self {
        let state = State {
            registry: Registry::new(),
            store: Store::new(config.history_limit),
            logs: BTreeMap::new(),
            tokens: BTreeMap::new(),
        };
        Shared {
            state: Mutex::new(state),
            config,
        }
    }

    /// Locks the state (a poisoned lock is still usable: writes are whole-object).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A token this server issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The account's namespace.
    pub namespace: String,
    /// The account's name.
    pub name: String,
    /// The account's uid when the token was issued.
    pub uid: String,
    /// The audiences the token is for.
    pub audiences: Vec<String>,
    /// When it expires.
    pub expires: DateTime<Utc>,
}
