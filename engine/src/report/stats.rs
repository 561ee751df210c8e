//! Incremental equity statistics, fed one bar at a time, and a bounded
//! equity curve for charts.
//!
//! [`EquityStats::push`] is O(1) per bar and does not allocate in steady
//! state, so a million-bar backtest costs nothing noticeable. The statistics
//! always use every bar; only the kept curve is downsampled.
//!
//! **Sharpe ratio.** Per-bar simple returns `r = e[i] / e[i-1] - 1`, their
//! mean and *sample* standard deviation (Welford's algorithm), risk-free rate
//! zero, annualised by `sqrt(bars_per_year)` where
//! `bars_per_year = 365.25 × 86_400_000 / spacing_ms` and `spacing_ms` is the
//! **median** spacing between consecutive bars. The median (not the mean) is
//! used so that gaps in the data (exchange outages, weekends) do not change
//! the assumed bar interval. It is exact as long as at most
//! [`MAX_DISTINCT_SPACINGS`] distinct spacings occur (candle data has one,
//! plus a few gap lengths); spacings first seen after that are left out of
//! the median. The Sharpe ratio is `None` (JSON `null`) with fewer than two
//! returns or a zero standard deviation. A return whose previous equity is
//! zero or negative is undefined and skipped (counted in
//! [`StatsSummary::skipped_returns`]).
//!
//! **Sortino ratio.** The same mean per-bar return over the downside
//! deviation `sqrt(Σ min(r, 0)² / n)` (target return zero, over all `n`
//! returns), annualised the same way; `None` with fewer than two returns or
//! no losing bar.
//!
//! **Drawdown** is `(peak - equity) / peak` from the running peak, the
//! largest one reported with the timestamps of its peak and trough; bars
//! while the running peak is not positive have no defined drawdown. Its
//! duration runs from the peak to the first later bar back at or above the
//! peak's equity (its recovery), or to the last bar when it never recovered.
//!
//! **Downsampling.** The curve keeps at most `max_points` points. Up to
//! `max_points` bars every bar is kept. Beyond that the bars are grouped in
//! consecutive buckets of `w` bars (`w` a power of two, doubled by merging
//! neighbouring buckets whenever they run out), and each bucket keeps its
//! lowest and its highest point in time order; the first and last bar are
//! always kept. With at most `(max_points - 2) / 2` buckets the curve never
//! exceeds `max_points`, and every bucket's minimum and maximum — hence the
//! global peak and trough of any drawdown — stay visible.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::ReportError;

/// The default limit on kept equity-curve points.
pub const DEFAULT_MAX_POINTS: usize = 2000;
/// The smallest allowed limit: first, last and one bucket's minimum and maximum.
pub const MIN_MAX_POINTS: usize = 4;
/// How many distinct bar spacings the median is computed over.
pub const MAX_DISTINCT_SPACINGS: usize = 256;
/// Milliseconds in a year of 365.25 days.
pub const MS_PER_YEAR: f64 = 365.25 * 86_400_000.0;

/// Equity at one bar.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EquityPoint {
    /// The bar's time, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// Account equity marked at the bar's close.
    pub equity: f64,
}

/// The statistics at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatsSummary {
    /// Bars seen.
    pub bars: u64,
    /// `last / first - 1`; `None` without bars or when the first equity is not positive.
    pub total_return: Option<f64>,
    /// Largest drawdown as a fraction of the running peak (0 when none).
    pub max_drawdown: f64,
    /// When the peak before the largest drawdown was set.
    pub drawdown_peak_ts_ms: Option<i64>,
    /// When the largest drawdown bottomed out.
    pub drawdown_trough_ts_ms: Option<i64>,
    /// When equity first came back to the largest drawdown's peak; `None`
    /// when it never did (or there was no drawdown).
    pub drawdown_recovery_ts_ms: Option<i64>,
    /// From the largest drawdown's peak to its recovery, or to the last bar
    /// when it never recovered; `None` without a drawdown.
    pub drawdown_duration_ms: Option<i64>,
    /// Annualised Sharpe ratio of per-bar returns (see the module docs).
    pub sharpe: Option<f64>,
    /// Annualised Sortino ratio of per-bar returns (see the module docs).
    pub sortino: Option<f64>,
    /// From the first bar to the last, in milliseconds (0 for one bar).
    pub span_ms: Option<i64>,
    /// The median bar spacing used to annualise.
    pub bar_spacing_ms: Option<i64>,
    /// `365.25 days / bar_spacing_ms`.
    pub bars_per_year: Option<f64>,
    /// Returns left out because the previous equity was not positive.
    pub skipped_returns: u64,
    /// Closed trades recorded.
    pub num_trades: u64,
    /// Trades with a positive net PnL (a break-even trade is not a win).
    pub winning_trades: u64,
    /// `winning_trades / num_trades`; `None` without trades.
    pub win_rate: Option<f64>,
}

