//! Why a ledger cannot be replayed, a book cannot be flattened, or an
//! exchange's answer cannot be booked.

use rust_decimal::Decimal;
use thiserror::Error;

use super::ParamsError;

/// Why a ledger cannot be replayed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum RebuildError {
    /// The parameters are invalid.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// An entry contradicts the ones before it (or the configured parameters).
    #[error("ledger entry {index} cannot be replayed: {reason}")]
    Inconsistent {
        /// 1-based position of the entry (its line in the ledger file).
        index: usize,
        /// What does not fit.
        reason: String,
    },
}

/// Why [`Execution::flatten`] cannot flatten the book now.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum FlattenError {
    /// A position is open but no close has been seen since the start (the
    /// ledger holds no prices): it cannot be valued or closed before the
    /// next bar.
    #[error("no price seen since the start: the position {position} cannot be closed before the next bar")]
    NoPrice {
        /// The open position.
        position: Decimal,
    },
    /// An exchange ban halts every order, a closing one included.
    #[error("the exchange banned this IP: no order can be sent until orchestrator.risk.clear_halt ({reason})")]
    Banned {
        /// The ban's halt reason.
        reason: String,
    },
    /// Live: an order sent to the exchange is not settled yet.
    #[error("the live order of signal {signal_seq} is not settled yet: flatten after it is")]
    Unsettled {
        /// The order's signal.
        signal_seq: u64,
    },
}

/// Why [`Execution::apply_fill`] cannot record an exchange's execution.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SettleError {
    /// No order of this signal is pending.
    #[error("no pending order of signal {signal_seq} to settle ({})", pending_text(*.pending))]
    NotPending {
        /// The signal named.
        signal_seq: u64,
        /// The signal of the pending order, if any.
        pending: Option<u64>,
    },
    /// The executed quantity is not in (0, ordered].
    #[error("executed quantity {executed} of signal {signal_seq} is not in (0, {ordered}]")]
    BadQuantity {
        /// The signal.
        signal_seq: u64,
        /// What the exchange executed.
        executed: Decimal,
        /// What was ordered.
        ordered: Decimal,
    },
    /// The price or fee is negative, or the arithmetic overflows.
    #[error("fill of signal {signal_seq} cannot be booked: {reason}")]
    Unbookable {
        /// The signal.
        signal_seq: u64,
        /// What is wrong.
        reason: String,
    },
}

/// How [`SettleError::NotPending`] names the pending order, for people.
fn pending_text(pending: Option<u64>) -> String {
    pending.map_or_else(
        || "no order is pending".into(),
        |seq| format!("the pending order is signal {seq}'s"),
    )
}

/// Why an exchange-held exit cannot be recorded or booked
/// ([`Execution::record_exits_sent`], [`Execution::apply_exit_fill`]).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum HeldExitError {
    /// Exits are placed only for an open position with nothing in flight
    /// and none held already.
    #[error("exits cannot be placed now: {0}")]
    NotWanted(String),
    /// The exits named are not the ones held.
    #[error("exit order {client_order_id} is not held ({})", .held.as_deref().unwrap_or("none is held"))]
    NotHeld {
        /// The id named.
        client_order_id: String,
        /// The id of the exits held, if any.
        held: Option<String>,
    },
    /// The quantity, price or fee cannot be booked.
    #[error("exit fill of {client_order_id} cannot be booked: {reason}")]
    Unbookable {
        /// The leg.
        client_order_id: String,
        /// What is wrong.
        reason: String,
    },
}
