//! Live execution (`orchestrator.mode: live`): the orders the book decides
//! are placed on Binance spot through [`BinanceRest`], and what the exchange
//! executed is written back to the ledger.
//!
//! **Write-ahead.** The `Order` entry (the decision) is appended and
//! fsync'd, then the quantity is rounded by the symbol's filters and a
//! `Sent` entry records exactly what the request carries — the quantity and
//! the [`client_order_id`] made of the engine, the ledger's random id
//! ([`Entry::LedgerId`], written once per ledger) and the signal's sequence
//! number — and is fsync'd before the request is sent. A retried or
//! restarted order is the same order to the exchange; another ledger's
//! orders never share its id. Its outcome becomes a `Fill` (executed
//! quantity, average price `cummulativeQuoteQty / executedQty`, fee) or a
//! `Cancelled` (nothing executed, or refused) through
//! [`Execution::apply_fill`] / [`Execution::cancel_pending`].
//!
//! **Never resend blindly.** When a reply is lost (5XX, timeout) and at
//! every start with an unsettled order in the ledger, the order is first
//! queried by its client order id. It is sent again (same id) only when the
//! exchange has no such order (-2013) *and* the request's `recvWindow` has
//! passed since it could last have been sent: Binance refuses a request that
//! arrives later than its timestamp plus `recvWindow`, so an order absent
//! then can no longer appear. An order with no `Sent` entry was never sent
//! (unless an older build wrote it, before the ledger had an id: that one
//! is looked up under the old id scheme first).
//!
//! **Never book another order.** An order found by id is checked against
//! the ledger ([`check_found`]: side, the quantity sent, made after the
//! `Sent` entry). One that differs is never booked: the pending order is
//! cancelled in the ledger and trading halts (`order_mismatch`, persistent,
//! no order at all until `orchestrator.risk.clear_halt`), the reason naming
//! both orders.
//!
//! **Permanent refusals.** Missing credentials and a key or signature the
//! exchange refuses (-2014, -2015, -1022) are not retried: the orchestrator
//! stops trading and stays up, unready, with the reason in `/readyz` and
//! `/status` ([`Refusal`]), rather than exiting into a restart loop.
//!
//! **Fees.** The `FULL` reply lists each trade's commission and its asset.
//! A commission in the quote asset is the fill's fee. One in the base asset
//! (a buy's usual case) reduces the base received: the fill books the net
//! quantity at the average price and the commission's value at that price as
//! the fee, so the ledger's cash moves by exactly `cummulativeQuoteQty` and
//! its position by what the account received. A commission in another asset
//! (BNB) is not booked (the ledger holds only the symbol's two assets) and
//! is logged. A reply that does not list every trade of what executed (a
//! query's reply lists none; a working order's first reply only its first)
//! is completed from `GET /api/v3/myTrades?orderId=` before booking. Only
//! when that list stays incomplete or unreadable is the fill booked with the
//! commissions it has (logged), and the balance check shows the difference.
//!
//! **Faults.** 429: wait `Retry-After` (beating the heartbeat, honouring a
//! stop), then retry. 418: the ledger gets a persistent `ExchangeBan` halt
//! and no request is sent until `orchestrator.risk.clear_halt`. -1021 has
//! been resynced and retried once by the client; a second one is retried
//! after a pause a few times. Refusals (balance, signature, key, filters,
//! bad parameters) are not retried: the order ends `Cancelled` with the
//! error. A new order the exchange reports `NEW`/`PARTIALLY_FILLED` is
//! polled until final (bounded), then cancelled, and what executed recorded.
//!
//! **Balances** are read at startup and after each fill and checked against
//! the ledger (see [`Balances`](aegis_contract::api::Balances)); a mismatch is a metric, an error log line
//! and `/status`'s `balances`, never fatal.

mod booking;

use std::time::{Duration, Instant};

