//! Resting orders and OCO lists, as Binance documents them:
//!
//! - `POST /api/v3/order` of `LIMIT`, `LIMIT_MAKER`, `STOP_LOSS_LIMIT` and
//!   `TAKE_PROFIT_LIMIT` (GTC only). Prices pass `PRICE_FILTER` (`price` and
//!   `stopPrice`) and `PERCENT_PRICE_BY_SIDE` (`price`, around the current
//!   close), quantities `LOT_SIZE` and `NOTIONAL` at the limit price. A
//!   marketable LIMIT fills at once at the current close (a `LIMIT_MAKER`
//!   would take, so is refused); a plain stop whose condition already holds
//!   is refused ("Order would trigger immediately."); a trailing stop
//!   without `stopPrice` starts trailing from the current close.
//! - `POST /api/v3/orderList/oco`: a `LIMIT_MAKER` leg and a
//!   `STOP_LOSS_LIMIT` leg (above/below as the side says), the price
//!   relationship checked against the current close.
//! - `DELETE /api/v3/orderList`, `GET /api/v3/orderList`,
//!   `GET /api/v3/openOrders`, `GET /api/v3/openOrderList`.
//!
//! How they then move with the market: [`super::matching`].

use rust_decimal::Decimal;
use serde_json::{json, Value};

use super::auth::Params;
use super::error::ApiError;
use super::matching::fill;
use super::state::{SimOrderList, SimState};
use super::trade::{
    check_balance, check_quantity, check_symbol, client_id, decimal, last_price, new_order,
    new_order_reply, order_json, order_type, place_market, query_json, side,
};

/// `timeInForce`: only GTC is simulated.
fn check_gtc(params: &Params, name: &str) -> Result<(), ApiError> {
    match params.get(name).map(String::as_str) {
        Some("GTC") => Ok(()),
        Some(_) => Err(ApiError::unsupported("the simulator rests GTC orders only")),
        None => Err(ApiError::mandatory(name)),
    }
}

/// `PRICE_FILTER` for a `price` or `stopPrice`.
fn check_price_filter(state: &SimState, price: Decimal) -> Result<(), ApiError> {
    let tick = state.config.tick_size;
    if price < tick || price > Decimal::from(1_000_000) || !(price % tick).is_zero() {
        return Err(ApiError::filter_failure("PRICE_FILTER"));
    }
    Ok(())
}

/// `PERCENT_PRICE_BY_SIDE` for a limit `price` around `reference`.
fn check_band(
    state: &SimState,
    side: &str,
    price: Decimal,
    reference: Decimal,
) -> Result<(), ApiError> {
    let (bid_up, bid_down, ask_up, ask_down) = state.config.percent_price_by_side;
    let (up, down) = if side == "BUY" {
        (bid_up, bid_down)
    } else {
        (ask_up, ask_down)
    };
    if price > reference * up || price < reference * down {
        return Err(ApiError::filter_failure("PERCENT_PRICE_BY_SIDE"));
    }
    Ok(())
}

/// `trailingDelta`, when sent: a whole number of BIPS the symbol allows.
fn trailing_delta(state: &SimState, params: &Params, name: &str) -> Result<Option<u32>, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(None);
    };
    if !state.config.allow_trailing_stop {
        return Err(ApiError::new_order_rejected(
            "Trailing stop orders are not supported for this symbol.",
        ));
    }
    match text.parse::<u32>() {
        Ok(delta @ 1..=10_000) => Ok(Some(delta)),
        _ => Err(ApiError::filter_failure("TRAILING_DELTA")),
    }
}

/// Whether a `side` stop of `order_type` with `stop` would trigger at
/// `price` at once.
fn would_trigger(side: &str, order_type: &str, stop: Decimal, price: Decimal) -> bool {
    let at_or_below = (side == "BUY") == (order_type == "TAKE_PROFIT_LIMIT");
    if at_or_below {
        price <= stop
    } else {
        price >= stop
    }
}

