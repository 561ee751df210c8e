//! Orders and balances as the REST client returns them, the order types
//! Binance Spot lists ([`OrderType`]), and the `newClientOrderId` of a
//! signal: unique per ledger, the same for every retry of one order.

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

/// An order type as Binance Spot spells it in `type` and in a symbol's
/// `exchangeInfo` `orderTypes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OrderType {
    /// `LIMIT`: rests on the book at its price.
    Limit,
    /// `LIMIT_MAKER`: a LIMIT refused if it would trade at once (post-only).
    LimitMaker,
    /// `MARKET`.
    Market,
    /// `STOP_LOSS`: a MARKET order once the stop triggers.
    StopLoss,
    /// `STOP_LOSS_LIMIT`: a LIMIT order once the stop triggers.
    StopLossLimit,
    /// `TAKE_PROFIT`: a MARKET order once the stop triggers.
    TakeProfit,
    /// `TAKE_PROFIT_LIMIT`: a LIMIT order once the stop triggers.
    TakeProfitLimit,
}

impl OrderType {
    /// Every type, in Binance's listing order.
    pub const ALL: [OrderType; 7] = [
        OrderType::Limit,
        OrderType::LimitMaker,
        OrderType::Market,
        OrderType::StopLoss,
        OrderType::StopLossLimit,
        OrderType::TakeProfit,
        OrderType::TakeProfitLimit,
    ];

    /// Binance's spelling, e.g. `STOP_LOSS_LIMIT`.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Limit => "LIMIT",
            OrderType::LimitMaker => "LIMIT_MAKER",
            OrderType::Market => "MARKET",
            OrderType::StopLoss => "STOP_LOSS",
            OrderType::StopLossLimit => "STOP_LOSS_LIMIT",
            OrderType::TakeProfit => "TAKE_PROFIT",
            OrderType::TakeProfitLimit => "TAKE_PROFIT_LIMIT",
        }
    }

    /// The type spelled `text`, if Binance Spot has it.
    pub fn parse(text: &str) -> Option<OrderType> {
        OrderType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for OrderType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// `type`: `MARKET`, `LIMIT`, `STOP_LOSS_LIMIT`, ... as Binance spells
    /// it (kept as text so an order of a type this build does not know
    /// still parses; see [`Order::kind`]).
    #[serde(rename = "type")]
    pub order_type: String,
    /// The limit price (`0` for a MARKET order).
    #[serde(default)]
    pub price: Decimal,
    /// The stop price of a `STOP_LOSS*` / `TAKE_PROFIT*` order (`None`
    /// when Binance leaves it out; a query of another type may say `0`).
    #[serde(default)]
    pub stop_price: Option<Decimal>,
    /// The trailing delta in BIPS of a trailing stop order.
    #[serde(default)]
    pub trailing_delta: Option<u32>,
    /// The order list (OCO) it belongs to; `-1` when none.
    #[serde(default = "no_order_list")]
    pub order_list_id: i64,
    /// When the exchange made the order (ms, its clock): `time` in a query's
    /// reply, `transactTime` in a new order's.
    #[serde(default, alias = "transactTime")]
    pub time: Option<i64>,
    /// The trades with their commissions: only in the reply to a new order
    /// placed with `newOrderRespType=FULL` (empty in a query's reply).
    #[serde(default)]
    pub fills: Vec<OrderFill>,
}

/// Binance's `orderListId` of an order in no list.
fn no_order_list() -> i64 {
    -1
}

impl Order {
    /// [`Order::order_type`] as an [`OrderType`], when it is one this build
    /// knows.
    pub fn kind(&self) -> Option<OrderType> {
        OrderType::parse(&self.order_type)
    }

    /// Whether it belongs to an order list (an OCO leg).
    pub fn in_order_list(&self) -> bool {
        self.order_list_id >= 0
    }

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

/// The `newClientOrderId` of signal `signal_seq` in the ledger `ledger_id`
/// of engine `engine`: the same inputs always give the same id, so a retried
/// or restarted order carries its first id, and two ledgers (each with its
/// own random id, see [`aegis_engine::ledger::ledger_id_of`]) never share one, even
/// for the same engine name and signal. Shape `<engine>-<ledger id>-<seq>`:
/// the engine name with characters outside Binance's set replaced by `_` and
/// cut to fit (it is only there for people), the ledger id, and the decimal
/// sequence. Always within `^[\.A-Z\:/a-z0-9_-]{1,36}$` for a ledger id of
/// up to 13 characters.
pub fn client_order_id(engine: &str, ledger_id: &str, signal_seq: u64) -> String {
    keyed_id(engine, ledger_id, &signal_seq.to_string())
}

/// The client id of leg `leg` (`""` for an OCO's list, `"s"` its stop,
/// `"t"` its take-profit) of the `number`-th exits the ledger `ledger_id`
/// placed: `<engine>-<ledger id>-x<number><leg>`. Never equal to an
/// order's [`client_order_id`] (a sequence number has no `x`), the same
/// for the same inputs, within Binance's id set and length.
pub fn exit_client_order_id(engine: &str, ledger_id: &str, number: u64, leg: &str) -> String {
    keyed_id(engine, ledger_id, &format!("x{number}{leg}"))
}

/// `<engine>-<ledger id>-<key>`, the engine's name cut to fit.
fn keyed_id(engine: &str, ledger_id: &str, key: &str) -> String {
    let room = MAX_CLIENT_ORDER_ID_LEN.saturating_sub(key.len() + ledger_id.len() + 2);
    format!("{}-{ledger_id}-{key}", id_safe(engine, room))
}

/// The id builds before ledger ids gave an order (`<engine>-<hash>-<seq>`,
/// eight hex digits of the SHA-256 of the name): only to look up an order
/// such a build wrote to the ledger and may have sent.
pub fn legacy_client_order_id(engine: &str, signal_seq: u64) -> String {
    let seq = signal_seq.to_string();
    let hash = Sha256::digest(engine.as_bytes());
    let hash: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    let room = MAX_CLIENT_ORDER_ID_LEN - seq.len() - hash.len() - 2;
    format!("{}-{hash}-{seq}", id_safe(engine, room))
}

/// `name` with characters outside Binance's id set replaced by `_`, cut to
/// `room` characters.
fn id_safe(name: &str, room: usize) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(room)
        .collect()
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

