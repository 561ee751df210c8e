//! The SIGNED account and order endpoints: `GET /api/v3/account`,
//! `POST`/`GET`/`DELETE /api/v3/order`, `GET /api/v3/myTrades`. MARKET
//! orders fill at once at the current candle's close, in one trade that
//! pays the configured commission; LIMIT orders stay `NEW` (open, nothing
//! locked) until cancelled, so that open-order rules can be exercised.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};

use super::auth::{number_param, Params};
use super::error::ApiError;
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
        .iter()
        .map(|(asset, free)| json!({"asset": asset, "free": free.to_string(), "locked": "0"}))
        .collect();
    json!({
        "makerCommission": 0, "takerCommission": 0, "buyerCommission": 0,
        "sellerCommission": 0, "canTrade": true, "canWithdraw": false,
        "canDeposit": false, "accountType": "SPOT", "updateTime": state.now_ms(),
        "balances": balances, "permissions": ["SPOT"]
    })
}

fn decimal(params: &Params, name: &str) -> Result<Decimal, ApiError> {
    params
        .get(name)
        .and_then(|v| Decimal::from_str(v).ok())
        .filter(|d| *d > Decimal::ZERO)
        .ok_or_else(|| ApiError::mandatory(name))
}

fn check_symbol(state: &SimState, params: &Params) -> Result<(), ApiError> {
    match params.get("symbol") {
        None => Err(ApiError::mandatory("symbol")),
        Some(s) if s != &state.config.symbol => Err(ApiError::invalid_symbol()),
        Some(_) => Ok(()),
    }
}

/// `POST /api/v3/order`.
pub fn place(state: &mut SimState, params: &Params) -> Result<Value, ApiError> {
    check_symbol(state, params)?;
    let side = params.get("side").map(String::as_str);
    let side = match side {
        Some("BUY") => "BUY",
        Some("SELL") => "SELL",
        _ => return Err(ApiError::mandatory("side")),
    };
    let order_type = match params.get("type").map(String::as_str) {
        Some("MARKET") => "MARKET",
        Some("LIMIT") => "LIMIT",
        _ => return Err(ApiError::mandatory("type")),
    };
    let quantity = decimal(params, "quantity")?;
    let client_order_id = match params.get("newClientOrderId") {
        Some(id) if !valid_client_order_id(id) => {
            return Err(ApiError::illegal_chars("newClientOrderId"))
        }
        Some(id) => id.clone(),
        None => format!("sim-{}", state.orders.len() + 1),
    };
    let c = &state.config;
    let price = if order_type == "LIMIT" {
        let price = decimal(params, "price")?;
        if !(price % c.tick_size).is_zero() {
            return Err(ApiError::filter_failure("PRICE_FILTER"));
        }
        price
    } else {
        state
            .current_candle()
            .map(|k| k.close)
            .ok_or_else(|| ApiError::new_order_rejected("No price: the simulator has no candle."))?
    };
    let (min_qty, max_qty, step) = c.lot_size;
    if quantity < min_qty || quantity > max_qty || !((quantity - min_qty) % step).is_zero() {
        return Err(ApiError::filter_failure("LOT_SIZE"));
    }
    let notional = quantity * price;
    if notional < c.min_notional {
        return Err(ApiError::filter_failure("NOTIONAL"));
    }
    let duplicate = state
        .orders
        .iter()
        .any(|o| o.client_order_id == client_order_id && o.status == "NEW");
    if duplicate {
        return Err(ApiError::new_order_rejected("Duplicate order sent."));
    }
    let (base, quote) = (c.base_asset.clone(), c.quote_asset.clone());
    let free = |asset: &str| c.balances.get(asset).copied().unwrap_or_default();
    let enough = match side {
        "BUY" => free(&quote) >= notional,
        _ => free(&base) >= quantity,
    };
    if !enough {
        return Err(ApiError::new_order_rejected(
            "Account has insufficient balance for requested action.",
        ));
    }
    let working = order_type == "MARKET" && c.market_fill_after_queries > 0;
    let order = SimOrder {
        order_id: u64::try_from(state.orders.len()).unwrap_or(u64::MAX) + 1,
        client_order_id,
        side: side.into(),
        order_type: order_type.into(),
        status: "NEW".into(),
        orig_qty: quantity,
        executed_qty: Decimal::ZERO,
        cummulative_quote_qty: Decimal::ZERO,
        price,
        time_ms: state.now_ms(),
    };
    let order_id = order.order_id;
    state.orders.push(order);
    let at = state.orders.len() - 1;
    let fills = if order_type == "MARKET" && !working {
        let trade = execute(state, at);
        json!([{"price": trade.price.to_string(), "qty": trade.qty.to_string(),
                "commission": trade.commission.to_string(),
                "commissionAsset": trade.commission_asset, "tradeId": trade.id}])
    } else {
        json!([])
    };
    if working {
        let queries = state.config.market_fill_after_queries;
        state.working.insert(order_id, queries);
    }
    let order = &state.orders[at];
    let mut reply = order_json(&state.config.symbol, order);
    reply["transactTime"] = json!(order.time_ms);
    reply["fills"] = fills;
    Ok(reply)
}

