//! [`ExitReason`]: why an order closing (part of) a position was placed, as
//! the ledger records it and the report counts trades by it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a closing order was placed. The strategy's own signal is the default
/// (an `Order` entry without an `exit` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    /// The strategy's target changed.
    Signal,
    /// The bar traded through the stop-loss.
    StopLoss,
    /// The bar traded through the take-profit (fixed, or the table's row).
    TakeProfit,
    /// The bar traded through the trailing stop.
    TrailingStop,
    /// A risk limit (max drawdown, daily loss) flattened the book.
    Risk,
    /// Flattened on request (`POST /flatten`).
    Flatten,
    /// The run's data ended with the position open.
    EndOfData,
}

impl ExitReason {
    /// Every reason, in report order.
    pub const ALL: [ExitReason; 7] = [
        ExitReason::Signal,
        ExitReason::StopLoss,
        ExitReason::TakeProfit,
        ExitReason::TrailingStop,
        ExitReason::Risk,
        ExitReason::Flatten,
        ExitReason::EndOfData,
    ];

    /// The name the ledger and the report use (`stop_loss`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Signal => "signal",
            ExitReason::StopLoss => "stop_loss",
            ExitReason::TakeProfit => "take_profit",
            ExitReason::TrailingStop => "trailing_stop",
            ExitReason::Risk => "risk",
            ExitReason::Flatten => "flatten",
            ExitReason::EndOfData => "end_of_data",
        }
    }

    /// Whether a protective exit (stop-loss, take-profit, trailing stop)
    /// placed it: the strategy's direction then stands down until its target
    /// changes.
    pub fn is_protective(self) -> bool {
        matches!(
            self,
            ExitReason::StopLoss | ExitReason::TakeProfit | ExitReason::TrailingStop
        )
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_spells_each_reason_as_the_report_does() {
        for r in ExitReason::ALL {
            let json = serde_json::to_string(&r).expect("serialize");
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<ExitReason>(&json).expect("parse"), r);
        }
        assert!(serde_json::from_str::<ExitReason>("\"stoploss\"").is_err());
    }
}
