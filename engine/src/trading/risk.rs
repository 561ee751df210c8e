//! Risk limits and the state they are checked against: peak equity (max
//! drawdown kill switch), the UTC day's starting equity (daily loss limit) and
//! the halts they cause.
//!
//! The rules, applied by [`crate::trading::execution`]:
//! - **Max drawdown** (`(peak − equity) / peak ≥ max_drawdown`, checked at each
//!   close): kill switch. The book is flattened and new entries stop until an
//!   operator clears the halt (`Resume` in the ledger). The halt is recorded in
//!   the ledger, so it survives restarts.
//! - **Daily loss** (`day start equity − equity ≥ daily_loss_limit`): flatten
//!   and no new entries until the next UTC day. Recorded too, but it lapses by
//!   itself when the day changes.
//! - **Max position notional** (`|position| × close ≤ max_position_notional`):
//!   an order that would exceed it is *reduced* to the cap (the target
//!   position is clamped to `floor_to_step(cap / close)`); if the clamped
//!   order is empty, the signal is rejected.
//! - Orders that reduce exposure (flattening) are always allowed.
//!
//! [`PeakGuard`] proves, without decimal arithmetic, that a bar's equity
//! sets no new peak, so the exact comparison runs only when it might.

use rust_decimal::Decimal;
use thiserror::Error;

use super::money::F64View;
use super::portfolio::{EquityEstimate, Portfolio};

/// Milliseconds in a UTC day.
const DAY_MS: i64 = 86_400_000;

/// The UTC day number (days since 1970-01-01) containing `ts_ms`.
pub fn utc_day(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(DAY_MS)
}

/// Configured limits; `None` disables a rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RiskLimits {
    /// Largest allowed `|position| × price`, in quote currency (> 0).
    pub max_position_notional: Option<Decimal>,
    /// Drawdown from peak equity that trips the kill switch, a fraction in (0, 1).
    pub max_drawdown: Option<Decimal>,
    /// Loss within one UTC day, in quote currency (> 0), that stops trading for the day.
    pub daily_loss_limit: Option<Decimal>,
}

/// A limit that makes no sense.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum LimitError {
    /// A limit that must be positive is not.
    #[error("risk limit {field} must be positive, got {value}")]
    NotPositive {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: Decimal,
    },
    /// `max_drawdown` outside (0, 1).
    #[error("risk limit max_drawdown must be a fraction in (0, 1), got {value}")]
    DrawdownOutOfRange {
        /// The value given.
        value: Decimal,
    },
}

impl RiskLimits {
    /// Checks every set limit, naming the first bad field.
    pub fn validate(&self) -> Result<(), LimitError> {
        for (field, value) in [
            ("max_position_notional", self.max_position_notional),
            ("daily_loss_limit", self.daily_loss_limit),
        ] {
            if let Some(value) = value {
                if value <= Decimal::ZERO {
                    return Err(LimitError::NotPositive { field, value });
                }
            }
        }
        if let Some(value) = self.max_drawdown {
            if value <= Decimal::ZERO || value >= Decimal::ONE {
                return Err(LimitError::DrawdownOutOfRange { value });
            }
        }
        Ok(())
    }
}

/// The persistent kill switch: set by max drawdown, cleared only by `Resume`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Halt {
    /// Why (human readable).
    pub reason: String,
    /// The bar at which it tripped.
    pub ts_ms: i64,
}

/// Trading stopped for the rest of one UTC day by the daily loss limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyStop {
    /// The UTC day ([`utc_day`]) it applies to.
    pub day: i64,
    /// Why (human readable).
    pub reason: String,
    /// The bar at which it tripped.
    pub ts_ms: i64,
}

/// What the risk rules remember between bars.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RiskState {
    /// Highest equity marked at a close since start (or since the last `Resume`);
    /// `None` until the next mark.
    pub peak_equity: Option<Decimal>,
    /// The current UTC day, once a bar has been seen.
    pub day: Option<i64>,
    /// Equity at the open of the day's first bar (after that open's fill).
    pub day_start_equity: Option<Decimal>,
    /// The kill switch, if tripped.
    pub halted: Option<Halt>,
    /// The daily stop, if tripped today.
    pub daily_stop: Option<DailyStop>,
}

impl RiskState {
    /// Whether new entries are blocked (kill switch, or daily stop on `day`).
    pub fn blocks_entries(&self) -> bool {
        self.halted.is_some() || self.daily_stop.is_some()
    }

    /// Drawdown of `equity` from the peak, as a fraction (0 without a positive peak).
    pub fn drawdown(&self, equity: Decimal) -> Decimal {
        match self.peak_equity {
            Some(peak) if peak > Decimal::ZERO && equity < peak => {
                (peak - equity).checked_div(peak).unwrap_or(Decimal::ONE)
            }
            _ => Decimal::ZERO,
        }
    }

    /// Whether the drawdown of `equity` reaches `limits.max_drawdown`.
    pub fn drawdown_reached(&self, limits: &RiskLimits, equity: Decimal) -> bool {
        match limits.max_drawdown {
            Some(max) => self.peak_equity.is_some() && self.drawdown(equity) >= max,
            None => false,
        }
    }

