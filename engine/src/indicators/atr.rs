//! Average true range (Wilder's), over whole bars rather than closes.

use serde::{Deserialize, Serialize};

use super::{check_bar, check_period, InvalidBar, ParamError, MAX_ABS_CLOSE};

/// Wilder's average true range over `period` bars.
///
/// With `c_{t-1}` the previous bar's close, the true range of bar `t ≥ 1` is
///
/// ```text
/// TR_t      = max(h_t - l_t, |h_t - c_{t-1}|, |l_t - c_{t-1}|)
/// ATR_period = (TR_1 + … + TR_period) / period              (seed: plain mean)
/// ATR_t      = (ATR_{t-1} · (period - 1) + TR_t) / period    (t > period)
/// ```
///
/// This is TA-Lib's `ATR` with its default settings (unstable period 0): the
/// first bar only gives the previous close, so the lookback is `period` and
/// the first value, at input index `period`, is the mean of the first
/// `period` true ranges. Period 1 is allowed, as in TA-Lib, and is the true
/// range itself (TA-Lib's `TRANGE`). The arithmetic follows TA-Lib's order of
/// operations (multiply, add, divide). O(1) per update, no allocation.
///
/// ```
/// use aegis_engine::indicators::Atr;
///
/// let mut atr = Atr::new(2)?;
/// assert_eq!(atr.update(10.0, 9.0, 9.5)?, None); // only a previous close
/// assert_eq!(atr.update(11.0, 10.0, 10.5)?, None); // TR 1.5 (from 9.5 to 11)
/// assert_eq!(atr.update(12.0, 10.0, 11.5)?, Some(1.75)); // TR 2: (1.5 + 2) / 2
/// assert_eq!(atr.update(11.0, 10.0, 10.5)?, Some(1.625)); // TR 1.5: (1.75 + 1.5) / 2
/// assert!(atr.update(9.0, 10.0, 9.5).is_err()); // high < low: refused, nothing changes
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Bad bars
///
/// TA-Lib computes whatever it is given. Here a bar is refused, and the state
/// left exactly as it was, when a field is NaN, infinite or beyond
/// ±[`MAX_ABS_CLOSE`], when `high < low`, or when the close is outside
/// `[low, high]`: the feed refuses such candles too
/// (`market::validate`), and a true range built from one would poison the
/// average for a long time. Negative prices are accepted (the formula does
/// not care), as the close-only indicators accept them.
///
/// # Saved state
///
/// `Atr` is serialised as its period, the previous close, how many true
/// ranges it has seen (up to `period`) and one number (their sum while
/// seeding, the average after): a few dozen bytes. Deserialising checks all
/// of it, so a restored `Atr` is one that updates could have produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Saved", into = "Saved")]
pub struct Atr {
    period: usize,
    /// The last accepted bar's close; none before the first bar.
    prev_close: Option<f64>,
    /// True ranges seen, counted up to `period` (then it stays there).
    seen: usize,
    /// While seeding (`seen < period`): the sum of the true ranges so far.
    /// After: the ATR.
    value: f64,
}

impl Atr {
    /// An ATR over `period` bars, `1 ..= 100_000` (TA-Lib's range).
    pub fn new(period: usize) -> Result<Atr, ParamError> {
        let period = check_period("ATR", "period", period, 1)?;
        Ok(Atr {
            period,
            prev_close: None,
            seen: 0,
            value: 0.0,
        })
    }

    /// The period.
    pub fn period(&self) -> usize {
        self.period
    }

    /// How many bars yield `None` before the first value: `period`.
    pub fn lookback(&self) -> usize {
        self.period
    }

    /// Feeds the next bar.
    ///
    /// Returns `Ok(None)` for the first [`lookback`](Self::lookback) bars,
    /// `Ok(Some(atr))` from then on, and `Err` for a bad bar (see the type's
    /// docs), which is not consumed.
    pub fn update(&mut self, high: f64, low: f64, close: f64) -> Result<Option<f64>, InvalidBar> {
        check_bar(high, low, close)?;
        let Some(prev) = self.prev_close.replace(close) else {
            return Ok(None);
        };
        let tr = true_range(high, low, prev);
        let n = self.period as f64;
        if self.seen < self.period {
            self.value += tr;
            self.seen += 1;
            if self.seen < self.period {
                return Ok(None);
            }
            self.value /= n;
        } else {
            self.value *= n - 1.0;
            self.value += tr;
            self.value /= n;
        }
        Ok(Some(self.value))
    }

    /// Forgets every bar, as if freshly constructed with the same period.
    pub fn reset(&mut self) {
        self.prev_close = None;
        self.seen = 0;
        self.value = 0.0;
    }
}

