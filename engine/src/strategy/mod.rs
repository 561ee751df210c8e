//! Trading strategies for the `brain` role: one close in, one target position out.
//!
//! A [`Strategy`] is fed the close of every accepted candle, in order, through
//! [`Strategy::on_close`] and answers with the [`Target`] position to hold
//! after that bar (short, flat or long). It is built by name from string
//! parameters with [`build`]; [`catalog`] lists what exists (the names,
//! parameters and their checks are the contract's, `aegis_contract::strategy`,
//! so that a configuration can be judged without the engine):
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
//!   ±[`MAX_ABS_CLOSE`]) is ignored: `on_close` returns the previous target
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
//!    indicators, and use this module's `save_state` / `load_state` so the
//!    envelope and its checks are shared.
//! 3. Add its arm to [`build`].

pub mod rsi_reversion;
pub mod sma_cross;

use std::collections::BTreeMap;
use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use aegis_contract::strategy::{
    catalog, find, parse_bool, parse_integer, parse_number, ParamInfo, Params, StrategyError,
    StrategyInfo, StrategyParams, BOOL, INTEGER, NUMBER,
};
pub use rsi_reversion::{RsiReversion, RsiReversionParams};
pub use sma_cross::{SmaCross, SmaCrossParams};

use crate::indicators::{ParamError, MAX_ABS_CLOSE};

/// The position a strategy wants to hold after a bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Target {
    /// Short one unit (-1).
    Short,
    /// No position (0).
    #[default]
    Flat,
    /// Long one unit (1).
    Long,
}

impl Target {
    /// -1, 0 or 1, as in [`Signal::target`](aegis_contract::records::Signal::target).
    pub fn as_i64(self) -> i64 {
        match self {
            Target::Short => -1,
            Target::Flat => 0,
            Target::Long => 1,
        }
    }

    /// The target for -1, 0 or 1; `None` for anything else.
    pub fn from_i64(value: i64) -> Option<Target> {
        match value {
            -1 => Some(Target::Short),
            0 => Some(Target::Flat),
            1 => Some(Target::Long),
            _ => None,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Short => "short",
            Target::Flat => "flat",
            Target::Long => "long",
        })
    }
}

/// A trading strategy: a state machine over closes. See the [module docs](self).
pub trait Strategy: Send {
    /// The registry name, e.g. `"sma-cross"`.
    fn name(&self) -> &'static str;

    /// One accepted candle's close, in order. Returns the target position
    /// after this bar. A close the indicators reject (NaN, infinite, beyond
    /// ±[`MAX_ABS_CLOSE`]) changes nothing and returns the previous target.
    fn on_close(&mut self, close: f64) -> Target;

    /// The target returned by the last `on_close` (Flat before any).
    fn target(&self) -> Target;

    /// Number of closes before the strategy can leave Flat: the targets for
    /// the first `warmup()` closes are Flat, the next one may not be.
    fn warmup(&self) -> usize;

    /// The complete internal state (indicators included), so a restarted
    /// brain can continue exactly.
    fn save(&self) -> Value;

    /// Replaces the state with one from [`save`](Self::save) of a strategy
    /// with the same name and parameters. On error the state is unchanged.
    fn restore(&mut self, state: &Value) -> Result<(), StrategyError>;
}

/// Builds the strategy `name` with `params` (parameter name → value as
/// written); missing parameters take their defaults. Every check is the
/// contract's ([`aegis_contract::strategy::parse`]).
pub fn build(
    name: &str,
    params: &BTreeMap<String, String>,
) -> Result<Box<dyn Strategy>, StrategyError> {
    Ok(match aegis_contract::strategy::parse(name, params)? {
        StrategyParams::SmaCross(p) => Box::new(SmaCross::new(p)?),
        StrategyParams::RsiReversion(p) => Box::new(RsiReversion::new(p)?),
    })
}

/// An indicator's refusal of a period as the [`StrategyError`] of the
/// strategy parameter `param` that set it. The contract's checks come first,
/// so this is a second line of defence that says the same.
pub fn period_error(param: &str, value: usize, error: ParamError) -> StrategyError {
    let reason = match error {
        ParamError::PeriodOutOfRange { min, max, .. } => {
            format!("must be between {min} and {max}")
        }
        other => other.to_string(),
    };
    StrategyError::BadParam {
        param: param.to_string(),
        value: value.to_string(),
        reason,
    }
}

/// Whether the indicators accept `close` (finite, within ±[`MAX_ABS_CLOSE`]).
///
/// A strategy feeding several indicators checks this first, so that a bad
/// close cannot be taken by one indicator and refused by the next.
pub fn is_valid_close(close: f64) -> bool {
    close.abs() <= MAX_ABS_CLOSE
}

/// The version of the [`save_state`] envelope.
const STATE_VERSION: u64 = 1;

/// Wraps a strategy's state struct in the `{"strategy", "version", "state"}`
/// envelope that [`load_state`] checks.
fn save_state<S: Serialize>(strategy: &'static str, state: &S) -> Value {
    // The state structs hold only numbers, bools, strings, options and
    // structs of them: serde_json cannot fail on those (it fails only on
    // non-string map keys or a Serialize impl that errors).
    let state = serde_json::to_value(state)
        .expect("a strategy state of plain numbers and structs always serializes");
    serde_json::json!({ "strategy": strategy, "version": STATE_VERSION, "state": state })
}

