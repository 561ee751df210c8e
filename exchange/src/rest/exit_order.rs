//! The requests of resting orders: a LIMIT (GTC) entry, a stop
//! ([`StopOrder`]: `STOP_LOSS_LIMIT` or `TAKE_PROFIT_LIMIT`, by price or
//! trailing) and an OCO ([`Oco`]), turned into Binance's parameters by
//! pure functions so that what is sent can be tested without a server.
//!
//! Every order asks for the `FULL` reply: Binance answers stop orders and
//! order lists with `ACK` by default, which lacks the status and
//! quantities the engine books from.

use rust_decimal::Decimal;

use super::order::{OrderType, Side};

/// Which limit order a stop becomes when it triggers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// `STOP_LOSS_LIMIT`: for a SELL, triggers when the price falls to the
    /// stop; for a BUY, when it rises to it.
    StopLossLimit,
    /// `TAKE_PROFIT_LIMIT`: for a SELL, triggers when the price rises to the
    /// stop; for a BUY, when it falls to it.
    TakeProfitLimit,
}

impl StopKind {
    /// The order type sent.
    pub fn order_type(self) -> OrderType {
        match self {
            StopKind::StopLossLimit => OrderType::StopLossLimit,
            StopKind::TakeProfitLimit => OrderType::TakeProfitLimit,
        }
    }
}

/// What triggers a stop. Binance requires a `stopPrice`, a
/// `trailingDelta`, or both; this type cannot say neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopTrigger {
    /// `stopPrice`: triggers when the market price reaches it.
    Price(Decimal),
    /// `trailingDelta` (BIPS, 100 = 1 %): triggers when the price retraces
    /// that much from the best price since it started trailing; with an
    /// `activation` price (`stopPrice`) it starts trailing only once the
    /// market reaches that price, without one at once.
    Trailing {
        /// The retracement, BIPS.
        delta_bips: u32,
        /// The price at which it starts trailing, if not at once.
        activation: Option<Decimal>,
    },
}

impl StopTrigger {
    /// The `stopPrice` sent, if any.
    pub fn stop_price(&self) -> Option<Decimal> {
        match *self {
            StopTrigger::Price(price) => Some(price),
            StopTrigger::Trailing { activation, .. } => activation,
        }
    }

    /// The `trailingDelta` sent, if any.
    pub fn trailing_delta(&self) -> Option<u32> {
        match *self {
            StopTrigger::Price(_) => None,
            StopTrigger::Trailing { delta_bips, .. } => Some(delta_bips),
        }
    }
}

/// A `STOP_LOSS_LIMIT` or `TAKE_PROFIT_LIMIT` order, GTC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StopOrder {
    /// Which stop.
    pub kind: StopKind,
    /// The side (SELL protects a long).
    pub side: Side,
    /// Base quantity (already on the lot step).
    pub qty: Decimal,
    /// What triggers it.
    pub trigger: StopTrigger,
    /// The limit price it works at once triggered (`price`).
    pub limit_price: Decimal,
    /// `newClientOrderId`: deterministic, so a retry finds it.
    pub client_order_id: String,
}

/// A one-cancels-the-other pair (`POST /api/v3/orderList/oco`) of a
/// `LIMIT_MAKER` take-profit and a `STOP_LOSS_LIMIT` stop, both GTC on the
/// same quantity. For a SELL (protecting a long) the take-profit is the
/// *above* leg and the stop the *below* one; for a BUY (protecting a
/// short) the other way round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Oco {
    /// The side of both legs.
    pub side: Side,
    /// Base quantity of both legs.
    pub qty: Decimal,
    /// The take-profit leg's limit price (`LIMIT_MAKER`).
    pub take_profit_price: Decimal,
    /// The stop leg's `stopPrice` (its activation price when trailing).
    pub stop_price: Decimal,
    /// The stop leg's limit price once triggered.
    pub stop_limit_price: Decimal,
    /// The stop leg's `trailingDelta`, BIPS, when it trails.
    pub trailing_delta: Option<u32>,
    /// `listClientOrderId`.
    pub list_client_order_id: String,
    /// The client id of the leg above the market (`aboveClientOrderId`).
    pub above_client_order_id: String,
    /// The client id of the leg below the market (`belowClientOrderId`).
    pub below_client_order_id: String,
}

