//! Protective exits and limit entries on the orchestrator's state machine:
//! hand-computed stop-loss, take-profit, trailing-stop and limit fills, the
//! direction standing down after an exit, and properties over random bars:
//! an exit never fills at a price its bar did not trade, a stop is never
//! looser than configured, and a book rebuilt from any prefix of the ledger
//! continues exactly as the uninterrupted run.

use std::str::FromStr;

use aegis_contract::config::{EntryOrderConfig, EntryOrderType, ExitsConfig, TakeProfitStep};
use aegis_contract::records::Signal;
use aegis_engine::ledger::{Entry, ExitReason};
use aegis_engine::trading::exits::{triggered, Bar, Protection, QuietCheck};
use aegis_engine::trading::{price_from_f64, Execution, ExecutionParams, Side};
use proptest::prelude::*;
use rust_decimal::Decimal;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const MINUTE_MS: i64 = 60_000;
/// 2024-01-01T00:00:00Z.
const DAY0_MS: i64 = 1_704_067_200_000;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("bad test decimal {s}: {e}"))
}

/// One-minute bars from `DAY0_MS`, seq from 1: (open, high, low, close, target).
fn bars(rows: &[(f64, f64, f64, f64, i64)]) -> Vec<Signal> {
    rows.iter()
        .enumerate()
        .map(|(i, &(open, high, low, close, target))| Signal {
            seq: i as u64 + 1,
            candle_seq: i as u64 + 1,
            ts_ms: DAY0_MS + i as i64 * MINUTE_MS,
            open,
            high,
            low,
            close,
            target,
            ..Signal::default()
        })
        .collect()
}

fn params(exits: ExitsConfig) -> ExecutionParams {
    ExecutionParams {
        qty_step: d("0.001"),
        exits,
        ..ExecutionParams::new(d("10000"))
    }
}

fn run(exec: &mut Execution, signals: &[Signal]) -> Vec<Entry> {
    signals.iter().flat_map(|s| exec.on_signal(s)).collect()
}

/// The exits among `entries`: (bar, reason, fill price).
fn exits(entries: &[Entry]) -> Vec<(u64, ExitReason, Decimal)> {
    let mut out = Vec::new();
    let mut last_exit = None;
    for e in entries {
        match e {
            Entry::Order {
                signal_seq,
                exit: Some(reason),
                ..
            } => last_exit = Some((*signal_seq, *reason)),
            Entry::Fill {
                signal_seq, price, ..
            } => {
                if let Some((seq, reason)) = last_exit.take().filter(|(s, _)| s == signal_seq) {
                    out.push((seq, reason, *price));
                }
            }
            _ => {}
        }
    }
    out
}

fn entries_of(entries: &[Entry]) -> Vec<(u64, Side, Decimal)> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::Fill {
                signal_seq,
                side,
                price,
                ..
            } => Some((*signal_seq, *side, *price)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_stop_loss_fills_at_its_level_within_the_bar_and_the_direction_stands_down() -> TestResult {
    let cfg = ExitsConfig {
        stop_loss: Some(d("0.02")),
        ..ExitsConfig::default()
    };
    let mut exec = Execution::new(params(cfg))?;
    let ledger = run(
        &mut exec,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1), // decide long
            (100.0, 101.0, 99.0, 100.5, 1),  // bought at 100
            (100.0, 100.5, 97.0, 98.0, 1),   // through 98: stopped at 98
            (98.0, 99.0, 97.5, 98.5, 1),     // still long: stands down
            (98.5, 99.0, 98.0, 98.2, 0),     // target moves off: rearmed
            (98.2, 98.6, 98.0, 98.4, 1),     // long again
            (98.4, 98.9, 98.1, 98.6, 1),     // bought at 98.4
        ]),
    );
    assert_eq!(exits(&ledger), vec![(3, ExitReason::StopLoss, d("98.00"))]);
    let fills = entries_of(&ledger);
    assert_eq!(
        fills.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(),
        vec![(1, Side::Buy), (3, Side::Sell), (6, Side::Buy)]
    );
    assert!(ledger
        .iter()
        .any(|e| matches!(e, Entry::Rearm { signal_seq: 5, .. })));
    assert!(exec.protection().is_some(), "the new long is protected");
    Ok(())
}

