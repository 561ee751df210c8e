//! `aegis-contract`: what the engine's processes and the operator agree on.
//!
//! - [`config`]: the configuration format and everything needed to decide
//!   whether a configuration is valid (the operator checks a TradingEngine
//!   with the same code the worker starts with);
//! - [`strategy`]: the strategies' names, parameters and their ranges;
//! - [`records`]: the records the rings carry, and their sizes;
//! - [`endpoint`]: which exchange URLs may be used (plain text only to
//!   loopback);
//! - [`api`]: the bodies of the orchestrator's `/status` and `/flatten`;
//! - [`env`]: environment variable names (the Binance key and secret).
//!
//! It must do no I/O: reading a file, the environment or a socket is the
//! caller's. It depends on no other AEGIS crate but the ring (for the
//! records' layout), so the operator can check a TradingEngine without the
//! engine, the exchange or the worker. How a valid configuration runs is the
//! engine's business.

pub mod api;
pub mod config;
pub mod endpoint;
pub mod env;
pub mod records;
pub mod strategy;
