//! Figures computed from the closed trades and from the whole-run numbers
//! once a backtest ends: profit factor, expectancy, trade durations, the
//! annualised return and the Calmar ratio.
//!
//! Every figure is `None` (JSON `null`) where it is undefined rather than NaN
//! or infinite: without trades; a profit factor without a losing trade
//! (gross loss zero); an annualised return over a zero time span; a Calmar
//! ratio without a drawdown.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::stats::MS_PER_YEAR;
use super::trades::Trade;

/// What the closed trades add up to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TradeMetrics {
    /// Gross profit of winning trades / gross loss of losing trades (net of
    /// fees); 0 when every trade lost, `None` without a losing trade.
    pub profit_factor: Option<f64>,
    /// The mean net PnL per trade, quote currency.
    pub expectancy: Option<f64>,
    /// The mean time from entry to exit.
    pub avg_trade_duration_ms: Option<i64>,
    /// The longest time from entry to exit.
    pub longest_trade_duration_ms: Option<i64>,
}

impl TradeMetrics {
    /// The figures of `trades`.
    pub fn of(trades: &[Trade]) -> Self {
        if trades.is_empty() {
            return Self::default();
        }
        let mut profit = Decimal::ZERO;
        let mut loss = Decimal::ZERO;
        let mut total_ms: i128 = 0;
        let mut longest_ms = i64::MIN;
        for t in trades {
            if t.pnl > Decimal::ZERO {
                profit = profit.saturating_add(t.pnl);
            } else {
                loss = loss.saturating_add(-t.pnl);
            }
            let ms = t.exit_ts_ms.saturating_sub(t.entry_ts_ms);
            total_ms += i128::from(ms);
            longest_ms = longest_ms.max(ms);
        }
        let n = trades.len();
        let net = profit - loss;
        let profit_factor = if loss > Decimal::ZERO {
            profit.checked_div(loss).and_then(|r| r.to_f64())
        } else {
            None
        };
        TradeMetrics {
            profit_factor,
            expectancy: net.checked_div(Decimal::from(n)).and_then(|r| r.to_f64()),
            avg_trade_duration_ms: i64::try_from(total_ms / n as i128).ok(),
            longest_trade_duration_ms: Some(longest_ms),
        }
    }
}

/// The compound annual growth rate of `total_return` earned over `span_ms`:
/// `(1 + total_return)^(1 / years) - 1`, -1 when everything was lost, `None`
/// over a span of zero or when the result is not finite.
pub fn annualised_return(total_return: Option<f64>, span_ms: Option<i64>) -> Option<f64> {
    let (total, span) = (total_return?, span_ms?);
    if span <= 0 {
        return None;
    }
    let growth = 1.0 + total;
    if growth <= 0.0 {
        return Some(-1.0);
    }
    let r = growth.powf(MS_PER_YEAR / span as f64) - 1.0;
    r.is_finite().then_some(r)
}

/// The annualised return over the largest drawdown; `None` without a
/// drawdown or an annualised return.
pub fn calmar(annualised_return: Option<f64>, max_drawdown: f64) -> Option<f64> {
    let r = annualised_return?;
    (max_drawdown > 0.0)
        .then(|| r / max_drawdown)
        .filter(|c| c.is_finite())
}
