//! Hand-written OpenAPI fragments for the fields whose schema the derive cannot
//! say: bounds with exclusive minimums, the ring capacity's power-of-two rule,
//! the interval list shared with the worker.
//!
//! Each function is a `#[schemars(schema_with = ...)]` target. The fragments
//! are fixed JSON written here, so turning them into a [`Schema`] cannot fail
//! on anything a user writes.

use schemars::gen::SchemaGenerator;
use schemars::schema::{Schema, SchemaObject};
use serde_json::{json, Value};

/// The smallest ring a TradingEngine may ask for (slots).
pub const MIN_RING_CAPACITY: u64 = 1 << 10;
/// The largest ring a TradingEngine may ask for (slots): 768 MiB of records
/// (64-byte candles and 128-byte signals).
pub const MAX_RING_CAPACITY: u64 = 1 << 22;
/// The ring capacity when the spec gives none (the worker's default).
pub const DEFAULT_RING_CAPACITY: u64 = 1 << 16;
/// The interval when the spec gives none.
pub const DEFAULT_INTERVAL: &str = "1m";

/// Turns a literal OpenAPI v3.0 fragment into a schemars [`Schema`].
///
/// schemars 0.8 models JSON Schema draft 7, where `exclusiveMinimum` is a
/// number; OpenAPI v3.0 (and Kubernetes) use a boolean next to `minimum`.
/// Those booleans travel as extensions, which schemars writes out verbatim.
fn schema(mut value: Value) -> Schema {
    let mut extensions = serde_json::Map::new();
    if let Some(object) = value.as_object_mut() {
        for key in ["exclusiveMinimum", "exclusiveMaximum"] {
            if let Some(flag) = object.remove(key) {
                extensions.insert(key.to_string(), flag);
            }
        }
    }
    // The values are literal schema objects written in this file; a failure
    // is a bug here, caught by every test that builds the CRD.
    let mut object: SchemaObject =
        serde_json::from_value(value).expect("a literal schema object deserializes");
    object.extensions.extend(extensions);
    Schema::Object(object)
}

/// Every power of two a ring may have, as a CEL list literal.
fn powers_of_two() -> String {
    let mut list = Vec::new();
    let mut p = MIN_RING_CAPACITY;
    while p <= MAX_RING_CAPACITY {
        list.push(p.to_string());
        p *= 2;
    }
    format!("[{}]", list.join(", "))
}

/// `ringCapacity`: an integer power of two between [`MIN_RING_CAPACITY`] and
/// [`MAX_RING_CAPACITY`]. CEL has no bit operations, so the rule lists them.
pub fn ring_capacity(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "integer",
        "format": "int64",
        "default": DEFAULT_RING_CAPACITY,
        "minimum": MIN_RING_CAPACITY,
        "maximum": MAX_RING_CAPACITY,
        "description": "Slots in each of the two rings (64-byte candles, 128-byte signals): a power of two from 1024 to 4194304.",
        "x-kubernetes-validations": [{
            "rule": format!("self in {}", powers_of_two()),
            "message": "ringCapacity must be a power of two (1024, 2048, ..., 4194304)"
        }]
    }))
}

/// `interval`: one of the worker's candle intervals.
pub fn interval(_: &mut SchemaGenerator) -> Schema {
    let known: Vec<&str> = aegis_contract::config::Interval::known().collect();
    schema(json!({
        "type": "string",
        "enum": known,
        "default": DEFAULT_INTERVAL,
        "description": "The candle interval, Binance style.",
    }))
}

/// `symbol`: Binance style, and fixed once the engine exists (a transition rule).
pub fn symbol(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "string",
        "pattern": "^[A-Z0-9]{2,20}$",
        "description": "The traded symbol, Binance style (BTCUSDT). Immutable: a new symbol is a new engine.",
        "x-kubernetes-validations": [{
            "rule": "self == oldSelf",
            "message": "symbol is immutable; create a new TradingEngine to trade another symbol"
        }]
    }))
}

