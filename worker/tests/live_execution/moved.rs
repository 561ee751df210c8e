//! Exits the engine holds on the exchange and moves, without one: a
//! trailing stop beside a stop-loss is a plain stop raised with the best
//! price (kept over a rebuild by `Trail` entries), the take-profit table's
//! next row lowers the take-profit, a level the last close passed is closed
//! at market under its reason (at most one order per signal), and the
//! symbol must allow every order the exits may need. Part of the
//! `live_execution` test binary.

use aegis_contract::config::{ExitsConfig, TakeProfitStep};
use aegis_contract::records::Signal;
use aegis_engine::ledger::{Entry, ExitReason};
use aegis_engine::trading::{Execution, Side};
use aegis_exchange::rest::OrderType;
use aegis_worker::roles::orchestrator::live::{exit_orders, needs, request_of, ExitRequest};

use super::exits::{exits, filters, live_with, long, IDS, NOW};
use super::{d, sig};

/// The bar of signal `seq` trading up to `high` and closing at `close`.
fn bar(seq: u64, high: f64, close: f64) -> Signal {
    Signal {
        high,
        open: close.min(high),
        ..sig(seq, close, 1)
    }
}

fn table(rows: &[(u64, &str)]) -> Vec<TakeProfitStep> {
    rows.iter()
        .map(|&(after_minutes, profit)| TakeProfitStep {
            after_minutes,
            profit: d(profit),
        })
        .collect()
}

#[test]
fn a_trailing_stop_beside_a_stop_loss_is_a_plain_stop_raised_with_the_best_price() {
    let mut exec = live_with(exits(Some("0.05"), None, Some(("0.08", None))));
    let mut ledger = long(&mut exec);
    let plan = exec.exits_wanted(NOW).expect("wanted");
    assert_eq!(plan.trailing, None, "the engine trails, not the exchange");
    assert_eq!(
        plan.stop,
        Some((d("95"), ExitReason::StopLoss)),
        "the tighter"
    );
    let held = exit_orders(&plan, &filters(), &IDS, 7).expect("held");
    let Ok(ExitRequest::Stop(stop)) = request_of(&held) else {
        panic!("one plain stop: {held:?}")
    };
    assert_eq!(
        stop.trigger,
        aegis_exchange::rest::StopTrigger::Price(d("95"))
    );
    ledger.push(exec.record_exits_sent(held.clone()).expect("recorded"));

    // A bar up to 110: the best price moves (a `Trail` entry, in live mode
    // too), and the stop the book wants is 8 % below it.
    let up = exec.on_signal(&bar(1, 110.0, 108.0));
    assert!(
        up.iter()
            .any(|e| matches!(e, Entry::Trail { best, .. } if *best == d("110"))),
        "{up:?}"
    );
    ledger.extend(up);
    let moved = exec.exits_plan(NOW).expect("still wanted");
    assert_eq!(
        moved.stop,
        Some((d("101.20"), ExitReason::TrailingStop)),
        "raised past the stop-loss"
    );
    assert_eq!(moved.reached, None);
    let moved_orders = exit_orders(&moved, &filters(), &IDS, 8).expect("held");
    assert_ne!(moved_orders.legs[0].stop_price, held.legs[0].stop_price);
    assert_eq!(moved_orders.legs[0].reason, ExitReason::TrailingStop);

    // A restart knows the best price from the ledger.
    let mut rebuilt = Execution::rebuild(exec.params().clone(), &ledger).expect("replays");
    rebuilt.set_venue(&aegis_worker::roles::orchestrator::live::BINANCE);
    assert_eq!(rebuilt.exits_plan(NOW).map(|p| p.stop), Some(moved.stop));

    // The next bar closes below the raised stop: the exchange would
    // trigger it at once, so the book closes at market, as a trailing stop.
    let down = exec.on_signal(&bar(2, 108.0, 101.0));
    assert!(!down.iter().any(|e| matches!(e, Entry::Order { .. })));
    let plan = exec.exits_plan(NOW).expect("wanted");
    assert_eq!(plan.reached, Some(ExitReason::TrailingStop));
    let out = exec.exit_now(NOW).expect("closed at market");
    let order = out
        .iter()
        .find_map(|e| match e {
            Entry::Order {
                signal_seq,
                side,
                qty,
                exit,
                ..
            } => Some((*signal_seq, *side, *qty, *exit)),
            _ => None,
        })
        .expect("an order");
    assert_eq!(
        order,
        (2, Side::Sell, d("10"), Some(ExitReason::TrailingStop))
    );
    assert!(exec.pending().is_some(), "the exchange settles it");
    assert_eq!(exec.exit_now(NOW), None, "one order at a time");
    assert_eq!(exec.exits_plan(NOW), None, "no exits while it is in flight");
}

