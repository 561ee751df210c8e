//! Trading strategies for the `brain` role: one candle in, one target position out.
//!
//! A [`Strategy`] is fed every accepted candle, in order, through
//! [`Strategy::on_candle`] (the built-ins read its close, [`Strategy::on_close`])
//! and answers with the [`Target`] position to hold after that bar (short,
//! flat or long). It is built from parameters the contract has checked with
//! [`from_params`] — the one constructor; [`build`] parses a name and string
//! parameters first — and [`catalog`] lists what exists (the names,
//! parameters and their checks are the contract's, `aegis_contract::strategy`,
//! so that a configuration can be judged without the engine). Besides the
//! built-ins, [`rules`] runs a user's own rules (`docs/strategies.md`).
//! [`signal_for`] is the one step from a candle to the signal the
//! orchestrator reads:
//!
//! ```
//! use std::collections::BTreeMap;
//! use aegis_engine::strategy::{build, Target};
//!
//! let params = BTreeMap::from([("fast".to_string(), "1".to_string()),
//!                              ("slow".to_string(), "2".to_string())]);
//! let mut s = build("sma-cross", &params)?;
//! let targets: Vec<Target> = [10.0, 9.0, 11.0].iter().map(|&c| s.on_close(c)).collect();
//! assert_eq!(targets, [Target::Flat, Target::Flat, Target::Long]);
//!
//! // A restarted brain continues exactly where it stopped:
//! let saved = s.save();
//! let mut again = build("sma-cross", &params)?;
//! again.restore(&saved)?;
//! assert_eq!(again.on_close(8.0), s.on_close(8.0));
//! # Ok::<(), aegis_engine::strategy::StrategyError>(())
//! ```
//!
//! # Rules every strategy keeps
//!
//! - **Warm-up**: the target is [`Target::Flat`] for the first
//!   [`Strategy::warmup`] closes.
//! - **Bad input**: a close the indicators reject (NaN, infinite, beyond
//!   ±[`MAX_ABS_CLOSE`](crate::indicators::MAX_ABS_CLOSE)) is ignored: `on_close` returns the previous target
//!   and the state is untouched, so later targets are those of a run that
//!   never saw it. Nothing panics.
//! - **Restart**: [`Strategy::save`] returns the complete state (parameters,
//!   indicators, position) as JSON; [`Strategy::restore`] on a freshly built
//!   strategy of the same name and parameters makes it continue exactly as the
//!   saved one would have. A state from another strategy, other parameters or
//!   an inconsistent indicator is refused with [`StrategyError::BadState`] and
//!   the strategy is left as it was. The JSON is
//!   `{"strategy": <name>, "version": 1, "state": {..}}`.
//!
//! # Adding a strategy
//!
//! 1. Declare its name and parameters in `aegis_contract::strategy` (a
//!    parameter type with a `check`, a catalog entry, a `StrategyParams`
//!    variant).
//! 2. Write `engine/src/strategy/<name>.rs` with a doc comment stating its
//!    rules and a type implementing [`Strategy`], built from the contract's
//!    parameter type (see [`sma_cross`] for the pattern). Keep the whole state
//!    in one `Serialize + Deserialize` struct holding the parameters and
//!    indicators, and use `state::save_state` / `load_state` so the
//!    envelope and its checks are shared.
//! 3. Add its arm to [`from_params`].

mod core;
pub mod rsi_reversion;
pub mod rules;
pub mod sma_cross;
mod state;
mod step;

use std::collections::BTreeMap;

pub use self::core::{is_valid_close, period_error, Strategy, Target};
pub use aegis_contract::strategy::{
    catalog, find, parse_bool, parse_integer, parse_number, ParamInfo, Params, StrategyError,
    StrategyInfo, StrategyParams, BOOL, INTEGER, NUMBER,
};
pub use rsi_reversion::{RsiReversion, RsiReversionParams};
pub use rules::RulesStrategy;
pub use sma_cross::{SmaCross, SmaCrossParams};
pub use step::signal_for;

/// Builds the strategy `name` with `params` (parameter name → value as
/// written); missing parameters take their defaults. Every check is the
/// contract's ([`aegis_contract::strategy::parse`]). The `rules` strategy
/// needs its rules: parse them with the contract
/// (`StrategyConfig::checked`, `parse_with_rules`) and use [`from_params`].
pub fn build(
    name: &str,
    params: &BTreeMap<String, String>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    from_params(aegis_contract::strategy::parse(name, params)?)
}

/// The strategy for parameters the contract has checked: the one
/// constructor every strategy is built through.
pub fn from_params(params: StrategyParams) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(match params {
        StrategyParams::SmaCross(p) => Box::new(SmaCross::new(p)?),
        StrategyParams::RsiReversion(p) => Box::new(RsiReversion::new(p)?),
        StrategyParams::Rules(r) => Box::new(RulesStrategy::new(*r)?),
    })
}
