//! The live exit lifecycle: protective exits held by Binance for the open
//! position, so they protect it while the engine is down.
//!
//! - **Placed** after the entry fills ([`Live::tend_exits`], also at every
//!   bar and at startup for a position without them): the orders
//!   [`exit_orders`] makes of the book's levels are written to the ledger
//!   (`ExitSent`, fsync'd) *before* the request, under deterministic client
//!   ids, so a retry or a restart finds them and never places them twice.
//! - **Checked** at every bar and at startup: a leg that executed is booked
//!   from the exchange's trades (commission included) as an `ExitFill`,
//!   once its order is final; exits the exchange ended with nothing
//!   executed (cancelled, expired) end in the ledger (`ExitEnded`) and are
//!   placed again; exits never found are sent again with the same ids once
//!   `recvWindow` has passed since they were written (waited out there and
//!   then: a few seconds).
//! - **Moved** when the book's levels move ([`Live::refresh_exits`], at
//!   every bar): a trailing stop beside other exits is a plain stop the
//!   engine raises with the best price, and the take-profit table's next
//!   row lowers the take-profit; the exits held are cancelled (a leg that
//!   executed meanwhile is booked instead) and placed anew. A level the
//!   last close passed already closes the position at market.
//! - **Released** before any other order ([`Live::release_exits`]: a
//!   strategy exit, a risk flatten, `POST /flatten`): cancelled first; an
//!   exit that filled meanwhile is booked instead, and the order is cut to
//!   what is left of the position (nothing: it ends, cancelled).
//! - **Orphans**: at startup, open orders of this ledger's ids that the
//!   ledger does not hold are reported (log, `aegis_exchange_orphan_orders`),
//!   never cancelled silently.

use std::time::Duration;

use anyhow::Context;
use rust_decimal::Decimal;

use super::super::state::{publish_snapshot, State};
use super::account::append;
use super::booking::{book_fill, now_ms};
use super::connection::{refusal_of, Live};
use super::exit_orders::{exit_orders, request_of, ExitIds, ExitRequest};
use super::retry::pause;
use crate::store::Ledger;
use aegis_engine::trading::{Execution, HeldExits};
use aegis_exchange::rest::Order;
use aegis_exchange::RestError;
use aegis_runtime::StopFlag;

/// Margin added to `recvWindow` before exits not found are declared never
/// placed.
const WINDOW_MARGIN_MS: i64 = 1000;

/// What the exchange says of the held exits.
enum Legs {
    /// A leg executed and its order is final: book it.
    Executed(Box<Order>),
    /// A leg still works (not triggered, or partly filled): the exchange
    /// holds the position.
    Working,
    /// One leg ended with nothing executed while another works (the
    /// exchange cancelled it on its own): the position is only half
    /// protected. The rest is cancelled and the exits placed again.
    Broken(String),
    /// Every leg is over with nothing executed (by the exchange, or by our
    /// cancel), with their statuses.
    Ended(String),
    /// No leg exists on the exchange; `certain` once they can no longer
    /// appear (`recvWindow` passed since the `ExitSent` was written).
    Absent { certain: bool },
    /// The exchange could not be asked now (logged); try again later.
    Unknown,
    /// The exchange banned this IP (HTTP 418) while asked: halt.
    Banned(RestError),
}