#[test]
fn the_take_profit_table_moves_the_take_profit_with_the_time_held() {
    let cfg = ExitsConfig {
        take_profit_table: table(&[(0, "0.10"), (60, "0.02")]),
        ..exits(Some("0.05"), None, None)
    };
    let mut exec = live_with(cfg);
    long(&mut exec);
    let hour = 60 * 60_000;
    let first = exec.exits_plan(NOW).expect("wanted");
    assert_eq!(
        (first.stop, first.take_profit),
        (Some((d("95"), ExitReason::StopLoss)), Some(d("110")))
    );
    let later = exec.exits_plan(1 + hour).expect("wanted");
    assert_eq!(later.take_profit, Some(d("102")), "the next row");
    let (a, b) = (
        exit_orders(&first, &filters(), &IDS, 7).expect("held"),
        exit_orders(&later, &filters(), &IDS, 7).expect("held"),
    );
    assert!(matches!(request_of(&b), Ok(ExitRequest::Oco(_))));
    assert_ne!(a.legs, b.legs, "different orders: the worker moves them");
    // A close past the row's level is closed at market as a take-profit.
    exec.on_signal(&bar(1, 103.0, 103.0));
    assert_eq!(exec.exits_plan(NOW).and_then(|p| p.reached), None);
    let plan = exec.exits_plan(1 + hour).expect("wanted");
    assert_eq!(plan.reached, Some(ExitReason::TakeProfit));
    let out = exec.exit_now(1 + hour).expect("closed at market");
    assert!(out.iter().any(|e| matches!(
        e,
        Entry::Order {
            exit: Some(ExitReason::TakeProfit),
            ..
        }
    )));
}

#[test]
fn a_level_reached_on_the_bar_that_decided_an_order_waits_for_the_next_bar() {
    // Break-even from the start: the entry's own bar closed at it.
    let cfg = ExitsConfig {
        take_profit_table: table(&[(0, "0")]),
        ..ExitsConfig::default()
    };
    let mut exec = live_with(cfg);
    long(&mut exec);
    let plan = exec.exits_plan(NOW).expect("wanted");
    assert_eq!(plan.reached, Some(ExitReason::TakeProfit));
    assert_eq!(exec.exit_now(NOW), None, "signal 0 decided the entry");
    exec.on_signal(&bar(1, 100.0, 100.0));
    assert!(exec.exit_now(NOW).is_some(), "the next signal closes it");
}

#[test]
fn a_table_that_starts_later_wants_nothing_until_its_first_row() {
    let cfg = ExitsConfig {
        take_profit_table: table(&[(30, "0.01")]),
        ..ExitsConfig::default()
    };
    let mut exec = live_with(cfg.clone());
    long(&mut exec);
    assert_eq!(exec.exits_plan(NOW), None);
    let plan = exec.exits_plan(1 + 30 * 60_000).expect("the first row");
    assert_eq!(plan.take_profit, Some(d("101")));
    let n = needs(&cfg);
    assert_eq!(n.order_types, [OrderType::TakeProfitLimit]);
    assert!(!n.oco && !n.trailing_stop);
}

#[test]
fn the_symbol_must_allow_every_order_moved_exits_may_need() {
    let stop_and_trail = needs(&exits(Some("0.05"), None, Some(("0.02", None))));
    assert_eq!(stop_and_trail.order_types, [OrderType::StopLossLimit]);
    assert!(!stop_and_trail.oco && !stop_and_trail.trailing_stop);
    // A take-profit alone until the trailing stop starts, an OCO after.
    let tp_and_trail = needs(&exits(None, Some("0.06"), Some(("0.02", Some("0.01")))));
    assert!(tp_and_trail.oco);
    assert_eq!(
        tp_and_trail.order_types,
        [
            OrderType::LimitMaker,
            OrderType::StopLossLimit,
            OrderType::TakeProfitLimit
        ]
    );
    // A stop alone until the table's first row, an OCO after.
    let later_table = ExitsConfig {
        take_profit_table: table(&[(30, "0.01")]),
        ..exits(Some("0.05"), None, None)
    };
    let n = needs(&later_table);
    assert!(n.oco);
    assert_eq!(
        n.order_types,
        [OrderType::LimitMaker, OrderType::StopLossLimit]
    );
}
