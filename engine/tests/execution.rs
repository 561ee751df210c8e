//! The orchestrator's state machine: hand-computed fills and PnL, risk rules,
//! idempotency, and the crash-restart property (rebuilding from any prefix of
//! the ledger and continuing gives the uninterrupted run's entries and state).
//!
//! Kept as one file: the state machine's tests share the signal and entry
//! helpers and the crash-restart property uses every scenario; one test binary
//! links once.

use std::str::FromStr;

use aegis_contract::records::Signal;
use aegis_engine::ledger::{duplicate_orders, Entry, HaltKind};
use aegis_engine::trading::{
    Execution, ExecutionParams, FlattenError, RebuildError, RiskLimits, Side,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

/// The `Order` entries among `entries`: (signal, side, quantity).
fn orders(entries: &[Entry]) -> Vec<(u64, Side, Decimal)> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Order {
                signal_seq,
                side,
                qty,
                ..
            } => Some((*signal_seq, *side, *qty)),
            _ => None,
        })
        .collect()
}

type TestResult = Result<(), Box<dyn std::error::Error>>;

const HOUR_MS: i64 = 3_600_000;
/// 2024-01-01T00:00:00Z.
const DAY0_MS: i64 = 1_704_067_200_000;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("bad test decimal {s}: {e}"))
}

fn sig(seq: u64, ts_ms: i64, open: f64, close: f64, target: i64) -> Signal {
    Signal {
        seq,
        candle_seq: seq + 1000,
        ts_ms,
        open,
        high: open.max(close),
        low: open.min(close),
        close,
        target,
        ..Signal::default()
    }
}

/// Bars one hour apart from `DAY0_MS`, seq from 1.
fn bars(rows: &[(f64, f64, i64)]) -> Vec<Signal> {
    rows.iter()
        .enumerate()
        .map(|(i, &(open, close, target))| {
            sig(
                i as u64 + 1,
                DAY0_MS + i as i64 * HOUR_MS,
                open,
                close,
                target,
            )
        })
        .collect()
}

fn params(cash: &str, fee_bps: &str, slippage_bps: &str, step: &str) -> ExecutionParams {
    ExecutionParams {
        fee_bps: d(fee_bps),
        slippage_bps: d(slippage_bps),
        qty_step: d(step),
        ..ExecutionParams::new(d(cash))
    }
}

fn run(exec: &mut Execution, signals: &[Signal]) -> Vec<Entry> {
    signals.iter().flat_map(|s| exec.on_signal(s)).collect()
}

fn fills(entries: &[Entry]) -> Vec<(u64, Side, Decimal, Decimal, Decimal)> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Fill {
                signal_seq,
                side,
                qty,
                price,
                fee,
                ..
            } => Some((*signal_seq, *side, *qty, *price, *fee)),
            _ => None,
        })
        .collect()
}

