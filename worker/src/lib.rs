//! `aegis-worker`: the feed, brain and orchestrator roles of an engine, the
//! local supervisor behind `aegis-worker up`, and backtests.
//!
//! Pure logic (indicators, strategies, validation, accounting, reports) lives
//! apart from the processes that run it ([`roles`], [`runtime`]), so it can be
//! tested without processes or servers.

pub mod cli;
pub mod config;
/// Binance Spot: request signing, symbol filters, kline parsing, the REST
/// client and the kline stream.
pub mod exchange;
pub mod indicators;
pub mod ledger;
pub mod local;
pub mod market;
pub mod records;
pub mod report;
pub mod roles;
pub mod runtime;
pub mod strategy;
pub mod supervisor;
pub mod trading;
