//! The state machine in live mode (pure, no exchange): orders wait for the
//! exchange's answer instead of filling at the next open, `apply_fill` and
//! `cancel_pending` settle them, a short target is flat on spot, an exchange
//! ban stops every order, and `rebuild` reproduces the state after a crash
//! at each point (order written but not settled, fill written, cancel
//! written, ban written). Also how an exchange execution is booked
//! (`book_fill`) and the balance rule (`reconcile`).
//!
//! Exits held by the exchange, exits the engine moves on it, and limit
//! entries are in `live_execution/exits.rs`, `live_execution/moved.rs` and
//! `live_execution/limits.rs`, modules of this binary.
//!
//! Kept as one binary: the state machine's live-mode tests and the booking tests
//! share the signal, book and exchange-order builders; one test binary links
//! once.

use std::collections::BTreeMap;
use std::str::FromStr;

use aegis_contract::records::Signal;
use aegis_engine::ledger::{Entry, HaltKind};
use aegis_engine::trading::{
    Execution, ExecutionParams, FlattenError, RiskLimits, SettleError, Side,
};
use aegis_exchange::rest::{Balance, Order, OrderFill, Side as RestSide};
use aegis_exchange::SymbolFilters;
use aegis_worker::roles::orchestrator::live::{book_fill, check_found, reconcile, CLOCK_MARGIN_MS};
use rust_decimal::Decimal;

mod common;
use common::orders;
#[path = "live_execution/exits.rs"]
mod exits;
#[path = "live_execution/limits.rs"]
mod limits;
#[path = "live_execution/moved.rs"]
mod moved;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_else(|e| panic!("bad test decimal {s}: {e}"))
}

fn sig(seq: u64, close: f64, target: i64) -> Signal {
    Signal {
        seq,
        candle_seq: seq,
        ts_ms: 1_704_067_200_000 + seq as i64 * 60_000,
        open: close,
        high: close,
        low: close,
        close,
        target,
        ..Signal::default()
    }
}

fn params() -> ExecutionParams {
    ExecutionParams {
        qty_step: d("0.001"),
        ..ExecutionParams::new(d("1000"))
    }
}

fn live() -> Execution {
    let mut exec = Execution::new(params()).expect("valid params");
    exec.set_venue(&aegis_worker::roles::orchestrator::live::BINANCE);
    exec
}

fn rebuilt(entries: &[Entry]) -> Execution {
    let mut exec = Execution::rebuild(params(), entries).expect("the ledger replays");
    exec.set_venue(&aegis_worker::roles::orchestrator::live::BINANCE);
    exec
}

/// What the ledger must restore (the last close is not in it).
fn book(exec: &Execution) -> impl PartialEq + std::fmt::Debug {
    let s = exec.snapshot();
    (
        exec.portfolio().clone(),
        exec.pending().cloned(),
        exec.banned(),
        s.halted,
        s.halt_reason,
    )
}

#[test]
fn a_live_order_waits_for_the_exchange_not_for_the_next_open() {
    let mut exec = live();
    let first = exec.on_signal(&sig(1, 100.0, 1));
    assert_eq!(orders(&first), vec![(1, Side::Buy, d("10"))]);
    let next = exec.on_signal(&sig(2, 100.0, 1));
    assert!(
        !next
            .iter()
            .any(|e| matches!(e, Entry::Fill { .. } | Entry::Cancelled { .. })),
        "no paper fill in live mode: {next:?}"
    );
    assert_eq!(exec.pending().map(|p| p.signal_seq), Some(1));

    // The same in paper mode fills at the next open.
    let mut paper = Execution::new(params()).expect("valid params");
    paper.on_signal(&sig(1, 100.0, 1));
    let next = paper.on_signal(&sig(2, 100.0, 1));
    assert!(next.iter().any(|e| matches!(e, Entry::Fill { .. })));
}

