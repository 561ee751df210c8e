//! The three long-running roles, one process (one container) each, and what
//! they share: opening the rings, pacing, the brain's checkpoint.

pub mod brain;
pub mod feed;
pub mod orchestrator;
pub mod rings;
