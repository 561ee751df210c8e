//! The simulator's HTTP front: one handler that applies queued faults,
//! counts request weight into `X-MBX-USED-WEIGHT-1M`, checks SIGNED
//! requests and dispatches to the endpoints.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::auth::{check_signed, parse_params};
use super::error::ApiError;
use super::state::{lock, Fault, Shared, SimState};
use super::{market, resting, trade};

/// Every request goes through here.
pub async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let fault = {
        let mut state = lock(&shared);
        state.requests += 1;
        state.take_fault(is_signed(uri.path()), uri.path())
    };
    if let Some(Fault::Delay(d)) = fault {
        tokio::time::sleep(d).await;
    }
    let mut state = lock(&shared);
    let weight = state.use_weight(weight_of(&method, &uri));
    let reply = match fault {
        Some(Fault::RateLimited { retry_after_s }) => limited(429, retry_after_s),
        Some(Fault::Banned { retry_after_s }) => limited(418, retry_after_s),
        Some(Fault::TimestampOutside) => error_reply(&ApiError::timestamp_outside()),
        Some(Fault::ServerError) => {
            // Carried out, then answered as if the backend timed out.
            let _ = dispatch(&mut state, &method, &uri, &headers, &body);
            error_reply(&ApiError::status_unknown())
        }
        // The same answer, for a request the backend never carried out.
        Some(Fault::ServerErrorNotCarriedOut) => error_reply(&ApiError::status_unknown()),
        Some(Fault::Delay(_)) | None => {
            match dispatch(&mut state, &method, &uri, &headers, &body) {
                Ok(value) => (StatusCode::OK, axum::Json(value)).into_response(),
                Err(e) => error_reply(&e),
            }
        }
    };
    with_weight(reply, weight)
}

fn dispatch(
    state: &mut SimState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &str,
) -> Result<Value, ApiError> {
    let query = uri.query().unwrap_or("");
    let path = uri.path();
    if is_signed(path) {
        let key = headers.get("X-MBX-APIKEY").and_then(|v| v.to_str().ok());
        let total = format!("{query}{body}");
        let params = check_signed(
            key,
            &state.config.api_key,
            &state.config.api_secret,
            &total,
            state.now_ms(),
        )?;
        return match (method.as_str(), path) {
            ("GET", "/api/v3/account") => Ok(trade::account(state)),
            ("POST", "/api/v3/order") => resting::place_order(state, &params),
            ("GET", "/api/v3/order") => trade::query(state, &params),
            ("DELETE", "/api/v3/order") => trade::cancel(state, &params),
            ("GET", "/api/v3/myTrades") => trade::my_trades(state, &params),
            ("POST", "/api/v3/orderList/oco") => resting::place_oco(state, &params),
            ("DELETE", "/api/v3/orderList") => resting::cancel_list(state, &params),
            ("GET", "/api/v3/orderList") => resting::query_list(state, &params),
            ("GET", "/api/v3/openOrders") => resting::open_orders(state, &params),
            ("GET", "/api/v3/openOrderList") => Ok(resting::open_lists(state)),
            _ => Err(not_found()),
        };
    }
    let params = parse_params(query)?;
    match (method.as_str(), path) {
        ("GET", "/api/v3/time") => Ok(market::time(state)),
        ("GET", "/api/v3/exchangeInfo") => market::exchange_info(state, &params),
        ("GET", "/api/v3/klines") => market::klines(state, &params),
        _ => Err(not_found()),
    }
}

/// Whether `path` is a SIGNED endpoint.
fn is_signed(path: &str) -> bool {
    matches!(
        path,
        "/api/v3/account"
            | "/api/v3/order"
            | "/api/v3/myTrades"
            | "/api/v3/orderList/oco"
            | "/api/v3/orderList"
            | "/api/v3/openOrders"
            | "/api/v3/openOrderList"
    )
}

fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: -1000,
        msg: "The simulator does not serve this endpoint.".into(),
    }
}

/// Request weights as Binance lists them for these endpoints.
fn weight_of(method: &Method, uri: &Uri) -> u64 {
    let by_order = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("orderId=")));
    let by_symbol = uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("symbol=")));
    match (method.as_str(), uri.path()) {
        ("GET", "/api/v3/myTrades") if by_order => 5,
        ("GET", "/api/v3/exchangeInfo")
        | ("GET", "/api/v3/account")
        | ("GET", "/api/v3/myTrades") => 20,
        ("GET", "/api/v3/klines") => 2,
        ("GET", "/api/v3/order") | ("GET", "/api/v3/orderList") => 4,
        ("GET", "/api/v3/openOrders") if !by_symbol => 80,
        ("GET", "/api/v3/openOrders") | ("GET", "/api/v3/openOrderList") => 6,
        _ => 1,
    }
}

fn error_reply(e: &ApiError) -> Response {
    (e.status, [("content-type", "application/json")], e.body()).into_response()
}

fn limited(status: u16, retry_after_s: u64) -> Response {
    let (status, msg) = if status == 418 {
        (
            StatusCode::IM_A_TEAPOT,
            "Way too much request weight used; IP banned.",
        )
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            "Too much request weight used; please use WebSocket Streams for live updates.",
        )
    };
    let e = ApiError {
        status,
        code: -1003,
        msg: msg.into(),
    };
    let mut reply = error_reply(&e);
    reply
        .headers_mut()
        .insert("Retry-After", HeaderValue::from(retry_after_s));
    reply
}

fn with_weight(mut reply: Response, weight: u64) -> Response {
    reply
        .headers_mut()
        .insert("X-MBX-USED-WEIGHT-1M", HeaderValue::from(weight));
    reply
}