/// `POST /api/v3/order`: a MARKET order fills at once
/// ([`super::trade::place_market`]), the other types rest here.
pub fn place_order(state: &mut SimState, params: &Params) -> Result<Value, ApiError> {
    check_symbol(state, params)?;
    let side = side(params)?;
    let order_type = order_type(state, params, "type")?;
    if order_type == "MARKET" {
        return place_market(state, params, side, order_type);
    }
    place(state, params, side, order_type)
}

/// `POST /api/v3/order` of a resting type.
pub fn place(
    state: &mut SimState,
    params: &Params,
    side: &'static str,
    order_type: &'static str,
) -> Result<Value, ApiError> {
    check_gtc_unless_maker(params, order_type)?;
    let quantity = decimal(params, "quantity")?;
    let price = decimal(params, "price")?;
    let client_order_id = client_id(state, params, "newClientOrderId")?;
    let last = last_price(state)?;
    check_price_filter(state, price)?;
    check_band(state, side, price, last)?;
    let is_stop = matches!(order_type, "STOP_LOSS_LIMIT" | "TAKE_PROFIT_LIMIT");
    let (stop_price, delta) = if is_stop {
        let stop = match params.get("stopPrice") {
            Some(_) => Some(decimal(params, "stopPrice")?),
            None => None,
        };
        let delta = trailing_delta(state, params, "trailingDelta")?;
        if stop.is_none() && delta.is_none() {
            return Err(ApiError::mandatory("stopPrice"));
        }
        (stop, delta)
    } else {
        (None, None)
    };
    if let Some(stop) = stop_price {
        check_price_filter(state, stop)?;
        if delta.is_none() && would_trigger(side, order_type, stop, last) {
            return Err(ApiError::new_order_rejected(
                "Order would trigger immediately.",
            ));
        }
    }
    check_quantity(state, quantity, price)?;
    check_balance(state, side, quantity, price)?;
    let marketable = if side == "BUY" {
        last <= price
    } else {
        last >= price
    };
    if order_type == "LIMIT_MAKER" && marketable {
        return Err(ApiError::new_order_rejected(
            "Order would immediately match and take.",
        ));
    }
    let mut order = new_order(state, client_order_id, side, order_type, quantity, price);
    order.stop_price = stop_price;
    order.trailing_delta = delta;
    if delta.is_some() {
        let active = stop_price.is_none_or(|stop| would_trigger(side, order_type, stop, last));
        order.trail_best = active.then_some(last);
    }
    state.orders.push(order);
    let at = state.orders.len() - 1;
    let fills = if order_type == "LIMIT" && marketable {
        let qty = state
            .config
            .limit_fill_per_candle
            .map_or(quantity, |cap| cap.min(quantity));
        fill(state, at, qty, last).into_iter().collect()
    } else {
        Vec::new()
    };
    Ok(new_order_reply(state, at, &fills))
}

/// `timeInForce` is mandatory (and GTC here) for all but `LIMIT_MAKER`.
fn check_gtc_unless_maker(params: &Params, order_type: &str) -> Result<(), ApiError> {
    if order_type == "LIMIT_MAKER" {
        return Ok(());
    }
    check_gtc(params, "timeInForce")
}