use anyhow::Context;
use prometheus::{GaugeVec, IntCounter, IntCounterVec, IntGauge};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::{count, lock, publish_snapshot, State};
use crate::config::{Config, Interval};
use crate::store::Ledger;
use aegis_contract::api::Refusal;
use aegis_engine::ledger::Entry;
use aegis_engine::trading::{price_from_f64, Execution, Pending, Side};
use aegis_exchange::rest::ban::ban_file_in;
use aegis_exchange::rest::{client_order_id, legacy_client_order_id, Order, Side as RestSide};
use aegis_exchange::{BinanceRest, Credentials, RestError, SymbolFilters};
use aegis_runtime::metrics::MetricsBuilder;
use aegis_runtime::StopFlag;
use booking::now_ms;
pub use booking::{book_fill, check_found, reconcile, BookedFill, Unbookable, CLOCK_MARGIN_MS};

/// How often an order the exchange reports still working is polled.
const POLL_EVERY: Duration = Duration::from_millis(200);
/// How many polls before a working market order is cancelled.
const POLLS: u32 = 50;
/// Margin added to `recvWindow` before an absent order is declared never placed.
const WINDOW_MARGIN: Duration = Duration::from_millis(1000);
/// Pause between attempts after a repeated -1021 or a failed query.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// Attempts of a startup request whose reply was lost.
const STARTUP_ATTEMPTS: u32 = 5;
/// Attempts on a repeated -1021 before the order is given up.
const TIMESTAMP_ATTEMPTS: u32 = 3;
/// Attempts at reading an order's whole trade list before its fill is
/// booked without it.
const TRADE_LIST_ATTEMPTS: u32 = 5;

/// The exchange metrics of the orchestrator (registered in every mode;
/// they stay at zero in paper mode).
pub struct ExchangeMetrics {
    used_weight: IntGauge,
    errors: IntCounterVec,
    orders_sent: IntCounter,
    balance: GaugeVec,
    mismatch: GaugeVec,
}

impl ExchangeMetrics {
    /// Registers them with `m`.
    pub fn new(m: &MetricsBuilder) -> prometheus::Result<Self> {
        Ok(ExchangeMetrics {
            used_weight: m.int_gauge(
                "exchange_used_weight",
                "Request weight used in the current minute, as Binance last reported it (X-MBX-USED-WEIGHT-1M).",
            )?,
            errors: m.counter_vec(
                "exchange_errors_total",
                "Failed exchange requests, by kind.",
                &["kind"],
            )?,
            orders_sent: m.counter(
                "exchange_orders_sent_total",
                "Order requests sent to the exchange (resends included).",
            )?,
            balance: m.gauge_vec(
                "exchange_balance",
                "The exchange balance (free + locked) of the symbol's assets, as last read.",
                &["asset"],
            )?,
            mismatch: m.gauge_vec(
                "balance_mismatch",
                "1 while the ledger holds more of the asset than the exchange account.",
                &["asset"],
            )?,
        })
    }

    fn error(&self, e: &RestError) {
        self.errors.with_label_values(&[error_kind(e)]).inc();
    }
}

/// A short label for each kind of [`RestError`].
pub fn error_kind(e: &RestError) -> &'static str {
    match e {
        RestError::Timestamp { .. } => "timestamp",
        RestError::BadSignature { .. } => "bad_signature",
        RestError::BadApiKey { .. } => "bad_api_key",
        RestError::FilterFailure { .. } => "filter_failure",
        RestError::InsufficientBalance { .. } => "insufficient_balance",
        RestError::OrderRejected { .. } => "order_rejected",
        RestError::UnknownOrder { .. } => "unknown_order",
        RestError::RateLimited { .. } => "rate_limited",
        RestError::Banned { .. } => "banned",
        RestError::Unknown { .. } => "status_unknown",
        RestError::Rejected { .. } => "rejected",
        RestError::Malformed { .. } => "malformed",
        RestError::ExchangeInfo(_) => "exchange_info",
        RestError::Klines(_) => "klines",
        RestError::NoCredentials => "no_credentials",
        RestError::Sign(_) => "sign",
    }
}

/// The reason of the halt an exchange ban writes.
pub fn ban_reason(e: &RestError) -> String {
    format!("exchange ban: {e}; no request is sent until orchestrator.risk.clear_halt")
}

