//! Binance klines into [`Candle`]s: the WebSocket kline event of the stream
//! `<symbol>@kline_<interval>` ([`KlineParser::parse_event`]) and the rows of
//! `GET /api/v3/klines` ([`KlineParser::parse_rest`]).
//!
//! Only closed klines become candles (`"x": true` in the stream; in REST, a
//! row whose close time has passed). Prices and volume arrive as decimal
//! strings and are read with the replay parser's [`parse_f64`] (correctly
//! rounded, so the same text gives the same `f64` as a CSV replay); each
//! candle's values then pass [`check_values`], the feed's own check. Time
//! order and duplicates are the feed's [`CandleValidator`](aegis_engine::market::CandleValidator)'s business.
//!
//! Nothing here panics on input: anything else is a [`KlineError`], whose
//! [`label`](KlineError::label) names its kind for a metric.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

use aegis_contract::config::Interval;
use aegis_contract::records::Candle;
use aegis_engine::market::csv::parse_f64;
use aegis_engine::market::validate::{check_values, Rejection};

use crate::kline_event::StreamKline;
use crate::kline_fast;

/// How many characters of an unexpected message an error keeps.
const EXCERPT_CHARS: usize = 120;

/// Why a message or REST row did not give a candle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KlineError {
    /// Not JSON, or a kline with a field missing or of the wrong type.
    #[error("malformed kline message: {0}")]
    Malformed(String),
    /// Valid JSON but no kline event, e.g. a subscription reply
    /// `{"result":null,"id":1}`.
    #[error("not a kline event: {0}")]
    NotKline(String),
    /// A kline of another symbol.
    #[error("kline for symbol {got:?}, expected {expected:?}")]
    WrongSymbol {
        /// The symbol subscribed to.
        expected: String,
        /// The symbol received (cut to 120 characters).
        got: String,
    },
    /// A kline of another interval.
    #[error("kline interval {got}, expected {expected}")]
    WrongInterval {
        /// The interval subscribed to.
        expected: Interval,
        /// What was received.
        got: String,
    },
    /// A price or volume string that is not a decimal number.
    #[error("kline field {field:?} = {value:?} is not a decimal number")]
    BadNumber {
        /// Binance's name of the field (`o`, `h`, ... or `open`, ... in REST).
        field: &'static str,
        /// The text received (cut to 120 characters).
        value: String,
    },
    /// The candle's values fail the feed's checks.
    #[error("kline refused: {0}")]
    Rejected(Rejection),
    /// One row of a REST klines response is wrong.
    #[error("klines row {row}: {source}")]
    InRow {
        /// 0-based index in the response array.
        row: usize,
        /// What is wrong with it.
        source: Box<KlineError>,
    },
}

impl KlineError {
    /// A stable snake_case name of the kind of error (a metric label value).
    pub fn label(&self) -> &'static str {
        match self {
            KlineError::Malformed(_) => "malformed",
            KlineError::NotKline(_) => "not_kline",
            KlineError::WrongSymbol { .. } => "wrong_symbol",
            KlineError::WrongInterval { .. } => "wrong_interval",
            KlineError::BadNumber { .. } => "bad_number",
            KlineError::Rejected(r) => r.label(),
            KlineError::InRow { source, .. } => source.label(),
        }
    }
}

/// The stream event, borrowing its strings from the message.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "e", borrow)]
    event: Option<&'a str>,
    #[serde(rename = "k", borrow)]
    kline: Option<StreamKline<'a>>,
}

/// Parses the klines of one symbol and interval.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KlineParser {
    symbol: String,
    interval: Interval,
}

impl KlineParser {
    /// A parser for `symbol` (any case; Binance sends it upper-case) and
    /// `interval`.
    pub fn new(symbol: &str, interval: Interval) -> Self {
        KlineParser {
            symbol: symbol.to_ascii_uppercase(),
            interval,
        }
    }

    /// The stream to subscribe to: `<symbol>@kline_<interval>`, lower-case
    /// symbol, e.g. `btcusdt@kline_1m`.
    pub fn stream_name(&self) -> String {
        format!(
            "{}@kline_{}",
            self.symbol.to_ascii_lowercase(),
            self.interval
        )
    }

    /// One WebSocket message: `Ok(Some(candle))` for a closed kline of this
    /// symbol and interval, `Ok(None)` for a kline still open, an error for
    /// anything else.
    pub fn parse_event(&self, msg: &[u8]) -> Result<Option<Candle>, KlineError> {
        let k = match kline_fast::kline_event(msg) {
            Some(k) => k,
            None => serde_event(msg)?,
        };
        if k.s != self.symbol {
            return Err(KlineError::WrongSymbol {
                expected: self.symbol.clone(),
                got: cut(k.s),
            });
        }
        if k.i != self.interval.name() {
            return Err(KlineError::WrongInterval {
                expected: self.interval,
                got: cut(k.i),
            });
        }
        if !k.x {
            return Ok(None);
        }
        candle(
            k.t,
            [("o", k.o), ("h", k.h), ("l", k.l), ("c", k.c), ("v", k.v)],
        )
        .map(Some)
    }

