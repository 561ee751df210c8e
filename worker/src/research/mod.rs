//! The research loop around `backtest`: `download` (history from the
//! exchange into the replay CSV that `backtest` reads) and `sweep` (every
//! combination of a parameter grid over one parsed file, on every core).

pub mod download;
pub mod sweep;