/// Counts `bars` more bars `spacing` apart, if the spacing is counted
/// already or there is room for another ([`MAX_DISTINCT_SPACINGS`]).
fn add_spacings(spacings: &mut BTreeMap<i64, u64>, (spacing, bars): (i64, u64)) {
    if let Some(count) = spacings.get_mut(&spacing) {
        *count += bars;
    } else if spacings.len() < MAX_DISTINCT_SPACINGS {
        spacings.insert(spacing, bars);
    }
}

/// One bucket of the downsampled curve.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    bars: u64,
    min: EquityPoint,
    max: EquityPoint,
}

impl Bucket {
    fn merge(self, later: Bucket) -> Bucket {
        Bucket {
            bars: self.bars + later.bars,
            // Ties keep the earlier point.
            min: if later.min.equity < self.min.equity {
                later.min
            } else {
                self.min
            },
            max: if later.max.equity > self.max.equity {
                later.max
            } else {
                self.max
            },
        }
    }
}

/// Incremental equity and trade statistics; see the module docs.
#[derive(Clone, Debug)]
pub struct EquityStats {
    max_points: usize,
    bars: u64,
    first: Option<EquityPoint>,
    last: Option<EquityPoint>,
    // Drawdown.
    peak: Option<EquityPoint>,
    max_drawdown: f64,
    drawdown_peak_ts_ms: Option<i64>,
    drawdown_trough_ts_ms: Option<i64>,
    /// The largest drawdown's peak equity, while it has not recovered.
    drawdown_unrecovered_peak: Option<f64>,
    drawdown_recovery_ts_ms: Option<i64>,
    // Returns (Welford), and the downside sum of squares for Sortino.
    returns: u64,
    mean: f64,
    m2: f64,
    downside_sq: f64,
    skipped_returns: u64,
    spacings: BTreeMap<i64, u64>,
    /// The run of equal spacings being counted (spacing, bars), added to
    /// `spacings` when another spacing comes: one comparison per bar instead
    /// of a map lookup. Adding a run at once counts what adding its bars one
    /// by one would: a spacing enters the map at its first bar or never.
    spacing_run: Option<(i64, u64)>,
    // Trades.
    num_trades: u64,
    winning_trades: u64,
    // Curve.
    bucket_bars: u64,
    buckets: Vec<Bucket>,
}

impl Default for EquityStats {
    fn default() -> Self {
        Self::build(DEFAULT_MAX_POINTS)
    }
}

impl EquityStats {
    /// Statistics keeping at most [`DEFAULT_MAX_POINTS`] curve points.
    pub fn new() -> Self {
        Self::default()
    }

    /// Statistics keeping at most `max_points` curve points (at least
    /// [`MIN_MAX_POINTS`]).
    pub fn with_max_points(max_points: usize) -> Result<Self, ReportError> {
        if max_points < MIN_MAX_POINTS {
            return Err(ReportError::MaxPointsTooSmall {
                max_points,
                minimum: MIN_MAX_POINTS,
            });
        }
        Ok(Self::build(max_points))
    }

    fn build(max_points: usize) -> Self {
        EquityStats {
            max_points,
            bars: 0,
            first: None,
            last: None,
            peak: None,
            max_drawdown: 0.0,
            drawdown_peak_ts_ms: None,
            drawdown_trough_ts_ms: None,
            drawdown_unrecovered_peak: None,
            drawdown_recovery_ts_ms: None,
            returns: 0,
            mean: 0.0,
            m2: 0.0,
            downside_sq: 0.0,
            skipped_returns: 0,
            spacings: BTreeMap::new(),
            spacing_run: None,
            num_trades: 0,
            winning_trades: 0,
            bucket_bars: 1,
            buckets: Vec::with_capacity(max_points),
        }
    }

    /// Adds one bar's equity. Timestamps must increase strictly and equity
    /// must be finite; a rejected bar changes nothing.
    pub fn push(&mut self, ts_ms: i64, equity: f64) -> Result<(), ReportError> {
        if !equity.is_finite() {
            return Err(ReportError::NonFiniteEquity {
                ts_ms,
                value: equity,
            });
        }
        let point = EquityPoint { ts_ms, equity };
        if let Some(prev) = self.last {
            if ts_ms <= prev.ts_ms {
                return Err(ReportError::EquityOutOfOrder {
                    ts_ms,
                    previous_ts_ms: prev.ts_ms,
                });
            }
            self.record_spacing(ts_ms - prev.ts_ms);
            self.record_return(prev.equity, equity);
        } else {
            self.first = Some(point);
        }
        self.last = Some(point);
        self.bars += 1;
        self.record_drawdown(point);
        self.record_curve(point);
        Ok(())
    }

