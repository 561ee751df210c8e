//! The Binance kline stream: a blocking WebSocket connection
//! ([`socket`]), the jittered reconnect backoff ([`backoff`]) and the feed's
//! `binance` source that backfills by REST and follows the stream
//! ([`source`]).

pub mod backoff;
pub mod socket;
pub mod source;

pub use source::{BinanceSource, Polled, SourceThread, StreamCounters, StreamStatus};
