//! Binance Spot, the exchange-facing parts of the engine, tested against the
//! exchange simulator in `tests/` (never against Binance itself):
//!
//! - [`sign`]: SIGNED request security, the HMAC-SHA256 `signature` of a
//!   query with `recvWindow` and `timestamp` ([`Signer`]).
//! - [`filters`]: a symbol's `exchangeInfo` filters ([`SymbolFilters`]), the
//!   local check of an order's quantity ([`FilterRefusal`]), its prices
//!   rounded to the tick and checked ([`PriceRefusal`]), a trailing stop's
//!   delta checked ([`filters::TrailingDeltaRefusal`]), and the order
//!   types the symbol allows ([`OrderTypeRefusal`]).
//! - [`kline`]: WebSocket kline events and REST kline rows into the feed's
//!   candles ([`KlineParser`], [`KlineError`]); `kline_fast` is its
//!   single-pass fast path for the compact layout Binance sends.
//!
//! - [`rest`]: the blocking REST client ([`BinanceRest`]): server time
//!   offset, signed requests with `X-MBX-APIKEY`, the used request weight,
//!   typed error codes ([`RestError`]).
//!
//! - [`credentials`]: the API key and secret, from the environment only.
//!
//! - [`stream`]: the WebSocket kline stream and the feed's `binance` source
//!   (REST backfill, reconnect with jittered backoff, gap backfill, dedup).
//!
//! It talks to Binance and decides nothing: what to trade is the engine's
//! (`aegis-engine`), and live execution, which uses these (write-ahead
//! orders in the ledger, recovery by client order id, balances), is the
//! worker's orchestrator with its Binance venue
//! (`aegis_worker::roles::orchestrator::live`).
//!
//! [`credentials`]: crate::credentials
//! [`sign`]: crate::sign
//! [`Signer`]: crate::Signer
//! [`filters`]: crate::filters
//! [`SymbolFilters`]: crate::SymbolFilters
//! [`FilterRefusal`]: crate::FilterRefusal
//! [`PriceRefusal`]: crate::PriceRefusal
//! [`OrderTypeRefusal`]: crate::OrderTypeRefusal
//! [`kline`]: crate::kline
//! [`KlineParser`]: crate::KlineParser
//! [`KlineError`]: crate::KlineError
//! [`rest`]: crate::rest
//! [`BinanceRest`]: crate::BinanceRest
//! [`RestError`]: crate::RestError
//! [`stream`]: crate::stream

pub mod credentials;
pub mod filters;
pub mod kline;
mod kline_event;
mod kline_fast;
pub mod rest;
pub mod sign;
pub mod stream;

pub use credentials::{Credentials, MissingCredentials};
pub use filters::{
    ExchangeInfoError, FilterRefusal, OrderTypeRefusal, PriceRefusal, Rounding, SymbolFilters,
};
pub use kline::{KlineError, KlineParser, RestKlines};
pub use rest::{BinanceRest, RestError};
pub use sign::{SignError, Signer};
