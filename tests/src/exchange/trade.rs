//! The SIGNED account and order endpoints: `GET /api/v3/account`,
//! `POST`/`GET`/`DELETE /api/v3/order`, `GET /api/v3/myTrades`, and the
//! checks every new order passes (type allowed, lot size, notional, client
//! id, balance). MARKET orders fill at once at the current candle's close,
//! in one trade that pays the configured commission; the other types rest
//! (the `resting` module, which takes every `POST /api/v3/order` first) and
//! move with the price path ([`super::matching`]).

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::auth::{number_param, Params};
use super::error::ApiError;
use super::matching::fill;
use super::state::{SimOrder, SimState, SimTrade};

/// The longest `newClientOrderId` Binance accepts.
pub const MAX_CLIENT_ORDER_ID: usize = 36;

/// Whether `id` matches Binance's `^[\.A-Z\:/a-z0-9_-]{1,36}$`.
pub fn valid_client_order_id(id: &str) -> bool {
    (1..=MAX_CLIENT_ORDER_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'/' | b'_' | b'-'))
}

/// `GET /api/v3/account`.
pub fn account(state: &SimState) -> Value {
    let balances: Vec<Value> = state
        .config
        .balances
        .keys()
        .map(|asset| {
            json!({"asset": asset, "free": state.free(asset).to_string(),
                   "locked": state.locked(asset).to_string()})
        })
        .collect();
    json!({
        "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0,
        "sellerCommission": 0, "canTrade": true, "canWithdraw": false,
        "canDeposit": false, "accountType": "SPOT", "updateTime": state.now_ms(),
        "balances": balances, "permissions": ["SPOT"]
    })
}

/// The `symbol` parameter names the listed symbol.
pub fn check_symbol(state: &SimState, params: &Params) -> Result<(), ApiError> {
    match params.get("symbol") {
        None => Err(ApiError::mandatory("symbol")),
        Some(s) if s != &state.config.symbol => Err(ApiError::invalid_symbol()),
        Some(_) => Ok(()),
    }
}

/// The order types the simulator knows, and Binance's -2010 message for
/// each when the symbol does not list it.
const TYPES: [(&str, &str); 5] = [
    ("MARKET", "Market orders are not supported for this symbol."),
    ("LIMIT", "Unsupported order combination"),
    ("LIMIT_MAKER", "Unsupported order combination"),
    (
        "STOP_LOSS_LIMIT",
        "Stop loss limit orders are not supported for this symbol.",
    ),
    (
        "TAKE_PROFIT_LIMIT",
        "Take profit limit orders are not supported for this symbol.",
    ),
];

/// The `side` parameter.
pub fn side(params: &Params) -> Result<&'static str, ApiError> {
    match params.get("side").map(String::as_str) {
        Some("BUY") => Ok("BUY"),
        Some("SELL") => Ok("SELL"),
        _ => Err(ApiError::mandatory("side")),
    }
}

/// The order type in parameter `name`, refused as Binance does when the
/// symbol does not list it.
pub fn order_type(state: &SimState, params: &Params, name: &str) -> Result<&'static str, ApiError> {
    let asked = params.get(name).ok_or_else(|| ApiError::mandatory(name))?;
    let (known, refusal) = TYPES
        .iter()
        .find(|(t, _)| t == asked)
        .ok_or_else(ApiError::invalid_order_type)?;
    if !state.config.order_types.iter().any(|t| t == known) {
        return Err(ApiError::new_order_rejected(refusal));
    }
    Ok(known)
}

/// A positive decimal parameter.
pub fn decimal(params: &Params, name: &str) -> Result<Decimal, ApiError> {
    params
        .get(name)
        .and_then(|v| Decimal::from_str(v).ok())
        .filter(|d| *d > Decimal::ZERO)
        .ok_or_else(|| ApiError::mandatory(name))
}

/// A client id parameter (`newClientOrderId`, `aboveClientOrderId`, ...):
/// Binance's pattern, and unique among open orders; generated when absent.
pub fn client_id(state: &SimState, params: &Params, name: &str) -> Result<String, ApiError> {
    let id = match params.get(name) {
        Some(id) if !valid_client_order_id(id) => return Err(ApiError::illegal_chars(name)),
        Some(id) => id.clone(),
        None => format!("sim-{name}-{}", state.orders.len() + 1),
    };
    if state
        .orders
        .iter()
        .any(|o| o.client_order_id == id && o.is_open())
    {
        return Err(ApiError::new_order_rejected("Duplicate order sent."));
    }
    Ok(id)
}

