//! The backtest report's figures against hand computations: trade figures
//! (profit factor, expectancy, durations), the annualised return and Calmar,
//! monthly returns, buy and hold, exposure and the price window, exit
//! reasons; the edge cases
//! (no trades, one bar, all losses) give `null`, never NaN or infinity; and
//! the HTML page escapes what it shows. A backtest that ends in a position
//! names the end of the run as its last trade's exit reason. A long trade
//! list shows its last rows and says so; odd values read back still render.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;

use aegis_engine::report::html::render_backtest_html;
use aegis_engine::report::market::MarketTrack;
use aegis_engine::report::metrics::{annualised_return, calmar, TradeMetrics};
use aegis_engine::report::monthly::MonthlyReturns;
use aegis_engine::report::stats::MS_PER_YEAR;
use aegis_engine::report::{
    pair_fills, BacktestMeta, BacktestReport, BacktestReportBuilder, BarMark, ExitReason,
    FillRecord, Side, Trade, TradeSide, EXIT_SIGNAL,
};
use rust_decimal::Decimal;

const HOUR: i64 = 3_600_000;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

fn trade(pnl: &str, entry_ts_ms: i64, exit_ts_ms: i64) -> Trade {
    Trade {
        side: TradeSide::Long,
        entry_signal_seq: 1,
        exit_signal_seq: 2,
        entry_ts_ms,
        exit_ts_ms,
        entry_price: d("100"),
        exit_price: d("101"),
        qty: d("1"),
        fees: d("0"),
        pnl: d(pnl),
        exit_reason: EXIT_SIGNAL.into(),
        exit_detail: None,
    }
}

#[test]
fn trade_figures_match_a_hand_computation() {
    let m = TradeMetrics::of(&[
        trade("30", 0, HOUR),
        trade("-10", HOUR, 4 * HOUR),
        trade("5", 4 * HOUR, 6 * HOUR),
        trade("-15", 6 * HOUR, 12 * HOUR),
    ]);
    // Gross profit 35, gross loss 25; net 10 over 4 trades; 1 + 3 + 2 + 6 h.
    assert!(close_to(m.profit_factor.unwrap(), 1.4), "{m:?}");
    assert!(close_to(m.expectancy.unwrap(), 2.5), "{m:?}");
    assert_eq!(m.avg_trade_duration_ms, Some(3 * HOUR));
    assert_eq!(m.longest_trade_duration_ms, Some(6 * HOUR));
}

#[test]
fn trade_figures_of_edge_cases_are_zero_or_null() {
    assert_eq!(TradeMetrics::of(&[]), TradeMetrics::default());
    assert_eq!(TradeMetrics::of(&[]).profit_factor, None);
    let losses = TradeMetrics::of(&[trade("-1", 0, HOUR), trade("-2", HOUR, 2 * HOUR)]);
    assert_eq!(losses.profit_factor, Some(0.0), "all losses: no profit");
    assert!(close_to(losses.expectancy.unwrap(), -1.5));
    let wins = TradeMetrics::of(&[trade("3", 0, HOUR)]);
    assert_eq!(wins.profit_factor, None, "no loss: undefined, not infinite");
    let flat = TradeMetrics::of(&[trade("0", 0, 0)]);
    assert_eq!(flat.profit_factor, None, "break-even: no profit, no loss");
    assert_eq!(flat.avg_trade_duration_ms, Some(0));
}

