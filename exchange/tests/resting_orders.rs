//! The REST client's resting orders against the Binance simulator
//! (`aegis_tests::exchange`) over real HTTP: a stop that triggers on the
//! price path and is booked from myTrades, an OCO whose take-profit fills
//! and whose stop expires, a trailing stop that trails then triggers, a
//! limit filled in two candles, and refusals (an order type the symbol
//! does not list, a price off the tick or outside PERCENT_PRICE_BY_SIDE)
//! that the client-side filter checks catch before Binance would.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aegis_contract::config::Secret;
use aegis_exchange::filters::{Needs, OrderTypeRefusal, PriceRefusal};
use aegis_exchange::rest::{Oco, OrderType, Side, StopKind, StopOrder, StopTrigger};
use aegis_exchange::{BinanceRest, RestError};
use aegis_tests::exchange::{ExchangeSim, SimCandle, SimConfig};
use rust_decimal::Decimal;

const SYMBOL: &str = "BTCUSDT";

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("test decimal")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| i64::try_from(t.as_millis()).unwrap_or(0))
}

/// A simulator trading flat at 20000 (the last candle open now), holding
/// 10000 USDT and 1 BTC.
fn sim_with(config: SimConfig) -> ExchangeSim {
    let last = now_ms() - now_ms().rem_euclid(60_000);
    let sim = ExchangeSim::start(SimConfig {
        candles: SimCandle::flat_series(3, 60_000, last, d("20000")),
        ..config
    })
    .expect("simulator starts");
    sim.set_balance("BTC", d("1"));
    sim
}

fn sim() -> ExchangeSim {
    sim_with(SimConfig::default())
}

fn client(sim: &ExchangeSim) -> BinanceRest {
    let c = BinanceRest::new(
        &sim.url(),
        Secret::new("sim-api-key"),
        &Secret::new("sim-api-secret"),
        Duration::from_secs(20),
    )
    .expect("client builds");
    c.sync_time().expect("time sync");
    c
}

/// The candle after the last one, with these prices.
fn next(sim: &ExchangeSim, open: &str, high: &str, low: &str, close: &str) -> SimCandle {
    let last = sim.candles().last().map_or(0, |c| c.open_time_ms);
    SimCandle {
        open_time_ms: last + 60_000,
        open: d(open),
        high: d(high),
        low: d(low),
        close: d(close),
        volume: d("10"),
    }
}

fn stop_loss(qty: &str, stop: &str, limit: &str, id: &str) -> StopOrder {
    StopOrder {
        kind: StopKind::StopLossLimit,
        side: Side::Sell,
        qty: d(qty),
        trigger: StopTrigger::Price(d(stop)),
        limit_price: d(limit),
        client_order_id: id.into(),
    }
}

#[test]
fn a_stop_triggers_on_the_price_path_and_its_fill_is_in_my_trades() {
    let sim = sim();
    let rest = client(&sim);
    let placed = rest
        .place_stop_order(SYMBOL, &stop_loss("0.1", "19500", "19400", "e-1-2-sl"))
        .expect("placed");
    assert_eq!(placed.status, "NEW");
    assert_eq!(placed.kind(), Some(OrderType::StopLossLimit));
    assert_eq!(placed.stop_price, Some(d("19500")));
    assert_eq!(placed.price, d("19400"));
    // A candle that stays above the stop leaves it alone.
    sim.push_candle(next(&sim, "20000", "20100", "19600", "19900"));
    let open = rest.open_orders(SYMBOL).expect("open orders");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_order_id, "e-1-2-sl");
    // A falling candle crosses 19500: it triggers there, and its limit of
    // 19400 being marketable, it sells at 19500.
    sim.push_candle(next(&sim, "19900", "19950", "19300", "19350"));
    let order = rest
        .query_order(SYMBOL, "e-1-2-sl")
        .expect("query")
        .expect("known");
    assert_eq!(order.status, "FILLED");
    assert_eq!(order.executed_qty, d("0.1"));
    assert_eq!(order.cummulative_quote_qty, d("1950"));
    let fills = rest.order_trades(SYMBOL, order.order_id).expect("trades");
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].price, fills[0].qty), (d("19500"), d("0.1")));
    assert_eq!(fills[0].commission, d("1.95"));
    assert_eq!(fills[0].commission_asset, "USDT");
    assert_eq!(sim.balance("USDT"), d("10000") + d("1950") - d("1.95"));
    assert_eq!(sim.balance("BTC"), d("0.9"));
    assert!(rest.open_orders(SYMBOL).expect("open orders").is_empty());
}