#[test]
fn a_gap_below_the_stop_fills_at_the_open_and_slippage_and_fee_apply() -> TestResult {
    let cfg = ExitsConfig {
        stop_loss: Some(d("0.02")),
        take_profit: Some(d("0.05")),
        ..ExitsConfig::default()
    };
    let p = ExecutionParams {
        slippage_bps: d("10"),
        fee_bps: d("10"),
        ..params(cfg)
    };
    let mut exec = Execution::new(p)?;
    let ledger = run(
        &mut exec,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1),
            (100.0, 100.5, 99.5, 100.0, 1), // bought at 100.1
            (95.0, 96.0, 94.0, 95.5, 1),    // opens below 98.098: fills at 95 − 0.1 %
        ]),
    );
    assert_eq!(
        exits(&ledger),
        vec![(3, ExitReason::StopLoss, d("95") * d("0.999"))]
    );
    let fee = ledger.iter().rev().find_map(|e| match e {
        Entry::Fill { fee, qty, .. } => Some((*fee, *qty)),
        _ => None,
    });
    let (fee, qty) = fee.ok_or("no fill")?;
    assert_eq!(fee, qty * d("95") * d("0.999") * d("0.001"));
    Ok(())
}

#[test]
fn a_bar_reaching_both_levels_fills_the_stop_and_one_reaching_the_target_fills_it() -> TestResult {
    let cfg = ExitsConfig {
        stop_loss: Some(d("0.02")),
        take_profit: Some(d("0.03")),
        ..ExitsConfig::default()
    };
    let both = run(
        &mut Execution::new(params(cfg.clone()))?,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1),
            (100.0, 104.0, 97.0, 101.0, 1),
        ]),
    );
    assert_eq!(exits(&both), vec![(2, ExitReason::StopLoss, d("98.00"))]);
    let target = run(
        &mut Execution::new(params(cfg))?,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1),
            (100.0, 101.0, 99.0, 100.5, 1),
            (100.5, 103.5, 100.0, 103.0, 1),
        ]),
    );
    assert_eq!(
        exits(&target),
        vec![(3, ExitReason::TakeProfit, d("103.00"))]
    );
    Ok(())
}

#[test]
fn a_trailing_stop_follows_the_highs_of_earlier_bars() -> TestResult {
    let cfg = ExitsConfig {
        trailing_stop: Some(d("0.05")),
        ..ExitsConfig::default()
    };
    let mut exec = Execution::new(params(cfg))?;
    let ledger = run(
        &mut exec,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1),
            (100.0, 110.0, 99.0, 109.0, 1),  // best 110 after this bar
            (109.0, 120.0, 108.0, 119.0, 1), // best 120
            (119.0, 119.5, 113.0, 115.0, 1), // 120 × 0.95 = 114: stopped
        ]),
    );
    assert_eq!(
        exits(&ledger),
        vec![(4, ExitReason::TrailingStop, d("114.00"))]
    );
    let trails: Vec<Decimal> = ledger
        .iter()
        .filter_map(|e| match e {
            Entry::Trail { best, .. } => Some(*best),
            _ => None,
        })
        .collect();
    assert_eq!(trails, vec![d("110"), d("120")]);
    Ok(())
}

#[test]
fn the_take_profit_table_exits_at_break_even_after_its_time() -> TestResult {
    let cfg = ExitsConfig {
        take_profit_table: vec![
            TakeProfitStep {
                after_minutes: 0,
                profit: d("0.10"),
            },
            TakeProfitStep {
                after_minutes: 3,
                profit: d("0"),
            },
        ],
        ..ExitsConfig::default()
    };
    let ledger = run(
        &mut Execution::new(params(cfg))?,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1),
            (100.0, 101.0, 99.0, 100.0, 1), // bought at 100, minute 0
            (100.0, 101.0, 99.0, 100.0, 1), // minute 1: needs 110
            (100.0, 101.0, 99.0, 100.0, 1), // minute 2
            (99.0, 100.5, 98.0, 99.5, 1),   // minute 3: break-even reached at 100
        ]),
    );
    assert_eq!(exits(&ledger), vec![(5, ExitReason::TakeProfit, d("100"))]);
    Ok(())
}

fn limit_params(offset: &str, ttl_bars: u32) -> ExecutionParams {
    ExecutionParams {
        slippage_bps: d("10"),
        entry_order: EntryOrderConfig {
            order_type: EntryOrderType::Limit,
            offset: d(offset),
            ttl_bars,
        },
        ..params(ExitsConfig::default())
    }
}

