//! What every strategy is: the [`Strategy`] trait, the [`Target`] it
//! answers with, and the input checks strategies share.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use aegis_contract::records::Candle;
use aegis_contract::strategy::StrategyError;

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

    /// One accepted candle, in order: what the brain calls. The built-in
    /// strategies read its close only ([`on_close`](Self::on_close)); rules
    /// read every field.
    fn on_candle(&mut self, candle: &Candle) -> Target {
        self.on_close(candle.close)
    }

    /// Bars on which the strategy could not decide and held its position
    /// (a rule's division by zero or a value it did not have): the brain
    /// exports it as a metric. Not part of the saved state.
    fn no_signal_bars(&self) -> u64 {
        0
    }

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
}
