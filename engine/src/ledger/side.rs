//! [`Side`]: which way an order or fill trades, as the ledger records it.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which way an order or fill trades the base asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Buy base, pay quote.
    Buy,
    /// Sell base, receive quote (opens a short when flat or short).
    Sell,
}

impl Side {
    /// `+1` for a buy, `-1` for a sell.
    pub fn sign(self) -> Decimal {
        match self {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        }
    }
}