#[test]
fn fills_at_the_next_open_with_fee_and_slippage() -> TestResult {
    let mut exec = Execution::new(params("10000", "10", "5", "0.001"))?;
    let s = bars(&[
        (100.0, 100.0, 1),
        (99.0, 101.0, 1),
        (102.0, 103.0, 0),
        (104.0, 104.0, 0),
    ]);

    // Bar 1: decided at the close, nothing filled yet.
    let e1 = exec.on_signal(&s[0]);
    assert_eq!(orders(&e1), vec![(1, Side::Buy, d("99.850"))]);
    assert!(fills(&e1).is_empty());
    assert_eq!(exec.portfolio().position, Decimal::ZERO);
    assert_eq!(exec.pending().map(|p| p.signal_seq), Some(1));

    // Bar 2: fills at 99 × 1.0005, fee 10 bps of the notional.
    let e2 = exec.on_signal(&s[1]);
    assert_eq!(
        e2.first(),
        Some(&Entry::Fill {
            signal_seq: 1,
            ts_ms: s[1].ts_ms,
            side: Side::Buy,
            qty: d("99.850"),
            price: d("99.0495"),
            fee: d("9.8900925750"),
            cash_after: d("100.0173324250"),
            position_after: d("99.850"),
            realized_pnl_after: Decimal::ZERO,
        })
    );
    assert!(orders(&e2).is_empty(), "target unchanged: no order");
    assert_eq!(exec.pending(), None);
    assert_eq!(exec.portfolio().unrealized(d("101"))?, d("194.7574250"));
    let snap = exec.snapshot();
    assert_eq!(snap.unrealized_pnl, d("194.7574250"));
    assert_eq!(snap.equity, d("100.0173324250") + d("99.850") * d("101"));

    // Bar 3 decides flat, bar 4 sells at 104 × 0.9995.
    assert_eq!(
        orders(&exec.on_signal(&s[2])),
        vec![(3, Side::Sell, d("99.850"))]
    );
    let e4 = exec.on_signal(&s[3]);
    assert_eq!(
        fills(&e4),
        vec![(
            3,
            Side::Sell,
            d("99.850"),
            d("103.9480"),
            d("10.3792078000")
        )]
    );
    let p = exec.portfolio();
    assert_eq!(p.position, Decimal::ZERO);
    assert_eq!(p.realized_pnl, d("489.1152250"));
    assert_eq!(p.cash, d("10468.8459246250"));
    assert_eq!(p.fees_paid, d("9.8900925750") + d("10.3792078000"));
    assert_eq!(p.cash, d("10000") + p.realized_pnl - p.fees_paid);
    assert_eq!(exec.equity(d("1"))?, p.cash);
    Ok(())
}

#[test]
fn a_buy_is_cut_to_the_cash_available_at_the_fill() -> TestResult {
    let mut exec = Execution::new(params("10000", "10", "5", "0.001"))?;
    let s = bars(&[(100.0, 100.0, 1), (110.0, 110.0, 1)]);
    exec.on_signal(&s[0]);
    let e = exec.on_signal(&s[1]);
    // 99.850 ordered; 10000 / (110.055 × 1.001) affords 90.772.
    assert_eq!(
        fills(&e),
        vec![(1, Side::Buy, d("90.772"), d("110.055"), d("9.9899124600"))]
    );
    assert_eq!(exec.portfolio().cash, d("0.0976275400"));
    assert!(exec.portfolio().cash >= Decimal::ZERO);
    Ok(())
}

#[test]
fn a_fill_of_nothing_is_a_cancellation() -> TestResult {
    let mut exec = Execution::new(params("10000", "10", "5", "0.001"))?;
    let s = bars(&[(100.0, 100.0, 1), (1e9, 1e9, 1), (f64::NAN, 100.0, 1)]);
    exec.on_signal(&s[0]);
    let e = exec.on_signal(&s[1]);
    assert!(fills(&e).is_empty());
    assert!(
        matches!(&e[0], Entry::Cancelled { signal_seq: 1, reason, .. } if reason.contains("not enough cash")),
        "{e:?}"
    );
    assert_eq!(exec.portfolio().cash, d("10000"));
    // At 1e9 not even one step is affordable, so no new order either.
    assert_eq!(exec.pending(), None);
    assert!(orders(&e).is_empty());
    // A NaN open cancels a pending order instead of filling it at nonsense.
    let mut exec = Execution::new(params("10000", "0", "0", "0.001"))?;
    exec.on_signal(&s[0]);
    let e = exec.on_signal(&sig(2, DAY0_MS + HOUR_MS, f64::NAN, 100.0, 1));
    assert!(
        matches!(&e[0], Entry::Cancelled { signal_seq: 1, reason, .. } if reason.contains("invalid open"))
    );
    // ...and the book re-orders towards the target at the same bar's close.
    assert_eq!(orders(&e), vec![(2, Side::Buy, d("100"))]);
    Ok(())
}

