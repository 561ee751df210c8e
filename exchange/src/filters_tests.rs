//! Tests of [`super`]: parsing `exchangeInfo` and the market-order quantity check.

use super::*;
use crate::rest::{OrderType, Side};

/// A trimmed `exchangeInfo` body in Binance's shape (BTCUSDT-like values),
/// with an unknown filter type and another symbol around it.
fn info(lot: &str, extra: &str) -> String {
    format!(
        r#"{{"timezone":"UTC","serverTime":1700000000000,"rateLimits":[],"exchangeFilters":[],
        "symbols":[
          {{"symbol":"ETHBTC","status":"TRADING","baseAsset":"ETH","quoteAsset":"BTC","filters":[]}},
          {{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC","baseAssetPrecision":8,
            "quoteAsset":"USDT","quotePrecision":8,"orderTypes":["LIMIT","MARKET"],
            "filters":[
              {{"filterType":"PRICE_FILTER","minPrice":"0.01000000","maxPrice":"1000000.00000000","tickSize":"0.01000000"}},
              {lot},
              {{"filterType":"ICEBERG_PARTS","limit":10}},
              {{"filterType":"MARKET_LOT_SIZE","minQty":"0.00000000","maxQty":"120.00000000","stepSize":"0.00000000"}},
              {{"filterType":"TRAILING_DELTA","minTrailingAboveDelta":10,"maxTrailingAboveDelta":2000,"minTrailingBelowDelta":20,"maxTrailingBelowDelta":1500}},
              {{"filterType":"PERCENT_PRICE_BY_SIDE","bidMultiplierUp":"5","bidMultiplierDown":"0.2","askMultiplierUp":"5","askMultiplierDown":"0.2","avgPriceMins":5}},
              {{"filterType":"NOTIONAL","minNotional":"5.00000000","applyMinToMarket":true,"maxNotional":"9000000.00000000","applyMaxToMarket":false,"avgPriceMins":5}},
              {{"filterType":"SOMETHING_NEW","x":"y"}}
              {extra}
            ]}}
        ]}}"#
    )
}

const LOT: &str = r#"{"filterType":"LOT_SIZE","minQty":"0.00001000","maxQty":"9000.00000000","stepSize":"0.00001000"}"#;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("test decimal")
}

fn btcusdt() -> SymbolFilters {
    SymbolFilters::from_exchange_info(info(LOT, "").as_bytes(), "BTCUSDT").expect("parses")
}

#[test]
fn parses_the_filters_of_the_symbol_asked_for_exactly() {
    let f = btcusdt();
    assert_eq!(
        (f.base_asset.as_str(), f.quote_asset.as_str()),
        ("BTC", "USDT")
    );
    let lot = f.lot_size.expect("LOT_SIZE");
    assert_eq!(lot.min_qty, dec("0.00001"));
    assert_eq!(lot.max_qty, dec("9000"));
    assert_eq!(lot.step_size.to_string(), "0.00001");
    assert_eq!(f.market_lot_size.map(|l| l.max_qty), Some(dec("120")));
    let price = f.price.expect("PRICE_FILTER");
    assert_eq!(price.tick_size, dec("0.01"));
    assert_eq!(
        f.notional_min,
        Some(NotionalBound {
            value: dec("5"),
            applies_to_market: true
        })
    );
    assert_eq!(
        f.notional_max,
        Some(NotionalBound {
            value: dec("9000000"),
            applies_to_market: false
        })
    );
    assert_eq!(f.min_notional, None);
}

#[test]
fn rounds_down_to_the_step_never_up() {
    let f = btcusdt();
    let price = dec("43000");
    assert_eq!(
        f.market_quantity(dec("0.123456789"), price),
        Ok(dec("0.12345"))
    );
    assert_eq!(
        f.market_quantity(dec("0.00001999"), price),
        Err(FilterRefusal::BelowMinNotional {
            filter: "NOTIONAL",
            notional: dec("0.43"),
            quantity: dec("0.00001"),
            price,
            min: dec("5"),
        })
    );
    assert_eq!(f.market_quantity(dec("1"), price), Ok(dec("1")));
    assert_eq!(
        f.market_quantity(dec("1.5"), price).map(|q| q.to_string()),
        Ok("1.5".into())
    );
}

