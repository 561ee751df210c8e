//! `aegis-worker`: the binary that wires the crates together into the
//! processes of an engine.
//!
//! - [`roles`]: the feed, brain and orchestrator roles, one process (one
//!   container) each, and the rings they open. The orchestrator's loop is
//!   named steps under `roles/orchestrator/` (`session`, `signals`,
//!   `decide`, `state`, `finish`, `flatten`, `health_report`, `epoch`,
//!   `metrics`), with live trading and the Binance venue in
//!   [`roles::orchestrator::live`].
//! - [`store`]: the files the engine keeps its state in: the ledger file,
//!   report files, CSV replay files.
//! - [`local`]: `up` (the roles under the local supervisor) and `backtest`
//!   (a CSV through the roles, then a report), and the one-loop inline
//!   backtest they are measured against.
//! - [`research`]: `download` (klines from the exchange into a replay
//!   CSV) and `sweep` (a parameter grid over one file, on every core).
//! - [`supervisor`]: the process supervisor behind `up`, probing and
//!   restarting the roles like the kubelet.
//! - [`config`]: the contract's configuration, read from the file and the
//!   environment; [`cli`]: the command line and exit codes.
//!
//! The logic it runs lives in the layer crates: `aegis-contract` (the
//! configuration and the bodies the operator reads), `aegis-engine` (trading
//! logic, no I/O), `aegis-exchange` (Binance) and `aegis-runtime` (HTTP,
//! metrics, telemetry, shutdown). The strategies and the book are the
//! engine's; this crate does the I/O around them: rings, files, sockets and
//! processes.

pub mod cli;
pub mod config;
pub mod local;
pub mod research;
pub mod roles;
pub mod store;
pub mod supervisor;
