//! The `k` object of a Binance kline event, borrowing its strings from the
//! message: what both ways of reading an event produce — the serde path in
//! [`kline`](crate::kline) and the single-pass fast path in
//! [`kline_fast`](crate::kline_fast).

use serde::Deserialize;

/// The `k` object of a kline event (fields not needed are skipped).
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub(crate) struct StreamKline<'a> {
    pub(crate) t: i64,
    pub(crate) s: &'a str,
    pub(crate) i: &'a str,
    pub(crate) o: &'a str,
    pub(crate) h: &'a str,
    pub(crate) l: &'a str,
    pub(crate) c: &'a str,
    pub(crate) v: &'a str,
    pub(crate) x: bool,
}