#[test]
fn a_step_of_one_keeps_whole_units() {
    let lot = r#"{"filterType":"LOT_SIZE","minQty":"1.00000000","maxQty":"100.00000000","stepSize":"1.00000000"}"#;
    let f = SymbolFilters::from_exchange_info(info(lot, "").as_bytes(), "BTCUSDT").expect("parses");
    assert_eq!(f.market_quantity(dec("7.999"), dec("10")), Ok(dec("7")));
    assert_eq!(f.market_quantity(dec("3"), dec("10")), Ok(dec("3")));
    let err = f
        .market_quantity(dec("0.9"), dec("10"))
        .expect_err("below minQty");
    assert_eq!(err.to_string(), "quantity 0.9 is below LOT_SIZE minQty 1");
}

#[test]
fn each_refusal_names_the_filter_and_the_numbers() {
    let f = btcusdt();
    let price = dec("43000");
    let cases = [
        (
            dec("0.000004"),
            price,
            "quantity 0.000004 is below LOT_SIZE minQty 0.00001",
        ),
        (
            dec("9000.5"),
            price,
            "quantity 9000.5 is above LOT_SIZE maxQty 9000",
        ),
        (
            dec("121"),
            price,
            "quantity 121 is above MARKET_LOT_SIZE maxQty 120",
        ),
        (
            dec("0.0001"),
            price,
            "notional 4.3 (quantity 0.0001 at price 43000) is below NOTIONAL minNotional 5",
        ),
        (dec("0"), price, "quantity 0 is not positive"),
        (dec("-1"), price, "quantity -1 is not positive"),
        (dec("1"), dec("0"), "reference price 0 is not positive"),
    ];
    for (quantity, price, expected) in cases {
        let err = f.market_quantity(quantity, price).expect_err(expected);
        assert_eq!(err.to_string(), expected);
    }
}

#[test]
fn notional_filters_apply_to_market_orders_only_when_flagged() {
    let min = r#",{"filterType":"MIN_NOTIONAL","minNotional":"10.00000000","applyToMarket":false,"avgPriceMins":5}"#;
    let f =
        SymbolFilters::from_exchange_info(info(LOT, min).as_bytes(), "BTCUSDT").expect("parses");
    // 0.0002 * 43000 = 8.6: above NOTIONAL's 5, below MIN_NOTIONAL's 10 (not for MARKET).
    assert_eq!(
        f.market_quantity(dec("0.0002"), dec("43000")),
        Ok(dec("0.0002"))
    );
    let applied = min.replace("false", "true");
    let f = SymbolFilters::from_exchange_info(info(LOT, &applied).as_bytes(), "BTCUSDT")
        .expect("parses");
    let err = f
        .market_quantity(dec("0.0002"), dec("43000"))
        .expect_err("below 10");
    assert!(
        err.to_string().contains("MIN_NOTIONAL minNotional 10"),
        "{err}"
    );
    // NOTIONAL.maxNotional applies when applyMaxToMarket is true.
    let mut f = btcusdt();
    f.notional_max = Some(NotionalBound {
        value: dec("1000"),
        applies_to_market: true,
    });
    let err = f
        .market_quantity(dec("1"), dec("43000"))
        .expect_err("above 1000");
    assert_eq!(
        err.to_string(),
        "notional 43000 (quantity 1 at price 43000) is above NOTIONAL maxNotional 1000"
    );
}

#[test]
fn incompatible_lot_steps_end_on_a_multiple_of_both() {
    let mut f = btcusdt();
    f.notional_min = None;
    f.lot_size = Some(LotSize {
        min_qty: dec("0"),
        max_qty: dec("0"),
        step_size: dec("0.002"),
    });
    f.market_lot_size = Some(LotSize {
        min_qty: dec("0"),
        max_qty: dec("0"),
        step_size: dec("0.003"),
    });
    assert_eq!(f.market_quantity(dec("0.0119"), dec("1")), Ok(dec("0.006")));
    let err = f
        .market_quantity(dec("0.0025"), dec("1"))
        .expect_err("nothing left");
    assert!(matches!(err, FilterRefusal::RoundsToZero { .. }), "{err}");
}

#[test]
fn price_filter_rounds_down_to_the_tick() {
    let p = btcusdt().price.expect("PRICE_FILTER");
    assert_eq!(p.round_down(dec("43000.129")), Some(dec("43000.12")));
    assert_eq!(p.round_down(dec("0.001")), None);
    assert_eq!(p.round_down(dec("2000000")), None);
}

