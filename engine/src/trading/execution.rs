//! The orchestrator's state machine: one brain [`Signal`] (one bar) in, the
//! ledger [`Entry`]s to append out. Pure: the caller appends (and fsyncs) the
//! entries before acting further, and a restarted orchestrator rebuilds the
//! same state from the ledger with [`Execution::rebuild`].
//!
//! Per bar `t`, in this order (the order of the entries it returns):
//! 1. **Fill** the market order placed at an earlier bar at `t`'s open, with
//!    slippage (a buy pays `open × (1 + slip)`, a sell gets `open × (1 − slip)`)
//!    and a fee of `fee_bps` of the notional. A buy that opens or adds to a long
//!    is cut so cash never goes negative; a fill of zero is `Cancelled`.
//! 2. **Mark** at `t`'s close: a new UTC day sets the day's starting equity
//!    (equity at `t`'s open, after the fill) and a new high sets the peak; either
//!    writes a `Mark` entry (the risk state a restart needs).
//! 3. **Risk**: max drawdown → `Halt` (kill switch); daily loss → `Halt`
//!    (daily). Both block entries and flatten the book in step 4.
//! 4. **Decide**: if the target sign differs from where the book is heading,
//!    size `target × floor_to_step(allocation × equity / (close × (1 + slip) ×
//!    (1 + fee)))`, clamp it to the notional cap, and emit an `Order` (or a
//!    `Rejected`). A blocked or empty order is rejected once per change of the
//!    brain's target, not every bar.
//!
//! **Live mode** ([`Execution::set_live`]): step 1 does not happen; the
//! exchange's answer to an order settles it through
//! [`Execution::apply_fill`] or [`Execution::cancel_pending`] (entries that
//! `rebuild` replays like any fill or cancellation), a short target counts
//! as flat (spot), and [`Execution::halt_for_ban`] stops every order until
//! a `Resume`.
//!
//! **Idempotency.** A signal's `seq` is the key of its order: at most one
//! `Order`/`Rejected` per seq, ever. A signal at or below the last handled seq
//! is ignored, except that after a rebuild the last seq found in the ledger
//! is re-run once: every step is idempotent against the state the ledger
//! restored (the order step checks the key), so a batch cut short by a crash
//! is completed with exactly the missing entries.

use rust_decimal::Decimal;
use thiserror::Error;

use super::money::{add, bps_to_fraction, div, floor_to_step, mul, price_from_f64, sub, Overflow};
use super::portfolio::{Fill, Portfolio, Side};
use super::risk::{utc_day, DailyStop, Halt, LimitError, RiskLimits, RiskState};
use crate::ledger::{Entry, HaltKind};
use aegis_contract::records::Signal;

/// The orchestrator's trading configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionParams {
    /// Starting cash, quote currency (> 0).
    pub cash: Decimal,
    /// Fee per fill, basis points of the notional (0 ≤ fee < 10 000).
    pub fee_bps: Decimal,
    /// Slippage against the open, basis points (0 ≤ slippage < 10 000).
    pub slippage_bps: Decimal,
    /// Order quantities are multiples of this (> 0); default 0.00001. A
    /// position smaller than it counts as flat (live: the dust a commission
    /// paid in the base asset leaves).
    pub qty_step: Decimal,
    /// Fraction of equity per position, in (0, 1]; default 1.
    pub allocation: Decimal,
    /// Risk limits.
    pub limits: RiskLimits,
}

impl ExecutionParams {
    /// `cash` with no fees or slippage, step 0.00001, allocation 1, no limits.
    pub fn new(cash: Decimal) -> Self {
        ExecutionParams {
            cash,
            fee_bps: Decimal::ZERO,
            slippage_bps: Decimal::ZERO,
            qty_step: Decimal::new(1, 5),
            allocation: Decimal::ONE,
            limits: RiskLimits::default(),
        }
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<(), ParamsError> {
        for (field, value) in [("cash", self.cash), ("qty_step", self.qty_step)] {
            if value <= Decimal::ZERO {
                return Err(ParamsError::OutOfRange {
                    field,
                    value,
                    range: "> 0",
                });
            }
        }
        let bps_max = Decimal::from(10_000);
        for (field, value) in [
            ("fee_bps", self.fee_bps),
            ("slippage_bps", self.slippage_bps),
        ] {
            if value < Decimal::ZERO || value >= bps_max {
                return Err(ParamsError::OutOfRange {
                    field,
                    value,
                    range: "[0, 10000)",
                });
            }
        }
        if self.allocation <= Decimal::ZERO || self.allocation > Decimal::ONE {
            return Err(ParamsError::OutOfRange {
                field: "allocation",
                value: self.allocation,
                range: "(0, 1]",
            });
        }
        self.limits.validate()?;
        Ok(())
    }
}

/// A bad [`ExecutionParams`] field.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ParamsError {
    /// A field outside its range.
    #[error("execution parameter {field} must be in {range}, got {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value given.
        value: Decimal,
        /// The allowed range.
        range: &'static str,
    },
    /// A bad risk limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
}

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

