//! `aegis-worker`: the feed, brain and orchestrator roles of an engine.
//!
//! Nothing is implemented here yet (issue 3 builds it). The crate exists so the
//! workspace has its final shape; it exports nothing and claims nothing.
