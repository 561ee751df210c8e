//! What the simulated exchange holds: its listing, candles, balances,
//! orders and order lists, clock skew, request weight and queued faults.

use std::sync::{Arc, Mutex, MutexGuard};

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rust_decimal::Decimal;

/// One candle of the simulated market.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimCandle {
    /// Open time, ms since the epoch.
    pub open_time_ms: i64,
    /// Open price.
    pub open: Decimal,
    /// High price.
    pub high: Decimal,
    /// Low price.
    pub low: Decimal,
    /// Close price: market orders fill at the current candle's close.
    pub close: Decimal,
    /// Base-asset volume.
    pub volume: Decimal,
}

impl SimCandle {
    /// `count` candles all trading at `price` (open = high = low = close,
    /// volume 1), `span_ms` apart, the last one opening at `last_open_ms`.
    pub fn flat_series(
        count: i64,
        span_ms: i64,
        last_open_ms: i64,
        price: Decimal,
    ) -> Vec<SimCandle> {
        (0..count)
            .rev()
            .map(|back| SimCandle {
                open_time_ms: last_open_ms - back * span_ms,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: Decimal::ONE,
            })
            .collect()
    }
}

/// How the simulator starts.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The one API key it knows.
    pub api_key: String,
    /// That key's secret.
    pub api_secret: String,
    /// The one listed symbol (`BTCUSDT`).
    pub symbol: String,
    /// Its base asset (`BTC`).
    pub base_asset: String,
    /// Its quote asset (`USDT`).
    pub quote_asset: String,
    /// The candle interval it serves (`1m`) and its length in ms.
    pub interval: (String, i64),
    /// LOT_SIZE: minQty, maxQty, stepSize.
    pub lot_size: (Decimal, Decimal, Decimal),
    /// PRICE_FILTER tickSize.
    pub tick_size: Decimal,
    /// NOTIONAL minNotional (applied to market orders).
    pub min_notional: Decimal,
    /// Balances by asset: what the account holds, free plus what its open
    /// orders lock ([`SimState::locked`]).
    pub balances: BTreeMap<String, Decimal>,
    /// Candles in open-time order, spaced by the interval.
    pub candles: Vec<SimCandle>,
    /// Server clock minus local clock, ms.
    pub clock_skew_ms: i64,
    /// When not 0, a MARKET order is accepted `NEW` with nothing executed
    /// and fills (at its placement price) on this many-th query of it.
    pub market_fill_after_queries: u32,
    /// The commission rate of a trade, charged as Binance charges it
    /// without BNB: in the asset received (a buy pays in base, a sell in
    /// quote), rounded down to 8 decimals. Binance's standard spot rate,
    /// 0.1 %, by default.
    pub commission_rate: Decimal,
    /// `orderTypes` in exchangeInfo; an order of another type is refused
    /// with Binance's -2010 message for it. Default: Binance's usual spot
    /// set `LIMIT`, `LIMIT_MAKER`, `MARKET`, `STOP_LOSS_LIMIT`,
    /// `TAKE_PROFIT_LIMIT`.
    pub order_types: Vec<String>,
    /// `ocoAllowed` (default true).
    pub oco_allowed: bool,
    /// `allowTrailingStop` (default true).
    pub allow_trailing_stop: bool,
    /// `PERCENT_PRICE_BY_SIDE`: bidMultiplierUp, bidMultiplierDown,
    /// askMultiplierUp, askMultiplierDown (default 5, 0.2, 5, 0.2), applied
    /// to a limit `price` around the current candle's close (the simulator's
    /// stand-in for Binance's average price).
    pub percent_price_by_side: (Decimal, Decimal, Decimal, Decimal),
    /// How much of a resting limit order may fill per candle (base units);
    /// `None`: all of it at once.
    pub limit_fill_per_candle: Option<Decimal>,
}

/// Binance's usual spot order types, the default `orderTypes`.
pub const DEFAULT_ORDER_TYPES: [&str; 5] = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT_LIMIT",
];

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            api_key: "sim-api-key".into(),
            api_secret: "sim-api-secret".into(),
            symbol: "BTCUSDT".into(),
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
            interval: ("1m".into(), 60_000),
            lot_size: (Decimal::new(1, 5), Decimal::from(9000), Decimal::new(1, 5)),
            tick_size: Decimal::new(1, 2),
            min_notional: Decimal::from(5),
            balances: BTreeMap::from([
                ("BTC".into(), Decimal::ZERO),
                ("USDT".into(), Decimal::from(10_000)),
            ]),
            candles: Vec::new(),
            clock_skew_ms: 0,
            market_fill_after_queries: 0,
            commission_rate: Decimal::new(1, 3),
            order_types: DEFAULT_ORDER_TYPES.iter().map(|t| (*t).into()).collect(),
            oco_allowed: true,
            allow_trailing_stop: true,
            percent_price_by_side: (
                Decimal::from(5),
                Decimal::new(2, 1),
                Decimal::from(5),
                Decimal::new(2, 1),
            ),
            limit_fill_per_candle: None,
        }
    }
}