/// `LOT_SIZE` and, at `price`, `NOTIONAL` (-1013 naming the filter).
pub fn check_quantity(state: &SimState, quantity: Decimal, price: Decimal) -> Result<(), ApiError> {
    let c = &state.config;
    let (min_qty, max_qty, step) = c.lot_size;
    if quantity < min_qty || quantity > max_qty || !((quantity - min_qty) % step).is_zero() {
        return Err(ApiError::filter_failure("LOT_SIZE"));
    }
    if quantity * price < c.min_notional {
        return Err(ApiError::filter_failure("NOTIONAL"));
    }
    Ok(())
}

/// Whether the free balance (what open orders do not lock) pays for
/// `quantity` at `price` on `side` (-2010 insufficient balance otherwise).
pub fn check_balance(
    state: &SimState,
    side: &str,
    quantity: Decimal,
    price: Decimal,
) -> Result<(), ApiError> {
    let c = &state.config;
    let enough = match side {
        "BUY" => state.free(&c.quote_asset) >= quantity * price,
        _ => state.free(&c.base_asset) >= quantity,
    };
    if enough {
        Ok(())
    } else {
        Err(ApiError::new_order_rejected(
            "Account has insufficient balance for requested action.",
        ))
    }
}

/// The price orders are checked against and market orders fill at: the
/// current candle's close.
pub fn last_price(state: &SimState) -> Result<Decimal, ApiError> {
    state
        .current_candle()
        .map(|k| k.close)
        .ok_or_else(|| ApiError::new_order_rejected("No price: the simulator has no candle."))
}

/// A new order with the next id, `NEW`, nothing executed.
pub fn new_order(
    state: &SimState,
    client_order_id: String,
    side: &str,
    order_type: &str,
    quantity: Decimal,
    price: Decimal,
) -> SimOrder {
    let now = state.now_ms();
    SimOrder {
        order_id: u64::try_from(state.orders.len()).unwrap_or(u64::MAX) + 1,
        client_order_id,
        side: side.into(),
        order_type: order_type.into(),
        status: "NEW".into(),
        orig_qty: quantity,
        executed_qty: Decimal::ZERO,
        cummulative_quote_qty: Decimal::ZERO,
        price,
        stop_price: None,
        trailing_delta: None,
        trail_best: None,
        triggered: false,
        order_list_id: -1,
        time_ms: now,
        update_ms: now,
    }
}

/// `POST /api/v3/order` of a MARKET order (`side` and `order_type`
/// checked already).
pub fn place_market(
    state: &mut SimState,
    params: &Params,
    side: &'static str,
    order_type: &'static str,
) -> Result<Value, ApiError> {
    let quantity = decimal(params, "quantity")?;
    let client_order_id = client_id(state, params, "newClientOrderId")?;
    let price = last_price(state)?;
    check_quantity(state, quantity, price)?;
    check_balance(state, side, quantity, price)?;
    let working = state.config.market_fill_after_queries > 0;
    let order = new_order(state, client_order_id, side, order_type, quantity, price);
    let order_id = order.order_id;
    state.orders.push(order);
    let at = state.orders.len() - 1;
    let fills: Vec<SimTrade> = if working {
        let queries = state.config.market_fill_after_queries;
        state.working.insert(order_id, queries);
        Vec::new()
    } else {
        fill(state, at, quantity, price).into_iter().collect()
    };
    Ok(new_order_reply(state, at, &fills))
}

/// The `FULL` reply to a new order: the order, `transactTime` and its
/// trades so far.
pub fn new_order_reply(state: &SimState, at: usize, fills: &[SimTrade]) -> Value {
    let order = &state.orders[at];
    let mut reply = order_json(&state.config.symbol, order);
    reply["transactTime"] = json!(order.time_ms);
    reply["fills"] = fills
        .iter()
        .map(|t| {
            json!({"price": t.price.to_string(), "qty": t.qty.to_string(),
                   "commission": t.commission.to_string(),
                   "commissionAsset": t.commission_asset, "tradeId": t.id})
        })
        .collect();
    reply
}

/// `GET /api/v3/myTrades?symbol[&orderId][&limit]`: the account's trades
/// of the symbol, oldest first, only order `orderId`'s when it is given,
/// at most `limit` (default 500, at most 1000) of the newest.
pub fn my_trades(state: &SimState, params: &Params) -> Result<Value, ApiError> {
    check_symbol(state, params)?;
    let number = |name: &str| number_param::<u64>(params, name, ApiError::illegal_chars);
    let order_id = number("orderId")?;
    let limit = match number("limit")? {
        None => 500,
        Some(n @ 1..=1000) => usize::try_from(n).unwrap_or(1000),
        Some(_) => return Err(ApiError::mandatory("limit")),
    };
    let of_order: Vec<&SimTrade> = state
        .trades
        .iter()
        .filter(|t| order_id.is_none_or(|id| t.order_id == id))
        .collect();
    let skip = of_order.len().saturating_sub(limit);
    let rows: Vec<Value> = of_order[skip..]
        .iter()
        .map(|t| {
            json!({
                "symbol": state.config.symbol, "id": t.id, "orderId": t.order_id,
                "orderListId": order_list_of(state, t.order_id), "price": t.price.to_string(), "qty": t.qty.to_string(),
                "quoteQty": t.quote_qty.to_string(), "commission": t.commission.to_string(),
                "commissionAsset": t.commission_asset, "time": t.time_ms,
                "isBuyer": t.is_buyer, "isMaker": false, "isBestMatch": true
            })
        })
        .collect();
    Ok(Value::Array(rows))
}

