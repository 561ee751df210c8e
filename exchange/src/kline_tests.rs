//! Tests of [`super`]: stream events and REST rows into candles, and bad
//! input of every kind refused without a panic.

use proptest::prelude::*;

use super::*;

fn parser() -> KlineParser {
    KlineParser::new("btcusdt", "1m".parse().expect("interval"))
}

/// A kline event as Binance's stream documentation shows it.
fn event(symbol: &str, interval: &str, closed: bool, ohlcv: [&str; 5]) -> String {
    let [o, h, l, c, v] = ohlcv;
    format!(
        r#"{{"e":"kline","E":1700000060005,"s":"{symbol}","k":{{"t":1700000000000,"T":1700000059999,"s":"{symbol}","i":"{interval}","f":100,"L":200,"o":"{o}","c":"{c}","h":"{h}","l":"{l}","v":"{v}","n":100,"x":{closed},"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}}}"#
    )
}

const PRICES: [&str; 5] = [
    "43250.12000000",
    "43300.50000000",
    "43200.01000000",
    "43280.77000000",
    "12.34567800",
];

#[test]
fn closed_kline_becomes_a_candle_with_exact_values() {
    let msg = event("BTCUSDT", "1m", true, PRICES);
    let candle = parser()
        .parse_event(msg.as_bytes())
        .expect("valid")
        .expect("closed");
    assert_eq!(candle.ts_ms, 1_700_000_000_000);
    assert_eq!(candle.open, 43250.12);
    assert_eq!(candle.high, 43300.5);
    assert_eq!(candle.low, 43200.01);
    assert_eq!(candle.close, 43280.77);
    assert_eq!(candle.volume, 12.345678);
    assert_eq!((candle.seq, candle.ingest_ns), (0, 0));
    assert_eq!(parser().stream_name(), "btcusdt@kline_1m");
}

#[test]
fn open_kline_is_none() {
    let msg = event("BTCUSDT", "1m", false, PRICES);
    assert_eq!(parser().parse_event(msg.as_bytes()), Ok(None));
}