/// `POST /api/v3/orderList/oco`.
pub fn place_oco(state: &mut SimState, params: &Params) -> Result<Value, ApiError> {
    check_symbol(state, params)?;
    if !state.config.oco_allowed {
        return Err(ApiError::new_order_rejected(
            "OCO orders are not supported for this symbol",
        ));
    }
    let side = side(params)?;
    let quantity = decimal(params, "quantity")?;
    let list_client_order_id = list_client_id(state, params)?;
    let above_type = order_type(state, params, "aboveType")?;
    let below_type = order_type(state, params, "belowType")?;
    let (maker, stop) = match (side, above_type, below_type) {
        ("SELL", "LIMIT_MAKER", "STOP_LOSS_LIMIT") => ("above", "below"),
        ("BUY", "STOP_LOSS_LIMIT", "LIMIT_MAKER") => ("below", "above"),
        _ => return Err(ApiError::unsupported_combination()),
    };
    let field = |leg: &str, name: &str| format!("{leg}{name}");
    let maker_price = decimal(params, &field(maker, "Price"))?;
    let stop_limit = decimal(params, &field(stop, "Price"))?;
    let stop_price = decimal(params, &field(stop, "StopPrice"))?;
    let delta = trailing_delta(state, params, &field(stop, "TrailingDelta"))?;
    check_gtc(params, &field(stop, "TimeInForce"))?;
    let above_id = client_id(state, params, "aboveClientOrderId")?;
    let below_id = client_id(state, params, "belowClientOrderId")?;
    if above_id == below_id {
        return Err(ApiError::new_order_rejected("Duplicate order sent."));
    }
    let last = last_price(state)?;
    for price in [maker_price, stop_limit, stop_price] {
        check_price_filter(state, price)?;
    }
    check_band(state, side, maker_price, last)?;
    check_band(state, side, stop_limit, last)?;
    let related = if side == "SELL" {
        maker_price > last && last > stop_price
    } else {
        maker_price < last && last < stop_price
    };
    if !related {
        return Err(ApiError::new_order_rejected(
            "The relationship of the prices for the orders is not correct.",
        ));
    }
    check_quantity(state, quantity, maker_price.min(stop_limit))?;
    check_balance(state, side, quantity, maker_price.max(stop_limit))?;
    let list_id = i64::try_from(state.order_lists.len()).unwrap_or(i64::MAX);
    let (maker_id, stop_id) = if maker == "above" {
        (above_id, below_id)
    } else {
        (below_id, above_id)
    };
    let mut stop_leg = new_order(
        state,
        stop_id,
        side,
        "STOP_LOSS_LIMIT",
        quantity,
        stop_limit,
    );
    stop_leg.stop_price = Some(stop_price);
    stop_leg.trailing_delta = delta;
    stop_leg.order_list_id = list_id;
    if delta.is_some() && would_trigger(side, "STOP_LOSS_LIMIT", stop_price, last) {
        stop_leg.trail_best = Some(last);
    }
    let stop_order_id = stop_leg.order_id;
    state.orders.push(stop_leg);
    let mut maker_leg = new_order(state, maker_id, side, "LIMIT_MAKER", quantity, maker_price);
    maker_leg.order_list_id = list_id;
    let maker_order_id = maker_leg.order_id;
    state.orders.push(maker_leg);
    let (below, above) = if maker == "above" {
        (stop_order_id, maker_order_id)
    } else {
        (maker_order_id, stop_order_id)
    };
    let time_ms = state.now_ms();
    state.order_lists.push(SimOrderList {
        order_list_id: list_id,
        list_client_order_id,
        order_ids: [below, above],
        time_ms,
    });
    let at = state.order_lists.len() - 1;
    Ok(list_json(state, at, true))
}

/// `listClientOrderId`: Binance's pattern, unique among open lists.
fn list_client_id(state: &SimState, params: &Params) -> Result<String, ApiError> {
    let id = match params.get("listClientOrderId") {
        Some(id) if !super::trade::valid_client_order_id(id) => {
            return Err(ApiError::illegal_chars("listClientOrderId"))
        }
        Some(id) => id.clone(),
        None => format!("sim-list-{}", state.order_lists.len() + 1),
    };
    let open = state
        .order_lists
        .iter()
        .any(|l| l.list_client_order_id == id && !list_done(state, l));
    if open {
        return Err(ApiError::new_order_rejected("Duplicate order sent."));
    }
    Ok(id)
}

/// Whether a list is over: one of its legs is no longer `NEW` (it
/// triggered, filled in part or whole, or was cancelled or expired).
fn list_done(state: &SimState, list: &SimOrderList) -> bool {
    list.order_ids.iter().any(|id| {
        state
            .orders
            .iter()
            .find(|o| o.order_id == *id)
            .is_none_or(|o| o.status != "NEW" || o.triggered)
    })
}

