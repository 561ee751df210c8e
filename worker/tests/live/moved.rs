//! Exits the engine holds on the exchange and moves (live, against the
//! simulator): a trailing stop beside a stop-loss is a plain stop that is
//! cancelled and placed higher as the best price rises, and the exchange's
//! fill of the moved stop is booked as a trailing stop; a level the bar's
//! close has passed (the exchange would refuse the stop there) closes the
//! position at market with that reason, the stop held cancelled first (as
//! does a stop the market gapped through past its limit, left resting);
//! kill -9 at random points while the stop moves leaves exactly the
//! ledger's stop on the exchange. Part of the `live` test binary (its harness).

use std::time::Duration;

use aegis_engine::ledger::{Entry, ExitReason};
use aegis_tests::exchange::{ExchangeSim, Fault, SimOrder};
use rand::Rng;
use rust_decimal::Decimal;

use super::common::up::{signal, wait_exit};
use super::common::{temp_dir, wait_for};
use super::exits::{bought_with_exits, candle, engine_holding, exit_fills, exits_sent};
use super::{assert_ledger_matches_exchange, sim_with_secret, Engine, WAIT};

/// An engine holding a 5 % stop-loss and an 8 % trailing stop.
fn engine_with_trailing_stop(dir: &std::path::Path, sim: &ExchangeSim) -> Engine {
    engine_holding(
        dir,
        sim,
        &[("STOP_LOSS", "0.05"), ("TRAILING_STOP", "0.08")],
    )
}

