//! A Binance Spot exchange simulator for tests: the REST subset the engine
//! uses (`time`, `exchangeInfo`, `klines`, `account`, `order` place / query /
//! cancel, `myTrades`, resting LIMIT and stop orders, OCO `orderList`s,
//! `openOrders`, `openOrderList`), SIGNED requests checked as Binance documents them
//! (API key, HMAC-SHA256 signature, timestamp and recvWindow), filters and
//! balances enforced, commissions charged, and faults injected on demand
//! through [`ExchangeSim`]. It also serves the kline WebSocket stream
//! (`/ws/<symbol>@kline_<interval>`). Resting orders move with the candles a
//! test pushes ([`ExchangeSim::push_candle`]; the price path and fill rules
//! are in `matching.rs`).
//!
//! The server runs on its own thread and tokio runtime, so blocking clients
//! (the worker's threads) and async tests can both use it.

mod auth;
mod error;
mod market;
mod matching;
mod resting;
mod server;
mod state;
mod stream;
mod stream_state;
mod trade;

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rust_decimal::Decimal;

pub use auth::hmac_hex;
pub use error::ApiError;
pub use matching::path as candle_path;
pub use state::{
    Fault, SimCandle, SimConfig, SimOrder, SimOrderList, SimTrade, DEFAULT_ORDER_TYPES,
};
pub use stream::{StreamConfig, StreamFault};
pub use trade::valid_client_order_id;

use state::{lock, Shared};
use state::{QueuedFault, SimState};

