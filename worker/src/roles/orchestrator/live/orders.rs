//! Settling the pending order with the exchange: send it (write-ahead:
//! `Sent` first), or find it by its client order id after a lost reply or a
//! restart, wait for a working order to end, complete its trade list, and
//! book what executed (see the [parent module](super) for the rules).

use std::time::{Duration, Instant};

use anyhow::Context;
use rust_decimal::Decimal;

use super::super::state::{publish_snapshot, State};
use super::account::append;
use super::booking::{book_fill, check_found, now_ms};
use super::connection::{refusal_of, Live, Outcome};
use super::resting::unbooked;
use super::retry::{pause, RETRY_PAUSE};
use crate::store::Ledger;
use aegis_contract::api::Refusal;
use aegis_engine::ledger::Entry;
use aegis_engine::trading::{price_from_f64, Execution, Pending, Side};
use aegis_exchange::rest::{client_order_id, legacy_client_order_id, Order, Side as RestSide};
use aegis_exchange::RestError;
use aegis_runtime::StopFlag;

/// How often an order the exchange reports still working is polled.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// How many polls before a working market order is cancelled.
const POLLS: u32 = 50;
/// Margin added to `recvWindow` before an absent order is declared never placed.
const WINDOW_MARGIN: Duration = Duration::from_millis(1000);
/// Attempts on a repeated -1021 before the order is given up.
const TIMESTAMP_ATTEMPTS: u32 = 3;
/// Attempts at reading an order's whole trade list before its fill is
/// booked without it.
const TRADE_LIST_ATTEMPTS: u32 = 5;

impl Live {
    /// Settles the pending order, if any: sends it (`fresh`: just decided)
    /// or first looks for it (a restart), and appends its `Sent`, `Fill` or
    /// `Cancelled` (and a halt when the exchange holds another order under
    /// its id). `price` is the reference price for the notional filters
    /// (the deciding bar's close).
    ///
    /// `Err` is a ledger failure, an exchange error that leaves the order's
    /// fate unknown (the caller stops and a restart looks again), or a
    /// [`Refusal`] of the credentials (the caller stops trading).
    pub(in crate::roles::orchestrator) fn settle(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        fresh: bool,
        price: Option<Decimal>,
    ) -> anyhow::Result<Outcome> {
        let Some(order) = exec.pending().cloned() else {
            return Ok(Outcome::Settled);
        };
        if exec.banned() {
            tracing::warn!(
                signal_seq = order.signal_seq,
                "the order stays unsettled while a persistent halt (exchange ban, order mismatch) stops trading"
            );
            return Ok(Outcome::Unsettled);
        }
        let mut order = order;
        // An order already sent is looked for, never placed again.
        let ends = if fresh && order.sent.is_none() {
            self.place(exec, ledger, state, stop, &mut order, price)?
        } else {
            self.recover(exec, ledger, state, stop, &mut order)?
        };
        let mut resting = false;
        let settled = match ends {
            End::Executed(found) => match self.with_trades(state, stop, *found) {
                Some((found, ban)) => {
                    self.record(exec, ledger, state, &order, &found, None)?;
                    if let Some(e) = ban {
                        self.ban(exec, ledger, state, &e)?;
                    }
                    true
                }
                // Stopped before the trades were read: the next start
                // finds the order again.
                None => false,
            },
            End::Refused(reason) => {
                let entry = exec.cancel_pending(order.signal_seq, now_ms(), reason);
                append(ledger, state, entry.into_iter().collect())?;
                true
            }
            End::Banned(e) => {
                // A 418 carried nothing out: the order was not placed.
                let entry = exec.cancel_pending(order.signal_seq, now_ms(), e.to_string());
                append(ledger, state, entry.into_iter().collect())?;
                self.ban(exec, ledger, state, &e)?;
                true
            }
            End::BannedUnknown(e) => {
                // Banned while looking for an order whose fate is unknown:
                // it stays pending, and the start after clear_halt asks again.
                self.ban(exec, ledger, state, &e)?;
                false
            }
            End::Mismatch(reason) => {
                tracing::error!(signal_seq = order.signal_seq, reason = %reason, "the exchange holds another order under this order's id: nothing is booked and trading halts");
                let ts = now_ms();
                let halt = format!(
                    "{reason}; nothing was booked and no order is placed until orchestrator.risk.clear_halt"
                );
                let mut entries: Vec<Entry> = exec
                    .cancel_pending(order.signal_seq, ts, format!("not booked: {reason}"))
                    .into_iter()
                    .collect();
                entries.extend(exec.halt_for_mismatch(&halt, ts));
                append(ledger, state, entries)?;
                true
            }
            End::CredentialsRefused(refusal) => {
                // Nothing was placed: the exchange refused the key itself.
                let entry =
                    exec.cancel_pending(order.signal_seq, now_ms(), refusal.message.clone());
                append(ledger, state, entry.into_iter().collect())?;
                publish_snapshot(state, exec);
                return Err(refusal.into());
            }
            End::Stopped => false,
            End::Working(found) => {
                // A resting limit: what executed so far is booked; the rest
                // works on the exchange until it fills or its life ends.
                self.book_working(exec, ledger, state, stop, *found)?;
                resting = true;
                false
            }
        };
        if settled {
            // A new position gets its exits on the exchange at once.
            self.tend_exits(exec, ledger, state, stop)?;
        }
        publish_snapshot(state, exec);
        Ok(if settled {
            Outcome::Settled
        } else if resting {
            Outcome::Resting
        } else {
            Outcome::Unsettled
        })
    }