/// What happened to the pending order.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It is settled (filled or cancelled) or there was none.
    Settled,
    /// It stays pending: a stop was asked, or trading is banned.
    Unsettled,
}

/// The connection to the exchange and what live execution needs of it.
pub struct Live {
    client: BinanceRest,
    filters: SymbolFilters,
    engine: String,
    /// The ledger's id: part of every client order id.
    ledger_id: String,
    /// The signal of a pending order that a build before ledger ids wrote
    /// (and may have sent under [`legacy_client_order_id`]).
    legacy_pending: Option<u64>,
    interval: Interval,
    /// `orchestrator.max_signal_age_secs`: an order found never sent after
    /// a restart is sent only if its candle is still this fresh.
    max_age: Duration,
}

/// Reads the credentials; the first thing live mode does, before anything
/// else can fail or log. Missing ones are a permanent [`Refusal`].
pub fn credentials() -> Result<Credentials, Refusal> {
    Credentials::from_env().map_err(|e| Refusal::credentials_missing(e.to_string()))
}

/// The ledger's id: the one it holds, or a new random one appended now
/// (before the first live order). Also returns the signal of `pending` when
/// an older build wrote it (before the ledger had an id) and may have sent
/// it under [`legacy_client_order_id`].
pub fn ensure_ledger_id(
    entries: &[Entry],
    pending: Option<&Pending>,
    ledger: &mut Ledger,
) -> anyhow::Result<(String, Option<u64>)> {
    let first_id = entries
        .iter()
        .position(|e| matches!(e, Entry::LedgerId { .. }));
    let legacy = pending
        .filter(|p| p.sent.is_none())
        .map(|p| p.signal_seq)
        .filter(|&seq| {
            let written = entries
                .iter()
                .position(|e| matches!(e, Entry::Order { signal_seq, .. } if *signal_seq == seq));
            written.is_some_and(|at| first_id.is_none_or(|id_at| at < id_at))
        });
    if let Some(id) = aegis_engine::ledger::ledger_id(entries) {
        return Ok((id.to_string(), legacy));
    }
    let id = crate::store::new_ledger_id().context("drawing the ledger's random id")?;
    ledger
        .append(&[Entry::LedgerId {
            id: id.clone(),
            ts_ms: now_ms(),
        }])
        .context("appending the ledger's id")?;
    tracing::info!(ledger_id = %id, "the ledger has a new id: client order ids are made of it");
    Ok((id, legacy))
}

/// The permanent refusal `e` means, if it is one: a key or signature the
/// exchange refuses (-2014, -2015, -1022).
fn refusal_of(e: &RestError) -> Option<Refusal> {
    matches!(
        e,
        RestError::BadSignature { .. } | RestError::BadApiKey { .. }
    )
    .then(|| Refusal::credentials_rejected(e.to_string()))
}

impl Live {
    /// Connects: the client, the server time, the symbol's filters; a 429
    /// is waited out and a lost reply retried a few times. `None` when a
    /// stop was asked meanwhile. An error of type [`RestError`]
    /// `Banned` means the caller must halt for the ban.
    pub(super) fn connect(
        config: &Config,
        credentials: Credentials,
        (ledger_id, legacy_pending): (String, Option<u64>),
        state: &State,
        stop: &StopFlag,
    ) -> anyhow::Result<Option<Live>> {
        let base = config.exchange.rest_base();
        let recv_window = u32::try_from(config.exchange.recv_window_ms).unwrap_or(u32::MAX);
        let client = BinanceRest::new(
            &base,
            credentials.api_key,
            &credentials.api_secret,
            config.exchange.timeout(),
        )?
        .with_recv_window_ms(recv_window)
        .with_ban_file(ban_file_in(&config.rings.dir));
        let Some(offset) = startup_call(state, stop, || client.sync_time())
            .with_context(|| format!("reading the server time of {base}"))?
        else {
            return Ok(None);
        };
        let Some(filters) = startup_call(state, stop, || client.exchange_info(&config.symbol))
            .with_context(|| format!("reading the filters of {} from {base}", config.symbol))?
        else {
            return Ok(None);
        };
        tracing::info!(rest = %base, symbol = %config.symbol, base_asset = %filters.base_asset, quote_asset = %filters.quote_asset, time_offset_ms = offset, "connected to the exchange for live orders");
        Ok(Some(Live {
            client,
            filters,
            engine: config.engine.clone(),
            ledger_id,
            legacy_pending,
            interval: config.interval,
            max_age: config.max_signal_age(),
        }))
    }

