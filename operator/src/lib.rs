//! `aegis-operator`: the `TradingEngine` CRD and the pure functions its
//! controller is built on.
//!
//! - [`crd`]: the custom resource's types; their schema is the CRD.
//! - [`desired`]: the pod (and its ConfigMap) an engine should have.
//! - [`status`]: the status an engine should show, from what was observed.
//!
//! None of these do I/O: the [`controller`] reads the cluster, calls them,
//! and writes what they return. The process around it: [`leader`]
//! (election with a Lease), [`operator`] (the controller only while
//! leading), [`metrics`], [`server`] (`/healthz` `/readyz` `/metrics`) and
//! [`cli`] (the arguments of `aegis-operator run`).

pub mod cli;
pub mod controller;
pub mod crd;
pub mod desired;
pub mod leader;
pub mod metrics;
pub mod operator;
pub mod quantity;
pub mod server;
pub mod status;
