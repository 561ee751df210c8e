//! The orchestrator's pure trading logic: exact money ([`money`]), the book
//! ([`portfolio`]), risk limits ([`risk`]), the per-signal state machine
//! that turns brain signals into ledger entries ([`execution`]), the
//! protective exits' fill model ([`exits`]), the exits an exchange holds
//! live ([`held_exits`]) and the venues that carry its orders out
//! ([`venue`]). No I/O: the caller appends
//! the entries to the ledger (the worker's fsync'd file) before acting on
//! them.
//!
//! The orchestrator's loop, in short (a `Vec` stands in for the ledger file):
//!
//! ```
//! use aegis_contract::records::Signal;
//! use aegis_engine::ledger::Entry;
//! use aegis_engine::trading::{Execution, ExecutionParams};
//! use rust_decimal::Decimal;
//!
//! let params = ExecutionParams::new(Decimal::from(10_000));
//! // Startup: rebuild the book from the ledger's entries.
//! let mut ledger: Vec<Entry> = Vec::new();
//! let mut exec = Execution::rebuild(params, &ledger)?;
//! // Per signal: append (fsync'd) first, then act and commit the ring cursor.
//! for (seq, target) in [(1, 1), (2, 1), (3, 0)] {
//!     let signal = Signal { seq, ts_ms: seq as i64 * 60_000, open: 100.0, close: 101.0, target, ..Signal::default() };
//!     ledger.extend(exec.on_signal(&signal));
//! }
//! // Bought at bar 2's open; the sell decided at bar 3 fills at the next open.
//! assert_eq!(exec.portfolio().position, "99.00990".parse::<Decimal>()?);
//! assert_eq!(exec.pending().map(|p| p.signal_seq), Some(3));
//! // A restart replays the same book from the entries.
//! let again = Execution::rebuild(ExecutionParams::new(Decimal::from(10_000)), &ledger)?;
//! assert_eq!(again.portfolio(), exec.portfolio());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod execution;
pub mod exits;
pub mod held_exits;
pub mod money;
pub mod portfolio;
pub mod risk;
pub mod venue;

pub use execution::{
    Execution, ExecutionParams, FlattenError, HeldExitError, Limit, ParamsError, Pending,
    RebuildError, SentOrder, SettleError, Snapshot,
};
pub use held_exits::{ExitPlan, HeldExits};
pub use money::{floor_to_step, price_from_f64};
pub use portfolio::{Fill, Portfolio, Side};
pub use risk::{DailyStop, Halt, LimitError, RiskLimits, RiskState};
pub use venue::{Paper, Settlement, Venue, PAPER};