#[test]
fn apply_fill_books_the_exchange_execution_and_rebuild_reproduces_it() {
    let mut exec = live();
    let mut ledger = exec.on_signal(&sig(1, 100.0, 1));
    // A partial execution at another price, with a fee.
    let fill = exec
        .apply_fill(1, 5, d("9.5"), d("101"), d("0.5"))
        .expect("the pending order settles");
    match &fill {
        Entry::Fill {
            qty,
            price,
            cash_after,
            position_after,
            ..
        } => {
            assert_eq!(*qty, d("9.5"));
            assert_eq!(*price, d("101"));
            assert_eq!(*cash_after, d("1000") - d("959.5") - d("0.5"));
            assert_eq!(*position_after, d("9.5"));
        }
        other => panic!("not a fill: {other:?}"),
    }
    ledger.push(fill);
    assert!(exec.pending().is_none());
    let again = rebuilt(&ledger);
    assert_eq!(book(&again), book(&exec));
    assert!(again.pending().is_none());

    // Sell back to flat: short targets are flat on spot.
    let out = exec.on_signal(&sig(2, 110.0, -1));
    assert_eq!(orders(&out), vec![(2, Side::Sell, d("9.5"))]);
    let out = exec.on_signal(&sig(3, 110.0, -1));
    assert!(orders(&out).is_empty(), "no short is opened: {out:?}");
}

#[test]
fn dust_below_the_step_counts_as_flat() {
    let mut exec = live();
    exec.on_signal(&sig(1, 100.0, 1));
    // The buy's 0.1 % commission came out of the base received.
    exec.apply_fill(1, 5, d("9.99"), d("100"), d("1"))
        .expect("the buy settles");
    let out = exec.on_signal(&sig(2, 100.0, 0));
    assert_eq!(orders(&out), vec![(2, Side::Sell, d("9.99"))]);
    // The exchange sold all but 0.0005, less than the 0.001 step.
    exec.apply_fill(2, 6, d("9.9895"), d("100"), d("0.999"))
        .expect("the sell settles");
    assert_eq!(exec.portfolio().position, d("0.0005"));
    // Flat already: another flat target places nothing...
    let out = exec.on_signal(&sig(3, 100.0, 0));
    assert!(orders(&out).is_empty(), "no order for dust: {out:?}");
    // ...and a long target buys, as from flat.
    let out = exec.on_signal(&sig(4, 100.0, 1));
    assert_eq!(orders(&out).len(), 1, "{out:?}");
    assert_eq!(orders(&out)[0].1, Side::Buy);
    // Flattening leaves the dust alone: no closing order.
    let mut dusty = live();
    dusty.on_signal(&sig(1, 100.0, 1));
    dusty
        .apply_fill(1, 5, d("0.0004"), d("100"), d("0"))
        .expect("a tiny fill");
    let out = dusty.flatten("test", 7).expect("flattens");
    assert!(orders(&out).is_empty(), "no order for dust: {out:?}");
}

#[test]
fn a_coarser_exchange_step_is_adopted_for_sizing_and_dust() {
    let body =
        br#"{"symbols":[{"symbol":"BTCUSDT","baseAsset":"BTC","quoteAsset":"USDT","filters":[
        {"filterType":"LOT_SIZE","minQty":"0.01","maxQty":"100","stepSize":"0.01"},
        {"filterType":"MARKET_LOT_SIZE","minQty":"0","maxQty":"50","stepSize":"0.00000000"}]}]}"#;
    let lots = SymbolFilters::from_exchange_info(body, "BTCUSDT").expect("filters");
    assert_eq!(
        lots.quantity_step(),
        Some(d("0.01")),
        "the 0 step is left out"
    );
    assert_eq!(filters().quantity_step(), None, "no lot filter, no step");

    let mut exec = live();
    assert!(
        !exec.use_exchange_step(d("0.0001")),
        "a finer step is not taken"
    );
    assert!(exec.use_exchange_step(d("0.01")));
    assert_eq!(exec.params().qty_step, d("0.01"));
    // 1000 at 33 is 30.30 in steps of 0.01 (30.303 in 0.001).
    let out = exec.on_signal(&sig(1, 33.0, 1));
    assert_eq!(orders(&out), vec![(1, Side::Buy, d("30.30"))]);
    exec.apply_fill(1, 5, d("30.2697"), d("33"), d("0.9999"))
        .expect("the buy settles");
    exec.on_signal(&sig(2, 33.0, 0));
    exec.apply_fill(2, 6, d("30.26"), d("33"), d("0.99858"))
        .expect("the sell settles");
    // 0.0097 left: dust at the exchange's step, long at 0.001.
    let out = exec.on_signal(&sig(3, 33.0, 1));
    assert_eq!(orders(&out).len(), 1, "{out:?}");
}