#[test]
fn annualised_return_and_calmar_match_a_hand_computation() {
    let two_years = (2.0 * MS_PER_YEAR) as i64;
    // 1.21 over two years is 10 % a year.
    let r = annualised_return(Some(0.21), Some(two_years)).unwrap();
    assert!(close_to(r, 0.1), "{r}");
    assert!(close_to(calmar(Some(r), 0.25).unwrap(), 0.4));
    assert_eq!(annualised_return(Some(-1.0), Some(two_years)), Some(-1.0));
    assert_eq!(annualised_return(Some(-1.5), Some(two_years)), Some(-1.0));
    assert_eq!(annualised_return(Some(0.1), Some(0)), None, "one bar");
    assert_eq!(annualised_return(None, Some(two_years)), None);
    assert_eq!(
        annualised_return(Some(5.0), Some(1)),
        None,
        "6× in a millisecond overflows to infinity: null"
    );
    assert_eq!(calmar(Some(0.1), 0.0), None, "no drawdown");
    assert_eq!(calmar(None, 0.2), None);
}

fn ms(date: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(date)
        .unwrap()
        .timestamp_millis()
}

#[test]
fn monthly_returns_chain_month_ends_and_skip_empty_months() {
    let mut m = MonthlyReturns::new();
    for (date, equity) in [
        ("2024-01-15T00:00:00Z", 100.0),
        ("2024-01-31T23:00:00Z", 110.0),
        ("2024-02-10T00:00:00Z", 99.0),
        ("2024-02-29T23:59:59.999Z", 99.0),
        ("2024-04-01T00:00:00Z", 121.0),
    ] {
        m.push(ms(date), equity);
    }
    let months = m.months();
    let got: Vec<(i32, u32)> = months.iter().map(|m| (m.year, m.month)).collect();
    assert_eq!(got, [(2024, 1), (2024, 2), (2024, 4)], "March had no bars");
    assert!(close_to(months[0].return_.unwrap(), 0.1));
    assert!(close_to(months[1].return_.unwrap(), -0.1));
    assert!(close_to(months[2].return_.unwrap(), 121.0 / 99.0 - 1.0));

    let mut broke = MonthlyReturns::new();
    broke.push(ms("2024-01-01T00:00:00Z"), 0.0);
    broke.push(ms("2024-02-01T00:00:00Z"), 10.0);
    let months = broke.months();
    assert_eq!(months[0].return_, None, "base 0: undefined");
    assert_eq!(months[1].return_, None, "base 0: undefined");
    assert!(MonthlyReturns::new().months().is_empty());
}

fn bar(ts_ms: i64, close: f64, equity: f64, in_market: bool) -> BarMark {
    BarMark {
        ts_ms,
        close,
        equity,
        in_market,
    }
}

#[test]
fn market_track_gives_buy_and_hold_exposure_and_the_last_bars() {
    let mut m = MarketTrack::with_window(2);
    assert_eq!((m.buy_and_hold_return(), m.exposure()), (None, None));
    m.push(&bar(0, 100.0, 1.0, false));
    m.push(&bar(HOUR, f64::NAN, 1.0, true));
    m.push(&bar(2 * HOUR, 120.0, 1.0, false));
    m.push(&bar(3 * HOUR, 150.0, 1.0, false));
    assert!(close_to(m.buy_and_hold_return().unwrap(), 0.5));
    assert_eq!(m.exposure(), Some(0.25));
    let window: Vec<i64> = m.window().iter().map(|p| p.ts_ms).collect();
    assert_eq!(window, [2 * HOUR, 3 * HOUR], "the last two usable closes");
}

fn meta(strategy: &str) -> BacktestMeta {
    BacktestMeta {
        strategy: strategy.into(),
        params: BTreeMap::from([("fast".into(), "<5>".into())]),
        data: "data & more.csv".into(),
        fee_bps: d("10"),
        slippage_bps: d("0"),
        initial_cash: d("1000"),
        fill_model: "next open".into(),
    }
}

fn fill(seq: u64, ts_ms: i64, side: Side, price: &str, reason: Option<&str>) -> FillRecord {
    FillRecord {
        signal_seq: seq,
        ts_ms,
        side,
        qty: d("1"),
        price: d(price),
        fee: d("0"),
        reason: reason.map(str::to_string),
        exit: None,
    }
}

