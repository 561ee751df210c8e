//! Strategies as the configuration names them: which exist, the parameters
//! each takes, and whether a given set of parameters is valid.
//!
//! This is the part of a strategy that a configuration (and the operator,
//! checking a `TradingEngine` before any pod exists) needs; how a strategy
//! trades is the engine's (`aegis_engine::strategy`). [`parse`] turns a name
//! and string parameters into a [`StrategyParams`], with every range and
//! constraint checked, or a [`StrategyError`] naming what is wrong:
//!
//! ```
//! use std::collections::BTreeMap;
//! use aegis_contract::strategy::{parse, StrategyParams};
//!
//! let given = BTreeMap::from([("fast".to_string(), "5".to_string())]);
//! let StrategyParams::SmaCross(p) = parse("sma-cross", &given)? else { unreachable!() };
//! assert_eq!((p.fast, p.slow), (5, 20));
//!
//! let bad = BTreeMap::from([("fast".to_string(), "30".to_string())]);
//! assert_eq!(parse("sma-cross", &bad).unwrap_err().to_string(),
//!            "slow (20) must be greater than fast (30)");
//! # Ok::<(), aegis_contract::strategy::StrategyError>(())
//! ```
//!
//! Adding a strategy: its parameter type and catalog entry here (a module
//! like [`sma_cross`]), a [`StrategyParams`] variant, and its implementation
//! in the engine.

mod error;
mod params;
pub mod rsi_reversion;
pub mod sma_cross;

use std::collections::BTreeMap;

pub use error::StrategyError;
pub use params::{
    check_period, parse_bool, parse_integer, parse_number, ParamInfo, Params, StrategyInfo, BOOL,
    INTEGER, MAX_PERIOD, NUMBER,
};
pub use rsi_reversion::RsiReversionParams;
pub use sma_cross::SmaCrossParams;

/// Every strategy there is, in the order [`catalog`] lists them.
static REGISTRY: &[StrategyInfo] = &[sma_cross::INFO, rsi_reversion::INFO];

/// A strategy's name with its parameters, parsed and checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StrategyParams {
    /// `sma-cross`.
    SmaCross(SmaCrossParams),
    /// `rsi-reversion`.
    RsiReversion(RsiReversionParams),
}

/// The most bytes one window value (a close) takes in the brain's
/// checkpoint: the longest JSON form of an `f64`
/// (`-2.2250738585072014e-308`, 24 bytes) and its comma, rounded up.
pub const CHECKPOINT_BYTES_PER_VALUE: u64 = 32;
/// The most bytes of a checkpoint besides its window values: the envelope,
/// the strategy's name and parameters, its sums and counters, the cursors.
pub const CHECKPOINT_FIXED_BYTES: u64 = 16 * 1024;
/// The largest brain checkpoint any valid configuration allows: two
/// windows of [`MAX_PERIOD`] values (sma-cross's `fast` and `slow` at the
/// limit), about 6.1 MiB.
pub const MAX_CHECKPOINT_BYTES: u64 =
    CHECKPOINT_FIXED_BYTES + 2 * MAX_PERIOD as u64 * CHECKPOINT_BYTES_PER_VALUE;

impl StrategyParams {
    /// How many window values (past closes) the strategy's saved state
    /// holds: what its checkpoint grows with. sma-cross keeps both windows;
    /// rsi-reversion keeps averages only.
    pub fn window_values(&self) -> u64 {
        match self {
            StrategyParams::SmaCross(p) => p.fast as u64 + p.slow as u64,
            StrategyParams::RsiReversion(_) => 0,
        }
    }

    /// The most bytes the brain's checkpoint of this strategy can take (the
    /// worker's tests check the engine's real checkpoints against it; the
    /// operator sizes the shared-memory volume with it).
    pub fn checkpoint_bytes_max(&self) -> u64 {
        CHECKPOINT_FIXED_BYTES + self.window_values() * CHECKPOINT_BYTES_PER_VALUE
    }
}

/// Parses and checks `name`'s parameters; the first problem is the error.
pub fn parse(
    name: &str,
    given: &BTreeMap<String, String>,
) -> Result<StrategyParams, StrategyError> {
    let info = find(name)?;
    let params = Params::new(info.name, info.params, given)?;
    match info.name {
        sma_cross::NAME => Ok(StrategyParams::SmaCross(SmaCrossParams::from_params(
            &params,
        )?)),
        rsi_reversion::NAME => Ok(StrategyParams::RsiReversion(
            RsiReversionParams::from_params(&params)?,
        )),
        other => unreachable!("strategy {other} is in the registry but not in parse"),
    }
}

/// Every strategy there is.
pub fn catalog() -> &'static [StrategyInfo] {
    REGISTRY
}

/// The catalog entry named `name`.
pub fn find(name: &str) -> Result<&'static StrategyInfo, StrategyError> {
    REGISTRY
        .iter()
        .find(|info| info.name == name)
        .ok_or_else(|| StrategyError::UnknownStrategy {
            name: name.to_string(),
            known: REGISTRY.iter().map(|info| info.name).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_all_parse_with_defaults() {
        for (i, a) in REGISTRY.iter().enumerate() {
            assert!(
                REGISTRY[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
            parse(a.name, &BTreeMap::new()).unwrap_or_else(|e| panic!("{}: {e}", a.name));
        }
    }

    #[test]
    fn no_valid_parameters_allow_a_checkpoint_over_the_maximum() {
        let top = |name: &str, params: &[(&str, usize)]| {
            let given = params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            parse(name, &given).unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        let largest = [
            top(
                "sma-cross",
                &[("fast", MAX_PERIOD - 1), ("slow", MAX_PERIOD)],
            ),
            top("rsi-reversion", &[("period", MAX_PERIOD)]),
        ];
        assert_eq!(largest.len(), REGISTRY.len(), "every strategy at its limit");
        for params in largest {
            assert!(
                params.checkpoint_bytes_max() <= MAX_CHECKPOINT_BYTES,
                "{params:?}"
            );
        }
        assert_eq!(largest[0].window_values(), 2 * MAX_PERIOD as u64 - 1);
    }

    #[test]
    fn periods_outside_the_range_name_the_parameter() {
        assert!(check_period("n", 1, 1).is_ok());
        assert!(check_period("n", MAX_PERIOD, 2).is_ok());
        assert_eq!(
            check_period("n", 1, 2).unwrap_err().to_string(),
            "param n = \"1\": must be between 2 and 100000"
        );
        assert!(check_period("n", MAX_PERIOD + 1, 1).is_err());
    }
}