#[test]
fn bad_settlements_change_nothing() {
    let mut exec = live();
    exec.on_signal(&sig(1, 100.0, 1));
    let before = exec.clone();
    assert_eq!(
        exec.apply_fill(2, 0, d("1"), d("100"), d("0")),
        Err(SettleError::NotPending {
            signal_seq: 2,
            pending: Some(1)
        })
    );
    assert!(matches!(
        exec.apply_fill(1, 0, d("10.001"), d("100"), d("0")),
        Err(SettleError::BadQuantity { .. })
    ));
    assert!(matches!(
        exec.apply_fill(1, 0, d("0"), d("100"), d("0")),
        Err(SettleError::BadQuantity { .. })
    ));
    assert!(matches!(
        exec.apply_fill(1, 0, d("1"), d("0"), d("0")),
        Err(SettleError::Unbookable { .. })
    ));
    assert_eq!(exec.cancel_pending(2, 0, "x".into()), None);
    assert_eq!(exec, before);
}

/// A crash at each point of one order's life: the ledger as written up to
/// there rebuilds the same book, and finishing the run from it gives the
/// same ledger as the uninterrupted run.
#[test]
fn rebuild_after_each_crash_point_continues_exactly() {
    // What the exchange is asked for: the quantity rounded to 0.001.
    let send = |exec: &mut Execution, entries: &mut Vec<Entry>, seq: u64| {
        if let Some(p) = exec
            .pending()
            .filter(|p| p.signal_seq == seq && p.sent.is_none())
        {
            let rounded = p.qty.trunc_with_scale(3);
            let qty = if rounded > Decimal::ZERO {
                rounded
            } else {
                p.qty
            };
            let id = format!("e-0000000000001-{seq}");
            entries.push(exec.record_sent(seq, &id, qty, 1_000).expect("records"));
        }
    };
    let settle = |exec: &mut Execution, entries: &mut Vec<Entry>, seq: u64| {
        if exec.pending().is_some_and(|p| p.signal_seq == seq) {
            let qty = exec.pending().map(|p| p.qty).unwrap_or_default();
            let entry = if seq.is_multiple_of(3) {
                exec.cancel_pending(seq, 0, "refused".into())
                    .expect("pending")
            } else {
                exec.apply_fill(seq, 0, qty, d("100"), d("0.1"))
                    .expect("settles")
            };
            entries.push(entry);
        }
    };
    let signals: Vec<Signal> = [1, 0, 1, 1, 0, 1, 0, -1, 1]
        .iter()
        .enumerate()
        .map(|(i, &t)| sig(i as u64 + 1, 100.0, t))
        .collect();
    // The uninterrupted run, with the ledger length after every step.
    let mut exec = live();
    let mut full = vec![Entry::LedgerId {
        id: "0000000000001".into(),
        ts_ms: 0,
    }];
    let mut cuts = vec![1];
    for s in &signals {
        full.extend(exec.on_signal(s));
        cuts.push(full.len());
        send(&mut exec, &mut full, s.seq);
        cuts.push(full.len());
        settle(&mut exec, &mut full, s.seq);
        cuts.push(full.len());
    }
    assert!(orders(&full).len() >= 4, "the run must trade: {full:?}");
    assert!(
        full.iter()
            .filter(|e| matches!(e, Entry::Sent { .. }))
            .count()
            >= 4,
        "every order is recorded as sent: {full:?}"
    );
    for &cut in &cuts {
        let mut resumed = rebuilt(&full[..cut]);
        let mut ledger = full[..cut].to_vec();
        // A restart settles the unsettled order first (as the exchange
        // reports it), then re-reads the signals after the last one.
        if let Some(p) = resumed.pending().cloned() {
            send(&mut resumed, &mut ledger, p.signal_seq);
            settle(&mut resumed, &mut ledger, p.signal_seq);
        }
        for s in &signals {
            ledger.extend(resumed.on_signal(s));
            send(&mut resumed, &mut ledger, s.seq);
            settle(&mut resumed, &mut ledger, s.seq);
        }
        assert_eq!(ledger, full, "crash after {cut} entries");
        assert_eq!(book(&resumed), book(&exec), "crash after {cut}");
    }
}