/// The JSON of `report` has no NaN or infinity (serde_json would write
/// `null` for them, so the check is that parsing gives the same report).
fn assert_finite_json(report: &BacktestReport) -> serde_json::Value {
    let json = report.to_json().unwrap();
    assert!(!json.contains("NaN"), "{json}");
    let back: BacktestReport = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, report);
    serde_json::from_str(&json).unwrap()
}

#[test]
fn a_backtest_without_bars_or_trades_has_null_figures() {
    let r = BacktestReportBuilder::new(meta("none")).finish(d("1000"), 0, BTreeMap::new());
    let v = assert_finite_json(&r);
    for key in [
        "annualised_return",
        "sortino",
        "calmar",
        "profit_factor",
        "expectancy",
        "exposure",
        "avg_trade_duration_ms",
        "longest_trade_duration_ms",
        "buy_and_hold_return",
        "max_drawdown_duration_ms",
    ] {
        assert!(v[key].is_null(), "{key} is {}", v[key]);
    }
    assert_eq!(v["total_return"], 0.0);
    assert!(v["monthly_returns"].as_array().unwrap().is_empty());
    let html = render_backtest_html(&r).unwrap();
    assert!(html.contains("No closed trades."));
    assert!(html.contains("no monthly returns"));
}

#[test]
fn a_one_bar_backtest_has_null_ratios_and_one_month() {
    let mut b = BacktestReportBuilder::new(meta("one"));
    b.push_bar(&bar(ms("2024-03-05T00:00:00Z"), 50.0, 1000.0, false))
        .unwrap();
    let r = b.finish(d("1000"), 1, BTreeMap::new());
    let v = assert_finite_json(&r);
    for key in ["annualised_return", "sharpe", "sortino", "calmar"] {
        assert!(v[key].is_null(), "{key} is {}", v[key]);
    }
    assert_eq!(r.exposure, Some(0.0));
    assert_eq!(r.buy_and_hold_return, Some(0.0));
    assert_eq!(r.monthly_returns.len(), 1);
    assert_eq!(r.monthly_returns[0].return_, Some(0.0));
    assert_eq!(v["monthly_returns"][0]["return"], 0.0);
    assert_eq!(r.prices.len(), 1);
}

#[test]
fn a_losing_backtest_has_profit_factor_zero_and_exit_reasons() {
    let mut b = BacktestReportBuilder::new(meta("loser"));
    let fills = [
        (1, fill(0, HOUR, Side::Buy, "100", None)),
        (2, fill(1, 2 * HOUR, Side::Sell, "90", None)),
        (3, fill(2, 3 * HOUR, Side::Buy, "95", None)),
        (
            4,
            FillRecord {
                exit: Some(ExitReason::EndOfData),
                ..fill(3, 4 * HOUR, Side::Sell, "80", Some("end of run: close"))
            },
        ),
    ];
    let closes = [100.0, 100.0, 90.0, 95.0, 80.0];
    let mut position = false;
    for (i, &close) in closes.iter().enumerate() {
        let ts = i as i64 * HOUR;
        for (_, f) in fills.iter().filter(|(at, _)| *at == i) {
            b.push_fill(f).unwrap();
            position = f.side == Side::Buy;
        }
        let equity = 1000.0 - if i >= 2 { 10.0 } else { 0.0 } - if i >= 4 { 15.0 } else { 0.0 };
        b.push_bar(&bar(ts, close, equity, position)).unwrap();
    }
    let r = b.finish(d("975"), 5, BTreeMap::new());
    assert_finite_json(&r);
    assert_eq!(r.num_trades, 2);
    assert_eq!(r.profit_factor, Some(0.0));
    assert_eq!(r.expectancy, Some(-12.5));
    assert_eq!(r.win_rate, Some(0.0));
    assert_eq!(r.exposure, Some(0.4), "bars 1 and 3 closed in the market");
    assert!(close_to(r.buy_and_hold_return.unwrap(), -0.2));
    let reasons: Vec<&str> = r.trades.iter().map(|t| t.exit_reason.as_str()).collect();
    assert_eq!(reasons, [EXIT_SIGNAL, "end_of_data"]);
    assert_eq!(
        r.trades[1].exit_detail.as_deref(),
        Some("end of run: close")
    );
    assert_eq!(
        r.trades_by_exit_reason,
        BTreeMap::from([(EXIT_SIGNAL.to_string(), 1), ("end_of_data".to_string(), 1)])
    );
    assert!(close_to(r.max_drawdown, 0.025));
    assert_eq!(r.max_drawdown_recovery_ts_ms, None);
    assert_eq!(r.max_drawdown_duration_ms, Some(4 * HOUR));
}

