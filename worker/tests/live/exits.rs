//! Exits held by the exchange (live): placed as an OCO after the entry
//! fills, written ahead; a stop that triggers while the orchestrator is
//! killed is booked once after the restart; an OCO leg the exchange
//! cancels on its own gets the rest cancelled and the exits placed again;
//! a strategy exit racing the exchange's exit books the exchange's and
//! sends nothing; a kill -9 between the entry fill and the exits' request
//! places them exactly once after the restart, as does a lost (5XX) reply
//! to their request; a strategy exit cancels them before it sells; a
//! trailing stop trails on
//! the exchange and is booked as such; a symbol that cannot hold the exits
//! stops the start with an error naming it. Part of the `live` test binary
//! (its harness).

use std::time::Duration;

use aegis_engine::ledger::{Entry, ExitReason};
use aegis_tests::exchange::{ExchangeSim, Fault, SimCandle, SimConfig};
use rust_decimal::Decimal;

use super::common::up::{signal, wait_exit};
use super::common::{now_ms, temp_dir, wait_for};
use super::{assert_ledger_matches_exchange, sim_with_secret, Engine, WAIT};

/// An engine holding `exits` (`orchestrator.exits` fields by their
/// environment names, e.g. `STOP_LOSS`).
pub(super) fn engine_holding(
    dir: &std::path::Path,
    sim: &ExchangeSim,
    exits: &[(&str, &str)],
) -> Engine {
    let mut engine = Engine::new(dir, sim);
    for (name, value) in exits {
        engine.env.push((
            format!("AEGIS__ORCHESTRATOR__EXITS__{name}"),
            value.to_string(),
        ));
    }
    engine
}

/// An engine holding a 2 % stop-loss and a 6 % take-profit.
pub(super) fn engine_with_exits(dir: &std::path::Path, sim: &ExchangeSim) -> Engine {
    engine_holding(dir, sim, &[("STOP_LOSS", "0.02"), ("TAKE_PROFIT", "0.06")])
}

pub(super) fn exits_sent(entries: &[Entry]) -> Vec<(String, Vec<String>)> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::ExitSent {
                client_order_id,
                legs,
                ..
            } => Some((
                client_order_id.clone(),
                legs.iter().map(|l| l.client_order_id.clone()).collect(),
            )),
            _ => None,
        })
        .collect()
}

pub(super) fn exit_fills(entries: &[Entry]) -> Vec<(ExitReason, Decimal)> {
    entries
        .iter()
        .filter_map(|e| match e {
            Entry::ExitFill { reason, qty, .. } => Some((*reason, *qty)),
            _ => None,
        })
        .collect()
}

/// Buys on a fresh engine and waits until the exits are on the exchange;
/// the OCO's (list id, leg ids).
pub(super) fn bought_with_exits(engine: &mut Engine, sim: &ExchangeSim) -> (String, Vec<String>) {
    let buy = engine.signal(1);
    engine.settled(buy);
    let sent = wait_for(WAIT, || exits_sent(&engine.entries()).pop()).unwrap_or_else(|| {
        panic!(
            "no exits were written after the entry; logs:\n{}",
            engine.logs()
        )
    });
    let on_exchange = wait_for(WAIT, || {
        sent.1
            .iter()
            .all(|leg| sim.open_order(leg).is_some())
            .then_some(())
    });
    assert!(
        on_exchange.is_some(),
        "the exits {sent:?} are not open on the exchange: {:?}",
        sim.orders()
    );
    sent
}

/// The candle after the simulator's last, trading `open → low/high → close`.
pub(super) fn candle(sim: &ExchangeSim, open: i64, high: i64, low: i64, close: i64) -> SimCandle {
    let last = sim.candles().last().map_or(now_ms(), |c| c.open_time_ms);
    SimCandle {
        open_time_ms: last + 60_000,
        open: Decimal::from(open),
        high: Decimal::from(high),
        low: Decimal::from(low),
        close: Decimal::from(close),
        volume: Decimal::ONE,
    }
}