#[test]
fn a_stop_that_would_trigger_at_once_is_refused() {
    let sim = sim();
    let rest = client(&sim);
    let e = rest
        .place_stop_order(SYMBOL, &stop_loss("0.1", "20100", "20000", "e-1-2-sl"))
        .expect_err("above the market");
    assert!(
        matches!(&e, RestError::OrderRejected { msg } if msg == "Order would trigger immediately."),
        "{e}"
    );
}

fn oco(list: &str) -> Oco {
    Oco {
        side: Side::Sell,
        qty: d("0.1"),
        take_profit_price: d("21000"),
        stop_price: d("19000"),
        stop_limit_price: d("18900"),
        trailing_delta: None,
        list_client_order_id: format!("{list}-x"),
        above_client_order_id: format!("{list}-tp"),
        below_client_order_id: format!("{list}-sl"),
    }
}

#[test]
fn an_oco_take_profit_fills_and_the_exchange_expires_the_stop() {
    let sim = sim();
    let rest = client(&sim);
    let list = rest.place_oco(SYMBOL, &oco("e-1-3")).expect("placed");
    assert_eq!(list.list_client_order_id, "e-1-3-x");
    assert_eq!(list.contingency_type, "OCO");
    assert!(!list.is_done());
    let tp = list.report("e-1-3-tp").expect("the take-profit leg");
    assert_eq!(
        (tp.order_type.as_str(), tp.price),
        ("LIMIT_MAKER", d("21000"))
    );
    let sl = list.report("e-1-3-sl").expect("the stop leg");
    assert_eq!(sl.kind(), Some(OrderType::StopLossLimit));
    assert_eq!((sl.stop_price, sl.price), (Some(d("19000")), d("18900")));
    assert!(sl.in_order_list() && sl.order_list_id == list.order_list_id);
    let open = rest.open_order_lists().expect("open lists");
    assert_eq!(open.len(), 1);
    assert_eq!(rest.open_orders(SYMBOL).expect("open orders").len(), 2);
    // A duplicate list id while it is open: Binance's duplicate refusal.
    let e = rest
        .place_oco(SYMBOL, &oco("e-1-3"))
        .expect_err("duplicate");
    assert!(
        matches!(&e, RestError::OrderRejected { msg } if msg.contains("Duplicate")),
        "{e}"
    );

    // An up candle (open, low, high, close) dips to 19900, then trades 21000.
    sim.push_candle(next(&sim, "20000", "21100", "19900", "21050"));
    let tp = rest
        .query_order(SYMBOL, "e-1-3-tp")
        .expect("query")
        .expect("known");
    assert_eq!(tp.status, "FILLED");
    let fills = rest.order_trades(SYMBOL, tp.order_id).expect("trades");
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].price, fills[0].qty), (d("21000"), d("0.1")));
    assert_eq!(fills[0].commission, d("2.1"));
    let sl = rest
        .query_order(SYMBOL, "e-1-3-sl")
        .expect("query")
        .expect("known");
    assert_eq!(sl.status, "EXPIRED");
    assert_eq!(sl.executed_qty, Decimal::ZERO);
    let done = rest
        .query_order_list("e-1-3-x")
        .expect("query")
        .expect("known");
    assert!(done.is_done(), "{done:?}");
    assert_eq!(done.orders.len(), 2);
    assert!(done.order_reports.is_empty(), "a query lists ids only");
    assert!(rest.open_order_lists().expect("open lists").is_empty());
    assert!(rest.open_orders(SYMBOL).expect("open orders").is_empty());
    assert_eq!(rest.query_order_list("no-such-list").expect("query"), None);
    // Over: cancelling it is Binance's -2011.
    let e = rest.cancel_order_list(SYMBOL, "e-1-3-x").expect_err("over");
    assert!(matches!(e, RestError::UnknownOrder { .. }), "{e}");
}

