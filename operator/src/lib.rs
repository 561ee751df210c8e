//! `aegis-operator`: the `TradingEngine` CRD and the pure functions its
//! controller is built on.
//!
//! - [`crd`]: the custom resource's types; their schema is the CRD.
//! - [`desired`]: the pod (and its ConfigMap) an engine should have.
//! - [`status`]: the status an engine should show, from what was observed.
//! - [`quantity`]: memory quantities to bytes and back.
//! - [`consent`]: whether the Secrets, claims and image an engine names may
//!   be used for it.
//!
//! None of these do I/O: the [`controller`] reads the cluster, calls them,
//! and writes what they return. The process around it: [`leader`]
//! (election with a Lease), [`operator`] (the controller only while
//! leading), [`metrics`], [`server`] (`/healthz` `/readyz` `/metrics`) and
//! [`cli`] (the arguments of `aegis-operator run`).

pub mod cli;
pub mod consent;
pub mod control_key;
pub mod controller;
pub mod crd;
pub mod desired;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod quantity;
pub mod server;
pub mod status;

#[cfg(test)]
mod tests {
    /// A real API server speaks only https: the client must carry a TLS
    /// stack (kube answers `TlsRequired` for an https URL without one).
    #[test]
    fn the_kube_client_can_speak_tls() {
        let url = "https://kubernetes.default.svc:443"
            .parse()
            .expect("a valid URL");
        let config = kube::Config::new(url);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        // Building the client needs a runtime but makes no connection.
        let built = runtime.block_on(async { kube::Client::try_from(config) });
        assert!(built.is_ok(), "no TLS stack: {:?}", built.err());
    }
}
