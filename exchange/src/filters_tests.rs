//! Tests of [`super`]: parsing `exchangeInfo` and the market-order quantity check.

use super::*;

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
              {{"filterType":"TRAILING_DELTA","minTrailingAboveDelta":10,"maxTrailingAboveDelta":2000}},
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
