//! [`ExecutionParams`]: starting cash, fees, slippage, sizing and risk
//! limits, and their checks.

use rust_decimal::Decimal;
use thiserror::Error;

use crate::trading::risk::{LimitError, RiskLimits};
use aegis_contract::config::{EntryOrderConfig, ExitsConfig, ExitsError};

/// The orchestrator's trading configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionParams {
    /// Starting cash, quote currency (> 0).
    pub cash: Decimal,
    /// Fee per fill, basis points of the notional (0 ≤ fee < 10 000).
    pub fee_bps: Decimal,
    /// Slippage against the open, basis points (0 ≤ slippage < 10 000).
    pub slippage_bps: Decimal,
    /// Order quantities are multiples of this (> 0); default 0.00001. A
    /// position smaller than it counts as flat (live: the dust a commission
    /// paid in the base asset leaves).
    pub qty_step: Decimal,
    /// Fraction of equity per position, in (0, 1]; default 1.
    pub allocation: Decimal,
    /// Risk limits.
    pub limits: RiskLimits,
    /// Protective exits held for every position.
    pub exits: ExitsConfig,
    /// The order that opens a position.
    pub entry_order: EntryOrderConfig,
}

impl ExecutionParams {
    /// `cash` with no fees or slippage, step 0.00001, allocation 1, no
    /// limits, no exits, market entries.
    pub fn new(cash: Decimal) -> Self {
        ExecutionParams {
            cash,
            fee_bps: Decimal::ZERO,
            slippage_bps: Decimal::ZERO,
            qty_step: Decimal::new(1, 5),
            allocation: Decimal::ONE,
            limits: RiskLimits::default(),
            exits: ExitsConfig::default(),
            entry_order: EntryOrderConfig::default(),
        }
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), ParamsError> {
        for (field, value) in [("cash", self.cash), ("qty_step", self.qty_step)] {
            if value <= Decimal::ZERO {
                return Err(ParamsError::OutOfRange {
                    field,
                    value,
                    range: "> 0",
                });
            }
        }
        let bps_max = Decimal::from(10_000);
        for (field, value) in [
            ("fee_bps", self.fee_bps),
            ("slippage_bps", self.slippage_bps),
        ] {
            if value < Decimal::ZERO || value >= bps_max {
                return Err(ParamsError::OutOfRange {
                    field,
                    value,
                    range: "[0, 10000)",
                });
            }
        }
        if self.allocation <= Decimal::ZERO || self.allocation > Decimal::ONE {
            return Err(ParamsError::OutOfRange {
                field: "allocation",
                value: self.allocation,
                range: "(0, 1]",
            });
        }
        self.limits.validate()?;
        self.exits.check().map_err(|e| ParamsError::Exits {
            section: "exits",
            source: e,
        })?;
        self.entry_order.check().map_err(|e| ParamsError::Exits {
            section: "entry_order",
            source: e,
        })?;
        Ok(())
    }
}

/// A bad [`ExecutionParams`] field.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ParamsError {
    /// A field outside its range.
    #[error("execution parameter {field} must be in {range}, got {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value given.
        value: Decimal,
        /// The allowed range.
        range: &'static str,
    },
    /// A bad risk limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// A bad exit or entry order setting.
    #[error("{section}.{source}")]
    Exits {
        /// `exits` or `entry_order`.
        section: &'static str,
        /// The field and what is wrong.
        source: ExitsError,
    },
}
