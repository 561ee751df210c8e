//! A blocking Binance Spot REST client ([`BinanceRest`]) for the worker's
//! threads: server time sync, SIGNED requests, typed errors
//! ([`RestError`]), the used request weight, and the endpoints the engine
//! needs (time, exchangeInfo, klines, account, order place / query /
//! cancel, and, in `resting.rs`, the resting orders: LIMIT, stops, OCO
//! lists, open orders and lists). The base URL is configuration: `https://api.binance.com`, the
//! spot testnet `https://testnet.binance.vision`, or a local simulator.
//!
//! What the caller must do with the errors: [`RestError::RateLimited`]
//! carries the wait (sleep, then retry); [`RestError::Banned`] means halt
//! trading; [`RestError::Unknown`] (5XX, timeout) means the order may exist,
//! so [`BinanceRest::query_order`] by client order id before any resend;
//! refusals (balance, signature, key, filters) are never retried.
//!
//! A client given the ring directory's ban file ([`BinanceRest::with_ban_file`],
//! see [`ban`]) records every 418 there and sends nothing while a ban any
//! role recorded is in force: the caller gets [`RestError::Banned`] with the
//! wait that is left, as if Binance had answered.

pub mod ban;
mod error;
mod exit_order;
mod http;
mod order;
mod order_list;
mod resting;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{KlineParser, RestKlines, Signer, SymbolFilters};
use aegis_contract::config::{Interval, Secret, REDACTED};
use http::Method;

pub use ban::{Ban, SharedBan};
pub use error::RestError;
pub use exit_order::{Oco, StopKind, StopOrder, StopTrigger};
pub use order::{
    client_order_id, exit_client_order_id, legacy_client_order_id, Balance, Order, OrderFill,
    OrderType, Side, MAX_CLIENT_ORDER_ID_LEN,
};
pub use order_list::{ListedOrder, OrderList};

/// The `recvWindow` sent with SIGNED requests by default, ms.
pub const RECV_WINDOW_MS: u32 = 5000;
/// The most klines one request may ask for.
pub const MAX_KLINES_LIMIT: u16 = 1000;

/// A Binance Spot REST client. Shareable between threads: the time offset
/// and the used weight are atomics.
pub struct BinanceRest {
    base_url: String,
    /// The key and signer; `None` for a market-data-only client.
    keys: Option<(Secret, Signer)>,
    recv_window_ms: u32,
    agent: ureq::Agent,
    offset_ms: AtomicI64,
    used_weight: AtomicU64,
    /// The ban shared with the other roles, when given.
    ban: Option<SharedBan>,
}

impl fmt::Debug for BinanceRest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BinanceRest")
            .field("base_url", &self.base_url)
            .field("api_key", &REDACTED)
            .field("offset_ms", &self.offset_ms)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ServerTime {
    #[serde(rename = "serverTime")]
    server_time: i64,
}

#[derive(Deserialize)]
struct AccountBalance {
    asset: String,
    free: Decimal,
    locked: Decimal,
}

#[derive(Deserialize)]
struct Account {
    balances: Vec<AccountBalance>,
}

/// One row of `GET /api/v3/myTrades`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountTrade {
    order_id: u64,
    price: Decimal,
    qty: Decimal,
    commission: Decimal,
    commission_asset: String,
}

fn local_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn parse<'a, T: Deserialize<'a>>(endpoint: &'static str, body: &'a [u8]) -> Result<T, RestError> {
    serde_json::from_slice(body).map_err(|e| RestError::Malformed {
        endpoint,
        detail: e.to_string(),
    })
}

impl BinanceRest {
    /// A client of `base_url` (no trailing `/api`: `https://testnet.binance.vision`;
    /// see [`aegis_contract::config::ExchangeConfig::rest_base`]) with these
    /// credentials and a per-request `timeout`. An empty secret is refused.
    /// The server time offset starts at zero: call
    /// [`BinanceRest::sync_time`] first.
    pub fn new(
        base_url: &str,
        api_key: Secret,
        api_secret: &Secret,
        timeout: Duration,
    ) -> Result<Self, RestError> {
        let mut client = BinanceRest::market_data(base_url, timeout);
        client.keys = Some((api_key, Signer::new(api_secret)?));
        Ok(client)
    }

    /// A client for public market data only (time, exchangeInfo, klines):
    /// what the feed uses. Its SIGNED requests fail with
    /// [`RestError::NoCredentials`].
    pub fn market_data(base_url: &str, timeout: Duration) -> Self {
        BinanceRest {
            base_url: base_url.trim_end_matches('/').to_owned(),
            keys: None,
            recv_window_ms: RECV_WINDOW_MS,
            agent: http::agent(timeout),
            offset_ms: AtomicI64::new(0),
            used_weight: AtomicU64::new(0),
            ban: None,
        }
    }