#[test]
fn exit_reasons_come_from_the_closing_fill() {
    let paired = pair_fills(&[
        fill(
            1,
            0,
            Side::Buy,
            "10",
            Some("opening reasons do not name exits"),
        ),
        FillRecord {
            exit: Some(ExitReason::Risk),
            ..fill(
                2,
                HOUR,
                Side::Sell,
                "11",
                Some("flatten: kill switch: max drawdown"),
            )
        },
        fill(3, 2 * HOUR, Side::Sell, "11", None),
        fill(4, 3 * HOUR, Side::Buy, "10", None),
    ])
    .unwrap();
    let reasons: Vec<&str> = paired
        .trades
        .iter()
        .map(|t| t.exit_reason.as_str())
        .collect();
    assert_eq!(reasons, ["risk", EXIT_SIGNAL]);
    assert_eq!(
        paired.trades[0].exit_detail.as_deref(),
        Some("flatten: kill switch: max drawdown")
    );
    // A report written before exit reasons existed still reads.
    let mut old = serde_json::to_value(&paired.trades[1]).unwrap();
    old.as_object_mut().unwrap().remove("exit_reason");
    let back: Trade = serde_json::from_value(old).unwrap();
    assert_eq!(back.exit_reason, EXIT_SIGNAL);
}

#[test]
fn the_page_escapes_everything_it_shows_and_loads_nothing() {
    let mut b = BacktestReportBuilder::new(meta("<script>alert(1)</script>"));
    b.push_fill(&fill(0, 0, Side::Buy, "10", None)).unwrap();
    b.push_fill(&fill(
        1,
        HOUR,
        Side::Sell,
        "11",
        Some("<b>\"risk\" & 'cap'</b>"),
    ))
    .unwrap();
    b.push_bar(&bar(0, 10.0, 1000.0, true)).unwrap();
    b.push_bar(&bar(HOUR, 11.0, 1001.0, false)).unwrap();
    let html = render_backtest_html(&b.finish(d("1001"), 2, BTreeMap::new())).unwrap();
    assert!(!html.contains("<script>alert"), "strategy name not escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;b&gt;&quot;risk&quot; &amp; &#39;cap&#39;&lt;/b&gt;"));
    assert!(html.contains("fast=&lt;5&gt;") && html.contains("data &amp; more.csv"));
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the page's own script"
    );
    assert!(html.contains("<meta name=\"viewport\" content=\"width=device-width"));
    for needle in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "the page loads something: {needle}");
    }
    assert_eq!(html.matches("<svg").count(), 3, "equity, drawdown, price");
}