#[test]
fn an_oco_is_cancelled_whole_and_an_exchange_cancel_of_one_leg_shows() {
    let sim = sim();
    let rest = client(&sim);
    rest.place_oco(SYMBOL, &oco("e-1-4")).expect("placed");
    let cancelled = rest.cancel_order_list(SYMBOL, "e-1-4-x").expect("cancels");
    assert!(cancelled.is_done());
    assert_eq!(cancelled.order_reports.len(), 2);
    assert!(cancelled
        .order_reports
        .iter()
        .all(|o| o.status == "CANCELED"));
    assert!(rest.open_orders(SYMBOL).expect("open").is_empty());

    // The exchange cancels one leg on its own: the list is over, the other
    // leg still rests, and a client reconciling open orders sees both facts.
    rest.place_oco(SYMBOL, &oco("e-1-5")).expect("placed");
    assert!(sim.cancel_order_by_exchange("e-1-5-sl"));
    assert!(
        !sim.cancel_order_by_exchange("e-1-5-sl"),
        "already cancelled"
    );
    let sl = rest
        .query_order(SYMBOL, "e-1-5-sl")
        .expect("query")
        .expect("known");
    assert_eq!(sl.status, "CANCELED");
    let open = rest.open_orders(SYMBOL).expect("open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].client_order_id, "e-1-5-tp");
    assert!(open[0].in_order_list());
    assert!(rest.open_order_lists().expect("lists").is_empty());
}

#[test]
fn a_trailing_stop_follows_the_high_then_triggers_on_the_retrace() {
    let sim = sim();
    let rest = client(&sim);
    let order = StopOrder {
        trigger: StopTrigger::Trailing {
            delta_bips: 500,
            activation: None,
        },
        ..stop_loss("0.1", "1", "18000", "e-1-6-ts")
    };
    let placed = rest.place_stop_order(SYMBOL, &order).expect("placed");
    assert_eq!(placed.trailing_delta, Some(500));
    assert_eq!(placed.stop_price, None);
    // Up to 22000: a 5 % fall from 20000 (19000) no longer triggers it.
    sim.push_candle(next(&sim, "20000", "22000", "19950", "21900"));
    sim.push_candle(next(&sim, "21900", "21950", "19100", "19200"));
    let order = rest
        .query_order(SYMBOL, "e-1-6-ts")
        .expect("query")
        .expect("known");
    assert_eq!(order.status, "FILLED", "{order:?}");
    let fills = rest.order_trades(SYMBOL, order.order_id).expect("trades");
    // 22000 * 0.95 = 20900: it sells there, well above the untrailed 19000.
    assert_eq!(fills.len(), 1);
    assert_eq!(fills[0].price, d("20900"));

    // Trailing with an activation price waits for it.
    let order = StopOrder {
        trigger: StopTrigger::Trailing {
            delta_bips: 500,
            activation: Some(d("19000")),
        },
        ..stop_loss("0.1", "1", "17000", "e-1-7-ts")
    };
    rest.place_stop_order(SYMBOL, &order).expect("placed");
    sim.push_candle(next(&sim, "19200", "19300", "19050", "19250"));
    let waiting = rest
        .query_order(SYMBOL, "e-1-7-ts")
        .expect("query")
        .expect("known");
    assert_eq!(waiting.status, "NEW");
}

#[test]
fn a_limit_fills_in_part_per_candle_and_each_fill_is_a_trade() {
    let sim = sim_with(SimConfig {
        limit_fill_per_candle: Some(d("0.05")),
        ..SimConfig::default()
    });
    let rest = client(&sim);
    let placed = rest
        .place_limit_order(SYMBOL, Side::Buy, d("0.1"), d("19500"), "e-1-8")
        .expect("placed");
    assert_eq!(
        (placed.status.as_str(), placed.order_type.as_str()),
        ("NEW", "LIMIT")
    );
    sim.push_candle(next(&sim, "20000", "20050", "19400", "19600"));
    let half = rest
        .query_order(SYMBOL, "e-1-8")
        .expect("query")
        .expect("known");
    assert_eq!(half.status, "PARTIALLY_FILLED");
    assert_eq!(half.executed_qty, d("0.05"));
    assert!(!half.is_final());
    // A candle that does not reach 19500 fills nothing more.
    sim.push_candle(next(&sim, "19600", "19800", "19550", "19700"));
    let still = rest
        .query_order(SYMBOL, "e-1-8")
        .expect("query")
        .expect("known");
    assert_eq!(still.executed_qty, d("0.05"));
    sim.push_candle(next(&sim, "19700", "19750", "19450", "19500"));
    let full = rest
        .query_order(SYMBOL, "e-1-8")
        .expect("query")
        .expect("known");
    assert_eq!(full.status, "FILLED");
    assert_eq!(full.cummulative_quote_qty, d("1950"));
    let fills = rest.order_trades(SYMBOL, full.order_id).expect("trades");
    assert_eq!(fills.len(), 2);
    for f in &fills {
        assert_eq!((f.price, f.qty), (d("19500"), d("0.05")));
        assert_eq!(
            (f.commission, f.commission_asset.as_str()),
            (d("0.00005"), "BTC")
        );
    }
    // A cancelled partial fill keeps what it executed.
    rest.place_limit_order(SYMBOL, Side::Buy, d("0.1"), d("19000"), "e-1-9")
        .expect("placed");
    sim.push_candle(next(&sim, "19500", "19500", "18900", "19100"));
    let cancelled = rest.cancel_order(SYMBOL, "e-1-9").expect("cancels");
    assert_eq!(cancelled.status, "CANCELED");
    assert_eq!(cancelled.executed_qty, d("0.05"));
}

#[test]
fn an_order_type_the_symbol_does_not_list_is_refused_and_caught_first() {
    let sim = sim_with(SimConfig {
        order_types: vec!["LIMIT".into(), "MARKET".into()],
        oco_allowed: false,
        allow_trailing_stop: false,
        ..SimConfig::default()
    });
    let rest = client(&sim);
    let filters = rest.exchange_info(SYMBOL).expect("exchangeInfo");
    let stops = Needs {
        order_types: vec![OrderType::StopLossLimit],
        ..Needs::default()
    };
    let refusal = filters.check_order_types(&stops).expect_err("no stops");
    assert_eq!(
        refusal.to_string(),
        "BTCUSDT does not allow STOP_LOSS_LIMIT orders (exchangeInfo orderTypes: LIMIT, MARKET)"
    );
    let e = rest
        .place_stop_order(SYMBOL, &stop_loss("0.1", "19000", "18900", "e-2-1"))
        .expect_err("refused");
    assert!(
        matches!(&e, RestError::OrderRejected { msg } if msg == "Stop loss limit orders are not supported for this symbol."),
        "{e}"
    );
    let oco_needs = Needs {
        oco: true,
        ..Needs::default()
    };
    assert!(matches!(
        filters.check_order_types(&oco_needs),
        Err(OrderTypeRefusal::OcoNotAllowed { .. })
    ));
    let e = rest.place_oco(SYMBOL, &oco("e-2-2")).expect_err("refused");
    assert!(
        matches!(&e, RestError::OrderRejected { msg } if msg.contains("OCO orders are not supported")),
        "{e}"
    );
    let trailing = Needs {
        trailing_stop: true,
        ..Needs::default()
    };
    assert!(matches!(
        filters.check_order_types(&trailing),
        Err(OrderTypeRefusal::TrailingStopNotAllowed { .. })
    ));
}

#[test]
fn a_price_off_the_tick_or_outside_the_band_is_refused_and_caught_first() {
    let sim = sim();
    let rest = client(&sim);
    let filters = rest.exchange_info(SYMBOL).expect("exchangeInfo");
    let reference = d("20000");
    // Off the 0.01 tick.
    let local = filters
        .check_limit_price(Side::Buy, d("19500.005"), reference)
        .expect_err("off the tick");
    assert!(matches!(local, PriceRefusal::OffTick { .. }), "{local}");
    let e = rest
        .place_limit_order(SYMBOL, Side::Buy, d("0.1"), d("19500.005"), "e-3-1")
        .expect_err("refused");
    assert!(
        matches!(&e, RestError::FilterFailure { msg } if msg.ends_with("PRICE_FILTER")),
        "{e}"
    );
    // Below 0.2 x the reference for a BUY.
    let local = filters
        .check_limit_price(Side::Buy, d("3999.99"), reference)
        .expect_err("below the band");
    assert!(
        local.to_string().contains("bidMultiplierDown 0.2"),
        "{local}"
    );
    let e = rest
        .place_limit_order(SYMBOL, Side::Buy, d("0.1"), d("3999.99"), "e-3-2")
        .expect_err("refused");
    assert!(
        matches!(&e, RestError::FilterFailure { msg } if msg.ends_with("PERCENT_PRICE_BY_SIDE")),
        "{e}"
    );
    // Rounded to the tick and inside the band, the same order goes through.
    let price = filters
        .round_price(d("19500.005"), aegis_exchange::Rounding::Down)
        .expect("rounds");
    filters
        .check_limit_price(Side::Buy, price, reference)
        .expect("passes");
    let qty = filters.limit_quantity(d("0.1"), price).expect("lot");
    let placed = rest
        .place_limit_order(SYMBOL, Side::Buy, qty, price, "e-3-3")
        .expect("placed");
    assert_eq!(placed.price, d("19500"));
    // A stop price off the tick: -1013 PRICE_FILTER too.
    let e = rest
        .place_stop_order(SYMBOL, &stop_loss("0.1", "19000.001", "18900", "e-3-4"))
        .expect_err("refused");
    assert!(matches!(e, RestError::FilterFailure { .. }), "{e}");
    assert!(filters.check_stop_price(d("19000.001")).is_err());
}

/// Answers the next request on `listener` with HTTP 200 and `body`.
fn answer_once(listener: std::net::TcpListener, body: &'static str) -> std::thread::JoinHandle<()> {
    use std::io::{Read, Write};
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"\r\n\r\n") && conn.read(&mut byte).is_ok_and(|n| n == 1) {
            seen.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let mut rest = vec![0u8; length];
        let _ = conn.read_exact(&mut rest);
        let _ = conn.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    })
}

