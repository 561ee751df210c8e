//! The orchestrator's state machine: one brain [`Signal`] (one bar) in, the
//! ledger [`Entry`]s to append out. Pure: the caller appends (and fsyncs) the
//! entries before acting further, and a restarted orchestrator rebuilds the
//! same state from the ledger with [`Execution::rebuild`].
//!
//! Per bar `t`, in this order (the order of the entries it returns):
//! 1. **Fill** the market order placed at an earlier bar: the [`Venue`]
//!    carries it out at `t`'s open. Paper ([`PAPER`]) fills it with slippage
//!    (a buy pays `open × (1 + slip)`, a sell gets `open × (1 − slip)`) and a
//!    fee of `fee_bps` of the notional; a buy that opens or adds to a long is
//!    cut so cash never goes negative; a fill of zero is `Cancelled`.
//!    A limit entry resting from an earlier bar fills instead when `t`
//!    trades through its price, at that price (or the open when `t` gapped
//!    through), without slippage; it is cancelled after its last bar.
//! 2. **Exits** ([`exits`](super::exits)): a stop-loss, take-profit or
//!    trailing stop that `t`'s range reaches closes the position within `t`
//!    (an `Order` with its `exit` reason under `t`'s key, and its `Fill`);
//!    the strategy's decision then waits for the next bar, and its direction
//!    stands down until the target changes (a `Rearm` entry). A trailing
//!    stop's best price moves with `t` (a `Trail` entry).
//! 3. **Mark** at `t`'s close: a new UTC day sets the day's starting equity
//!    (equity at `t`'s open, after the fill) and a new high sets the peak; either
//!    writes a `Mark` entry (the risk state a restart needs).
//! 4. **Risk**: max drawdown → `Halt` (kill switch); daily loss → `Halt`
//!    (daily). Both block entries and flatten the book in step 5.
//! 5. **Decide**: if the target sign differs from where the book is heading,
//!    size `target × floor_to_step(allocation × equity / (close × (1 + slip) ×
//!    (1 + fee)))`, clamp it to the notional cap, and emit an `Order` (or a
//!    `Rejected`). A blocked or empty order is rejected once per change of the
//!    brain's target, not every bar. An order that opens a position from
//!    flat is a limit order when `entry_order` says so.
//!
//! **Exact, and cheap on quiet bars.** Equity at the close is a decimal,
//! computed only when a step needs it: a new day, a possible new peak, a
//! risk limit to check, an order to size. An `f64` estimate with a wide
//! margin ([`EquityEstimate`]) proves the rest: that the decimal cannot
//! overflow and that it is below the peak ([`PeakGuard`]), and that a
//! repeated entry from a flat book cannot buy one step (so its rejection,
//! dropped as a repeat, needs no sizing). When the estimate proves nothing,
//! the exact figure decides, so every entry is the one the exact
//! computation gives. A rejection's reason is written only when the
//! `Rejected` entry is.
//!
//! **An exchange as the venue** ([`Execution::set_venue`]): step 1 leaves
//! the order to the exchange, whose answer settles it through
//! [`Execution::apply_fill`] or [`Execution::cancel_pending`] (entries that
//! `rebuild` replays like any fill or cancellation); a spot venue holds a
//! short target flat; [`Execution::halt_for_ban`] stops every order until a
//! `Resume`. The decisions themselves never ask which venue it is.
//!
//! The parts live in submodules: the parameters ([`params`]), the order in
//! flight and the `/status` figures ([`order`]), errors ([`errors`]), ledger
//! replay ([`replay`]), booking an exchange's answers ([`settle`]), closing
//! the book ([`closing`]), limit entries ([`limit`]) and protective exits
//! ([`protect`]).
//!
//! **Idempotency.** A signal's `seq` is the key of its order: at most one
//! `Order`/`Rejected` per seq, ever. A signal at or below the last handled seq
//! is ignored, except that after a rebuild the last seq found in the ledger
//! is re-run once: every step is idempotent against the state the ledger
//! restored (the order step checks the key), so a batch cut short by a crash
//! is completed with exactly the missing entries.

