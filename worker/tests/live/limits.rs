//! Limit entries live: a LIMIT GTC order rests on the exchange under the
//! order's client id; its parts are booked as they fill (also the parts
//! that filled while the orchestrator was killed, once, after the
//! restart); it is cancelled after its life or when the target moves off,
//! and the ledger equals the exchange. Part of the `live` test binary.

use aegis_engine::ledger::Entry;
use aegis_tests::exchange::{ExchangeSim, SimCandle, SimConfig};
use rust_decimal::Decimal;

use super::common::up::{signal, wait_exit};
use super::common::{now_ms, temp_dir, wait_for};
use super::{assert_ledger_matches_exchange, id, Engine, KEY, SECRET, WAIT};

/// A simulator trading at 100 that fills at most `per_candle` of a resting
/// limit order per candle.
fn sim_filling(per_candle: Option<i64>) -> ExchangeSim {
    let last = now_ms().div_euclid(60_000) * 60_000;
    ExchangeSim::start(SimConfig {
        api_key: KEY.into(),
        api_secret: SECRET.into(),
        candles: SimCandle::flat_series(3, 60_000, last - 60_000, Decimal::from(100)),
        limit_fill_per_candle: per_candle.map(Decimal::from),
        ..SimConfig::default()
    })
    .expect("the simulator starts")
}

/// An engine whose entries are limits 1 % below the close, for 3 bars.
fn engine_with_limits(dir: &std::path::Path, sim: &ExchangeSim) -> Engine {
    let mut engine = Engine::new(dir, sim);
    for (name, value) in [("TYPE", "limit"), ("OFFSET", "0.01"), ("TTL_BARS", "3")] {
        engine.env.push((
            format!("AEGIS__ORCHESTRATOR__ENTRY_ORDER__{name}"),
            value.to_string(),
        ));
    }
    engine
}

/// A market moving through 98 (below the limit at 99).
fn dip(sim: &ExchangeSim) -> SimCandle {
    let last = sim.candles().last().map_or(now_ms(), |c| c.open_time_ms);
    SimCandle {
        open_time_ms: last + 60_000,
        open: Decimal::from(100),
        high: Decimal::from(100),
        low: Decimal::from(98),
        close: Decimal::from(100),
        volume: Decimal::ONE,
    }
}

/// The `executed` of every `PartialFill` of signal `seq`.
fn parts(engine: &Engine, seq: u64) -> Vec<Decimal> {
    engine
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::PartialFill {
                signal_seq,
                executed,
                ..
            } if *signal_seq == seq => Some(*executed),
            _ => None,
        })
        .collect()
}

#[test]
fn a_limit_entry_rests_and_its_parts_are_booked_as_they_fill_across_a_kill() {
    let work = temp_dir("aegis-live-limit");
    let sim = sim_filling(Some(4));
    let mut engine = engine_with_limits(work.path(), &sim);
    let mut run = engine.start();
    engine.wait_ready();
    let buy = engine.signal(1);
    let order_id = wait_for(WAIT, || {
        let entries = engine.entries();
        entries
            .iter()
            .any(|e| matches!(e, Entry::Sent { signal_seq, .. } if *signal_seq == buy))
            .then(|| id(&entries, buy))
    })
    .unwrap_or_else(|| panic!("the limit was not sent; logs:\n{}", engine.logs()));
    let resting = wait_for(WAIT, || sim.open_order(&order_id)).expect("it rests");
    assert_eq!(
        (resting.order_type.as_str(), resting.price, resting.orig_qty),
        ("LIMIT", Decimal::from(99), Decimal::from(10)),
        "1 % below the close, sized at the close"
    );

    // 4 of 10 fill; the next bar books them.
    sim.push_candle(dip(&sim));
    engine.signal(1);
    let first = wait_for(WAIT, || {
        let p = parts(&engine, buy);
        (!p.is_empty()).then_some(p)
    })
    .unwrap_or_else(|| panic!("the part was not booked; logs:\n{}", engine.logs()));
    assert_eq!(first, [Decimal::from(4)]);

    // 4 more fill while the orchestrator is killed: booked once after.
    signal(run.0.id(), nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let _ = wait_exit(&mut run.0, WAIT);
    sim.push_candle(dip(&sim));
    let mut run = engine.start();
    let second = wait_for(WAIT, || {
        let p = parts(&engine, buy);
        (p.len() == 2).then_some(p)
    })
    .unwrap_or_else(|| {
        panic!(
            "the part filled while down was not booked; logs:\n{}",
            engine.logs()
        )
    });
    assert_eq!(second, [Decimal::from(4), Decimal::from(8)]);

    // Its life ends 3 bars after the deciding one: the rest is cancelled
    // at the third, not before.
    engine.signal(1);
    engine.read_all();
    assert!(sim.open_order(&order_id).is_some(), "still within its life");
    engine.signal(1);
    let end = engine.settled(buy);
    assert!(
        matches!(&end, Entry::Cancelled { reason, .. } if reason.contains("after 8 executed")),
        "{end:?}"
    );
    assert_eq!(sim.open_order(&order_id), None);
    let rest = sim
        .orders()
        .into_iter()
        .find(|o| o.client_order_id == order_id)
        .expect("the order");
    assert_eq!(
        (rest.status.as_str(), rest.executed_qty),
        ("CANCELED", Decimal::from(8))
    );
    assert_ledger_matches_exchange(&engine.entries(), &sim);
    signal(run.0.id(), nix::sys::signal::Signal::SIGKILL).expect("kill -9");
    let _ = wait_exit(&mut run.0, WAIT);
    let _run = engine.start();
    engine.wait_ready();
    assert_eq!(parts(&engine, buy).len(), 2, "nothing booked twice");
    assert_eq!(
        sim.orders()
            .iter()
            .filter(|o| o.client_order_id == order_id)
            .count(),
        1,
        "one exchange order"
    );
}

#[test]
fn a_limit_entry_is_cancelled_when_the_target_moves_off_and_fills_whole_when_reached() {
    let work = temp_dir("aegis-live-limit-off");
    let sim = sim_filling(None);
    let mut engine = engine_with_limits(work.path(), &sim);
    let _run = engine.start();
    engine.wait_ready();
    let first = engine.signal(1);
    wait_for(WAIT, || {
        let entries = engine.entries();
        let order_id = id(&entries, first);
        sim.open_order(&order_id)
    })
    .unwrap_or_else(|| panic!("the limit does not rest; logs:\n{}", engine.logs()));
    engine.signal(0);
    let off = engine.settled(first);
    assert!(
        matches!(&off, Entry::Cancelled { reason, .. } if reason.contains("nothing executed")),
        "{off:?}"
    );
    assert_eq!(sim.balance("BTC"), Decimal::ZERO);

    let second = engine.signal(1);
    wait_for(WAIT, || sim.open_order(&id(&engine.entries(), second)))
        .unwrap_or_else(|| panic!("the second limit does not rest; logs:\n{}", engine.logs()));
    sim.push_candle(dip(&sim));
    engine.signal(1);
    let filled = engine.settled(second);
    assert!(
        matches!(filled, Entry::Fill { price, .. } if price == Decimal::from(99)),
        "{filled:?}"
    );
    assert!(parts(&engine, second).is_empty(), "filled whole at once");
    assert_ledger_matches_exchange(&engine.entries(), &sim);
}