#[test]
fn a_limit_entry_fills_when_a_bar_trades_through_it_at_its_price() -> TestResult {
    let mut exec = Execution::new(limit_params("0.01", 3))?;
    let ledger = run(
        &mut exec,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1), // limit buy at 99
            (100.0, 100.5, 99.0, 100.2, 1),  // touches 99: no fill
            (100.2, 100.4, 98.5, 99.0, 1),   // through: fills at 99, no slippage
        ]),
    );
    let order_limit = ledger.iter().find_map(|e| match e {
        Entry::Order {
            limit, ttl_bars, ..
        } => Some((*limit, *ttl_bars)),
        _ => None,
    });
    assert_eq!(order_limit, Some((Some(d("99.00")), Some(3))));
    assert_eq!(entries_of(&ledger), vec![(1, Side::Buy, d("99.00"))]);
    // Gapped through: the open.
    let gap = run(
        &mut Execution::new(limit_params("0.01", 3))?,
        &bars(&[(100.0, 100.0, 100.0, 100.0, 1), (97.0, 98.0, 96.0, 97.5, 1)]),
    );
    assert_eq!(entries_of(&gap), vec![(1, Side::Buy, d("97"))]);
    Ok(())
}

#[test]
fn a_limit_entry_ends_after_its_life_or_when_the_target_moves_off_it() -> TestResult {
    let mut exec = Execution::new(limit_params("0.05", 2))?;
    let ledger = run(
        &mut exec,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1), // limit at 95, life bars 2 and 3
            (100.0, 101.0, 99.0, 100.0, 1),
            (100.0, 101.0, 99.0, 100.0, 1), // last bar: cancelled, a new one at 95
            (100.0, 101.0, 99.0, 100.0, 0), // target off: cancelled
        ]),
    );
    let cancelled: Vec<(u64, &str)> = ledger
        .iter()
        .filter_map(|e| match e {
            Entry::Cancelled {
                signal_seq, reason, ..
            } => Some((*signal_seq, reason.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        cancelled,
        vec![
            (1, "limit 95.00 not filled within 2 bar(s)"),
            (3, "the target changed to 0 before the limit filled"),
        ]
    );
    assert_eq!(exec.pending(), None);
    assert_eq!(exec.portfolio().position, Decimal::ZERO);
    Ok(())
}

#[test]
fn a_limit_filled_bar_checks_only_its_stop() -> TestResult {
    let cfg = ExitsConfig {
        stop_loss: Some(d("0.02")),
        take_profit: Some(d("0.01")),
        ..ExitsConfig::default()
    };
    let p = ExecutionParams {
        exits: cfg,
        ..limit_params("0.01", 3)
    };
    // Through 99 (filled) and above 99.99 (the target) in one bar: the high
    // may have come first, so no take-profit; the next bar takes it.
    let ledger = run(
        &mut Execution::new(p.clone())?,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1),
            (100.0, 101.0, 98.5, 100.0, 1),
            (99.5, 100.5, 99.4, 100.0, 1),
        ]),
    );
    // Exits pay slippage as market orders do (10 bps here).
    assert_eq!(
        exits(&ledger),
        vec![(3, ExitReason::TakeProfit, d("99.99") * d("0.999"))]
    );
    // Through the stop in the fill's own bar: stopped there.
    let stopped = run(
        &mut Execution::new(p)?,
        &bars(&[
            (100.0, 100.0, 100.0, 100.0, 1),
            (100.0, 101.0, 96.0, 97.0, 1),
        ]),
    );
    assert_eq!(
        exits(&stopped),
        vec![(2, ExitReason::StopLoss, d("97.02") * d("0.999"))]
    );
    Ok(())
}

