//! `aegis-engine`: the trading logic, with no I/O at all, that backtest,
//! paper and live trading all call.
//!
//! - [`market`]: candle validation, the CSV format and a simulated market;
//! - [`indicators`]: SMA, EMA, RSI, MACD, Bollinger bands (matched against
//!   TA-Lib);
//! - [`strategy`]: strategies turning closes into target positions, and
//!   [`strategy::signal_for`], the one candle → signal step;
//! - [`trading`]: the exact book, risk limits and execution, which hands its
//!   orders to a [`trading::Venue`] (the paper fill model
//!   [`trading::PAPER`]; the worker implements Binance spot);
//! - [`ledger`]: the ledger's entries and their replay;
//! - [`report`]: backtest and health reports, computed from plain inputs.
//!
//! It must not do I/O or know an exchange: reading and writing files,
//! sockets and clocks is the worker's, and Binance is `aegis-exchange`'s;
//! this crate is handed readers, values and timestamps. Its decisions never
//! branch on live or paper: only the venue differs.

pub mod indicators;
pub mod ledger;
pub mod market;
pub mod report;
pub mod strategy;
pub mod trading;