#[test]
fn a_stop_that_fills_while_the_orchestrator_is_killed_is_booked_once_after_restart() {
    let work = temp_dir("aegis-live-exit-stop");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_exits(work.path(), &sim);
    let mut run = engine.start();
    engine.wait_ready();
    let (list, legs) = bought_with_exits(&mut engine, &sim);
    assert_eq!(
        sim.order_lists().len(),
        1,
        "one OCO: {:?}",
        sim.order_lists()
    );
    assert_eq!(sim.order_lists()[0].list_client_order_id, list);
    let stop_leg = sim.open_order(&legs[0]).expect("the stop leg");
    assert_eq!(stop_leg.order_type, "STOP_LOSS_LIMIT");
    assert_eq!(
        stop_leg.stop_price,
        Some(Decimal::from(98)),
        "2 % below the entry at 100"
    );
    assert_eq!(
        sim.locked("BTC"),
        stop_leg.orig_qty,
        "the exits hold the position"
    );

    signal(run.0.id(), nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let _ = wait_exit(&mut run.0, WAIT);
    // The market falls through the stop while nothing runs.
    sim.push_candle(candle(&sim, 100, 100, 96, 97));
    assert_eq!(sim.balance("BTC"), Decimal::ZERO, "the exchange sold");
    assert!(exit_fills(&engine.entries()).is_empty());

    let mut run = engine.start();
    let booked = wait_for(WAIT, || {
        let fills = exit_fills(&engine.entries());
        (!fills.is_empty()).then_some(fills)
    })
    .unwrap_or_else(|| panic!("the stop's fill was not booked; logs:\n{}", engine.logs()));
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0].0, ExitReason::StopLoss);
    assert_ledger_matches_exchange(&engine.entries(), &sim);

    // The same target does not buy again (the exit stands), and a second
    // restart books nothing twice.
    let same = engine.signal(1);
    engine.read_all();
    assert!(
        !engine
            .entries()
            .iter()
            .any(|e| matches!(e, Entry::Order { signal_seq, .. } if *signal_seq == same)),
        "no re-entry on the target the stop closed"
    );
    signal(run.0.id(), nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let _ = wait_exit(&mut run.0, WAIT);
    let _run = engine.start();
    engine.wait_ready();
    assert_eq!(exit_fills(&engine.entries()).len(), 1, "booked once");
    assert_eq!(sim.order_lists().len(), 1, "no exits for a flat book");
}

