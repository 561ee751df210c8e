//! Exits held by the exchange, without one: the book asks for them after
//! an entry fills (levels from the fill), records them ahead of the
//! request, books their fill and stands down, and a rebuild at every
//! entry reproduces it; bad bookings change nothing. And which Binance
//! orders hold which exits ([`exit_orders`]), rounded so a stop is never
//! looser than configured, and made again from the ledger's record alone
//! ([`request_of`]). Part of the `live_execution` test binary.

use aegis_contract::config::ExitsConfig;
use aegis_engine::ledger::{Entry, ExitReason};
use aegis_engine::trading::{Execution, ExecutionParams, HeldExitError, Side};
use aegis_exchange::rest::{OrderType, Side as RestSide, StopKind, StopTrigger};
use aegis_exchange::SymbolFilters;
use aegis_worker::roles::orchestrator::live::{
    exit_orders, needs, request_of, ExitIds, ExitRequest, BINANCE,
};
use rust_decimal::Decimal;

use super::{d, sig};

pub(super) fn exits(
    stop: Option<&str>,
    tp: Option<&str>,
    trailing: Option<(&str, Option<&str>)>,
) -> ExitsConfig {
    ExitsConfig {
        stop_loss: stop.map(d),
        take_profit: tp.map(d),
        trailing_stop: trailing.map(|t| d(t.0)),
        trailing_after: trailing.and_then(|t| t.1.map(d)),
        ..ExitsConfig::default()
    }
}

pub(super) fn live_with(exits: ExitsConfig) -> Execution {
    let params = ExecutionParams {
        qty_step: d("0.001"),
        exits,
        ..ExecutionParams::new(d("1000"))
    };
    let mut exec = Execution::new(params).expect("valid params");
    exec.set_venue(&BINANCE);
    exec
}

/// BTCUSDT with a 0.01 tick, a 0.00001 lot step, a 5 USDT minimum
/// notional and a 0.2–5× price band.
pub(super) fn filters() -> SymbolFilters {
    let body = br#"{"symbols":[{"symbol":"BTCUSDT","baseAsset":"BTC","quoteAsset":"USDT",
      "orderTypes":["LIMIT","LIMIT_MAKER","MARKET","STOP_LOSS_LIMIT","TAKE_PROFIT_LIMIT"],
      "ocoAllowed":true,"allowTrailingStop":true,
      "filters":[
        {"filterType":"PRICE_FILTER","minPrice":"0.01","maxPrice":"1000000","tickSize":"0.01"},
        {"filterType":"LOT_SIZE","minQty":"0.00001","maxQty":"9000","stepSize":"0.00001"},
        {"filterType":"NOTIONAL","minNotional":"5","applyMinToMarket":true,"maxNotional":"9000000","applyMaxToMarket":false,"avgPriceMins":5},
        {"filterType":"PERCENT_PRICE_BY_SIDE","bidMultiplierUp":"5","bidMultiplierDown":"0.2","askMultiplierUp":"5","askMultiplierDown":"0.2","avgPriceMins":5}]}]}"#;
    SymbolFilters::from_exchange_info(body, "BTCUSDT").expect("filters")
}

/// The clock the plans are asked at: a millisecond after the entry fill.
pub(super) const NOW: i64 = 2;

pub(super) const IDS: ExitIds<'static> = ExitIds {
    engine: "e",
    ledger_id: "0000000000abc",
};

/// A book that bought 10 at 100 (signal 0, filled at signal 1's bar).
pub(super) fn long(exec: &mut Execution) -> Vec<Entry> {
    let mut entries = exec.on_signal(&sig(0, 100.0, 1));
    entries.push(
        exec.apply_fill(0, 1, d("10"), d("100"), Decimal::ZERO)
            .expect("the entry fills"),
    );
    entries
}

