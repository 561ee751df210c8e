//! `aegis-operator`: the `TradingEngine` CRD and its controller.
//!
//! Nothing is implemented here yet (issue 6 builds it). The crate exists so the
//! workspace has its final shape; it exports nothing and claims nothing.
