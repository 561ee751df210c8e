//! `aegis-worker`: the feed, brain and orchestrator roles of an engine.
//!
//! Built up under issue 3. So far: [`indicators`], the brain's pure,
//! incremental indicator library (SMA, EMA, RSI, MACD, Bollinger Bands) that
//! matches TA-Lib.

pub mod indicators;
pub mod ledger;
pub mod records;
pub mod trading;