/// One request's parameters, in the order they are sent.
pub(super) type Params = Vec<(&'static str, String)>;

fn text(d: Decimal) -> String {
    d.normalize().to_string()
}

/// `POST /api/v3/order` parameters of a LIMIT GTC order.
pub(super) fn limit_params(
    symbol: &str,
    side: Side,
    qty: Decimal,
    price: Decimal,
    client_order_id: &str,
) -> Params {
    vec![
        ("symbol", symbol.to_owned()),
        ("side", side.to_string()),
        ("type", OrderType::Limit.to_string()),
        ("timeInForce", "GTC".into()),
        ("quantity", text(qty)),
        ("price", text(price)),
        ("newClientOrderId", client_order_id.to_owned()),
        ("newOrderRespType", "FULL".into()),
    ]
}

/// `POST /api/v3/order` parameters of a stop order.
pub(super) fn stop_params(symbol: &str, order: &StopOrder) -> Params {
    let mut params = vec![
        ("symbol", symbol.to_owned()),
        ("side", order.side.to_string()),
        ("type", order.kind.order_type().to_string()),
        ("timeInForce", "GTC".into()),
        ("quantity", text(order.qty)),
        ("price", text(order.limit_price)),
    ];
    if let Some(stop) = order.trigger.stop_price() {
        params.push(("stopPrice", text(stop)));
    }
    if let Some(delta) = order.trigger.trailing_delta() {
        params.push(("trailingDelta", delta.to_string()));
    }
    params.push(("newClientOrderId", order.client_order_id.clone()));
    params.push(("newOrderRespType", "FULL".into()));
    params
}

/// The parameter names of one OCO leg.
struct Leg {
    order_type: &'static str,
    price: &'static str,
    stop_price: &'static str,
    trailing_delta: &'static str,
    time_in_force: &'static str,
}

const ABOVE: Leg = Leg {
    order_type: "aboveType",
    price: "abovePrice",
    stop_price: "aboveStopPrice",
    trailing_delta: "aboveTrailingDelta",
    time_in_force: "aboveTimeInForce",
};

const BELOW: Leg = Leg {
    order_type: "belowType",
    price: "belowPrice",
    stop_price: "belowStopPrice",
    trailing_delta: "belowTrailingDelta",
    time_in_force: "belowTimeInForce",
};

/// `POST /api/v3/orderList/oco` parameters.
pub(super) fn oco_params(symbol: &str, oco: &Oco) -> Params {
    let (take_profit, stop) = match oco.side {
        Side::Sell => (ABOVE, BELOW),
        Side::Buy => (BELOW, ABOVE),
    };
    let mut params = vec![
        ("symbol", symbol.to_owned()),
        ("side", oco.side.to_string()),
        ("quantity", text(oco.qty)),
        ("listClientOrderId", oco.list_client_order_id.clone()),
        ("aboveClientOrderId", oco.above_client_order_id.clone()),
        ("belowClientOrderId", oco.below_client_order_id.clone()),
        (take_profit.order_type, OrderType::LimitMaker.to_string()),
        (take_profit.price, text(oco.take_profit_price)),
        (stop.order_type, OrderType::StopLossLimit.to_string()),
        (stop.price, text(oco.stop_limit_price)),
        (stop.stop_price, text(oco.stop_price)),
    ];
    if let Some(delta) = oco.trailing_delta {
        params.push((stop.trailing_delta, delta.to_string()));
    }
    params.push((stop.time_in_force, "GTC".into()));
    params.push(("newOrderRespType", "FULL".into()));
    params
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("test decimal")
    }

    fn get<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_limit_order_is_gtc_with_exact_decimals_and_the_full_reply() {
        let p = limit_params("BTCUSDT", Side::Buy, d("0.01000"), d("42000.50"), "e-1-7");
        assert_eq!(get(&p, "type"), Some("LIMIT"));
        assert_eq!(get(&p, "timeInForce"), Some("GTC"));
        assert_eq!(get(&p, "quantity"), Some("0.01"));
        assert_eq!(get(&p, "price"), Some("42000.5"));
        assert_eq!(get(&p, "newClientOrderId"), Some("e-1-7"));
        assert_eq!(get(&p, "newOrderRespType"), Some("FULL"));
    }

    #[test]
    fn a_stop_sends_stop_price_or_trailing_delta_or_both() {
        let mut stop = StopOrder {
            kind: StopKind::StopLossLimit,
            side: Side::Sell,
            qty: d("0.5"),
            trigger: StopTrigger::Price(d("39000")),
            limit_price: d("38900"),
            client_order_id: "e-1-7-sl".into(),
        };
        let p = stop_params("BTCUSDT", &stop);
        assert_eq!(get(&p, "type"), Some("STOP_LOSS_LIMIT"));
        assert_eq!(get(&p, "stopPrice"), Some("39000"));
        assert_eq!(get(&p, "price"), Some("38900"));
        assert_eq!(get(&p, "trailingDelta"), None);
        assert_eq!(get(&p, "timeInForce"), Some("GTC"));
        assert_eq!(get(&p, "newOrderRespType"), Some("FULL"));

        stop.kind = StopKind::TakeProfitLimit;
        stop.trigger = StopTrigger::Trailing {
            delta_bips: 250,
            activation: None,
        };
        let p = stop_params("BTCUSDT", &stop);
        assert_eq!(get(&p, "type"), Some("TAKE_PROFIT_LIMIT"));
        assert_eq!(get(&p, "stopPrice"), None);
        assert_eq!(get(&p, "trailingDelta"), Some("250"));

        stop.trigger = StopTrigger::Trailing {
            delta_bips: 100,
            activation: Some(d("41000")),
        };
        let p = stop_params("BTCUSDT", &stop);
        assert_eq!(get(&p, "stopPrice"), Some("41000"));
        assert_eq!(get(&p, "trailingDelta"), Some("100"));
    }

    fn oco(side: Side) -> Oco {
        Oco {
            side,
            qty: d("0.25"),
            take_profit_price: d("44000"),
            stop_price: d("39000"),
            stop_limit_price: d("38800"),
            trailing_delta: None,
            list_client_order_id: "e-1-7-x".into(),
            above_client_order_id: "e-1-7-a".into(),
            below_client_order_id: "e-1-7-b".into(),
        }
    }

    #[test]
    fn a_sell_oco_puts_the_take_profit_above_and_the_stop_below() {
        let p = oco_params("BTCUSDT", &oco(Side::Sell));
        assert_eq!(get(&p, "side"), Some("SELL"));
        assert_eq!(get(&p, "quantity"), Some("0.25"));
        assert_eq!(get(&p, "aboveType"), Some("LIMIT_MAKER"));
        assert_eq!(get(&p, "abovePrice"), Some("44000"));
        assert_eq!(get(&p, "aboveStopPrice"), None);
        assert_eq!(get(&p, "aboveTimeInForce"), None);
        assert_eq!(get(&p, "aboveTrailingDelta"), None);
        assert_eq!(get(&p, "belowType"), Some("STOP_LOSS_LIMIT"));
        assert_eq!(get(&p, "belowStopPrice"), Some("39000"));
        assert_eq!(get(&p, "belowPrice"), Some("38800"));
        assert_eq!(get(&p, "belowTimeInForce"), Some("GTC"));
        assert_eq!(get(&p, "belowTrailingDelta"), None);
        assert_eq!(get(&p, "listClientOrderId"), Some("e-1-7-x"));
        assert_eq!(get(&p, "aboveClientOrderId"), Some("e-1-7-a"));
        assert_eq!(get(&p, "belowClientOrderId"), Some("e-1-7-b"));
    }

    #[test]
    fn a_buy_oco_puts_the_stop_above_and_a_trailing_delta_on_the_stop_leg() {
        let mut o = oco(Side::Buy);
        o.trailing_delta = Some(150);
        let p = oco_params("BTCUSDT", &o);
        assert_eq!(get(&p, "aboveType"), Some("STOP_LOSS_LIMIT"));
        assert_eq!(get(&p, "aboveStopPrice"), Some("39000"));
        assert_eq!(get(&p, "aboveTrailingDelta"), Some("150"));
        assert_eq!(get(&p, "aboveTimeInForce"), Some("GTC"));
        assert_eq!(get(&p, "belowType"), Some("LIMIT_MAKER"));
        assert_eq!(get(&p, "belowPrice"), Some("44000"));
        assert_eq!(get(&p, "belowTrailingDelta"), None);
    }
}