#[test]
fn unusable_close_or_target_never_orders() -> TestResult {
    let mut exec = Execution::new(params("1000", "0", "0", "0.001"))?;
    for (i, close) in [f64::NAN, f64::INFINITY, -5.0, 0.0, 1e300]
        .into_iter()
        .enumerate()
    {
        assert!(
            exec.on_signal(&sig(i as u64 + 1, DAY0_MS, 10.0, close, 1))
                .is_empty(),
            "close {close}"
        );
    }
    let e = exec.on_signal(&sig(10, DAY0_MS, 10.0, 10.0, 7));
    assert!(
        matches!(e.last(), Some(Entry::Rejected { signal_seq: 10, target: 7, reason, .. }) if reason.contains("target 7"))
    );
    // The same bad target again is not re-rejected every bar.
    assert!(exec.on_signal(&sig(11, DAY0_MS, 10.0, 10.0, 7)).is_empty());
    assert_eq!(exec.pending(), None);
    Ok(())
}

#[test]
fn reversal_long_to_short_realizes_and_reopens() -> TestResult {
    let mut exec = Execution::new(params("1000", "0", "0", "0.001"))?;
    let s = bars(&[(10.0, 10.0, 1), (10.0, 12.0, -1), (12.5, 11.0, -1)]);
    let e = run(&mut exec, &s);
    assert_eq!(
        orders(&e),
        vec![(1, Side::Buy, d("100")), (2, Side::Sell, d("200"))]
    );
    let p = exec.portfolio();
    assert_eq!(p.position, d("-100"));
    assert_eq!(p.avg_entry, d("12.5"));
    assert_eq!(p.realized_pnl, d("250"));
    assert_eq!(p.cash, d("2500"));
    assert_eq!(p.unrealized(d("11"))?, d("150"));
    assert_eq!(exec.equity(d("11"))?, d("1400"));
    assert_eq!(exec.snapshot().equity, d("1400"));
    Ok(())
}

#[test]
fn finish_closes_at_the_last_close_with_costs() -> TestResult {
    let mut exec = Execution::new(params("1000", "10", "10", "0.001"))?;
    // Long from bar 2; bar 3 asks to go short (never filled: the run ends).
    let s = bars(&[(10.0, 10.0, 1), (10.0, 11.0, 1), (11.0, 12.0, -1)]);
    run(&mut exec, &s);
    let qty = exec.portfolio().position;
    assert!(qty > Decimal::ZERO);
    let e = exec.finish(&s[2]);
    assert!(
        matches!(&e[0], Entry::Cancelled { signal_seq: 3, .. }),
        "{e:?}"
    );
    let price = d("12") * d("0.999");
    assert_eq!(orders(&e), vec![(4, Side::Sell, qty)]);
    assert_eq!(
        fills(&e),
        vec![(4, Side::Sell, qty, price, qty * price * d("0.001"))]
    );
    assert_eq!(exec.portfolio().position, Decimal::ZERO);
    assert_eq!(exec.last_signal_seq(), Some(4));
    assert!(
        exec.finish(&s[2]).is_empty(),
        "finishing twice does nothing more"
    );
    Ok(())
}

