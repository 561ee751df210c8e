//! The operator's HTTP endpoints on one port: `/healthz` (the election loop
//! beats), `/readyz` (its last Lease call succeeded recently; a healthy
//! standby is ready), `/metrics` (Prometheus text) and `/status` (JSON).
//! Served by [`aegis_runtime::server`] (the server the worker's roles use)
//! on its own thread, so a stuck async runtime still answers and `/healthz` says why.

use std::net::SocketAddr;
use std::sync::Arc;

use aegis_runtime::server::{serve as serve_probes, Probe, Probes, ServerHandle};

use crate::leader::LeaderStatus;
use crate::metrics::Metrics;

/// The default listen address of `aegis-operator run`.
pub const DEFAULT_HTTP_ADDR: &str = "0.0.0.0:8080";

/// What the endpoints read.
pub struct OperatorProbes {
    /// The election's state.
    pub leader: Arc<LeaderStatus>,
    /// The metrics.
    pub metrics: Metrics,
}

impl Probes for OperatorProbes {
    fn live(&self) -> Probe {
        self.leader.live()
    }

    fn ready(&self) -> Probe {
        self.leader.ready()
    }

    fn metrics(&self) -> String {
        self.metrics.encode()
    }

    fn status(&self) -> serde_json::Value {
        self.leader.to_json()
    }
}

/// Binds `addr` (errors come back here) and serves the endpoints until the
/// handle is dropped.
pub fn serve(
    addr: SocketAddr,
    leader: Arc<LeaderStatus>,
    metrics: Metrics,
) -> std::io::Result<ServerHandle> {
    serve_probes(addr, Arc::new(OperatorProbes { leader, metrics }))
}
