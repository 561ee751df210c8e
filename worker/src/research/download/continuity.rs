//! The time order of a download's rows: each open time after the last by a
//! whole number of intervals. Equal or earlier times (duplicates, disorder)
//! and times off the interval's grid are errors; a step of more than one
//! interval is a [`Gap`] the exchange has, recorded as it is, never filled.

use std::fmt;

/// Open times missing between two rows: `[from_ms, to_ms)`, `missing` candles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The open time of the first missing candle.
    pub from_ms: i64,
    /// The open time of the next candle present.
    pub to_ms: i64,
    /// How many candles are missing.
    pub missing: u64,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} .. {} ({} candles)",
            format_ms(self.from_ms),
            format_ms(self.to_ms),
            self.missing
        )
    }
}

/// Epoch milliseconds as RFC 3339 UTC, or the number when out of range.
pub fn format_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// Why a row cannot follow the last one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// At or before the last row's time.
    #[error("open time {} is not after the previous row's {} (a duplicate or out of order)", format_ms(*.at_ms), format_ms(*.previous_ms))]
    NotAfter {
        /// This row's open time.
        at_ms: i64,
        /// The previous row's.
        previous_ms: i64,
    },
    /// Not a whole number of intervals after the last row.
    #[error("open time {} is {step_ms} ms after the previous row's, not a multiple of the interval ({span_ms} ms): the rows are not of this interval", format_ms(*.at_ms))]
    OffGrid {
        /// This row's open time.
        at_ms: i64,
        /// Its distance from the previous row.
        step_ms: i64,
        /// The interval's length.
        span_ms: i64,
    },
}

/// The rows seen so far: the last open time and the gaps met.
#[derive(Clone, Debug)]
pub struct Continuity {
    span_ms: i64,
    last_ms: Option<i64>,
    rows: u64,
    gaps: Vec<Gap>,
}

impl Continuity {
    /// No rows yet, of an interval `span_ms` long (at least 1).
    pub fn new(span_ms: i64) -> Self {
        Continuity {
            span_ms: span_ms.max(1),
            last_ms: None,
            rows: 0,
            gaps: Vec::new(),
        }
    }

    /// Takes the next row's open time; a step over one interval is a gap.
    pub fn push(&mut self, at_ms: i64) -> Result<(), OrderError> {
        if let Some(previous_ms) = self.last_ms {
            if at_ms <= previous_ms {
                return Err(OrderError::NotAfter { at_ms, previous_ms });
            }
            let step_ms = at_ms - previous_ms;
            if step_ms % self.span_ms != 0 {
                return Err(OrderError::OffGrid {
                    at_ms,
                    step_ms,
                    span_ms: self.span_ms,
                });
            }
            if step_ms > self.span_ms {
                self.gaps.push(Gap {
                    from_ms: previous_ms + self.span_ms,
                    to_ms: at_ms,
                    missing: (step_ms / self.span_ms - 1).unsigned_abs(),
                });
            }
        }
        self.last_ms = Some(at_ms);
        self.rows += 1;
        Ok(())
    }

    /// The last open time taken.
    pub fn last_ms(&self) -> Option<i64> {
        self.last_ms
    }

    /// How many rows were taken.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The gaps met, in time order.
    pub fn gaps(&self) -> &[Gap] {
        &self.gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_of_one_interval_are_continuous_and_longer_ones_are_gaps() {
        let mut c = Continuity::new(60_000);
        for t in [0, 60_000, 120_000, 300_000, 360_000] {
            c.push(t).expect("in order");
        }
        assert_eq!(c.rows(), 5);
        assert_eq!(
            c.gaps(),
            [Gap {
                from_ms: 180_000,
                to_ms: 300_000,
                missing: 2
            }]
        );
        assert_eq!(
            c.gaps()[0].to_string(),
            "1970-01-01T00:03:00Z .. 1970-01-01T00:05:00Z (2 candles)"
        );
    }

    #[test]
    fn duplicates_disorder_and_off_grid_rows_are_refused_and_change_nothing() {
        let mut c = Continuity::new(60_000);
        c.push(60_000).expect("first");
        assert!(matches!(c.push(60_000), Err(OrderError::NotAfter { .. })));
        assert!(matches!(c.push(0), Err(OrderError::NotAfter { .. })));
        let err = c.push(90_000).expect_err("half an interval");
        assert!(err.to_string().contains("not a multiple"), "{err}");
        assert_eq!((c.rows(), c.last_ms()), (1, Some(60_000)));
        assert!(c.gaps().is_empty());
    }
}