#[test]
fn record_sent_checks_the_order_and_rebuild_restores_it() {
    let mut exec = live();
    let decided = exec.on_signal(&sig(1, 100.0, 1));
    let ordered = exec.pending().map(|p| p.qty).expect("an order");
    let before = exec.clone();
    for (seq, qty) in [(2, ordered), (1, ordered + d("0.001")), (1, d("0"))] {
        assert!(
            exec.record_sent(seq, "e-x-1", qty, 5).is_err(),
            "signal {seq}, qty {qty}"
        );
        assert_eq!(exec, before, "a refused record changes nothing");
    }
    let sent_qty = (ordered / d("2")).trunc_with_scale(5);
    let sent = exec.record_sent(1, "e-x-1", sent_qty, 5).expect("records");
    assert_eq!(
        sent,
        Entry::Sent {
            signal_seq: 1,
            client_order_id: "e-x-1".into(),
            qty: sent_qty,
            written_ms: 5
        }
    );
    assert!(
        exec.record_sent(1, "e-x-1", sent_qty, 6).is_err(),
        "sent once"
    );
    assert!(
        matches!(
            exec.apply_fill(1, 0, ordered, d("100"), d("0")),
            Err(SettleError::BadQuantity { .. })
        ),
        "a fill is checked against what was sent"
    );
    let mut ledger = decided;
    ledger.push(sent);
    let again = rebuilt(&ledger);
    let pending = again.pending().expect("still pending");
    assert_eq!(pending.qty, sent_qty);
    assert_eq!(
        pending
            .sent
            .as_ref()
            .map(|s| (s.client_order_id.as_str(), s.written_ms)),
        Some(("e-x-1", 5))
    );
    // A `Sent` of another signal is a corrupt ledger.
    let mut wrong = ledger.clone();
    wrong.push(Entry::Sent {
        signal_seq: 9,
        client_order_id: "e-x-9".into(),
        qty: sent_qty,
        written_ms: 6,
    });
    assert!(Execution::rebuild(params(), &wrong).is_err());
}

#[test]
fn an_order_mismatch_stops_every_order_until_resumed() {
    let mut exec = live();
    let mut ledger = exec.on_signal(&sig(1, 100.0, 1));
    ledger.extend(exec.cancel_pending(1, 0, "not booked: another order".into()));
    let halt = exec.halt_for_mismatch("the exchange's order is not ours", 7);
    assert!(
        matches!(
            halt.as_slice(),
            [Entry::Halt {
                kind: HaltKind::OrderMismatch,
                ..
            }]
        ),
        "{halt:?}"
    );
    ledger.extend(halt);
    let out = exec.on_signal(&sig(2, 100.0, 1));
    assert!(orders(&out).is_empty(), "no order while halted: {out:?}");
    ledger.extend(out);
    let mut again = rebuilt(&ledger);
    assert!(
        again.banned() && again.snapshot().halted,
        "survives a restart"
    );
    assert_eq!(again.resume(9).len(), 1);
    assert!(!again.banned());
}

#[test]
fn an_order_found_by_id_is_checked_against_what_was_sent() {
    let mut exec = live();
    exec.on_signal(&sig(1, 100.0, 1));
    let qty = exec.pending().map(|p| p.qty).expect("an order");
    let sent_qty = qty.trunc_with_scale(2);
    exec.record_sent(1, "e-x-1", sent_qty, 10_000)
        .expect("records");
    let pending = exec.pending().cloned().expect("pending");
    let found = |side, orig: Decimal, time| Order {
        orig_qty: orig,
        time,
        ..order(side, "0", "0", &[])
    };
    assert_eq!(
        check_found(&pending, &found(RestSide::Buy, sent_qty, Some(10_500))),
        Ok(())
    );
    assert_eq!(
        check_found(&pending, &found(RestSide::Buy, sent_qty, None)),
        Ok(())
    );
    // The clock offset is an estimate: a little earlier is still it.
    let margin = 10_000 - CLOCK_MARGIN_MS;
    assert_eq!(
        check_found(&pending, &found(RestSide::Buy, sent_qty, Some(margin))),
        Ok(())
    );
    for (bad, says) in [
        (found(RestSide::Sell, sent_qty, Some(10_500)), "side SELL"),
        (
            found(RestSide::Buy, sent_qty + d("1"), Some(10_500)),
            "quantity",
        ),
        (
            found(RestSide::Buy, sent_qty, Some(margin - 1)),
            "before the ledger wrote",
        ),
    ] {
        let e = check_found(&pending, &bad).expect_err("not this order");
        assert!(e.contains(says) && e.contains("signal 1"), "{e}");
    }
    // An older build's order recorded no `Sent`: at most its quantity.
    let mut old = live();
    old.on_signal(&sig(1, 100.0, 1));
    let legacy = old.pending().cloned().expect("pending");
    assert_eq!(
        check_found(&legacy, &found(RestSide::Buy, qty, Some(1))),
        Ok(())
    );
    assert!(check_found(&legacy, &found(RestSide::Buy, qty + d("1"), Some(1))).is_err());
}

