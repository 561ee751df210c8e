//! The simulator's error replies: Binance's `{"code":..,"msg":".."}` body
//! with the HTTP status Binance uses for that code.

use axum::http::StatusCode;

/// One error reply of the simulated exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Binance's error code (negative).
    pub code: i64,
    /// Binance's message.
    pub msg: String,
}

impl ApiError {
    fn bad(code: i64, msg: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code,
            msg: msg.into(),
        }
    }

    /// -1021: the timestamp is outside the recvWindow (or too far ahead).
    pub fn timestamp_outside() -> Self {
        Self::bad(
            -1021,
            "Timestamp for this request is outside of the recvWindow.",
        )
    }

    /// 503 with -1007: the backend timed out; the request may or may not
    /// have been carried out.
    pub fn status_unknown() -> Self {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            code: -1007,
            msg: "Timeout waiting for response from backend server. Send status unknown; execution status unknown.".into(),
        }
    }

    /// -1022: the signature does not match the query.
    pub fn bad_signature() -> Self {
        Self::bad(-1022, "Signature for this request is not valid.")
    }

    /// -2014: no API key, or not of the right form.
    pub fn api_key_format() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: -2014,
            msg: "API-key format invalid.".into(),
        }
    }

    /// -2015: the API key is not known.
    pub fn invalid_api_key() -> Self {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: -2015,
            msg: "Invalid API-key, IP, or permissions for action.".into(),
        }
    }

    /// -1102: a mandatory parameter is missing or malformed.
    pub fn mandatory(param: &str) -> Self {
        Self::bad(
            -1102,
            format!("Mandatory parameter '{param}' was not sent, was empty/null, or malformed."),
        )
    }

    /// -1100: a parameter holds characters Binance does not accept.
    pub fn illegal_chars(param: &str) -> Self {
        Self::bad(
            -1100,
            format!("Illegal characters found in parameter '{param}'."),
        )
    }

    /// -1131: recvWindow above 60000 ms.
    pub fn recv_window_too_large() -> Self {
        Self::bad(-1131, "recvWindow must be less than 60000")
    }

    /// -1121: a symbol the exchange does not list.
    pub fn invalid_symbol() -> Self {
        Self::bad(-1121, "Invalid symbol.")
    }

    /// -1120: an interval other than the simulated one.
    pub fn invalid_interval() -> Self {
        Self::bad(-1120, "Invalid interval.")
    }

    /// -1013: an order that fails a symbol filter (`LOT_SIZE`, `NOTIONAL`).
    pub fn filter_failure(filter: &str) -> Self {
        Self::bad(-1013, format!("Filter failure: {filter}"))
    }

    /// -2010: a new order rejected (insufficient balance, duplicate).
    pub fn new_order_rejected(msg: &str) -> Self {
        Self::bad(-2010, msg)
    }

    /// -2010 "Unsupported order combination", naming what the simulator
    /// does not model (e.g. a timeInForce other than GTC).
    pub fn unsupported(what: &str) -> Self {
        Self::bad(-2010, format!("Unsupported order combination ({what})."))
    }

    /// -2010 "Unsupported order combination": order types that cannot go
    /// together (e.g. an OCO without a LIMIT_MAKER leg).
    pub fn unsupported_combination() -> Self {
        Self::bad(-2010, "Unsupported order combination")
    }

    /// -1116: an order type Binance does not have.
    pub fn invalid_order_type() -> Self {
        Self::bad(-1116, "Invalid orderType.")
    }

    /// -2013: querying an order list the exchange does not have.
    pub fn no_such_order_list() -> Self {
        Self::bad(-2013, "Order list does not exist.")
    }

    /// -2011: cancelling an order list the exchange does not hold open.
    pub fn unknown_order_list() -> Self {
        Self::bad(-2011, "Unknown order list sent.")
    }

    /// -2013: querying an order the exchange does not have.
    pub fn no_such_order() -> Self {
        Self::bad(-2013, "Order does not exist.")
    }

    /// -2011: cancelling an order the exchange does not have (or not open).
    pub fn unknown_order() -> Self {
        Self::bad(-2011, "Unknown order sent.")
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({ "code": self.code, "msg": self.msg }).to_string()
    }
}