    /// A `GET /api/v3/klines` response body: the candles of the rows closed
    /// before `now_ms` (server time), in the response's order. A row still
    /// open (close time at or after `now_ms`) is left out. A body that is not
    /// an array of kline rows is an error; a row that is one but holds bad
    /// values (wrong interval, a bad decimal, a candle validation refuses) is
    /// left out and returned in [`RestKlines::rejected`], so one bad row
    /// never blocks the rows after it.
    pub fn parse_rest(&self, body: &[u8], now_ms: i64) -> Result<RestKlines, KlineError> {
        let rows: Vec<RestRow<'_>> = serde_json::from_slice(body)
            .map_err(|_| KlineError::Malformed(describe_error::<Vec<RestRow<'_>>>(body)))?;
        let span = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
        let mut out = RestKlines {
            candles: Vec::with_capacity(rows.len()),
            rejected: Vec::new(),
        };
        for (index, row) in rows.iter().enumerate() {
            let in_row = |source| KlineError::InRow {
                row: index,
                source: Box::new(source),
            };
            if row.close_time.checked_sub(row.open_time) != Some(span - 1) {
                out.rejected.push(in_row(KlineError::WrongInterval {
                    expected: self.interval,
                    got: format!(
                        "closeTime {} - openTime {} + 1 ms",
                        row.close_time, row.open_time
                    ),
                }));
                continue;
            }
            if row.close_time >= now_ms {
                continue;
            }
            let [o, h, l, c, v] = row.ohlcv;
            let fields = [
                ("open", o),
                ("high", h),
                ("low", l),
                ("close", c),
                ("volume", v),
            ];
            match candle(row.open_time, fields) {
                Ok(candle) => out.candles.push(candle),
                Err(e) => out.rejected.push(in_row(e)),
            }
        }
        Ok(out)
    }
}

/// The closed candles of a klines reply, and the rows left out as bad.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RestKlines {
    /// The good rows' candles, in the reply's order.
    pub candles: Vec<Candle>,
    /// Why each bad row was left out ([`KlineError::InRow`]).
    pub rejected: Vec<KlineError>,
}

/// The general path of [`KlineParser::parse_event`]: serde, with errors
/// that name the field at fault.
fn serde_event(msg: &[u8]) -> Result<StreamKline<'_>, KlineError> {
    let event: Event<'_> = serde_json::from_slice(msg)
        .map_err(|_| KlineError::Malformed(describe_error::<Event<'_>>(msg)))?;
    match (event.event, event.kline) {
        (Some("kline"), Some(k)) => Ok(k),
        (Some("kline"), None) => Err(KlineError::Malformed("kline event without \"k\"".into())),
        _ => Err(KlineError::NotKline(excerpt(msg))),
    }
}

/// A candle from its open time and named decimal strings
/// (open, high, low, close, volume), checked by [`check_values`].
fn candle(ts_ms: i64, fields: [(&'static str, &str); 5]) -> Result<Candle, KlineError> {
    let mut values = [0.0; 5];
    for (value, (field, text)) in values.iter_mut().zip(fields) {
        *value = parse_f64(text.as_bytes()).ok_or_else(|| KlineError::BadNumber {
            field,
            value: cut(text),
        })?;
    }
    let [open, high, low, close, volume] = values;
    let candle = Candle {
        ts_ms,
        open,
        high,
        low,
        close,
        volume,
        ..Candle::default()
    };
    check_values(&candle).map_err(KlineError::Rejected)?;
    Ok(candle)
}

/// The error of parsing `msg` as `T`, with the path of the field at fault
/// (`k.o: invalid type ...`). Parses again, so only on the error path.
fn describe_error<'a, T: Deserialize<'a>>(msg: &'a [u8]) -> String {
    let mut de = serde_json::Deserializer::from_slice(msg);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => "trailing characters after the JSON value".into(),
        Err(e) if e.path().iter().next().is_none() => e.inner().to_string(),
        Err(e) => format!("{}: {}", e.path(), e.inner()),
    }
}

fn cut(text: &str) -> String {
    text.chars().take(EXCERPT_CHARS).collect()
}

fn excerpt(msg: &[u8]) -> String {
    cut(&String::from_utf8_lossy(
        &msg[..msg.len().min(EXCERPT_CHARS * 4)],
    ))
}

/// One REST kline row: `[openTime, "open", "high", "low", "close",
/// "volume", closeTime, ...]`; the fields after `closeTime` are skipped.
struct RestRow<'a> {
    open_time: i64,
    ohlcv: [&'a str; 5],
    close_time: i64,
}

impl<'de: 'a, 'a> Deserialize<'de> for RestRow<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(RowVisitor(PhantomData))
    }
}

struct RowVisitor<'a>(PhantomData<&'a ()>);

impl<'a> RowVisitor<'a> {
    /// The next element, named `field` in errors.
    fn next<'de: 'a, A: SeqAccess<'de>, T: Deserialize<'de>>(
        &self,
        seq: &mut A,
        index: usize,
        field: &str,
    ) -> Result<T, A::Error> {
        seq.next_element()
            .map_err(|e| de::Error::custom(format!("{field}: {e}")))?
            .ok_or_else(|| de::Error::invalid_length(index, self))
    }
}

impl<'de: 'a, 'a> Visitor<'de> for RowVisitor<'a> {
    type Value = RestRow<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a kline row [openTime, open, high, low, close, volume, closeTime, ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let open_time = self.next(&mut seq, 0, "openTime")?;
        let mut ohlcv = [""; 5];
        let names = ["open", "high", "low", "close", "volume"];
        for (i, (slot, name)) in ohlcv.iter_mut().zip(names).enumerate() {
            *slot = self.next(&mut seq, i + 1, name)?;
        }
        let close_time = self.next(&mut seq, 6, "closeTime")?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RestRow {
            open_time,
            ohlcv,
            close_time,
        })
    }
}

#[cfg(test)]
#[path = "kline_tests.rs"]
mod tests;
