//! Tests of the report builders: trade pairing with exact Decimal PnL, the
//! incremental equity statistics and their downsampled curve, the equity SVG
//! (parsed as XML), the backtest report's files and the health checks.
//!
//! Kept as one file: the report builders' tests share the ledger and bar
//! builders, and the files they write are checked with the same parsers; one
//! test binary links once.

use aegis_worker::store::reports::{write_backtest, write_health};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use aegis_engine::report::{
    pair_fills, render_equity_svg, BacktestMeta, BacktestReport, BacktestReportBuilder, BarMark,
    CheckStatus, EquityPoint, EquityStats, FillRecord, HealthInputs, HealthReport,
    HealthThresholds, ReportError, RingLag, Side, TradeSide,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn fill(seq: u64, ts_ms: i64, side: Side, qty: &str, price: &str, fee: &str) -> FillRecord {
    FillRecord {
        signal_seq: seq,
        ts_ms,
        side,
        qty: d(qty),
        price: d(price),
        fee: d(fee),
        reason: None,
        exit: None,
    }
}

/// A fresh, not yet existing directory under the system temp dir.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aegis-reports-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

// ---------------------------------------------------------------- trades

#[test]
fn long_round_trip_nets_both_fees() {
    let paired = pair_fills(&[
        fill(1, 1_000, Side::Buy, "2", "100", "0.2"),
        fill(2, 2_000, Side::Sell, "2", "110", "0.22"),
    ])
    .unwrap();
    assert!(paired.open.is_none());
    assert_eq!(paired.trades.len(), 1);
    let t = &paired.trades[0];
    assert_eq!(t.side, TradeSide::Long);
    assert_eq!((t.entry_ts_ms, t.exit_ts_ms), (1_000, 2_000));
    assert_eq!((t.entry_signal_seq, t.exit_signal_seq), (1, 2));
    assert_eq!(
        (t.entry_price, t.exit_price, t.qty),
        (d("100"), d("110"), d("2"))
    );
    assert_eq!(t.fees, d("0.42"));
    assert_eq!(t.pnl, d("19.58"));
}

#[test]
fn short_round_trip_profits_when_price_falls() {
    let paired = pair_fills(&[
        fill(1, 1, Side::Sell, "1.5", "200", "0.3"),
        fill(2, 2, Side::Buy, "1.5", "190", "0.285"),
    ])
    .unwrap();
    let t = &paired.trades[0];
    assert_eq!(t.side, TradeSide::Short);
    assert_eq!(t.fees, d("0.585"));
    assert_eq!(t.pnl, d("14.415"));
}

#[test]
fn scaling_in_averages_the_entry_price_by_quantity() {
    let paired = pair_fills(&[
        fill(1, 10, Side::Buy, "1", "100", "0.1"),
        fill(2, 20, Side::Buy, "3", "104", "0.312"),
        fill(3, 30, Side::Sell, "4", "105", "0.42"),
    ])
    .unwrap();
    assert_eq!(paired.trades.len(), 1);
    let t = &paired.trades[0];
    assert_eq!(t.entry_price, d("103"));
    assert_eq!(
        t.entry_ts_ms, 10,
        "the trade opens with the first entry fill"
    );
    assert_eq!(t.qty, d("4"));
    assert_eq!(t.fees, d("0.832"));
    // 4 × 105 − (100 + 312) − 0.832
    assert_eq!(t.pnl, d("7.168"));
}

#[test]
fn partial_exits_close_proportional_trades() {
    let paired = pair_fills(&[
        fill(1, 10, Side::Buy, "4", "100", "0.4"),
        fill(2, 20, Side::Sell, "1", "110", "0.11"),
        fill(3, 30, Side::Sell, "3", "90", "0.27"),
    ])
    .unwrap();
    assert!(paired.open.is_none());
    let [first, second] = paired.trades.as_slice() else {
        panic!("expected two trades, got {:?}", paired.trades);
    };
    assert_eq!(
        (first.qty, first.entry_price, first.exit_price),
        (d("1"), d("100"), d("110"))
    );
    assert_eq!(
        first.fees,
        d("0.21"),
        "a quarter of the entry fee plus the exit fee"
    );
    assert_eq!(first.pnl, d("9.79"));
    assert_eq!(
        (second.qty, second.entry_ts_ms, second.exit_ts_ms),
        (d("3"), 10, 30)
    );
    assert_eq!(second.fees, d("0.57"));
    assert_eq!(second.pnl, d("-30.57"));
}

#[test]
fn partial_exit_shares_that_do_not_divide_still_sum_exactly() {
    let paired = pair_fills(&[
        fill(1, 1, Side::Buy, "3", "100", "1"),
        fill(2, 2, Side::Sell, "1", "100", "0"),
        fill(3, 3, Side::Sell, "2", "100", "0"),
    ])
    .unwrap();
    let fees: Decimal = paired.trades.iter().map(|t| t.fees).sum();
    let pnl: Decimal = paired.trades.iter().map(|t| t.pnl).sum();
    assert_eq!(fees, d("1"));
    assert_eq!(pnl, d("-1"));
}

#[test]
fn reversal_closes_the_position_and_opens_the_opposite_with_a_pro_rata_fee() {
    let paired = pair_fills(&[
        fill(1, 10, Side::Buy, "2", "100", "0.2"),
        fill(2, 20, Side::Sell, "5", "110", "0.55"),
    ])
    .unwrap();
    let [long] = paired.trades.as_slice() else {
        panic!("expected one closed trade, got {:?}", paired.trades);
    };
    assert_eq!(long.side, TradeSide::Long);
    assert_eq!(long.qty, d("2"));
    assert_eq!(long.fees, d("0.42"), "0.2 entry + 2/5 of 0.55");
    assert_eq!(long.pnl, d("19.58"));
    let open = paired.open.expect("the reversal leaves a short open");
    assert_eq!(open.side, TradeSide::Short);
    assert_eq!((open.qty, open.entry_price()), (d("3"), d("110")));
    assert_eq!(open.entry_fees, d("0.33"), "3/5 of 0.55");
    assert_eq!((open.entry_ts_ms, open.entry_signal_seq), (20, 2));

    let closed = pair_fills(&[
        fill(1, 10, Side::Buy, "2", "100", "0.2"),
        fill(2, 20, Side::Sell, "5", "110", "0.55"),
        fill(3, 30, Side::Buy, "3", "100", "0.3"),
    ])
    .unwrap();
    let short = &closed.trades[1];
    assert_eq!(
        (short.side, short.entry_ts_ms, short.exit_ts_ms),
        (TradeSide::Short, 20, 30)
    );
    assert_eq!(short.fees, d("0.63"));
    assert_eq!(short.pnl, d("29.37"));
    assert!(closed.open.is_none());
}

#[test]
fn an_unclosed_position_is_returned_separately() {
    let paired = pair_fills(&[
        fill(1, 1, Side::Buy, "1", "100", "0"),
        fill(2, 2, Side::Buy, "1", "102", "0"),
    ])
    .unwrap();
    assert!(paired.trades.is_empty());
    let open = paired.open.unwrap();
    assert_eq!(
        (open.qty, open.entry_price(), open.entry_cost),
        (d("2"), d("101"), d("202"))
    );
}

#[test]
fn invalid_fills_are_rejected_naming_the_field() {
    let cases = [
        (fill(7, 1, Side::Buy, "0", "100", "0"), "qty"),
        (fill(7, 1, Side::Buy, "1", "-5", "0"), "price"),
        (fill(7, 1, Side::Sell, "1", "100", "-0.1"), "fee"),
    ];
    for (bad, field) in cases {
        let err = pair_fills(&[bad]).unwrap_err();
        assert!(
            matches!(&err, ReportError::InvalidFill { field: f, signal_seq: 7, .. } if *f == field),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains(field) && message.contains("signal_seq 7"),
            "{message}"
        );
    }
}

#[test]
fn decimal_overflow_is_an_error_not_a_panic() {
    let err = pair_fills(&[FillRecord {
        signal_seq: 9,
        ts_ms: 0,
        side: Side::Buy,
        qty: d("1000"),
        price: Decimal::MAX,
        fee: Decimal::ZERO,
        reason: None,
        exit: None,
    }])
    .unwrap_err();
    assert!(
        matches!(err, ReportError::DecimalOverflow { signal_seq: 9, .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------- stats

const HOUR: i64 = 3_600_000;

fn stats_of(equity: &[f64], spacing_ms: i64) -> EquityStats {
    let mut stats = EquityStats::new();
    for (i, &e) in equity.iter().enumerate() {
        stats.push(i as i64 * spacing_ms, e).unwrap();
    }
    stats
}

#[test]
fn max_drawdown_reports_the_peak_and_trough() {
    let s = stats_of(&[100.0, 120.0, 90.0, 110.0, 130.0, 117.0], HOUR).summary();
    assert!((s.max_drawdown - 0.25).abs() < 1e-12, "{}", s.max_drawdown);
    assert_eq!(s.drawdown_peak_ts_ms, Some(HOUR));
    assert_eq!(s.drawdown_trough_ts_ms, Some(2 * HOUR));
    assert!((s.total_return.unwrap() - 0.17).abs() < 1e-12);
    assert_eq!(s.bars, 6);
}

#[test]
fn sharpe_matches_a_hand_computation() {
    let s = stats_of(&[100.0, 110.0, 99.0, 108.9], HOUR).summary();
    // Returns +10 %, −10 %, +10 %: mean 1/30, sample variance
    // ((2/30)² + (4/30)² + (2/30)²) / 2 = 0.0133…, hourly bars: 8766 a year,
    // so (1/30) / 0.11547 × 93.627 = 27.0278.
    let mean = 0.1 / 3.0;
    let var = ((0.2 / 3.0_f64).powi(2) + (0.4 / 3.0_f64).powi(2) + (0.2 / 3.0_f64).powi(2)) / 2.0;
    let expected = mean / var.sqrt() * 8766.0_f64.sqrt();
    assert_eq!(s.bar_spacing_ms, Some(HOUR));
    assert!((s.bars_per_year.unwrap() - 8766.0).abs() < 1e-9);
    let sharpe = s.sharpe.unwrap();
    assert!((sharpe - expected).abs() < 1e-9, "{sharpe} vs {expected}");
    assert!((sharpe - 27.0278).abs() < 1e-4, "{sharpe}");
}

#[test]
fn sortino_matches_a_hand_computation() {
    let s = stats_of(&[100.0, 110.0, 99.0, 108.9], HOUR).summary();
    // Returns +10 %, −10 %, +10 %: mean 1/30, downside deviation
    // sqrt(0.1² / 3), hourly bars: 8766 a year.
    let expected = (0.1 / 3.0) / (0.01_f64 / 3.0).sqrt() * 8766.0_f64.sqrt();
    assert!(close(s.sortino.unwrap(), expected), "{:?}", s.sortino);
    assert_eq!(s.span_ms, Some(3 * HOUR));
    let rising = stats_of(&[100.0, 101.0, 103.0], HOUR).summary();
    assert_eq!(rising.sortino, None, "no losing bar: undefined");
    assert_eq!(stats_of(&[100.0], HOUR).summary().sortino, None);
}

#[test]
fn drawdown_duration_runs_from_peak_to_recovery() {
    let s = stats_of(&[100.0, 120.0, 90.0, 110.0, 130.0, 117.0], HOUR).summary();
    assert_eq!(s.drawdown_peak_ts_ms, Some(HOUR));
    assert_eq!(s.drawdown_recovery_ts_ms, Some(4 * HOUR));
    assert_eq!(s.drawdown_duration_ms, Some(3 * HOUR));

    let open = stats_of(&[100.0, 120.0, 90.0, 110.0], HOUR).summary();
    assert_eq!(open.drawdown_recovery_ts_ms, None, "never recovered");
    assert_eq!(open.drawdown_duration_ms, Some(2 * HOUR), "to the last bar");

    let equal = stats_of(&[100.0, 80.0, 100.0], HOUR).summary();
    assert_eq!(
        equal.drawdown_recovery_ts_ms,
        Some(2 * HOUR),
        "back at the peak"
    );

    // A deeper drawdown from the same peak after a recovery starts again.
    let deeper = stats_of(&[100.0, 50.0, 100.0, 40.0], HOUR).summary();
    assert!(close(deeper.max_drawdown, 0.6));
    assert_eq!(deeper.drawdown_peak_ts_ms, Some(0));
    assert_eq!(deeper.drawdown_recovery_ts_ms, None);
    assert_eq!(deeper.drawdown_duration_ms, Some(3 * HOUR));

    let none = stats_of(&[100.0, 101.0], HOUR).summary();
    assert_eq!((none.drawdown_duration_ms, none.max_drawdown), (None, 0.0));
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

#[test]
fn bar_spacing_is_the_median_so_gaps_do_not_change_it() {
    let mut stats = EquityStats::new();
    for (ts, e) in [
        (0, 100.0),
        (60_000, 101.0),
        (120_000, 100.5),
        (420_000, 102.0),
    ] {
        stats.push(ts, e).unwrap();
    }
    let s = stats.summary();
    assert_eq!(s.bar_spacing_ms, Some(60_000));
    assert!((s.bars_per_year.unwrap() - 525_960.0).abs() < 1e-6);
}

#[test]
fn constant_equity_has_no_sharpe_and_no_drawdown() {
    let s = stats_of(&[100.0; 10], HOUR).summary();
    assert_eq!(s.sharpe, None);
    assert_eq!(s.max_drawdown, 0.0);
    assert_eq!(s.drawdown_peak_ts_ms, None);
    assert_eq!(s.total_return, Some(0.0));
}

#[test]
fn too_few_bars_give_no_sharpe() {
    assert_eq!(stats_of(&[], HOUR).summary().sharpe, None);
    assert_eq!(stats_of(&[], HOUR).summary().total_return, None);
    let one = stats_of(&[100.0], HOUR).summary();
    assert_eq!((one.sharpe, one.total_return), (None, Some(0.0)));
    assert_eq!(
        stats_of(&[100.0, 101.0], HOUR).summary().sharpe,
        None,
        "one return has no sample std"
    );
}

#[test]
fn win_rate_counts_positive_pnl_and_is_null_without_trades() {
    let mut stats = EquityStats::new();
    assert_eq!(stats.summary().win_rate, None);
    assert_eq!(stats.summary().num_trades, 0);
    for pnl in ["1.5", "-2", "0", "0.01"] {
        stats.record_trade(d(pnl));
    }
    let s = stats.summary();
    assert_eq!((s.num_trades, s.winning_trades), (4, 2));
    assert_eq!(s.win_rate, Some(0.5));
}

#[test]
fn bad_equity_points_are_rejected_and_change_nothing() {
    let mut stats = EquityStats::new();
    stats.push(1_000, 100.0).unwrap();
    let err = stats.push(2_000, f64::NAN).unwrap_err();
    assert!(err.to_string().contains("2000"), "{err}");
    let err = stats.push(1_000, 50.0).unwrap_err();
    assert!(matches!(
        err,
        ReportError::EquityOutOfOrder {
            ts_ms: 1_000,
            previous_ts_ms: 1_000
        }
    ));
    assert!(stats.push(500, f64::INFINITY).is_err());
    let s = stats.summary();
    assert_eq!((s.bars, s.max_drawdown), (1, 0.0));
    assert!(matches!(
        EquityStats::with_max_points(3),
        Err(ReportError::MaxPointsTooSmall {
            max_points: 3,
            minimum: 4
        })
    ));
}

#[test]
fn returns_after_non_positive_equity_are_skipped() {
    let s = stats_of(&[100.0, 0.0, 50.0, 60.0, 48.0], HOUR).summary();
    assert_eq!(s.skipped_returns, 1);
    assert!(s.sharpe.is_some_and(f64::is_finite));
}

/// A deterministic wiggly series with a planted global maximum and minimum.
fn wiggle(n: usize, top_at: usize, bottom_at: usize) -> Vec<f64> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i == top_at {
                1_000.0
            } else if i == bottom_at {
                1.0
            } else {
                100.0 + (x % 1000) as f64 / 10.0 + (i as f64 / 1000.0).sin() * 20.0
            }
        })
        .collect()
}

fn check_curve(equity: &[f64], max_points: usize) -> Vec<EquityPoint> {
    let mut stats = EquityStats::with_max_points(max_points).unwrap();
    for (i, &e) in equity.iter().enumerate() {
        stats.push(i as i64 * 60_000, e).unwrap();
    }
    let curve = stats.equity_curve();
    assert!(
        curve.len() <= max_points,
        "{} points > {max_points}",
        curve.len()
    );
    assert!(
        curve.windows(2).all(|w| w[0].ts_ms < w[1].ts_ms),
        "curve not in time order"
    );
    if equity.is_empty() {
        assert!(curve.is_empty());
        return curve;
    }
    let last = equity.len() - 1;
    assert_eq!(
        curve.first().map(|p| (p.ts_ms, p.equity)),
        Some((0, equity[0]))
    );
    assert_eq!(
        curve.last().map(|p| (p.ts_ms, p.equity)),
        Some((last as i64 * 60_000, equity[last]))
    );
    let lo = equity.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = equity.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(
        curve.iter().any(|p| p.equity == lo),
        "global minimum dropped"
    );
    assert!(
        curve.iter().any(|p| p.equity == hi),
        "global maximum dropped"
    );
    for p in &curve {
        let i = usize::try_from(p.ts_ms / 60_000).unwrap();
        assert_eq!(equity[i], p.equity, "a kept point must be a real bar");
    }
    if equity.len() <= max_points {
        assert_eq!(curve.len(), equity.len(), "a short series is kept whole");
    }
    curve
}

#[test]
fn a_million_bars_downsample_to_the_limit_keeping_extremes() {
    let equity = wiggle(1_000_000, 777_777, 123_457);
    let curve = check_curve(&equity, aegis_engine::report::DEFAULT_MAX_POINTS);
    assert!(
        curve.len() > 1_500,
        "the limit should be used well: {}",
        curve.len()
    );
    let small = check_curve(&equity, 4);
    assert!(small.len() <= 4);
}

#[test]
fn each_bucket_keeps_its_local_dip() {
    // 10 000 bars, limit 102 → at most 50 buckets of 256 bars; a dip planted
    // every 1 000 bars is the minimum of its bucket, so all ten survive.
    let mut equity = vec![100.0; 10_000];
    for k in 0..10 {
        equity[k * 1_000 + 500] = 50.0 + k as f64;
    }
    let curve = check_curve(&equity, 102);
    for k in 0..10 {
        let ts = (k * 1_000 + 500) as i64 * 60_000;
        assert!(curve.iter().any(|p| p.ts_ms == ts), "dip {k} was dropped");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn downsampling_never_exceeds_the_limit(
        equity in prop::collection::vec(-50.0f64..500.0, 0..3_000),
        max_points in 4usize..120,
    ) {
        check_curve(&equity, max_points);
    }
}

// ---------------------------------------------------------------- chart

struct Svg {
    root: String,
    /// Every element: its name and attributes.
    elements: Vec<(String, BTreeMap<String, String>)>,
    text: String,
}

/// Parses `svg` as XML, failing on anything not well-formed.
fn parse_svg(svg: &str) -> Svg {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut out = Svg {
        root: String::new(),
        elements: Vec::new(),
        text: String::new(),
    };
    let mut depth = 0usize;
    loop {
        let event = reader
            .read_event()
            .unwrap_or_else(|e| panic!("malformed SVG: {e}\n{svg}"));
        let (element, opens) = match &event {
            Event::Start(e) => (Some(e.clone()), true),
            Event::Empty(e) => (Some(e.clone()), false),
            Event::End(_) => {
                depth -= 1;
                (None, false)
            }
            Event::Text(t) => {
                out.text.push_str(&t.decode().unwrap());
                (None, false)
            }
            Event::Eof => break,
            _ => (None, false),
        };
        if let Some(e) = element {
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            if depth == 0 {
                assert!(out.root.is_empty(), "two root elements");
                out.root = name.clone();
            }
            let attrs = e
                .attributes()
                .map(|a| {
                    let a = a.unwrap();
                    (
                        String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                        String::from_utf8(a.value.to_vec()).unwrap(),
                    )
                })
                .collect();
            out.elements.push((name, attrs));
            if opens {
                depth += 1;
            }
        }
    }
    assert_eq!(depth, 0, "unclosed elements");
    out
}

/// The equity line's polylines (found by its colour) and their point counts.
fn equity_polylines(svg: &Svg) -> Vec<usize> {
    svg.elements
        .iter()
        .filter(|(name, attrs)| {
            name == "polyline" && attrs.get("stroke").is_some_and(|s| s == "#1F77B4")
        })
        .map(|(_, attrs)| attrs["points"].split_whitespace().count())
        .collect()
}

fn points(equity: &[f64]) -> Vec<EquityPoint> {
    equity
        .iter()
        .enumerate()
        .map(|(i, &e)| EquityPoint {
            ts_ms: 1_704_067_200_000 + i as i64 * 86_400_000, // from 2024-01-01
            equity: e,
        })
        .collect()
}

#[test]
fn chart_of_many_points_draws_each_point_with_dated_axes() {
    let pts = points(
        &(0..100)
            .map(|i| 1_000.0 + (i as f64 / 5.0).sin() * 100.0)
            .collect::<Vec<_>>(),
    );
    let svg = parse_svg(&render_equity_svg(&pts, "sma_cross on <btc & eth>").unwrap());
    assert_eq!(svg.root, "svg");
    assert_eq!(equity_polylines(&svg), vec![100]);
    assert!(
        svg.text.contains("2024-0"),
        "no UTC dates on the time axis: {}",
        svg.text
    );
    assert!(svg.text.contains("time (UTC)") && svg.text.contains("equity"));
    assert!(
        svg.elements.iter().any(|(n, _)| n == "polygon"),
        "drawdowns are shaded"
    );
}

#[test]
fn chart_without_points_is_an_empty_chart_with_a_note() {
    let svg = parse_svg(&render_equity_svg(&[], "empty").unwrap());
    assert_eq!(svg.root, "svg");
    assert!(svg.text.contains("no equity data"), "{}", svg.text);
    assert!(equity_polylines(&svg).is_empty());
}

#[test]
fn chart_of_one_point_marks_it() {
    let svg = parse_svg(&render_equity_svg(&points(&[1_000.0]), "one").unwrap());
    assert_eq!(svg.root, "svg");
    assert!(svg.text.contains("single point"), "{}", svg.text);
    assert!(svg.elements.iter().any(|(n, _)| n == "circle"));
}

#[test]
fn chart_of_constant_equity_is_flat_with_a_note() {
    let svg = parse_svg(&render_equity_svg(&points(&[500.0; 20]), "flat").unwrap());
    assert_eq!(equity_polylines(&svg), vec![20]);
    assert!(svg.text.contains("constant equity 500.00"), "{}", svg.text);
    assert!(
        !svg.elements.iter().any(|(n, _)| n == "polygon"),
        "nothing to shade"
    );
}

#[test]
fn chart_rejects_non_finite_equity() {
    let mut pts = points(&[1.0, 2.0]);
    pts[1].equity = f64::NAN;
    assert!(matches!(
        render_equity_svg(&pts, "x"),
        Err(ReportError::NonFiniteEquity { .. })
    ));
}

// ---------------------------------------------------------------- backtest report

fn meta() -> BacktestMeta {
    BacktestMeta {
        strategy: "sma_cross".into(),
        params: BTreeMap::from([("fast".into(), "10".into()), ("slow".into(), "30".into())]),
        data: "btcusdt-1m.csv".into(),
        fee_bps: d("10"),
        slippage_bps: d("2.5"),
        initial_cash: d("10000"),
        fill_model:
            "Market orders fill at the next bar's open, moved against the order by the slippage."
                .into(),
    }
}

fn sample_report() -> BacktestReport {
    let mut b = BacktestReportBuilder::new(meta());
    let fills = [
        fill(3, 3 * HOUR, Side::Buy, "1", "100", "0.1"),
        fill(6, 6 * HOUR, Side::Sell, "1", "90", "0.09"),
        fill(8, 8 * HOUR, Side::Sell, "2", "95", "0.19"),
        fill(9, 9 * HOUR, Side::Buy, "2", "85", "0.17"),
    ];
    let mut fills = fills.iter().peekable();
    for i in 0..12 {
        let ts = i * HOUR;
        while let Some(f) = fills.next_if(|f| f.ts_ms == ts) {
            b.push_fill(f).unwrap();
        }
        b.push_bar(&BarMark {
            ts_ms: ts,
            close: 100.0 + i as f64,
            equity: 10_000.0 + ((i as f64) * 1.3).sin() * 40.0,
            in_market: (3..6).contains(&i) || (8..9).contains(&i),
        })
        .unwrap();
    }
    b.finish(d("10009.45"), 12, BTreeMap::from([("gap".into(), 1)]))
}

#[test]
fn builder_fills_in_trades_and_statistics() {
    let r = sample_report();
    assert_eq!(r.num_trades, 2);
    assert_eq!(r.trades.len(), 2);
    assert_eq!(r.trades[0].pnl, d("-10.19"));
    assert_eq!(r.trades[1].pnl, d("19.64"));
    assert_eq!(r.win_rate, Some(0.5));
    assert!(r.open_position.is_none());
    assert!((r.total_return.unwrap() - 0.000945).abs() < 1e-12);
    assert_eq!(r.equity_curve.len(), 12);
    assert!(r.max_drawdown > 0.0 && r.sharpe.is_some());
    assert_eq!(r.candles, 12);
}

#[test]
fn report_writes_json_that_round_trips_and_an_svg() {
    let r = sample_report();
    let dir = scratch_dir("backtest").join("nested");
    write_backtest(&r, &dir).unwrap();
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    assert!(
        json.contains("\"initial_cash\": \"10000\""),
        "money is written as decimal strings"
    );
    let back: BacktestReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let svg = parse_svg(&std::fs::read_to_string(dir.join("equity.svg")).unwrap());
    assert_eq!(equity_polylines(&svg), vec![12]);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["equity.svg", "report.html", "report.json"],
        "no temporary files left behind"
    );
    // Writing again replaces the files.
    write_backtest(&r, &dir).unwrap();
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[test]
fn report_write_names_the_directory_it_cannot_create() {
    let base = scratch_dir("blocked");
    std::fs::create_dir_all(&base).unwrap();
    let file = base.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let err = write_backtest(&sample_report(), &file.join("sub")).unwrap_err();
    assert!(matches!(err, ReportError::CreateDir { .. }), "{err:?}");
    assert!(err.to_string().contains("a-file"), "{err}");
    std::fs::remove_dir_all(&base).unwrap();
}

#[test]
fn an_empty_backtest_still_writes_a_valid_report() {
    let r = BacktestReportBuilder::new(meta()).finish(d("10000"), 0, BTreeMap::new());
    assert_eq!((r.num_trades, r.win_rate, r.sharpe), (0, None, None));
    assert_eq!(r.total_return, Some(0.0));
    let json = r.to_json().unwrap();
    assert!(json.contains("\"win_rate\": null"));
    assert_eq!(serde_json::from_str::<BacktestReport>(&json).unwrap(), r);
    parse_svg(&r.equity_svg().unwrap());
}

// ---------------------------------------------------------------- health

fn healthy() -> HealthInputs {
    HealthInputs {
        generated_at_ms: 1_735_689_600_000, // 2025-01-01T00:00:00Z
        rings: vec![
            RingLag {
                ring: "candles".into(),
                reader: "brain".into(),
                lag: 3,
                missed: 0,
                writer_alive: true,
                reader_alive: true,
            },
            RingLag {
                ring: "signals".into(),
                reader: "orchestrator".into(),
                lag: 0,
                missed: 0,
                writer_alive: true,
                reader_alive: true,
            },
        ],
        rejected: BTreeMap::from([("gap".into(), 0)]),
        last_candle_age_ms: Some(20_000),
        restarts: BTreeMap::from([
            ("feed".into(), 0),
            ("brain".into(), 1),
            ("orchestrator".into(), 0),
        ]),
        ledger_bytes: 4_096,
        ledger_entries: 12,
        duplicate_orders: vec![],
        equity: d("10012.5"),
        drawdown: 0.031,
        halted: None,
    }
}

fn find<'a>(report: &'a HealthReport, name: &str) -> &'a aegis_engine::report::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {:#?}", report.checks))
}

#[test]
fn healthy_inputs_pass_every_check_with_a_measurement() {
    let report = HealthReport::evaluate(&healthy(), &HealthThresholds::default());
    assert_eq!(report.overall, CheckStatus::Pass, "{:#?}", report.checks);
    for c in &report.checks {
        assert_eq!(c.status, CheckStatus::Pass, "{c:?}");
        assert!(
            !c.measured.is_empty() && !c.measured.contains("no data"),
            "{c:?}"
        );
        assert!(!c.threshold.is_empty(), "{c:?}");
    }
    assert_eq!(
        find(&report, "ring candles/brain lag").measured,
        "3 records"
    );
    assert_eq!(find(&report, "drawdown").measured, "3.10%");
    assert_eq!(report.checks.len(), 6 + 1 + 1 + 3 + 5);
}

/// Evaluates a mutated copy of the healthy inputs.
fn with(limits: &HealthThresholds, change: impl FnOnce(&mut HealthInputs)) -> HealthReport {
    let mut inputs = healthy();
    change(&mut inputs);
    HealthReport::evaluate(&inputs, limits)
}

#[test]
fn each_check_fails_when_its_input_crosses_the_threshold() {
    let limits = HealthThresholds {
        max_lag: 100,
        max_missed: 0,
        max_candle_age_ms: 60_000,
        max_drawdown: 0.1,
        max_restarts: 2,
        max_rejected: 5,
        max_ledger_bytes: 1_000_000,
    };
    // (mutation, check name, expected status, text in `measured`, text in `threshold`)
    type Case = (
        Box<dyn FnOnce(&mut HealthInputs)>,
        &'static str,
        CheckStatus,
        &'static str,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            Box::new(|i| i.rings[0].lag = 101),
            "ring candles/brain lag",
            CheckStatus::Fail,
            "101",
            "100",
        ),
        (
            Box::new(|i| i.rings[1].missed = 4),
            "ring signals/orchestrator missed",
            CheckStatus::Fail,
            "4",
            "0",
        ),
        (
            Box::new(|i| i.rings[0].writer_alive = false),
            "ring candles/brain liveness",
            CheckStatus::Fail,
            "writer not alive",
            "alive",
        ),
        (
            Box::new(|i| i.rings[1].reader_alive = false),
            "ring signals/orchestrator liveness",
            CheckStatus::Fail,
            "reader not alive",
            "alive",
        ),
        (
            Box::new(|i| i.last_candle_age_ms = Some(60_001)),
            "candle freshness",
            CheckStatus::Fail,
            "60001 ms",
            "60000",
        ),
        (
            Box::new(|i| {
                i.rejected.insert("ohlc".into(), 6);
            }),
            "rejected records",
            CheckStatus::Warn,
            "ohlc: 6",
            "5",
        ),
        (
            Box::new(|i| {
                i.restarts.insert("brain".into(), 3);
            }),
            "restarts brain",
            CheckStatus::Fail,
            "3",
            "2",
        ),
        (
            Box::new(|i| i.ledger_bytes = 1_000_001),
            "ledger",
            CheckStatus::Warn,
            "1000001 bytes",
            "1000000",
        ),
        (
            Box::new(|i| i.ledger_bytes = 0),
            "ledger",
            CheckStatus::Fail,
            "0 bytes, 12 entries",
            "1000000",
        ),
        (
            Box::new(|i| i.duplicate_orders = vec![41, 97]),
            "duplicate orders",
            CheckStatus::Fail,
            "2 (signal seq 41, 97)",
            "0",
        ),
        (
            Box::new(|i| i.equity = d("-3.5")),
            "equity",
            CheckStatus::Fail,
            "-3.5",
            "> 0",
        ),
        (
            Box::new(|i| i.drawdown = 0.125),
            "drawdown",
            CheckStatus::Fail,
            "12.50%",
            "10.00%",
        ),
        (
            Box::new(|i| i.drawdown = f64::NAN),
            "drawdown",
            CheckStatus::Fail,
            "NaN",
            "10.00%",
        ),
        (
            Box::new(|i| i.halted = Some("max drawdown".into())),
            "halted",
            CheckStatus::Fail,
            "max drawdown",
            "not halted",
        ),
    ];
    for (change, name, status, measured, threshold) in cases {
        let report = with(&limits, change);
        let c = find(&report, name);
        assert_eq!(c.status, status, "{c:?}");
        assert!(
            c.measured.contains(measured),
            "{c:?} should show {measured:?}"
        );
        assert!(
            c.threshold.contains(threshold),
            "{c:?} should show {threshold:?}"
        );
        assert!(
            report.overall >= status,
            "overall {:?} hides {c:?}",
            report.overall
        );
        let others_pass = report
            .checks
            .iter()
            .filter(|o| o.name != name)
            .all(|o| o.status == CheckStatus::Pass);
        assert!(
            others_pass,
            "only {name} should change: {:#?}",
            report.checks
        );
    }
    // Exactly at a threshold still passes.
    let at = with(&limits, |i| {
        i.rings[0].lag = 100;
        i.last_candle_age_ms = Some(60_000);
        i.drawdown = 0.1;
        i.restarts.insert("feed".into(), 2);
    });
    assert_eq!(at.overall, CheckStatus::Pass, "{:#?}", at.checks);
}

#[test]
fn missing_inputs_are_never_pass() {
    let limits = HealthThresholds::default();
    let no_candle = with(&limits, |i| i.last_candle_age_ms = None);
    let c = find(&no_candle, "candle freshness");
    assert_eq!(
        (c.status, c.measured.as_str()),
        (CheckStatus::Fail, "no data")
    );

    let no_rings = with(&limits, |i| i.rings.clear());
    let c = find(&no_rings, "rings");
    assert_eq!(
        (c.status, c.measured.as_str()),
        (CheckStatus::Fail, "no data")
    );

    let no_restarts = with(&limits, |i| i.restarts.clear());
    let c = find(&no_restarts, "restarts");
    assert_eq!(
        (c.status, c.measured.as_str()),
        (CheckStatus::Warn, "no data")
    );
    assert_eq!(no_restarts.overall, CheckStatus::Warn);

    let bad_limit = HealthThresholds {
        max_drawdown: f64::NAN,
        ..HealthThresholds::default()
    };
    assert_eq!(
        find(&with(&bad_limit, |_| {}), "drawdown").status,
        CheckStatus::Fail
    );
}

#[test]
fn markdown_lists_failures_with_their_numbers() {
    let report = with(&HealthThresholds::default(), |i| {
        i.rings[0].lag = 2_000;
        i.halted = Some("kill switch | manual".into());
    });
    let md = report.to_markdown();
    assert!(md.contains("2025-01-01T00:00:00Z"), "{md}");
    assert!(md.contains("Overall: **FAIL**"), "{md}");
    assert!(
        md.contains("| FAIL | ring candles/brain lag | 2000 records | <= 1024 records |"),
        "{md}"
    );
    assert!(
        md.contains("kill switch \\| manual"),
        "pipes are escaped: {md}"
    );
    let fail_rows = md.lines().filter(|l| l.starts_with("| FAIL |")).count();
    assert_eq!(fail_rows, 2, "{md}");
    let pass_rows = md.lines().filter(|l| l.starts_with("| PASS |")).count();
    assert_eq!(pass_rows, report.checks.len() - 2);
    assert_eq!(report.problems().count(), 2);
}

#[test]
fn health_json_round_trips_and_files_are_written() {
    let report = with(&HealthThresholds::default(), |i| {
        i.duplicate_orders = (0..30).collect()
    });
    let json = report.to_json().unwrap();
    assert!(json.contains("\"status\": \"FAIL\""), "{json}");
    assert!(
        json.contains("and 10 more"),
        "long duplicate lists are cut: {json}"
    );
    assert_eq!(serde_json::from_str::<HealthReport>(&json).unwrap(), report);

    let dir = scratch_dir("health");
    let now = 1_735_693_384_567; // 2025-01-01T01:03:04.567Z
    let written = write_health(&report, &dir, now).unwrap();
    assert_eq!(written.markdown, dir.join("health-20250101T010304.567Z.md"));
    assert_eq!(written.json, dir.join("health-20250101T010304.567Z.json"));
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    assert_eq!(std::fs::read_to_string(dir.join("latest.md")).unwrap(), md);
    assert_eq!(
        std::fs::read_to_string(dir.join("latest.json")).unwrap(),
        std::fs::read_to_string(&written.json).unwrap()
    );
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, 4, "no temporary files left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The case proptest found: the first merge of single-bar buckets left more
/// buckets than two-point buckets may use, and the curve had 66 points for 65.
#[test]
fn downsampling_right_after_the_first_merge_stays_within_the_limit() {
    let equity: Vec<f64> = (0..67)
        .map(|i| if i % 2 == 0 { 0.0 } else { 100.0 + i as f64 })
        .collect();
    for n in 60..67 {
        check_curve(&equity[..n], 65);
    }
    for max_points in 4..120 {
        let long: Vec<f64> = (0..(3 * max_points)).map(|i| (i % 7) as f64).collect();
        for n in max_points..long.len() {
            check_curve(&long[..n], max_points);
        }
    }
}