#[test]
fn flatten_closes_at_the_last_close_halts_and_replays() -> TestResult {
    let p = || params("1000", "10", "10", "0.001");
    let mut exec = Execution::new(p())?;
    // Long from bar 2; bar 3 asks to go short (its order waits for bar 4).
    let s = bars(&[(10.0, 10.0, 1), (10.0, 11.0, 1), (11.0, 12.0, -1)]);
    let mut ledger = run(&mut exec, &s);
    let qty = exec.portfolio().position;
    assert!(qty > Decimal::ZERO);
    // A restart before any new bar knows no price: nothing to close at.
    let mut no_price = Execution::rebuild(p(), &ledger)?;
    assert_eq!(
        no_price.flatten("flattened", 7),
        Err(FlattenError::NoPrice { position: qty })
    );
    assert_eq!(
        no_price.portfolio(),
        exec.portfolio(),
        "a refusal changes nothing"
    );

    let e = exec.flatten("flattened", 7)?;
    assert!(
        matches!(&e[0], Entry::Cancelled { signal_seq: 3, .. }),
        "{e:?}"
    );
    let price = d("12") * d("0.999");
    assert_eq!(orders(&e), vec![(4, Side::Sell, qty)]);
    assert_eq!(
        fills(&e),
        vec![(4, Side::Sell, qty, price, qty * price * d("0.001"))]
    );
    assert!(
        matches!(e.last(), Some(Entry::Halt { kind: HaltKind::KillSwitch, reason, .. }) if reason == "flattened"),
        "{e:?}"
    );
    assert_eq!(exec.portfolio().position, Decimal::ZERO);
    assert!(exec.snapshot().halted && exec.pending().is_none());
    assert!(
        exec.flatten("flattened", 8)?.is_empty(),
        "a second flatten is a no-op"
    );

    // Later signals are not traded; a rebuilt book is the same, and halted.
    ledger.extend(e);
    let later = bars(&[
        (12.0, 12.0, 1),
        (12.0, 13.0, -1),
        (13.0, 13.0, 1),
        (13.0, 14.0, 1),
        (14.0, 14.0, 0),
        (14.0, 15.0, 1),
    ]);
    let later: Vec<Signal> = later
        .into_iter()
        .map(|b| Signal {
            seq: b.seq + 4,
            ..b
        })
        .collect();
    let after = run(&mut exec, &later);
    assert_eq!(orders(&after), vec![], "halted: {after:?}");
    let mut rebuilt = Execution::rebuild(p(), &ledger)?;
    assert_eq!(
        rebuilt.portfolio(),
        exec.portfolio(),
        "no fill since the flatten"
    );
    assert!(rebuilt.halted().is_some_and(|h| h.reason == "flattened"));
    assert_eq!(orders(&run(&mut rebuilt, &later)), vec![]);
    Ok(())
}

#[test]
fn a_signal_is_acted_on_once() -> TestResult {
    let mut exec = Execution::new(params("1000", "0", "0", "0.001"))?;
    let s = bars(&[(10.0, 10.0, 1), (10.0, 10.0, 0), (10.0, 10.0, 1)]);
    let first = exec.on_signal(&s[0]);
    assert_eq!(orders(&first).len(), 1);
    assert!(exec.on_signal(&s[0]).is_empty(), "same signal again");
    let second = exec.on_signal(&s[1]);
    assert!(exec.on_signal(&s[0]).is_empty(), "an older signal");
    assert!(exec.on_signal(&s[1]).is_empty());
    let third = exec.on_signal(&s[2]);
    let all: Vec<Entry> = [first, second, third].concat();
    assert_eq!(orders(&all).len(), 3);
    assert!(duplicate_orders(&all).is_empty());

    // After a restart every signal is re-read: nothing is ordered twice.
    let mut again = Execution::rebuild(params("1000", "0", "0", "0.001"), &all)?;
    assert!(run(&mut again, &s).is_empty());
    assert_eq!(again.portfolio(), exec.portfolio());
    assert_eq!(again.pending(), exec.pending());
    Ok(())
}