mod closing;
mod errors;
mod held;
mod limit;
pub(super) mod order;
pub(super) mod params;
mod protect;
mod replay;
mod settle;

use rust_decimal::Decimal;

pub use errors::{FlattenError, HeldExitError, RebuildError, SettleError};
pub use order::{Limit, Pending, SentOrder, Snapshot};
pub use params::{ExecutionParams, ParamsError};

use super::exits::{Protection, QuietCheck};
use super::held_exits::HeldExits;
use super::money::{bps_to_fraction, div, floor_to_step, mul, price_from_f64, F64View, Overflow};
use super::portfolio::{EquityEstimate, EquityView, Fill, Portfolio, Side};
use super::risk::{utc_day, DailyStop, Halt, PeakGuard, RiskState};
use super::venue::{Settlement, Venue, PAPER};
use crate::ledger::{Entry, ExitReason, HaltKind};
use aegis_contract::records::Signal;

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
    /// What carries out the orders decided (paper by default).
    venue: &'static dyn Venue,
    /// An exchange ban halts every order, flattening ones included.
    banned: bool,
    /// The exits held for the open position (with exits configured).
    protection: Option<Protection>,
    /// The direction a protective exit closed: no entry that way until the
    /// strategy's target changes.
    stood_down: Option<i64>,
    /// ATR of the bars seen, for an `atr_multiple` stop-loss.
    atr: protect::AtrTrack,
    /// The bar a limit entry last filled in: only its stop is checked
    /// there, also when a rebuild re-runs that bar.
    limit_filled_at: Option<i64>,
    /// The bar a resting limit entry last ended in (filled or cancelled):
    /// the bars before it were handled, though the ones it rested through
    /// wrote nothing, so a rebuild fed them again passes over them.
    limit_ended_at: Option<i64>,
    /// Live: the exits the exchange holds for the position.
    held: Option<HeldExits>,
    /// Live: how many exits this ledger placed (`ExitSent` entries).
    exits_sent: u64,
    /// Proves most bars reach no exit level without decimal work.
    quiet: QuietCheck,
    /// `f64` copies of the book, to estimate equity at a close.
    equity_view: EquityView,
    /// Proves when a bar sets no new peak.
    peak_guard: PeakGuard,
    /// The position's sign, for bars with nothing pending.
    position_sign: SignMemo,
    /// `qty_step` as an `f64`.
    step_view: F64View,
}

/// Equity at one close, computed the first time a step asks for it.
struct LazyEquity {
    close: Decimal,
    value: Option<Decimal>,
}

impl LazyEquity {
    /// The book's equity at the close ([`Portfolio::equity`]).
    fn get(&mut self, book: &Portfolio) -> Result<Decimal, Overflow> {
        if let Some(v) = self.value {
            return Ok(v);
        }
        let v = book.equity(self.close)?;
        self.value = Some(v);
        Ok(v)
    }
}

/// A price from the ring, if finite, positive and representable. The sign
/// is read from the `f64`: the decimal converts back to exactly `p`, so it
/// is positive exactly when `p` is.
fn valid_price(p: f64) -> Option<Decimal> {
    if p > 0.0 {
        price_from_f64(p)
    } else {
        None
    }
}

/// The sign of a position `heading` as -1, 0 or 1, less than one `step`
/// counting as flat ([`Execution::is_dust`]).
fn heading_sign(heading: Decimal, step: Decimal) -> i64 {
    if heading.abs() < step {
        0
    } else {
        sign_of(heading)
    }
}

/// [`heading_sign`] of a position, remembered for its representation and
/// the step's. Two memos are always equal (a cache is not part of the book).
#[derive(Clone, Copy, Debug, Default)]
struct SignMemo {
    key: Option<([u8; 16], [u8; 16])>,
    sign: i64,
}

impl SignMemo {
    fn of(&mut self, position: Decimal, step: Decimal) -> i64 {
        let key = (position.serialize(), step.serialize());
        if self.key != Some(key) {
            self.key = Some(key);
            self.sign = heading_sign(position, step);
        }
        self.sign
    }
}