#[test]
fn a_reply_not_in_binance_shape_is_a_malformed_error_naming_the_endpoint() {
    let cases: [(&str, &'static str); 3] = [
        ("/api/v3/orderList/oco", r#"{"orderListId":"one"}"#),
        ("/api/v3/openOrders", r#"{"not":"a list"}"#),
        ("/api/v3/order", r#"[1,2,3]"#),
    ];
    for (endpoint, body) in cases {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = answer_once(listener, body);
        let rest = BinanceRest::new(
            &url,
            Secret::new("k"),
            &Secret::new("s"),
            Duration::from_secs(10),
        )
        .expect("client builds");
        let e = match endpoint {
            "/api/v3/orderList/oco" => rest.place_oco(SYMBOL, &oco("m")).map(|_| ()),
            "/api/v3/openOrders" => rest.open_orders(SYMBOL).map(|_| ()),
            _ => rest
                .place_limit_order(SYMBOL, Side::Buy, d("1"), d("1"), "m")
                .map(|_| ()),
        }
        .expect_err("malformed");
        server.join().expect("server thread");
        match &e {
            RestError::Malformed { endpoint: at, .. } => assert_eq!(*at, endpoint),
            other => panic!("not Malformed: {other}"),
        }
        assert!(e.to_string().contains(endpoint), "{e}");
    }
}

#[test]
fn a_resting_exit_locks_its_base_so_a_second_sell_is_refused_until_it_is_cancelled() {
    let sim = sim();
    let rest = client(&sim);
    rest.place_oco(
        SYMBOL,
        &Oco {
            qty: d("1"),
            ..oco("e-4-1")
        },
    )
    .expect("placed");
    // The OCO holds the whole 1 BTC once (not once per leg).
    assert_eq!(sim.locked("BTC"), d("1"));
    let account = rest.account().expect("account");
    let btc = account.get("BTC").copied().unwrap_or_default();
    assert_eq!((btc.free, btc.locked), (d("0"), d("1")));
    // A strategy exit that does not cancel the exits first is refused.
    let e = rest
        .place_market_order(SYMBOL, Side::Sell, d("0.5"), "e-4-2")
        .expect_err("locked");
    assert!(matches!(e, RestError::InsufficientBalance { .. }), "{e}");
    rest.cancel_order_list(SYMBOL, "e-4-1-x").expect("cancels");
    assert_eq!(sim.locked("BTC"), d("0"));
    let sold = rest
        .place_market_order(SYMBOL, Side::Sell, d("0.5"), "e-4-2")
        .expect("sells");
    assert_eq!(sold.status, "FILLED");
    // A resting BUY locks quote: 0.1 at 19000 holds 1900 USDT.
    rest.place_limit_order(SYMBOL, Side::Buy, d("0.1"), d("19000"), "e-4-3")
        .expect("placed");
    assert_eq!(sim.locked("USDT"), d("1900"));
}