fn exits_ended(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::ExitEnded { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_trailing_stop_beside_a_stop_loss_is_moved_up_on_the_exchange_and_booked_as_such() {
    let work = temp_dir("aegis-live-exit-moved");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_trailing_stop(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let (_, legs) = bought_with_exits(&mut engine, &sim);
    let first = sim.open_order(&legs[0]).expect("the stop");
    assert_eq!(
        (
            first.order_type.as_str(),
            first.stop_price,
            first.trailing_delta
        ),
        ("STOP_LOSS_LIMIT", Some(Decimal::from(95)), None),
        "the stop-loss is the tighter at the entry"
    );

    // Up to 110: the engine raises the stop to 8 % below it.
    sim.push_candle(candle(&sim, 100, 110, 100, 108));
    engine.signal_bar(1, 110.0, 108.0);
    let moved = wait_for(WAIT, || exits_sent(&engine.entries()).get(1).cloned())
        .unwrap_or_else(|| panic!("the stop was not moved; logs:\n{}", engine.logs()));
    let raised = wait_for(WAIT, || sim.open_order(&moved.1[0]))
        .unwrap_or_else(|| panic!("the moved stop is not open: {:?}", sim.orders()));
    assert_eq!(raised.stop_price, Some(Decimal::new(10120, 2)));
    assert!(
        sim.open_order(&legs[0]).is_none(),
        "the old stop is cancelled"
    );
    let ended = exits_ended(&engine.entries());
    assert!(
        ended.len() == 1 && ended[0].contains("moving the exits"),
        "{ended:?}"
    );
    assert_eq!(sim.locked("BTC"), raised.orig_qty, "the position is held");

    // Down through it: the exchange sells, booked as the trailing stop.
    sim.push_candle(candle(&sim, 108, 108, 99, 100));
    assert_eq!(sim.balance("BTC"), Decimal::ZERO, "the exchange sold");
    engine.signal_bar(1, 100.0, 100.0);
    let booked = wait_for(WAIT, || exit_fills(&engine.entries()).pop())
        .unwrap_or_else(|| panic!("the fill was not booked; logs:\n{}", engine.logs()));
    assert_eq!(booked.0, ExitReason::TrailingStop);
    assert_eq!(
        exits_sent(&engine.entries()).len(),
        2,
        "placed twice, moved once"
    );
    assert_ledger_matches_exchange(&engine.entries(), &sim);
}

#[test]
fn a_level_the_close_passed_closes_the_position_at_market_after_cancelling_the_stop() {
    let work = temp_dir("aegis-live-exit-reached");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_trailing_stop(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let (_, legs) = bought_with_exits(&mut engine, &sim);

    // A spike to 110 and back to 100: the exchange's stop at 95 holds, but
    // the trailing stop's level (101.20) is above the close. A stop there
    // would trigger at once, so the engine sells at market.
    sim.push_candle(candle(&sim, 100, 110, 99, 100));
    let seq = engine.signal_bar(1, 110.0, 100.0);
    let entries = market_exit_filled(&engine, seq);
    assert!(
        entries.iter().any(|e| matches!(
            e,
            Entry::Order { signal_seq, exit: Some(ExitReason::TrailingStop), .. } if *signal_seq == seq
        )),
        "the exit's reason is the trailing stop: {entries:?}"
    );
    assert!(sim.open_order(&legs[0]).is_none(), "the stop was cancelled");
    assert!(exit_fills(&entries).is_empty(), "the stop never filled");
    assert_eq!(sim.balance("BTC"), Decimal::ZERO);
    let sold = sim
        .orders()
        .into_iter()
        .filter(|o| o.order_type == "MARKET" && o.side == "SELL")
        .count();
    assert_eq!(sold, 1, "{:?}", sim.orders());
    assert_ledger_matches_exchange(&entries, &sim);

    // The same target stands down: nothing is bought back.
    let again = engine.signal_bar(1, 100.0, 100.0);
    engine.read_all();
    assert!(
        !engine
            .entries()
            .iter()
            .any(|e| matches!(e, Entry::Order { signal_seq, .. } if *signal_seq == again)),
        "no re-entry after the exit"
    );
}

/// Waits until the market exit of signal `seq` is filled; the ledger then.
fn market_exit_filled(engine: &Engine, seq: u64) -> Vec<Entry> {
    wait_for(WAIT, || {
        let entries = engine.entries();
        entries
            .iter()
            .any(|e| matches!(e, Entry::Fill { signal_seq, .. } if *signal_seq == seq))
            .then_some(entries)
    })
    .unwrap_or_else(|| panic!("no market exit; logs:\n{}", engine.logs()))
}

/// The ids of the exit orders the ledger holds now (the last `ExitSent`
/// not ended since), if any.
fn held_legs(entries: &[Entry]) -> Option<Vec<String>> {
    let mut held = None;
    for e in entries {
        match e {
            Entry::ExitSent { legs, .. } => {
                held = Some(legs.iter().map(|l| l.client_order_id.clone()).collect());
            }
            Entry::ExitEnded { .. } | Entry::ExitFill { .. } => held = None,
            _ => {}
        }
    }
    held
}

#[test]
fn kill_9_at_random_points_while_the_stop_moves_leaves_the_ledgers_stop_alone_on_the_exchange() {
    let mut rng = super::seeded_rng();
    let work = temp_dir("aegis-live-exit-moved-kills");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_trailing_stop(work.path(), &sim);
    let mut run = engine.start();
    engine.wait_ready();
    bought_with_exits(&mut engine, &sim);
    // Slow replies widen the window between a cancel and the new stop.
    sim.inject(Fault::Delay(Duration::from_millis(150)), 10_000);
    let mut close = 100;
    for step in 0..5 {
        let high = close + 6;
        sim.push_candle(candle(&sim, close, high, close, high - 1));
        close = high - 1;
        engine.signal_bar(1, high as f64, close as f64);
        let after = Duration::from_millis(rng.random_range(0..700));
        std::thread::sleep(after);
        println!(
            "kill {step} +{after:?}: {} exchange orders",
            sim.orders().len()
        );
        signal(run.0.id(), nix::sys::signal::Signal::SIGKILL).expect("kill -9");
        let _ = wait_exit(&mut run.0, WAIT);
        run = engine.start();
        engine.wait_ready();
    }
    // The last run ends with exactly the ledger's exits open, never looser
    // than the stop-loss.
    let open_ours = |sim: &ExchangeSim| -> Vec<SimOrder> {
        sim.orders()
            .into_iter()
            .filter(|o| o.status == "NEW" && o.side == "SELL")
            .collect()
    };
    let settled = wait_for(Duration::from_secs(30), || {
        // Every signal handled (the committed cursor moves only after the
        // ledger append they caused), then the exits in line.
        let read = engine.ring.status().is_ok_and(|s| {
            s.readers
                .iter()
                .any(|r| r.name == "orchestrator" && r.cursor == engine.next_seq)
        });
        if !read {
            return None;
        }
        let held = held_legs(&engine.entries())?;
        let open = open_ours(&sim);
        let ids: Vec<String> = open.iter().map(|o| o.client_order_id.clone()).collect();
        (ids == held).then_some(open)
    })
    .unwrap_or_else(|| {
        panic!(
            "the exchange's open orders {:?} are not the ledger's exits {:?}; logs:\n{}",
            open_ours(&sim),
            held_legs(&engine.entries()),
            engine.logs()
        )
    });
    assert_eq!(settled.len(), 1, "one stop: {settled:?}");
    assert_eq!(
        settled[0].stop_price,
        Some(Decimal::new(11592, 2)),
        "8 % below the best price of 126: {settled:?}"
    );
    assert_eq!(sim.locked("BTC"), settled[0].orig_qty);
    assert_ledger_matches_exchange(&engine.entries(), &sim);
}

#[test]
fn a_stop_the_market_gapped_through_is_closed_at_market_not_left_resting() {
    let work = temp_dir("aegis-live-exit-gap");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = super::exits::engine_with_exits(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let (list, legs) = bought_with_exits(&mut engine, &sim);
    // The market opens at 90, below the stop (98) and its limit (97.02):
    // the stop triggers and rests as a limit nobody buys at.
    sim.push_candle(candle(&sim, 90, 90, 89, 89));
    let resting = sim.open_order(&legs[0]).expect("the triggered stop rests");
    assert!(resting.triggered, "{resting:?}");
    assert_eq!(sim.balance("BTC"), Decimal::ZERO, "all of it locked");

    let seq = engine.signal_at(1, 89.0);
    let entries = market_exit_filled(&engine, seq);
    assert!(entries.iter().any(|e| matches!(
        e,
        Entry::Order { signal_seq, exit: Some(ExitReason::StopLoss), .. } if *signal_seq == seq
    )));
    assert!(
        entries.iter().any(
            |e| matches!(e, Entry::ExitEnded { client_order_id, .. } if *client_order_id == list)
        ),
        "the OCO was cancelled first"
    );
    assert!(legs.iter().all(|leg| sim.open_order(leg).is_none()));
    assert_eq!(sim.balance("BTC") + sim.locked("BTC"), Decimal::ZERO);
    assert_ledger_matches_exchange(&entries, &sim);
}
