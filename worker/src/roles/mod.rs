//! The three long-running roles, one process (one container) each, and what
//! they share: opening the rings, pacing, the brain's checkpoint.

pub mod brain;
mod checkpoint;
pub mod feed;
mod health_report;
pub mod orchestrator;
mod pacing;
pub mod rings;
pub mod signal_keys;
