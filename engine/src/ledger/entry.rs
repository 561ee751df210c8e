//! One line of the orchestrator's ledger: what it decided, what filled, and
//! the risk events, as versioned JSON (`{"v":1,"type":"fill",...}`, decimals as
//! strings so money stays exact).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::exit_reason::ExitReason;
use super::side::Side;

/// The ledger line format version written by this build.
pub const ENTRY_VERSION: u32 = 1;

/// Which risk rule halted trading.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HaltKind {
    /// Max drawdown: persistent until a `Resume`.
    KillSwitch,
    /// Daily loss limit: lapses at the next UTC day.
    DailyLoss,
    /// The exchange banned this IP (HTTP 418): persistent until a `Resume`,
    /// and no request at all (not even a flattening order) is sent meanwhile.
    ExchangeBan,
    /// An order the exchange holds under the pending order's client order id
    /// does not match what the ledger sent (side, quantity, or it was made
    /// before the ledger's `Sent` entry): persistent until a `Resume`, and no
    /// order at all is decided meanwhile. Nothing of it is booked.
    OrderMismatch,
}

/// One ledger entry. `signal_seq` is always the sequence number of the signal
/// that caused the order (its idempotency key); `ts_ms` is the bar at which the
/// event happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    /// A market order placed at a bar's close, to fill at the next open.
    Order {
        /// The signal that caused it (idempotency key: one order per signal, ever).
        signal_seq: u64,
        /// The deciding bar's open time.
        ts_ms: i64,
        /// Buy or sell.
        side: Side,
        /// Base quantity, positive.
        qty: Decimal,
        /// The position sign the order heads for (-1, 0, 1).
        target: i64,
        /// Why, when not simply the brain's target (risk flattening, cap, end of run).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// What closes the position, when not the strategy's signal: a
        /// protective exit (filled within the bar it triggers in), a risk
        /// flatten, a flatten on request, the end of the data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit: Option<ExitReason>,
        /// A limit order's price (a market order has none).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<Decimal>,
        /// A limit order's life: bars after the deciding one it may fill in.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ttl_bars: Option<u32>,
        /// The ATR of the deciding bar, for a stop-loss of `atr_multiple` ATRs
        /// from the entry's fill.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        atr: Option<Decimal>,
    },
    /// An order executed.
    Fill {
        /// The order's signal.
        signal_seq: u64,
        /// The bar whose open it filled at.
        ts_ms: i64,
        /// Buy or sell.
        side: Side,
        /// Executed base quantity (may be less than ordered: cash cap).
        qty: Decimal,
        /// Execution price, slippage included.
        price: Decimal,
        /// Fee paid, quote currency.
        fee: Decimal,
        /// Cash after the fill.
        cash_after: Decimal,
        /// Signed position after the fill.
        position_after: Decimal,
        /// Realized PnL (gross of fees) after the fill.
        realized_pnl_after: Decimal,
    },
    /// Live mode: part of a resting (limit) order executed on the
    /// exchange while the rest still works: booked as it happens; the
    /// order stays pending with the rest.
    PartialFill {
        /// The order's signal.
        signal_seq: u64,
        /// When it was booked (wall clock, ms).
        ts_ms: i64,
        /// Buy or sell.
        side: Side,
        /// Base quantity booked now (net of a commission in the base asset).
        qty: Decimal,
        /// Average price of what executed since the last booking.
        price: Decimal,
        /// Fee paid, quote currency.
        fee: Decimal,
        /// The exchange order's whole executed quantity so far (gross): the
        /// next booking starts after it.
        executed: Decimal,
        /// Cash after the fill.
        cash_after: Decimal,
        /// Signed position after the fill.
        position_after: Decimal,
        /// Realized PnL (gross of fees) after the fill.
        realized_pnl_after: Decimal,
    },
    /// A signal whose order the rules refused.
    Rejected {
        /// The signal.
        signal_seq: u64,
        /// The bar.
        ts_ms: i64,
        /// The brain's target that was refused.
        target: i64,
        /// Why.
        reason: String,
    },
    /// An order that ended without filling anything.
    Cancelled {
        /// The order's signal.
        signal_seq: u64,
        /// The bar at which it was cancelled.
        ts_ms: i64,
        /// Why.
        reason: String,
    },
    /// Risk state to restore after a restart: written when the peak equity or
    /// the UTC day changes.
    Mark {
        /// The bar's signal.
        signal_seq: u64,
        /// The bar.
        ts_ms: i64,
        /// Peak equity after this bar.
        peak_equity: Decimal,
        /// Equity at the start of this bar's UTC day.
        day_start_equity: Decimal,
    },
    /// A risk rule stopped new entries (and flattens the book).
    Halt {
        /// The bar's signal.
        signal_seq: u64,
        /// The bar.
        ts_ms: i64,
        /// Which rule.
        kind: HaltKind,
        /// Why, with the figures.
        reason: String,
        /// Equity at the bar's close.
        equity: Decimal,
    },
    /// A trailing stop's best price since the entry improved at this bar
    /// (written only with a trailing stop configured): what a restart needs
    /// to keep trailing from where it was.
    Trail {
        /// The bar's signal.
        signal_seq: u64,
        /// The bar.
        ts_ms: i64,
        /// The best price since the entry: the highest high of a long, the
        /// lowest low of a short.
        best: Decimal,
    },
    /// The strategy's target moved off the direction a protective exit
    /// closed, so an entry that way is allowed again (until then the exit
    /// stands: no re-entry on the target that was already held).
    Rearm {
        /// The bar's signal.
        signal_seq: u64,
        /// The bar.
        ts_ms: i64,
    },
    /// An operator cleared the kill switch (`clear_halt` at startup).
    Resume {
        /// When (wall clock at startup).
        ts_ms: i64,
    },
    /// Live mode: the ledger's own random id, written once, before its
    /// first live order. Client order ids are made of it, so that two
    /// ledgers (a new data directory, a second engine of the same name on
    /// the same account) never share one.
    LedgerId {
        /// The id: [`LEDGER_ID_LEN`] characters of `[0-9a-z]`.
        id: String,
        /// When it was written (wall clock).
        ts_ms: i64,
    },
    /// Live mode: exactly what is sent to the exchange for the pending order
    /// of `signal_seq`, appended (fsync'd) before the request: its client
    /// order id and its quantity after the symbol's filters rounded it.
    Sent {
        /// The order's signal.
        signal_seq: u64,
        /// The `newClientOrderId` the request carries.
        client_order_id: String,
        /// The quantity asked for, after the filters (at most the order's).
        qty: Decimal,
        /// When this entry was written, by the exchange's clock (ms): an
        /// order found under this id that the exchange made earlier is not
        /// this one.
        written_ms: i64,
    },
    /// Live mode: the protective exits about to be placed on the exchange
    /// for the open position, appended (fsync'd) before the request, so a
    /// restart looks them up by id and never places them twice.
    ExitSent {
        /// The signal whose entry opened the position they protect.
        signal_seq: u64,
        /// The id the exchange knows them by: the OCO's `listClientOrderId`,
        /// or the one order's `newClientOrderId`.
        client_order_id: String,
        /// The side of every leg (a sell protects a long).
        side: Side,
        /// The base quantity of every leg, after the symbol's filters.
        qty: Decimal,
        /// The orders: one, or an OCO's two.
        legs: Vec<ExitLeg>,
        /// When this entry was written, by the exchange's clock (ms).
        written_ms: i64,
    },
    /// Live mode: a held exit executed on the exchange, booked from its
    /// trades (commission included) once the exit order is final. It ends
    /// the exits held: the other leg of an OCO expires with it.
    ExitFill {
        /// The signal whose entry opened the position (as its `ExitSent`).
        signal_seq: u64,
        /// The client id of the leg that executed.
        client_order_id: String,
        /// Which exit executed.
        reason: ExitReason,
        /// When it was booked (exchange clock, ms).
        ts_ms: i64,
        /// Buy or sell.
        side: Side,
        /// Executed base quantity (net of a commission in the base asset).
        qty: Decimal,
        /// Average execution price.
        price: Decimal,
        /// Fee paid, quote currency.
        fee: Decimal,
        /// Cash after the fill.
        cash_after: Decimal,
        /// Signed position after the fill.
        position_after: Decimal,
        /// Realized PnL (gross of fees) after the fill.
        realized_pnl_after: Decimal,
    },
    /// Live mode: the exits held ended with nothing executed: cancelled
    /// before a strategy exit or a flatten, cancelled or expired by the
    /// exchange, or refused when placed.
    ExitEnded {
        /// The id of the exits (as their `ExitSent`).
        client_order_id: String,
        /// When (exchange clock, ms).
        ts_ms: i64,
        /// Why.
        reason: String,
    },
}

