//! The Binance Spot simulator checked on its own, over raw HTTP/1.1: the
//! documented example signature verifies, a wrong secret is -1022, a stale
//! or early timestamp -1021, filters -1013, balance -2010, unknown orders
//! -2013/-2011, and every injected fault answers as Binance would; resting
//! orders' listing, refusals and request weights as Binance documents them
//! (their fills on the price path: `exchange/tests/resting_orders.rs`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aegis_tests::exchange::{hmac_hex, ExchangeSim, Fault, SimCandle, SimConfig};
use rust_decimal::Decimal;
use serde_json::Value;

/// Binance's "SIGNED Endpoint Examples for POST /api/v3/order".
const DOC_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const DOC_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const DOC_QUERY: &str = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
const DOC_SIGNATURE: &str = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";

struct Reply {
    status: u16,
    headers: String,
    body: Value,
}

impl Reply {
    fn code(&self) -> i64 {
        self.body["code"].as_i64().unwrap_or(0)
    }

    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// One request with `Connection: close`; the body read to the end.
fn request(sim: &ExchangeSim, method: &str, target: &str, key: Option<&str>, body: &str) -> Reply {
    let mut stream = TcpStream::connect(sim.addr()).expect("connect to the simulator");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("set timeout");
    let key = key.map_or(String::new(), |k| format!("X-MBX-APIKEY: {k}\r\n"));
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n{key}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read reply");
    let (headers, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    Reply {
        status,
        headers: headers.to_owned(),
        body,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn candles(close: i64) -> Vec<SimCandle> {
    let last = now_ms() - now_ms().rem_euclid(60_000);
    (0..3)
        .rev()
        .map(|back| SimCandle {
            open_time_ms: last - back * 60_000,
            open: Decimal::from(close),
            high: Decimal::from(close),
            low: Decimal::from(close),
            close: Decimal::from(close),
            volume: Decimal::ONE,
        })
        .collect()
}

fn sim() -> ExchangeSim {
    ExchangeSim::start(SimConfig {
        candles: candles(20_000),
        ..SimConfig::default()
    })
    .expect("simulator starts")
}

/// A signed query with the default credentials at `timestamp`.
fn signed(params: &str, timestamp: i64, secret: &str) -> String {
    let payload = format!("{params}&recvWindow=5000&timestamp={timestamp}");
    format!("{payload}&signature={}", hmac_hex(secret, &payload))
}

fn order(sim: &ExchangeSim, params: &str) -> Reply {
    let body = signed(params, now_ms(), "sim-api-secret");
    request(sim, "POST", "/api/v3/order", Some("sim-api-key"), &body)
}

#[test]
fn binance_documented_signature_verifies() {
    assert_eq!(hmac_hex(DOC_SECRET, DOC_QUERY), DOC_SIGNATURE);
    let sim = ExchangeSim::start(SimConfig {
        api_key: DOC_KEY.into(),
        api_secret: DOC_SECRET.into(),
        clock_skew_ms: 1_499_827_319_559 - now_ms(),
        ..SimConfig::default()
    })
    .expect("simulator starts");
    // The documented body passes key, signature and timing: the simulator
    // then refuses LTCBTC as a symbol it does not list (-1121), nothing else.
    let body = format!("{DOC_QUERY}&signature={DOC_SIGNATURE}");
    let reply = request(&sim, "POST", "/api/v3/order", Some(DOC_KEY), &body);
    assert_eq!(reply.code(), -1121, "{:?}", reply.body);
    // Split between query string and body, totalParams is the same.
    let (query, rest) = DOC_QUERY.split_at(DOC_QUERY.find("&quantity").unwrap_or(0));
    let target = format!("/api/v3/order?{query}");
    let reply = request(
        &sim,
        "POST",
        &target,
        Some(DOC_KEY),
        &format!("{rest}&signature={DOC_SIGNATURE}"),
    );
    assert_eq!(reply.code(), -1121, "{:?}", reply.body);
}

#[test]
fn wrong_secret_key_and_timestamps_are_refused_as_documented() {
    let sim = sim();
    let account = |query: &str, key: Option<&str>| {
        request(&sim, "GET", &format!("/api/v3/account?{query}"), key, "")
    };
    let ok = account(
        &signed("omitZeroBalances=false", now_ms(), "sim-api-secret"),
        Some("sim-api-key"),
    );
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert_eq!(ok.body["balances"][1]["asset"], "USDT");
    assert_eq!(ok.body["balances"][1]["free"], "10000");

    let bad = account(
        &signed("x=1", now_ms(), "not-the-secret"),
        Some("sim-api-key"),
    );
    assert_eq!((bad.status, bad.code()), (400, -1022), "{:?}", bad.body);
    let unknown = account(
        &signed("x=1", now_ms(), "sim-api-secret"),
        Some("other-key"),
    );
    assert_eq!((unknown.status, unknown.code()), (401, -2015));
    let missing = account(&signed("x=1", now_ms(), "sim-api-secret"), None);
    assert_eq!(missing.code(), -2014);

    // Timing: timestamp < serverTime + 1000 and serverTime - timestamp <= recvWindow.
    let stale = account(
        &signed("x=1", now_ms() - 6000, "sim-api-secret"),
        Some("sim-api-key"),
    );
    assert_eq!(
        (stale.status, stale.code()),
        (400, -1021),
        "{:?}",
        stale.body
    );
    let early = account(
        &signed("x=1", now_ms() + 1500, "sim-api-secret"),
        Some("sim-api-key"),
    );
    assert_eq!(early.code(), -1021);
    let within = account(
        &signed("x=1", now_ms() - 3000, "sim-api-secret"),
        Some("sim-api-key"),
    );
    assert_eq!(within.status, 200, "{:?}", within.body);
    // A tampered query no longer matches its signature.
    let tampered = signed("x=1", now_ms(), "sim-api-secret").replace("x=1", "x=2");
    assert_eq!(account(&tampered, Some("sim-api-key")).code(), -1022);
}

#[test]
fn market_orders_fill_at_the_close_and_filters_and_balances_hold() {
    let sim = sim();
    let filled = order(
        &sim,
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=t-1",
    );
    assert_eq!(filled.status, 200, "{:?}", filled.body);
    assert_eq!(filled.body["status"], "FILLED");
    assert_eq!(filled.body["cummulativeQuoteQty"], "200.00");
    // The 0.1 % commission is paid in the asset received: a buy's in base.
    assert_eq!(filled.body["fills"][0]["commission"], "0.00001");
    assert_eq!(filled.body["fills"][0]["commissionAsset"], "BTC");
    assert_eq!(sim.balance("BTC"), Decimal::new(999, 5));
    assert_eq!(sim.balance("USDT"), Decimal::from(9800));

    let lot = order(
        &sim,
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.000015",
    );
    assert_eq!(
        (lot.code(), lot.body["msg"].as_str()),
        (-1013, Some("Filter failure: LOT_SIZE"))
    );
    let notional = order(&sim, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.0002");
    assert_eq!(notional.body["msg"], "Filter failure: NOTIONAL");
    let poor = order(&sim, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1");
    assert_eq!(poor.code(), -2010, "{:?}", poor.body);
    let oversell = order(&sim, "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.02");
    assert_eq!(oversell.code(), -2010);
    let bad_id = order(
        &sim,
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=a%20b",
    );
    assert_eq!(bad_id.code(), -1100);
    assert_eq!(sim.orders().len(), 1, "refused orders are not placed");

    // Open (LIMIT) orders: a duplicate client id is refused, cancel works once.
    let open = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=19000&newClientOrderId=open-1";
    assert_eq!(order(&sim, open).body["status"], "NEW");
    assert_eq!(order(&sim, open).body["msg"], "Duplicate order sent.");
    // One order by client id: DELETE cancels it, GET queries it.
    let by_id = |method: &str, id: &str| {
        let q = signed(
            &format!("symbol=BTCUSDT&origClientOrderId={id}"),
            now_ms(),
            "sim-api-secret",
        );
        request(
            &sim,
            method,
            &format!("/api/v3/order?{q}"),
            Some("sim-api-key"),
            "",
        )
    };
    let cancel = |id: &str| by_id("DELETE", id);
    let query = |id: &str| by_id("GET", id);
    assert_eq!(cancel("open-1").body["status"], "CANCELED");
    assert_eq!(cancel("open-1").code(), -2011);
    assert_eq!(cancel("never").code(), -2011);

    assert_eq!(query("t-1").body["executedQty"], "0.01");
    assert_eq!(query("never").code(), -2013);
}

#[test]
fn klines_page_by_time_and_limit() {
    let sim = sim();
    let all = request(
        &sim,
        "GET",
        "/api/v3/klines?symbol=BTCUSDT&interval=1m",
        None,
        "",
    );
    let rows = all.body.as_array().expect("rows");
    assert_eq!(rows.len(), 3);
    let first = rows[0][0].as_i64().expect("open time");
    assert_eq!(rows[0][6].as_i64(), Some(first + 59_999));
    assert_eq!(rows[0][4], "20000");
    let page = request(
        &sim,
        "GET",
        &format!(
            "/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={}&limit=1",
            first + 1
        ),
        None,
        "",
    );
    assert_eq!(page.body[0][0].as_i64(), Some(first + 60_000));
    assert_eq!(page.body.as_array().map(Vec::len), Some(1));
    let recent = request(
        &sim,
        "GET",
        "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1",
        None,
        "",
    );
    assert_eq!(
        recent.body[0][0].as_i64(),
        Some(first + 120_000),
        "most recent without startTime"
    );
    let wrong = request(
        &sim,
        "GET",
        "/api/v3/klines?symbol=BTCUSDT&interval=5m",
        None,
        "",
    );
    assert_eq!(wrong.code(), -1120);
    let info = request(&sim, "GET", "/api/v3/exchangeInfo?symbol=ETHBTC", None, "");
    assert_eq!(info.code(), -1121);
}

#[test]
fn klines_pages_step_over_a_gap_within_end_time_and_a_fault_waits_its_turn() {
    // Ten candles from t0 with the fourth to sixth missing (maintenance).
    let t0 = 1_704_067_200_000i64;
    let series: Vec<SimCandle> = (0..10)
        .filter(|i| !(3..6).contains(i))
        .map(|i| SimCandle {
            open_time_ms: t0 + i * 60_000,
            open: Decimal::from(100 + i),
            high: Decimal::from(100 + i),
            low: Decimal::from(100 + i),
            close: Decimal::from(100 + i),
            volume: Decimal::ONE,
        })
        .collect();
    let sim = ExchangeSim::start(SimConfig {
        candles: series,
        ..SimConfig::default()
    })
    .expect("simulator starts");
    let opens = |query: &str| -> Vec<i64> {
        let reply = request(
            &sim,
            "GET",
            &format!("/api/v3/klines?symbol=BTCUSDT&interval=1m&{query}"),
            None,
            "",
        );
        assert_eq!(reply.status, 200, "{query}: {:?}", reply.body);
        assert!(
            reply.header("X-MBX-USED-WEIGHT-1M").is_some(),
            "the weight header"
        );
        reply
            .body
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| (r[0].as_i64().expect("open") - t0) / 60_000)
            .collect()
    };
    // From inside the gap: the next candles there are, none invented.
    assert_eq!(
        opens(&format!("startTime={}&limit=3", t0 + 3 * 60_000)),
        [6, 7, 8]
    );
    // endTime bounds the open time, inclusive.
    assert_eq!(
        opens(&format!("startTime={t0}&endTime={}", t0 + 6 * 60_000)),
        [0, 1, 2, 6]
    );
    assert_eq!(
        opens(&format!(
            "startTime={}&endTime={}",
            t0 + 60_000,
            t0 + 60_000
        )),
        [1]
    );

    // A fault after two requests to the path have passed.
    sim.inject_at_after(
        "/api/v3/klines",
        2,
        Fault::RateLimited { retry_after_s: 4 },
        1,
    );
    assert_eq!(opens("limit=1"), [9]);
    let time = request(&sim, "GET", "/api/v3/time", None, "");
    assert_eq!(time.status, 200, "another path does not count");
    assert_eq!(opens("limit=1"), [9]);
    let limited = request(
        &sim,
        "GET",
        "/api/v3/klines?symbol=BTCUSDT&interval=1m",
        None,
        "",
    );
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("Retry-After").as_deref(), Some("4"));
    assert_eq!(opens("limit=1"), [9], "used up");
}

#[test]
fn injected_faults_answer_like_binance_then_stop() {
    let sim = sim();
    let time = || request(&sim, "GET", "/api/v3/time", None, "");
    let first = time();
    let weight = |r: &Reply| -> u64 {
        r.header("x-mbx-used-weight-1m")
            .and_then(|w| w.parse().ok())
            .expect("X-MBX-USED-WEIGHT-1M on every reply")
    };
    let before = weight(&first);
    assert!(before >= 1);
    sim.inject(Fault::RateLimited { retry_after_s: 7 }, 2);
    sim.inject(Fault::Banned { retry_after_s: 120 }, 1);
    sim.inject(Fault::TimestampOutside, 1);
    for _ in 0..2 {
        let r = time();
        assert_eq!((r.status, r.code()), (429, -1003));
        assert_eq!(r.header("retry-after").as_deref(), Some("7"));
    }
    let banned = time();
    assert_eq!(banned.status, 418);
    assert_eq!(banned.header("retry-after").as_deref(), Some("120"));
    // -1021 waits for a SIGNED request: public ones pass it by.
    assert_eq!(time().status, 200);
    let q = signed("x=1", now_ms(), "sim-api-secret");
    let stale = request(
        &sim,
        "GET",
        &format!("/api/v3/account?{q}"),
        Some("sim-api-key"),
        "",
    );
    assert_eq!(stale.code(), -1021);
    let after = time();
    assert_eq!(after.status, 200);
    assert!(after.body["serverTime"].as_i64().is_some());
    // Five more requests of weight 1 and the account's 20, unless a new
    // minute began meanwhile.
    let used = weight(&after);
    assert!(
        used == before + 25 || used <= 25,
        "weight {before} then {used}"
    );

    // 5XX: execution status unknown, yet the order is placed.
    sim.inject(Fault::ServerError, 1);
    let unknown = order(
        &sim,
        "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01&newClientOrderId=u-1",
    );
    assert_eq!((unknown.status, unknown.code()), (503, -1007));
    assert_eq!(sim.orders().len(), 1);
    assert_eq!(sim.orders()[0].client_order_id, "u-1");

    sim.inject(Fault::Delay(Duration::from_millis(300)), 1);
    let started = Instant::now();
    assert_eq!(time().status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the delay was not applied"
    );
}

#[test]
fn clock_skew_moves_server_time() {
    let sim = sim();
    sim.set_clock_skew_ms(6000);
    let server = request(&sim, "GET", "/api/v3/time", None, "").body["serverTime"]
        .as_i64()
        .expect("serverTime");
    assert!(
        (server - now_ms() - 6000).abs() < 2000,
        "skew not applied: {server}"
    );
    // A request stamped with the local clock is now 6 s stale (> recvWindow 5000).
    let q = signed("x=1", now_ms(), "sim-api-secret");
    let r = request(
        &sim,
        "GET",
        &format!("/api/v3/account?{q}"),
        Some("sim-api-key"),
        "",
    );
    assert_eq!(r.code(), -1021);
}

#[test]
fn my_trades_list_each_fill_with_its_commission() {
    let sim = sim();
    let trades = |params: &str| {
        let q = signed(params, now_ms(), "sim-api-secret");
        request(
            &sim,
            "GET",
            &format!("/api/v3/myTrades?{q}"),
            Some("sim-api-key"),
            "",
        )
    };
    assert_eq!(trades("symbol=BTCUSDT").body, Value::Array(Vec::new()));
    let buy = order(&sim, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.5");
    let sell = order(&sim, "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.4");
    assert_eq!(sell.body["status"], "FILLED", "{:?}", sell.body);
    // A sell pays in quote: 0.4 * 20000 * 0.001.
    assert_eq!(sim.balance("BTC"), Decimal::new(995, 4));
    // 10000 - 10000 spent + 8000 received - 8 commission.
    assert_eq!(sim.balance("USDT"), Decimal::from(7_992));

    let all = trades("symbol=BTCUSDT");
    let rows = all.body.as_array().expect("a list of trades");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["orderId"], buy.body["orderId"]);
    assert_eq!(rows[0]["isBuyer"], true);
    assert_eq!(
        (
            &rows[0]["qty"],
            &rows[0]["commission"],
            &rows[0]["commissionAsset"]
        ),
        (
            &Value::from("0.5"),
            &Value::from("0.0005"),
            &Value::from("BTC")
        )
    );
    assert_eq!(
        (
            &rows[1]["quoteQty"],
            &rows[1]["commission"],
            &rows[1]["commissionAsset"]
        ),
        (
            &Value::from("8000.0"),
            &Value::from("8.0000"),
            &Value::from("USDT")
        )
    );

    let sell_id = sell.body["orderId"].as_u64().expect("an order id");
    let one = trades(&format!("symbol=BTCUSDT&orderId={sell_id}"));
    assert_eq!(one.body.as_array().map(Vec::len), Some(1));
    assert_eq!(one.body[0]["orderId"], sell.body["orderId"]);
    let weight = |r: &Reply| {
        r.header("X-MBX-USED-WEIGHT-1M")
            .and_then(|w| w.parse::<u64>().ok())
            .expect("a used-weight header")
    };
    // Weight 20, or 5 by orderId (unless the minute turned in between).
    if weight(&one) > weight(&all) {
        assert_eq!(weight(&one) - weight(&all), 5);
    }
    assert_eq!(trades("symbol=BTCUSDT&limit=1").body[0]["orderId"], sell_id);
    assert_eq!(trades("symbol=BTCUSDT&limit=1001").code(), -1102);
    assert_eq!(trades("symbol=ETHBTC").code(), -1121);
    assert_eq!(trades("orderId=1").code(), -1102);
    assert_eq!(trades("symbol=BTCUSDT&orderId=x").code(), -1100);

    // A fault for one path only: other requests pass it by.
    sim.inject_at(
        "/api/v3/myTrades",
        Fault::RateLimited { retry_after_s: 3 },
        1,
    );
    let time = request(&sim, "GET", "/api/v3/time", None, "");
    assert_eq!(time.status, 200, "{:?}", time.body);
    let limited = trades("symbol=BTCUSDT");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("Retry-After").as_deref(), Some("3"));
    assert_eq!(trades("symbol=BTCUSDT").status, 200, "used up");
}

/// A signed request with the default credentials.
fn signed_request(sim: &ExchangeSim, method: &str, path: &str, params: &str) -> Reply {
    let q = signed(params, now_ms(), "sim-api-secret");
    if method == "POST" {
        request(sim, method, path, Some("sim-api-key"), &q)
    } else {
        request(sim, method, &format!("{path}?{q}"), Some("sim-api-key"), "")
    }
}

#[test]
fn exchange_info_lists_order_types_permissions_and_the_percent_price_band() {
    let sim = sim();
    let info = request(&sim, "GET", "/api/v3/exchangeInfo?symbol=BTCUSDT", None, "");
    let symbol = &info.body["symbols"][0];
    assert_eq!(
        symbol["orderTypes"],
        serde_json::json!([
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT_LIMIT"
        ])
    );
    assert_eq!(symbol["ocoAllowed"], true);
    assert_eq!(symbol["allowTrailingStop"], true);
    let band = symbol["filters"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["filterType"] == "PERCENT_PRICE_BY_SIDE")
        })
        .expect("PERCENT_PRICE_BY_SIDE");
    assert_eq!(band["bidMultiplierUp"], "5");
    assert_eq!(band["askMultiplierDown"], "0.2");
}

#[test]
fn resting_orders_are_refused_as_binance_refuses_them() {
    let sim = sim();
    sim.set_balance("BTC", Decimal::ONE);
    let place = |params: &str| signed_request(&sim, "POST", "/api/v3/order", params);
    // A LIMIT_MAKER that would take at once.
    let maker = place("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.01&price=20001");
    assert_eq!(
        (maker.code(), maker.body["msg"].as_str()),
        (-2010, Some("Order would immediately match and take."))
    );
    // A stop with neither stopPrice nor trailingDelta.
    let bare = place(
        "symbol=BTCUSDT&side=SELL&type=STOP_LOSS_LIMIT&timeInForce=GTC&quantity=0.01&price=19000",
    );
    assert_eq!(bare.code(), -1102, "{:?}", bare.body);
    // A trailingDelta out of range, an order type Binance does not have.
    let wild = place(
        "symbol=BTCUSDT&side=SELL&type=STOP_LOSS_LIMIT&timeInForce=GTC&quantity=0.01&price=19000&trailingDelta=0",
    );
    assert_eq!(wild.body["msg"], "Filter failure: TRAILING_DELTA");
    let odd = place("symbol=BTCUSDT&side=SELL&type=ICEBERG&quantity=0.01");
    assert_eq!(odd.code(), -1116);
    // An OCO whose prices are not take-profit > last > stop.
    let oco = signed_request(
        &sim,
        "POST",
        "/api/v3/orderList/oco",
        "symbol=BTCUSDT&side=SELL&quantity=0.01&aboveType=LIMIT_MAKER&abovePrice=21000\
         &belowType=STOP_LOSS_LIMIT&belowPrice=20400&belowStopPrice=20500&belowTimeInForce=GTC",
    );
    assert_eq!(
        oco.body["msg"],
        "The relationship of the prices for the orders is not correct."
    );
    // An OCO of two stops is no OCO Binance takes.
    let stops = signed_request(
        &sim,
        "POST",
        "/api/v3/orderList/oco",
        "symbol=BTCUSDT&side=SELL&quantity=0.01&aboveType=STOP_LOSS_LIMIT&abovePrice=21000\
         &belowType=STOP_LOSS_LIMIT&belowPrice=19000&belowStopPrice=19100&belowTimeInForce=GTC",
    );
    assert_eq!(stops.code(), -2010);
    assert!(sim.orders().is_empty() && sim.order_lists().is_empty());
    // Unknown lists: -2013 to a query, -2011 to a cancel.
    let query = signed_request(&sim, "GET", "/api/v3/orderList", "origClientOrderId=nope");
    assert_eq!(query.code(), -2013);
    let cancel = signed_request(
        &sim,
        "DELETE",
        "/api/v3/orderList",
        "symbol=BTCUSDT&listClientOrderId=nope",
    );
    assert_eq!(cancel.code(), -2011);
}

#[test]
fn order_list_endpoints_count_binance_weights() {
    let sim = sim();
    let weight = |reply: &Reply| {
        reply
            .header("X-MBX-USED-WEIGHT-1M")
            .and_then(|w| w.parse::<u64>().ok())
            .expect("a weight header")
    };
    // The weight restarts each minute: a run that straddles one is redone.
    for _ in 0..2 {
        let first = weight(&signed_request(&sim, "GET", "/api/v3/openOrderList", ""));
        let open = weight(&signed_request(
            &sim,
            "GET",
            "/api/v3/openOrders",
            "symbol=BTCUSDT",
        ));
        let all = weight(&signed_request(&sim, "GET", "/api/v3/openOrders", ""));
        let list = weight(&signed_request(
            &sim,
            "GET",
            "/api/v3/orderList",
            "orderListId=0",
        ));
        if !(first < open && open < all && all < list) {
            continue;
        }
        assert_eq!(
            (open - first, all - open, list - all),
            (6, 80, 4),
            "openOrders by symbol, openOrders of all, orderList"
        );
        return;
    }
    panic!("the weight restarted within two short runs of requests");
}