/// Fills order `at` whole at its price in one trade: the balances move (the
/// commission is taken from the asset received) and the trade is recorded.
fn execute(state: &mut SimState, at: usize) -> SimTrade {
    let time_ms = state.now_ms();
    let c = &mut state.config;
    let order = &mut state.orders[at];
    let (qty, price, buy) = (order.orig_qty, order.price, order.side == "BUY");
    let notional = qty * price;
    order.status = "FILLED".into();
    order.executed_qty = qty;
    order.cummulative_quote_qty = notional;
    let (paid, paid_asset, received, received_asset) = if buy {
        (notional, &c.quote_asset, qty, &c.base_asset)
    } else {
        (qty, &c.base_asset, notional, &c.quote_asset)
    };
    let commission =
        (received * c.commission_rate).round_dp_with_strategy(8, RoundingStrategy::ToZero);
    *c.balances.entry(paid_asset.clone()).or_default() -= paid;
    *c.balances.entry(received_asset.clone()).or_default() += received - commission;
    let trade = SimTrade {
        id: u64::try_from(state.trades.len()).unwrap_or(u64::MAX) + 1,
        order_id: order.order_id,
        price,
        qty,
        quote_qty: notional,
        commission,
        commission_asset: received_asset.clone(),
        is_buyer: buy,
        time_ms,
    };
    state.trades.push(trade.clone());
    trade
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
                "orderListId": -1, "price": t.price.to_string(), "qty": t.qty.to_string(),
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
    let order = &state.orders[at];
    let mut reply = order_json(&state.config.symbol, order);
    reply["time"] = json!(order.time_ms);
    reply["updateTime"] = json!(order.time_ms);
    Ok(reply)
}

/// `DELETE /api/v3/order`: -2011 unless the order is open.
pub fn cancel(state: &mut SimState, params: &Params) -> Result<Value, ApiError> {
    let at = find(state, params)?.ok_or_else(ApiError::unknown_order)?;
    if state.orders[at].status != "NEW" {
        return Err(ApiError::unknown_order());
    }
    state.orders[at].status = "CANCELED".into();
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
    execute(state, at);
}

fn order_json(symbol: &str, o: &SimOrder) -> Value {
    json!({
        "symbol": symbol, "orderId": o.order_id, "orderListId": -1,
        "clientOrderId": o.client_order_id,
        "price": if o.order_type == "LIMIT" { o.price.to_string() } else { "0.00000000".into() },
        "origQty": o.orig_qty.to_string(), "executedQty": o.executed_qty.to_string(),
        "cummulativeQuoteQty": o.cummulative_quote_qty.to_string(),
        "status": o.status, "timeInForce": "GTC", "type": o.order_type, "side": o.side,
        "workingTime": o.time_ms, "selfTradePreventionMode": "NONE"
    })
}