/// A running simulator; stops when dropped.
pub struct ExchangeSim {
    addr: SocketAddr,
    shared: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ExchangeSim {
    /// Serves `config` on an ephemeral loopback port.
    pub fn start(config: SimConfig) -> std::io::Result<Self> {
        Self::start_at(config, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves `config` at `addr`.
    pub fn start_at(config: SimConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared: Shared = Arc::new(Mutex::new(SimState::new(config)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .route("/ws/{stream}", axum::routing::get(stream::upgrade))
            .fallback(server::handle)
            .with_state(Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("exchange-sim".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let _ = axum::serve(listener, app)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })?;
        Ok(ExchangeSim {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `count` requests answer with `fault` (after faults queued
    /// earlier are used up).
    pub fn inject(&self, fault: Fault, count: u32) {
        if count > 0 {
            lock(&self.shared).faults.push_back(QueuedFault {
                fault,
                left: count,
                path: None,
                pass: 0,
            });
        }
    }

    /// The next `count` requests to `path` (e.g. `/api/v3/myTrades`)
    /// answer with `fault`; requests to other paths pass it by.
    pub fn inject_at(&self, path: &str, fault: Fault, count: u32) {
        self.inject_at_after(path, 0, fault, count);
    }

    /// After `pass` more requests to `path` have been answered normally,
    /// the next `count` requests to it answer with `fault`: a fault in the
    /// middle of a client's run of requests (a download's pages).
    pub fn inject_at_after(&self, path: &str, pass: u32, fault: Fault, count: u32) {
        if count > 0 {
            lock(&self.shared).faults.push_back(QueuedFault {
                fault,
                left: count,
                path: Some(path.to_owned()),
                pass,
            });
        }
    }

    /// Sets the server clock to the local clock plus `skew_ms`.
    pub fn set_clock_skew_ms(&self, skew_ms: i64) {
        lock(&self.shared).config.clock_skew_ms = skew_ms;
    }

    /// Replaces the candle series.
    pub fn set_candles(&self, candles: Vec<SimCandle>) {
        lock(&self.shared).config.candles = candles;
    }

    /// Sets the balance of `asset` (free plus what open orders lock).
    pub fn set_balance(&self, asset: &str, held: Decimal) {
        lock(&self.shared)
            .config
            .balances
            .insert(asset.into(), held);
    }

    /// The free balance of `asset`: what it holds (zero when it has none)
    /// less what open orders lock.
    pub fn balance(&self, asset: &str) -> Decimal {
        lock(&self.shared).free(asset)
    }

    /// What open orders lock of `asset`: a resting SELL its remaining base,
    /// a BUY its remaining quantity times its price, an OCO once.
    pub fn locked(&self, asset: &str) -> Decimal {
        lock(&self.shared).locked(asset)
    }

    /// Every order placed so far, in order.
    pub fn orders(&self) -> Vec<SimOrder> {
        lock(&self.shared).orders.clone()
    }

    /// Every trade so far, in order (each filled order has one).
    pub fn trades(&self) -> Vec<SimTrade> {
        lock(&self.shared).trades.clone()
    }

    /// How many requests it has received (faulted ones included).
    pub fn requests(&self) -> u64 {
        lock(&self.shared).requests
    }

    /// Its WebSocket base URL, `ws://127.0.0.1:<port>/ws` (the raw stream
    /// is `<ws_url>/<streamName>`), the form `exchange.ws_url` takes.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Advances the market by one candle: appends it to the history that
    /// `GET /api/v3/klines` serves, makes it the candle market orders fill
    /// at, sends every open stream two in-progress updates (`"x": false`)
    /// and then its closed event (`"x": true`), and walks its price path
    /// through every resting order (see [`candle_path`]: open → low → high
    /// → close for a candle closing above its open, open → high → low →
    /// close otherwise): limits fill, stops trigger and trail, OCO legs
    /// expire.
    pub fn push_candle(&self, candle: SimCandle) {
        let mut state = lock(&self.shared);
        stream::push(&mut state, candle.clone());
        matching::on_candle(&mut state, &candle);
    }

    /// The exchange cancels the open order `client_order_id` on its own
    /// (as in a delisting or a self-trade prevention): its status becomes
    /// `CANCELED`; the other leg of its OCO, if any, stays as it was, the
    /// inconsistency a client must notice. False when no open order has
    /// that id.
    pub fn cancel_order_by_exchange(&self, client_order_id: &str) -> bool {
        let mut state = lock(&self.shared);
        let now = state.now_ms();
        let Some(order) = state
            .orders
            .iter_mut()
            .rev()
            .find(|o| o.client_order_id == client_order_id && o.is_open())
        else {
            return false;
        };
        order.status = "CANCELED".into();
        order.update_ms = now;
        true
    }

    /// Every order list (OCO) placed so far, in order.
    pub fn order_lists(&self) -> Vec<SimOrderList> {
        lock(&self.shared).order_lists.clone()
    }

    /// The open order with `client_order_id`, if any.
    pub fn open_order(&self, client_order_id: &str) -> Option<SimOrder> {
        lock(&self.shared)
            .orders
            .iter()
            .find(|o| o.client_order_id == client_order_id && o.is_open())
            .cloned()
    }

    /// Applies a stream fault to every open connection at once.
    pub fn stream_fault(&self, fault: StreamFault) {
        lock(&self.shared).stream.apply(&fault);
    }

    /// While `refusing`, new stream connections are refused (HTTP 503), so
    /// candles pushed meanwhile are withheld from the stream and reach only
    /// the REST history.
    pub fn refuse_streams(&self, refusing: bool) {
        lock(&self.shared).stream.refusing = refusing;
    }

    /// Sets the stream's ping period, pong timeout and message limit for
    /// connections opened from now on.
    pub fn set_stream_config(&self, config: StreamConfig) {
        lock(&self.shared).stream.config = config;
    }

    /// Stream connections accepted so far (reconnects included).
    pub fn stream_connections(&self) -> u64 {
        lock(&self.shared).stream.accepted
    }

    /// Stream connections open now.
    pub fn open_streams(&self) -> usize {
        lock(&self.shared).stream.open()
    }

    /// The candle history, in open-time order.
    pub fn candles(&self) -> Vec<SimCandle> {
        lock(&self.shared).config.candles.clone()
    }
}

impl Drop for ExchangeSim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