    /// The exchange's clock as estimated from the synced offset, ms.
    pub(super) fn server_now_ms(&self) -> i64 {
        self.client.server_now_ms()
    }

    /// Sizes the book's orders in the symbol's quantity step when it is
    /// coarser than `orchestrator.qty_step` (see
    /// [`Execution::use_exchange_step`]).
    pub(super) fn adopt_step(&self, exec: &mut Execution) {
        let configured = exec.params().qty_step;
        if let Some(step) = self.filters.quantity_step() {
            if exec.use_exchange_step(step) {
                tracing::warn!(configured = %configured, exchange = %step, "orchestrator.qty_step is finer than the symbol's LOT_SIZE step: orders are sized in the exchange's step");
            }
        }
    }

    /// Halts for a ban met before the connection was made.
    pub(super) fn ban_at_startup(
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        e: &RestError,
    ) -> anyhow::Result<()> {
        tracing::error!(error = %e, "the exchange banned this IP at startup");
        let entries = exec.halt_for_ban(&ban_reason(e), now_ms());
        append(ledger, state, entries)?;
        publish_snapshot(state, exec);
        Ok(())
    }

    fn show_weight(&self, state: &State) {
        let weight = i64::try_from(self.client.used_weight()).unwrap_or(i64::MAX);
        state.metrics.exchange.used_weight.set(weight);
    }

    /// Reads the balances and checks them against the ledger (see
    /// [`Balances`](aegis_contract::api::Balances)). `Err` only for a ledger failure
    /// or a signature or key refusal (a [`Refusal`]: the caller stops
    /// trading); a ban halts here.
    pub(super) fn check_balances(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
    ) -> anyhow::Result<()> {
        if exec.banned() {
            return Ok(());
        }
        let account = self.client.account();
        self.show_weight(state);
        let account = match account {
            Ok(a) => a,
            Err(e) => {
                state.metrics.exchange.error(&e);
                if let Some(refusal) = refusal_of(&e) {
                    return Err(refusal.into());
                }
                if e.must_halt() {
                    self.ban(exec, ledger, state, &e)?;
                } else {
                    tracing::warn!(error = %e, "could not read the account balances");
                }
                return Ok(());
            }
        };
        let balances = reconcile(&self.filters, &account, exec);
        let m = &state.metrics.exchange;
        for (asset, b) in [
            (
                &balances.base_asset,
                balances.base_free + balances.base_locked,
            ),
            (
                &balances.quote_asset,
                balances.quote_free + balances.quote_locked,
            ),
        ] {
            m.balance
                .with_label_values(&[asset.as_str()])
                .set(b.to_f64().unwrap_or(f64::NAN));
        }
        let bad = |asset: &str| {
            let prefix = format!("{asset}:");
            balances.mismatches.iter().any(|s| s.starts_with(&prefix))
        };
        for asset in [&balances.base_asset, &balances.quote_asset] {
            m.mismatch
                .with_label_values(&[asset.as_str()])
                .set(if bad(asset) { 1.0 } else { 0.0 });
        }
        for mismatch in &balances.mismatches {
            tracing::error!(mismatch = %mismatch, "the exchange balances do not cover the ledger");
        }
        *lock(&state.balances) = Some(balances);
        Ok(())
    }

    fn ban(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        e: &RestError,
    ) -> anyhow::Result<()> {
        let entries = exec.halt_for_ban(&ban_reason(e), now_ms());
        if !entries.is_empty() {
            ledger
                .append(&entries)
                .context("appending the exchange ban to the ledger")?;
            count(&state.metrics, &entries, &[], &[]);
        }
        publish_snapshot(state, exec);
        Ok(())
    }