/// A list as Binance reports it; `reports`: with its legs' full reports.
fn list_json(state: &SimState, at: usize, reports: bool) -> Value {
    let list = &state.order_lists[at];
    let symbol = &state.config.symbol;
    let legs: Vec<_> = list
        .order_ids
        .iter()
        .filter_map(|id| state.orders.iter().find(|o| o.order_id == *id))
        .collect();
    let done = list_done(state, list);
    let mut reply = json!({
        "orderListId": list.order_list_id,
        "contingencyType": "OCO",
        "listStatusType": if done { "ALL_DONE" } else { "EXEC_STARTED" },
        "listOrderStatus": if done { "ALL_DONE" } else { "EXECUTING" },
        "listClientOrderId": list.list_client_order_id,
        "transactionTime": list.time_ms,
        "symbol": symbol,
        "orders": legs.iter().map(|o| json!({
            "symbol": symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id
        })).collect::<Vec<_>>(),
    });
    if reports {
        reply["orderReports"] = legs
            .iter()
            .map(|o| {
                let mut r = order_json(symbol, o);
                r["transactTime"] = json!(o.update_ms);
                r
            })
            .collect();
    }
    reply
}

/// The index of the list named by `orderListId` or the client id in
/// parameter `by_client`.
fn find_list(
    state: &SimState,
    params: &Params,
    by_client: &str,
) -> Result<Option<usize>, ApiError> {
    let client = params.get(by_client);
    let id = params
        .get("orderListId")
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| ApiError::illegal_chars("orderListId"))
        })
        .transpose()?;
    if client.is_none() && id.is_none() {
        return Err(ApiError::mandatory(by_client));
    }
    Ok(state.order_lists.iter().rposition(|l| {
        client.is_none_or(|c| &l.list_client_order_id == c)
            && id.is_none_or(|i| l.order_list_id == i)
    }))
}

/// `DELETE /api/v3/orderList`: both legs cancelled; -2011 unless open.
pub fn cancel_list(state: &mut SimState, params: &Params) -> Result<Value, ApiError> {
    check_symbol(state, params)?;
    let at =
        find_list(state, params, "listClientOrderId")?.ok_or_else(ApiError::unknown_order_list)?;
    let ids = state.order_lists[at].order_ids;
    let now = state.now_ms();
    let mut cancelled = false;
    for o in state
        .orders
        .iter_mut()
        .filter(|o| ids.contains(&o.order_id))
    {
        if o.is_open() {
            o.status = "CANCELED".into();
            o.update_ms = now;
            cancelled = true;
        }
    }
    if !cancelled {
        return Err(ApiError::unknown_order_list());
    }
    state.order_lists[at].time_ms = now;
    Ok(list_json(state, at, true))
}

/// `GET /api/v3/orderList` by `orderListId` or `origClientOrderId`: -2013
/// when there is no such list.
pub fn query_list(state: &SimState, params: &Params) -> Result<Value, ApiError> {
    let at =
        find_list(state, params, "origClientOrderId")?.ok_or_else(ApiError::no_such_order_list)?;
    Ok(list_json(state, at, false))
}

/// `GET /api/v3/openOrders[?symbol]`: every open order, oldest first.
pub fn open_orders(state: &SimState, params: &Params) -> Result<Value, ApiError> {
    if params.contains_key("symbol") {
        check_symbol(state, params)?;
    }
    let symbol = &state.config.symbol;
    Ok(state
        .orders
        .iter()
        .filter(|o| o.is_open())
        .map(|o| query_json(symbol, o))
        .collect())
}

/// `GET /api/v3/openOrderList`: every list not yet over.
pub fn open_lists(state: &SimState) -> Value {
    (0..state.order_lists.len())
        .filter(|&at| !list_done(state, &state.order_lists[at]))
        .map(|at| list_json(state, at, false))
        .collect()
}
