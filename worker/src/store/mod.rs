//! The files the engine reads and keeps its state in: the orchestrator's
//! append-only ledger ([`Ledger`]), the reports it writes ([`reports`]) and
//! CSV replay files ([`replay`]).

pub mod ledger;
pub mod replay;
pub mod reports;

pub use ledger::{new_ledger_id, Ledger, LedgerError, Recovered, Repair};