impl PartialEq for SignMemo {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for SignMemo {}

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
            pending: None,
            risk: RiskState::default(),
            last_signal_seq: None,
            last_decision_seq: None,
            last_decided_target: None,
            last_mark: None,
            recheck_last: false,
            venue: &PAPER,
            banned: false,
            protection: None,
            stood_down: None,
            atr: protect::AtrTrack::new(&params.exits),
            limit_filled_at: None,
            limit_ended_at: None,
            held: None,
            exits_sent: 0,
            quiet: QuietCheck::new(&params.exits),
            equity_view: EquityView::default(),
            peak_guard: PeakGuard::default(),
            position_sign: SignMemo::default(),
            step_view: F64View::default(),
            params,
        })
    }

    /// Sets what carries out the orders decided from now on (paper until
    /// then). The ledger does not record the venue: set it after
    /// [`Execution::rebuild`] too.
    pub fn set_venue(&mut self, venue: &'static dyn Venue) {
        self.venue = venue;
    }

    /// What carries out the orders decided.
    pub fn venue(&self) -> &'static dyn Venue {
        self.venue
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
        if self.limit_ended_at.is_some_and(|t| s.ts_ms < t) {
            return out; // handled before the limit's end the ledger holds
        }

        // 1. The order placed at an earlier bar, at this bar's open (a venue
        // that settles orders itself keeps it pending); a limit entry when
        // this bar trades through its price.
        if let Some(p) = self.pending.take_if(|p| p.signal_seq < s.seq) {
            if p.limit.is_some() {
                self.work_limit(p, s, protect::bar_of(s).as_ref(), &mut out);
            } else {
                self.settle(p, valid_price(s.open), s.ts_ms, &mut out, || {
                    format!("invalid open price {} at signal {}", s.open, s.seq)
                });
            }
        }

        // Without a usable close there is nothing to mark or decide on.
        let Some(close) = valid_price(s.close) else {
            return out;
        };

        // 2. Exits within the bar (the bar's prices are read only when a
        // position holds exits: the per-bar cost without them is nil).
        if self.protection.is_some() {
            match self.quiet_bar(s) {
                protect::BarWork::Nothing => {}
                protect::BarWork::Trail => self.trail(s, &mut out),
                protect::BarWork::Exact => {
                    if let Some(bar) = protect::bar_of(s) {
                        let limit_filled = self.limit_filled_at == Some(s.ts_ms);
                        self.protect(s, &bar, limit_filled, &mut out);
                    }
                }
            }
        }
        self.atr.see(s);

        self.last_mark = Some(close);
        // Equity at the close, exact, computed when a step needs it. A bar
        // whose equity would overflow ends here, as it always has; the
        // estimate proves that it cannot, or the exact figure is computed
        // now to find out.
        let mut equity = LazyEquity { close, value: None };
        let estimate = self.equity_view.estimate(&self.portfolio, s.close);
        if !estimate.cannot_overflow() && equity.get(&self.portfolio).is_err() {
            return out;
        }

        // 3. Mark: the day's start, the peak.
        let day = utc_day(s.ts_ms);
        let mut marked = false;
        if self.risk.day != Some(day) {
            let Ok(equity) = equity.get(&self.portfolio) else {
                return out;
            };
            let open = valid_price(s.open).unwrap_or(close);
            let start = self.portfolio.equity(open).unwrap_or(equity);
            self.risk.day = Some(day);
            self.risk.day_start_equity = Some(start);
            if self.risk.daily_stop.as_ref().is_some_and(|d| d.day != day) {
                self.risk.daily_stop = None;
            }
            marked = true;
        }
        // Skipped only when the guard proves `equity <= peak`.
        let surely_no_peak = self.risk.peak_equity.is_some_and(|peak| {
            self.peak_guard
                .no_new_peak(peak, &self.portfolio, &estimate)
        });
        if !surely_no_peak {
            let Ok(exact) = equity.get(&self.portfolio) else {
                return out;
            };
            match self.risk.peak_equity {
                Some(peak) if exact <= peak => {
                    self.peak_guard.flat_not_above(peak, &self.portfolio)
                }
                _ => {
                    self.risk.peak_equity = Some(exact);
                    marked = true;
                }
            }
        }
        if marked {
            let Ok(equity) = equity.get(&self.portfolio) else {
                return out;
            };
            out.push(Entry::Mark {
                signal_seq: s.seq,
                ts_ms: s.ts_ms,
                peak_equity: self.risk.peak_equity.unwrap_or(equity),
                day_start_equity: self.risk.day_start_equity.unwrap_or(equity),
            });
        }

        // 4. Risk: nothing to check without a drawdown or daily loss limit.
        let limits = &self.params.limits;
        if limits.max_drawdown.is_some() || limits.daily_loss_limit.is_some() {
            let Ok(equity) = equity.get(&self.portfolio) else {
                return out;
            };
            self.check_risk(s, equity, &mut out);
        }

        // 5. Decide.
        self.decide(s, close, (&mut equity, &estimate), &mut out);
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

    /// Rejects the signal `s` with `reason`, written only when the entry
    /// is (a bar that repeats a rejected target formats nothing).
    fn reject(&mut self, s: &Signal, reason: impl FnOnce(&Self) -> String, out: &mut Vec<Entry>) {
        // Once per change of the brain's target, not every bar.
        if self.last_decided_target == Some(s.target) {
            return;
        }
        let reason = reason(self);
        self.last_decision_seq = Some(s.seq);
        self.last_decided_target = Some(s.target);
        out.push(Entry::Rejected {
            signal_seq: s.seq,
            ts_ms: s.ts_ms,
            target: s.target,
            reason,
        });
    }

    /// Step 5; `equity` is computed only when an order is sized.
    fn decide(
        &mut self,
        s: &Signal,
        close: Decimal,
        (equity, estimate): (&mut LazyEquity, &EquityEstimate),
        out: &mut Vec<Entry>,
    ) {
        if self.last_decision_seq.is_some_and(|d| d >= s.seq) {
            return; // this signal's one decision is already made
        }
        if self.banned {
            return; // no order of any kind while the exchange bans us
        }
        if !(-1..=1).contains(&s.target) {
            let target = s.target;
            self.reject(s, |_| format!("target {target} is not -1, 0 or 1"), out);
            return;
        }
        // Blocked exactly when there is a block reason; its text is written
        // only for an entry.
        let blocked = self.risk.blocks_entries();
        // A venue that cannot short holds a short target flat.
        let wanted = if self.venue.allows_short() {
            s.target
        } else {
            s.target.max(0)
        };
        if self.stands_down(s, wanted, out) {
            return;
        }
        let target = if blocked { 0 } else { wanted };
        self.cancel_stale_limit(s, target, out);
        // Where the book is heading: the position plus the order pending.
        // With nothing pending it is the position, whose sign is remembered
        // until the position or the step changes.
        let heading_sign = match &self.pending {
            None => {
                let (position, step) = (self.portfolio.position, self.params.qty_step);
                self.position_sign.of(position, step)
            }
            Some(p) => heading_sign(
                self.portfolio.position + p.signed_qty(),
                self.params.qty_step,
            ),
        };
        if heading_sign == target {
            if blocked && wanted != 0 {
                self.reject(s, |e| e.block_reason().unwrap_or_default(), out);
            }
            return;
        }
        // An entry from a flat book (nothing pending) that equity cannot
        // buy one step of sizes to zero and is rejected; when this target
        // was rejected already, the rejection is dropped and nothing happens.
        // The estimate proves the size is zero without sizing: the size is
        // at most equity / close (allocation <= 1, fee and slippage >= 0, as
        // the parameters are validated).
        if self.last_decided_target == Some(s.target)
            && self.pending.is_none()
            && self.portfolio.position.is_zero()
            && estimate.surely_buys_less_than(self.step_view.of(self.params.qty_step), s.close)
        {
            return;
        }
        let Ok(equity) = equity.get(&self.portfolio) else {
            return; // never: on_signal proved it computable
        };
        let heading = self.portfolio.position
            + self
                .pending
                .as_ref()
                .map_or(Decimal::ZERO, Pending::signed_qty);
        let (desired, capped) = match self.desired_position(target, close, equity) {
            Ok(v) => v,
            Err(e) => {
                self.reject(s, |_| e.to_string(), out);
                return;
            }
        };
        let delta = desired - heading;
        if delta.is_zero() {
            let reason = |_: &Self| {
                if capped {
                    "max_position_notional leaves nothing to trade".to_string()
                } else {
                    format!("order size rounds to zero at equity {equity} and close {close}")
                }
            };
            self.reject(s, reason, out);
            return;
        }
        let exit = blocked.then_some(ExitReason::Risk);
        let reason = match (blocked, capped) {
            (true, _) => Some(format!(
                "flatten: {}",
                self.block_reason().unwrap_or_default()
            )),
            (false, true) => Some(format!(
                "reduced to max_position_notional {}",
                self.params.limits.max_position_notional.unwrap_or_default()
            )),
            (false, false) => None,
        };
        let side = if delta > Decimal::ZERO {
            Side::Buy
        } else {
            Side::Sell
        };
        let mut order = Pending::market(s.seq, s.ts_ms, side, delta.abs(), target);
        order.exit = exit;
        if heading_sign == 0 {
            // An entry from flat: a limit order if configured, and the ATR
            // its stop-loss is measured in.
            order.limit = self.entry_limit(side, close);
            if self.params.exits.atr_multiple.is_some() {
                match self.atr.value() {
                    Ok(atr) => order.atr = Some(atr),
                    Err(reason) => {
                        self.reject(s, |_| reason, out);
                        return;
                    }
                }
            }
        }
        out.push(order.entry(reason));
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

    /// Hands `order` to the venue at `price` and books the outcome: a
    /// `Fill`, a `Cancelled` (with `no_price`'s reason when there is no
    /// price), or, for a venue that settles orders itself, the order stays
    /// pending.
    fn settle(
        &mut self,
        order: Pending,
        price: Option<Decimal>,
        ts_ms: i64,
        out: &mut Vec<Entry>,
        no_price: impl FnOnce() -> String,
    ) {
        let cancelled = |reason: String| Entry::Cancelled {
            signal_seq: order.signal_seq,
            ts_ms,
            reason,
        };
        match self
            .venue
            .fill(&order, price, &self.portfolio, &self.params)
        {
            Settlement::Later => self.pending = Some(order),
            Settlement::NoPrice => out.push(cancelled(no_price())),
            Settlement::Refused(reason) => out.push(cancelled(reason)),
            Settlement::Filled(fill) => match self.book_fill(&order, &fill, ts_ms) {
                Err(e) => out.push(cancelled(e.to_string())),
                Ok(entry) => out.push(entry),
            },
        }
    }

    /// Applies `fill` of `order` to the book and the exits it holds; the
    /// `Fill` entry. Nothing changes on an error.
    fn book_fill(&mut self, order: &Pending, fill: &Fill, ts_ms: i64) -> Result<Entry, Overflow> {
        let before = self.portfolio.position;
        self.portfolio.apply(fill)?;
        self.track_protection(before, order.atr, fill.price, ts_ms);
        if order.limit.is_some() && order.sent.is_none() {
            self.limit_filled_at = Some(ts_ms); // a paper fill's bar
        }
        Ok(Entry::Fill {
            signal_seq: order.signal_seq,
            ts_ms,
            side: fill.side,
            qty: fill.qty,
            price: fill.price,
            fee: fill.fee,
            cash_after: self.portfolio.cash,
            position_after: self.portfolio.position,
            realized_pnl_after: self.portfolio.realized_pnl,
        })
    }

    /// Whether the venue settles `order` itself (it is with an exchange),
    /// rather than ending it when no price is left for it.
    fn settled_later(&self, order: &Pending) -> bool {
        self.venue.fill(order, None, &self.portfolio, &self.params) == Settlement::Later
    }

    /// The last close seen (the price the book is marked at).
    pub fn last_mark(&self) -> Option<Decimal> {
        self.last_mark
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
