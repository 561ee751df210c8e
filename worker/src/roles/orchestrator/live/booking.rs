//! How an exchange execution becomes a ledger fill ([`book_fill`]: the
//! average price and the commissions by asset), whether an order found by
//! its client order id is the one the ledger sent ([`check_found`]), and
//! the balance rule the ledger is checked against ([`reconcile`]). Pure.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use aegis_contract::api::Balances;
use aegis_engine::trading::{Execution, Pending, Side};
use aegis_exchange::rest::{Balance, Order, Side as RestSide};
use aegis_exchange::SymbolFilters;

/// How much earlier than the ledger's `Sent` entry (by the synced exchange
/// clock) an order found under its id may have been made and still be it:
/// the clock offset is estimated from a round trip, so it may be off by a
/// little.
pub const CLOCK_MARGIN_MS: i64 = 2_000;

/// Whether `found`, the order the exchange holds under the id of the
/// pending `order`, is that order: the same side, the quantity the `Sent`
/// entry recorded (at most the order's for an order of an older build,
/// which recorded none), and made no earlier than the `Sent` entry was
/// written (less [`CLOCK_MARGIN_MS`]). `Err` says what differs: such an
/// order is never booked.
pub fn check_found(order: &Pending, found: &Order) -> Result<(), String> {
    let side = match order.side {
        Side::Buy => RestSide::Buy,
        Side::Sell => RestSide::Sell,
    };
    let mut differences = Vec::new();
    if found.side != side {
        differences.push(format!("side {} (the ledger sent {side})", found.side));
    }
    match &order.sent {
        Some(sent) => {
            if found.orig_qty != sent.qty {
                differences.push(format!(
                    "quantity {} (the ledger sent {})",
                    found.orig_qty, sent.qty
                ));
            }
            if let Some(made) = found.time {
                if made < sent.written_ms - CLOCK_MARGIN_MS {
                    differences.push(format!(
                        "made at {made} ms, before the ledger wrote the order at {} ms",
                        sent.written_ms
                    ));
                }
            }
        }
        None if found.orig_qty > order.qty => differences.push(format!(
            "quantity {} (more than the ledger's order of {})",
            found.orig_qty, order.qty
        )),
        None => {}
    }
    if differences.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the exchange's order {} (id {}) is not the order of signal {}: {}",
            found.client_order_id,
            found.order_id,
            order.signal_seq,
            differences.join("; ")
        ))
    }
}

/// The wall clock, ms since the epoch (the stamp of live entries).
pub(super) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An exchange execution as the ledger books it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookedFill {
    /// Base quantity to the book (net of a base-asset commission).
    pub qty: Decimal,
    /// Average price, `cummulativeQuoteQty / executedQty`.
    pub price: Decimal,
    /// Fee in quote.
    pub fee: Decimal,
    /// What could not be booked, for the log.
    pub note: Option<String>,
}

/// Why an execution cannot be booked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the exchange's execution cannot be booked: {0}")]
pub struct Unbookable(String);

/// How a final order with `executed_qty > 0` is booked (see the module
/// docs, "Fees").
pub fn book_fill(filters: &SymbolFilters, order: &Order) -> Result<BookedFill, Unbookable> {
    let executed = order.executed_qty;
    let overflow = |what: &str| Unbookable(format!("{what} overflows"));
    let price = order
        .cummulative_quote_qty
        .checked_div(executed)
        .filter(|_| executed > Decimal::ZERO)
        .ok_or_else(|| Unbookable(format!("executed quantity {executed} gives no price")))?;
    let mut qty = executed;
    let mut fee = Decimal::ZERO;
    let mut unbooked: BTreeMap<&str, Decimal> = BTreeMap::new();
    for f in &order.fills {
        let value = || {
            f.commission
                .checked_mul(price)
                .ok_or_else(|| overflow("commission value"))
        };
        if f.commission_asset == filters.quote_asset {
            fee = fee
                .checked_add(f.commission)
                .ok_or_else(|| overflow("fee"))?;
        } else if f.commission_asset == filters.base_asset && order.side == RestSide::Buy {
            qty = qty
                .checked_sub(f.commission)
                .ok_or_else(|| overflow("quantity"))?;
            fee = fee.checked_add(value()?).ok_or_else(|| overflow("fee"))?;
        } else if f.commission_asset == filters.base_asset {
            // A sell paying in base: the account lost that base too; its
            // value is the fee.
            fee = fee.checked_add(value()?).ok_or_else(|| overflow("fee"))?;
        } else if !f.commission.is_zero() {
            let sum = unbooked.entry(f.commission_asset.as_str()).or_default();
            *sum = sum.saturating_add(f.commission);
        }
    }
    let mut notes = Vec::new();
    if !unbooked.is_empty() {
        notes.push(format!(
            "commission in other assets not booked in the ledger: {unbooked:?}"
        ));
    }
    if !order.fills_complete() {
        let listed = order
            .fills
            .iter()
            .fold(Decimal::ZERO, |sum, f| sum.saturating_add(f.qty));
        notes.push(format!(
            "the exchange listed the trades of {listed} of the {executed} executed: the commissions of the rest are not booked"
        ));
    }
    Ok(BookedFill {
        qty,
        price,
        fee,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

/// The balances of the symbol's assets against the book (the rule is on
/// [`Balances`]).
pub fn reconcile(
    filters: &SymbolFilters,
    account: &BTreeMap<String, Balance>,
    exec: &Execution,
) -> Balances {
    let of = |asset: &str| account.get(asset).copied().unwrap_or_default();
    let (base, quote) = (of(&filters.base_asset), of(&filters.quote_asset));
    let p = exec.portfolio();
    let mut mismatches = Vec::new();
    if p.cash > quote.free {
        mismatches.push(format!(
            "{}: the ledger's cash {} is more than the exchange's free balance {}",
            filters.quote_asset, p.cash, quote.free
        ));
    }
    if p.position > base.free + base.locked {
        mismatches.push(format!(
            "{}: the ledger's position {} is more than the exchange's balance {} (free {} + locked {})",
            filters.base_asset,
            p.position,
            base.free + base.locked,
            base.free,
            base.locked
        ));
    }
    Balances {
        base_asset: filters.base_asset.clone(),
        quote_asset: filters.quote_asset.clone(),
        base_free: base.free,
        base_locked: base.locked,
        quote_free: quote.free,
        quote_locked: quote.locked,
        ledger_cash: p.cash,
        ledger_position: p.position,
        mismatches,
        read_ms: now_ms(),
    }
}