#[test]
fn drawdown_kill_switch_flattens_halts_and_survives_restarts_until_cleared() -> TestResult {
    let p = ExecutionParams {
        limits: RiskLimits {
            max_drawdown: Some(d("0.2")),
            ..RiskLimits::default()
        },
        ..params("1000", "0", "0", "1")
    };
    let mut exec = Execution::new(p.clone())?;
    let s = bars(&[
        (10.0, 10.0, 1),
        (10.0, 10.0, 1),
        (10.0, 7.9, 1), // equity 790: 21% below the 1000 peak
        (8.0, 8.0, 1),
        (8.0, 8.0, 1),
        (8.0, 8.0, 1),
        (8.0, 8.0, 1),
    ]);
    let mut ledger = run(&mut exec, &s[..2]);
    let e3 = exec.on_signal(&s[2]);
    assert!(
        matches!(&e3[0], Entry::Halt { kind: HaltKind::KillSwitch, equity, signal_seq: 3, .. } if *equity == d("790")),
        "{e3:?}"
    );
    assert!(
        matches!(&e3[1], Entry::Order { side: Side::Sell, target: 0, reason: Some(r), .. } if r.contains("kill switch"))
    );
    assert_eq!(exec.drawdown(), d("0.21"));
    ledger.extend(e3);
    let e4 = exec.on_signal(&s[3]);
    assert_eq!(
        fills(&e4),
        vec![(3, Side::Sell, d("100"), d("8"), Decimal::ZERO)]
    );
    assert!(
        matches!(e4.last(), Some(Entry::Rejected { target: 1, .. })),
        "brain still long: refused once"
    );
    ledger.extend(e4);
    assert!(
        exec.on_signal(&s[4]).is_empty(),
        "no new entries while halted"
    );
    assert!(exec.halted().is_some());
    assert!(exec.snapshot().halted);

    // A restart keeps the halt.
    let mut restarted = Execution::rebuild(p.clone(), &ledger)?;
    assert!(restarted.halted().is_some());
    assert!(run(&mut restarted, &s[..6]).is_empty());
    assert_eq!(restarted.portfolio().position, Decimal::ZERO);

    // Clearing it (clear_halt at startup) writes a Resume; the next restart trades again.
    let resume = restarted.resume(DAY0_MS + 100 * HOUR_MS);
    assert_eq!(
        resume,
        vec![Entry::Resume {
            ts_ms: DAY0_MS + 100 * HOUR_MS
        }]
    );
    assert!(restarted.resume(0).is_empty(), "not halted any more");
    ledger.extend(resume);
    let mut cleared = Execution::rebuild(p, &ledger)?;
    assert!(cleared.halted().is_none());
    let e7 = cleared.on_signal(&s[6]);
    assert!(
        matches!(&e7[0], Entry::Mark { peak_equity, .. } if *peak_equity == d("800")),
        "peak restarts: {e7:?}"
    );
    assert_eq!(orders(&e7), vec![(7, Side::Buy, d("100"))]);
    Ok(())
}

#[test]
fn daily_loss_stops_the_day_and_lapses_at_the_next_utc_day() -> TestResult {
    let p = ExecutionParams {
        limits: RiskLimits {
            daily_loss_limit: Some(d("100")),
            ..RiskLimits::default()
        },
        ..params("1000", "0", "0", "1")
    };
    let six = 6 * HOUR_MS;
    let s = [
        sig(1, DAY0_MS, 10.0, 10.0, 1),
        sig(2, DAY0_MS + six, 10.0, 8.5, 1), // equity 850: lost 150 today
        sig(3, DAY0_MS + 2 * six, 9.0, 9.0, 1),
        sig(4, DAY0_MS + 3 * six, 9.0, 9.0, 1),
        sig(5, DAY0_MS + 4 * six, 9.0, 9.0, 1), // next UTC day
    ];
    let mut exec = Execution::new(p.clone())?;
    let mut ledger = exec.on_signal(&s[0]);
    let e2 = exec.on_signal(&s[1]);
    assert!(
        matches!(&e2[1], Entry::Halt { kind: HaltKind::DailyLoss, equity, .. } if *equity == d("850")),
        "{e2:?}"
    );
    assert_eq!(orders(&e2), vec![(2, Side::Sell, d("100"))]);
    ledger.extend(e2);
    let e3 = exec.on_signal(&s[2]);
    assert_eq!(
        fills(&e3),
        vec![(2, Side::Sell, d("100"), d("9"), Decimal::ZERO)]
    );
    assert!(orders(&e3).is_empty());
    assert!(exec.daily_stop().is_some() && exec.halted().is_none());
    ledger.extend(e3);

    // The stop survives a restart within the day...
    let mut restarted = Execution::rebuild(p, &ledger)?;
    assert!(restarted.daily_stop().is_some());
    assert!(run(&mut restarted, &s[..4]).is_empty());
    // ...and lapses with the day.
    let e5 = restarted.on_signal(&s[4]);
    assert!(
        matches!(&e5[0], Entry::Mark { day_start_equity, .. } if *day_start_equity == d("900"))
    );
    assert_eq!(orders(&e5), vec![(5, Side::Buy, d("100"))]);
    assert!(restarted.daily_stop().is_none());
    Ok(())
}

