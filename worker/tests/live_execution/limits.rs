//! Limit entries live, without an exchange: parts booked as they fill
//! (`PartialFill`) leave the rest pending, bad parts change nothing, a
//! rebuild at every entry is the book as it was, a resting limit ends after
//! its life or when the target moves off, and a live limit's fill (stamped
//! with the wall clock) never makes a rebuilt book skip later bars. Part
//! of the `live_execution` test binary.

use aegis_contract::config::{EntryOrderConfig, EntryOrderType};
use aegis_engine::ledger::Entry;
use aegis_engine::trading::{Execution, ExecutionParams};
use aegis_worker::roles::orchestrator::live::BINANCE;
use rust_decimal::Decimal;

use super::{d, sig};

fn params() -> ExecutionParams {
    ExecutionParams {
        qty_step: d("0.001"),
        entry_order: EntryOrderConfig {
            order_type: EntryOrderType::Limit,
            offset: d("0.01"),
            ttl_bars: 3,
        },
        ..ExecutionParams::new(d("1000"))
    }
}

fn live_limits() -> Execution {
    let mut exec = Execution::new(params()).expect("valid params");
    exec.set_venue(&BINANCE);
    exec
}

/// A limit buy of 10 at 99 decided at signal 0 and sent.
fn resting(exec: &mut Execution) -> Vec<Entry> {
    let mut ledger = exec.on_signal(&sig(0, 100.0, 1));
    let limit = exec.pending().and_then(|p| p.limit).expect("a limit entry");
    assert_eq!(limit.price, d("99.00"));
    ledger.push(exec.record_sent(0, "e-x-0", d("10"), 5).expect("sent"));
    ledger
}

#[test]
fn parts_are_booked_as_they_fill_and_the_rest_stays_pending() {
    let mut exec = live_limits();
    let mut ledger = resting(&mut exec);
    ledger.push(
        exec.apply_partial_fill(0, 10, (d("3.996"), d("99"), d("0.396")), d("4"))
            .expect("a part"),
    );
    let pending = exec.pending().expect("still pending");
    assert_eq!((pending.qty, pending.executed), (d("6"), d("4")));
    assert_eq!(exec.portfolio().position, d("3.996"));

    let before = exec.clone();
    for (qty, executed) in [("1", "4"), ("1", "10"), ("5", "8"), ("0", "8")] {
        let e = exec.apply_partial_fill(0, 11, (d(qty), d("99"), Decimal::ZERO), d(executed));
        assert!(e.is_err(), "{qty} booked at executed {executed}");
        assert_eq!(exec, before, "{e:?} changed the book");
    }
    ledger.push(
        exec.apply_fill(0, 12, d("5.994"), d("99"), d("0.594"))
            .expect("the rest fills"),
    );
    assert_eq!(exec.pending(), None);
    assert_eq!(exec.portfolio().position, d("9.990"));
    for cut in 0..=ledger.len() {
        Execution::rebuild(params(), &ledger[..cut])
            .unwrap_or_else(|e| panic!("the ledger cut at {cut} replays: {e}"));
    }
    let whole = Execution::rebuild(params(), &ledger).expect("replays");
    assert_eq!(whole.portfolio(), exec.portfolio());
    assert_eq!(whole.pending(), None);
    let at_part = Execution::rebuild(params(), &ledger[..ledger.len() - 1]).expect("replays");
    assert_eq!(
        at_part.pending().map(|p| (p.qty, p.executed)),
        Some((d("6"), d("4")))
    );
}

#[test]
fn a_resting_limit_ends_after_its_life_or_when_the_target_moves_off() {
    let mut exec = live_limits();
    resting(&mut exec);
    assert_eq!(exec.resting_limit_ends(&sig(1, 100.0, 1)), None);
    assert_eq!(exec.resting_limit_ends(&sig(2, 100.0, 1)), None);
    let life = exec
        .resting_limit_ends(&sig(3, 100.0, 1))
        .expect("its life is over");
    assert!(life.contains("not filled within 3 bar(s)"), "{life}");
    let off = exec
        .resting_limit_ends(&sig(1, 100.0, 0))
        .expect("the target moved");
    assert!(off.contains("target changed to 0"), "{off}");
    // A short target is flat on spot: off too.
    assert!(exec.resting_limit_ends(&sig(1, 100.0, -1)).is_some());
    let unsent = live_limits();
    assert_eq!(
        unsent.resting_limit_ends(&sig(3, 100.0, 1)),
        None,
        "no order"
    );
}

#[test]
fn a_live_limit_fill_stamped_with_the_wall_clock_never_makes_a_rebuild_skip_bars() {
    let mut exec = live_limits();
    let mut ledger = resting(&mut exec);
    // Booked at a wall-clock time after the bars that follow.
    let far = 4_000_000_000_000;
    ledger.push(
        exec.apply_fill(0, far, d("10"), d("99"), Decimal::ZERO)
            .expect("fills"),
    );
    let mut rebuilt = Execution::rebuild(params(), &ledger).expect("replays");
    rebuilt.set_venue(&BINANCE);
    let out = rebuilt.on_signal(&sig(1, 100.0, 0));
    assert!(
        out.iter()
            .any(|e| matches!(e, Entry::Order { signal_seq: 1, .. })),
        "the next bar is decided: {out:?}"
    );
}
