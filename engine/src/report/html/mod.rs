//! The backtest report as one self-contained HTML page (`report.html`): the
//! metrics, the equity, drawdown and price charts (inline SVG from
//! [`super::chart`]), the monthly returns and the trade list.
//!
//! Nothing is loaded from the network: the style and the small script (it
//! only sorts the trade list; the page reads fully without it) are inlined.
//! The layout is one column that narrows to a phone's width (viewport meta,
//! a metrics grid that wraps, tables that scroll sideways). Every value
//! taken from the report is escaped ([`format::escape`]); the charts' text
//! is escaped by plotters.

pub mod format;
pub mod tables;

use std::fmt::Write as _;

use rust_decimal::prelude::ToPrimitive;

use super::backtest::BacktestReport;
use super::chart::{render_drawdown_svg, render_equity_svg, render_price_svg};
use super::{utc_text, ReportError};
use format::{duration, escape, percent, ratio, sign_class, NONE};
use tables::{exit_reason_table, monthly_table, trade_table};

/// The page's file name.
pub const REPORT_HTML: &str = "report.html";

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// Renders `report` as the HTML page.
pub fn render_backtest_html(report: &BacktestReport) -> Result<String, ReportError> {
    let name = format!("{} on {}", report.strategy, report.data);
    let equity = render_equity_svg(&report.equity_curve, "Equity")?;
    let drawdown = render_drawdown_svg(&report.equity_curve, "Drawdown from peak")?;
    let price = render_price_svg(&report.prices, &report.trades, "Close, entries and exits")?;

    let mut page = String::with_capacity(equity.len() + drawdown.len() + price.len() + 16_384);
    // Writing to a String cannot fail.
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>AEGIS backtest: {title}</title>\n<style>\n{STYLE}</style>\n</head>\n\
         <body data-report=\"loading\">\n<header>\n<h1>Backtest: {title}</h1>\n\
         <p class=\"meta\">{params}</p>\n<p class=\"meta\">{run}</p>\n\
         <p class=\"meta\">Fills: {fill_model}</p>\n\
         <p id=\"script-errors\" hidden></p>\n</header>\n",
        title = escape(&name),
        params = escape(&params_text(report)),
        run = escape(&run_text(report)),
        fill_model = escape(&report.fill_model),
    );
    page.push_str("<section id=\"metrics\">\n<h2>Metrics</h2>\n<dl class=\"metrics\">\n");
    for (key, label, value, class) in metrics(report) {
        let _ = writeln!(
            page,
            "<div data-metric=\"{key}\"><dt>{label}</dt><dd class=\"{class}\">{value}</dd></div>",
            value = escape(&value),
        );
    }
    page.push_str("</dl>\n</section>\n");
    let _ = write!(
        page,
        "<section id=\"equity\">\n<h2>Equity</h2>\n<figure>{equity}</figure>\n</section>\n\
         <section id=\"drawdown\">\n<h2>Drawdown</h2>\n<figure>{drawdown}</figure>\n</section>\n\
         <section id=\"price\">\n<h2>Price and trades</h2>\n<p class=\"note\">{window}</p>\n\
         <figure>{price}</figure>\n</section>\n\
         <section id=\"monthly\">\n<h2>Monthly returns</h2>\n{monthly}</section>\n\
         <section id=\"trades\">\n<h2>Trades</h2>\n{reasons}{trades}</section>\n",
        window = escape(&window_text(report)),
        monthly = monthly_table(&report.monthly_returns),
        reasons = exit_reason_table(&report.trades_by_exit_reason),
        trades = trade_table(&report.trades),
    );
    let _ = write!(page, "<script>\n{SCRIPT}</script>\n</body>\n</html>\n");
    Ok(page)
}

/// `fast=10, slow=30`.
fn params_text(report: &BacktestReport) -> String {
    if report.params.is_empty() {
        return "Parameters: the strategy's defaults.".into();
    }
    let list: Vec<String> = report
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("Parameters: {}", list.join(", "))
}

fn run_text(report: &BacktestReport) -> String {
    let span = match (report.equity_curve.first(), report.equity_curve.last()) {
        (Some(a), Some(b)) => format!(", {} to {}", utc_text(a.ts_ms), utc_text(b.ts_ms)),
        _ => String::new(),
    };
    let rejected: u64 = report.rejected.values().sum();
    format!(
        "{} candles{span}; {rejected} rejected; cash {} → {}; fee {} bps, slippage {} bps.",
        report.candles,
        report.initial_cash,
        report.final_equity.round_dp(2),
        report.fee_bps,
        report.slippage_bps,
    )
}

fn window_text(report: &BacktestReport) -> String {
    let shown = report.prices.len();
    if (shown as u64) < report.candles {
        format!(
            "The last {shown} of {} bars, with the trades that entered or exited in them; \
             the equity chart above covers the whole run.",
            report.candles
        )
    } else {
        format!("All {shown} bars, with every trade's entry (triangle) and exit (cross).")
    }
}

/// Each metric: its key (`data-metric`), label, text and sign class.
fn metrics(r: &BacktestReport) -> Vec<(&'static str, &'static str, String, &'static str)> {
    let signed = |v: Option<f64>| sign_class(v);
    let drawdown_note = match (r.max_drawdown_duration_ms, r.max_drawdown_recovery_ts_ms) {
        (None, _) => NONE.to_string(),
        (d, Some(_)) => duration(d),
        (d, None) => format!("{} (not recovered)", duration(d)),
    };
    let net_pnl = (r.final_equity - r.initial_cash).round_dp(2);
    vec![
        (
            "total_return",
            "Total return",
            percent(r.total_return),
            signed(r.total_return),
        ),
        (
            "annualised_return",
            "Annualised return",
            percent(r.annualised_return),
            signed(r.annualised_return),
        ),
        (
            "buy_and_hold_return",
            "Buy and hold",
            percent(r.buy_and_hold_return),
            signed(r.buy_and_hold_return),
        ),
        (
            "net_pnl",
            "Net PnL",
            net_pnl.to_string(),
            signed(net_pnl.to_f64()),
        ),
        (
            "max_drawdown",
            "Max drawdown",
            percent(Some(r.max_drawdown)),
            "",
        ),
        (
            "max_drawdown_duration",
            "Max drawdown duration",
            drawdown_note,
            "",
        ),
        ("sharpe", "Sharpe", ratio(r.sharpe), ""),
        ("sortino", "Sortino", ratio(r.sortino), ""),
        ("calmar", "Calmar", ratio(r.calmar), ""),
        ("num_trades", "Trades", r.num_trades.to_string(), ""),
        ("win_rate", "Win rate", percent(r.win_rate), ""),
        ("profit_factor", "Profit factor", ratio(r.profit_factor), ""),
        (
            "expectancy",
            "Expectancy / trade",
            ratio(r.expectancy),
            signed(r.expectancy),
        ),
        ("exposure", "Exposure", percent(r.exposure), ""),
        (
            "avg_trade_duration",
            "Average trade",
            duration(r.avg_trade_duration_ms),
            "",
        ),
        (
            "longest_trade_duration",
            "Longest trade",
            duration(r.longest_trade_duration_ms),
            "",
        ),
    ]
}