/// One order of an exchange-held exit ([`Entry::ExitSent`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitLeg {
    /// Its `newClientOrderId` (an OCO leg's `above`/`belowClientOrderId`).
    pub client_order_id: String,
    /// The exit it carries out.
    pub reason: ExitReason,
    /// Binance's order type (`STOP_LOSS_LIMIT`, `TAKE_PROFIT_LIMIT`,
    /// `LIMIT_MAKER`).
    pub order_type: String,
    /// The trigger (`stopPrice`), or a trailing stop's activation price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_price: Option<Decimal>,
    /// The limit price it works at (once triggered).
    pub price: Decimal,
    /// A trailing stop's `trailingDelta`, BIPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailing_delta: Option<u32>,
}

/// The length of a [`Entry::LedgerId`] id.
pub const LEDGER_ID_LEN: usize = 13;

#[derive(Serialize)]
struct VersionedRef<'a> {
    v: u32,
    #[serde(flatten)]
    entry: &'a Entry,
}

#[derive(Deserialize)]
struct Versioned {
    v: u32,
    #[serde(flatten)]
    entry: Entry,
}

impl Entry {
    /// The entry as one JSON line, without the newline.
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&VersionedRef {
            v: ENTRY_VERSION,
            entry: self,
        })
    }

    /// Parses one line; the error says what is wrong with it.
    pub fn from_line(line: &str) -> Result<Entry, String> {
        let parsed: Versioned = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if parsed.v != ENTRY_VERSION {
            return Err(format!(
                "unsupported entry version v={} (this build reads v={ENTRY_VERSION})",
                parsed.v
            ));
        }
        Ok(parsed.entry)
    }

    /// Whether losing this entry in a crash would lose a trading decision or
    /// a risk event (everything but `Mark` and `Trail`): such batches are
    /// fsync'd.
    pub fn needs_sync(&self) -> bool {
        !matches!(self, Entry::Mark { .. } | Entry::Trail { .. })
    }
}

/// The ledger's id: that of its last [`Entry::LedgerId`], if any.
pub fn ledger_id(entries: &[Entry]) -> Option<&str> {
    entries.iter().rev().find_map(|e| match e {
        Entry::LedgerId { id, .. } => Some(id.as_str()),
        _ => None,
    })
}

/// Whether `id` has the shape of a ledger id ([`LEDGER_ID_LEN`] characters
/// of `[0-9a-z]`).
pub fn is_ledger_id(id: &str) -> bool {
    id.len() == LEDGER_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
}

/// The ledger id of the random number `n`: base 36, zero-padded to
/// [`LEDGER_ID_LEN`] characters. The worker draws `n` from the operating
/// system (`aegis_worker::store::new_ledger_id`).
pub fn ledger_id_of(mut n: u64) -> String {
    let mut digits = [b'0'; LEDGER_ID_LEN];
    for d in digits.iter_mut().rev() {
        // 36^13 > 2^64, so thirteen digits hold any u64.
        *d = b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize];
        n /= 36;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}