impl Live {
    /// Books what the held exits did and places the exits the book wants:
    /// at every bar (before its signal is decided), after an entry fills
    /// and at startup. `Err` is a ledger failure or a refused key.
    pub(in crate::roles::orchestrator) fn tend_exits(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
    ) -> anyhow::Result<()> {
        if exec.held_exits().is_some() && !exec.banned() {
            let mut legs = self.legs(exec, state)?;
            if let (Legs::Absent { certain: false }, Some(held)) = (&legs, exec.held_exits()) {
                // A request a kill or a lost reply cut: wait out
                // `recvWindow` (seconds) rather than leave the position
                // unprotected until the next bar, then ask again.
                let window = i64::from(self.client.recv_window_ms()) + WINDOW_MARGIN_MS;
                let wait = held.written_ms + window + 1 - self.server_now_ms();
                let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
                if pause(wait, state, stop) {
                    legs = self.legs(exec, state)?;
                }
            }
            match legs {
                Legs::Executed(order) => self.book_exit(exec, ledger, state, stop, *order)?,
                Legs::Ended(statuses) => {
                    let reason = format!("ended by the exchange with nothing executed ({statuses}): placing them again");
                    let entry = exec.end_exits(now_ms(), reason);
                    append(ledger, state, entry.into_iter().collect())?;
                }
                Legs::Broken(statuses) => {
                    tracing::error!(statuses = %statuses, "an exit order ended on the exchange while another works: cancelling the rest and placing them again");
                    let why = format!("one order ended by the exchange ({statuses}): the rest cancelled, placing them again");
                    self.release_exits(exec, ledger, state, stop, &why)?;
                }
                Legs::Absent { certain: true } => {
                    if let Some(held) = exec.held_exits().cloned() {
                        tracing::warn!(client_order_id = %held.client_order_id, "the exits never reached the exchange: sending them again with the same ids");
                        self.send_exits(exec, ledger, state, stop, &held)?;
                    }
                }
                Legs::Banned(e) => self.ban(exec, ledger, state, &e)?,
                Legs::Working | Legs::Absent { certain: false } | Legs::Unknown => {}
            }
        }
        self.refresh_exits(exec, ledger, state, stop, false)?;
        let unprotected = exec.held_exits().is_none() && exec.exits_plan(now_ms()).is_some();
        state
            .metrics
            .exchange
            .unprotected
            .set(i64::from(unprotected));
        publish_snapshot(state, exec);
        Ok(())
    }

    /// Cancels the held exits before another order is sent for the
    /// position; books a leg that executed meanwhile. True when no exits
    /// are held any more (the order may go); false when their fate is not
    /// known yet (the order waits for the next bar).
    pub(super) fn release_exits(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        why: &str,
    ) -> anyhow::Result<bool> {
        let Some(held) = exec.held_exits().cloned() else {
            return Ok(true);
        };
        state.heartbeat.beat();
        let symbol = &self.filters.symbol;
        let cancelled = if held.legs.len() > 1 {
            self.client
                .cancel_order_list(symbol, &held.client_order_id)
                .map(|list| list.order_reports)
        } else {
            self.client
                .cancel_order(symbol, &held.client_order_id)
                .map(|o| vec![o])
        };
        self.show_weight(state);
        match cancelled {
            Ok(reports) => {
                if let Some(o) = reports.into_iter().find(|o| o.executed_qty > Decimal::ZERO) {
                    // Cancelled after part of it executed, or the reply of
                    // an order that filled: book what executed.
                    self.book_exit(exec, ledger, state, stop, o)?;
                } else {
                    let entry = exec.end_exits(now_ms(), format!("cancelled: {why}"));
                    append(ledger, state, entry.into_iter().collect())?;
                }
            }
            // Not open any more (executed, ended) or never placed; or the
            // cancel's reply was lost: ask what the legs are now.
            Err(RestError::UnknownOrder { .. } | RestError::Unknown { .. }) => {
                match self.legs(exec, state)? {
                    Legs::Executed(order) => self.book_exit(exec, ledger, state, stop, *order)?,
                    Legs::Ended(statuses) => {
                        let reason = format!("ended with nothing executed ({statuses})");
                        let entry = exec.end_exits(now_ms(), reason);
                        append(ledger, state, entry.into_iter().collect())?;
                    }
                    Legs::Absent { certain: true } => {
                        let entry = exec.end_exits(now_ms(), "never reached the exchange".into());
                        append(ledger, state, entry.into_iter().collect())?;
                    }
                    Legs::Banned(e) => self.ban(exec, ledger, state, &e)?,
                    Legs::Working
                    | Legs::Broken(_)
                    | Legs::Absent { certain: false }
                    | Legs::Unknown => {}
                }
            }
            Err(e) => {
                state.metrics.exchange.error(&e);
                tracing::warn!(client_order_id = %held.client_order_id, error = %e, "cancelling the exits failed: the order waits");
                if let Some(refusal) = refusal_of(&e) {
                    return Err(refusal.into());
                }
                match e {
                    RestError::Banned { .. } => self.ban(exec, ledger, state, &e)?,
                    RestError::RateLimited { retry_after } => {
                        pause(retry_after, state, stop);
                    }
                    _ => {}
                }
            }
        }
        publish_snapshot(state, exec);
        Ok(exec.held_exits().is_none())
    }