#[test]
fn max_notional_reduces_orders_to_the_cap() -> TestResult {
    let capped = |cap: &str| ExecutionParams {
        limits: RiskLimits {
            max_position_notional: Some(d(cap)),
            ..RiskLimits::default()
        },
        ..params("10000", "0", "0", "0.001")
    };
    let mut exec = Execution::new(capped("2000"))?;
    let s = bars(&[(100.0, 100.0, 1), (100.0, 100.0, -1), (100.0, 100.0, -1)]);
    let e = run(&mut exec, &s);
    assert_eq!(
        orders(&e),
        vec![(1, Side::Buy, d("20")), (2, Side::Sell, d("40"))]
    );
    assert!(e.iter().any(
        |x| matches!(x, Entry::Order { reason: Some(r), .. } if r.contains("max_position_notional"))
    ));
    assert_eq!(exec.portfolio().position, d("-20"));

    // A cap below one step of the asset rejects the entry.
    let mut tiny = Execution::new(capped("0.05"))?;
    let e = tiny.on_signal(&s[0]);
    assert!(
        matches!(e.last(), Some(Entry::Rejected { reason, .. }) if reason.contains("max_position_notional")),
        "{e:?}"
    );
    assert_eq!(tiny.pending(), None);
    Ok(())
}

#[test]
fn bad_parameters_are_named() {
    let cases: Vec<(ExecutionParams, &str)> = vec![
        (params("0", "0", "0", "1"), "cash"),
        (params("1", "-1", "0", "1"), "fee_bps"),
        (params("1", "0", "10000", "1"), "slippage_bps"),
        (params("1", "0", "0", "0"), "qty_step"),
        (
            ExecutionParams {
                allocation: d("1.5"),
                ..params("1", "0", "0", "1")
            },
            "allocation",
        ),
        (
            ExecutionParams {
                limits: RiskLimits {
                    max_drawdown: Some(d("1")),
                    ..RiskLimits::default()
                },
                ..params("1", "0", "0", "1")
            },
            "max_drawdown",
        ),
    ];
    for (p, field) in cases {
        let err = Execution::new(p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(field), "{field}: {err:?}");
    }
}

