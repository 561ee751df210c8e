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

mod checkpoint;
mod error;
mod params;
pub mod rsi_reversion;
pub mod rules;
pub mod sma_cross;

use std::collections::BTreeMap;

pub use checkpoint::{CHECKPOINT_BYTES_PER_VALUE, CHECKPOINT_FIXED_BYTES, MAX_CHECKPOINT_BYTES};
pub use error::StrategyError;
pub use params::{
    check_period, parse_bool, parse_integer, parse_number, ParamInfo, Params, StrategyInfo, BOOL,
    INTEGER, MAX_PERIOD, NUMBER,
};
pub use rsi_reversion::RsiReversionParams;
pub use rules::{RuleError, Rules, RulesSpec};
pub use sma_cross::SmaCrossParams;

/// Every strategy there is, in the order [`catalog`] lists them.
static REGISTRY: &[StrategyInfo] = &[sma_cross::INFO, rsi_reversion::INFO, rules::INFO];

/// A strategy's name with its parameters, parsed and checked.
#[derive(Clone, Debug, PartialEq)]
pub enum StrategyParams {
    /// `sma-cross`.
    SmaCross(SmaCrossParams),
    /// `rsi-reversion`.
    RsiReversion(RsiReversionParams),
    /// `rules`: the user's rules, compiled.
    Rules(Box<Rules>),
}

impl StrategyParams {
    /// How many window values (past closes) the strategy's saved state
    /// holds: what its checkpoint grows with. sma-cross keeps both windows;
    /// rsi-reversion keeps averages only.
    pub fn window_values(&self) -> u64 {
        match self {
            StrategyParams::SmaCross(p) => p.fast as u64 + p.slow as u64,
            StrategyParams::RsiReversion(_) => 0,
            StrategyParams::Rules(r) => r.program.window_values(),
        }
    }

    /// The most bytes the brain's checkpoint of this strategy can take (the
    /// worker's tests check the engine's real checkpoints against it; the
    /// operator sizes the shared-memory volume with it).
    pub fn checkpoint_bytes_max(&self) -> u64 {
        match self {
            StrategyParams::Rules(r) => r.checkpoint_bytes_max(),
            _ => CHECKPOINT_FIXED_BYTES + self.window_values() * CHECKPOINT_BYTES_PER_VALUE,
        }
    }

    /// Whether the strategy can ask for a short position.
    pub fn shorts(&self) -> bool {
        match self {
            StrategyParams::SmaCross(p) => p.short,
            StrategyParams::RsiReversion(p) => p.short,
            StrategyParams::Rules(r) => r.shorts(),
        }
    }
}

/// Parses and checks `name`'s parameters; the first problem is the error.
/// The `rules` strategy needs its rules: see [`parse_with_rules`].
pub fn parse(
    name: &str,
    given: &BTreeMap<String, String>,
) -> Result<StrategyParams, StrategyError> {
    parse_with_rules(name, given, None)
}

/// The one way from a configuration's strategy to checked parameters:
/// `name`'s parameters as [`parse`] does, and for `rules` the `rules`
/// compiled ([`rules::compile`]). Rules given to another strategy, or no
/// rules for `rules`, are refused.
pub fn parse_with_rules(
    name: &str,
    given: &BTreeMap<String, String>,
    rules: Option<&RulesSpec>,
) -> Result<StrategyParams, StrategyError> {
    let info = find(name)?;
    match (info.name, rules) {
        (rules::NAME, Some(spec)) => {
            // The rules' own params, set from `given`.
            let spec = spec.with_params(given)?;
            return Ok(StrategyParams::Rules(Box::new(rules::compile(&spec)?)));
        }
        (rules::NAME, None) => {
            return Err(StrategyError::Constraint {
                message: "strategy rules needs its rules (indicators, enter_long, exit_long)"
                    .to_string(),
            })
        }
        (other, Some(_)) => {
            return Err(StrategyError::Constraint {
                message: format!("rules are for strategy rules, not {other}"),
            })
        }
        _ => {}
    }
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
            if a.name == rules::NAME {
                assert!(
                    parse(a.name, &BTreeMap::new()).is_err(),
                    "rules needs rules"
                );
                continue;
            }
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
            // The largest rules compile accepts (compile refuses more).
            parse_with_rules(
                rules::NAME,
                &BTreeMap::new(),
                Some(&RulesSpec {
                    indicators: BTreeMap::from([
                        ("a".into(), format!("sma(close, {MAX_PERIOD})")),
                        ("b".into(), format!("sma(open, {})", MAX_PERIOD - 3000)),
                    ]),
                    enter_long: format!("a > b && close[{}] > 0", rules::MAX_LOOKBACK),
                    exit_long: format!("open[{}] < b", rules::MAX_LOOKBACK),
                    ..RulesSpec::default()
                }),
            )
            .expect("rules at the limit"),
        ];
        assert_eq!(largest.len(), REGISTRY.len(), "every strategy at its limit");
        for params in &largest {
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