    /// Shares IP bans through the file at `path` (the ring directory's
    /// [`ban::BAN_FILE`]): a 418 met here is recorded there, and no request
    /// is sent while a recorded ban is in force.
    pub fn with_ban_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ban = Some(SharedBan::at(path));
        self
    }

    /// The wait left of a ban recorded in the shared ban file, if one is
    /// in force (never without [`BinanceRest::with_ban_file`]).
    pub fn ban_remaining(&self) -> Option<Duration> {
        self.ban.as_ref()?.remaining(local_ms())
    }

    /// Sends one request unless a shared ban is in force; records a 418.
    fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        api_key: Option<&str>,
    ) -> Result<Vec<u8>, RestError> {
        if let Some(wait) = self.ban_remaining() {
            return Err(RestError::Banned {
                retry_after: Some(wait),
            });
        }
        let reply = http::send(
            &self.agent,
            &self.base_url,
            method,
            path,
            query,
            api_key,
            &self.used_weight,
        );
        if let (Err(e @ RestError::Banned { retry_after }), Some(shared)) = (&reply, &self.ban) {
            let wait = retry_after.unwrap_or(ban::DEFAULT_BAN);
            let until_ms =
                local_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
            let recorded = shared.record(&Ban {
                until_ms,
                reason: e.to_string(),
            });
            match recorded {
                Ok(()) => {
                    tracing::warn!(path = %shared.path().display(), wait_ms = wait.as_millis() as u64, "IP banned by the exchange: recorded for every role")
                }
                Err(e) => {
                    tracing::error!(error = %e, "IP banned by the exchange; the other roles cannot be told")
                }
            }
        }
        reply
    }

    /// The `recvWindow` of SIGNED requests, ms: a request that reaches
    /// Binance later than its timestamp plus this is refused, so an order
    /// whose reply was lost can no longer be placed once it has passed.
    pub fn recv_window_ms(&self) -> u32 {
        self.recv_window_ms
    }

    /// Sets the `recvWindow` of SIGNED requests (Binance allows up to 60000 ms).
    pub fn with_recv_window_ms(mut self, recv_window_ms: u32) -> Self {
        self.recv_window_ms = recv_window_ms;
        self
    }

    /// The last `X-MBX-USED-WEIGHT-1M` Binance reported (0 before any reply).
    pub fn used_weight(&self) -> u64 {
        // Relaxed: a standalone gauge; nothing else is read through it.
        self.used_weight.load(Ordering::Relaxed)
    }

    /// The tracked server-minus-local clock offset, ms.
    pub fn time_offset_ms(&self) -> i64 {
        // Relaxed: the offset is one self-contained value; any recent one will do.
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// The server's clock as estimated locally, ms since the epoch.
    pub fn server_now_ms(&self) -> i64 {
        local_ms() + self.time_offset_ms()
    }

    fn public(&self, path: &str, query: &str) -> Result<Vec<u8>, RestError> {
        self.send(Method::Get, path, query, None)
    }

    /// A SIGNED request; on -1021 the time is resynced and the request is
    /// signed and sent once more.
    fn signed(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<u8>, RestError> {
        match self.signed_once(method, path, params) {
            Err(RestError::Timestamp { .. }) => {
                self.sync_time()?;
                self.signed_once(method, path, params)
            }
            other => other,
        }
    }

    fn signed_once(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<Vec<u8>, RestError> {
        let (api_key, signer) = self.keys.as_ref().ok_or(RestError::NoCredentials)?;
        let timestamp = u64::try_from(self.server_now_ms()).unwrap_or(0);
        let query = signer.signed_query(params, timestamp, self.recv_window_ms);
        self.send(method, path, &query, Some(api_key.expose()))
    }

    /// `GET /api/v3/time`: the server's clock, ms since the epoch.
    pub fn server_time(&self) -> Result<i64, RestError> {
        let body = self.public("/api/v3/time", "")?;
        Ok(parse::<ServerTime>("/api/v3/time", &body)?.server_time)
    }

    /// Measures the server-minus-local offset (server time against the
    /// midpoint of the request), stores it and returns it.
    pub fn sync_time(&self) -> Result<i64, RestError> {
        let before = local_ms();
        let server = self.server_time()?;
        let after = local_ms();
        let offset = server - (before + (after - before) / 2);
        // Relaxed: one self-contained value, no other memory depends on it.
        self.offset_ms.store(offset, Ordering::Relaxed);
        Ok(offset)
    }

    /// `GET /api/v3/exchangeInfo?symbol=`: the symbol's filters.
    pub fn exchange_info(&self, symbol: &str) -> Result<SymbolFilters, RestError> {
        let body = self.public("/api/v3/exchangeInfo", &format!("symbol={symbol}"))?;
        Ok(SymbolFilters::from_exchange_info(&body, symbol)?)
    }

    /// `GET /api/v3/klines`: the closed candles opened in `[start_ms,
    /// end_ms]` (either bound optional), at most `limit` (capped at 1000),
    /// with the rows left out as bad (see [`KlineParser::parse_rest`]).
    pub fn klines(
        &self,
        symbol: &str,
        interval: Interval,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
        limit: u16,
    ) -> Result<RestKlines, RestError> {
        let mut query = format!(
            "symbol={symbol}&interval={interval}&limit={}",
            limit.clamp(1, MAX_KLINES_LIMIT)
        );
        if let Some(start) = start_ms {
            query.push_str(&format!("&startTime={start}"));
        }
        if let Some(end) = end_ms {
            query.push_str(&format!("&endTime={end}"));
        }
        let body = self.public("/api/v3/klines", &query)?;
        let parser = KlineParser::new(symbol, interval);
        Ok(parser.parse_rest(&body, self.server_now_ms())?)
    }

    /// `GET /api/v3/account` (SIGNED): balances by asset.
    pub fn account(&self) -> Result<BTreeMap<String, Balance>, RestError> {
        let body = self.signed(
            Method::Get,
            "/api/v3/account",
            &[("omitZeroBalances", "false")],
        )?;
        let account: Account = parse("/api/v3/account", &body)?;
        Ok(account
            .balances
            .into_iter()
            .map(|b| {
                (
                    b.asset,
                    Balance {
                        free: b.free,
                        locked: b.locked,
                    },
                )
            })
            .collect())
    }

    /// `POST /api/v3/order` (SIGNED): a MARKET order of `quantity` base
    /// units with `client_order_id` (see [`client_order_id`]), asking for the
    /// `FULL` reply (its trades and commissions in [`Order::fills`]). On
    /// [`RestError::Unknown`] the order may exist: query it before resending.
    pub fn place_market_order(
        &self,
        symbol: &str,
        side: Side,
        quantity: Decimal,
        client_order_id: &str,
    ) -> Result<Order, RestError> {
        let side = side.to_string();
        let quantity = quantity.normalize().to_string();
        let params = [
            ("symbol", symbol),
            ("side", side.as_str()),
            ("type", "MARKET"),
            ("quantity", quantity.as_str()),
            ("newClientOrderId", client_order_id),
            ("newOrderRespType", "FULL"),
        ];
        let body = self.signed(Method::Post, "/api/v3/order", &params)?;
        parse("/api/v3/order", &body)
    }

    /// `GET /api/v3/order` (SIGNED) by client order id: `None` when Binance
    /// has no such order (-2013).
    pub fn query_order(
        &self,
        symbol: &str,
        client_order_id: &str,
    ) -> Result<Option<Order>, RestError> {
        let params = [("symbol", symbol), ("origClientOrderId", client_order_id)];
        match self.signed(Method::Get, "/api/v3/order", &params) {
            Ok(body) => parse("/api/v3/order", &body).map(Some),
            Err(RestError::Rejected { code: -2013, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v3/myTrades?orderId=` (SIGNED): the trades of exchange
    /// order `order_id` with their commissions, oldest first (the trade
    /// list of an order whose reply listed none, such as a query's).
    pub fn order_trades(&self, symbol: &str, order_id: u64) -> Result<Vec<OrderFill>, RestError> {
        let order_id_text = order_id.to_string();
        let params = [
            ("symbol", symbol),
            ("orderId", order_id_text.as_str()),
            ("limit", "1000"),
        ];
        let body = self.signed(Method::Get, "/api/v3/myTrades", &params)?;
        let rows: Vec<AccountTrade> = parse("/api/v3/myTrades", &body)?;
        Ok(rows
            .into_iter()
            .filter(|t| t.order_id == order_id)
            .map(|t| OrderFill {
                price: t.price,
                qty: t.qty,
                commission: t.commission,
                commission_asset: t.commission_asset,
            })
            .collect())
    }

    /// `DELETE /api/v3/order` (SIGNED) by client order id: the cancelled
    /// order; [`RestError::UnknownOrder`] when none is open.
    pub fn cancel_order(&self, symbol: &str, client_order_id: &str) -> Result<Order, RestError> {
        let params = [("symbol", symbol), ("origClientOrderId", client_order_id)];
        let body = self.signed(Method::Delete, "/api/v3/order", &params)?;
        parse("/api/v3/order", &body)
    }
}
