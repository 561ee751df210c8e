//! A sweep's results: one [`SweepRow`] per valid combination with the
//! report's metrics in-sample and (with a split) out-of-sample, sorted by
//! a [`Metric`], written as `results.csv` and `results.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use aegis_engine::report::BacktestReport;
use aegis_runtime::durable::write_atomic;

/// The CSV's file name.
pub const RESULTS_CSV: &str = "results.csv";
/// The JSON's file name.
pub const RESULTS_JSON: &str = "results.json";

/// The figures of one backtest that a sweep keeps.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Candles replayed.
    pub candles: u64,
    /// `final_equity / initial_cash - 1`.
    pub total_return: Option<f64>,
    /// Largest drawdown from the running peak, a fraction.
    pub max_drawdown: f64,
    /// Annualised Sharpe ratio of per-bar returns.
    pub sharpe: Option<f64>,
    /// Winning trades / trades.
    pub win_rate: Option<f64>,
    /// Closed trades.
    pub num_trades: u64,
    /// Equity at the end.
    pub final_equity: String,
}

impl Metrics {
    /// The figures of `report`.
    pub fn of(report: &BacktestReport) -> Self {
        Metrics {
            candles: report.candles,
            total_return: report.total_return,
            max_drawdown: report.max_drawdown,
            sharpe: report.sharpe,
            win_rate: report.win_rate,
            num_trades: report.num_trades,
            final_equity: report.final_equity.to_string(),
        }
    }

    /// The value of `metric`, `None` when undefined.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::TotalReturn => self.total_return,
            Metric::MaxDrawdown => Some(self.max_drawdown),
            Metric::Sharpe => self.sharpe,
            Metric::WinRate => self.win_rate,
            Metric::Trades => Some(self.num_trades as f64),
        }
    }
}

/// What results are sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Total return, highest first.
    TotalReturn,
    /// Max drawdown, smallest first.
    MaxDrawdown,
    /// Sharpe ratio, highest first.
    Sharpe,
    /// Win rate, highest first.
    WinRate,
    /// Number of trades, most first.
    Trades,
}

impl Metric {
    /// Whether larger is better.
    pub fn higher_is_better(self) -> bool {
        self != Metric::MaxDrawdown
    }
}

/// One combination's results.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepRow {
    /// The parameters of the grid, by name.
    pub params: BTreeMap<String, String>,
    /// On the data before the split (all of it without one).
    pub in_sample: Metrics,
    /// On the held-out tail, with `--split`.
    pub out_of_sample: Option<Metrics>,
}

/// Sorts `rows` best first by the in-sample `metric` (undefined last; ties
/// keep the grid's order).
pub fn sort(rows: &mut [SweepRow], metric: Metric) {
    rows.sort_by(|a, b| {
        let (x, y) = (a.in_sample.get(metric), b.in_sample.get(metric));
        match (x, y) {
            (Some(x), Some(y)) if metric.higher_is_better() => y.total_cmp(&x),
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
    });
}

/// Everything `results.json` holds.
#[derive(Debug, Serialize)]
pub struct SweepSummary<'a> {
    /// The strategy.
    pub strategy: &'a str,
    /// The data file.
    pub data: String,
    /// Accepted candles in the file.
    pub candles: u64,
    /// The in-sample share, with `--split`.
    pub split: Option<f64>,
    /// What the rows are sorted by.
    pub sort: Metric,
    /// Combinations in the grid.
    pub combinations: usize,
    /// Combinations the strategy refused (e.g. slow <= fast), not run.
    pub skipped: usize,
    /// Why, for the first few skipped.
    pub skipped_examples: Vec<String>,
    /// The rows, best first.
    pub results: &'a [SweepRow],
}

/// Writes `results.json` and `results.csv` (columns: the grid's parameters
/// in `names` order, then `is_` and, with a split, `oos_` metrics) into `out`.
pub fn write(out: &Path, names: &[String], summary: &SweepSummary<'_>) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(summary).context("encoding the results")?;
    write_atomic(&out.join(RESULTS_JSON), &json)
        .with_context(|| format!("writing {}", out.join(RESULTS_JSON).display()))?;
    let split = summary.split.is_some();
    let mut csv = names.join(",");
    let columns = "total_return,max_drawdown,sharpe,win_rate,trades,final_equity,candles";
    for prefix in if split {
        &["is", "oos"][..]
    } else {
        &["is"][..]
    } {
        for column in columns.split(',') {
            let _ = write!(csv, ",{prefix}_{column}");
        }
    }
    csv.push('\n');
    for row in summary.results {
        let params: Vec<&str> = names
            .iter()
            .map(|n| row.params.get(n).map_or("", String::as_str))
            .collect();
        csv.push_str(&params.join(","));
        for metrics in std::iter::once(Some(&row.in_sample))
            .chain(split.then_some(row.out_of_sample.as_ref()))
            .flatten()
        {
            let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
            let _ = write!(
                csv,
                ",{},{},{},{},{},{},{}",
                opt(metrics.total_return),
                metrics.max_drawdown,
                opt(metrics.sharpe),
                opt(metrics.win_rate),
                metrics.num_trades,
                metrics.final_equity,
                metrics.candles
            );
        }
        csv.push('\n');
    }
    write_atomic(&out.join(RESULTS_CSV), csv.as_bytes())
        .with_context(|| format!("writing {}", out.join(RESULTS_CSV).display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fast: &str, sharpe: Option<f64>, drawdown: f64) -> SweepRow {
        SweepRow {
            params: BTreeMap::from([("fast".into(), fast.into())]),
            in_sample: Metrics {
                candles: 10,
                total_return: Some(0.0),
                max_drawdown: drawdown,
                sharpe,
                win_rate: None,
                num_trades: 0,
                final_equity: "1".into(),
            },
            out_of_sample: None,
        }
    }

    #[test]
    fn rows_sort_best_first_with_undefined_last() {
        let mut rows = vec![
            row("a", None, 0.3),
            row("b", Some(1.0), 0.1),
            row("c", Some(2.0), 0.2),
        ];
        sort(&mut rows, Metric::Sharpe);
        let order: Vec<&str> = rows.iter().map(|r| r.params["fast"].as_str()).collect();
        assert_eq!(order, ["c", "b", "a"]);
        sort(&mut rows, Metric::MaxDrawdown);
        let order: Vec<&str> = rows.iter().map(|r| r.params["fast"].as_str()).collect();
        assert_eq!(order, ["b", "c", "a"]);
    }
}
