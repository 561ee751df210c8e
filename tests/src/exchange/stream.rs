//! The simulator's WebSocket kline stream, `/ws/<symbol>@kline_<interval>`
//! (lower-case symbol) as Binance serves it: kline events for every candle
//! pushed through [`ExchangeSim::push_candle`](super::ExchangeSim::push_candle)
//! (in-progress updates, `"x": false`, then the closed event), a ping every
//! [`StreamConfig::ping_every`], a client that does not pong within
//! [`StreamConfig::pong_timeout`] dropped, and one that sends more than
//! [`StreamConfig::max_incoming_per_s`] messages in a second dropped too.
//! Faults: [`StreamFault`].

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::time::{sleep_until, Instant};

use super::state::{lock, Shared, SimCandle, SimState};
use super::stream_state::Command;
pub use super::stream_state::{StreamConfig, StreamFault};

/// Appends `candle` to the history and streams it: an update at its open,
/// one with its final values still open, then the closed event.
pub fn push(state: &mut SimState, candle: SimCandle) {
    let now = state.now_ms();
    let (symbol, (interval, span)) = (state.config.symbol.clone(), state.config.interval.clone());
    let first = SimCandle {
        high: candle.open,
        low: candle.open,
        close: candle.open,
        volume: rust_decimal::Decimal::ZERO,
        ..candle.clone()
    };
    let events = [
        event(&symbol, &interval, span, now, &first, false),
        event(&symbol, &interval, span, now, &candle, false),
        event(&symbol, &interval, span, now, &candle, true),
    ];
    state.config.candles.push(candle);
    state.stream.pushed = true;
    for text in &events {
        state.stream.send_all(|| Command::Text(text.clone()));
    }
    state.stream.last_closed = events.last().cloned();
}

/// Binance's kline event for `k`, its fields in Binance's order (the
/// worker's fast parser reads that layout; `json!` would sort the keys).
pub fn event(
    symbol: &str,
    interval: &str,
    span_ms: i64,
    event_ms: i64,
    k: &SimCandle,
    closed: bool,
) -> String {
    let first_trade = k.open_time_ms / span_ms.max(1) * 10;
    format!(
        concat!(
            r#"{{"e":"kline","E":{E},"s":"{s}","k":{{"t":{t},"T":{T},"s":"{s}","i":"{i}","#,
            r#""f":{f},"L":{L},"o":"{o}","c":"{c}","h":"{h}","l":"{l}","v":"{v}","n":10,"#,
            r#""x":{x},"q":"{q}","V":"0","Q":"0","B":"0"}}}}"#
        ),
        E = event_ms,
        s = symbol,
        t = k.open_time_ms,
        T = k.open_time_ms + span_ms - 1,
        i = interval,
        f = first_trade,
        L = first_trade + 9,
        o = k.open,
        c = k.close,
        h = k.high,
        l = k.low,
        v = k.volume,
        x = closed,
        q = k.volume * k.close,
    )
}

/// `GET /ws/<streamName>`: upgrades for the one kline stream it serves.
pub async fn upgrade(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    let (expected, refusing) = {
        let state = lock(&shared);
        let c = &state.config;
        (
            format!("{}@kline_{}", c.symbol.to_ascii_lowercase(), c.interval.0),
            state.stream.refusing,
        )
    };
    if refusing {
        return (StatusCode::SERVICE_UNAVAILABLE, "streams refused for now").into_response();
    }
    if name != expected {
        return (
            StatusCode::NOT_FOUND,
            format!("the simulator streams only {expected}"),
        )
            .into_response();
    }
    let (tx, rx) = unbounded_channel();
    let (id, config) = {
        let mut state = lock(&shared);
        state.stream.accepted += 1;
        let id = state.stream.accepted;
        state.stream.conns.push((id, tx));
        (id, state.stream.config.clone())
    };
    ws.on_upgrade(move |socket| async move {
        session(socket, rx, &config).await;
        lock(&shared).stream.conns.retain(|(c, _)| *c != id);
    })
}

/// Serves one connection until it ends, is dropped or is cut.
async fn session(socket: WebSocket, mut rx: UnboundedReceiver<Command>, config: &StreamConfig) {
    let (mut sink, mut incoming) = socket.split();
    let mut ping = tokio::time::interval_at(Instant::now() + config.ping_every, config.ping_every);
    let mut pong_deadline = Instant::now() + config.pong_timeout;
    let mut second = (Instant::now(), 0u32);
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(Command::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                Some(Command::Cut) => {
                    let frame = CloseFrame { code: 1000, reason: "24-hour limit".into() };
                    let _ = sink.send(Message::Close(Some(frame))).await;
                    // Give the client a moment to read the frame.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    return;
                }
                // Dropping the socket closes TCP without a close frame.
                Some(Command::Drop) | None => return,
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(b"aegis-sim".to_vec().into())).await.is_err() {
                    return;
                }
            }
            _ = sleep_until(pong_deadline) => return,
            msg = incoming.next() => {
                let Some(Ok(msg)) = msg else { return };
                let now = Instant::now();
                if now.duration_since(second.0) >= Duration::from_secs(1) {
                    second = (now, 0);
                }
                second.1 += 1;
                if second.1 > config.max_incoming_per_s {
                    return;
                }
                match msg {
                    Message::Pong(_) => pong_deadline = now + config.pong_timeout,
                    Message::Close(_) => return,
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    #[test]
    fn the_event_is_binance_json_in_binance_order() {
        let k = SimCandle {
            open_time_ms: 60_000,
            open: Decimal::new(10_050, 2),
            high: Decimal::from(101),
            low: Decimal::from(100),
            close: Decimal::new(10_075, 2),
            volume: Decimal::from(2),
        };
        let text = event("BTCUSDT", "1m", 60_000, 123, &k, true);
        assert!(
            text.starts_with(r#"{"e":"kline","E":123,"s":"BTCUSDT","k":{"t":60000,"T":119999,"#)
        );
        let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let body = &v["k"];
        assert_eq!(body["o"], "100.50");
        assert_eq!(body["c"], "100.75");
        assert_eq!(body["x"], true);
        assert_eq!(body["q"], "201.50");
        for key in [
            "t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B",
        ] {
            assert!(!body[key].is_null(), "field {key} missing: {text}");
        }
    }
}