#[test]
fn rebuild_refuses_a_ledger_that_does_not_add_up() -> TestResult {
    let s = bars(&[(10.0, 10.0, 1), (10.0, 10.0, 0), (10.0, 10.0, 0)]);
    let mut exec = Execution::new(params("1000", "0", "0", "1"))?;
    let entries = run(&mut exec, &s);
    // Another starting cash: the recorded cash_after no longer matches.
    match Execution::rebuild(params("2000", "0", "0", "1"), &entries) {
        Err(RebuildError::Inconsistent { index, reason }) => {
            assert!(matches!(entries[index - 1], Entry::Fill { .. }));
            assert!(reason.contains("cash_after"), "{reason}");
        }
        other => panic!("expected an inconsistency, got {other:?}"),
    }
    // A reused idempotency key.
    let mut dup = entries[..2].to_vec();
    dup.push(entries[1].clone());
    assert!(matches!(
        Execution::rebuild(params("1000", "0", "0", "1"), &dup),
        Err(RebuildError::Inconsistent { index: 3, .. })
    ));
    // A fill that does not fit its order.
    let mut bent = entries.clone();
    if let Some(Entry::Fill { side, .. }) = bent.get_mut(2) {
        *side = Side::Sell;
    }
    match Execution::rebuild(params("1000", "0", "0", "1"), &bent) {
        Err(RebuildError::Inconsistent { index: 3, reason }) => {
            assert!(reason.contains("does not fit"), "{reason}")
        }
        other => panic!("expected entry 3 to be refused, got {other:?}"),
    }
    // An order older than a bar already recorded.
    let late = vec![
        Entry::Mark {
            signal_seq: 5,
            ts_ms: DAY0_MS,
            peak_equity: d("1000"),
            day_start_equity: d("1000"),
        },
        Entry::Rejected {
            signal_seq: 3,
            ts_ms: DAY0_MS,
            target: 1,
            reason: String::new(),
        },
    ];
    match Execution::rebuild(params("1000", "0", "0", "1"), &late) {
        Err(RebuildError::Inconsistent { index: 2, reason }) => {
            assert!(reason.contains("later signal 5"), "{reason}")
        }
        other => panic!("expected entry 2 to be refused, got {other:?}"),
    }
    // A fill without its order.
    let orphan: Vec<Entry> = entries
        .iter()
        .filter(|e| !matches!(e, Entry::Order { .. }))
        .cloned()
        .collect();
    assert!(Execution::rebuild(params("1000", "0", "0", "1"), &orphan).is_err());
    assert!(matches!(
        Execution::rebuild(params("0", "0", "0", "1"), &entries),
        Err(RebuildError::Params(_))
    ));
    Ok(())
}

/// One generated run: parameters and bars.
#[derive(Clone, Debug)]
struct Scenario {
    params: ExecutionParams,
    signals: Vec<Signal>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let limits = (
        prop_oneof![Just(None), Just(Some("0.05")), Just(Some("0.15"))],
        prop_oneof![Just(None), Just(Some("60")), Just(Some("400"))],
        prop_oneof![Just(None), Just(Some("4000"))],
    );
    let costs = (
        prop_oneof![Just("0"), Just("10"), Just("7.5")],
        prop_oneof![Just("0"), Just("5")],
        prop_oneof![Just("1"), Just("0.5")],
        prop_oneof![Just(HOUR_MS), Just(5 * HOUR_MS)],
    );
    let bar = (-1i64..=1, -400i64..=400, -150i64..=150, 0u8..50);
    (limits, costs, prop::collection::vec(bar, 2..40)).prop_map(
        |((dd, daily, cap), (fee, slip, alloc, step_ms), rows)| {
            let params = ExecutionParams {
                allocation: d(alloc),
                limits: RiskLimits {
                    max_drawdown: dd.map(d),
                    daily_loss_limit: daily.map(d),
                    max_position_notional: cap.map(d),
                },
                ..params("10000", fee, slip, "0.001")
            };
            let mut close = 100.0_f64;
            let mut signals = Vec::new();
            for (i, (target, move_bp, gap_bp, glitch)) in rows.into_iter().enumerate() {
                let cents = |x: f64| (x * 100.0).round() / 100.0;
                let open = if glitch == 0 {
                    f64::NAN
                } else {
                    cents(close * (1.0 + gap_bp as f64 / 10_000.0))
                };
                close = cents((close * (1.0 + move_bp as f64 / 10_000.0)).max(1.0));
                signals.push(sig(
                    i as u64 + 1,
                    DAY0_MS + i as i64 * step_ms,
                    open,
                    close,
                    target,
                ));
            }
            Scenario { params, signals }
        },
    )
}

