//! A strategy's saved state: the `{"strategy", "version", "state"}`
//! envelope every strategy writes with [`save_state`] and reads back with
//! [`load_state`], which checks every indicator window in it.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use aegis_contract::strategy::StrategyError;

use super::core::is_valid_close;

/// The version of the [`save_state`] envelope.
const STATE_VERSION: u64 = 1;

/// Wraps a strategy's state struct in the `{"strategy", "version", "state"}`
/// envelope that [`load_state`] checks.
pub(super) fn save_state<S: Serialize>(strategy: &'static str, state: &S) -> Value {
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
pub(super) fn load_state<S: DeserializeOwned>(
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
pub(super) fn bad_state(reason: impl Into<String>) -> StrategyError {
    StrategyError::BadState {
        reason: reason.into(),
    }
}

/// Checks every indicator window (a JSON object `{"buf", "next", "len"}`)
/// under `value`: a non-empty `buf` of closes within ±[`MAX_ABS_CLOSE`](crate::indicators::MAX_ABS_CLOSE),
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
