//! What a symbol lets an account place, from its `exchangeInfo` entry:
//! `orderTypes`, `ocoAllowed`, `otoAllowed` and `allowTrailingStop`, and
//! the check that an engine's exits can be placed at all
//! ([`SymbolFilters::check_order_types`]), so that a symbol that cannot
//! hold them is a clear error at startup rather than a refused order later.

use super::SymbolFilters;
use crate::rest::OrderType;

/// Why a symbol cannot take the orders asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrderTypeRefusal {
    /// An order type missing from the symbol's `orderTypes`.
    #[error("{symbol} does not allow {order_type} orders (exchangeInfo orderTypes: {})", listed(.allowed))]
    TypeNotAllowed {
        /// The symbol.
        symbol: String,
        /// The type asked for.
        order_type: OrderType,
        /// What the symbol lists.
        allowed: Vec<String>,
    },
    /// `ocoAllowed` is false (or absent).
    #[error("{symbol} does not allow OCO order lists (exchangeInfo ocoAllowed is false)")]
    OcoNotAllowed {
        /// The symbol.
        symbol: String,
    },
    /// `allowTrailingStop` is false (or absent).
    #[error("{symbol} does not allow trailing stops (exchangeInfo allowTrailingStop is false)")]
    TrailingStopNotAllowed {
        /// The symbol.
        symbol: String,
    },
}

fn listed(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "none listed".into()
    } else {
        allowed.join(", ")
    }
}

/// What an engine needs a symbol to allow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Order types it places.
    pub order_types: Vec<OrderType>,
    /// Whether it places OCO lists.
    pub oco: bool,
    /// Whether it places trailing stops (`trailingDelta`).
    pub trailing_stop: bool,
}

impl SymbolFilters {
    /// Whether `order_type` is in the symbol's `orderTypes`.
    pub fn allows(&self, order_type: OrderType) -> bool {
        self.order_types.iter().any(|t| t == order_type.as_str())
    }

    /// Checks that the symbol allows everything in `needs`: the first
    /// refusal, naming what is missing and what the symbol lists.
    pub fn check_order_types(&self, needs: &Needs) -> Result<(), OrderTypeRefusal> {
        if let Some(&order_type) = needs.order_types.iter().find(|t| !self.allows(**t)) {
            return Err(OrderTypeRefusal::TypeNotAllowed {
                symbol: self.symbol.clone(),
                order_type,
                allowed: self.order_types.clone(),
            });
        }
        if needs.oco && !self.oco_allowed {
            return Err(OrderTypeRefusal::OcoNotAllowed {
                symbol: self.symbol.clone(),
            });
        }
        if needs.trailing_stop && !self.allow_trailing_stop {
            return Err(OrderTypeRefusal::TrailingStopNotAllowed {
                symbol: self.symbol.clone(),
            });
        }
        Ok(())
    }
}