#[test]
fn exits_are_planned_after_the_entry_recorded_booked_and_rebuilt() {
    let mut exec = live_with(exits(Some("0.02"), Some("0.06"), None));
    assert_eq!(exec.exits_wanted(NOW), None, "flat: nothing to protect");
    let mut ledger = long(&mut exec);
    let plan = exec.exits_wanted(NOW).expect("a long wants its exits");
    assert_eq!(
        (
            plan.side,
            plan.qty,
            plan.stop,
            plan.take_profit,
            plan.reached
        ),
        (
            Side::Sell,
            d("10"),
            Some((d("98"), ExitReason::StopLoss)),
            Some(d("106")),
            None
        )
    );
    let held = exit_orders(&plan, &filters(), &IDS, 7).expect("the exchange can hold them");
    assert_eq!(held.legs.len(), 2);
    let (stop, tp) = (&held.legs[0], &held.legs[1]);
    assert_eq!(
        (stop.reason, stop.stop_price, stop.price),
        (ExitReason::StopLoss, Some(d("98")), d("97.02"))
    );
    assert_eq!(
        (tp.reason, tp.price, tp.order_type.as_str()),
        (ExitReason::TakeProfit, d("106"), "LIMIT_MAKER")
    );
    ledger.push(exec.record_exits_sent(held.clone()).expect("recorded"));
    assert_eq!(exec.exits_wanted(NOW), None, "held already");
    assert!(
        exec.record_exits_sent(held.clone()).is_err(),
        "never recorded twice"
    );
    // The market falls through the stop: the exchange sells at 98.
    ledger.push(
        exec.apply_exit_fill(&stop.client_order_id, 2, d("10"), d("98"), d("0.98"))
            .expect("booked"),
    );
    assert_eq!(exec.portfolio().position, Decimal::ZERO);
    assert_eq!(exec.held_exits(), None);
    assert_eq!(exec.portfolio().cash, d("979.02"));
    // The same target stands down; a new target re-arms.
    let stood = exec.on_signal(&sig(2, 97.0, 1));
    assert!(
        !stood.iter().any(|e| matches!(e, Entry::Order { .. })),
        "{stood:?}"
    );
    let rearmed = exec.on_signal(&sig(3, 97.0, 0));
    assert!(rearmed.iter().any(|e| matches!(e, Entry::Rearm { .. })));
    ledger.extend(stood);
    ledger.extend(rearmed);
    // A rebuild at every entry replays; the whole ledger is the book.
    let params = exec.params().clone();
    for cut in 0..=ledger.len() {
        Execution::rebuild(params.clone(), &ledger[..cut])
            .unwrap_or_else(|e| panic!("the ledger cut at {cut} replays: {e}"));
    }
    let replay = Execution::rebuild(params.clone(), &ledger).expect("replays");
    assert_eq!(replay.portfolio(), exec.portfolio());
    assert_eq!(replay.held_exits(), None);
    let sent_at = ledger
        .iter()
        .position(|e| matches!(e, Entry::ExitSent { .. }))
        .expect("an ExitSent");
    let mut at_held = Execution::rebuild(params, &ledger[..=sent_at]).expect("replays");
    at_held.set_venue(&BINANCE);
    assert_eq!(
        at_held.held_exits(),
        Some(&held),
        "a restart knows the exits held"
    );
    assert_eq!(
        at_held.exits_wanted(NOW),
        None,
        "and never places them again"
    );
}

#[test]
fn bad_exit_bookings_change_nothing() {
    let mut exec = live_with(exits(Some("0.02"), None, None));
    let none = exec.apply_exit_fill("e-x0", 1, d("1"), d("98"), Decimal::ZERO);
    assert!(
        matches!(none, Err(HeldExitError::NotHeld { .. })),
        "{none:?}"
    );
    long(&mut exec);
    let plan = exec.exits_wanted(NOW).expect("wanted");
    let held = exit_orders(&plan, &filters(), &IDS, 7).expect("held");
    exec.record_exits_sent(held.clone()).expect("recorded");
    let id = held.legs[0].client_order_id.clone();
    let before = exec.clone();
    for (leg, qty, price, fee) in [
        ("another", "1", "98", "0"),
        (id.as_str(), "11", "98", "0"),
        (id.as_str(), "0", "98", "0"),
        (id.as_str(), "1", "-98", "0"),
        (id.as_str(), "1", "98", "-1"),
    ] {
        let e = exec.apply_exit_fill(leg, 2, d(qty), d(price), d(fee));
        assert!(e.is_err(), "{leg} {qty} at {price}, fee {fee}");
        assert_eq!(exec, before, "{e:?} changed the book");
    }
    assert!(exec.end_exits(3, "cancelled".into()).is_some());
    assert_eq!(exec.end_exits(3, "again".into()), None);
}

