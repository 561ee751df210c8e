//! Pairs fills into round-trip trades.
//!
//! A position is built from fills: buys add to a long (or reduce a short),
//! sells the reverse. Every fill that reduces a position closes a [`Trade`]
//! of the size it reduces by:
//!
//! - **scaling in** (adding on the same side) widens the open position; its
//!   entry price is the quantity-weighted average of the entry fills and its
//!   entry fees accumulate;
//! - **a partial exit** closes a trade for the exited quantity, carrying a
//!   proportional share of the position's entry cost and entry fees (the rest
//!   stays with the open position, so the shares always add up exactly);
//! - **a reversal** (a fill larger than the open position) closes the whole
//!   position and opens the opposite one with the remainder, at the same
//!   price and time; the fill's fee is split pro rata by quantity.
//!
//! Money is [`Decimal`]. The position keeps its entry *cost* (Σ price × qty)
//! rather than an average price, so a full round trip's PnL is exact; only a
//! partial exit whose share does not divide evenly is rounded (at Decimal's
//! 28 digits), and the remainder carries the rounding so totals still match.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ReportError;

pub use crate::trading::Side;

/// One execution, as the broker reports it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FillRecord {
    /// The signal whose order this fill executes.
    pub signal_seq: u64,
    /// When it filled, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// Buy or sell.
    pub side: Side,
    /// Quantity filled, in the base asset; must be positive.
    pub qty: Decimal,
    /// Fill price; must be positive.
    pub price: Decimal,
    /// Fee paid, in the quote asset; must not be negative.
    pub fee: Decimal,
    /// Why the order was placed when not simply the strategy's signal (the
    /// ledger's order reason: a risk flatten, a size cap, the end of the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What closed the position when not the strategy's signal (the ledger
    /// order's `exit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitReason>,
}

/// The exit reason of a trade closed by the strategy's own signal.
pub const EXIT_SIGNAL: &str = "signal";

pub use crate::ledger::ExitReason;

/// The direction of a position or trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TradeSide {
    /// Bought first, sold to close.
    Long,
    /// Sold first, bought to close.
    Short,
}

/// A closed round trip (or the closed part of one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Long or short.
    pub side: TradeSide,
    /// Signal of the fill that opened the position.
    pub entry_signal_seq: u64,
    /// Signal of the fill that closed this trade.
    pub exit_signal_seq: u64,
    /// When the position was opened (its first entry fill).
    pub entry_ts_ms: i64,
    /// When this trade was closed.
    pub exit_ts_ms: i64,
    /// Quantity-weighted average entry price.
    pub entry_price: Decimal,
    /// Price of the closing fill.
    pub exit_price: Decimal,
    /// Quantity closed.
    pub qty: Decimal,
    /// This trade's share of the entry fees plus its share of the exit fee.
    pub fees: Decimal,
    /// Profit or loss, net of `fees`.
    pub pnl: Decimal,
    /// What closed it: `signal` ([`EXIT_SIGNAL`]), `stop_loss`,
    /// `take_profit`, `trailing_stop`, `risk`, `flatten` or `end_of_data`
    /// ([`ExitReason`]).
    #[serde(default = "exit_signal")]
    pub exit_reason: String,
    /// The closing order's own words, when it has any (the level a stop
    /// traded through, the risk rule's figures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_detail: Option<String>,
}

fn exit_signal() -> String {
    EXIT_SIGNAL.to_string()
}

/// A position still open.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenPosition {
    /// Long or short.
    pub side: TradeSide,
    /// Signal of the fill that opened it.
    pub entry_signal_seq: u64,
    /// When it was opened.
    pub entry_ts_ms: i64,
    /// Quantity still open (positive).
    pub qty: Decimal,
    /// Σ price × qty of the open quantity.
    pub entry_cost: Decimal,
    /// Entry fees not yet assigned to a closed trade.
    pub entry_fees: Decimal,
}

impl OpenPosition {
    /// The quantity-weighted average entry price.
    pub fn entry_price(&self) -> Decimal {
        self.entry_cost
            .checked_div(self.qty)
            .unwrap_or(Decimal::ZERO)
    }
}

/// Trades paired from a list of fills, and what is left open.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PairedTrades {
    /// Closed trades, in closing order.
    pub trades: Vec<Trade>,
    /// The position open after the last fill, if any.
    pub open: Option<OpenPosition>,
}

/// Pairs fills incrementally: feed each fill with [`TradeBook::apply`].
#[derive(Clone, Debug, Default)]
pub struct TradeBook {
    open: Option<OpenPosition>,
    trades: Vec<Trade>,
}

