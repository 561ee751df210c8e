//! Candle validation: every reason a candle or replay row is refused
//! ([`Rejection`]) and the stateful check the feed runs on each candle before
//! publishing it ([`CandleValidator`]).

use aegis_contract::records::Candle;

/// Why a candle or a CSV replay row was refused.
///
/// Each reason has a stable snake_case [`label`](Self::label), used as the
/// value of a Prometheus label (`reason="not_finite"`), so renaming a variant
/// must not change its label.
///
/// # Precedence
///
/// A row can be wrong in several ways at once; exactly one reason is reported,
/// the first that applies in this order, so counts are exact and predictable:
///
/// 1. Shape of a CSV row (see [`csv`](super::csv)): [`Truncated`](Self::Truncated)
///    or [`ExtraFields`](Self::ExtraFields) (the field count), then
///    [`BadTimestamp`](Self::BadTimestamp) (field 1), then
///    [`NonNumeric`](Self::NonNumeric) (fields 2 to 6).
/// 2. Values, checked by [`CandleValidator::check`]:
///    [`NotFinite`](Self::NotFinite), [`NonPositivePrice`](Self::NonPositivePrice),
///    [`NegativeVolume`](Self::NegativeVolume), [`HighBelowLow`](Self::HighBelowLow),
///    [`LowAboveBody`](Self::LowAboveBody), [`HighBelowBody`](Self::HighBelowBody).
/// 3. Time order against the last accepted candle:
///    [`DuplicateTimestamp`](Self::DuplicateTimestamp), [`OutOfOrderTimestamp`](Self::OutOfOrderTimestamp).
///
/// [`MissingHeader`](Self::MissingHeader) is reported once per file, on its own,
/// before the first line is parsed as data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rejection {
    /// A price or the volume is NaN or infinite.
    NotFinite,
    /// One of open, high, low, close is zero or negative.
    NonPositivePrice,
    /// The volume is negative.
    NegativeVolume,
    /// `high < low`.
    HighBelowLow,
    /// `low > min(open, close)`: the low is above the candle's body.
    LowAboveBody,
    /// `max(open, close) > high`: the high is below the candle's body.
    HighBelowBody,
    /// The timestamp equals the last accepted candle's.
    DuplicateTimestamp,
    /// The timestamp is before the last accepted candle's.
    OutOfOrderTimestamp,
    /// CSV: one of the five value fields is not a number.
    NonNumeric,
    /// CSV: the timestamp is neither integer epoch milliseconds nor RFC 3339.
    BadTimestamp,
    /// CSV: fewer than 6 fields (including a partial last line).
    Truncated,
    /// CSV: more than 6 fields.
    ExtraFields,
    /// CSV: the file starts with data instead of the header line.
    MissingHeader,
}

impl Rejection {
    /// Every reason, in declaration order (for pre-registering metric series).
    pub const ALL: [Rejection; 13] = [
        Rejection::NotFinite,
        Rejection::NonPositivePrice,
        Rejection::NegativeVolume,
        Rejection::HighBelowLow,
        Rejection::LowAboveBody,
        Rejection::HighBelowBody,
        Rejection::DuplicateTimestamp,
        Rejection::OutOfOrderTimestamp,
        Rejection::NonNumeric,
        Rejection::BadTimestamp,
        Rejection::Truncated,
        Rejection::ExtraFields,
        Rejection::MissingHeader,
    ];

    /// The stable snake_case name of this reason (a Prometheus label value).
    pub fn label(self) -> &'static str {
        match self {
            Rejection::NotFinite => "not_finite",
            Rejection::NonPositivePrice => "non_positive_price",
            Rejection::NegativeVolume => "negative_volume",
            Rejection::HighBelowLow => "high_below_low",
            Rejection::LowAboveBody => "low_above_body",
            Rejection::HighBelowBody => "high_below_body",
            Rejection::DuplicateTimestamp => "duplicate_timestamp",
            Rejection::OutOfOrderTimestamp => "out_of_order_timestamp",
            Rejection::NonNumeric => "non_numeric",
            Rejection::BadTimestamp => "bad_timestamp",
            Rejection::Truncated => "truncated",
            Rejection::ExtraFields => "extra_fields",
            Rejection::MissingHeader => "missing_header",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Checks candles one at a time: values (finite, positive, consistent OHLC)
/// and strictly increasing timestamps.
///
/// Accepting a candle records its timestamp; a rejected candle leaves the
/// validator exactly as it was, so one bad candle does not shift the order
/// check for the next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CandleValidator {
    last_ts_ms: Option<i64>,
}

impl CandleValidator {
    /// A validator that has accepted nothing yet (any first timestamp is fine).
    pub fn new() -> Self {
        Self::default()
    }

    /// A validator for a restarted feed that already published a candle at
    /// `last_ts_ms`: only later timestamps are accepted.
    pub fn resume_after(last_ts_ms: i64) -> Self {
        Self {
            last_ts_ms: Some(last_ts_ms),
        }
    }

    /// The timestamp of the last accepted candle, if any.
    pub fn last_ts_ms(&self) -> Option<i64> {
        self.last_ts_ms
    }

    /// Accepts `c` (and remembers its timestamp) or returns the first reason
    /// that applies, in the order documented on [`Rejection`].
    pub fn check(&mut self, c: &Candle) -> Result<(), Rejection> {
        check_values(c)?;
        if let Some(last) = self.last_ts_ms {
            if c.ts_ms == last {
                return Err(Rejection::DuplicateTimestamp);
            }
            if c.ts_ms < last {
                return Err(Rejection::OutOfOrderTimestamp);
            }
        }
        self.last_ts_ms = Some(c.ts_ms);
        Ok(())
    }
}

/// The stateless part of [`CandleValidator::check`]: the candle's own values.
pub fn check_values(c: &Candle) -> Result<(), Rejection> {
    let (o, h, l, cl, v) = (c.open, c.high, c.low, c.close, c.volume);
    // One branch for the common case: `0 < low <= open, close <= high < inf`
    // and a finite, non-negative volume imply every check below passes (any
    // NaN fails a comparison). `&` rather than `&&` keeps it branch-free.
    let valid = (l > 0.0)
        & (l <= o)
        & (l <= cl)
        & (o <= h)
        & (cl <= h)
        & (h < f64::INFINITY)
        & (0.0..f64::INFINITY).contains(&v);
    if valid {
        return Ok(());
    }
    if !(o.is_finite() && h.is_finite() && l.is_finite() && cl.is_finite() && v.is_finite()) {
        return Err(Rejection::NotFinite);
    }
    if o <= 0.0 || h <= 0.0 || l <= 0.0 || cl <= 0.0 {
        return Err(Rejection::NonPositivePrice);
    }
    if v < 0.0 {
        return Err(Rejection::NegativeVolume);
    }
    if h < l {
        return Err(Rejection::HighBelowLow);
    }
    if l > o.min(cl) {
        return Err(Rejection::LowAboveBody);
    }
    if o.max(cl) > h {
        return Err(Rejection::HighBelowBody);
    }
    Ok(())
}