#[test]
fn an_exchange_ban_stops_every_order_until_resumed() {
    let limits = RiskLimits {
        max_drawdown: Some(d("0.01")),
        ..RiskLimits::default()
    };
    let p = ExecutionParams { limits, ..params() };
    let mut exec = Execution::new(p.clone()).expect("params");
    exec.set_venue(&aegis_worker::roles::orchestrator::live::BINANCE);
    let mut ledger = exec.on_signal(&sig(1, 100.0, 1));
    let qty = exec.pending().map(|o| o.qty).expect("an order");
    ledger.push(
        exec.apply_fill(1, 0, qty, d("100"), d("0"))
            .expect("filled"),
    );
    let halt = exec.halt_for_ban("exchange ban: HTTP 418", 7);
    assert!(
        matches!(halt.as_slice(), [Entry::Halt { kind: HaltKind::ExchangeBan, reason, .. }] if reason.contains("418")),
        "{halt:?}"
    );
    assert!(exec.halt_for_ban("again", 8).is_empty(), "one halt");
    ledger.extend(halt);
    // The drawdown would flatten the book: no order while banned.
    for seq in 2..6 {
        let out = exec.on_signal(&sig(seq, 50.0, 0));
        assert!(orders(&out).is_empty(), "an order while banned: {out:?}");
        ledger.extend(out);
    }
    assert!(exec.snapshot().halted && exec.banned());
    let mut again = Execution::rebuild(p, &ledger).expect("replays");
    again.set_venue(&aegis_worker::roles::orchestrator::live::BINANCE);
    assert!(again.banned(), "the ban survives a restart");
    assert_eq!(book(&again), book(&exec));
    assert_eq!(again.resume(9).len(), 1);
    assert!(!again.banned());
}

#[test]
fn live_flatten_leaves_the_closing_order_to_the_exchange() {
    let mut exec = live();
    exec.on_signal(&sig(1, 100.0, 1));
    assert_eq!(
        exec.flatten("flattened", 1),
        Err(FlattenError::Unsettled { signal_seq: 1 })
    );
    exec.apply_fill(1, 0, d("10"), d("100"), d("0"))
        .expect("filled");
    let out = exec.flatten("flattened", 2).expect("flattens");
    assert_eq!(orders(&out), vec![(2, Side::Sell, d("10"))]);
    assert!(!out.iter().any(|e| matches!(e, Entry::Fill { .. })));
    assert_eq!(exec.pending().map(|p| p.signal_seq), Some(2));
}

fn filters() -> SymbolFilters {
    let body =
        br#"{"symbols":[{"symbol":"BTCUSDT","baseAsset":"BTC","quoteAsset":"USDT","filters":[]}]}"#;
    SymbolFilters::from_exchange_info(body, "BTCUSDT").expect("filters")
}

fn order(side: RestSide, executed: &str, quote: &str, fills: &[(&str, &str)]) -> Order {
    Order {
        symbol: "BTCUSDT".into(),
        order_id: 1,
        client_order_id: "e-1".into(),
        side,
        status: "FILLED".into(),
        orig_qty: d(executed),
        executed_qty: d(executed),
        cummulative_quote_qty: d(quote),
        order_type: "MARKET".into(),
        price: Decimal::ZERO,
        stop_price: None,
        trailing_delta: None,
        order_list_id: -1,
        time: None,
        fills: fills
            .iter()
            .map(|(c, asset)| OrderFill {
                price: d("1"),
                qty: d(executed) / Decimal::from(fills.len()),
                commission: d(c),
                commission_asset: (*asset).into(),
            })
            .collect(),
    }
}

