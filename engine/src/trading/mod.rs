//! The orchestrator's pure trading logic: exact money ([`money`]), the book
//! ([`portfolio`]), risk limits ([`risk`]) and the per-signal state machine
//! that turns brain signals into ledger entries ([`execution`]). No I/O: the
//! caller appends the entries to the [`crate::ledger`] before acting on them.
//!
//! The orchestrator's loop, in short:
//!
//! ```
//! use aegis_engine::ledger::Ledger;
//! use aegis_engine::records::Signal;
//! use aegis_engine::trading::{Execution, ExecutionParams};
//! use rust_decimal::Decimal;
//!
//! let dir = tempfile::tempdir()?;
//! let params = ExecutionParams::new(Decimal::from(10_000));
//! // Startup: recover the ledger (a torn last line is cut and reported) and
//! // rebuild the book from it.
//! let (mut ledger, recovered) = Ledger::open(dir.path().join("ledger.jsonl"))?;
//! if let Some(repair) = &recovered.repaired {
//!     eprintln!("ledger: dropped torn line {} ({} bytes)", repair.line, repair.bytes_dropped);
//! }
//! let mut exec = Execution::rebuild(params, &recovered.entries)?;
//! let clear_halt = false; // from configuration
//! if clear_halt {
//!     ledger.append(&exec.resume(0))?;
//! }
//! // Per signal: append (fsync'd) first, then act and commit the ring cursor.
//! for (seq, target) in [(1, 1), (2, 1), (3, 0)] {
//!     let signal = Signal { seq, ts_ms: seq as i64 * 60_000, open: 100.0, close: 101.0, target, ..Signal::default() };
//!     let entries = exec.on_signal(&signal);
//!     ledger.append(&entries)?;
//! }
//! // Bought at bar 2's open; the sell decided at bar 3 fills at the next open.
//! assert_eq!(exec.portfolio().position, "99.00990".parse::<Decimal>()?);
//! assert_eq!(exec.pending().map(|p| p.signal_seq), Some(3));
//! // A restart replays the same book from the file.
//! drop(ledger);
//! let (_, recovered) = Ledger::open(dir.path().join("ledger.jsonl"))?;
//! let again = Execution::rebuild(ExecutionParams::new(Decimal::from(10_000)), &recovered.entries)?;
//! assert_eq!(again.portfolio(), exec.portfolio());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod execution;
pub mod money;
pub mod portfolio;
pub mod risk;

pub use execution::{
    Execution, ExecutionParams, FlattenError, ParamsError, Pending, RebuildError, SentOrder,
    SettleError, Snapshot,
};
pub use money::{floor_to_step, price_from_f64};
pub use portfolio::{Fill, Portfolio, Side};
pub use risk::{DailyStop, Halt, LimitError, RiskLimits, RiskState};
