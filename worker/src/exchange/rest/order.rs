//! Orders and balances as the REST client returns them, and the
//! deterministic `newClientOrderId` of a signal.

use std::fmt;

use rust_decimal::Decimal;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The longest `newClientOrderId` Binance accepts
/// (`^[\.A-Z\:/a-z0-9_-]{1,36}$`).
pub const MAX_CLIENT_ORDER_ID_LEN: usize = 36;

/// An order side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    /// `BUY`.
    Buy,
    /// `SELL`.
    Sell,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        })
    }
}

/// An order as Binance reports it (`POST`, `GET` or `DELETE
/// /api/v3/order`); quantities exact.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The symbol.
    pub symbol: String,
    /// The exchange's order id.
    pub order_id: u64,
    /// The client order id.
    pub client_order_id: String,
    /// The side.
    pub side: Side,
    /// `NEW`, `PARTIALLY_FILLED`, `FILLED`, `CANCELED`, `REJECTED`, `EXPIRED`, ...
    pub status: String,
    /// The quantity asked.
    pub orig_qty: Decimal,
    /// The quantity filled.
    pub executed_qty: Decimal,
    /// The quote amount filled (Binance's spelling).
    pub cummulative_quote_qty: Decimal,
    /// The trades with their commissions: only in the reply to a new order
    /// placed with `newOrderRespType=FULL` (empty in a query's reply).
    #[serde(default)]
    pub fills: Vec<OrderFill>,
}

impl Order {
    /// Whether the order can change no more (`FILLED`, `CANCELED`,
    /// `REJECTED`, `EXPIRED`, `EXPIRED_IN_MATCH`).
    pub fn is_final(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "NEW" | "PARTIALLY_FILLED" | "PENDING_NEW" | "PENDING_CANCEL"
        )
    }

    /// Whether [`Order::fills`] lists every trade of what executed (their
    /// quantities add up to `executed_qty`), so its commissions are known.
    pub fn fills_complete(&self) -> bool {
        let listed = self
            .fills
            .iter()
            .try_fold(Decimal::ZERO, |sum, f| sum.checked_add(f.qty));
        listed == Some(self.executed_qty)
    }
}

/// One trade of a new order's `FULL` reply.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderFill {
    /// The trade's price.
    pub price: Decimal,
    /// The trade's base quantity.
    pub qty: Decimal,
    /// The commission charged.
    pub commission: Decimal,
    /// The asset the commission was charged in (base, quote, BNB, ...).
    pub commission_asset: String,
}

/// One asset's balance in the account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Free to trade.
    pub free: Decimal,
    /// Locked in open orders.
    pub locked: Decimal,
}

/// The `newClientOrderId` of signal `signal_seq` of engine `engine`: the
/// same inputs always give the same id, so a retried or restarted order
/// carries its first id. Shape `<engine>-<hash>-<seq>`: the engine name with
/// characters outside Binance's set replaced by `_` and cut to fit, eight hex
/// digits of the SHA-256 of the full name (two engines whose cut names agree
/// still differ), and the decimal sequence. Always within
/// `^[\.A-Z\:/a-z0-9_-]{1,36}$`.
pub fn client_order_id(engine: &str, signal_seq: u64) -> String {
    let seq = signal_seq.to_string();
    let hash = Sha256::digest(engine.as_bytes());
    let hash: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    let room = MAX_CLIENT_ORDER_ID_LEN - seq.len() - hash.len() - 2;
    let name: String = engine
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(room)
        .collect();
    format!("{name}-{hash}-{seq}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(id: &str) -> bool {
        (1..=MAX_CLIENT_ORDER_ID_LEN).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".:/_-".contains(&b))
    }

    #[test]
    fn client_order_id_is_deterministic_distinct_and_allowed() {
        let id = client_order_id("btc-trend", 42);
        assert_eq!(id, client_order_id("btc-trend", 42));
        assert!(id.starts_with("btc-trend-") && id.ends_with("-42"), "{id}");
        assert_ne!(id, client_order_id("btc-trend", 43));
        assert_ne!(id, client_order_id("eth-trend", 42));
        let long = "a very long engine name with spaces and é accents, longer than 36";
        let other = "a very long engine name with spaces and é accents, longer than 37";
        for (engine, seq) in [(long, u64::MAX), (other, u64::MAX), ("", 0), ("x", 7)] {
            let id = client_order_id(engine, seq);
            assert!(allowed(&id), "{id:?} is outside Binance's pattern");
        }
        // Cut to the same prefix, two names still give different ids.
        assert_ne!(client_order_id(long, 1), client_order_id(other, 1));
    }
}