/// The index of the latest order of `origClientOrderId` (or `orderId`).
fn find(state: &SimState, params: &Params) -> Result<Option<usize>, ApiError> {
    check_symbol(state, params)?;
    let by_client = params.get("origClientOrderId");
    let by_id = params.get("orderId").and_then(|v| v.parse::<u64>().ok());
    if by_client.is_none() && by_id.is_none() {
        return Err(ApiError::mandatory("origClientOrderId"));
    }
    Ok(state.orders.iter().rposition(|o| {
        by_client.is_none_or(|c| &o.client_order_id == c) && by_id.is_none_or(|i| o.order_id == i)
    }))
}

/// `GET /api/v3/order`: -2013 when the exchange has no such order. A
/// working MARKET order fills on its configured query.
pub fn query(state: &mut SimState, params: &Params) -> Result<Value, ApiError> {
    let at = find(state, params)?.ok_or_else(ApiError::no_such_order)?;
    fill_when_due(state, at);
    Ok(query_json(&state.config.symbol, &state.orders[at]))
}

/// The `orderListId` of order `order_id` (-1 when in none).
fn order_list_of(state: &SimState, order_id: u64) -> i64 {
    state
        .orders
        .iter()
        .find(|o| o.order_id == order_id)
        .map_or(-1, |o| o.order_list_id)
}

/// `DELETE /api/v3/order`: -2011 unless the order is open. Cancelling an
/// OCO leg cancels its whole list, as on Binance.
pub fn cancel(state: &mut SimState, params: &Params) -> Result<Value, ApiError> {
    let at = find(state, params)?.ok_or_else(ApiError::unknown_order)?;
    if !state.orders[at].is_open() {
        return Err(ApiError::unknown_order());
    }
    let now = state.now_ms();
    let list = state.orders[at].order_list_id;
    for o in state.orders.iter_mut() {
        if list >= 0 && o.order_list_id == list && o.is_open() {
            o.status = "CANCELED".into();
            o.update_ms = now;
        }
    }
    state.orders[at].status = "CANCELED".into();
    state.orders[at].update_ms = now;
    let id = state.orders[at].order_id;
    state.working.remove(&id);
    let order = &state.orders[at];
    let mut reply = order_json(&state.config.symbol, order);
    reply["origClientOrderId"] = json!(order.client_order_id);
    reply["transactTime"] = json!(state.now_ms());
    Ok(reply)
}

/// Counts one query of the working order at `at`, filling it on the last.
fn fill_when_due(state: &mut SimState, at: usize) {
    let id = state.orders[at].order_id;
    let Some(left) = state.working.get_mut(&id) else {
        return;
    };
    *left = left.saturating_sub(1);
    if *left > 0 {
        return;
    }
    state.working.remove(&id);
    let (qty, price) = (state.orders[at].orig_qty, state.orders[at].price);
    fill(state, at, qty, price);
}

/// An order as Binance reports it in every order reply.
pub fn order_json(symbol: &str, o: &SimOrder) -> Value {
    let price = if o.order_type == "MARKET" {
        "0.00000000".into()
    } else {
        o.price.to_string()
    };
    let mut reply = json!({
        "symbol": symbol, "orderId": o.order_id, "orderListId": o.order_list_id,
        "clientOrderId": o.client_order_id, "price": price,
        "origQty": o.orig_qty.to_string(), "executedQty": o.executed_qty.to_string(),
        "cummulativeQuoteQty": o.cummulative_quote_qty.to_string(),
        "status": o.status, "timeInForce": "GTC", "type": o.order_type, "side": o.side,
        "workingTime": if o.is_stop() && !o.triggered { -1 } else { o.time_ms },
        "selfTradePreventionMode": "NONE"
    });
    if let Some(stop) = o.stop_price {
        reply["stopPrice"] = json!(stop.to_string());
    }
    if let Some(delta) = o.trailing_delta {
        reply["trailingDelta"] = json!(delta);
    }
    reply
}

/// An order as `GET /api/v3/order` and `GET /api/v3/openOrders` report it.
pub fn query_json(symbol: &str, o: &SimOrder) -> Value {
    let mut reply = order_json(symbol, o);
    reply["time"] = json!(o.time_ms);
    reply["updateTime"] = json!(o.update_ms);
    reply["isWorking"] = json!(!o.is_stop() || o.triggered);
    reply
}