#[test]
fn a_stop_alone_a_take_profit_alone_and_trailing_stops_are_single_stop_orders() {
    let f = filters();
    let plan_of = |cfg: ExitsConfig| {
        let mut exec = live_with(cfg);
        long(&mut exec);
        exec.exits_wanted(NOW).expect("wanted")
    };
    // An uneven stop: the trigger rounds up (never looser), its limit down.
    let held =
        exit_orders(&plan_of(exits(Some("0.01234"), None, None)), &f, &IDS, 7).expect("held");
    let Ok(ExitRequest::Stop(stop)) = request_of(&held) else {
        panic!("a stop alone is one order: {held:?}")
    };
    assert_eq!(stop.kind, StopKind::StopLossLimit);
    assert_eq!(stop.trigger, StopTrigger::Price(d("98.77")));
    assert_eq!(stop.limit_price, d("97.78"));
    assert_eq!((stop.side, stop.qty), (RestSide::Sell, d("10")));

    let held = exit_orders(&plan_of(exits(None, Some("0.05"), None)), &f, &IDS, 7).expect("held");
    let Ok(ExitRequest::Stop(tp)) = request_of(&held) else {
        panic!("{held:?}")
    };
    assert_eq!(
        (tp.kind, tp.trigger, tp.limit_price),
        (
            StopKind::TakeProfitLimit,
            StopTrigger::Price(d("105")),
            d("105")
        )
    );

    let held = exit_orders(
        &plan_of(exits(None, None, Some(("0.03", None)))),
        &f,
        &IDS,
        7,
    )
    .expect("held");
    assert_eq!(held.legs[0].reason, ExitReason::TrailingStop);
    let Ok(ExitRequest::Stop(trail)) = request_of(&held) else {
        panic!("{held:?}")
    };
    assert_eq!(trail.kind, StopKind::StopLossLimit);
    assert_eq!(
        trail.trigger,
        StopTrigger::Trailing {
            delta_bips: 300,
            activation: None
        }
    );
    assert_eq!(
        trail.limit_price,
        d("96.03"),
        "below the lowest trigger (97) by the slack"
    );

    let held = exit_orders(
        &plan_of(exits(None, None, Some(("0.03", Some("0.02"))))),
        &f,
        &IDS,
        7,
    )
    .expect("held");
    let Ok(ExitRequest::Stop(after)) = request_of(&held) else {
        panic!("{held:?}")
    };
    assert_eq!(
        after.kind,
        StopKind::TakeProfitLimit,
        "activated above the market"
    );
    assert_eq!(
        after.trigger,
        StopTrigger::Trailing {
            delta_bips: 300,
            activation: Some(d("102"))
        }
    );

    // Both: an OCO, the take-profit above a sell's market, its legs the
    // ledger's ids; made again from the record alone, the same request.
    let held = exit_orders(
        &plan_of(exits(Some("0.02"), Some("0.06"), None)),
        &f,
        &IDS,
        7,
    )
    .expect("held");
    let Ok(ExitRequest::Oco(oco)) = request_of(&held) else {
        panic!("{held:?}")
    };
    assert_eq!(
        (oco.take_profit_price, oco.stop_price, oco.stop_limit_price),
        (d("106"), d("98"), d("97.02"))
    );
    assert_eq!(oco.list_client_order_id, held.client_order_id);
    assert_eq!(oco.above_client_order_id, held.legs[1].client_order_id);
    assert_eq!(oco.below_client_order_id, held.legs[0].client_order_id);
    assert_eq!(request_of(&held), request_of(&held.clone()));
    let ids: Vec<&str> = held
        .legs
        .iter()
        .map(|l| l.client_order_id.as_str())
        .collect();
    assert_eq!(ids, ["e-0000000000abc-x0s", "e-0000000000abc-x0t"]);
}

#[test]
fn exits_the_filters_refuse_are_an_error_naming_the_filter() {
    let mut exec = live_with(exits(Some("0.02"), None, None));
    exec.on_signal(&sig(0, 100.0, 1));
    // 0.04 at 98 is below the 5 USDT minimum notional.
    exec.apply_fill(0, 1, d("0.04"), d("100"), Decimal::ZERO)
        .expect("fills");
    let plan = exec.exits_wanted(NOW).expect("wanted");
    let e = exit_orders(&plan, &filters(), &IDS, 7).expect_err("refused");
    assert!(
        e.contains("quantity") && e.to_lowercase().contains("notional"),
        "{e}"
    );
}

#[test]
fn the_symbol_must_allow_the_order_types_the_exits_need() {
    let oco = needs(&exits(Some("0.02"), Some("0.06"), None));
    assert!(oco.oco && !oco.trailing_stop);
    assert_eq!(
        oco.order_types,
        [OrderType::LimitMaker, OrderType::StopLossLimit]
    );
    let trail = needs(&exits(None, None, Some(("0.03", Some("0.01")))));
    assert!(trail.trailing_stop && !trail.oco);
    assert_eq!(trail.order_types, [OrderType::TakeProfitLimit]);
    let body = br#"{"symbols":[{"symbol":"BTCUSDT","baseAsset":"BTC","quoteAsset":"USDT",
      "orderTypes":["LIMIT","MARKET"],"ocoAllowed":false,"filters":[]}]}"#;
    let plain = SymbolFilters::from_exchange_info(body, "BTCUSDT").expect("filters");
    let e = plain.check_order_types(&oco).expect_err("refused");
    assert!(e.to_string().contains("LIMIT_MAKER"), "{e}");
}
