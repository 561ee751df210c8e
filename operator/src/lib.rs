//! `aegis-operator`: the `TradingEngine` CRD and the pure functions its
//! controller is built on.
//!
//! - [`crd`]: the custom resource's types; their schema is the CRD.
//! - [`desired`]: the pod (and its ConfigMap) an engine should have.
//! - [`status`]: the status an engine should show, from what was observed.
//!
//! None of these do I/O: the controller (issue 6, later) reads the cluster,
//! calls them, and writes what they return.

pub mod controller;
pub mod crd;
pub mod desired;
pub mod quantity;
pub mod status;