    /// Startup: the symbol's open orders of this ledger's ids that the
    /// ledger does not hold (neither its exits nor its pending order) are
    /// reported, not cancelled: a person decides. Their number is the
    /// orphan gauge.
    pub(in crate::roles::orchestrator) fn report_orphans(
        &self,
        exec: &Execution,
        state: &State,
    ) -> anyhow::Result<()> {
        let open = self.client.open_orders(&self.filters.symbol);
        self.show_weight(state);
        let open = match open {
            Ok(o) => o,
            Err(e) => {
                state.metrics.exchange.error(&e);
                if let Some(refusal) = refusal_of(&e) {
                    return Err(refusal.into());
                }
                tracing::warn!(error = %e, "could not list the open orders to look for orphans");
                return Ok(());
            }
        };
        let ours = format!("-{}-", self.ledger_id);
        let known = |id: &str| {
            exec.held_exits()
                .is_some_and(|h| h.client_order_id == id || h.leg(id).is_some())
                || exec
                    .pending()
                    .and_then(|p| p.sent.as_ref())
                    .is_some_and(|s| s.client_order_id == id)
        };
        let orphans: Vec<&Order> = open
            .iter()
            .filter(|o| o.client_order_id.contains(&ours) && !known(&o.client_order_id))
            .collect();
        for o in &orphans {
            tracing::error!(client_order_id = %o.client_order_id, order_id = o.order_id, order_type = %o.order_type, side = %o.side, qty = %o.orig_qty, status = %o.status, "an open order of this ledger's ids that the ledger does not hold: left on the exchange, cancel it by hand if it is not wanted");
        }
        state
            .metrics
            .exchange
            .orphans
            .set(i64::try_from(orphans.len()).unwrap_or(i64::MAX));
        Ok(())
    }

    /// Brings the exits held in line with the book's levels now
    /// ([`Execution::exits_plan`]): places them when none are held, moves
    /// them (cancel, then place) when a level moved (a trailing stop beside
    /// other exits follows the best price; the take-profit table reached
    /// its next row), and closes the position at market when the last close
    /// passed a level already ([`Execution::exit_now`]), since an exit
    /// order there would trigger at once. At every bar after its signal is
    /// handled (`after_bar`: the close is this fresh bar's, and only then
    /// does it close at market), and from [`Live::tend_exits`].
    pub(in crate::roles::orchestrator) fn refresh_exits(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        after_bar: bool,
    ) -> anyhow::Result<()> {
        let Some(plan) = exec.exits_plan(now_ms()) else {
            return Ok(());
        };
        if plan.reached.is_some() {
            if let Some(entries) = after_bar.then(|| exec.exit_now(now_ms())).flatten() {
                append(ledger, state, entries)?;
                let price = exec.last_mark();
                // Released first, like before any order; booked as it ends.
                self.settle(exec, ledger, state, stop, true, price)?;
            }
            // Otherwise this bar decided an order already, or the close is
            // an earlier bar's: the next bar looks again. Exits that would
            // trigger at once are not placed.
            return Ok(());
        }
        if let Some(held) = exec.held_exits() {
            let ids = ExitIds {
                engine: &self.engine,
                ledger_id: &self.ledger_id,
            };
            // Exits that cannot pass the filters where they moved: the ones
            // held stay.
            let Ok(wanted) = exit_orders(&plan, &self.filters, &ids, self.server_now_ms()) else {
                return Ok(());
            };
            if same_orders(held, &wanted) {
                return Ok(());
            }
            let why = format!(
                "moving the exits from {} to {}",
                describe(held),
                describe(&wanted)
            );
            tracing::info!("{why}");
            if !self.release_exits(exec, ledger, state, stop, &why)? {
                return Ok(()); // their fate is not known yet: next bar
            }
        }
        self.place_exits(exec, ledger, state, stop)
    }