    /// Whether today's loss at `equity` reaches `limits.daily_loss_limit`.
    pub fn daily_loss_reached(&self, limits: &RiskLimits, equity: Decimal) -> bool {
        match (limits.daily_loss_limit, self.day_start_equity) {
            (Some(limit), Some(start)) => {
                start.checked_sub(equity).is_some_and(|loss| loss >= limit)
            }
            _ => false,
        }
    }
}

/// Tells when a bar's equity surely sets no new peak, so the exact
/// `equity > peak` need not be computed. Two guards are always equal (a
/// cache is not part of the risk state).
#[derive(Clone, Copy, Debug, Default)]
pub struct PeakGuard {
    peak: F64View,
    /// A flat book's cash and the peak (their representations) for which
    /// the exact comparison found cash not above the peak.
    flat_checked: Option<([u8; 16], [u8; 16])>,
}

impl PeakGuard {
    /// Whether the equity of `book`, estimated at the close as `estimate`,
    /// is surely not above `peak`: either the estimate is below the peak by
    /// a wide margin ([`EquityEstimate::surely_below`]), or the book is
    /// flat (equity is its cash whatever the close) with the same cash and
    /// peak that [`PeakGuard::flat_not_above`] recorded.
    pub fn no_new_peak(&mut self, peak: Decimal, book: &Portfolio, e: &EquityEstimate) -> bool {
        if e.surely_below(self.peak.of(peak)) {
            return true;
        }
        book.position.is_zero()
            && self.flat_checked == Some((book.cash.serialize(), peak.serialize()))
    }

    /// Records that the exact comparison found the flat `book`'s equity (its
    /// cash) not above `peak`.
    pub fn flat_not_above(&mut self, peak: Decimal, book: &Portfolio) {
        if book.position.is_zero() {
            self.flat_checked = Some((book.cash.serialize(), peak.serialize()));
        }
    }
}

impl PartialEq for PeakGuard {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for PeakGuard {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_names_the_field() {
        let bad = RiskLimits {
            daily_loss_limit: Some(Decimal::NEGATIVE_ONE),
            ..RiskLimits::default()
        };
        assert!(bad
            .validate()
            .is_err_and(|e| e.to_string().contains("daily_loss_limit")));
        let bad = RiskLimits {
            max_position_notional: Some(Decimal::ZERO),
            ..RiskLimits::default()
        };
        assert!(bad
            .validate()
            .is_err_and(|e| e.to_string().contains("max_position_notional")));
        for dd in [Decimal::ZERO, Decimal::ONE, Decimal::NEGATIVE_ONE] {
            let bad = RiskLimits {
                max_drawdown: Some(dd),
                ..RiskLimits::default()
            };
            assert!(bad
                .validate()
                .is_err_and(|e| e.to_string().contains("max_drawdown")));
        }
        assert_eq!(RiskLimits::default().validate(), Ok(()));
    }

    #[test]
    fn utc_days() {
        assert_eq!(utc_day(0), 0);
        assert_eq!(utc_day(DAY_MS - 1), 0);
        assert_eq!(utc_day(DAY_MS), 1);
        assert_eq!(utc_day(-1), -1);
    }

    #[test]
    fn the_peak_guard_skips_only_bars_that_cannot_set_a_peak() {
        let mut guard = PeakGuard::default();
        let mut view = super::super::portfolio::EquityView::default();
        let peak = Decimal::from(1000);
        let mut book = Portfolio::new(Decimal::from(990));
        book.position = Decimal::new(1, 2); // 0.01 held
                                            // 990 + 0.01 × 900 = 999: below the peak by far more than the margin.
        assert!(guard.no_new_peak(peak, &book, &view.estimate(&book, 900.0)));
        // 990 + 0.01 × 1000 = 1000: equal, not provable by the estimate.
        assert!(!guard.no_new_peak(peak, &book, &view.estimate(&book, 1000.0)));
        // Flat at the peak: unproven until the exact check records it.
        let flat = Portfolio::new(peak);
        let at_peak = view.estimate(&flat, 123.0);
        assert!(!guard.no_new_peak(peak, &flat, &at_peak));
        guard.flat_not_above(peak, &flat);
        assert!(guard.no_new_peak(peak, &flat, &at_peak));
        // Another cash, or another peak, needs the exact check again.
        let richer = Portfolio::new(Decimal::from(1001));
        assert!(!guard.no_new_peak(peak, &richer, &view.estimate(&richer, 1.0)));
        assert!(!guard.no_new_peak(Decimal::new(10000, 1), &flat, &at_peak));
        // Holding a position, the record is never used.
        guard.flat_not_above(peak, &book);
        assert!(!guard.no_new_peak(peak, &book, &view.estimate(&book, 1000.0)));
    }

    #[test]
    fn drawdown_fraction() {
        let state = RiskState {
            peak_equity: Some(Decimal::from(200)),
            ..RiskState::default()
        };
        assert_eq!(state.drawdown(Decimal::from(150)), Decimal::new(25, 2));
        assert_eq!(state.drawdown(Decimal::from(250)), Decimal::ZERO);
    }
}