#[test]
fn fills_are_booked_at_the_average_price_with_commissions_by_asset() {
    let f = filters();
    // Quote commission: the fee.
    let b = book_fill(&f, &order(RestSide::Sell, "2", "201", &[("0.2", "USDT")])).expect("books");
    assert_eq!((b.qty, b.price, b.fee), (d("2"), d("100.5"), d("0.2")));
    assert!(b.note.is_none());
    // Base commission on a buy: net quantity, its value as the fee, so
    // cash moves by exactly cummulativeQuoteQty.
    let b = book_fill(&f, &order(RestSide::Buy, "2", "200", &[("0.002", "BTC")])).expect("books");
    assert_eq!((b.qty, b.price, b.fee), (d("1.998"), d("100"), d("0.2")));
    assert_eq!(b.qty * b.price + b.fee, d("200"));
    // BNB: not booked, said so.
    let b = book_fill(&f, &order(RestSide::Buy, "1", "100", &[("0.01", "BNB")])).expect("books");
    assert_eq!((b.qty, b.fee), (d("1"), d("0")));
    assert!(
        b.note.as_deref().is_some_and(|n| n.contains("BNB")),
        "{b:?}"
    );
    // Trades missing (a query's reply lists none, and myTrades could not
    // complete them): booked with the commissions known, said so.
    let b = book_fill(&f, &order(RestSide::Buy, "1", "100", &[])).expect("books");
    assert_eq!(b.fee, d("0"));
    assert!(
        b.note
            .as_deref()
            .is_some_and(|n| n.contains("trades of 0 of the 1 executed")),
        "{b:?}"
    );
    let mut part = order(RestSide::Sell, "2", "200", &[("0.1", "USDT")]);
    part.fills[0].qty = d("1.5");
    let b = book_fill(&f, &part).expect("books");
    assert_eq!(b.fee, d("0.1"));
    assert!(b
        .note
        .as_deref()
        .is_some_and(|n| n.contains("1.5 of the 2")));
    // Nothing executed, or an absurd figure: an error, not a panic.
    assert!(book_fill(&f, &order(RestSide::Buy, "0", "100", &[])).is_err());
    let huge = Decimal::MAX.to_string();
    let absurd = order(RestSide::Buy, "0.0000001", &huge, &[]);
    assert!(book_fill(&f, &absurd).is_err());
}

#[test]
fn reconcile_flags_a_ledger_holding_more_than_the_account() {
    let f = filters();
    let mut exec = live();
    exec.on_signal(&sig(1, 100.0, 1));
    exec.apply_fill(1, 0, d("5"), d("100"), d("0"))
        .expect("filled");
    let account = |btc: &str, usdt: &str| {
        BTreeMap::from([
            (
                "BTC".to_string(),
                Balance {
                    free: d(btc),
                    locked: d("0"),
                },
            ),
            (
                "USDT".to_string(),
                Balance {
                    free: d(usdt),
                    locked: d("0"),
                },
            ),
        ])
    };
    let ok = reconcile(&f, &account("5", "600"), &exec);
    assert!(ok.mismatches.is_empty(), "{ok:?}");
    let bad = reconcile(&f, &account("4.9", "499"), &exec);
    assert_eq!(bad.mismatches.len(), 2, "{bad:?}");
    assert!(bad.mismatches[0].contains("500") && bad.mismatches[0].contains("499"));
    assert!(bad.mismatches[1].contains("4.9"));
}

#[test]
fn status_bodies_without_balances_still_parse_and_new_ones_round_trip() {
    use aegis_contract::api::{Balances, OrchestratorStatus};
    let old = r#"{"role":"orchestrator","signals_read":3,"fills":1,"lag":0,"last_signal":null}"#;
    let parsed: OrchestratorStatus = serde_json::from_str(old).expect("an old body parses");
    assert_eq!(parsed.balances, None);
    let paper = serde_json::to_string(&parsed).expect("serializes");
    assert!(
        !paper.contains("balances"),
        "paper bodies are unchanged: {paper}"
    );
    let live = OrchestratorStatus {
        balances: Some(Balances {
            base_asset: "BTC".into(),
            quote_asset: "USDT".into(),
            base_free: d("1"),
            base_locked: d("0"),
            quote_free: d("10"),
            quote_locked: d("0"),
            ledger_cash: d("20"),
            ledger_position: d("1"),
            mismatches: vec!["USDT: 20 > 10".into()],
            read_ms: 5,
        }),
        ..parsed
    };
    let text = serde_json::to_string(&live).expect("serializes");
    let back: OrchestratorStatus = serde_json::from_str(&text).expect("parses");
    assert_eq!(back, live);
}