#[test]
fn wrong_symbol_interval_and_other_messages_are_typed_errors() {
    let p = parser();
    let wrong_symbol = event("ETHUSDT", "1m", true, PRICES);
    assert_eq!(
        p.parse_event(wrong_symbol.as_bytes()),
        Err(KlineError::WrongSymbol {
            expected: "BTCUSDT".into(),
            got: "ETHUSDT".into()
        })
    );
    let wrong_interval = event("BTCUSDT", "5m", false, PRICES);
    let err = p.parse_event(wrong_interval.as_bytes()).expect_err("5m");
    assert_eq!(
        err.to_string(),
        "kline interval \"5m\", expected 1m".replace('"', "")
    );
    assert_eq!(err.label(), "wrong_interval");
    for msg in [
        r#"{"result":null,"id":1}"#,
        r#"{"e":"trade","s":"BTCUSDT","p":"1"}"#,
        "[]",
        "7",
    ] {
        let err = p.parse_event(msg.as_bytes());
        assert!(
            matches!(
                err,
                Err(KlineError::NotKline(_)) | Err(KlineError::Malformed(_))
            ),
            "{msg}: {err:?}"
        );
    }
    assert!(matches!(
        p.parse_event(br#"{"result":null,"id":1}"#),
        Err(KlineError::NotKline(ref m)) if m.contains("\"id\":1")
    ));
}

#[test]
fn malformed_messages_name_the_field() {
    let p = parser();
    let good = event("BTCUSDT", "1m", true, PRICES);
    let cases = [
        (
            good.replace(r#""o":"43250.12000000""#, r#""o":43250.12"#),
            "k.o: invalid type",
        ),
        (
            good.replace(r#""x":true"#, r#""x":"true""#),
            "k.x: invalid type",
        ),
        (
            good.replace(r#""t":1700000000000,"#, ""),
            "missing field `t`",
        ),
        (
            good.replace(r#","c":"43280.77000000""#, ""),
            "missing field `c`",
        ),
        (good[..good.len() - 5].to_owned(), "EOF"),
        (r#"{"e":"kline"}"#.to_owned(), "without \"k\""),
        ("not json".to_owned(), "expected"),
    ];
    for (msg, expected) in cases {
        let err = p.parse_event(msg.as_bytes()).expect_err(expected);
        assert!(matches!(err, KlineError::Malformed(_)), "{err:?}");
        assert!(
            err.to_string().contains(expected),
            "{err} should contain {expected:?}"
        );
    }
    let bad = event("BTCUSDT", "1m", true, ["43250.12", "x1", "1", "1", "1"]);
    assert_eq!(
        p.parse_event(bad.as_bytes()),
        Err(KlineError::BadNumber {
            field: "h",
            value: "x1".into()
        })
    );
}

#[test]
fn impossible_values_are_refused_by_the_feed_checks() {
    let p = parser();
    let cases = [
        (["10", "9", "8", "10", "1"], Rejection::HighBelowBody),
        (["10", "11", "9", "10", "-1"], Rejection::NegativeVolume),
        (["0", "11", "9", "10", "1"], Rejection::NonPositivePrice),
        (["NaN", "11", "9", "10", "1"], Rejection::NotFinite),
    ];
    for (ohlcv, reason) in cases {
        let msg = event("BTCUSDT", "1m", true, ohlcv);
        assert_eq!(
            p.parse_event(msg.as_bytes()),
            Err(KlineError::Rejected(reason)),
            "{ohlcv:?}"
        );
    }
    // An open kline is not checked: it becomes nothing either way.
    let open = event("BTCUSDT", "1m", false, ["10", "9", "8", "10", "1"]);
    assert_eq!(p.parse_event(open.as_bytes()), Ok(None));
}

/// Two rows as `GET /api/v3/klines` returns them, the second still open at
/// `now` = 1700000100000.
const REST: &str = r#"[
  [1700000000000,"43250.12000000","43300.50000000","43200.01000000","43280.77000000","12.34567800",1700000059999,"533956.46",1234,"6.1","263000.2","0"],
  [1700000060000,"43280.77000000","43290.00000000","43270.00000000","43275.00000000","1.00000000",1700000119999,"43275.0",12,"0.5","21637.5","0"]
]"#;

#[test]
fn rest_rows_become_candles_and_the_open_row_is_left_out() {
    let p = parser();
    let candles = p
        .parse_rest(REST.as_bytes(), 1_700_000_100_000)
        .expect("valid")
        .candles;
    assert_eq!(candles.len(), 1);
    assert_eq!(candles[0].ts_ms, 1_700_000_000_000);
    assert_eq!(candles[0].close, 43280.77);
    let both = p
        .parse_rest(REST.as_bytes(), 1_700_000_120_000)
        .expect("valid")
        .candles;
    assert_eq!(
        both.iter().map(|c| c.ts_ms).collect::<Vec<_>>(),
        [1_700_000_000_000, 1_700_000_060_000]
    );
    assert_eq!(p.parse_rest(b"[]", 0), Ok(RestKlines::default()));
    // Rows of exactly seven fields (no extras) are fine too.
    let short = r#"[[1700000000000,"1","2","0.5","1.5","3",1700000059999]]"#;
    assert_eq!(
        p.parse_rest(short.as_bytes(), i64::MAX)
            .map(|k| k.candles.len()),
        Ok(1)
    );
}

#[test]
fn bad_rest_rows_are_refused_naming_the_row_and_field() {
    let p = parser();
    let now = i64::MAX;
    let five_minutes = REST.replace("1700000059999", "1700000299999");
    let cases = [
        (five_minutes, "klines row 0: kline interval closeTime 1700000299999 - openTime 1700000000000 + 1 ms, expected 1m"),
        (REST.replace(r#""43290.00000000""#, r#""4329O""#), "klines row 1: kline field \"high\" = \"4329O\""),
        (REST.replace(r#""43290.00000000""#, "43290"), "high: invalid type: integer `43290`"),
        (r#"[[1700000000000,"1","2","0.5"]]"#.to_owned(), "invalid length 4"),
        (r#"{"code":-1121,"msg":"Invalid symbol."}"#.to_owned(), "invalid type: map"),
        (REST.replace("\"0\"]\n]", "\"0\"]"), "EOF"),
        (REST.replace(r#""1.00000000""#, r#""-1""#), "klines row 1: kline refused: negative_volume"),
    ];
    for (body, expected) in cases {
        let err = match p.parse_rest(body.as_bytes(), now) {
            Err(e) => e,
            // A row-level fault leaves the row out and keeps the others.
            Ok(k) => {
                assert_eq!(k.rejected.len(), 1, "{expected}: {k:?}");
                assert_eq!(k.candles.len(), 1, "the other row is kept: {k:?}");
                k.rejected[0].clone()
            }
        };
        assert!(
            err.to_string().contains(expected),
            "{err} should contain {expected:?}"
        );
    }
}

/// A decimal string of up to 8 fraction digits, as Binance writes them.
fn decimal_text() -> impl Strategy<Value = String> {
    (1u64..10_000_000, 0u32..9).prop_map(|(units, scale)| {
        let s = units.to_string();
        let scale = scale as usize;
        if scale == 0 {
            s
        } else if s.len() > scale {
            format!("{}.{}", &s[..s.len() - scale], &s[s.len() - scale..])
        } else {
            format!("0.{}{s}", "0".repeat(scale - s.len()))
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let p = parser();
        let _ = p.parse_event(&bytes);
        let _ = p.parse_rest(&bytes, 1_700_000_000_000);
    }

    #[test]
    fn mutated_events_never_panic(cut in 0usize..400, byte in any::<u8>()) {
        let mut msg = event("BTCUSDT", "1m", true, PRICES).into_bytes();
        let at = cut % msg.len();
        msg[at] = byte;
        let _ = parser().parse_event(&msg);
        msg.truncate(at);
        let _ = parser().parse_event(&msg);
    }

    #[test]
    fn decimal_strings_parse_like_std(price in decimal_text(), volume in decimal_text()) {
        let msg = event("BTCUSDT", "1m", true, [&price, &price, &price, &price, &volume]);
        let candle = parser().parse_event(msg.as_bytes()).expect("valid").expect("closed");
        let expected: f64 = price.parse().expect("decimal");
        prop_assert_eq!(candle.close.to_bits(), expected.to_bits());
        prop_assert_eq!(candle.volume.to_bits(), volume.parse::<f64>().expect("decimal").to_bits());
    }
}

/// The serde path alone, for comparing with the fast path.
fn serde_only(msg: &[u8]) -> Option<StreamKline<'_>> {
    serde_event(msg).ok()
}

#[test]
fn fast_path_takes_binance_layout_and_leaves_the_rest_to_serde() {
    let good = event("BTCUSDT", "1m", true, PRICES);
    let fast = crate::kline_fast::kline_event(good.as_bytes()).expect("fast path");
    assert_eq!(Some(&fast), serde_only(good.as_bytes()).as_ref());
    for other in [
        good.replace(",\"x\"", ", \"x\""),
        good.replace("\"E\":1700000060005", "\"E\":1.5"),
        good.replace("\"n\":100", "\"n\":0100"),
        good.replace("\"t\":1700000000000,", "\"t\":1700000000000,\"t\":1,"),
        good.replace("\"e\":\"kline\",", "\"e\":\"kline\",\"e\":\"kline\","),
        good.replace("BTCUSDT\",\"k", "BTC\\u0055SDT\",\"k"),
        format!("{good} "),
    ] {
        assert_eq!(
            crate::kline_fast::kline_event(other.as_bytes()),
            None,
            "{other}"
        );
    }
}

/// Bytes a mutation inserts: JSON syntax and the characters around it.
const MUTATION_BYTES: &[u8] = b"{}[]\":,0123456789-.+eEtrufalsnx\\ \t\x80k";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    /// Whenever the fast path accepts a message, serde parses it to the same
    /// fields; so taking the fast path never changes a result.
    #[test]
    fn fast_path_agrees_with_serde(
        edits in proptest::collection::vec((0usize..400, 0usize..MUTATION_BYTES.len(), 0u8..3), 1..4),
        closed in any::<bool>(),
    ) {
        let mut msg = event("BTCUSDT", "1m", closed, PRICES).into_bytes();
        for (at, byte, op) in edits {
            let at = at % (msg.len() + 1);
            let byte = MUTATION_BYTES[byte];
            match op {
                0 if at < msg.len() => msg[at] = byte,
                1 => msg.insert(at, byte),
                _ if at < msg.len() => { msg.remove(at); }
                _ => {}
            }
        }
        if let Some(fast) = crate::kline_fast::kline_event(&msg) {
            prop_assert_eq!(Some(fast), serde_only(&msg), "{}", String::from_utf8_lossy(&msg));
        }
    }
}
