//! The order in flight ([`Pending`], and what was sent for it,
//! [`SentOrder`]) and the book's figures as `/status` shows them
//! ([`Snapshot`]).

use rust_decimal::Decimal;

use crate::ledger::{Entry, ExitReason};
use crate::trading::portfolio::Side;

/// An order decided and not yet settled: a market order waiting for the
/// next bar's open, or a limit entry resting for its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The signal that caused it.
    pub signal_seq: u64,
    /// The deciding bar.
    pub ts_ms: i64,
    /// Buy or sell.
    pub side: Side,
    /// Base quantity, positive.
    pub qty: Decimal,
    /// The position sign it heads for.
    pub target: i64,
    /// Live mode: what was sent to the exchange for it (its `Sent` entry),
    /// once written.
    pub sent: Option<SentOrder>,
    /// A limit entry's price and life; `None` for a market order.
    pub limit: Option<Limit>,
    /// What closes the position, when not the strategy's signal.
    pub exit: Option<ExitReason>,
    /// The deciding bar's ATR (for an `atr_multiple` stop-loss).
    pub atr: Option<Decimal>,
    /// Live: the exchange order's executed quantity booked so far (gross)
    /// while it still works (`PartialFill` entries); `qty` is the rest.
    pub executed: Decimal,
}

/// A limit order's terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The limit price.
    pub price: Decimal,
    /// Bars after the deciding one it may fill in.
    pub ttl_bars: u32,
}

/// What was sent to the exchange for a pending order (an `Entry::Sent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentOrder {
    /// The request's `newClientOrderId`.
    pub client_order_id: String,
    /// The quantity asked for, after the filters.
    pub qty: Decimal,
    /// When the entry was written, by the exchange's clock (ms).
    pub written_ms: i64,
}

impl Pending {
    /// A market order of the strategy's signal.
    pub(super) fn market(
        signal_seq: u64,
        ts_ms: i64,
        side: Side,
        qty: Decimal,
        target: i64,
    ) -> Self {
        Pending {
            signal_seq,
            ts_ms,
            side,
            qty,
            target,
            sent: None,
            limit: None,
            exit: None,
            atr: None,
            executed: Decimal::ZERO,
        }
    }

    pub(super) fn signed_qty(&self) -> Decimal {
        self.side.sign() * self.qty
    }

    /// The `Order` entry that records this order, with `reason`.
    pub(super) fn entry(&self, reason: Option<String>) -> Entry {
        Entry::Order {
            signal_seq: self.signal_seq,
            ts_ms: self.ts_ms,
            side: self.side,
            qty: self.qty,
            target: self.target,
            reason,
            exit: self.exit,
            limit: self.limit.map(|l| l.price),
            ttl_bars: self.limit.map(|l| l.ttl_bars),
            atr: self.atr,
        }
    }
}

/// The figures `/status` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Quote cash.
    pub cash: Decimal,
    /// Signed base position.
    pub position: Decimal,
    /// Average entry price of the position.
    pub avg_entry: Decimal,
    /// The price equity is marked at: the last close seen (the average entry
    /// price when no bar has been seen since the start).
    pub mark: Decimal,
    /// Cash plus position at `mark`.
    pub equity: Decimal,
    /// Realized PnL, gross of fees.
    pub realized_pnl: Decimal,
    /// Unrealized PnL at `mark`.
    pub unrealized_pnl: Decimal,
    /// Fees paid.
    pub fees_paid: Decimal,
    /// Drawdown from peak equity, a fraction.
    pub drawdown: Decimal,
    /// Whether new entries are blocked (kill switch or daily stop).
    pub halted: bool,
    /// The kill switch's or daily stop's reason.
    pub halt_reason: Option<String>,
    /// The last signal handled.
    pub last_signal_seq: Option<u64>,
    /// Whether an order waits for the next open.
    pub pending_order: bool,
}

/// The book as `/status` shows it.
impl From<&Snapshot> for aegis_contract::api::Book {
    fn from(s: &Snapshot) -> Self {
        aegis_contract::api::Book {
            position: s.position,
            avg_entry: s.avg_entry,
            cash: s.cash,
            equity: s.equity,
            realized_pnl: s.realized_pnl,
            unrealized_pnl: s.unrealized_pnl,
            fees_paid: s.fees_paid,
            drawdown: s.drawdown,
            halted: s.halted,
            halt_reason: s.halt_reason.clone(),
            pending_order: s.pending_order,
        }
    }
}
