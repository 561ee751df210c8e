//! Monthly returns: equity at the last bar of each UTC calendar month over
//! equity at the last bar of the month before, fed one bar at a time.
//!
//! The first month is measured from the first bar's equity (the cash a
//! backtest starts with). A month without bars (a gap in the data) is
//! absent; the next month is measured from the last month that had bars. A
//! return whose base equity is not positive is `None` (JSON `null`).
//!
//! A bar inside the current month costs one range comparison; the calendar
//! is consulted only when a bar falls outside it.

use chrono::Datelike;
use serde::{Deserialize, Serialize};

/// One calendar month's return.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonthlyReturn {
    /// The UTC year.
    pub year: i32,
    /// The UTC month, 1 to 12.
    pub month: u32,
    /// `last equity / base equity - 1`; `None` when the base is not positive.
    #[serde(rename = "return")]
    pub return_: Option<f64>,
}

/// Collects [`MonthlyReturn`]s; a few dozen entries even for years of bars.
#[derive(Clone, Debug, Default)]
pub struct MonthlyReturns {
    done: Vec<MonthlyReturn>,
    /// The month being filled: (year, month, base equity, last equity).
    current: Option<(i32, u32, f64, f64)>,
    /// The current month's first and one-past-last millisecond.
    bounds: (i64, i64),
}

impl MonthlyReturns {
    /// No months yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one bar (in time order, finite equity: the caller validates).
    pub fn push(&mut self, ts_ms: i64, equity: f64) {
        if let Some((y, m, base, _)) = self.current {
            if ts_ms >= self.bounds.0 && ts_ms < self.bounds.1 {
                self.current = Some((y, m, base, equity));
                return;
            }
        }
        let Some((year, month, bounds)) = month_of(ts_ms) else {
            return;
        };
        self.bounds = bounds;
        match self.current {
            Some((y, m, base, last)) => {
                self.done.push(month_return(y, m, base, last));
                self.current = Some((year, month, last, equity));
            }
            None => self.current = Some((year, month, equity, equity)),
        }
    }

    /// Every month so far, the current one included, in time order.
    pub fn months(&self) -> Vec<MonthlyReturn> {
        let mut out = self.done.clone();
        if let Some((y, m, base, last)) = self.current {
            out.push(month_return(y, m, base, last));
        }
        out
    }
}

/// The UTC year and month of `ts_ms`, and the month's first and
/// one-past-last millisecond; `None` out of chrono's range.
fn month_of(ts_ms: i64) -> Option<(i32, u32, (i64, i64))> {
    let t = chrono::DateTime::from_timestamp_millis(ts_ms)?;
    let (year, month) = (t.year(), t.month());
    let start = chrono::NaiveDate::from_ymd_opt(year, month, 1)?;
    let end = start.checked_add_months(chrono::Months::new(1))?;
    let ms = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_millis())
    };
    Some((year, month, (ms(start)?, ms(end)?)))
}

fn month_return(year: i32, month: u32, base: f64, last: f64) -> MonthlyReturn {
    let r = last / base - 1.0;
    MonthlyReturn {
        year,
        month,
        return_: (base > 0.0 && r.is_finite()).then_some(r),
    }
}
