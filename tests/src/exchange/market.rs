//! The public market-data endpoints: `GET /api/v3/time`,
//! `GET /api/v3/exchangeInfo` and `GET /api/v3/klines`.

use serde_json::{json, Value};

use super::auth::{number_param, Params};
use super::error::ApiError;
use super::state::SimState;

/// The most klines one request returns (Binance's maximum `limit`).
pub const MAX_KLINES: usize = 1000;
/// The `limit` when none is sent.
pub const DEFAULT_KLINES: usize = 500;

/// `GET /api/v3/time`.
pub fn time(state: &SimState) -> Value {
    json!({ "serverTime": state.now_ms() })
}

/// `GET /api/v3/exchangeInfo?symbol=`: the one listed symbol.
pub fn exchange_info(state: &SimState, params: &Params) -> Result<Value, ApiError> {
    let c = &state.config;
    if let Some(symbol) = params.get("symbol") {
        if symbol != &c.symbol {
            return Err(ApiError::invalid_symbol());
        }
    }
    let (min_qty, max_qty, step) = c.lot_size;
    let (bid_up, bid_down, ask_up, ask_down) = c.percent_price_by_side;
    Ok(json!({
        "timezone": "UTC",
        "serverTime": state.now_ms(),
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [{
            "symbol": c.symbol,
            "status": "TRADING",
            "baseAsset": c.base_asset,
            "quoteAsset": c.quote_asset,
            "orderTypes": c.order_types,
            "icebergAllowed": false,
            "ocoAllowed": c.oco_allowed,
            "otoAllowed": false,
            "allowTrailingStop": c.allow_trailing_stop,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": c.tick_size.to_string(),
                 "maxPrice": "1000000.00", "tickSize": c.tick_size.to_string()},
                {"filterType": "LOT_SIZE", "minQty": min_qty.to_string(),
                 "maxQty": max_qty.to_string(), "stepSize": step.to_string()},
                {"filterType": "PERCENT_PRICE_BY_SIDE",
                 "bidMultiplierUp": bid_up.to_string(), "bidMultiplierDown": bid_down.to_string(),
                 "askMultiplierUp": ask_up.to_string(), "askMultiplierDown": ask_down.to_string(),
                 "avgPriceMins": 5},
                {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 1,
                 "maxTrailingAboveDelta": 10000, "minTrailingBelowDelta": 1,
                 "maxTrailingBelowDelta": 10000},
                {"filterType": "NOTIONAL", "minNotional": c.min_notional.to_string(),
                 "applyMinToMarket": true, "maxNotional": "9000000.00",
                 "applyMaxToMarket": false, "avgPriceMins": 5}
            ]
        }]
    }))
}

/// `GET /api/v3/klines?symbol&interval&startTime&endTime&limit`: at most
/// `limit` (≤ 1000) of the candles opened in `[startTime, endTime]`, in
/// time order: the first ones from `startTime`, or the most recent when no
/// `startTime` is sent; rows as Binance sends them (prices as strings).
pub fn klines(state: &SimState, params: &Params) -> Result<Value, ApiError> {
    let c = &state.config;
    let symbol = params
        .get("symbol")
        .ok_or_else(|| ApiError::mandatory("symbol"))?;
    if symbol != &c.symbol {
        return Err(ApiError::invalid_symbol());
    }
    let interval = params
        .get("interval")
        .ok_or_else(|| ApiError::mandatory("interval"))?;
    if interval != &c.interval.0 {
        return Err(ApiError::invalid_interval());
    }
    let number = |name: &str| number_param::<i64>(params, name, ApiError::mandatory);
    let start_given = number("startTime")?;
    let start = start_given.unwrap_or(i64::MIN);
    let end = number("endTime")?.unwrap_or(i64::MAX);
    let limit = match number("limit")? {
        None => DEFAULT_KLINES,
        Some(n) if n >= 1 => usize::try_from(n).unwrap_or(MAX_KLINES).min(MAX_KLINES),
        Some(_) => return Err(ApiError::mandatory("limit")),
    };
    let span = c.interval.1;
    let in_range: Vec<_> = c
        .candles
        .iter()
        .filter(|k| k.open_time_ms >= start && k.open_time_ms <= end)
        .collect();
    // From startTime on, the oldest first; without it, the most recent.
    let skip = match start_given {
        Some(_) => 0,
        None => in_range.len().saturating_sub(limit),
    };
    let rows: Vec<Value> = in_range
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|k| {
            json!([
                k.open_time_ms,
                k.open.to_string(),
                k.high.to_string(),
                k.low.to_string(),
                k.close.to_string(),
                k.volume.to_string(),
                k.open_time_ms + span - 1,
                (k.volume * k.close).to_string(),
                1,
                "0",
                "0",
                "0"
            ])
        })
        .collect();
    Ok(Value::Array(rows))
}