    /// Places the exits the book wants now, if any: written ahead, then
    /// sent.
    fn place_exits(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
    ) -> anyhow::Result<()> {
        let Some(plan) = exec.exits_wanted(now_ms()) else {
            return Ok(());
        };
        let ids = ExitIds {
            engine: &self.engine,
            ledger_id: &self.ledger_id,
        };
        let held = match exit_orders(&plan, &self.filters, &ids, self.server_now_ms()) {
            Ok(held) => held,
            Err(reason) => {
                tracing::error!(reason = %reason, qty = %plan.qty, entry = %plan.entry_price, "the position's exits cannot be placed: the exchange does not protect it");
                return Ok(());
            }
        };
        let entry = exec
            .record_exits_sent(held.clone())
            .context("recording the exits before sending them")?;
        append(ledger, state, vec![entry])?;
        self.send_exits(exec, ledger, state, stop, &held)
    }

    /// Sends `held` as recorded. A lost reply leaves them held: the next
    /// check finds them, or sends them again once certainly absent. A
    /// refusal ends them in the ledger (the next bar tries anew).
    fn send_exits(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        held: &HeldExits,
    ) -> anyhow::Result<()> {
        let request = match request_of(held) {
            Ok(r) => r,
            Err(reason) => {
                let entry = exec.end_exits(now_ms(), format!("not sent: {reason}"));
                return append(ledger, state, entry.into_iter().collect());
            }
        };
        loop {
            state.heartbeat.beat();
            state.metrics.exchange.orders_sent.inc();
            let symbol = &self.filters.symbol;
            let sent = match &request {
                ExitRequest::Oco(oco) => self.client.place_oco(symbol, oco).map(drop),
                ExitRequest::Stop(order) => self.client.place_stop_order(symbol, order).map(drop),
            };
            self.show_weight(state);
            let e = match sent {
                Ok(()) => {
                    tracing::info!(client_order_id = %held.client_order_id, qty = %held.qty, "the exits are on the exchange");
                    return Ok(());
                }
                Err(e) => e,
            };
            state.metrics.exchange.error(&e);
            tracing::warn!(client_order_id = %held.client_order_id, error = %e, "placing the exits failed");
            if let Some(refusal) = refusal_of(&e) {
                return Err(refusal.into());
            }
            match e {
                RestError::RateLimited { retry_after } => {
                    if !pause(retry_after, state, stop) {
                        return Ok(());
                    }
                }
                RestError::Banned { .. } => return self.ban(exec, ledger, state, &e),
                // They may exist: the next check looks them up by id.
                RestError::Unknown { .. } | RestError::Timestamp { .. } => return Ok(()),
                // The same ids already placed (a resend that crossed the
                // first): they are held.
                RestError::OrderRejected { ref msg } if msg.contains("Duplicate") => return Ok(()),
                other => {
                    tracing::error!(client_order_id = %held.client_order_id, error = %other, "the exchange refused the exits: the position is not protected until they are placed");
                    let entry =
                        exec.end_exits(now_ms(), format!("refused by the exchange: {other}"));
                    return append(ledger, state, entry.into_iter().collect());
                }
            }
        }
    }

