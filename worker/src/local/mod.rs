//! Running an engine without a cluster: `up` (the three roles under a local
//! supervisor) and `backtest` (a CSV through the three roles, then a report).
//! Both start the roles as child processes of this same binary, sharing a
//! ring directory and a generated configuration file.

pub mod backtest;
mod children;
pub mod inline;
pub mod runs;
pub mod up;