/// A fault the next requests answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: <seconds>` (error -1003); nothing is done.
    RateLimited {
        /// The Retry-After header, seconds.
        retry_after_s: u64,
    },
    /// 418 (IP banned) with `Retry-After: <seconds>`; nothing is done.
    Banned {
        /// The Retry-After header, seconds.
        retry_after_s: u64,
    },
    /// -1021 whatever the timestamp; nothing is done. Only SIGNED requests
    /// meet it (public ones pass it by, as on Binance).
    TimestampOutside,
    /// 503 with -1007 ("execution status unknown") AFTER the request was
    /// carried out: an order is placed all the same.
    ServerError,
    /// The same 503 with -1007, for a request never carried out: nothing is
    /// done (the client cannot tell the two apart).
    ServerErrorNotCarriedOut,
    /// The reply comes this much later (the request is carried out).
    Delay(Duration),
}

/// A fault waiting in the queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedFault {
    /// What the requests it meets answer with.
    pub fault: Fault,
    /// How many more requests it answers.
    pub left: u32,
    /// The one path it answers on (any when `None`).
    pub path: Option<String>,
    /// How many requests it lets pass first (answered normally).
    pub pass: u32,
}

/// An order the simulator holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOrder {
    /// The exchange's order id.
    pub order_id: u64,
    /// The client order id.
    pub client_order_id: String,
    /// `BUY` or `SELL`.
    pub side: String,
    /// `MARKET`, `LIMIT`, `LIMIT_MAKER`, `STOP_LOSS_LIMIT` or
    /// `TAKE_PROFIT_LIMIT`.
    pub order_type: String,
    /// `NEW`, `PARTIALLY_FILLED`, `FILLED`, `CANCELED` or `EXPIRED`.
    pub status: String,
    /// Quantity asked.
    pub orig_qty: Decimal,
    /// Quantity filled.
    pub executed_qty: Decimal,
    /// Quote spent or received.
    pub cummulative_quote_qty: Decimal,
    /// The limit price (the fill price of a market order).
    pub price: Decimal,
    /// The stop price of a stop order (its activation price when trailing).
    pub stop_price: Option<Decimal>,
    /// The trailing delta of a trailing stop, BIPS.
    pub trailing_delta: Option<u32>,
    /// The best price since a trailing stop started trailing (the highest
    /// for a SELL, the lowest for a BUY); `None` until it trails.
    pub trail_best: Option<Decimal>,
    /// Whether a stop order has triggered (it then works as a LIMIT).
    pub triggered: bool,
    /// The order list it belongs to; -1 when none.
    pub order_list_id: i64,
    /// Server time of placement, ms.
    pub time_ms: i64,
    /// Server time of its last change, ms.
    pub update_ms: i64,
}

impl SimOrder {
    /// Whether it is still open (`NEW` or `PARTIALLY_FILLED`).
    pub fn is_open(&self) -> bool {
        matches!(self.status.as_str(), "NEW" | "PARTIALLY_FILLED")
    }

    /// Whether it is a stop (`STOP_LOSS_LIMIT`, `TAKE_PROFIT_LIMIT`).
    pub fn is_stop(&self) -> bool {
        matches!(
            self.order_type.as_str(),
            "STOP_LOSS_LIMIT" | "TAKE_PROFIT_LIMIT"
        )
    }

    /// Whether it buys.
    pub fn is_buy(&self) -> bool {
        self.side == "BUY"
    }

    /// The quantity still to fill.
    pub fn remaining(&self) -> Decimal {
        self.orig_qty - self.executed_qty
    }
}

/// An order list (OCO) the simulator holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOrderList {
    /// The exchange's list id.
    pub order_list_id: i64,
    /// `listClientOrderId`.
    pub list_client_order_id: String,
    /// Its two legs' order ids (the below leg first, as Binance lists them).
    pub order_ids: [u64; 2],
    /// Server time of placement, ms.
    pub time_ms: i64,
}

/// One trade of the account (`GET /api/v3/myTrades`): the simulator fills
/// each order in one trade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTrade {
    /// The trade id.
    pub id: u64,
    /// The order it filled.
    pub order_id: u64,
    /// Its price.
    pub price: Decimal,
    /// Its base quantity.
    pub qty: Decimal,
    /// Its quote quantity, `price * qty`.
    pub quote_qty: Decimal,
    /// The commission charged.
    pub commission: Decimal,
    /// The asset it was charged in.
    pub commission_asset: String,
    /// Whether the account bought.
    pub is_buyer: bool,
    /// Server time of the trade, ms.
    pub time_ms: i64,
}

