//! The orchestrator's pure trading logic: exact money ([`money`]), the book
//! ([`portfolio`]), risk limits ([`risk`]) and the per-signal state machine
//! that turns brain signals into ledger entries ([`execution`]). No I/O: the
//! caller appends the entries to the [`crate::ledger`] before acting on them.

pub mod execution;
pub mod money;
pub mod portfolio;
pub mod risk;

pub use execution::{Execution, ExecutionParams, ParamsError, Pending, RebuildError, Snapshot};
pub use money::{floor_to_step, price_from_f64};
pub use portfolio::{Fill, Portfolio, Side};
pub use risk::{DailyStop, Halt, RiskLimits, RiskState};
