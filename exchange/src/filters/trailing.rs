//! `TRAILING_DELTA`: the range a trailing stop's `trailingDelta` (BIPS)
//! must lie in, by which way the stop triggers, as Binance's trailing stop
//! FAQ states it:
//!
//! - *above* (`minTrailingAboveDelta` ..= `maxTrailingAboveDelta`): a BUY
//!   `STOP_LOSS`/`STOP_LOSS_LIMIT`, a SELL `TAKE_PROFIT`/`TAKE_PROFIT_LIMIT`;
//! - *below* (`minTrailingBelowDelta` ..= `maxTrailingBelowDelta`): a SELL
//!   `STOP_LOSS`/`STOP_LOSS_LIMIT`, a BUY `TAKE_PROFIT`/`TAKE_PROFIT_LIMIT`.

use super::{SymbolFilters, TrailingDelta};
use crate::rest::{OrderType, Side};

/// Why a `trailingDelta` was refused locally (Binance would answer -1013
/// `Filter failure: TRAILING_DELTA`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrailingDeltaRefusal {
    /// Only stop orders trail.
    #[error("{order_type} orders cannot trail (trailingDelta is for STOP_LOSS* and TAKE_PROFIT* orders)")]
    NotAStop {
        /// The type asked for.
        order_type: OrderType,
    },
    /// Outside the filter's range for this kind of stop.
    #[error("trailingDelta {delta} of a {side} {order_type} is outside TRAILING_DELTA {min_name} {min} ..= {max_name} {max}")]
    OutOfRange {
        /// The stop's type.
        order_type: OrderType,
        /// Its side.
        side: Side,
        /// The delta asked for, BIPS.
        delta: u32,
        /// `minTrailingAboveDelta` or `minTrailingBelowDelta`.
        min_name: &'static str,
        /// Its value.
        min: u32,
        /// `maxTrailingAboveDelta` or `maxTrailingBelowDelta`.
        max_name: &'static str,
        /// Its value.
        max: u32,
    },
}

impl SymbolFilters {
    /// Checks a `side` `order_type` stop's `trailingDelta` against
    /// `TRAILING_DELTA` (any positive delta passes when the symbol lists no
    /// such filter; 0 never does).
    pub fn check_trailing_delta(
        &self,
        order_type: OrderType,
        side: Side,
        delta: u32,
    ) -> Result<(), TrailingDeltaRefusal> {
        let above = match (order_type, side) {
            (OrderType::StopLoss | OrderType::StopLossLimit, Side::Buy)
            | (OrderType::TakeProfit | OrderType::TakeProfitLimit, Side::Sell) => true,
            (OrderType::StopLoss | OrderType::StopLossLimit, Side::Sell)
            | (OrderType::TakeProfit | OrderType::TakeProfitLimit, Side::Buy) => false,
            _ => return Err(TrailingDeltaRefusal::NotAStop { order_type }),
        };
        let bounds = self.trailing_delta.unwrap_or(TrailingDelta {
            min_above: 1,
            max_above: u32::MAX,
            min_below: 1,
            max_below: u32::MAX,
        });
        let ((min_name, min), (max_name, max)) = if above {
            (
                ("minTrailingAboveDelta", bounds.min_above),
                ("maxTrailingAboveDelta", bounds.max_above),
            )
        } else {
            (
                ("minTrailingBelowDelta", bounds.min_below),
                ("maxTrailingBelowDelta", bounds.max_below),
            )
        };
        if delta == 0 || delta < min || delta > max {
            return Err(TrailingDeltaRefusal::OutOfRange {
                order_type,
                side,
                delta,
                min_name,
                min,
                max_name,
                max,
            });
        }
        Ok(())
    }
}