/// The mutable state behind the server.
#[derive(Debug)]
pub struct SimState {
    /// The configuration (balances and candles change through the handle).
    pub config: SimConfig,
    /// Every order placed, in order.
    pub orders: Vec<SimOrder>,
    /// Every trade, in order.
    pub trades: Vec<SimTrade>,
    /// Queued faults, first first.
    pub faults: VecDeque<QueuedFault>,
    /// Request weight used in the current minute: (minute, weight).
    pub weight: (i64, u64),
    /// Requests received, faults included.
    pub requests: u64,
    /// The WebSocket kline stream's connections, limits and faults.
    pub stream: super::stream_state::StreamState,
    /// MARKET orders still working: order id → queries left until filled.
    pub working: BTreeMap<u64, u32>,
    /// Every order list placed, in order.
    pub order_lists: Vec<SimOrderList>,
}

impl SimState {
    /// A fresh state for `config`.
    pub fn new(config: SimConfig) -> Self {
        SimState {
            config,
            orders: Vec::new(),
            trades: Vec::new(),
            faults: VecDeque::new(),
            weight: (0, 0),
            requests: 0,
            stream: Default::default(),
            working: BTreeMap::new(),
            order_lists: Vec::new(),
        }
    }

    /// The server's clock, ms since the epoch (local clock plus skew).
    pub fn now_ms(&self) -> i64 {
        let local = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        local + self.config.clock_skew_ms
    }

    /// Adds `weight` to this minute's use; the new total.
    pub fn use_weight(&mut self, weight: u64) -> u64 {
        let minute = self.now_ms().div_euclid(60_000);
        if self.weight.0 != minute {
            self.weight = (minute, 0);
        }
        self.weight.1 += weight;
        self.weight.1
    }

    /// The fault a request to `path` answers with, if any: one use of the
    /// first queued fault for any path or for this one, once the requests
    /// it lets pass first have passed; a public request passes a queued
    /// -1021 by.
    pub fn take_fault(&mut self, signed: bool, path: &str) -> Option<Fault> {
        let at = self
            .faults
            .iter()
            .position(|q| q.path.as_deref().is_none_or(|p| p == path))?;
        let queued = &mut self.faults[at];
        if queued.fault == Fault::TimestampOutside && !signed {
            return None;
        }
        if queued.pass > 0 {
            queued.pass -= 1;
            return None;
        }
        let fault = queued.fault.clone();
        queued.left -= 1;
        if queued.left == 0 {
            self.faults.remove(at);
        }
        Some(fault)
    }

    /// What the open resting orders lock of `asset`: a SELL its remaining
    /// base quantity, a BUY its remaining quantity times its price (both
    /// legs of an OCO lock once: the larger leg's amount), as Binance moves
    /// them from `free` to `locked`.
    pub fn locked(&self, asset: &str) -> Decimal {
        let c = &self.config;
        let mut by_list: BTreeMap<i64, Decimal> = BTreeMap::new();
        let mut total = Decimal::ZERO;
        for o in self
            .orders
            .iter()
            .filter(|o| o.is_open() && o.order_type != "MARKET")
        {
            let (held, amount) = if o.is_buy() {
                (&c.quote_asset, o.remaining() * o.price)
            } else {
                (&c.base_asset, o.remaining())
            };
            if held != asset {
                continue;
            }
            if o.order_list_id >= 0 {
                let slot = by_list.entry(o.order_list_id).or_default();
                *slot = (*slot).max(amount);
            } else {
                total += amount;
            }
        }
        total + by_list.values().copied().sum::<Decimal>()
    }

    /// What of `asset` is free to trade: the balance less what open orders
    /// lock.
    pub fn free(&self, asset: &str) -> Decimal {
        let held = self.config.balances.get(asset).copied().unwrap_or_default();
        held - self.locked(asset)
    }

    /// The current candle: the last one open at server time (or the last);
    /// once candles are pushed, the last one pushed.
    pub fn current_candle(&self) -> Option<&SimCandle> {
        if self.stream.pushed {
            return self.config.candles.last();
        }
        let now = self.now_ms();
        self.config
            .candles
            .iter()
            .rev()
            .find(|c| c.open_time_ms <= now)
            .or(self.config.candles.last())
    }
}

/// The state shared by the server and the test's handle.
pub type Shared = Arc<Mutex<SimState>>;

/// Locks the state; a panic elsewhere does not poison the simulator.
pub fn lock(shared: &Shared) -> MutexGuard<'_, SimState> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}