/// A backtest that ends long: the position is closed at the last close and
/// that trade's exit reason in report.json says so; the strategy's own exits
/// say `signal`.
#[test]
fn a_position_open_at_the_end_exits_with_the_end_of_run_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("ends-long.csv");
    // Falling, rising, falling (a long round trip), then rising to the end.
    let mut price = 100.0_f64;
    let mut rows = Vec::new();
    for (i, step) in [(-1.0, 20), (1.0, 20), (-1.0, 20), (1.0, 20)]
        .iter()
        .flat_map(|&(step, n)| std::iter::repeat_n(step, n))
        .enumerate()
    {
        let open = price;
        price += step;
        let (lo, hi) = (open.min(price), open.max(price));
        rows.push(format!(
            "{},{open:.2},{hi:.2},{lo:.2},{price:.2},1.0",
            1_700_000_000_000_i64 + i as i64 * 3_600_000
        ));
    }
    common::data::write_csv(&data, true, &rows);
    let report = common::data::backtest(
        &data,
        &dir.path().join("out"),
        &["--param", "fast=2", "--param", "slow=5"],
    );
    let reasons: Vec<&str> = report
        .trades
        .iter()
        .map(|t| t.exit_reason.as_str())
        .collect();
    assert!(reasons.len() >= 2, "{reasons:?}");
    assert_eq!(reasons.last().copied(), Some("end_of_data"));
    assert_eq!(
        report.trades.last().and_then(|t| t.exit_detail.as_deref()),
        Some("end of run: close at the last close")
    );
    assert!(
        reasons[..reasons.len() - 1]
            .iter()
            .all(|r| *r == EXIT_SIGNAL),
        "{reasons:?}"
    );
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).expect("report.html");
    assert!(
        html.contains(">end_of_data<br><small>end of run: close at the last close</small></td>")
    );
    assert!(html.contains("<tr data-reason=\"end_of_data\">"));
}

#[test]
fn a_long_trade_list_shows_its_last_rows_and_says_so() {
    let mut b = BacktestReportBuilder::new(meta("busy"));
    let n: u64 = 2001;
    for i in 0..n {
        let ts = i as i64 * 2 * HOUR;
        b.push_fill(&fill(2 * i, ts, Side::Buy, "10", None))
            .unwrap();
        b.push_fill(&fill(2 * i + 1, ts + HOUR, Side::Sell, "11", None))
            .unwrap();
    }
    let r = b.finish(d("3001"), 0, BTreeMap::new());
    assert_eq!(r.num_trades, n);
    let html = render_backtest_html(&r).unwrap();
    assert!(html.contains("Showing the last 2000 of 2001 trades"));
    let table = html.split("id=\"trade-table\"").nth(1).unwrap_or_default();
    let body = table.split("<tbody>").nth(1).unwrap_or_default();
    let rows = body.split("</tbody>").next().unwrap_or_default();
    assert_eq!(rows.matches("<tr>").count(), 2000);
    assert!(
        rows.contains("<tr><td data-v=\"2001\">2001</td>"),
        "the last trade is listed"
    );
    assert!(
        !rows.contains("<tr><td data-v=\"1\">1</td>"),
        "the first is not"
    );
}

#[test]
fn a_report_read_back_with_odd_values_still_renders() {
    let mut r = BacktestReportBuilder::new(meta("odd")).finish(d("1000"), 0, BTreeMap::new());
    let mut v = serde_json::to_value(&r).unwrap();
    v["monthly_returns"] = serde_json::json!([
        {"year": 2024, "month": 13, "return": 0.5},
        {"year": 2024, "month": 0, "return": null},
        {"year": 2024, "month": 2, "return": null}
    ]);
    v["avg_trade_duration_ms"] = serde_json::json!(-5);
    r = serde_json::from_value(v).unwrap();
    let html = render_backtest_html(&r).unwrap();
    assert!(!html.contains("50.00 %"), "month 13 is not shown");
    let row = html.split("<td class=\"text\">2024</td>").nth(1).unwrap();
    assert_eq!(
        row.matches("\u{2014}").count(),
        2,
        "Feb and the year: undefined"
    );
    let avg = html
        .split("data-metric=\"avg_trade_duration\"")
        .nth(1)
        .unwrap();
    assert!(
        avg.starts_with("><dt>Average trade</dt><dd class=\"\">\u{2014}</dd>"),
        "{avg:.80}"
    );
}
