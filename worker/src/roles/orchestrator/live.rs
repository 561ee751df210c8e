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
mod exchange_metrics;
mod orders;
mod retry;
mod venue;

use std::time::Duration;

use anyhow::Context;
use rust_decimal::prelude::ToPrimitive;

use super::metrics::count;
use super::state::{lock, publish_snapshot, State};
use crate::config::{Config, Interval};
use crate::store::Ledger;
use aegis_contract::api::Refusal;
use aegis_engine::ledger::Entry;
use aegis_engine::trading::{Execution, Pending};
use aegis_exchange::rest::ban::ban_file_in;
use aegis_exchange::{BinanceRest, Credentials, RestError, SymbolFilters};
use aegis_runtime::StopFlag;
use booking::now_ms;
pub use booking::{book_fill, check_found, reconcile, BookedFill, Unbookable, CLOCK_MARGIN_MS};
pub use exchange_metrics::{ban_reason, error_kind, ExchangeMetrics};
use orders::append;
use retry::startup_call;
pub use venue::{BinanceSpot, BINANCE};

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
}