#[test]
fn an_atr_stop_waits_for_its_atr_and_sits_that_many_atrs_below_the_entry() -> TestResult {
    let cfg = ExitsConfig {
        atr_multiple: Some(d("2")),
        atr_period: 3,
        ..ExitsConfig::default()
    };
    let mut exec = Execution::new(params(cfg))?;
    // True range 2 on every bar: ATR(3) is 2 from the fourth bar on.
    let rows: Vec<_> = (0..6)
        .map(|_| (100.0, 101.0, 99.0, 100.0, 1))
        .chain([(100.0, 100.5, 95.0, 96.0, 1)])
        .collect();
    let ledger = run(&mut exec, &bars(&rows));
    let rejected = ledger.iter().find_map(|e| match e {
        Entry::Rejected { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        rejected.is_some_and(|r| r.contains("ATR(3)") && r.contains("not known yet")),
        "{ledger:?}"
    );
    assert_eq!(exits(&ledger), vec![(7, ExitReason::StopLoss, d("96"))]);
    Ok(())
}

#[test]
fn bad_exit_settings_are_refused_by_name() {
    let bad = ExitsConfig {
        stop_loss: Some(d("1.5")),
        ..ExitsConfig::default()
    };
    let err = Execution::new(params(bad)).err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("exits.stop_loss: must be a fraction in (0, 1), e.g. 0.02, got 1.5")
    );
}

/// Random bars: a walk with highs and lows around it and random targets.
fn random_bars() -> impl Strategy<Value = Vec<Signal>> {
    prop::collection::vec(
        (
            -300i32..300,
            0u32..400,
            0u32..400,
            -300i32..300,
            -1i64..=1,
            0u8..4,
        ),
        2..80,
    )
    .prop_map(|steps| {
        let mut price = 100.0f64;
        let rows: Vec<_> = steps
            .into_iter()
            .map(|(gap, up, down, mv, target, hold)| {
                let open = (price * (1.0 + f64::from(gap) / 10_000.0)).max(1.0);
                let close = (open * (1.0 + f64::from(mv) / 10_000.0)).max(1.0);
                let high = open.max(close) * (1.0 + f64::from(up) / 10_000.0);
                let low = open.min(close) * (1.0 - f64::from(down) / 10_000.0);
                price = close;
                // Targets change now and then, not every bar.
                let target = if hold == 0 { target } else { 2 };
                (open, high, low, close, target)
            })
            .collect();
        let mut last = 0;
        let rows: Vec<_> = rows
            .into_iter()
            .map(|(o, h, l, c, t)| {
                if t != 2 {
                    last = t;
                }
                (o, h, l, c, last)
            })
            .collect();
        bars(&rows)
    })
}

fn random_exits() -> impl Strategy<Value = (ExitsConfig, EntryOrderConfig)> {
    (
        prop::option::of(1u32..500),
        prop::option::of(1u32..800),
        prop::option::of(1u32..500),
        prop::option::of(0u32..300),
        any::<bool>(),
        1u32..4,
    )
        .prop_map(|(sl, tp, trail, after, limit, ttl)| {
            let frac = |bp: u32| Decimal::from(bp) / Decimal::from(10_000);
            let exits = ExitsConfig {
                stop_loss: sl.map(frac),
                take_profit: tp.map(frac),
                trailing_stop: trail.map(frac),
                trailing_after: trail.and(after).map(frac),
                ..ExitsConfig::default()
            };
            let entry = EntryOrderConfig {
                order_type: if limit {
                    EntryOrderType::Limit
                } else {
                    EntryOrderType::Market
                },
                offset: frac(20),
                ttl_bars: ttl,
            };
            (exits, entry)
        })
}

/// A ring price as the engine reads it.
fn price(x: f64) -> Decimal {
    price_from_f64(x).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Without slippage an exit's fill price is one the bar traded, a stop
    /// never sits looser than configured, and no bar trades through the
    /// stop-loss of a position it leaves open.
    #[test]
    fn exits_fill_inside_their_bar_and_stops_are_never_looser(
        signals in random_bars(),
        (exits_cfg, entry) in random_exits(),
    ) {
        let p = ExecutionParams { entry_order: entry, ..params(exits_cfg.clone()) };
        let mut exec = Execution::new(p).expect("valid params");
        for s in &signals {
            let held = exec.protection().cloned();
            let out = exec.on_signal(s);
            for (seq, reason, fill) in exits(&out) {
                prop_assert_eq!(seq, s.seq);
                prop_assert!(fill >= price(s.low) && fill <= price(s.high),
                    "{:?} filled at {} outside [{}, {}]", reason, fill, s.low, s.high);
            }
            if let (Some(held), Some(sl)) = (held, exits_cfg.stop_loss) {
                let level = held.entry_price * (Decimal::ONE - Decimal::from(held.direction) * sl);
                if let Some((stop, _)) = held.stop(&exits_cfg).expect("levels") {
                    prop_assert!(Decimal::from(held.direction) * (stop - level) >= Decimal::ZERO,
                        "stop {} looser than {}", stop, level);
                }
                let through = if held.direction > 0 { price(s.low) <= level } else { price(s.high) >= level };
                let still_open = exec.portfolio().position.abs() >= d("0.001")
                    && exec.protection().is_some_and(|p| p.entry_price == held.entry_price);
                prop_assert!(!(through && still_open && exec.pending().is_none()),
                    "bar {} went through the stop {} and the position is still open", s.seq, level);
            }
        }
    }

    /// A bar the `f64` check proves reaches no level triggers nothing in
    /// the exact check, and one it proves keeps the best price keeps it.
    #[test]
    fn a_quiet_bar_is_quiet_exactly(
        (exits_cfg, _) in random_exits(),
        atr in prop::option::of(1u32..500),
        short in any::<bool>(),
        entry in 5_000u32..20_000,
        best_move in 0u32..2_000,
        held_minutes in 0i64..600,
        (open, up, down) in (-600i32..600, 0u32..800, 0u32..800),
    ) {
        let cfg = ExitsConfig {
            atr_multiple: if exits_cfg.stop_loss.is_none() { atr.map(|_| d("2")) } else { None },
            take_profit_table: vec![
                TakeProfitStep { after_minutes: 0, profit: d("0.05") },
                TakeProfitStep { after_minutes: 240, profit: d("0") },
            ],
            ..exits_cfg
        };
        let direction = if short { -1 } else { 1 };
        let entry = Decimal::from(entry) / Decimal::from(100);
        let atr = atr.map(|a| Decimal::from(a) / Decimal::from(1000));
        let mut p = Protection::open(&cfg, direction, entry, 0, atr).expect("levels");
        let moved = Decimal::from(best_move) / Decimal::from(10_000);
        p.best = entry * (Decimal::ONE + Decimal::from(direction) * moved);
        let e = entry.to_string().parse::<f64>().expect("f64");
        let o = e * (1.0 + f64::from(open) / 10_000.0);
        let (high, low) = (o * (1.0 + f64::from(up) / 10_000.0), o * (1.0 - f64::from(down) / 10_000.0));
        let ts_ms = held_minutes * MINUTE_MS;
        let mut check = QuietCheck::new(&cfg);
        let bar = Bar { ts_ms, open: price(o), high: price(high), low: price(low) };
        if check.no_trigger(&p, o, high, low, ts_ms) {
            prop_assert_eq!(triggered(&cfg, &p, &bar, false).expect("levels"), None);
        }
        if check.best_stays(&p, high, low) && cfg.trailing_stop.is_some() {
            prop_assert!(!p.clone().see_bar(&bar), "the best price moved on a bar said to keep it");
        }
        prop_assert_eq!(
            check.quiet(&p, o, high, low, ts_ms),
            check.no_trigger(&p, o, high, low, ts_ms) && check.best_stays(&p, high, low)
        );
    }

    /// A ledger cut after any entry (a crash between appends or a torn
    /// batch) rebuilds into a book that, fed the whole signal stream again,
    /// appends exactly the entries the uninterrupted run appended and ends
    /// with the same book and exits.
    #[test]
    fn a_rebuilt_book_continues_as_the_uninterrupted_run(
        signals in random_bars(),
        (exits_cfg, entry) in random_exits(),
    ) {
        let p = ExecutionParams { entry_order: entry, slippage_bps: d("5"), fee_bps: d("7"), ..params(exits_cfg) };
        let mut whole = Execution::new(p.clone()).expect("valid params");
        let mut all = run(&mut whole, &signals);
        let last = signals.last().copied().unwrap_or_default();
        all.extend(whole.finish(&last));
        for cut in 0..=all.len() {
            let mut resumed = Execution::rebuild(p.clone(), &all[..cut])
                .map_err(|e| TestCaseError::fail(format!("cut {cut}: {e}")))?;
            let mut appended = all[..cut].to_vec();
            appended.extend(run(&mut resumed, &signals));
            appended.extend(resumed.finish(&last));
            prop_assert_eq!(&appended, &all, "cut after {} entries", cut);
            prop_assert_eq!(resumed.portfolio(), whole.portfolio());
            prop_assert_eq!(resumed.protection(), whole.protection());
        }
    }
}