impl TradeBook {
    /// An empty book: flat, no trades.
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one fill; returns the trades it closed (0, or 1 — a reversal
    /// closes one trade and opens the opposite position).
    pub fn apply(&mut self, fill: &FillRecord) -> Result<&[Trade], ReportError> {
        validate(fill)?;
        let before = self.trades.len();
        let fill_side = match fill.side {
            Side::Buy => TradeSide::Long,
            Side::Sell => TradeSide::Short,
        };
        match self.open.take() {
            None => self.open = Some(open_position(fill, fill_side, fill.qty, fill.fee)?),
            Some(mut pos) if pos.side == fill_side => {
                let added_cost = checked(fill, "price × qty", fill.price.checked_mul(fill.qty))?;
                pos.qty = checked(fill, "position qty", pos.qty.checked_add(fill.qty))?;
                pos.entry_cost =
                    checked(fill, "entry cost", pos.entry_cost.checked_add(added_cost))?;
                pos.entry_fees = checked(fill, "entry fees", pos.entry_fees.checked_add(fill.fee))?;
                self.open = Some(pos);
            }
            Some(pos) => self.reduce(pos, fill, fill_side)?,
        }
        Ok(&self.trades[before..])
    }

    /// Closes (part of) `pos` with an opposite fill, opening the opposite
    /// position with any remainder.
    fn reduce(
        &mut self,
        mut pos: OpenPosition,
        fill: &FillRecord,
        fill_side: TradeSide,
    ) -> Result<(), ReportError> {
        let close_qty = fill.qty.min(pos.qty);
        let remainder = fill.qty - close_qty;
        // The exit's share of the fill's fee; the rest opens the reversal.
        let exit_fee = if remainder.is_zero() {
            fill.fee
        } else {
            share(fill, "exit fee share", fill.fee, close_qty, fill.qty)?
        };
        let (cost_share, fee_share) = if close_qty == pos.qty {
            (pos.entry_cost, pos.entry_fees)
        } else {
            (
                share(fill, "entry cost share", pos.entry_cost, close_qty, pos.qty)?,
                share(fill, "entry fee share", pos.entry_fees, close_qty, pos.qty)?,
            )
        };
        let exit_value = checked(fill, "price × qty", fill.price.checked_mul(close_qty))?;
        let gross = match pos.side {
            TradeSide::Long => exit_value.checked_sub(cost_share),
            TradeSide::Short => cost_share.checked_sub(exit_value),
        };
        let gross = checked(fill, "gross pnl", gross)?;
        let fees = checked(fill, "fees", fee_share.checked_add(exit_fee))?;
        let pnl = checked(fill, "pnl", gross.checked_sub(fees))?;
        let entry_price = checked(fill, "entry price", cost_share.checked_div(close_qty))?;
        self.trades.push(Trade {
            side: pos.side,
            entry_signal_seq: pos.entry_signal_seq,
            exit_signal_seq: fill.signal_seq,
            entry_ts_ms: pos.entry_ts_ms,
            exit_ts_ms: fill.ts_ms,
            entry_price,
            exit_price: fill.price,
            qty: close_qty,
            fees,
            pnl,
            exit_reason: fill
                .exit
                .map_or_else(exit_signal, |r| r.as_str().to_string()),
            exit_detail: fill.reason.clone(),
        });
        pos.qty -= close_qty;
        pos.entry_cost -= cost_share;
        pos.entry_fees -= fee_share;
        self.open = if !pos.qty.is_zero() {
            Some(pos)
        } else if !remainder.is_zero() {
            Some(open_position(
                fill,
                fill_side,
                remainder,
                fill.fee - exit_fee,
            )?)
        } else {
            None
        };
        Ok(())
    }

    /// Trades closed so far.
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    /// The open position, if any.
    pub fn open_position(&self) -> Option<&OpenPosition> {
        self.open.as_ref()
    }

    /// The closed trades and the position left open.
    pub fn finish(self) -> PairedTrades {
        PairedTrades {
            trades: self.trades,
            open: self.open,
        }
    }
}

/// Pairs a whole list of fills (in execution order).
pub fn pair_fills(fills: &[FillRecord]) -> Result<PairedTrades, ReportError> {
    let mut book = TradeBook::new();
    for fill in fills {
        book.apply(fill)?;
    }
    Ok(book.finish())
}

fn open_position(
    fill: &FillRecord,
    side: TradeSide,
    qty: Decimal,
    fee: Decimal,
) -> Result<OpenPosition, ReportError> {
    Ok(OpenPosition {
        side,
        entry_signal_seq: fill.signal_seq,
        entry_ts_ms: fill.ts_ms,
        qty,
        entry_cost: checked(fill, "price × qty", fill.price.checked_mul(qty))?,
        entry_fees: fee,
    })
}

/// `whole × part / total`, checked (`total` is positive).
fn share(
    fill: &FillRecord,
    what: &'static str,
    whole: Decimal,
    part: Decimal,
    total: Decimal,
) -> Result<Decimal, ReportError> {
    let scaled = whole.checked_mul(part).and_then(|v| v.checked_div(total));
    checked(fill, what, scaled)
}

/// Turns a failed checked Decimal operation into an error naming the fill.
fn checked(
    fill: &FillRecord,
    what: &'static str,
    value: Option<Decimal>,
) -> Result<Decimal, ReportError> {
    value.ok_or(ReportError::DecimalOverflow {
        signal_seq: fill.signal_seq,
        what,
    })
}

fn validate(fill: &FillRecord) -> Result<(), ReportError> {
    let bad = |field, value: Decimal, expected| ReportError::InvalidFill {
        signal_seq: fill.signal_seq,
        field,
        value: value.to_string(),
        expected,
    };
    if fill.qty <= Decimal::ZERO {
        return Err(bad("qty", fill.qty, "expected a positive quantity"));
    }
    if fill.price <= Decimal::ZERO {
        return Err(bad("price", fill.price, "expected a positive price"));
    }
    if fill.fee < Decimal::ZERO {
        return Err(bad("fee", fill.fee, "expected a fee of zero or more"));
    }
    Ok(())
}