fn full_run(sc: &Scenario) -> Result<(Execution, Vec<Entry>), TestCaseError> {
    let mut exec =
        Execution::new(sc.params.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut entries = run(&mut exec, &sc.signals);
    if let Some(last) = sc.signals.last() {
        entries.extend(exec.finish(last));
    }
    Ok((exec, entries))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// The crash-restart property: a ledger cut after any entry (a crash
    /// between appends or a torn batch) rebuilds into a state that, fed the
    /// whole signal stream again, appends exactly the entries the
    /// uninterrupted run appended and ends in the same state.
    #[test]
    fn rebuild_at_every_prefix_then_continuing_matches_the_uninterrupted_run(sc in scenario()) {
        let (whole, entries) = full_run(&sc)?;
        prop_assert!(duplicate_orders(&entries).is_empty());
        prop_assert!(whole.portfolio().position.is_zero(), "finish leaves the book flat");
        let last = sc.signals.last().copied().unwrap_or_default();
        for cut in 0..=entries.len() {
            let mut resumed = Execution::rebuild(sc.params.clone(), &entries[..cut])
                .map_err(|e| TestCaseError::fail(format!("cut {cut}: {e}")))?;
            let mut appended = entries[..cut].to_vec();
            appended.extend(run(&mut resumed, &sc.signals));
            appended.extend(resumed.finish(&last));
            prop_assert_eq!(&appended, &entries, "cut after {} entries", cut);
            prop_assert_eq!(resumed.portfolio(), whole.portfolio());
            prop_assert_eq!(resumed.pending(), whole.pending());
            prop_assert_eq!(resumed.risk(), whole.risk());
            prop_assert_eq!(resumed.last_signal_seq(), whole.last_signal_seq());
        }
        // Replaying the finished ledger reproduces the book exactly.
        let replayed = Execution::rebuild(sc.params.clone(), &entries)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(replayed.portfolio(), whole.portfolio());
    }

    /// Money is conserved: final cash is the start plus realized PnL minus
    /// fees, exactly; a long never spends cash it does not have.
    #[test]
    fn cash_equals_start_plus_realized_minus_fees(sc in scenario()) {
        let mut exec = Execution::new(sc.params.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for s in &sc.signals {
            exec.on_signal(s);
            let p = exec.portfolio();
            if p.position >= Decimal::ZERO {
                prop_assert!(p.cash >= Decimal::ZERO, "cash {} with position {}", p.cash, p.position);
            }
        }
        if let Some(last) = sc.signals.last() {
            exec.finish(last);
        }
        let p = exec.portfolio();
        prop_assert_eq!(p.cash, d("10000") + p.realized_pnl - p.fees_paid);
    }
}

/// The generated scenarios reach every path the crash-restart property is
/// meant to cover (otherwise that property could pass vacuously).
#[test]
fn generated_scenarios_exercise_every_rule() -> TestResult {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new(Config::default());
    let strategy = scenario();
    let mut seen = [0usize; 7];
    for _ in 0..300 {
        let sc = strategy
            .new_tree(&mut runner)
            .map_err(|e| e.to_string())?
            .current();
        let (_, entries) = full_run(&sc).map_err(|e| e.to_string())?;
        for e in &entries {
            let slot = match e {
                Entry::Halt {
                    kind: HaltKind::KillSwitch,
                    ..
                } => 0,
                Entry::Halt {
                    kind: HaltKind::DailyLoss,
                    ..
                } => 1,
                Entry::Cancelled { .. } => 2,
                Entry::Rejected { .. } => 3,
                Entry::Order {
                    reason: Some(r), ..
                } if r.contains("max_position_notional") => 4,
                Entry::Fill { .. } => 5,
                Entry::Mark { .. } => 6,
                _ => continue,
            };
            seen[slot] += 1;
        }
    }
    assert!(
        seen.iter().all(|&n| n > 0),
        "kill, daily, cancelled, rejected, capped, fill, mark: {seen:?}"
    );
    Ok(())
}
