//! What the market did during a backtest, fed one bar at a time: the
//! buy-and-hold benchmark, the time spent in the market, and the closes of
//! the last bars for the report's price chart.
//!
//! **Buy and hold** is `last close / first close - 1` over the bars with a
//! usable (finite, positive) close: the return of holding the asset from the
//! first bar's close to the last, without fees. **Exposure** is the fraction
//! of bars that closed with a position open. The price window keeps the last
//! [`PRICE_WINDOW`] closes (a ring, O(1) per bar), so a million-bar run's
//! chart stays readable.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// How many of the last bars the price chart shows.
pub const PRICE_WINDOW: usize = 500;

/// One bar's close.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PricePoint {
    /// The bar's time, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// Its close.
    pub close: f64,
}

/// One bar as the report sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BarMark {
    /// The bar's time, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// Its close (a non-finite or non-positive close is left out of the
    /// price figures).
    pub close: f64,
    /// Account equity marked at the close.
    pub equity: f64,
    /// Whether a position was open at the close.
    pub in_market: bool,
}

/// The market figures so far.
#[derive(Clone, Debug)]
pub struct MarketTrack {
    first_close: Option<f64>,
    last_close: Option<f64>,
    bars: u64,
    bars_in_market: u64,
    window: VecDeque<PricePoint>,
    window_len: usize,
}

impl Default for MarketTrack {
    fn default() -> Self {
        Self::with_window(PRICE_WINDOW)
    }
}

impl MarketTrack {
    /// A track keeping the last [`PRICE_WINDOW`] closes.
    pub fn new() -> Self {
        Self::default()
    }

    /// A track keeping the last `window_len` closes.
    pub fn with_window(window_len: usize) -> Self {
        MarketTrack {
            first_close: None,
            last_close: None,
            bars: 0,
            bars_in_market: 0,
            window: VecDeque::with_capacity(window_len),
            window_len,
        }
    }

    /// Adds one bar.
    pub fn push(&mut self, bar: &BarMark) {
        self.bars += 1;
        if bar.in_market {
            self.bars_in_market += 1;
        }
        if !(bar.close.is_finite() && bar.close > 0.0) {
            return;
        }
        self.first_close.get_or_insert(bar.close);
        self.last_close = Some(bar.close);
        if self.window_len == 0 {
            return;
        }
        if self.window.len() == self.window_len {
            self.window.pop_front();
        }
        self.window.push_back(PricePoint {
            ts_ms: bar.ts_ms,
            close: bar.close,
        });
    }

    /// `last close / first close - 1`; `None` without a usable close.
    pub fn buy_and_hold_return(&self) -> Option<f64> {
        match (self.first_close, self.last_close) {
            (Some(first), Some(last)) => Some(last / first - 1.0).filter(|r| r.is_finite()),
            _ => None,
        }
    }

    /// Bars in the market / bars; `None` without bars.
    pub fn exposure(&self) -> Option<f64> {
        (self.bars > 0).then(|| self.bars_in_market as f64 / self.bars as f64)
    }

    /// The kept closes, oldest first.
    pub fn window(&self) -> Vec<PricePoint> {
        self.window.iter().copied().collect()
    }
}
