//! `aegis-tests`: the project's test infrastructure.
//!
//! [`cluster`] is an in-memory Kubernetes API server over HTTP on loopback,
//! for integration tests (as a library) and for trying kubectl locally (the
//! `aegis-test-cluster` binary). [`kubectl`] runs the real kubectl against
//! it. [`exchange`] is a Binance Spot simulator, REST and the WebSocket
//! kline stream (the `aegis-exchange-sim` binary serves one standalone).
//! [`ports`] hands out loopback ports for servers started in other processes.
//! [`tools`] requires the outside programs tests drive (prometheus, chromium).

pub mod cluster;
pub mod exchange;
pub mod kubectl;
pub mod ports;
pub mod tools;