/// An optional amount of quote currency that must be greater than zero.
pub fn positive_amount(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": true,
        "description": "An amount of quote currency, greater than 0.",
    }))
}

/// An optional fraction strictly between 0 and 1.
pub fn open_fraction(_: &mut SchemaGenerator) -> Schema {
    fraction_between_0_and_1("A fraction of peak equity, between 0 and 1 exclusive (0.2 = 20%).")
}

/// A number strictly between 0 and 1, with `description`.
fn fraction_between_0_and_1(description: &str) -> Schema {
    schema(json!({
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": true,
        "maximum": 1,
        "exclusiveMaximum": true,
        "description": description,
    }))
}

/// A replay speed: 0 (as fast as possible) or a positive factor.
pub fn speed(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "number",
        "minimum": 0,
        "default": 0,
        "description": "Pacing by the candles' timestamps: 1 = real time, 60 = a minute per second, 0 = as fast as possible.",
    }))
}

/// A Kubernetes object name (DNS-1123 subdomain) such as a Secret's or a claim's.
pub fn object_name(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "string",
        "minLength": 1,
        "maxLength": 253,
        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    }))
}

/// An http(s) URL: the exchange's REST base.
pub fn rest_url(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "string",
        "maxLength": 2048,
        "pattern": "^https?://[^\\s]+$",
        "description": "The REST base URL, e.g. https://testnet.binance.vision/api.",
    }))
}

/// A ws(s) URL: the exchange's stream base.
pub fn ws_url(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "string",
        "maxLength": 2048,
        "pattern": "^wss?://[^\\s]+$",
        "description": "The WebSocket stream base URL, e.g. wss://stream.testnet.binance.vision/ws.",
    }))
}

/// An absolute file path.
pub fn absolute_path(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "string",
        "minLength": 2,
        "pattern": "^/",
        "description": "An absolute path inside the feed container.",
    }))
}

/// An integer indicator period (at least 1).
pub fn period(_: &mut SchemaGenerator) -> Schema {
    schema(json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": 100000}))
}

/// An RSI level, strictly between 0 and 100.
pub fn rsi_level(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": true,
        "maximum": 100,
        "exclusiveMaximum": true,
    }))
}

/// A stop's distance: a fraction of the entry price strictly between 0 and 1.
pub fn stop_fraction(_: &mut SchemaGenerator) -> Schema {
    fraction_between_0_and_1(
        "A fraction of the entry price, between 0 and 1 exclusive (0.02 = 2%).",
    )
}

/// A profit target: a fraction of the entry price, from `minimum` (0 or
/// exclusive 0) up to 100 (10 000 %).
fn profit(exclusive: bool) -> Schema {
    schema(json!({
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": exclusive,
        "maximum": 100,
        "description": "A fraction of the entry price (0.05 = 5%).",
    }))
}

/// `takeProfit`: a fraction above 0.
pub fn take_profit(_: &mut SchemaGenerator) -> Schema {
    profit(true)
}

/// A take-profit table row's `profit`, or `trailingAfter`: 0 or more.
pub fn profit_or_zero(_: &mut SchemaGenerator) -> Schema {
    profit(false)
}

/// `atrMultiple`: above 0, at most 1000.
pub fn atr_multiple(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "number",
        "minimum": 0,
        "exclusiveMinimum": true,
        "maximum": 1000,
        "description": "The stop's distance from the entry in ATRs.",
    }))
}

/// A limit entry's `offset`: a fraction in [0, 1).
pub fn limit_offset(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "exclusiveMaximum": true,
        "description": "How far better than the signal bar's close the limit sits, a fraction (0.001 = 0.1%).",
    }))
}

/// A limit entry's `ttlBars`: 1 to 100 000.
pub fn ttl_bars(_: &mut SchemaGenerator) -> Schema {
    schema(json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": 100000}))
}

/// Minutes held: 0 or more.
pub fn minutes(_: &mut SchemaGenerator) -> Schema {
    schema(json!({"type": "integer", "format": "int64", "minimum": 0}))
}
