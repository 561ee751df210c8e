//! Monthly returns: equity at the last bar of each UTC calendar month over
//! equity at the last bar of the month before, fed one bar at a time.
//!
//! The first month is measured from the first bar's equity (the cash a
//! backtest starts with). A month without bars (a gap in the data) is
//! absent; the next month is measured from the last month that had bars. A
//! return whose base equity is not positive is `None` (JSON `null`).

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
}

impl MonthlyReturns {
    /// No months yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one bar (in time order, finite equity: the caller validates).
    pub fn push(&mut self, ts_ms: i64, equity: f64) {
        let Some(t) = chrono::DateTime::from_timestamp_millis(ts_ms) else {
            return;
        };
        let (year, month) = (t.year(), t.month());
        match self.current {
            Some((y, m, base, _)) if (y, m) == (year, month) => {
                self.current = Some((y, m, base, equity));
            }
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

fn month_return(year: i32, month: u32, base: f64, last: f64) -> MonthlyReturn {
    let r = last / base - 1.0;
    MonthlyReturn {
        year,
        month,
        return_: (base > 0.0 && r.is_finite()).then_some(r),
    }
}