    /// A new order: rounded by the filters, its `Sent` entry appended
    /// (fsync'd), then sent.
    fn place(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        order: &mut Pending,
        price: Option<Decimal>,
    ) -> anyhow::Result<End> {
        // Exits held for the position are cancelled first; one that
        // executed meanwhile is booked, and a closing order is cut to what
        // is left of the position.
        let before = exec.portfolio().position;
        let closing = !before.is_zero() && ((order.side == Side::Sell) == (before > Decimal::ZERO));
        let why = format!("before the order of signal {}", order.signal_seq);
        if !self.release_exits(exec, ledger, state, stop, &why)? {
            return Ok(End::Stopped);
        }
        let left = exec.portfolio().position.abs();
        if closing && left < exec.params().qty_step {
            return Ok(End::Refused(
                "nothing left to close: an exit held by the exchange closed the position first"
                    .into(),
            ));
        }
        let wanted = if closing {
            order.qty.min(left)
        } else {
            order.qty
        };
        let reference = price.unwrap_or(Decimal::ZERO);
        let quantity = match self.limit_price(order) {
            Some(Ok(limit)) => self
                .filters
                .check_limit_price(side_of(order.side), limit, reference)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    self.filters
                        .limit_quantity(wanted, limit)
                        .map_err(|e| e.to_string())
                }),
            Some(Err(refusal)) => Err(refusal.to_string()),
            None => self
                .filters
                .market_quantity(wanted, reference)
                .map_err(|e| e.to_string()),
        };
        let qty = match quantity {
            Ok(q) => q,
            Err(refusal) => {
                return Ok(End::Refused(format!(
                    "refused by the symbol filters before sending: {refusal}"
                )))
            }
        };
        let id = client_order_id(&self.engine, &self.ledger_id, order.signal_seq);
        let sent = exec
            .record_sent(order.signal_seq, &id, qty, self.server_now_ms())
            .with_context(|| format!("recording order {id} before sending it"))?;
        append(ledger, state, vec![sent])?;
        if let Some(p) = exec.pending() {
            *order = p.clone();
        }
        self.send(state, stop, order, &id)
    }

    /// A restart with an unsettled order: query it; send it (same id) only
    /// once it is certainly absent. One never recorded as sent was not
    /// sent, unless an older build wrote it (looked up under its old id).
    fn recover(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        order: &mut Pending,
    ) -> anyhow::Result<End> {
        let id = match &order.sent {
            Some(sent) => sent.client_order_id.clone(),
            None if self.legacy_pending == Some(order.signal_seq) => {
                legacy_client_order_id(&self.engine, order.signal_seq)
            }
            None => {
                tracing::warn!(
                    signal_seq = order.signal_seq,
                    "the ledger holds an order that was never sent"
                );
                return self.place_late(exec, ledger, state, stop, order);
            }
        };
        tracing::warn!(signal_seq = order.signal_seq, client_order_id = %id, "the ledger holds an unsettled order: asking the exchange for it before anything else");
        match self.find(state, stop, &id, Instant::now())? {
            Found::Order(o) => self.found(state, stop, order, o),
            Found::Stopped => Ok(End::Stopped),
            Found::Banned(e) => Ok(End::BannedUnknown(e)),
            Found::Absent if order.sent.is_some() => {
                if let Some(refused) = self.too_late(order) {
                    return Ok(refused);
                }
                tracing::warn!(signal_seq = order.signal_seq, client_order_id = %id, "the exchange has no such order: sending it now");
                self.send(state, stop, order, &id)
            }
            // An older build's order, certainly never placed: a new one.
            Found::Absent => self.place_late(exec, ledger, state, stop, order),
        }
    }

    /// Places, after a restart, an order certainly never placed: only if
    /// its candle is still fresh, at the filters of the last price.
    fn place_late(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        stop: &StopFlag,
        order: &mut Pending,
    ) -> anyhow::Result<End> {
        if let Some(refused) = self.too_late(order) {
            return Ok(refused);
        }
        let price = self.current_price(state)?;
        self.place(exec, ledger, state, stop, order, price)
    }

    /// The refusal of an order certainly never placed whose candle is now
    /// too old to trade on (the process was down): never sent late.
    fn too_late(&self, order: &Pending) -> Option<End> {
        let interval_ms = i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX);
        super::super::freshness::is_stale(order.ts_ms, interval_ms, self.max_age, self.server_now_ms()).then(|| {
            End::Refused(format!(
                "not sent: the exchange has no such order and its candle (open {}) closed longer ago than orchestrator.max_signal_age_secs ({} s)",
                order.ts_ms,
                self.max_age.as_secs_f64()
            ))
        })
    }

    /// An order found under the pending order's id: booked only if it is
    /// that order ([`check_found`]), once final.
    fn found(
        &self,
        state: &State,
        stop: &StopFlag,
        order: &Pending,
        found: Order,
    ) -> anyhow::Result<End> {
        if let Err(reason) = check_found(order, &found) {
            return Ok(End::Mismatch(reason));
        }
        self.placed(state, stop, order, found)
    }

    /// The last close (of the last closed kline: the newest one is still
    /// open, so two are asked for), for the filters of an order placed
    /// after a restart.
    fn current_price(&self, state: &State) -> anyhow::Result<Option<Decimal>> {
        let candles = self
            .client
            .klines(&self.filters.symbol, self.interval, None, None, 2);
        self.show_weight(state);
        match candles {
            Ok(k) => Ok(k.candles.last().and_then(|c| price_from_f64(c.close))),
            Err(e) => {
                state.metrics.exchange.error(&e);
                Err(e).context("reading the last price before placing an order")
            }
        }
    }

    /// Sends the order recorded as sent (its `Sent` quantity, id `id`)
    /// until the exchange answers for it.
    fn send(
        &self,
        state: &State,
        stop: &StopFlag,
        order: &Pending,
        id: &str,
    ) -> anyhow::Result<End> {
        let qty = order.sent.as_ref().map_or(order.qty, |s| s.qty);
        let side = side_of(order.side);
        let limit = match self.limit_price(order) {
            Some(Ok(price)) => Some(price),
            Some(Err(refusal)) => {
                return Ok(End::Refused(format!(
                    "refused by the symbol filters before sending: {refusal}"
                )))
            }
            None => None,
        };
        let mut timestamp_errors = 0;
        loop {
            if stop.is_set() {
                return Ok(End::Stopped);
            }
            state.heartbeat.beat();
            let sent_at = Instant::now();
            state.metrics.exchange.orders_sent.inc();
            tracing::info!(signal_seq = order.signal_seq, client_order_id = %id, side = %side, qty = %qty, limit = ?limit, "sending the order");
            let reply = match limit {
                Some(price) => {
                    self.client
                        .place_limit_order(&self.filters.symbol, side, qty, price, id)
                }
                None => self
                    .client
                    .place_market_order(&self.filters.symbol, side, qty, id),
            };
            self.show_weight(state);
            let e = match reply {
                Ok(placed) => return self.placed(state, stop, order, placed),
                Err(e) => e,
            };
            state.metrics.exchange.error(&e);
            tracing::warn!(signal_seq = order.signal_seq, client_order_id = %id, error = %e, "the order request failed");
            if let Some(refusal) = refusal_of(&e) {
                return Ok(End::CredentialsRefused(refusal));
            }
            match e {
                RestError::RateLimited { retry_after } => {
                    if !pause(retry_after, state, stop) {
                        return Ok(End::Stopped);
                    }
                }
                RestError::Banned { .. } => return Ok(End::Banned(e)),
                RestError::Unknown { .. } => match self.find(state, stop, id, sent_at)? {
                    Found::Order(o) => return self.found(state, stop, order, o),
                    Found::Stopped => return Ok(End::Stopped),
                    Found::Banned(e) => return Ok(End::BannedUnknown(e)),
                    Found::Absent => {
                        tracing::warn!(client_order_id = %id, "the order never reached the exchange: sending it again with the same id");
                    }
                },
                RestError::Timestamp { .. } if timestamp_errors + 1 < TIMESTAMP_ATTEMPTS => {
                    timestamp_errors += 1;
                    if !pause(RETRY_PAUSE, state, stop) {
                        return Ok(End::Stopped);
                    }
                }
                // Refusals that would repeat (balance, filters,
                // parameters): the order ends with the error.
                other => return Ok(End::Refused(other.to_string())),
            }
        }
    }

    /// Looks for order `id`, sent (at the latest) at `sent_at`: queried at
    /// once, and again once `recvWindow` has passed since `sent_at` when
    /// absent at first. The order found is returned as the exchange
    /// reports it, not yet checked nor final.
    fn find(
        &self,
        state: &State,
        stop: &StopFlag,
        id: &str,
        sent_at: Instant,
    ) -> anyhow::Result<Found> {
        let window = Duration::from_millis(u64::from(self.client.recv_window_ms()));
        let certain_after = sent_at + window + WINDOW_MARGIN;
        loop {
            if stop.is_set() {
                return Ok(Found::Stopped);
            }
            state.heartbeat.beat();
            let asked_at = Instant::now();
            let reply = self.client.query_order(&self.filters.symbol, id);
            self.show_weight(state);
            match reply {
                Ok(Some(o)) => return Ok(Found::Order(o)),
                Ok(None) if asked_at >= certain_after => return Ok(Found::Absent),
                Ok(None) => {
                    tracing::info!(client_order_id = %id, "no such order yet: asking again once recvWindow has passed");
                    if !pause(certain_after - asked_at, state, stop) {
                        return Ok(Found::Stopped);
                    }
                }
                Err(e) => {
                    state.metrics.exchange.error(&e);
                    tracing::warn!(client_order_id = %id, error = %e, "querying the order failed");
                    if let Some(refusal) = refusal_of(&e) {
                        return Err(refusal.into());
                    }
                    match e {
                        RestError::RateLimited { retry_after } => {
                            if !pause(retry_after, state, stop) {
                                return Ok(Found::Stopped);
                            }
                        }
                        RestError::Banned { .. } => return Ok(Found::Banned(e)),
                        RestError::Unknown { .. } | RestError::Timestamp { .. } => {
                            if !pause(RETRY_PAUSE, state, stop) {
                                return Ok(Found::Stopped);
                            }
                        }
                        other => {
                            return Err(other).with_context(|| {
                                format!("querying order {id}: its fate is unknown")
                            })
                        }
                    }
                }
            }
        }
    }

    /// What a just placed or found order comes to: a market order is
    /// polled until final; a limit order that is not final rests.
    fn placed(
        &self,
        state: &State,
        stop: &StopFlag,
        order: &Pending,
        found: Order,
    ) -> anyhow::Result<End> {
        if order.limit.is_some() {
            return Ok(if found.is_final() {
                End::Executed(Box::new(found))
            } else {
                End::Working(Box::new(found))
            });
        }
        Ok(End::Executed(Box::new(
            self.until_final(state, stop, found)?,
        )))
    }

    /// Polls a working order until it is final; cancels it when it stays
    /// working, and returns its last state.
    fn until_final(&self, state: &State, stop: &StopFlag, order: Order) -> anyhow::Result<Order> {
        let mut order = order;
        let fills = std::mem::take(&mut order.fills);
        let mut polls = 0;
        while !order.is_final() {
            if polls == POLLS || stop.is_set() {
                tracing::warn!(client_order_id = %order.client_order_id, status = %order.status, "the market order is still working: cancelling the rest");
                let cancelled = self
                    .client
                    .cancel_order(&self.filters.symbol, &order.client_order_id);
                self.show_weight(state);
                match cancelled {
                    Ok(o) => order = o,
                    Err(e) => {
                        state.metrics.exchange.error(&e);
                        tracing::warn!(error = %e, "cancelling the working order failed");
                    }
                }
                // The cancel's reply or a last query gives what executed.
                if !order.is_final() {
                    if let Ok(Some(o)) = self
                        .client
                        .query_order(&self.filters.symbol, &order.client_order_id)
                    {
                        order = o;
                    }
                }
                break;
            }
            polls += 1;
            if !pause(POLL_EVERY, state, stop) {
                continue;
            }
            let reply = self
                .client
                .query_order(&self.filters.symbol, &order.client_order_id);
            self.show_weight(state);
            match reply {
                Ok(Some(o)) => order = o,
                Ok(None) => {}
                Err(e) => state.metrics.exchange.error(&e),
            }
        }
        if order.fills.is_empty() {
            order.fills = fills;
        }
        Ok(order)
    }

    /// `order` with its whole trade list (see the module docs, "Fees"):
    /// when its reply did not list every trade, `GET /api/v3/myTrades` is
    /// asked up to [`TRADE_LIST_ATTEMPTS`] times, as the list can lag the
    /// order. With a ban met meanwhile, to write after the fill. `None` on
    /// a stop.
    pub(super) fn with_trades(
        &self,
        state: &State,
        stop: &StopFlag,
        mut order: Order,
    ) -> Option<(Order, Option<RestError>)> {
        let mut attempts = 0;
        while order.executed_qty > Decimal::ZERO && !order.fills_complete() {
            if attempts == TRADE_LIST_ATTEMPTS {
                tracing::warn!(client_order_id = %order.client_order_id, "the exchange's trade list of the order stays incomplete");
                break;
            }
            if attempts > 0 && !pause(RETRY_PAUSE, state, stop) {
                return None;
            }
            attempts += 1;
            let trades = self
                .client
                .order_trades(&self.filters.symbol, order.order_id);
            self.show_weight(state);
            match trades {
                Ok(fills) => {
                    // Taken only whole: a partial list keeps the reply's.
                    let reply_fills = std::mem::replace(&mut order.fills, fills);
                    if !order.fills_complete() {
                        order.fills = reply_fills;
                    }
                }
                Err(e) => {
                    state.metrics.exchange.error(&e);
                    tracing::warn!(client_order_id = %order.client_order_id, error = %e, "reading the order's trades failed");
                    match e {
                        RestError::RateLimited { retry_after } => {
                            if !pause(retry_after, state, stop) {
                                return None;
                            }
                        }
                        RestError::Banned { .. } => return Some((order, Some(e))),
                        RestError::Unknown { .. } | RestError::Timestamp { .. } => {}
                        _ => break,
                    }
                }
            }
        }
        Some((order, None))
    }

    /// Books what the exchange executed of `order`.
    pub(super) fn record(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        order: &Pending,
        found: &Order,
        why: Option<&str>,
    ) -> anyhow::Result<()> {
        let ts = now_ms();
        // A resting order's earlier parts are booked already.
        let rest;
        let found = if order.executed > Decimal::ZERO {
            rest = unbooked(found, order.executed).with_context(|| {
                format!("the trades of order {} overflow", found.client_order_id)
            })?;
            &rest
        } else {
            found
        };
        if found.executed_qty <= Decimal::ZERO {
            let reason = if order.executed > Decimal::ZERO {
                format!(
                    "the rest of order {} ended {} after {} executed",
                    found.client_order_id, found.status, order.executed
                )
            } else {
                format!(
                    "the exchange reports order {} {} with nothing executed",
                    found.client_order_id, found.status
                )
            };
            let reason = match why {
                Some(why) => format!("{why}: {reason}"),
                None => reason,
            };
            let entry = exec.cancel_pending(order.signal_seq, ts, reason);
            return append(ledger, state, entry.into_iter().collect());
        }
        let booked = book_fill(&self.filters, found).with_context(|| {
            format!(
                "booking order {} (executed {}, quote {})",
                found.client_order_id, found.executed_qty, found.cummulative_quote_qty
            )
        })?;
        if let Some(note) = &booked.note {
            tracing::warn!(client_order_id = %found.client_order_id, "{note}");
        }
        let entry = exec
            .apply_fill(order.signal_seq, ts, booked.qty, booked.price, booked.fee)
            .with_context(|| format!("booking the exchange's fill of {}", found.client_order_id))?;
        append(ledger, state, vec![entry])?;
        self.check_balances(exec, ledger, state)
    }
}

/// The exchange's side of `side`.
pub(super) fn side_of(side: Side) -> RestSide {
    match side {
        Side::Buy => RestSide::Buy,
        Side::Sell => RestSide::Sell,
    }
}

/// How an order request ended.
enum End {
    /// The exchange holds the order (final): book what executed.
    Executed(Box<Order>),
    /// Not placed, for this reason: cancel it.
    Refused(String),
    /// A ban (HTTP 418) answering the order itself: not placed; cancel and
    /// halt.
    Banned(RestError),
    /// A ban answering a query for an order whose fate is unknown: halt,
    /// leave it pending.
    BannedUnknown(RestError),
    /// The exchange holds an order under its id that is not it (see
    /// [`check_found`]): cancel it unbooked and halt.
    Mismatch(String),
    /// The exchange refused the key or signature: nothing was placed;
    /// cancel it and stop trading.
    CredentialsRefused(Refusal),
    /// A stop was asked: leave it pending.
    Stopped,
    /// A limit order rests on the exchange (its report): book what
    /// executed so far, leave the rest pending.
    Working(Box<Order>),
}

/// What a look for an order found.
enum Found {
    Order(Order),
    Absent,
    Banned(RestError),
    Stopped,
}
