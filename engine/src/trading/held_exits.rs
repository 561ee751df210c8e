//! The exits an exchange holds for a live position, as the book records
//! them ([`HeldExits`], an `ExitSent` entry) and as it asks for them
//! ([`ExitPlan`]). Data only: `Execution` keeps and books them (its
//! `held` module).

use rust_decimal::Decimal;

use crate::ledger::{Entry, ExitLeg, ExitReason};
use crate::trading::portfolio::Side;

/// Exits placed on the exchange (an `ExitSent` entry) and not yet ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldExits {
    /// The signal decided last when they were placed.
    pub signal_seq: u64,
    /// The id the exchange knows them by (an OCO's list id, or the order's).
    pub client_order_id: String,
    /// The side of every leg.
    pub side: Side,
    /// The base quantity of every leg.
    pub qty: Decimal,
    /// The orders.
    pub legs: Vec<ExitLeg>,
    /// When the `ExitSent` entry was written (exchange clock, ms).
    pub written_ms: i64,
}

impl HeldExits {
    /// The leg with `client_order_id`.
    pub fn leg(&self, client_order_id: &str) -> Option<&ExitLeg> {
        self.legs
            .iter()
            .find(|l| l.client_order_id == client_order_id)
    }

    /// The `ExitSent` entry recording them.
    pub fn entry(&self) -> Entry {
        Entry::ExitSent {
            signal_seq: self.signal_seq,
            client_order_id: self.client_order_id.clone(),
            side: self.side,
            qty: self.qty,
            legs: self.legs.clone(),
            written_ms: self.written_ms,
        }
    }
}

/// The exits the book wants held for its open position, before the
/// exchange's filters round them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitPlan {
    /// The signal decided last (the entry's, right after its fill).
    pub signal_seq: u64,
    /// How many exits this ledger placed before: with the ledger's id, it
    /// makes the client ids unique and the same on a retry.
    pub number: u64,
    /// The side that closes the position.
    pub side: Side,
    /// The whole position, unsigned.
    pub qty: Decimal,
    /// The position's average entry price.
    pub entry_price: Decimal,
    /// The stop the exchange holds, and which exit it is: the tighter of
    /// the stop-loss (fixed or ATR) and, beside it or a take-profit, an
    /// active trailing stop at the book's best price (the engine moves it).
    pub stop: Option<(Decimal, ExitReason)>,
    /// The take-profit level now (the nearer of `take_profit` and the
    /// table's row for the time held).
    pub take_profit: Option<Decimal>,
    /// A trailing stop the exchange trails by itself (the only exit): its
    /// fraction, and the price it starts trailing at (`trailing_after`), if
    /// not at once.
    pub trailing: Option<(Decimal, Option<Decimal>)>,
    /// A level of `stop` or `take_profit` the last close is at or beyond
    /// already: an exit order would trigger at once (the exchange refuses
    /// it), so the position is closed at market instead
    /// ([`Execution::exit_now`](crate::trading::Execution::exit_now)).
    pub reached: Option<ExitReason>,
}
