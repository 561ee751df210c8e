//! `aegis-worker`: the binary that wires the crates together — the feed,
//! brain and orchestrator roles of an engine ([`roles`]), the local
//! supervisor behind `aegis-worker up` ([`supervisor`], [`local`]),
//! backtests, and the files the engine's state is kept in ([`store`]).
//!
//! The logic it runs lives in the layer crates: `aegis-contract` (the
//! configuration and the bodies the operator reads), `aegis-engine` (trading
//! logic, no I/O), `aegis-exchange` (Binance) and `aegis-runtime` (HTTP,
//! metrics, telemetry, shutdown).

pub mod cli;
pub mod config;
pub mod local;
pub mod roles;
pub mod store;
pub mod supervisor;
