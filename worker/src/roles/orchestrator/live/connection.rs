//! The connection to the exchange: the [`Live`] handle (client, the
//! symbol's filters, the ledger's id), connecting at startup, the exchange's
//! clock, and the credentials and their permanent refusals.

use std::time::Duration;

use anyhow::Context;

use super::super::state::State;
use super::retry::startup_call;
use crate::config::{Config, Interval};
use aegis_contract::api::Refusal;
use aegis_engine::trading::Execution;
use aegis_exchange::rest::ban::ban_file_in;
use aegis_exchange::{BinanceRest, Credentials, RestError, SymbolFilters};
use aegis_runtime::StopFlag;

/// What happened to the pending order.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It is settled (filled or cancelled) or there was none.
    Settled,
    /// It stays pending: a stop was asked, or trading is banned.
    Unsettled,
    /// A limit order rests on the exchange (what executed of it so far is
    /// booked): it stays pending until it fills or its life ends.
    Resting,
}

/// The connection to the exchange and what live execution needs of it.
pub struct Live {
    pub(super) client: BinanceRest,
    pub(super) filters: SymbolFilters,
    pub(super) engine: String,
    /// The ledger's id: part of every client order id.
    pub(super) ledger_id: String,
    /// The signal of a pending order that a build before ledger ids wrote
    /// (and may have sent under
    /// [`legacy_client_order_id`](aegis_exchange::rest::legacy_client_order_id)).
    pub(super) legacy_pending: Option<u64>,
    pub(super) interval: Interval,
    /// `orchestrator.max_signal_age_secs`: an order found never sent after
    /// a restart is sent only if its candle is still this fresh.
    pub(super) max_age: Duration,
}

/// Reads the credentials; the first thing live mode does, before anything
/// else can fail or log. Missing ones are a permanent [`Refusal`].
pub fn credentials() -> Result<Credentials, Refusal> {
    Credentials::from_env().map_err(|e| Refusal::credentials_missing(e.to_string()))
}

/// The permanent refusal `e` means, if it is one: a key or signature the
/// exchange refuses (-2014, -2015, -1022).
pub(super) fn refusal_of(e: &RestError) -> Option<Refusal> {
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
    pub(in crate::roles::orchestrator) fn connect(
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
        let exits = &config.orchestrator.exits;
        if exits.any() {
            filters
                .check_order_types(&super::exit_orders::needs(exits))
                .with_context(|| {
                    format!(
                        "{} cannot hold the exits of orchestrator.exits on the exchange",
                        config.symbol
                    )
                })?;
        }
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
    pub(in crate::roles::orchestrator) fn server_now_ms(&self) -> i64 {
        self.client.server_now_ms()
    }

    /// Sizes the book's orders in the symbol's quantity step when it is
    /// coarser than `orchestrator.qty_step` (see
    /// [`Execution::use_exchange_step`]).
    pub(in crate::roles::orchestrator) fn adopt_step(&self, exec: &mut Execution) {
        let configured = exec.params().qty_step;
        if let Some(step) = self.filters.quantity_step() {
            if exec.use_exchange_step(step) {
                tracing::warn!(configured = %configured, exchange = %step, "orchestrator.qty_step is finer than the symbol's LOT_SIZE step: orders are sized in the exchange's step");
            }
        }
    }
}