    /// Counts one closed trade; it wins when its net PnL is positive.
    pub fn record_trade(&mut self, pnl: Decimal) {
        self.num_trades += 1;
        if pnl > Decimal::ZERO {
            self.winning_trades += 1;
        }
    }

    fn record_spacing(&mut self, spacing_ms: i64) {
        match &mut self.spacing_run {
            Some((spacing, bars)) if *spacing == spacing_ms => *bars += 1,
            run => {
                if let Some(done) = run.replace((spacing_ms, 1)) {
                    add_spacings(&mut self.spacings, done);
                }
            }
        }
    }

    fn record_return(&mut self, previous: f64, equity: f64) {
        if previous <= 0.0 {
            self.skipped_returns += 1;
            return;
        }
        let r = equity / previous - 1.0;
        self.returns += 1;
        let delta = r - self.mean;
        self.mean += delta / self.returns as f64;
        self.m2 += delta * (r - self.mean);
        if r < 0.0 {
            self.downside_sq += r * r;
        }
    }

    fn record_drawdown(&mut self, point: EquityPoint) {
        if self
            .drawdown_unrecovered_peak
            .is_some_and(|peak| point.equity >= peak)
        {
            self.drawdown_unrecovered_peak = None;
            self.drawdown_recovery_ts_ms = Some(point.ts_ms);
        }
        let peak = match self.peak {
            Some(peak) if peak.equity >= point.equity => peak,
            _ => {
                self.peak = Some(point);
                return;
            }
        };
        if peak.equity <= 0.0 {
            return;
        }
        let drawdown = (peak.equity - point.equity) / peak.equity;
        if drawdown > self.max_drawdown {
            self.max_drawdown = drawdown;
            self.drawdown_peak_ts_ms = Some(peak.ts_ms);
            self.drawdown_trough_ts_ms = Some(point.ts_ms);
            self.drawdown_unrecovered_peak = Some(peak.equity);
            self.drawdown_recovery_ts_ms = None;
        }
    }

    /// How many buckets the curve may hold at the current bucket width.
    fn bucket_limit(&self) -> usize {
        if self.bucket_bars == 1 {
            self.max_points
        } else {
            (self.max_points - 2) / 2
        }
    }

    fn record_curve(&mut self, point: EquityPoint) {
        let single = Bucket {
            bars: 1,
            min: point,
            max: point,
        };
        loop {
            if let Some(last) = self.buckets.last_mut() {
                if last.bars < self.bucket_bars {
                    *last = last.merge(single);
                    return;
                }
            }
            if self.buckets.len() < self.bucket_limit() {
                self.buckets.push(single);
                return;
            }
            // The first merge leaves up to max_points / 2 buckets, more than
            // the (max_points - 2) / 2 that wider buckets may use (each shows
            // two points, plus the first and last bar): merge until they fit.
            self.merge_bucket_pairs();
            while self.buckets.len() > self.bucket_limit() {
                self.merge_bucket_pairs();
            }
        }
    }

    /// Halves the number of buckets by merging neighbours; doubles the width.
    fn merge_bucket_pairs(&mut self) {
        let len = self.buckets.len();
        let merged = len.div_ceil(2);
        for i in 0..merged {
            let a = self.buckets[2 * i];
            self.buckets[i] = match self.buckets.get(2 * i + 1) {
                Some(&b) => a.merge(b),
                None => a,
            };
        }
        self.buckets.truncate(merged);
        self.bucket_bars *= 2;
    }

    /// The median spacing between bars, if any two bars were seen.
    fn median_spacing_ms(&self) -> Option<i64> {
        let mut spacings = self.spacings.clone();
        if let Some(run) = self.spacing_run {
            add_spacings(&mut spacings, run);
        }
        let total: u64 = spacings.values().sum();
        if total == 0 {
            return None;
        }
        // The lower median: the ((total + 1) / 2)-th smallest spacing.
        let rank = total.div_ceil(2);
        let mut seen = 0;
        for (&spacing, &count) in &spacings {
            seen += count;
            if seen >= rank {
                return Some(spacing);
            }
        }
        None
    }

