//! `aegis-engine`: the trading logic, with no I/O at all, that backtest,
//! paper and live trading all call.
//!
//! - [`market`]: candle validation, the CSV format and a simulated market;
//! - [`indicators`]: SMA, EMA, RSI, MACD, Bollinger bands (matched against
//!   TA-Lib);
//! - [`strategy`]: strategies turning closes into target positions, and
//!   [`strategy::SignalStep`], the one candle → signal step;
//! - [`trading`]: the exact book, risk limits and execution;
//! - [`ledger`]: the ledger's entries and their replay;
//! - [`report`]: backtest and health reports, computed from plain inputs.
//!
//! Reading and writing files, sockets and clocks is the worker's; this crate
//! is handed readers, values and timestamps.

pub mod indicators;
pub mod ledger;
pub mod market;
pub mod report;
pub mod strategy;
pub mod trading;