    /// Asks the exchange for every leg of the held exits.
    fn legs(&self, exec: &mut Execution, state: &State) -> anyhow::Result<Legs> {
        let Some(held) = exec.held_exits().cloned() else {
            return Ok(Legs::Ended("none held".into()));
        };
        let mut found = Vec::new();
        for leg in &held.legs {
            state.heartbeat.beat();
            let reply = self
                .client
                .query_order(&self.filters.symbol, &leg.client_order_id);
            self.show_weight(state);
            match reply {
                Ok(o) => found.push(o),
                Err(e) => {
                    state.metrics.exchange.error(&e);
                    tracing::warn!(client_order_id = %leg.client_order_id, error = %e, "querying an exit order failed");
                    if let Some(refusal) = refusal_of(&e) {
                        return Err(refusal.into());
                    }
                    if e.must_halt() {
                        return Ok(Legs::Banned(e));
                    }
                    return Ok(Legs::Unknown);
                }
            }
        }
        if let Some(o) = found
            .iter()
            .flatten()
            .find(|o| o.is_final() && o.executed_qty > Decimal::ZERO)
        {
            return Ok(Legs::Executed(Box::new(o.clone())));
        }
        let statuses = || {
            let all: Vec<String> = found
                .iter()
                .flatten()
                .map(|o| format!("{} {}", o.client_order_id, o.status))
                .collect();
            all.join(", ")
        };
        if found.iter().flatten().any(|o| !o.is_final()) {
            // A leg EXPIRED is the other leg's trigger (an OCO expires one
            // leg when the other triggers): that one holds the position.
            if found
                .iter()
                .flatten()
                .any(|o| o.is_final() && o.status != "EXPIRED")
            {
                return Ok(Legs::Broken(statuses()));
            }
            return Ok(Legs::Working);
        }
        if found.iter().all(Option::is_none) {
            let window = i64::from(self.client.recv_window_ms()) + WINDOW_MARGIN_MS;
            return Ok(Legs::Absent {
                certain: self.server_now_ms() > held.written_ms + window,
            });
        }
        Ok(Legs::Ended(statuses()))
    }

    /// Books the executed exit leg `order` (final) from its trades.
    fn book_exit(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        order: Order,
    ) -> anyhow::Result<()> {
        let Some((order, ban)) = self.with_trades(state, stop, order) else {
            return Ok(()); // stopped: the next start asks again
        };
        let booked = book_fill(&self.filters, &order).with_context(|| {
            format!(
                "booking exit order {} (executed {}, quote {})",
                order.client_order_id, order.executed_qty, order.cummulative_quote_qty
            )
        })?;
        if let Some(note) = &booked.note {
            tracing::warn!(client_order_id = %order.client_order_id, "{note}");
        }
        let entry = exec
            .apply_exit_fill(
                &order.client_order_id,
                self.server_now_ms(),
                booked.qty,
                booked.price,
                booked.fee,
            )
            .with_context(|| format!("booking the exchange's exit {}", order.client_order_id))?;
        append(ledger, state, vec![entry])?;
        if let Some(e) = ban {
            self.ban(exec, ledger, state, &e)?;
        }
        self.check_balances(exec, ledger, state)
    }
}

/// Whether `a` and `b` are the same orders (ids and stamps aside).
fn same_orders(a: &HeldExits, b: &HeldExits) -> bool {
    let shape = |h: &HeldExits| {
        h.legs
            .iter()
            .map(|l| {
                (
                    l.reason,
                    l.order_type.clone(),
                    l.stop_price,
                    l.price,
                    l.trailing_delta,
                )
            })
            .collect::<Vec<_>>()
    };
    a.side == b.side && a.qty == b.qty && shape(a) == shape(b)
}

/// The orders of `held` in a few words, for the ledger and the log.
fn describe(held: &HeldExits) -> String {
    let legs: Vec<String> = held
        .legs
        .iter()
        .map(|l| match l.stop_price {
            Some(trigger) => format!(
                "{} {} at {trigger} (limit {})",
                l.reason, l.order_type, l.price
            ),
            None => format!("{} {} at {}", l.reason, l.order_type, l.price),
        })
        .collect();
    format!("[{}]", legs.join(", "))
}
