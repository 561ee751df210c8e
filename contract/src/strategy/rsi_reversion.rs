//! `rsi-reversion`'s name, parameters and their rules (the strategy itself
//! is `aegis_engine::strategy::rsi_reversion`): `period` (integer, 14, at
//! least 2), `oversold` (number, 30), `overbought` (number, 70), `short`
//! (bool, false), with `0 < oversold < overbought < 100`.

use serde::{Deserialize, Serialize};

use super::error::StrategyError;
use super::params::{check_period, ParamInfo, Params, StrategyInfo};

/// The registry name.
pub const NAME: &str = "rsi-reversion";

/// The catalog entry.
pub(super) const INFO: StrategyInfo = StrategyInfo {
    name: NAME,
    summary:
        "long when the RSI drops below oversold, out (or short) when it rises above overbought",
    params: &[
        ParamInfo::integer("period", "14", "RSI period (Wilder smoothing), at least 2"),
        ParamInfo::number("oversold", "30", "enter long below this RSI; above 0"),
        ParamInfo::number(
            "overbought",
            "70",
            "leave long (or go short) above this RSI; below 100",
        ),
        ParamInfo::bool(
            "short",
            "false",
            "go short above overbought instead of flat",
        ),
    ],
};

/// The parameters of `rsi-reversion`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RsiReversionParams {
    /// RSI period.
    pub period: usize,
    /// Enter long below this RSI.
    pub oversold: f64,
    /// Leave long (or go short) above this RSI.
    pub overbought: f64,
    /// Whether overbought goes short (else flat).
    pub short: bool,
}

impl Default for RsiReversionParams {
    fn default() -> Self {
        Self {
            period: 14,
            oversold: 30.0,
            overbought: 70.0,
            short: false,
        }
    }
}

impl RsiReversionParams {
    /// Reads them from string parameters and [checks](Self::check) them.
    pub fn from_params(params: &Params<'_>) -> Result<Self, StrategyError> {
        let parsed = Self {
            period: params.period("period")?,
            oversold: params.number("oversold")?,
            overbought: params.number("overbought")?,
            short: params.bool("short")?,
        };
        parsed.check()?;
        Ok(parsed)
    }

    /// The period within an RSI's range (2 ..= `MAX_PERIOD`), finite
    /// thresholds ordered `0 < oversold < overbought < 100`.
    pub fn check(&self) -> Result<(), StrategyError> {
        check_period("period", self.period, 2)?;
        for (param, value) in [("oversold", self.oversold), ("overbought", self.overbought)] {
            if !value.is_finite() {
                return Err(StrategyError::BadParam {
                    param: param.to_string(),
                    value: value.to_string(),
                    reason: "not a finite number".to_string(),
                });
            }
        }
        let (oversold, overbought) = (self.oversold, self.overbought);
        let broken = if oversold <= 0.0 {
            Some(format!("oversold ({oversold}) must be greater than 0"))
        } else if overbought >= 100.0 {
            Some(format!("overbought ({overbought}) must be less than 100"))
        } else if oversold >= overbought {
            Some(format!(
                "oversold ({oversold}) must be less than overbought ({overbought})"
            ))
        } else {
            None
        };
        match broken {
            Some(message) => Err(StrategyError::Constraint { message }),
            None => Ok(()),
        }
    }
}
