//! SIGNED endpoint security, checked as Binance documents it: the
//! `X-MBX-APIKEY` header, the HMAC-SHA256 `signature` of the exact
//! `totalParams` (query string concatenated with the body, the signature
//! last), and the timing rule
//! `timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow`.
//!
//! Written here with `hmac`/`sha2` directly, independent of the worker's
//! signer, so that the simulator is an oracle for it.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::ApiError;

/// The default `recvWindow` when a request sends none.
pub const DEFAULT_RECV_WINDOW_MS: i64 = 5000;
/// The largest `recvWindow` Binance accepts.
pub const MAX_RECV_WINDOW_MS: i64 = 60_000;

/// The checked parameters of a SIGNED request (signature removed).
pub type Params = HashMap<String, String>;

/// Parameter `name` as a number, `None` when it was not sent; a value that
/// is not one is answered with `malformed(name)`.
pub fn number_param<T: std::str::FromStr>(
    params: &Params,
    name: &str,
    malformed: fn(&str) -> ApiError,
) -> Result<Option<T>, ApiError> {
    params
        .get(name)
        .map(|v| v.parse::<T>().map_err(|_| malformed(name)))
        .transpose()
}

/// Checks a SIGNED request; its parameters on success.
pub fn check_signed(
    api_key: Option<&str>,
    known_key: &str,
    secret: &str,
    total_params: &str,
    server_now_ms: i64,
) -> Result<Params, ApiError> {
    match api_key {
        None | Some("") => return Err(ApiError::api_key_format()),
        Some(key) if key != known_key => return Err(ApiError::invalid_api_key()),
        Some(_) => {}
    }
    let (payload, signature) =
        split_signature(total_params).ok_or_else(|| ApiError::mandatory("signature"))?;
    let params = parse_params(payload)?;
    let timestamp: i64 = params
        .get("timestamp")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| ApiError::mandatory("timestamp"))?;
    let recv_window = match params.get("recvWindow") {
        None => DEFAULT_RECV_WINDOW_MS,
        Some(w) => w.parse().map_err(|_| ApiError::mandatory("recvWindow"))?,
    };
    if recv_window > MAX_RECV_WINDOW_MS {
        return Err(ApiError::recv_window_too_large());
    }
    if !signature.eq_ignore_ascii_case(&hmac_hex(secret, payload)) {
        return Err(ApiError::bad_signature());
    }
    if !(timestamp < server_now_ms + 1000 && server_now_ms - timestamp <= recv_window) {
        return Err(ApiError::timestamp_outside());
    }
    Ok(params)
}

/// Splits `totalParams` into what was signed and the `signature` value,
/// which must be the last parameter.
fn split_signature(total: &str) -> Option<(&str, &str)> {
    if let Some(sig) = total.strip_prefix("signature=") {
        return Some(("", sig));
    }
    let at = total.rfind("&signature=")?;
    let sig = &total[at + "&signature=".len()..];
    (!sig.contains('&')).then_some((&total[..at], sig))
}

/// The form-encoded parameters of `query` (a repeated name keeps the last).
pub fn parse_params(query: &str) -> Result<Params, ApiError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map(|pairs| pairs.into_iter().collect())
        .map_err(|_| ApiError::illegal_chars("query"))
}

/// Lower-case hex HMAC-SHA256 of `payload` keyed with `secret`.
pub fn hmac_hex(secret: &str, payload: &str) -> String {
    // HMAC accepts keys of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(payload.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