    const LEDGER: &str = "0a1b2c3d4e5f6";
    const OTHER_LEDGER: &str = "zzzzzzzzzzzz9";

    #[test]
    fn client_order_id_is_deterministic_distinct_per_ledger_and_allowed() {
        let id = client_order_id("btc-trend", LEDGER, 42);
        assert_eq!(id, client_order_id("btc-trend", LEDGER, 42));
        assert_eq!(id, "btc-trend-0a1b2c3d4e5f6-42");
        assert_ne!(id, client_order_id("btc-trend", LEDGER, 43));
        // The same engine and signal in another ledger: another id.
        assert_ne!(id, client_order_id("btc-trend", OTHER_LEDGER, 42));
        let long = "a very long engine name with spaces and é accents, longer than 36";
        for (engine, seq) in [(long, u64::MAX), ("", 0), ("x", 7), (long, 0)] {
            for ledger in [LEDGER, OTHER_LEDGER] {
                let id = client_order_id(engine, ledger, seq);
                assert!(allowed(&id), "{id:?} is outside Binance's pattern");
                assert!(id.ends_with(&format!("-{ledger}-{seq}")), "{id}");
            }
        }
        for n in [0, 1, u64::MAX] {
            let id = aegis_engine::ledger::ledger_id_of(n);
            assert!(aegis_engine::ledger::is_ledger_id(&id), "{id}");
            assert!(allowed(&client_order_id(long, &id, u64::MAX)));
        }
    }

    /// Binance's documented `GET /api/v3/order` reply of a LIMIT order.
    const QUERIED: &str = r#"{"symbol":"LTCBTC","orderId":1,"orderListId":-1,"clientOrderId":"myOrder1",
        "price":"0.1","origQty":"1.0","executedQty":"0.4","cummulativeQuoteQty":"0.04","status":"PARTIALLY_FILLED",
        "timeInForce":"GTC","type":"LIMIT","side":"BUY","stopPrice":"0.0","icebergQty":"0.0",
        "time":1499827319559,"updateTime":1499827319559,"isWorking":true,"workingTime":1499827319559,
        "origQuoteOrderQty":"0.000000","selfTradePreventionMode":"NONE"}"#;

    #[test]
    fn an_order_carries_its_type_prices_and_list_for_booking_partial_fills() {
        let order: Order = serde_json::from_str(QUERIED).expect("parses");
        assert_eq!(order.kind(), Some(OrderType::Limit));
        assert_eq!(order.price, Decimal::new(1, 1));
        assert_eq!(order.stop_price, Some(Decimal::ZERO));
        assert_eq!(order.executed_qty, Decimal::new(4, 1));
        assert_eq!(order.cummulative_quote_qty, Decimal::new(4, 2));
        assert!(!order.is_final() && !order.in_order_list());
        assert_eq!(order.trailing_delta, None);
        // A type this build does not know still parses; kind() says so.
        let pegged = QUERIED.replace(r#""type":"LIMIT""#, r#""type":"PEGGED_SOMETHING""#);
        let order: Order = serde_json::from_str(&pegged).expect("parses");
        assert_eq!(order.kind(), None);
        // An ACK-style reply without the type, or a non-numeric delta, is an
        // error naming the field.
        let untyped = QUERIED.replace(r#""type":"LIMIT","#, "");
        let e = serde_json::from_str::<Order>(&untyped).expect_err("no type");
        assert!(e.to_string().contains("`type`"), "{e}");
        let bad_delta = QUERIED.replace(r#""icebergQty""#, r#""trailingDelta":"x","icebergQty""#);
        assert!(serde_json::from_str::<Order>(&bad_delta).is_err());
        for t in OrderType::ALL {
            assert_eq!(OrderType::parse(t.as_str()), Some(t));
        }
        assert_eq!(OrderType::parse("limit"), None);
    }

    #[test]
    fn legacy_ids_are_the_old_scheme() {
        let id = legacy_client_order_id("btc-trend", 42);
        assert!(id.starts_with("btc-trend-") && id.ends_with("-42"), "{id}");
        assert_eq!(id.len(), "btc-trend-".len() + 8 + 3);
        let long = "a very long engine name with spaces and é accents, longer than 36";
        let other = "a very long engine name with spaces and é accents, longer than 37";
        assert!(allowed(&legacy_client_order_id(long, u64::MAX)));
        assert_ne!(
            legacy_client_order_id(long, 1),
            legacy_client_order_id(other, 1)
        );
    }
}