#[test]
fn malformed_documents_are_refused_naming_the_field() {
    let bad_step = LOT.replace("\"0.00001000\"}", "\"0.0000x\"}");
    let cases = [
        (
            info(&bad_step, ""),
            "symbols[BTCUSDT].LOT_SIZE: field \"stepSize\" = \"0.0000x\"",
        ),
        (
            info(&LOT.replace("\"maxQty\"", "\"maxQ\""), ""),
            "LOT_SIZE: field \"maxQty\" is missing",
        ),
        (
            info(
                &LOT.replace("\"0.00001000\",\"maxQty\"", "0.00001,\"maxQty\""),
                "",
            ),
            "field \"minQty\" is missing or not a decimal string",
        ),
        (
            info(
                &LOT.replace("\"0.00001000\",\"maxQty\"", "\"-1\",\"maxQty\""),
                "",
            ),
            "\"minQty\" = \"-1\" is not a non-negative decimal",
        ),
        (
            info(
                LOT,
                r#",{"filterType":"NOTIONAL","minNotional":"5","maxNotional":"9"}"#,
            ),
            "NOTIONAL: field \"applyMinToMarket\" is missing or not a boolean",
        ),
        (
            info(LOT, r#",{"minQty":"1"}"#),
            "symbols[BTCUSDT].filters: field \"filterType\"",
        ),
        (
            info(LOT, ",7"),
            "field \"filters\" is missing or not an array of objects",
        ),
        (
            info(LOT, "").replace("\"baseAsset\":\"BTC\",", ""),
            "symbols[BTCUSDT]: field \"baseAsset\"",
        ),
        (
            r#"{"symbols":{}}"#.to_owned(),
            "field \"symbols\" is missing or not an array",
        ),
        (
            "{\"symbols\":[".to_owned(),
            "exchangeInfo is not valid JSON",
        ),
    ];
    for (body, expected) in cases {
        let err = SymbolFilters::from_exchange_info(body.as_bytes(), "BTCUSDT")
            .expect_err(expected)
            .to_string();
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
    }
    let err = SymbolFilters::from_exchange_info(info(LOT, "").as_bytes(), "DOGEUSDT")
        .expect_err("absent");
    assert_eq!(err, ExchangeInfoError::NoSymbol("DOGEUSDT".into()));
}

/// `btcusdt()`'s entry with the symbol-level fields set to `fields` (JSON
/// members, each followed by a comma).
fn with_symbol_fields(fields: &str) -> Result<SymbolFilters, ExchangeInfoError> {
    let body = info(LOT, "").replace(r#""orderTypes":["LIMIT","MARKET"],"#, fields);
    SymbolFilters::from_exchange_info(body.as_bytes(), "BTCUSDT")
}

#[test]
fn parses_order_types_list_permissions_and_percent_price_by_side() {
    let f = with_symbol_fields(
        r#""orderTypes":["LIMIT","LIMIT_MAKER","MARKET","STOP_LOSS_LIMIT","TAKE_PROFIT_LIMIT"],
           "ocoAllowed":true,"otoAllowed":false,"allowTrailingStop":true,"#,
    )
    .expect("parses");
    assert_eq!(f.order_types.len(), 5);
    assert!(f.allows(OrderType::StopLossLimit) && !f.allows(OrderType::StopLoss));
    assert!(f.oco_allowed && !f.oto_allowed && f.allow_trailing_stop);
    assert_eq!(
        f.percent_price_by_side,
        Some(PercentPriceBySide {
            bid_multiplier_up: dec("5"),
            bid_multiplier_down: dec("0.2"),
            ask_multiplier_up: dec("5"),
            ask_multiplier_down: dec("0.2"),
            avg_price_mins: 5,
        })
    );
    // Absent: nothing listed, nothing allowed (an older document).
    let bare = with_symbol_fields("").expect("parses");
    assert!(bare.order_types.is_empty() && !bare.oco_allowed && !bare.allow_trailing_stop);
}

#[test]
fn a_malformed_permission_or_band_is_an_error_naming_the_field() {
    for (fields, field) in [
        (r#""orderTypes":"LIMIT","#, "orderTypes"),
        (r#""orderTypes":["LIMIT",7],"#, "orderTypes"),
        (r#""ocoAllowed":"yes","#, "ocoAllowed"),
        (r#""allowTrailingStop":1,"#, "allowTrailingStop"),
    ] {
        let e = with_symbol_fields(fields).expect_err(fields);
        assert!(e.to_string().contains(field), "{e}");
    }
    let body = info(LOT, "").replace(r#""bidMultiplierUp":"5""#, r#""bidMultiplierUp":"-5""#);
    let e = SymbolFilters::from_exchange_info(body.as_bytes(), "BTCUSDT").expect_err("negative");
    assert!(
        e.to_string().contains("PERCENT_PRICE_BY_SIDE")
            && e.to_string().contains("bidMultiplierUp"),
        "{e}"
    );
    let body = info(LOT, "").replace(r#""avgPriceMins":5}"#, r#""avgPriceMins":"5"}"#);
    let e = SymbolFilters::from_exchange_info(body.as_bytes(), "BTCUSDT").expect_err("a string");
    assert!(e.to_string().contains("avgPriceMins"), "{e}");
}

#[test]
fn check_order_types_names_what_is_missing_and_what_is_listed() {
    let f = btcusdt();
    let needs = Needs {
        order_types: vec![OrderType::Limit, OrderType::StopLossLimit],
        ..Needs::default()
    };
    let e = f.check_order_types(&needs).expect_err("no stops");
    assert_eq!(
        e.to_string(),
        "BTCUSDT does not allow STOP_LOSS_LIMIT orders (exchangeInfo orderTypes: LIMIT, MARKET)"
    );
    let oco = Needs {
        order_types: vec![OrderType::Limit],
        oco: true,
        ..Needs::default()
    };
    assert!(matches!(
        f.check_order_types(&oco),
        Err(OrderTypeRefusal::OcoNotAllowed { .. })
    ));
    let mut ok = with_symbol_fields(
        r#""orderTypes":["LIMIT","LIMIT_MAKER","STOP_LOSS_LIMIT"],"ocoAllowed":true,"#,
    )
    .expect("parses");
    let all = Needs {
        order_types: vec![OrderType::LimitMaker, OrderType::StopLossLimit],
        oco: true,
        trailing_stop: true,
    };
    assert!(matches!(
        ok.check_order_types(&all),
        Err(OrderTypeRefusal::TrailingStopNotAllowed { .. })
    ));
    ok.allow_trailing_stop = true;
    assert_eq!(ok.check_order_types(&all), Ok(()));
}

#[test]
fn prices_round_to_the_tick_in_the_direction_asked() {
    let f = btcusdt();
    assert_eq!(
        f.round_price(dec("43000.129"), Rounding::Down),
        Ok(dec("43000.12"))
    );
    assert_eq!(
        f.round_price(dec("43000.121"), Rounding::Up),
        Ok(dec("43000.13"))
    );
    // On the tick: unchanged either way.
    assert_eq!(
        f.round_price(dec("43000.12"), Rounding::Up),
        Ok(dec("43000.12"))
    );
    assert_eq!(
        f.round_price(dec("43000.12"), Rounding::Down),
        Ok(dec("43000.12"))
    );
    // Rounding down below minPrice, or up above maxPrice: refused, named.
    let e = f
        .round_price(dec("0.009"), Rounding::Down)
        .expect_err("below min");
    assert_eq!(e.to_string(), "price 0 is below PRICE_FILTER minPrice 0.01");
    let e = f
        .round_price(dec("0.011"), Rounding::Up)
        .map(|p| p.to_string());
    assert_eq!(e, Ok("0.02".into()));
    let e = f
        .round_price(dec("1000000.001"), Rounding::Up)
        .expect_err("above max");
    assert_eq!(
        e,
        PriceRefusal::AboveMaxPrice {
            field: "price",
            price: dec("1000000.01"),
            max: dec("1000000"),
        }
    );
    assert!(
        e.to_string().contains("PRICE_FILTER maxPrice 1000000"),
        "{e}"
    );
    assert!(f.round_price(dec("-1"), Rounding::Down).is_err());
}

#[test]
fn a_limit_price_is_checked_against_the_tick_and_the_band_by_side() {
    let f = btcusdt();
    let reference = dec("40000");
    assert_eq!(
        f.check_limit_price(Side::Buy, dec("39000.01"), reference),
        Ok(())
    );
    let e = f
        .check_limit_price(Side::Buy, dec("39000.015"), reference)
        .expect_err("off the tick");
    assert_eq!(
        e.to_string(),
        "price 39000.015 is not a multiple of PRICE_FILTER tickSize 0.01"
    );
    // BUY: at most 5 x, at least 0.2 x the reference.
    assert_eq!(
        f.check_limit_price(Side::Buy, dec("200000"), reference),
        Ok(())
    );
    let e = f
        .check_limit_price(Side::Buy, dec("200000.01"), reference)
        .expect_err("above the band");
    assert_eq!(
        e.to_string(),
        "BUY price 200000.01 is above PERCENT_PRICE_BY_SIDE bidMultiplierUp 5 x reference price 40000 = 200000"
    );
    let e = f
        .check_limit_price(Side::Sell, dec("7999.99"), reference)
        .expect_err("below the band");
    assert!(
        matches!(
            &e,
            PriceRefusal::OutsidePercentBand {
                above: false,
                multiplier_name: "askMultiplierDown",
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(
        f.check_limit_price(Side::Sell, dec("8000"), dec("0")),
        Err(PriceRefusal::NonPositiveReference(_))
    ));
    // A stop price: PRICE_FILTER only, named as stopPrice.
    assert_eq!(f.check_stop_price(dec("1.01")), Ok(()));
    let e = f.check_stop_price(dec("1.001")).expect_err("off the tick");
    assert!(e.to_string().starts_with("stopPrice 1.001"), "{e}");
}

#[test]
fn a_limit_quantity_meets_the_notional_at_its_own_price_whatever_apply_to_market_says() {
    // MIN_NOTIONAL 10 not applied to market orders: a MARKET order of 5 USDT
    // passes, a LIMIT of 5 USDT does not.
    let min = r#",{"filterType":"MIN_NOTIONAL","minNotional":"10","applyToMarket":false,"avgPriceMins":5}"#;
    let f =
        SymbolFilters::from_exchange_info(info(LOT, min).as_bytes(), "BTCUSDT").expect("parses");
    assert_eq!(
        f.market_quantity(dec("0.0002"), dec("30000")),
        Ok(dec("0.0002"))
    );
    assert_eq!(
        f.limit_quantity(dec("0.0002"), dec("30000")),
        Err(FilterRefusal::BelowMinNotional {
            filter: "MIN_NOTIONAL",
            notional: dec("6"),
            quantity: dec("0.0002"),
            price: dec("30000"),
            min: dec("10"),
        })
    );
    assert_eq!(
        f.limit_quantity(dec("0.000409"), dec("30000")),
        Ok(dec("0.0004"))
    );
    // NOTIONAL's maxNotional (not applied to market here) binds a LIMIT.
    assert!(matches!(
        f.limit_quantity(dec("400"), dec("30000")),
        Err(FilterRefusal::AboveMaxNotional { .. })
    ));
    assert!(matches!(
        f.limit_quantity(dec("1"), dec("0")),
        Err(FilterRefusal::NonPositivePrice(_))
    ));
    assert!(matches!(
        f.limit_quantity(dec("0"), dec("1")),
        Err(FilterRefusal::NonPositiveQuantity(_))
    ));
}

#[test]
fn a_trailing_delta_is_checked_against_the_range_of_its_kind_of_stop() {
    let f = btcusdt();
    assert_eq!(
        f.trailing_delta,
        Some(TrailingDelta {
            min_above: 10,
            max_above: 2000,
            min_below: 20,
            max_below: 1500,
        })
    );
    // A SELL stop-loss triggers below: 20 ..= 1500.
    let sell_stop = |delta| f.check_trailing_delta(OrderType::StopLossLimit, Side::Sell, delta);
    assert_eq!(sell_stop(20), Ok(()));
    assert_eq!(sell_stop(1500), Ok(()));
    let e = sell_stop(1600).expect_err("too wide");
    assert_eq!(
        e.to_string(),
        "trailingDelta 1600 of a SELL STOP_LOSS_LIMIT is outside TRAILING_DELTA minTrailingBelowDelta 20 ..= maxTrailingBelowDelta 1500"
    );
    // A SELL take-profit and a BUY stop-loss trigger above: 10 ..= 2000.
    assert_eq!(
        f.check_trailing_delta(OrderType::TakeProfitLimit, Side::Sell, 1600),
        Ok(())
    );
    assert!(f
        .check_trailing_delta(OrderType::StopLossLimit, Side::Buy, 5)
        .is_err());
    assert!(matches!(
        f.check_trailing_delta(OrderType::Limit, Side::Sell, 100),
        Err(TrailingDeltaRefusal::NotAStop { .. })
    ));
    // Without the filter any positive delta passes, 0 never does.
    let bare = SymbolFilters {
        trailing_delta: None,
        ..f.clone()
    };
    assert_eq!(
        bare.check_trailing_delta(OrderType::StopLossLimit, Side::Sell, 9999),
        Ok(())
    );
    assert!(bare
        .check_trailing_delta(OrderType::StopLossLimit, Side::Sell, 0)
        .is_err());
    // A filter with a bound missing or not a number: an error naming it.
    let body = info(LOT, "").replace(r#","maxTrailingBelowDelta":1500"#, "");
    let e = SymbolFilters::from_exchange_info(body.as_bytes(), "BTCUSDT").expect_err("missing");
    assert!(e.to_string().contains("maxTrailingBelowDelta"), "{e}");
}
