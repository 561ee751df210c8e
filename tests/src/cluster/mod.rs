//! The test cluster: an in-memory Kubernetes API server over HTTP on loopback.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aegis_tests::cluster::ClusterError> {
//! let cluster = aegis_tests::cluster::TestCluster::start().await?;
//! let client = cluster.client()?;
//! # let _ = client;
//! cluster.shutdown().await;
//! # Ok(()) }
//! ```

pub mod apply;
pub mod bootstrap;
pub mod cel;
pub mod crd;
pub mod crd_serving;
pub mod discovery;
pub mod encode;
pub mod error;
pub mod gc;
pub mod handlers;
pub mod jsonpatch;
pub mod kubeconfig;
pub mod meta;
pub mod node;
pub mod objects;
pub mod openapi;
pub mod resources;
pub mod route;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod state;
pub mod store;
pub mod strategic;
pub mod validation;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use state::Config;
use state::Shared;

/// Errors starting or talking to a test cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The server could not start.
    #[error(transparent)]
    Server(#[from] server::ServerError),
    /// Writing the kubeconfig failed.
    #[error("cannot write kubeconfig {path}: {source}")]
    Kubeconfig {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Building a kube client failed.
    #[error("cannot build a kube client: {0}")]
    Client(String),
}

/// A running test cluster.
pub struct TestCluster {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: server::RunningServer,
    kubeconfig: PathBuf,
    _dir: TempDir,
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TestCluster {
    /// Starts a cluster with the default configuration on 127.0.0.1, any port.
    pub async fn start() -> Result<Self, ClusterError> {
        Self::start_with(Config::default()).await
    }

    /// Starts a cluster with `config`.
    pub async fn start_with(config: Config) -> Result<Self, ClusterError> {
        Self::start_at(config, SocketAddr::from(([127, 0, 0, 1], 0)), None).await
    }

    /// Starts a cluster on `addr`, writing its kubeconfig to `kubeconfig` (or a temporary file).
    pub async fn start_at(
        config: Config,
        addr: SocketAddr,
        kubeconfig: Option<&Path>,
    ) -> Result<Self, ClusterError> {
        let shared = Arc::new(Shared::new(config));
        {
            let mut state = shared.lock();
            for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
                objects::create_namespace(&mut state, ns);
            }
            bootstrap::cluster_objects(&mut state);
        }
        let server = server::start(shared.clone(), addr).await?;
        bootstrap::apiserver_endpoints(&mut shared.lock(), server.addr);
        let dir = std::env::temp_dir().join(format!("aegis-test-cluster-{}", uuid::Uuid::new_v4()));
        let path = kubeconfig
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.join("kubeconfig"));
        kubeconfig::write(server.addr, &path).map_err(|source| ClusterError::Kubeconfig {
            path: path.clone(),
            source,
        })?;
        Ok(TestCluster {
            addr: server.addr,
            shared,
            server,
            kubeconfig: path,
            _dir: TempDir(dir),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The kubeconfig written for this cluster.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// A kube-rs client for this cluster (default namespace `default`).
    pub fn client(&self) -> Result<kube::Client, ClusterError> {
        let uri: axum::http::Uri = self
            .url()
            .parse()
            .map_err(|e| ClusterError::Client(format!("{e}")))?;
        let config = kube::Config::new(uri);
        kube::Client::try_from(config).map_err(|e| ClusterError::Client(e.to_string()))
    }

    /// The server's shared state (for helpers such as the simulated node).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// A simulated node named `name` (registered as a Ready Node object).
    pub fn node(&self, name: &str) -> Result<node::SimNode, error::ApiError> {
        node::SimNode::register(self.shared.clone(), name)
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}