/// TA-Lib's true range: the bar's range, stretched to the previous close.
fn true_range(high: f64, low: f64, prev_close: f64) -> f64 {
    let mut greatest = high - low;
    let to_high = (prev_close - high).abs();
    if to_high > greatest {
        greatest = to_high;
    }
    let to_low = (prev_close - low).abs();
    if to_low > greatest {
        greatest = to_low;
    }
    greatest
}

/// The saved form of an [`Atr`], checked on the way in.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    period: usize,
    prev_close: Option<f64>,
    seen: usize,
    value: f64,
}

impl From<Atr> for Saved {
    fn from(a: Atr) -> Saved {
        Saved {
            period: a.period,
            prev_close: a.prev_close,
            seen: a.seen,
            value: a.value,
        }
    }
}

impl TryFrom<Saved> for Atr {
    type Error = String;

    fn try_from(s: Saved) -> Result<Atr, String> {
        let mut atr = Atr::new(s.period).map_err(|e| e.to_string())?;
        if let Some(c) = s.prev_close {
            if c.abs() > MAX_ABS_CLOSE {
                return Err(format!(
                    "ATR: prev_close {c} is not a finite number within ±1e150"
                ));
            }
        }
        if s.seen > s.period {
            return Err(format!(
                "ATR: seen {} is more than the period {}",
                s.seen, s.period
            ));
        }
        if s.prev_close.is_none() && (s.seen != 0 || s.value != 0.0) {
            return Err("ATR: true ranges without a previous close".to_string());
        }
        // A true range is at most twice MAX_ABS_CLOSE, so is their mean, and
        // a sum of `seen` of them at most that times `seen` (with room for
        // rounding).
        let count = if s.seen < s.period {
            s.seen as f64
        } else {
            1.0
        };
        let limit = 2.0 * MAX_ABS_CLOSE * count * (1.0 + 1e-9);
        if !(0.0..=limit).contains(&s.value) {
            return Err(format!(
                "ATR: value {} is not a true-range {} between 0 and {limit}",
                s.value,
                if s.seen < s.period { "sum" } else { "average" }
            ));
        }
        atr.prev_close = s.prev_close;
        atr.seen = s.seen;
        atr.value = s.value;
        Ok(atr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_with_the_mean_then_smooths_like_wilder() {
        let mut atr = Atr::new(3).unwrap();
        assert_eq!(atr.lookback(), 3);
        assert_eq!(atr.period(), 3);
        // Bar 0 only gives a close.
        assert_eq!(atr.update(10.0, 9.0, 9.5).unwrap(), None);
        // TR 1: range 11 - 10 = 1, |11 - 9.5| = 1.5 → 1.5.
        assert_eq!(atr.update(11.0, 10.0, 10.5).unwrap(), None);
        // TR 2: range 2, |12 - 10.5| = 1.5, |10 - 10.5| = 0.5 → 2.
        assert_eq!(atr.update(12.0, 10.0, 11.5).unwrap(), None);
        // TR 3: gap down: range 1, |9 - 11.5| = 2.5 (to the low) → 2.5.
        // Seed: (1.5 + 2 + 2.5) / 3 = 2.
        assert_eq!(atr.update(10.0, 9.0, 9.5).unwrap(), Some(2.0));
        // TR 4: range 1, 0.5 to the previous close either way → 1.
        // (2 · 2 + 1) / 3 = 5/3.
        let v = atr.update(10.0, 9.0, 9.5).unwrap().unwrap();
        assert!((v - 5.0 / 3.0).abs() < 1e-15, "{v}");
    }

    #[test]
    fn period_one_is_the_true_range() {
        let mut atr = Atr::new(1).unwrap();
        assert_eq!(atr.lookback(), 1);
        assert_eq!(atr.update(5.0, 4.0, 4.5).unwrap(), None);
        assert_eq!(atr.update(5.0, 4.0, 4.5).unwrap(), Some(1.0));
        assert_eq!(atr.update(8.0, 7.5, 8.0).unwrap(), Some(3.5));
        assert_eq!(atr.update(8.0, 8.0, 8.0).unwrap(), Some(0.0));
    }

    #[test]
    fn rejects_bad_periods() {
        for p in [0, MAX_PERIOD_PLUS_ONE] {
            let e = Atr::new(p).unwrap_err();
            assert_eq!(e.parameter(), "period");
            assert!(e.to_string().starts_with("ATR: parameter `period`"), "{e}");
        }
    }

    const MAX_PERIOD_PLUS_ONE: usize = super::super::MAX_PERIOD + 1;

    #[test]
    fn bad_bars_are_refused_and_leave_state_alone() {
        let mut a = Atr::new(2).unwrap();
        let mut b = Atr::new(2).unwrap();
        let bars = [
            (10.0, 9.0, 9.5),
            (11.0, 10.0, 10.5),
            (12.0, 10.0, 11.5),
            (10.0, 9.0, 9.5),
        ];
        for (i, &(h, l, c)) in bars.iter().enumerate() {
            if i >= 1 {
                let before = a.clone();
                assert_eq!(
                    a.update(f64::NAN, l, c).unwrap_err().to_string(),
                    "high NaN is not a finite number within ±1e150; the bar was ignored"
                );
                assert!(matches!(
                    a.update(h, f64::NEG_INFINITY, c),
                    Err(InvalidBar::NotFinite { field: "low", .. })
                ));
                assert!(matches!(
                    a.update(h, l, 1e151),
                    Err(InvalidBar::NotFinite { field: "close", .. })
                ));
                assert_eq!(
                    a.update(l, h, c).unwrap_err(),
                    InvalidBar::HighBelowLow { high: l, low: h }
                );
                assert_eq!(
                    a.update(h, l, h + 1.0).unwrap_err(),
                    InvalidBar::CloseOutsideRange {
                        close: h + 1.0,
                        low: l,
                        high: h
                    }
                );
                assert!(a.update(h, l, l - 1.0).is_err());
                assert_eq!(a, before);
            }
            assert_eq!(a.update(h, l, c).unwrap(), b.update(h, l, c).unwrap());
        }
    }

    #[test]
    fn extreme_accepted_bars_keep_the_value_finite() {
        let mut atr = Atr::new(3).unwrap();
        let m = MAX_ABS_CLOSE;
        for (h, l, c) in [
            (m, -m, m),
            (m, -m, -m),
            (m, -m, m),
            (m, -m, -m),
            (m, m, m),
            (1.0, -m, -m),
        ] {
            let v = atr.update(h, l, c).unwrap();
            assert!(v.is_none_or(f64::is_finite), "{v:?}");
        }
        // The saved state of such an ATR restores.
        let json = serde_json::to_value(&atr).unwrap();
        let back: Atr = serde_json::from_value(json).unwrap();
        assert_eq!(back, atr);
    }

    #[test]
    fn reset_starts_over() {
        let mut atr = Atr::new(2).unwrap();
        let bars = [
            (10.0, 9.0, 9.5),
            (11.0, 10.0, 10.5),
            (12.0, 10.0, 11.5),
            (10.0, 9.0, 9.5),
        ];
        let first: Vec<_> = bars
            .iter()
            .map(|&(h, l, c)| atr.update(h, l, c).unwrap())
            .collect();
        atr.reset();
        assert_eq!(atr, Atr::new(2).unwrap());
        let second: Vec<_> = bars
            .iter()
            .map(|&(h, l, c)| atr.update(h, l, c).unwrap())
            .collect();
        assert_eq!(first, second);
    }

    #[test]
    fn saved_state_is_compact_round_trips_and_is_checked() {
        let mut atr = Atr::new(14).unwrap();
        for i in 0..20 {
            let c = 100.0 + f64::from(i % 5);
            atr.update(c + 1.0, c - 1.0, c).unwrap();
        }
        let text = serde_json::to_string(&atr).unwrap();
        assert!(text.len() < 100, "{text}");
        let back: Atr = serde_json::from_str(&text).unwrap();
        assert_eq!(back, atr);
        let mut a = back.clone();
        let mut b = atr.clone();
        assert_eq!(a.update(103.0, 99.0, 100.0), b.update(103.0, 99.0, 100.0));

        let fresh = serde_json::to_string(&Atr::new(5).unwrap()).unwrap();
        assert_eq!(
            serde_json::from_str::<Atr>(&fresh).unwrap(),
            Atr::new(5).unwrap()
        );

        let refused = |text: &str| serde_json::from_str::<Atr>(text).unwrap_err().to_string();
        assert!(
            refused(r#"{"period":0,"prev_close":null,"seen":0,"value":0.0}"#)
                .contains("parameter `period`")
        );
        assert!(
            refused(r#"{"period":3,"prev_close":1.0,"seen":4,"value":1.0}"#)
                .contains("more than the period")
        );
        assert!(
            refused(r#"{"period":3,"prev_close":1.0,"seen":3,"value":-1.0}"#).contains("value -1")
        );
        assert!(
            refused(r#"{"period":3,"prev_close":1e200,"seen":3,"value":1.0}"#)
                .contains("prev_close")
        );
        assert!(
            refused(r#"{"period":3,"prev_close":null,"seen":2,"value":1.0}"#)
                .contains("without a previous close")
        );
        assert!(refused(r#"{"period":3,"prev_close":1.0,"seen":1,"value":1e300}"#).contains("sum"));
        assert!(
            refused(r#"{"period":3,"prev_close":1.0,"seen":3,"value":1.0,"x":1}"#)
                .contains("unknown field")
        );
    }
}
