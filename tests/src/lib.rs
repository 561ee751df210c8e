//! `aegis-tests`: the project's test infrastructure.
//!
//! Nothing is implemented here yet (issue 5 builds the test cluster). The crate
//! exists so the workspace has its final shape; it exports nothing.