    /// Settles the pending order, if any: sends it (`fresh`: just decided)
    /// or first looks for it (a restart), and appends its `Sent`, `Fill` or
    /// `Cancelled` (and a halt when the exchange holds another order under
    /// its id). `price` is the reference price for the notional filters
    /// (the deciding bar's close).
    ///
    /// `Err` is a ledger failure, an exchange error that leaves the order's
    /// fate unknown (the caller stops and a restart looks again), or a
    /// [`Refusal`] of the credentials (the caller stops trading).
    pub(super) fn settle(
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
        let settled = match ends {
            End::Executed(found) => match self.with_trades(state, stop, *found) {
                Some((found, ban)) => {
                    self.record(exec, ledger, state, &order, &found)?;
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
        };
        publish_snapshot(state, exec);
        Ok(if settled {
            Outcome::Settled
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
        let reference = price.unwrap_or(Decimal::ZERO);
        let qty = match self.filters.market_quantity(order.qty, reference) {
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
        super::is_stale(order.ts_ms, interval_ms, self.max_age, self.server_now_ms()).then(|| {
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
        Ok(End::Executed(Box::new(
            self.until_final(state, stop, found)?,
        )))
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
        let side = match order.side {
            Side::Buy => RestSide::Buy,
            Side::Sell => RestSide::Sell,
        };
        let mut timestamp_errors = 0;
        loop {
            if stop.is_set() {
                return Ok(End::Stopped);
            }
            state.heartbeat.beat();
            let sent_at = Instant::now();
            state.metrics.exchange.orders_sent.inc();
            tracing::info!(signal_seq = order.signal_seq, client_order_id = %id, side = %side, qty = %qty, "sending the order");
            let reply = self
                .client
                .place_market_order(&self.filters.symbol, side, qty, id);
            self.show_weight(state);
            let e = match reply {
                Ok(placed) => {
                    return Ok(End::Executed(Box::new(
                        self.until_final(state, stop, placed)?,
                    )))
                }
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
    fn with_trades(
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
    fn record(
        &self,
        exec: &mut Execution,
        ledger: &mut Ledger,
        state: &State,
        order: &Pending,
        found: &Order,
    ) -> anyhow::Result<()> {
        let ts = now_ms();
        if found.executed_qty <= Decimal::ZERO {
            let reason = format!(
                "the exchange reports order {} {} with nothing executed",
                found.client_order_id, found.status
            );
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

fn append(ledger: &mut Ledger, state: &State, entries: Vec<Entry>) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    ledger
        .append(&entries)
        .context("appending the exchange's answer to the ledger")?;
    count(&state.metrics, &entries, &[], &[]);
    Ok(())
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
}

/// What a look for an order found.
enum Found {
    Order(Order),
    Absent,
    Banned(RestError),
    Stopped,
}

/// A startup request: a 429 is waited out, a lost reply (5XX, timeout)
/// retried up to [`STARTUP_ATTEMPTS`] times; `None` on a stop.
fn startup_call<T>(
    state: &State,
    stop: &StopFlag,
    mut call: impl FnMut() -> Result<T, RestError>,
) -> Result<Option<T>, RestError> {
    let mut attempts = 0;
    loop {
        let e = match call() {
            Ok(v) => return Ok(Some(v)),
            Err(e) => e,
        };
        state.metrics.exchange.error(&e);
        attempts += 1;
        let wait = match &e {
            RestError::RateLimited { retry_after } => *retry_after,
            RestError::Unknown { .. } if attempts < STARTUP_ATTEMPTS => RETRY_PAUSE,
            _ => return Err(e),
        };
        tracing::warn!(error = %e, "an exchange request at startup failed; retrying");
        if !pause(wait, state, stop) {
            return Ok(None);
        }
    }
}

/// Sleeps `d` in short steps, beating the heartbeat; false if a stop was
/// asked meanwhile.
fn pause(d: Duration, state: &State, stop: &StopFlag) -> bool {
    let until = Instant::now() + d;
    loop {
        state.heartbeat.beat();
        if stop.is_set() {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(100)));
    }
}