/// A market order waiting for the next bar's open.
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
    fn signed_qty(&self) -> Decimal {
        self.side.sign() * self.qty
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

/// The orchestrator's trading state; see the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    params: ExecutionParams,
    portfolio: Portfolio,
    pending: Option<Pending>,
    risk: RiskState,
    last_signal_seq: Option<u64>,
    last_decision_seq: Option<u64>,
    last_decided_target: Option<i64>,
    last_mark: Option<Decimal>,
    recheck_last: bool,
    /// Live mode: orders are settled by the exchange (`apply_fill` /
    /// `cancel_pending`), never filled at the next open.
    live: bool,
    /// An exchange ban halts every order, flattening ones included.
    banned: bool,
}

/// A price from the ring, if finite, positive and representable.
fn valid_price(p: f64) -> Option<Decimal> {
    price_from_f64(p).filter(|d| *d > Decimal::ZERO)
}

/// The sign of `x` as -1, 0 or 1.
fn sign_of(x: Decimal) -> i64 {
    if x.is_zero() {
        0
    } else if x.is_sign_positive() {
        1
    } else {
        -1
    }
}

impl Execution {
    /// A fresh, flat book.
    pub fn new(params: ExecutionParams) -> Result<Execution, ParamsError> {
        params.validate()?;
        Ok(Execution {
            portfolio: Portfolio::new(params.cash),
            params,
            pending: None,
            risk: RiskState::default(),
            last_signal_seq: None,
            last_decision_seq: None,
            last_decided_target: None,
            last_mark: None,
            recheck_last: false,
            live: false,
            banned: false,
        })
    }

    /// Replays a ledger: portfolio (each fill re-applied and checked against
    /// the recorded `*_after` figures), pending order, last handled signal,
    /// peak and day, halts. The last signal seen in the ledger will be re-run
    /// once by [`Execution::on_signal`] to complete a batch a crash cut short.
    pub fn rebuild(params: ExecutionParams, entries: &[Entry]) -> Result<Execution, RebuildError> {
        let mut exec = Execution::new(params)?;
        // Whether the last bar-stamped entry may be the end of a batch a
        // crash cut short. A fill or cancellation belongs to the bar *after*
        // its order's signal, so once one follows, that signal's bar is done.
        let mut last_bar_may_be_partial = false;
        for (i, entry) in entries.iter().enumerate() {
            exec.replay(entry)
                .map_err(|reason| RebuildError::Inconsistent {
                    index: i + 1,
                    reason,
                })?;
            match entry {
                Entry::Fill { .. } | Entry::Cancelled { .. } => last_bar_may_be_partial = false,
                Entry::Resume { .. } | Entry::LedgerId { .. } | Entry::Sent { .. } => {}
                _ => last_bar_may_be_partial = true,
            }
        }
        exec.recheck_last = last_bar_may_be_partial;
        Ok(exec)
    }

    fn see_seq(&mut self, seq: u64) {
        self.last_signal_seq = Some(self.last_signal_seq.map_or(seq, |l| l.max(seq)));
    }

