//! Strategies written as rules: named indicators and entry/exit conditions
//! in CEL (the language of Kubernetes validation rules), checked and
//! compiled here before anything runs; the engine evaluates the compiled
//! [`Program`] on every bar (`aegis_engine::strategy::rules`).
//!
//! ```
//! use std::collections::BTreeMap;
//! use aegis_contract::strategy::rules::{compile, RulesSpec};
//!
//! let spec = RulesSpec {
//!     indicators: BTreeMap::from([("fast".into(), "sma(close, 10)".into()),
//!                                 ("slow".into(), "sma(close, 30)".into())]),
//!     enter_long: "crossAbove(fast, slow)".into(),
//!     exit_long: "crossBelow(fast, slow)".into(),
//!     ..RulesSpec::default()
//! };
//! let rules = compile(&spec)?;
//! assert_eq!(rules.program.warmup, 30);
//!
//! let bad = RulesSpec { enter_long: "fast > slwo".into(), ..spec };
//! assert_eq!(compile(&bad).unwrap_err().to_string(),
//!            "rules.enter_long at 1:8: unknown name \"slwo\"; \
//!             known: open, high, low, close, volume, position, fast, slow");
//! # Ok::<(), aegis_contract::strategy::rules::RuleError>(())
//! ```
//!
//! The language is documented for users in `docs/strategies.md`.

mod compile;
pub mod program;
mod syntax;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use program::Program;

use super::checkpoint::{CHECKPOINT_BYTES_PER_VALUE, CHECKPOINT_FIXED_BYTES, MAX_CHECKPOINT_BYTES};
pub use super::error::RuleError;
use super::params::StrategyInfo;

/// The strategy name rules run under.
pub const NAME: &str = "rules";

/// The catalog entry: no parameters, the rules are the strategy.
pub(super) const INFO: StrategyInfo = StrategyInfo {
    name: NAME,
    summary: "your own indicators and entry/exit conditions in CEL (docs/strategies.md)",
    params: &[],
};

/// The furthest back (in bars) `prev(x)` / `x[n]` may read.
pub const MAX_LOOKBACK: usize = 1000;
/// The most indicators (named and written inline) a rule set may have.
pub const MAX_INDICATORS: usize = 64;
/// The most operations (nodes of the rules and indicator definitions) a
/// rule set may have: the bound on the work per bar.
pub const MAX_COST: usize = 500;
/// The longest a rule's source may be, in bytes.
pub const MAX_RULE_BYTES: usize = 4096;
/// Saved-state bytes per indicator besides its window values (its
/// parameters, sums and counters as JSON).
const CHECKPOINT_BYTES_PER_INDICATOR: u64 = 512;

/// Rules as the user writes them (YAML or JSON): indicators by name and the
/// entry/exit conditions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSpec {
    /// Named numbers the rules use by name, e.g. `fast: 10` for
    /// `sma(close, fast)`: what `backtest --param` sets and `sweep --grid`
    /// varies.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, f64>,
    /// Named indicators, e.g. `fast: sma(close, 10)`.
    #[serde(default)]
    pub indicators: BTreeMap<String, String>,
    /// When to go long (from flat or short).
    pub enter_long: String,
    /// When to leave a long.
    pub exit_long: String,
    /// When to go short (from flat or long); never, when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enter_short: Option<String>,
    /// When to leave a short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_short: Option<String>,
}

impl RulesSpec {
    /// These rules with the parameters in `given` set (as text, the way
    /// `--param` and `--grid` give them): each must be one the rules
    /// declare under `params`, and a number.
    pub fn with_params(&self, given: &BTreeMap<String, String>) -> Result<RulesSpec, RuleError> {
        let mut spec = self.clone();
        for (name, text) in given {
            let Some(slot) = spec.params.get_mut(name) else {
                let known: Vec<&str> = self.params.keys().map(String::as_str).collect();
                return Err(RuleError::whole(
                    &format!("params.{name}"),
                    if known.is_empty() {
                        "the rules declare no params to set".to_string()
                    } else {
                        format!("not a param of the rules; they have {}", known.join(", "))
                    },
                ));
            };
            *slot = text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    RuleError::whole(
                        &format!("params.{name}"),
                        format!("\"{text}\" is not a number"),
                    )
                })?;
        }
        Ok(spec)
    }
}

/// Rules checked and compiled: the source (which a saved state is compared
/// against) and the program.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// As written.
    pub spec: RulesSpec,
    /// As the engine runs it.
    pub program: Program,
}

impl Rules {
    /// The most bytes the brain's checkpoint of these rules can take: the
    /// fixed part, the rules' text (twice: in the saved state, where JSON
    /// escaping at most sextuples it, and as the JSON text of the rules
    /// among the checkpoint's parameters, escaped again: at most twelve
    /// times), each indicator's fields and every window value.
    pub fn checkpoint_bytes_max(&self) -> u64 {
        let text: u64 = self
            .spec
            .indicators
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .chain(
                [
                    Some(&self.spec.enter_long),
                    Some(&self.spec.exit_long),
                    self.spec.enter_short.as_ref(),
                    self.spec.exit_short.as_ref(),
                ]
                .into_iter()
                .flatten()
                .map(|s| s.len() as u64),
            )
            // Each param's name and value (at most 24 bytes as JSON).
            .chain(self.spec.params.keys().map(|k| k.len() as u64 + 24))
            .sum();
        CHECKPOINT_FIXED_BYTES
            + 18 * text
            + self.program.indicators.len() as u64 * CHECKPOINT_BYTES_PER_INDICATOR
            + self.program.window_values() * CHECKPOINT_BYTES_PER_VALUE
    }

    /// Whether the rules can go short.
    pub fn shorts(&self) -> bool {
        self.program.enter_short.is_some()
    }
}

/// Checks and compiles `spec`: syntax, names, types (a rule must be a
/// condition), indicator arities and periods, look-back (at most
/// [`MAX_LOOKBACK`]), size ([`MAX_RULE_BYTES`], [`MAX_INDICATORS`],
/// [`MAX_COST`]) and that the saved state fits [`MAX_CHECKPOINT_BYTES`].
pub fn compile(spec: &RulesSpec) -> Result<Rules, RuleError> {
    let sources = spec
        .indicators
        .iter()
        .map(|(name, source)| (format!("indicators.{name}"), source))
        .chain([
            ("enter_long".to_string(), &spec.enter_long),
            ("exit_long".to_string(), &spec.exit_long),
        ])
        .chain(
            spec.enter_short
                .iter()
                .map(|s| ("enter_short".to_string(), s)),
        )
        .chain(
            spec.exit_short
                .iter()
                .map(|s| ("exit_short".to_string(), s)),
        );
    for (rule, source) in sources {
        if source.len() > MAX_RULE_BYTES {
            return Err(RuleError::whole(
                &rule,
                format!("{} bytes long, at most {MAX_RULE_BYTES}", source.len()),
            ));
        }
    }
    let rules = Rules {
        spec: spec.clone(),
        program: compile::compile(spec)?,
    };
    let bytes = rules.checkpoint_bytes_max();
    if bytes > MAX_CHECKPOINT_BYTES {
        return Err(RuleError::whole(
            "indicators",
            format!(
                "the rules keep {} past values ({bytes} bytes of saved state), \
                 more than the {MAX_CHECKPOINT_BYTES} bytes a checkpoint may take; \
                 use shorter periods or look-backs",
                rules.program.window_values()
            ),
        ));
    }
    Ok(rules)
}

#[cfg(test)]
mod tests;
