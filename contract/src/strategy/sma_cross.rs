//! `sma-cross`'s name, parameters and their rules (the strategy itself is
//! `aegis_engine::strategy::sma_cross`): `fast` (integer, 10), `slow`
//! (integer, 20), `short` (bool, false), with `slow > fast >= 1`.

use serde::{Deserialize, Serialize};

use super::error::StrategyError;
use super::params::{check_period, ParamInfo, Params, StrategyInfo};

/// The registry name.
pub const NAME: &str = "sma-cross";

/// The catalog entry.
pub(super) const INFO: StrategyInfo = StrategyInfo {
    name: NAME,
    summary:
        "long when the fast SMA crosses above the slow SMA, flat (or short) on the cross below",
    params: &[
        ParamInfo::integer("fast", "10", "period of the fast SMA, at least 1"),
        ParamInfo::integer("slow", "20", "period of the slow SMA, greater than fast"),
        ParamInfo::bool(
            "short",
            "false",
            "go short on the down-cross instead of flat",
        ),
    ],
};

/// The parameters of `sma-cross`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmaCrossParams {
    /// Period of the fast SMA.
    pub fast: usize,
    /// Period of the slow SMA.
    pub slow: usize,
    /// Whether the down-cross goes short (else flat).
    pub short: bool,
}

impl Default for SmaCrossParams {
    fn default() -> Self {
        Self {
            fast: 10,
            slow: 20,
            short: false,
        }
    }
}

impl SmaCrossParams {
    /// Reads them from string parameters and [checks](Self::check) them.
    pub fn from_params(params: &Params<'_>) -> Result<Self, StrategyError> {
        let parsed = Self {
            fast: params.period("fast")?,
            slow: params.period("slow")?,
            short: params.bool("short")?,
        };
        parsed.check()?;
        Ok(parsed)
    }

    /// Both periods within an SMA's range (1 ..= `MAX_PERIOD`), `slow > fast`.
    pub fn check(&self) -> Result<(), StrategyError> {
        check_period("fast", self.fast, 1)?;
        check_period("slow", self.slow, 1)?;
        if self.slow <= self.fast {
            return Err(StrategyError::Constraint {
                message: format!(
                    "slow ({}) must be greater than fast ({})",
                    self.slow, self.fast
                ),
            });
        }
        Ok(())
    }
}
