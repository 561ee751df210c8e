//! The book: cash, a signed position and its average entry price, the
//! accounting of one fill (increase, reduce, close, reversal through zero),
//! and an `f64` estimate of its equity ([`EquityView`]) that proves when
//! exact equity is not needed.

use rust_decimal::Decimal;

use super::money::{add, div, mul, sub, F64View, Overflow};

pub use crate::ledger::Side;

/// One execution applied to the book: `qty` (positive) base at `price`
/// (quote per base), paying `fee` (quote).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Buy or sell.
    pub side: Side,
    /// Base quantity, positive.
    pub qty: Decimal,
    /// Execution price, slippage included.
    pub price: Decimal,
    /// Fee in quote currency, taken from cash.
    pub fee: Decimal,
}

/// Cash and one instrument's position.
///
/// `realized_pnl` is gross of fees (fees accumulate in `fees_paid` and come
/// out of `cash`), so `equity = initial cash + realized − fees + unrealized`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Portfolio {
    /// Quote currency (a short's sale proceeds included).
    pub cash: Decimal,
    /// Signed base quantity: positive long, negative short.
    pub position: Decimal,
    /// Average entry price of the open position (0 when flat).
    pub avg_entry: Decimal,
    /// PnL realised on closed quantity, before fees.
    pub realized_pnl: Decimal,
    /// Sum of all fees paid.
    pub fees_paid: Decimal,
}

impl Portfolio {
    /// A flat book holding `cash`.
    pub fn new(cash: Decimal) -> Self {
        Portfolio {
            cash,
            position: Decimal::ZERO,
            avg_entry: Decimal::ZERO,
            realized_pnl: Decimal::ZERO,
            fees_paid: Decimal::ZERO,
        }
    }

    /// Applies `fill`; on overflow the book is left unchanged.
    pub fn apply(&mut self, fill: &Fill) -> Result<(), Overflow> {
        let mut next = self.clone();
        let signed = fill.side.sign() * fill.qty;
        let notional = mul(signed, fill.price, "fill notional")?;
        next.cash = sub(sub(self.cash, notional, "cash")?, fill.fee, "cash")?;
        next.fees_paid = add(self.fees_paid, fill.fee, "fees paid")?;
        next.position = add(self.position, signed, "position")?;
        let same_direction = self.position.is_zero()
            || self.position.is_sign_positive() == signed.is_sign_positive();
        if same_direction {
            let held = self.position.abs();
            let cost = add(
                mul(held, self.avg_entry, "position cost")?,
                mul(fill.qty, fill.price, "fill cost")?,
                "position cost",
            )?;
            let total = add(held, fill.qty, "position size")?;
            next.avg_entry = if total.is_zero() {
                Decimal::ZERO
            } else {
                div(cost, total, "average entry")?
            };
        } else {
            let closed = fill.qty.min(self.position.abs());
            let per_unit = mul(
                sub(fill.price, self.avg_entry, "price change")?,
                if self.position.is_sign_negative() {
                    Decimal::NEGATIVE_ONE
                } else {
                    Decimal::ONE
                },
                "price change",
            )?;
            let pnl = mul(closed, per_unit, "realized pnl")?;
            next.realized_pnl = add(self.realized_pnl, pnl, "realized pnl")?;
            next.avg_entry = if next.position.is_zero() {
                Decimal::ZERO
            } else if fill.qty > closed {
                fill.price // reversed through zero: the rest opened here
            } else {
                self.avg_entry
            };
        }
        *self = next;
        Ok(())
    }

    /// Cash plus the position valued at `mark`.
    pub fn equity(&self, mark: Decimal) -> Result<Decimal, Overflow> {
        add(
            self.cash,
            mul(self.position, mark, "position value")?,
            "equity",
        )
    }

    /// PnL of the open position if it were closed at `mark` (no fees).
    pub fn unrealized(&self, mark: Decimal) -> Result<Decimal, Overflow> {
        mul(
            self.position,
            sub(mark, self.avg_entry, "price change")?,
            "unrealized pnl",
        )
    }
}

/// The relative margin an [`EquityEstimate`] keeps: about 10^7 times the
/// estimate's own error (a few `f64` roundings, each below 2^-53 ≈ 1.1e-16
/// of the magnitude), so what it proves holds for the exact figure.
pub const ESTIMATE_MARGIN: f64 = 1e-9;

/// Equity magnitudes below this cannot overflow a `Decimal` (about 7.9e28).
const NO_OVERFLOW_BELOW: f64 = 1e27;

/// `f64` copies of a book's cash and position (see [`F64View`]), to
/// estimate its equity at a close without decimal arithmetic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EquityView {
    cash: F64View,
    position: F64View,
}

/// `cash + position × close` in `f64`, and the size of the terms it adds:
/// the exact equity differs from `value` by less than `magnitude × 1e-15`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EquityEstimate {
    /// The estimated equity.
    pub value: f64,
    /// `|cash| + |position × close|`.
    pub magnitude: f64,
}

impl EquityView {
    /// The estimate of `book`'s equity at `close` (the `f64` whose shortest
    /// decimal is the exact mark).
    pub fn estimate(&mut self, book: &Portfolio, close: f64) -> EquityEstimate {
        let cash = self.cash.of(book.cash);
        let value_held = self.position.of(book.position) * close;
        EquityEstimate {
            value: cash + value_held,
            magnitude: cash.abs() + value_held.abs(),
        }
    }
}

