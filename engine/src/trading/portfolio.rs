//! The book: cash, a signed position and its average entry price, and the
//! accounting of one fill (increase, reduce, close, reversal through zero).

use rust_decimal::Decimal;

use super::money::{add, div, mul, sub, Overflow};

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
