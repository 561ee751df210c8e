//! Where the orders [`Execution`](super::Execution) decides are carried out.
//!
//! The engine decides orders the same way whatever carries them out; a
//! [`Venue`] says what becomes of an order once decided. Two implement it:
//!
//! - [`Paper`], the documented fill model of backtests and paper trading:
//!   an order fills at the reference price it is given (the next bar's open,
//!   the level of a protective exit, or the last close for a closing order)
//!   with slippage (none for a limit order, which fills at its price) (a buy pays
//!   `price × (1 + slip)`, a sell gets `price × (1 − slip)`) and a fee of
//!   `fee_bps` of the notional; a buy that opens or adds to a long is cut so
//!   cash never goes negative, and one that can buy nothing is refused.
//! - an exchange (the worker's Binance spot venue): every fill comes back
//!   later, from the exchange ([`Settlement::Later`]; the worker books it with
//!   `Execution::apply_fill` or `cancel_pending`), and shorting is not
//!   possible (a short target is held flat).
//!
//! A venue holds no state of its own: the book and the parameters are handed
//! in, so a restarted orchestrator's `Execution::rebuild` needs only the
//! ledger, and the ledger need not record the venue.

use std::fmt;

use rust_decimal::Decimal;

use super::execution::order::Pending;
use super::execution::params::ExecutionParams;
use super::money::{add, bps_to_fraction, div, floor_to_step, mul, sub, Overflow};
use super::portfolio::{Fill, Portfolio, Side};

/// What carries out decided orders; see the [module docs](self).
pub trait Venue: Sync {
    /// The venue's name in logs and errors (`"paper"`, `"binance"`); two
    /// venues with one name are the same venue.
    fn name(&self) -> &'static str;

    /// Whether a short position may be held. A spot venue holds a short
    /// target flat.
    fn allows_short(&self) -> bool;

    /// Whether the venue holds the protective exits and works limit orders
    /// itself (an exchange, so they hold while the engine is down); when
    /// not, the engine checks them against each bar (the paper fill model).
    fn holds_exits(&self) -> bool;

    /// What becomes of `order` now, at `price` (`None`: no usable price, e.g.
    /// a bar without a valid open, or a run that ended before the next one),
    /// against `book` under `params`.
    fn fill(
        &self,
        order: &Pending,
        price: Option<Decimal>,
        book: &Portfolio,
        params: &ExecutionParams,
    ) -> Settlement;
}

impl fmt::Debug for dyn Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for dyn Venue {
    fn eq(&self, other: &dyn Venue) -> bool {
        self.name() == other.name()
    }
}

impl Eq for dyn Venue {}

/// The outcome of [`Venue::fill`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settlement {
    /// Filled now: apply this to the book.
    Filled(Fill),
    /// Cannot be filled; the order ends with this reason.
    Refused(String),
    /// No usable price: the order ends (the caller says why).
    NoPrice,
    /// The venue settles the order itself and reports back later: it stays
    /// pending.
    Later,
}

/// The paper fill model (see the [module docs](self)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paper;

/// The one paper venue.
pub static PAPER: Paper = Paper;

impl Venue for Paper {
    fn name(&self) -> &'static str {
        "paper"
    }

    fn allows_short(&self) -> bool {
        true
    }

    fn holds_exits(&self) -> bool {
        false
    }

    fn fill(
        &self,
        order: &Pending,
        price: Option<Decimal>,
        book: &Portfolio,
        params: &ExecutionParams,
    ) -> Settlement {
        let Some(reference) = price else {
            return Settlement::NoPrice;
        };
        match paper_fill(order, reference, book, params) {
            Err(e) => Settlement::Refused(e.to_string()),
            Ok(None) => Settlement::Refused(format!(
                "not enough cash ({}) to buy any quantity at {reference}",
                book.cash
            )),
            Ok(Some(fill)) => Settlement::Filled(fill),
        }
    }
}

/// Prices `order` against `reference` with slippage and fee, cutting a buy
/// to the cash available; `None` when nothing can be bought.
fn paper_fill(
    order: &Pending,
    reference: Decimal,
    book: &Portfolio,
    p: &ExecutionParams,
) -> Result<Option<Fill>, Overflow> {
    // A limit order fills at its price: no slippage.
    let slip = if order.limit.is_some() {
        Decimal::ZERO
    } else {
        bps_to_fraction(p.slippage_bps)
    };
    let fee_rate = bps_to_fraction(p.fee_bps);
    let price = match order.side {
        Side::Buy => mul(reference, Decimal::ONE + slip, "fill price")?,
        Side::Sell => mul(reference, Decimal::ONE - slip, "fill price")?,
    };
    let fee_of = |qty: Decimal| mul(mul(qty, price, "fill notional")?, fee_rate, "fee");
    let mut qty = order.qty;
    if order.side == Side::Buy {
        // Covering a short is always allowed; what opens a long needs cash.
        let short = (-book.position).max(Decimal::ZERO);
        let cover = qty.min(short);
        let cover_cost = add(
            mul(cover, price, "cover cost")?,
            fee_of(cover)?,
            "cover cost",
        )?;
        let cash_left = sub(book.cash, cover_cost, "cash")?.max(Decimal::ZERO);
        let unit = mul(price, Decimal::ONE + fee_rate, "unit cost")?;
        let mut affordable = floor_to_step(div(cash_left, unit, "affordable qty")?, p.qty_step);
        // Guard against the division rounding up at the 28th digit.
        while affordable > Decimal::ZERO
            && add(mul(affordable, price, "cost")?, fee_of(affordable)?, "cost")? > cash_left
        {
            affordable -= p.qty_step;
        }
        qty = cover + (qty - cover).min(affordable);
    }
    if qty <= Decimal::ZERO {
        return Ok(None);
    }
    Ok(Some(Fill {
        side: order.side,
        qty,
        price,
        fee: fee_of(qty)?,
    }))
}