impl EquityEstimate {
    /// Whether [`Portfolio::equity`] surely succeeds: the terms are far
    /// below `Decimal`'s range (false for NaN).
    pub fn cannot_overflow(&self) -> bool {
        self.magnitude < NO_OVERFLOW_BELOW
    }

    /// Whether the exact equity is surely below a decimal whose `f64` copy
    /// is `bound`: the estimate stays below it by [`ESTIMATE_MARGIN`] of
    /// both magnitudes (false for NaN, and whenever in doubt).
    pub fn surely_below(&self, bound: f64) -> bool {
        self.value + ESTIMATE_MARGIN * (self.magnitude + bound.abs()) < bound
    }

    /// Whether the exact equity surely buys less than `step` at `price`
    /// (positive): its upper bound over `price` stays below the step by
    /// [`ESTIMATE_MARGIN`] (false for NaN, and whenever in doubt).
    pub fn surely_buys_less_than(&self, step: f64, price: f64) -> bool {
        let upper = self.value + ESTIMATE_MARGIN * self.magnitude;
        upper / price < step * (1.0 - ESTIMATE_MARGIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    fn fill(side: Side, qty: &str, price: &str, fee: &str) -> Fill {
        Fill {
            side,
            qty: d(qty),
            price: d(price),
            fee: d(fee),
        }
    }

    #[test]
    fn increase_reduce_reverse_close() -> Result<(), Overflow> {
        let mut p = Portfolio::new(d("1000"));
        p.apply(&fill(Side::Buy, "2", "100", "1"))?;
        assert_eq!(
            (p.cash, p.position, p.avg_entry),
            (d("799"), d("2"), d("100"))
        );
        p.apply(&fill(Side::Buy, "2", "110", "0"))?;
        assert_eq!(p.avg_entry, d("105"));
        p.apply(&fill(Side::Sell, "1", "115", "0"))?;
        assert_eq!(
            (p.realized_pnl, p.position, p.avg_entry),
            (d("10"), d("3"), d("105"))
        );
        // Reversal: close 3 at 100 (−15) and open a 2 short at 100.
        p.apply(&fill(Side::Sell, "5", "100", "0.5"))?;
        assert_eq!(
            (p.realized_pnl, p.position, p.avg_entry),
            (d("-5"), d("-2"), d("100"))
        );
        assert_eq!(p.unrealized(d("90"))?, d("20"));
        p.apply(&fill(Side::Buy, "2", "90", "0"))?;
        assert_eq!(
            (p.realized_pnl, p.position, p.avg_entry),
            (d("15"), d("0"), d("0"))
        );
        assert_eq!(p.fees_paid, d("1.5"));
        assert_eq!(p.equity(d("1"))?, d("1000") + p.realized_pnl - p.fees_paid);
        Ok(())
    }

    #[test]
    fn the_equity_estimate_proves_only_what_holds() -> Result<(), Overflow> {
        let mut p = Portfolio::new(d("1000"));
        p.apply(&fill(Side::Buy, "0.12345", "43250.12", "1.25"))?;
        let mut view = EquityView::default();
        let close = 43000.01;
        let exact = p.equity(d("43000.01"))?;
        let estimate = view.estimate(&p, close);
        assert!(estimate.cannot_overflow());
        let exact_f = exact.to_string().parse::<f64>().unwrap_or(f64::NAN);
        assert!((estimate.value - exact_f).abs() <= 1e-12 * estimate.magnitude);
        // Just above the exact equity: too close to prove anything.
        assert!(!estimate.surely_below(exact_f));
        assert!(!estimate.surely_below(exact_f * (1.0 + 1e-12)));
        assert!(estimate.surely_below(exact_f * 1.001));
        assert!(!estimate.surely_below(f64::NAN));
        // What it buys at the close: 1000 - 1.25 + ... about 0.146 units.
        let units = exact_f / close;
        assert!(estimate.surely_buys_less_than(units * 1.001, close));
        assert!(!estimate.surely_buys_less_than(units, close));
        assert!(!estimate.surely_buys_less_than(units * 0.5, close));
        assert!(!estimate.surely_buys_less_than(f64::NAN, close));
        // A book change is seen (the view is keyed on the decimals).
        p.apply(&fill(Side::Sell, "0.12345", "43000.01", "0"))?;
        let cash = p.cash.to_string().parse::<f64>().unwrap_or(f64::NAN);
        assert!(
            (view.estimate(&p, close).value - cash).abs() < 1e-9,
            "{cash}"
        );
        // Near Decimal's range nothing is proven.
        let mut huge = Portfolio::new(Decimal::MAX);
        huge.position = d("1");
        assert!(!view.estimate(&huge, 1.0).cannot_overflow());
        Ok(())
    }

    #[test]
    fn overflow_leaves_book_unchanged() {
        let mut p = Portfolio::new(d("1000"));
        let before = p.clone();
        assert!(p.apply(&fill(Side::Buy, "1", "1", "0")).is_ok());
        let mut huge = fill(Side::Buy, "1", "1", "0");
        huge.qty = Decimal::MAX;
        huge.price = Decimal::MAX;
        let after_first = p.clone();
        assert!(p.apply(&huge).is_err());
        assert_eq!(p, after_first);
        assert_ne!(before, after_first);
    }
}