#[test]
fn an_oco_leg_the_exchange_cancels_gets_the_rest_cancelled_and_the_exits_placed_again() {
    let work = temp_dir("aegis-live-exit-cancel");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_exits(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let (first, legs) = bought_with_exits(&mut engine, &sim);
    assert!(
        sim.cancel_order_by_exchange(&legs[0]),
        "the stop leg was open"
    );

    // The next bar notices: the other leg is cancelled, new exits placed.
    engine.signal(1);
    let again = wait_for(WAIT, || {
        let sent = exits_sent(&engine.entries());
        (sent.len() == 2).then(|| sent[1].clone())
    })
    .unwrap_or_else(|| panic!("the exits were not placed again; logs:\n{}", engine.logs()));
    assert_ne!(again.0, first, "new exits have new ids");
    assert!(
        engine.entries().iter().any(
            |e| matches!(e, Entry::ExitEnded { client_order_id, reason, .. } if *client_order_id == first && reason.contains("ended by the exchange"))
        ),
        "the first exits ended in the ledger, with why"
    );
    assert!(sim.open_order(&legs[1]).is_none(), "the rest was cancelled");
    let open = wait_for(WAIT, || {
        again
            .1
            .iter()
            .all(|leg| sim.open_order(leg).is_some())
            .then_some(())
    });
    assert!(open.is_some(), "the new exits are open: {:?}", sim.orders());
    assert_eq!(sim.order_lists().len(), 2);
}

#[test]
fn a_strategy_exit_racing_the_exchanges_take_profit_books_the_exchanges_and_sends_nothing() {
    let work = temp_dir("aegis-live-exit-race");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_exits(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let (list, _) = bought_with_exits(&mut engine, &sim);
    // The strategy exits; its cancel of the exits is slowed, and the market
    // reaches the take-profit before the exchange handles the cancel.
    // (Slowed less than the client's 1 s timeout: the reply arrives.)
    sim.inject_at(
        "/api/v3/orderList",
        Fault::Delay(Duration::from_millis(800)),
        1,
    );
    let sell = engine.signal(0);
    let ordered = wait_for(WAIT, || {
        engine
            .entries()
            .iter()
            .any(|e| matches!(e, Entry::Order { signal_seq, .. } if *signal_seq == sell))
            .then_some(())
    });
    assert!(ordered.is_some(), "the strategy's exit was decided");
    std::thread::sleep(Duration::from_millis(300));
    sim.push_candle(candle(&sim, 100, 107, 100, 105));
    let entry = engine.settled(sell);
    assert!(
        matches!(&entry, Entry::Cancelled { reason, .. } if reason.contains("closed the position first")),
        "{entry:?}"
    );
    let fills = exit_fills(&engine.entries());
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(fills[0].0, ExitReason::TakeProfit);
    assert_eq!(sim.balance("BTC"), Decimal::ZERO);
    assert!(
        !sim.orders()
            .iter()
            .any(|o| o.order_type == "MARKET" && o.side == "SELL"),
        "no market sell was sent: {:?}",
        sim.orders()
    );
    assert!(
        !engine.entries().iter().any(
            |e| matches!(e, Entry::ExitEnded { client_order_id, .. } if *client_order_id == list)
        ),
        "the exits ended by their fill, not a cancel"
    );
    assert_ledger_matches_exchange(&engine.entries(), &sim);
}

#[test]
fn a_kill_between_the_entry_fill_and_the_exits_places_them_exactly_once() {
    let work = temp_dir("aegis-live-exit-kill");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_exits(work.path(), &sim);
    let mut run = engine.start();
    engine.wait_ready();
    // The exits' request hangs; the orchestrator is killed meanwhile.
    sim.inject_at(
        "/api/v3/orderList/oco",
        Fault::Delay(Duration::from_millis(3000)),
        1,
    );
    let buy = engine.signal(1);
    engine.settled(buy);
    let written = wait_for(WAIT, || exits_sent(&engine.entries()).pop())
        .unwrap_or_else(|| panic!("the exits were not written; logs:\n{}", engine.logs()));
    std::thread::sleep(Duration::from_millis(200));
    signal(run.0.id(), nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let _ = wait_exit(&mut run.0, WAIT);
    let _run = engine.start();
    engine.wait_ready();
    // Once recvWindow has passed since they were written, the next bar
    // finds them absent and sends them, with the same ids.
    let placed = wait_for(Duration::from_secs(30), || {
        engine.signal(1);
        std::thread::sleep(Duration::from_millis(500));
        written
            .1
            .iter()
            .all(|leg| sim.open_order(leg).is_some())
            .then_some(())
    });
    assert!(
        placed.is_some(),
        "the exits were not placed after the restart; logs:\n{}",
        engine.logs()
    );
    let lists: Vec<_> = sim
        .order_lists()
        .into_iter()
        .filter(|l| l.list_client_order_id == written.0)
        .collect();
    assert_eq!(
        lists.len(),
        1,
        "placed exactly once: {:?}",
        sim.order_lists()
    );
    assert_eq!(exits_sent(&engine.entries()).len(), 1, "one ExitSent");
}

#[test]
fn a_symbol_that_cannot_hold_the_exits_is_a_startup_error_naming_it() {
    let work = temp_dir("aegis-live-exit-symbol");
    let last = now_ms().div_euclid(60_000) * 60_000;
    let sim = ExchangeSim::start(SimConfig {
        api_key: super::KEY.into(),
        api_secret: super::SECRET.into(),
        candles: SimCandle::flat_series(3, 60_000, last - 60_000, Decimal::from(100)),
        oco_allowed: false,
        ..SimConfig::default()
    })
    .expect("the simulator starts");
    let mut engine = engine_with_exits(work.path(), &sim);
    let mut run = engine.start();
    let status = wait_exit(&mut run.0, WAIT).expect("it stops");
    assert!(!status.success());
    let logs = engine.logs();
    assert!(
        logs.contains("cannot hold the exits of orchestrator.exits")
            && logs.contains("does not allow OCO order lists"),
        "{logs}"
    );
    assert_eq!(sim.orders().len(), 0, "nothing was placed");
}

#[test]
fn a_trailing_stop_held_by_the_exchange_follows_the_market_and_is_booked_as_such() {
    let work = temp_dir("aegis-live-exit-trail");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_holding(work.path(), &sim, &[("TRAILING_STOP", "0.03")]);
    let _run = engine.start();
    engine.wait_ready();
    let (_, legs) = bought_with_exits(&mut engine, &sim);
    let stop = sim.open_order(&legs[0]).expect("the stop");
    assert_eq!(
        (stop.order_type.as_str(), stop.trailing_delta),
        ("STOP_LOSS_LIMIT", Some(300))
    );
    // Up to 110, then back 3 % from there: sold, though far above the entry.
    sim.push_candle(candle(&sim, 100, 110, 100, 109));
    assert!(sim.open_order(&legs[0]).is_some(), "still trailing");
    sim.push_candle(candle(&sim, 109, 109, 105, 106));
    engine.signal(1);
    let booked = wait_for(WAIT, || exit_fills(&engine.entries()).pop()).unwrap_or_else(|| {
        panic!(
            "the trailing stop's fill was not booked; logs:\n{}",
            engine.logs()
        )
    });
    assert_eq!(booked.0, ExitReason::TrailingStop);
    let sold = sim
        .orders()
        .into_iter()
        .find(|o| o.client_order_id == legs[0])
        .expect("the stop order");
    assert!(
        sold.cummulative_quote_qty / sold.executed_qty >= Decimal::new(1067, 1),
        "sold at 3 % below the best price of 110 or better: {sold:?}"
    );
    assert_ledger_matches_exchange(&engine.entries(), &sim);
}

#[test]
fn a_strategy_exit_cancels_the_exits_first_then_sells() {
    let work = temp_dir("aegis-live-exit-strategy");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_exits(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let (list, legs) = bought_with_exits(&mut engine, &sim);
    let sell = engine.signal(0);
    let fill = engine.settled(sell);
    assert!(matches!(fill, Entry::Fill { .. }), "{fill:?}");
    let entries = engine.entries();
    let ended = entries.iter().position(
        |e| matches!(e, Entry::ExitEnded { client_order_id, reason, .. } if *client_order_id == list && reason.contains(&format!("before the order of signal {sell}"))),
    );
    let sent = entries
        .iter()
        .position(|e| matches!(e, Entry::Sent { signal_seq, .. } if *signal_seq == sell));
    assert!(
        matches!((ended, sent), (Some(e), Some(s)) if e < s),
        "the exits ended before the sell was sent: {entries:?}"
    );
    for leg in &legs {
        assert!(sim.open_order(leg).is_none(), "{leg} was cancelled");
    }
    assert_eq!(sim.balance("BTC"), Decimal::ZERO);
    assert_eq!(sim.locked("BTC"), Decimal::ZERO);
    assert_ledger_matches_exchange(&entries, &sim);
}

#[test]
fn exits_whose_reply_is_lost_are_looked_up_by_id_not_placed_again() {
    let work = temp_dir("aegis-live-exit-5xx");
    let sim = sim_with_secret(super::SECRET);
    let mut engine = engine_with_exits(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    // Carried out, then answered 503: the engine cannot know.
    sim.inject_at("/api/v3/orderList/oco", Fault::ServerError, 1);
    let buy = engine.signal(1);
    engine.settled(buy);
    let written = wait_for(WAIT, || exits_sent(&engine.entries()).pop())
        .unwrap_or_else(|| panic!("the exits were not written; logs:\n{}", engine.logs()));
    // Bars go by past recvWindow: they are found working, never resent.
    for _ in 0..8 {
        engine.signal(1);
        std::thread::sleep(Duration::from_millis(500));
    }
    engine.read_all();
    let lists: Vec<_> = sim
        .order_lists()
        .into_iter()
        .filter(|l| l.list_client_order_id == written.0)
        .collect();
    assert_eq!(lists.len(), 1, "placed once: {:?}", sim.order_lists());
    assert_eq!(sim.order_lists().len(), 1, "no other exits");
    assert!(written.1.iter().all(|leg| sim.open_order(leg).is_some()));
    assert_eq!(exits_sent(&engine.entries()).len(), 1);
}