    fn replay(&mut self, entry: &Entry) -> Result<(), String> {
        match entry {
            Entry::Order {
                signal_seq,
                ts_ms,
                side,
                qty,
                target,
                ..
            } => {
                self.check_new_decision(*signal_seq)?;
                if let Some(p) = &self.pending {
                    return Err(format!(
                        "order for signal {signal_seq} while the order of signal {} is pending",
                        p.signal_seq
                    ));
                }
                if *qty <= Decimal::ZERO {
                    return Err(format!("order for signal {signal_seq} has qty {qty}"));
                }
                self.pending = Some(Pending {
                    signal_seq: *signal_seq,
                    ts_ms: *ts_ms,
                    side: *side,
                    qty: *qty,
                    target: *target,
                    sent: None,
                });
                self.last_decision_seq = Some(*signal_seq);
                self.last_decided_target = Some(*target);
                self.see_seq(*signal_seq);
            }
            Entry::Rejected {
                signal_seq, target, ..
            } => {
                self.check_new_decision(*signal_seq)?;
                self.last_decision_seq = Some(*signal_seq);
                self.last_decided_target = Some(*target);
                self.see_seq(*signal_seq);
            }
            Entry::Fill {
                signal_seq,
                side,
                qty,
                price,
                fee,
                cash_after,
                position_after,
                realized_pnl_after,
                ..
            } => {
                let order = self.take_pending(*signal_seq, "fill")?;
                if order.side != *side || *qty <= Decimal::ZERO || *qty > order.qty {
                    return Err(format!(
                        "fill of signal {signal_seq} ({side:?} {qty}) does not fit its order \
                         ({:?} {})",
                        order.side, order.qty
                    ));
                }
                let fill = Fill {
                    side: *side,
                    qty: *qty,
                    price: *price,
                    fee: *fee,
                };
                self.portfolio.apply(&fill).map_err(|e| e.to_string())?;
                let p = &self.portfolio;
                for (field, recorded, replayed) in [
                    ("cash_after", cash_after, p.cash),
                    ("position_after", position_after, p.position),
                    ("realized_pnl_after", realized_pnl_after, p.realized_pnl),
                ] {
                    if *recorded != replayed {
                        return Err(format!(
                            "fill of signal {signal_seq}: {field} is {recorded} in the ledger but \
                             {replayed} on replay (was the ledger written with another starting cash?)"
                        ));
                    }
                }
            }
            Entry::Cancelled { signal_seq, .. } => {
                self.take_pending(*signal_seq, "cancellation")?;
            }
            Entry::Mark {
                signal_seq,
                ts_ms,
                peak_equity,
                day_start_equity,
            } => {
                let day = utc_day(*ts_ms);
                self.risk.peak_equity = Some(*peak_equity);
                self.risk.day = Some(day);
                self.risk.day_start_equity = Some(*day_start_equity);
                if self.risk.daily_stop.as_ref().is_some_and(|s| s.day != day) {
                    self.risk.daily_stop = None;
                }
                self.see_seq(*signal_seq);
            }
            Entry::Halt {
                signal_seq,
                ts_ms,
                kind,
                reason,
                ..
            } => {
                match kind {
                    HaltKind::KillSwitch => {
                        self.risk.halted = Some(Halt {
                            reason: reason.clone(),
                            ts_ms: *ts_ms,
                        })
                    }
                    HaltKind::DailyLoss => {
                        self.risk.daily_stop = Some(DailyStop {
                            day: utc_day(*ts_ms),
                            reason: reason.clone(),
                            ts_ms: *ts_ms,
                        })
                    }
                    HaltKind::ExchangeBan | HaltKind::OrderMismatch => {
                        self.risk.halted = Some(Halt {
                            reason: reason.clone(),
                            ts_ms: *ts_ms,
                        });
                        self.banned = true;
                    }
                }
                self.see_seq(*signal_seq);
            }
            Entry::Resume { .. } => self.clear_kill_switch(),
            Entry::LedgerId { .. } => {}
            Entry::Sent {
                signal_seq,
                client_order_id,
                qty,
                written_ms,
            } => {
                self.mark_sent(*signal_seq, client_order_id, *qty, *written_ms)
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }

    fn check_new_decision(&self, seq: u64) -> Result<(), String> {
        if let Some(last) = self.last_decision_seq.filter(|&last| seq <= last) {
            return Err(format!(
                "a second decision for signal {seq} (the last decided signal is {last}): \
                 an idempotency key was reused"
            ));
        }
        if let Some(bar) = self.last_signal_seq.filter(|&bar| seq < bar) {
            return Err(format!(
                "a decision for signal {seq} after an entry of the later signal {bar}"
            ));
        }
        Ok(())
    }

    fn take_pending(&mut self, seq: u64, what: &str) -> Result<Pending, String> {
        match self.pending.take() {
            Some(p) if p.signal_seq == seq => Ok(p),
            Some(p) => Err(format!(
                "{what} for signal {seq} but the pending order is signal {}",
                p.signal_seq
            )),
            None => Err(format!("{what} for signal {seq} without a pending order")),
        }
    }

    fn clear_kill_switch(&mut self) {
        self.risk.halted = None;
        self.banned = false;
        // Measure drawdown afresh from the next mark, or it would re-trip at once.
        self.risk.peak_equity = None;
    }

    /// Clears the kill switch (configuration `clear_halt` at startup): returns
    /// the `Resume` entry to append, or nothing when not halted. The peak
    /// equity restarts at the next mark.
    pub fn resume(&mut self, ts_ms: i64) -> Vec<Entry> {
        if self.risk.halted.is_none() {
            return Vec::new();
        }
        self.clear_kill_switch();
        vec![Entry::Resume { ts_ms }]
    }

    /// Switches to live execution: a pending order waits for
    /// [`Execution::apply_fill`] or [`Execution::cancel_pending`] instead of
    /// filling at the next open, a short target counts as flat (spot), and
    /// `finish`/`flatten` leave their closing order pending. The ledger does
    /// not record the mode: call this after [`Execution::rebuild`] too.
    pub fn set_live(&mut self) {
        self.live = true;
    }

    /// Whether orders are settled by the exchange.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Whether an exchange ban blocks every order.
    pub fn banned(&self) -> bool {
        self.banned
    }

    /// Records what the exchange executed of the pending order of
    /// `signal_seq`: `qty` base at average `price`, paying `fee` quote.
    /// Returns the `Fill` entry to append (the book has moved already).
    /// Nothing changes on an error.
    pub fn apply_fill(
        &mut self,
        signal_seq: u64,
        ts_ms: i64,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
    ) -> Result<Entry, SettleError> {
        let order = match &self.pending {
            Some(p) if p.signal_seq == signal_seq => p.clone(),
            other => {
                return Err(SettleError::NotPending {
                    signal_seq,
                    pending: other.as_ref().map(|p| p.signal_seq),
                })
            }
        };
        if qty <= Decimal::ZERO || qty > order.qty {
            return Err(SettleError::BadQuantity {
                signal_seq,
                executed: qty,
                ordered: order.qty,
            });
        }
        if price <= Decimal::ZERO || fee < Decimal::ZERO {
            return Err(SettleError::Unbookable {
                signal_seq,
                reason: format!("price {price} must be positive and fee {fee} not negative"),
            });
        }
        let fill = Fill {
            side: order.side,
            qty,
            price,
            fee,
        };
        self.portfolio
            .apply(&fill)
            .map_err(|e| SettleError::Unbookable {
                signal_seq,
                reason: e.to_string(),
            })?;
        self.pending = None;
        Ok(Entry::Fill {
            signal_seq,
            ts_ms,
            side: fill.side,
            qty,
            price,
            fee,
            cash_after: self.portfolio.cash,
            position_after: self.portfolio.position,
            realized_pnl_after: self.portfolio.realized_pnl,
        })
    }

    /// Ends the pending order of `signal_seq` with nothing executed: the
    /// `Cancelled` entry to append, or `None` when no such order is pending.
    pub fn cancel_pending(&mut self, signal_seq: u64, ts_ms: i64, reason: String) -> Option<Entry> {
        if self.pending.as_ref()?.signal_seq != signal_seq {
            return None;
        }
        self.pending = None;
        Some(Entry::Cancelled {
            signal_seq,
            ts_ms,
            reason,
        })
    }

    /// Halts all trading after an exchange ban (HTTP 418): persistent, and
    /// no order at all is decided until a [`Execution::resume`]. Returns the
    /// `Halt` entry, or nothing when already banned.
    pub fn halt_for_ban(&mut self, reason: &str, ts_ms: i64) -> Vec<Entry> {
        self.freeze(HaltKind::ExchangeBan, reason, ts_ms)
    }

    /// Halts all trading because the exchange holds an order under the
    /// pending order's id that is not the one sent (see
    /// [`HaltKind::OrderMismatch`]); otherwise as [`Execution::halt_for_ban`].
    pub fn halt_for_mismatch(&mut self, reason: &str, ts_ms: i64) -> Vec<Entry> {
        self.freeze(HaltKind::OrderMismatch, reason, ts_ms)
    }

    fn freeze(&mut self, kind: HaltKind, reason: &str, ts_ms: i64) -> Vec<Entry> {
        if self.banned {
            return Vec::new();
        }
        self.banned = true;
        self.risk.halted = Some(Halt {
            reason: reason.to_string(),
            ts_ms,
        });
        let equity = self.marked_equity().unwrap_or(self.portfolio.cash);
        vec![Entry::Halt {
            signal_seq: self.last_signal_seq.unwrap_or(0),
            ts_ms,
            kind,
            reason: reason.to_string(),
            equity,
        }]
    }

    /// Records what is about to be sent to the exchange for the pending
    /// order of `signal_seq`: its client order id and its quantity after
    /// the symbol's filters (`0 < qty ≤` the order's). Returns the `Sent`
    /// entry to append *before* the request; fills are then checked
    /// against this quantity. Nothing changes on an error.
    pub fn record_sent(
        &mut self,
        signal_seq: u64,
        client_order_id: &str,
        qty: Decimal,
        written_ms: i64,
    ) -> Result<Entry, SettleError> {
        self.mark_sent(signal_seq, client_order_id, qty, written_ms)?;
        Ok(Entry::Sent {
            signal_seq,
            client_order_id: client_order_id.to_string(),
            qty,
            written_ms,
        })
    }

    fn mark_sent(
        &mut self,
        signal_seq: u64,
        client_order_id: &str,
        qty: Decimal,
        written_ms: i64,
    ) -> Result<(), SettleError> {
        let pending = match self.pending.as_mut() {
            Some(p) if p.signal_seq == signal_seq && p.sent.is_none() => p,
            other => {
                return Err(SettleError::NotPending {
                    signal_seq,
                    pending: other.as_ref().map(|p| p.signal_seq),
                })
            }
        };
        if qty <= Decimal::ZERO || qty > pending.qty {
            return Err(SettleError::BadQuantity {
                signal_seq,
                executed: qty,
                ordered: pending.qty,
            });
        }
        pending.qty = qty;
        pending.sent = Some(SentOrder {
            client_order_id: client_order_id.to_string(),
            qty,
            written_ms,
        });
        Ok(())
    }

    /// Handles one bar; returns the entries to append before acting further.
    ///
    /// The state has already moved on when this returns: if appending the
    /// entries fails, drop this `Execution` and rebuild from the ledger
    /// (then re-read the signal) rather than carry on ahead of the file.
    pub fn on_signal(&mut self, s: &Signal) -> Vec<Entry> {
        let mut out = Vec::new();
        if let Some(last) = self.last_signal_seq {
            if s.seq < last || (s.seq == last && !self.recheck_last) {
                return out;
            }
        }
        self.recheck_last = false;
        self.see_seq(s.seq);

        // 1. Fill the order placed at an earlier bar (paper only: a live
        // order is settled by the exchange through `apply_fill`).
        if let Some(p) = self.pending.clone().filter(|_| !self.live) {
            if p.signal_seq < s.seq {
                self.pending = None;
                match valid_price(s.open) {
                    Some(open) => self.execute(&p, open, s.ts_ms, &mut out),
                    None => out.push(Entry::Cancelled {
                        signal_seq: p.signal_seq,
                        ts_ms: s.ts_ms,
                        reason: format!("invalid open price {} at signal {}", s.open, s.seq),
                    }),
                }
            }
        }

        // Without a usable close there is nothing to mark or decide on.
        let Some(close) = valid_price(s.close) else {
            return out;
        };
        self.last_mark = Some(close);
        let Ok(equity) = self.portfolio.equity(close) else {
            return out;
        };

        // 2. Mark: the day's start, the peak.
        let day = utc_day(s.ts_ms);
        let mut marked = false;
        if self.risk.day != Some(day) {
            let open = valid_price(s.open).unwrap_or(close);
            let start = self.portfolio.equity(open).unwrap_or(equity);
            self.risk.day = Some(day);
            self.risk.day_start_equity = Some(start);
            if self.risk.daily_stop.as_ref().is_some_and(|d| d.day != day) {
                self.risk.daily_stop = None;
            }
            marked = true;
        }
        if self.risk.peak_equity.is_none_or(|peak| equity > peak) {
            self.risk.peak_equity = Some(equity);
            marked = true;
        }
        if marked {
            out.push(Entry::Mark {
                signal_seq: s.seq,
                ts_ms: s.ts_ms,
                peak_equity: self.risk.peak_equity.unwrap_or(equity),
                day_start_equity: self.risk.day_start_equity.unwrap_or(equity),
            });
        }

        // 3. Risk.
        self.check_risk(s, equity, &mut out);

        // 4. Decide.
        self.decide(s, close, equity, &mut out);
        out
    }

    fn check_risk(&mut self, s: &Signal, equity: Decimal, out: &mut Vec<Entry>) {
        let limits = &self.params.limits;
        if self.risk.halted.is_none() && self.risk.drawdown_reached(limits, equity) {
            let reason = format!(
                "max drawdown reached: equity {equity} is {} below peak {} (limit {})",
                self.risk.drawdown(equity),
                self.risk.peak_equity.unwrap_or_default(),
                limits.max_drawdown.unwrap_or_default()
            );
            self.risk.halted = Some(Halt {
                reason: reason.clone(),
                ts_ms: s.ts_ms,
            });
            out.push(Entry::Halt {
                signal_seq: s.seq,
                ts_ms: s.ts_ms,
                kind: HaltKind::KillSwitch,
                reason,
                equity,
            });
            return;
        }
        if !self.risk.blocks_entries() && self.risk.daily_loss_reached(limits, equity) {
            let reason = format!(
                "daily loss limit reached: equity {equity} vs day start {} (limit {})",
                self.risk.day_start_equity.unwrap_or_default(),
                limits.daily_loss_limit.unwrap_or_default()
            );
            self.risk.daily_stop = Some(DailyStop {
                day: utc_day(s.ts_ms),
                reason: reason.clone(),
                ts_ms: s.ts_ms,
            });
            out.push(Entry::Halt {
                signal_seq: s.seq,
                ts_ms: s.ts_ms,
                kind: HaltKind::DailyLoss,
                reason,
                equity,
            });
        }
    }

    fn block_reason(&self) -> Option<String> {
        if let Some(h) = &self.risk.halted {
            return Some(format!("kill switch: {}", h.reason));
        }
        self.risk
            .daily_stop
            .as_ref()
            .map(|d| format!("daily stop: {}", d.reason))
    }

    fn reject(&mut self, s: &Signal, reason: String, out: &mut Vec<Entry>) {
        // Once per change of the brain's target, not every bar.
        if self.last_decided_target == Some(s.target) {
            return;
        }
        self.last_decision_seq = Some(s.seq);
        self.last_decided_target = Some(s.target);
        out.push(Entry::Rejected {
            signal_seq: s.seq,
            ts_ms: s.ts_ms,
            target: s.target,
            reason,
        });
    }

    fn decide(&mut self, s: &Signal, close: Decimal, equity: Decimal, out: &mut Vec<Entry>) {
        if self.last_decision_seq.is_some_and(|d| d >= s.seq) {
            return; // this signal's one decision is already made
        }
        if self.banned {
            return; // no order of any kind while the exchange bans us
        }
        if !(-1..=1).contains(&s.target) {
            let reason = format!("target {} is not -1, 0 or 1", s.target);
            self.reject(s, reason, out);
            return;
        }
        let blocked = self.block_reason();
        // Spot cannot short: live, a short target means flat.
        let wanted = if self.live { s.target.max(0) } else { s.target };
        let target = if blocked.is_some() { 0 } else { wanted };
        let heading = self.portfolio.position
            + self
                .pending
                .as_ref()
                .map_or(Decimal::ZERO, Pending::signed_qty);
        let heading_sign = if self.is_dust(heading) {
            0
        } else {
            sign_of(heading)
        };
        if heading_sign == target {
            if let (Some(reason), true) = (blocked, wanted != 0) {
                self.reject(s, reason, out);
            }
            return;
        }
        let (desired, capped) = match self.desired_position(target, close, equity) {
            Ok(v) => v,
            Err(e) => {
                self.reject(s, e.to_string(), out);
                return;
            }
        };
        let delta = desired - heading;
        if delta.is_zero() {
            let reason = if capped {
                "max_position_notional leaves nothing to trade".to_string()
            } else {
                format!("order size rounds to zero at equity {equity} and close {close}")
            };
            self.reject(s, reason, out);
            return;
        }
        let reason = match (blocked, capped) {
            (Some(b), _) => Some(format!("flatten: {b}")),
            (None, true) => Some(format!(
                "reduced to max_position_notional {}",
                self.params.limits.max_position_notional.unwrap_or_default()
            )),
            (None, false) => None,
        };
        let side = if delta > Decimal::ZERO {
            Side::Buy
        } else {
            Side::Sell
        };
        let order = Pending {
            signal_seq: s.seq,
            ts_ms: s.ts_ms,
            side,
            qty: delta.abs(),
            target,
            sent: None,
        };
        out.push(Entry::Order {
            signal_seq: s.seq,
            ts_ms: s.ts_ms,
            side,
            qty: order.qty,
            target,
            reason,
        });
        self.pending = Some(order);
        self.last_decision_seq = Some(s.seq);
        self.last_decided_target = Some(target);
    }

    /// Whether `qty` is less than one `qty_step`: a remainder no order can
    /// trade (a commission paid in the base asset leaves one on the
    /// exchange), which the book counts as flat.
    fn is_dust(&self, qty: Decimal) -> bool {
        qty.abs() < self.params.qty_step
    }

    /// The signed position for `target` at `close`, and whether the notional
    /// cap reduced it.
    fn desired_position(
        &self,
        target: i64,
        close: Decimal,
        equity: Decimal,
    ) -> Result<(Decimal, bool), Overflow> {
        if target == 0 || equity <= Decimal::ZERO {
            return Ok((Decimal::ZERO, false));
        }
        let p = &self.params;
        let slip = bps_to_fraction(p.slippage_bps);
        let fee = bps_to_fraction(p.fee_bps);
        let unit_cost = mul(
            mul(close, Decimal::ONE + slip, "sizing price")?,
            Decimal::ONE + fee,
            "sizing price",
        )?;
        let budget = mul(p.allocation, equity, "sizing budget")?;
        let mut qty = floor_to_step(div(budget, unit_cost, "position size")?, p.qty_step);
        let mut capped = false;
        if let Some(cap) = p.limits.max_position_notional {
            let cap_qty = floor_to_step(div(cap, close, "notional cap")?, p.qty_step);
            if qty > cap_qty {
                qty = cap_qty;
                capped = true;
            }
        }
        Ok((Decimal::from(target) * qty, capped))
    }

    /// Fills `order` against `reference` (an open, or the last close) with
    /// slippage and fee, cutting a buy to the cash available.
    fn execute(&mut self, order: &Pending, reference: Decimal, ts_ms: i64, out: &mut Vec<Entry>) {
        let cancelled = |reason: String| Entry::Cancelled {
            signal_seq: order.signal_seq,
            ts_ms,
            reason,
        };
        match self.price_fill(order, reference) {
            Err(e) => out.push(cancelled(e.to_string())),
            Ok(None) => out.push(cancelled(format!(
                "not enough cash ({}) to buy any quantity at {reference}",
                self.portfolio.cash
            ))),
            Ok(Some(fill)) => match self.portfolio.apply(&fill) {
                Err(e) => out.push(cancelled(e.to_string())),
                Ok(()) => out.push(Entry::Fill {
                    signal_seq: order.signal_seq,
                    ts_ms,
                    side: fill.side,
                    qty: fill.qty,
                    price: fill.price,
                    fee: fill.fee,
                    cash_after: self.portfolio.cash,
                    position_after: self.portfolio.position,
                    realized_pnl_after: self.portfolio.realized_pnl,
                }),
            },
        }
    }

    fn price_fill(&self, order: &Pending, reference: Decimal) -> Result<Option<Fill>, Overflow> {
        let p = &self.params;
        let slip = bps_to_fraction(p.slippage_bps);
        let fee_rate = bps_to_fraction(p.fee_bps);
        let price = match order.side {
            Side::Buy => mul(reference, Decimal::ONE + slip, "fill price")?,
            Side::Sell => mul(reference, Decimal::ONE - slip, "fill price")?,
        };
        let fee_of = |qty: Decimal| mul(mul(qty, price, "fill notional")?, fee_rate, "fee");
        let mut qty = order.qty;
        if order.side == Side::Buy {
            // Covering a short is always allowed; what opens a long needs cash.
            let short = (-self.portfolio.position).max(Decimal::ZERO);
            let cover = qty.min(short);
            let cover_cost = add(
                mul(cover, price, "cover cost")?,
                fee_of(cover)?,
                "cover cost",
            )?;
            let cash_left = sub(self.portfolio.cash, cover_cost, "cash")?.max(Decimal::ZERO);
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

    /// Ends a run (backtest): handles `last` if it is new, cancels an order
    /// still waiting for an open that will never come, and closes an open
    /// position at `last`'s close with slippage and fee. The closing order's
    /// key is one past the last handled signal (no signal of this run uses
    /// it). Idempotent: a second call (or one after a rebuild from a ledger a
    /// crash cut inside the close-out) completes the close-out and nothing
    /// more. With an unusable close nothing is closed. Returns the entries to
    /// append.
    pub fn finish(&mut self, last: &Signal) -> Vec<Entry> {
        let mut out = self.on_signal(last);
        let Some(close) = valid_price(last.close) else {
            return out;
        };
        if self.live && self.pending.is_some() {
            return out; // the exchange settles it; the caller finishes after
        }
        if let Some(p) = self.pending.take() {
            if p.signal_seq > last.seq {
                // The close-out order of a `finish` cut short by a crash.
                self.execute(&p, close, last.ts_ms, &mut out);
                return out;
            }
            out.push(Entry::Cancelled {
                signal_seq: p.signal_seq,
                ts_ms: last.ts_ms,
                reason: "run ended before the next open".to_string(),
            });
        }
        let position = self.portfolio.position;
        if self.is_dust(position) {
            return out;
        }
        let key = self
            .last_signal_seq
            .map_or(last.seq, |l| l.max(last.seq))
            .saturating_add(1);
        let side = if position > Decimal::ZERO {
            Side::Sell
        } else {
            Side::Buy
        };
        let order = Pending {
            signal_seq: key,
            ts_ms: last.ts_ms,
            side,
            qty: position.abs(),
            target: 0,
            sent: None,
        };
        out.push(Entry::Order {
            signal_seq: key,
            ts_ms: last.ts_ms,
            side,
            qty: order.qty,
            target: 0,
            reason: Some("end of run: close at the last close".to_string()),
        });
        self.last_decision_seq = Some(key);
        self.last_decided_target = Some(0);
        self.see_seq(key);
        if self.live {
            self.pending = Some(order);
        } else {
            self.execute(&order, close, last.ts_ms, &mut out);
        }
        out
    }

    /// Flattens the book now, on request (the operator's `POST /flatten`
    /// before an engine is deleted): cancels an order waiting for the next
    /// open, closes an open position at the last close seen with slippage and
    /// fee (like any fill), and trips the kill switch with `reason` — a
    /// persistent halt, so a restarted orchestrator stays flat until
    /// `clear_halt`. A kill switch tripped already keeps its reason.
    ///
    /// The closing order's key is one past the last handled signal, as for
    /// [`Execution::finish`]; the signal that would have carried that number
    /// is then ignored, which changes nothing once trading is halted.
    /// `ts_ms` stamps the entries (the caller's wall clock).
    ///
    /// Idempotent: when the book is flat, nothing is pending and the kill
    /// switch is tripped, returns no entries. Returns the entries to append,
    /// or why nothing can be done (then nothing has changed).
    pub fn flatten(&mut self, reason: &str, ts_ms: i64) -> Result<Vec<Entry>, FlattenError> {
        let position = self.portfolio.position;
        if !self.is_dust(position) && self.last_mark.is_none() {
            return Err(FlattenError::NoPrice { position });
        }
        if self.banned {
            return Err(FlattenError::Banned {
                reason: self.halted().map(|h| h.reason.clone()).unwrap_or_default(),
            });
        }
        if let (true, Some(p)) = (self.live, &self.pending) {
            return Err(FlattenError::Unsettled {
                signal_seq: p.signal_seq,
            });
        }
        let mut out = Vec::new();
        if let Some(p) = self.pending.take() {
            out.push(Entry::Cancelled {
                signal_seq: p.signal_seq,
                ts_ms,
                reason: format!("{reason}: cancelled before its fill"),
            });
        }
        if let (false, Some(close)) = (self.is_dust(position), self.last_mark) {
            let key = self.last_signal_seq.map_or(0, |l| l.saturating_add(1));
            let side = if position > Decimal::ZERO {
                Side::Sell
            } else {
                Side::Buy
            };
            let order = Pending {
                signal_seq: key,
                ts_ms,
                side,
                qty: position.abs(),
                target: 0,
                sent: None,
            };
            out.push(Entry::Order {
                signal_seq: key,
                ts_ms,
                side,
                qty: order.qty,
                target: 0,
                reason: Some(format!("{reason}: close at the last close {close}")),
            });
            self.last_decision_seq = Some(key);
            self.last_decided_target = Some(0);
            self.see_seq(key);
            if self.live {
                self.pending = Some(order);
            } else {
                self.execute(&order, close, ts_ms, &mut out);
            }
        }
        if self.risk.halted.is_none() {
            let equity = self
                .last_mark
                .and_then(|m| self.portfolio.equity(m).ok())
                .unwrap_or(self.portfolio.cash);
            self.risk.halted = Some(Halt {
                reason: reason.to_string(),
                ts_ms,
            });
            out.push(Entry::Halt {
                signal_seq: self.last_signal_seq.unwrap_or(0),
                ts_ms,
                kind: HaltKind::KillSwitch,
                reason: reason.to_string(),
                equity,
            });
        }
        Ok(out)
    }

    /// The book.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// The parameters.
    pub fn params(&self) -> &ExecutionParams {
        &self.params
    }

    /// Live: adopts the exchange's quantity step when it is coarser than
    /// `qty_step`, so orders are sized in what the exchange can trade and a
    /// remainder below that step counts as flat. True when it changed.
    pub fn use_exchange_step(&mut self, step: Decimal) -> bool {
        let coarser = step > self.params.qty_step;
        if coarser {
            self.params.qty_step = step;
        }
        coarser
    }

    /// The risk state (peak, day, halts).
    pub fn risk(&self) -> &RiskState {
        &self.risk
    }

    /// Equity with the position marked at `mark`.
    pub fn equity(&self, mark: Decimal) -> Result<Decimal, Overflow> {
        self.portfolio.equity(mark)
    }

    /// Equity marked at the last close seen (`None` before the first valid
    /// close): the cheap figure a per-bar equity curve needs.
    pub fn marked_equity(&self) -> Option<Decimal> {
        self.last_mark.and_then(|m| self.portfolio.equity(m).ok())
    }

    /// Drawdown from peak equity at the last close seen, as a fraction.
    pub fn drawdown(&self) -> Decimal {
        match self.last_mark.map(|m| self.portfolio.equity(m)) {
            Some(Ok(equity)) => self.risk.drawdown(equity),
            _ => Decimal::ZERO,
        }
    }

    /// The kill switch, if tripped.
    pub fn halted(&self) -> Option<&Halt> {
        self.risk.halted.as_ref()
    }

    /// The daily stop, if tripped today.
    pub fn daily_stop(&self) -> Option<&DailyStop> {
        self.risk.daily_stop.as_ref()
    }

    /// The last signal handled (after a rebuild: the last one in the ledger).
    pub fn last_signal_seq(&self) -> Option<u64> {
        self.last_signal_seq
    }

    /// The order waiting for the next open.
    pub fn pending(&self) -> Option<&Pending> {
        self.pending.as_ref()
    }

    /// The figures for `/status`, marked at the last close seen.
    pub fn snapshot(&self) -> Snapshot {
        let p = &self.portfolio;
        let mark = self.last_mark.unwrap_or(p.avg_entry);
        Snapshot {
            cash: p.cash,
            position: p.position,
            avg_entry: p.avg_entry,
            mark,
            equity: p.equity(mark).unwrap_or(p.cash),
            realized_pnl: p.realized_pnl,
            unrealized_pnl: p.unrealized(mark).unwrap_or_default(),
            fees_paid: p.fees_paid,
            drawdown: self.drawdown(),
            halted: self.risk.blocks_entries(),
            halt_reason: self.block_reason(),
            last_signal_seq: self.last_signal_seq,
            pending_order: self.pending.is_some(),
        }
    }
}