    /// The statistics over every bar pushed so far.
    pub fn summary(&self) -> StatsSummary {
        let total_return = match (self.first, self.last) {
            (Some(first), Some(last)) if first.equity > 0.0 => {
                Some(last.equity / first.equity - 1.0)
            }
            _ => None,
        };
        let bar_spacing_ms = self.median_spacing_ms();
        let bars_per_year = bar_spacing_ms
            .filter(|&s| s > 0)
            .map(|s| MS_PER_YEAR / s as f64);
        let annualised = |deviation: f64| match bars_per_year {
            Some(per_year) if self.returns >= 2 => {
                let ratio = self.mean / deviation * per_year.sqrt();
                (deviation > 0.0 && ratio.is_finite()).then_some(ratio)
            }
            _ => None,
        };
        let n = self.returns.max(1) as f64;
        let sharpe = annualised((self.m2 / (n - 1.0).max(1.0)).sqrt());
        let sortino = annualised((self.downside_sq / n).sqrt());
        let span_ms = match (self.first, self.last) {
            (Some(first), Some(last)) => Some(last.ts_ms - first.ts_ms),
            _ => None,
        };
        let drawdown_duration_ms = match (self.drawdown_peak_ts_ms, self.last) {
            (Some(peak), Some(last)) => {
                Some(self.drawdown_recovery_ts_ms.unwrap_or(last.ts_ms) - peak)
            }
            _ => None,
        };
        let win_rate =
            (self.num_trades > 0).then(|| self.winning_trades as f64 / self.num_trades as f64);
        StatsSummary {
            bars: self.bars,
            total_return,
            max_drawdown: self.max_drawdown,
            drawdown_peak_ts_ms: self.drawdown_peak_ts_ms,
            drawdown_trough_ts_ms: self.drawdown_trough_ts_ms,
            drawdown_recovery_ts_ms: self.drawdown_recovery_ts_ms,
            drawdown_duration_ms,
            sharpe,
            sortino,
            span_ms,
            bar_spacing_ms,
            bars_per_year,
            skipped_returns: self.skipped_returns,
            num_trades: self.num_trades,
            winning_trades: self.winning_trades,
            win_rate,
        }
    }

    /// The last bar pushed.
    pub fn last(&self) -> Option<EquityPoint> {
        self.last
    }

    /// The kept curve: at most `max_points` points in time order, including
    /// the first and last bar and every bucket's minimum and maximum.
    pub fn equity_curve(&self) -> Vec<EquityPoint> {
        let mut out: Vec<EquityPoint> = Vec::with_capacity(self.max_points);
        let mut keep = |p: EquityPoint| {
            if out.last().is_none_or(|q| q.ts_ms < p.ts_ms) {
                out.push(p);
            }
        };
        if self.bucket_bars == 1 {
            self.buckets.iter().for_each(|b| keep(b.min));
            return out;
        }
        if let Some(first) = self.first {
            keep(first);
        }
        for b in &self.buckets {
            let (early, late) = if b.min.ts_ms <= b.max.ts_ms {
                (b.min, b.max)
            } else {
                (b.max, b.min)
            };
            keep(early);
            keep(late);
        }
        if let Some(last) = self.last {
            keep(last);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The median spacing as counting bar by bar gives it: a spacing enters
    /// the counts at its first bar if fewer than the limit are counted.
    fn reference_median(spacings: &[i64]) -> Option<i64> {
        let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
        for &s in spacings {
            if let Some(c) = counts.get_mut(&s) {
                *c += 1;
            } else if counts.len() < MAX_DISTINCT_SPACINGS {
                counts.insert(s, 1);
            }
        }
        let total: u64 = counts.values().sum();
        let rank = total.div_ceil(2);
        let mut seen = 0;
        counts.into_iter().find_map(|(s, c)| {
            seen += c;
            (total > 0 && seen >= rank).then_some(s)
        })
    }

    proptest! {
        /// Runs of equal spacings count as their bars would, also past the
        /// limit on distinct spacings.
        #[test]
        fn the_median_spacing_counts_every_bar(
            runs in prop::collection::vec((1i64..400, 1usize..6), 0..150),
            wide in prop::bool::ANY,
        ) {
            let spacings: Vec<i64> = runs
                .iter()
                .flat_map(|&(s, n)| std::iter::repeat_n(if wide { s * 7 } else { s % 3 + 1 }, n))
                .collect();
            let mut stats = EquityStats::new();
            let mut ts = 0;
            stats.push(ts, 1.0).map_err(|e| TestCaseError::fail(e.to_string()))?;
            for &s in &spacings {
                ts += s;
                stats.push(ts, 1.0).map_err(|e| TestCaseError::fail(e.to_string()))?;
            }
            prop_assert_eq!(stats.summary().bar_spacing_ms, reference_median(&spacings));
        }
    }
}