/// Unwraps and decodes a [`save_state`] envelope for `strategy`, checking the
/// name, the version and every indicator window in it (so that no index in a
/// restored window can be out of bounds).
fn load_state<S: DeserializeOwned>(
    strategy: &'static str,
    saved: &Value,
) -> Result<S, StrategyError> {
    let envelope = saved
        .as_object()
        .ok_or_else(|| bad_state("the saved state is not a JSON object"))?;
    match envelope.get("strategy").and_then(Value::as_str) {
        Some(name) if name == strategy => {}
        Some(name) => {
            return Err(bad_state(format!(
                "it is for strategy \"{name}\", not \"{strategy}\""
            )))
        }
        None => return Err(bad_state("field \"strategy\" is missing or not a string")),
    }
    match envelope.get("version").and_then(Value::as_u64) {
        Some(STATE_VERSION) => {}
        Some(other) => {
            return Err(bad_state(format!(
                "version {other} is not supported (expected {STATE_VERSION})"
            )))
        }
        None => return Err(bad_state("field \"version\" is missing or not an integer")),
    }
    let state = envelope
        .get("state")
        .ok_or_else(|| bad_state("field \"state\" is missing"))?;
    check_windows("state", state)?;
    S::deserialize(state).map_err(|e| bad_state(format!("field \"state\": {e}")))
}

/// A [`StrategyError::BadState`] with `reason`.
fn bad_state(reason: impl Into<String>) -> StrategyError {
    StrategyError::BadState {
        reason: reason.into(),
    }
}

/// Checks every indicator window (a JSON object `{"buf", "next", "len"}`)
/// under `value`: a non-empty `buf` of closes within ±[`MAX_ABS_CLOSE`],
/// `next < buf.len()`, `len <= buf.len()`, `next == len` until full, and
/// `buf.len()` equal to the `period` of the object holding the window.
/// `path` names `value` in error messages.
fn check_windows(path: &str, value: &Value) -> Result<(), StrategyError> {
    match value {
        Value::Object(fields) => {
            if let Some(window) = fields.get("window") {
                if let Some(capacity) = check_window(&format!("{path}.window"), window)? {
                    if let Some(period) = fields.get("period").and_then(Value::as_u64) {
                        if period != capacity as u64 {
                            return Err(bad_state(format!(
                                "{path}.window holds {capacity} closes but {path}.period is {period}"
                            )));
                        }
                    }
                }
            }
            for (name, field) in fields {
                check_windows(&format!("{path}.{name}"), field)?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_windows(&format!("{path}[{i}]"), item)),
        _ => Ok(()),
    }
}

/// Checks one window's invariants; returns its capacity, or `None` when
/// `window` is not shaped like one (deserialization then says why).
fn check_window(path: &str, window: &Value) -> Result<Option<usize>, StrategyError> {
    let (Some(buf), Some(next), Some(len)) = (
        window.get("buf").and_then(Value::as_array),
        window.get("next").and_then(Value::as_u64),
        window.get("len").and_then(Value::as_u64),
    ) else {
        return Ok(None);
    };
    let capacity = buf.len() as u64;
    if capacity == 0 {
        return Err(bad_state(format!("{path}.buf is empty")));
    }
    if next >= capacity || len > capacity || (len < capacity && next != len) {
        return Err(bad_state(format!(
            "{path} has next = {next} and len = {len}, impossible for {capacity} slots"
        )));
    }
    if let Some(i) = buf
        .iter()
        .position(|x| !x.as_f64().is_some_and(is_valid_close))
    {
        return Err(bad_state(format!(
            "{path}.buf[{i}] = {} is not a valid close",
            buf[i]
        )));
    }
    Ok(Some(buf.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_round_trips_through_i64() {
        for t in [Target::Short, Target::Flat, Target::Long] {
            assert_eq!(Target::from_i64(t.as_i64()), Some(t));
        }
        assert_eq!(Target::Short.as_i64(), -1);
        assert_eq!(Target::Long.as_i64(), 1);
        assert_eq!(Target::from_i64(2), None);
        assert_eq!(Target::from_i64(-2), None);
        assert_eq!(Target::default(), Target::Flat);
    }

    #[test]
    fn window_checks_catch_impossible_indices() {
        let ok = serde_json::json!({"period": 3, "window": {"buf": [1.0, 2.0, 0.0], "next": 2, "len": 2}});
        assert!(check_windows("s", &ok).is_ok());
        let cases = [
            serde_json::json!({"period": 3, "window": {"buf": [1.0, 2.0, 0.0], "next": 3, "len": 3}}),
            serde_json::json!({"period": 3, "window": {"buf": [1.0, 2.0, 0.0], "next": 1, "len": 2}}),
            serde_json::json!({"period": 3, "window": {"buf": [1.0, 2.0, 0.0], "next": 0, "len": 4}}),
            serde_json::json!({"period": 4, "window": {"buf": [1.0, 2.0, 0.0], "next": 0, "len": 3}}),
            serde_json::json!({"period": 0, "window": {"buf": [], "next": 0, "len": 0}}),
            serde_json::json!({"period": 1, "window": {"buf": [1e200], "next": 0, "len": 1}}),
            serde_json::json!({"outer": [{"period": 1, "window": {"buf": [1.0], "next": 1, "len": 1}}]}),
        ];
        for case in cases {
            let err = check_windows("s", &case).unwrap_err().to_string();
            assert!(err.contains("s."), "{err}");
        }
    }
}
