//! The `binance` feed source: closed klines of one symbol and interval,
//! first backfilled by REST, then followed on the WebSocket stream.
//!
//! The order of each (re)connect is what makes the candle sequence exact:
//! connect the stream first, then backfill by REST from just after the last
//! candle handed out, then read the stream, dropping every closed kline
//! at or before the last candle (a duplicate, counted). A closed kline
//! that skips ahead of the next expected open time means the stream lost
//! something: the source backfills the gap by REST again before going on.
//! So every closed candle is handed out once, in order, without gaps.
//!
//! [`BinanceSource::poll`] never blocks longer than about
//! [`READ_WAIT`] or one REST request; the feed runs it on a thread of its
//! own ([`BinanceSource::spawn`]) and waits on a channel in short steps, so
//! its heartbeat and stop never wait for the network.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntCounterVec};

use super::backoff::ReconnectBackoff;
use super::socket::{Frame, StreamSocket};
use crate::rest::ban::DEFAULT_BAN;
use crate::{BinanceRest, KlineParser, RestError};
use aegis_contract::config::{ExchangeConfig, Interval};
use aegis_contract::records::Candle;

/// The longest one read of the stream waits for a message.
pub const READ_WAIT: Duration = Duration::from_millis(200);
/// REST klines per request (Binance's maximum `limit`).
pub const PAGE: u16 = 1000;
/// Connection attempts allowed per 5 minutes per IP (Binance: 300).
pub const MAX_CONNECTS_PER_5_MIN: usize = 300;
const FIVE_MIN: Duration = Duration::from_secs(300);

/// The stream's counters, shared with the feed's /metrics.
#[derive(Clone, Debug)]
pub struct StreamCounters {
    /// Messages refused, by reason (`malformed`, `not_kline`, `binary`, ...).
    pub rejected: IntCounterVec,
    /// Closed klines already handed out (stream repeats, backfill overlap).
    pub duplicates: IntCounter,
    /// Reconnects after the first connection.
    pub reconnects: IntCounter,
    /// Candles loaded by REST.
    pub backfilled: IntCounter,
}

/// The stream's state for /status.
#[derive(Debug, Default)]
pub struct StreamStatus {
    /// 0 connecting, 1 backfilling, 2 streaming, 3 waiting to reconnect.
    state: AtomicU8,
    /// Connections made.
    connects: AtomicU64,
    /// Why the last connection ended or failed.
    last_error: Mutex<Option<String>>,
}

impl StreamStatus {
    fn set(&self, state: u8) {
        // Relaxed: a value for /status only.
        self.state.store(state, Relaxed);
    }

    fn failed(&self, why: String) {
        self.set(3);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
    }

    /// The stream's state as JSON for /status.
    pub fn json(&self) -> serde_json::Value {
        // Relaxed: values for /status only.
        let state = match self.state.load(Relaxed) {
            0 => "connecting",
            1 => "backfilling",
            2 => "streaming",
            _ => "waiting_to_reconnect",
        };
        serde_json::json!({
            "state": state,
            "connects": self.connects.load(Relaxed),
            "last_error": *self.last_error.lock().unwrap_or_else(|p| p.into_inner()),
        })
    }
}

/// What one poll gave.
#[derive(Debug, PartialEq)]
pub enum Polled {
    /// The next closed candle.
    Candle(Candle),
    /// Nothing yet; poll again.
    Idle,
}

/// Candles the source thread may hold ahead of the feed.
const CHANNEL: usize = 4096;

/// A [`BinanceSource`] running on its own thread.
#[derive(Debug)]
pub struct SourceThread {
    rx: Receiver<Candle>,
    stop: Arc<AtomicBool>,
}

impl SourceThread {
    /// The next candle, or `Idle` after waiting at most `wait`.
    pub fn next(&self, wait: Duration) -> Polled {
        match self.rx.recv_timeout(wait) {
            Ok(c) => Polled::Candle(c),
            Err(RecvTimeoutError::Timeout) => Polled::Idle,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(wait);
                Polled::Idle
            }
        }
    }
}

impl Drop for SourceThread {
    fn drop(&mut self) {
        // Relaxed: a stop request; the thread is not joined (it may be in a
        // REST request) and ends on its own.
        self.stop.store(true, Relaxed);
    }
}

/// The `binance` source.
pub struct BinanceSource {
    rest: BinanceRest,
    parser: KlineParser,
    symbol: String,
    interval: Interval,
    url: String,
    backfill_candles: u32,
    timeout: Duration,
    reconnect_after: Duration,
    idle_timeout: Duration,
    backoff: ReconnectBackoff,
    socket: Option<Connection>,
    next_attempt: Instant,
    attempts: VecDeque<Instant>,
    /// Open time of the last candle handed out.
    last_ts: Option<i64>,
    pending: VecDeque<Candle>,
    needs_backfill: bool,
    counters: StreamCounters,
    status: Arc<StreamStatus>,
}

struct Connection {
    socket: StreamSocket,
    since: Instant,
    last_message: Instant,
}

impl BinanceSource {
    /// A source for `symbol` at `interval` on the exchange `x`, resuming
    /// after `resume_after_ts` (the last candle in the ring) if given.
    pub fn new(
        x: &ExchangeConfig,
        symbol: &str,
        interval: Interval,
        resume_after_ts: Option<i64>,
        counters: StreamCounters,
        status: Arc<StreamStatus>,
    ) -> Self {
        let parser = KlineParser::new(symbol, interval);
        let url = format!("{}/{}", x.ws_base(), parser.stream_name());
        let seed = std::process::id() as u64 ^ ringbuf_shm::precise_ns();
        BinanceSource {
            rest: BinanceRest::market_data(&x.rest_base(), x.timeout()),
            parser,
            symbol: symbol.to_ascii_uppercase(),
            interval,
            url,
            backfill_candles: x.backfill_candles,
            timeout: x.timeout(),
            reconnect_after: Duration::from_secs_f64(x.stream_reconnect_after_secs),
            idle_timeout: Duration::from_secs_f64(x.stream_idle_timeout_secs),
            backoff: ReconnectBackoff::new(
                Duration::from_millis(x.stream_backoff_initial_ms),
                Duration::from_millis(x.stream_backoff_max_ms),
                seed,
            ),
            socket: None,
            next_attempt: Instant::now(),
            attempts: VecDeque::new(),
            last_ts: resume_after_ts,
            pending: VecDeque::new(),
            needs_backfill: false,
            counters,
            status,
        }
    }

    /// Shares IP bans with the other roles through the ban file at `path`
    /// (see [`BinanceRest::with_ban_file`]): no backfill request and no
    /// stream connection while one is in force.
    pub fn with_ban_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.rest = self.rest.with_ban_file(path);
        self
    }

    /// The stream URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs the source on a thread of its own; candles come out of the
    /// returned handle. The thread ends when the handle is dropped.
    pub fn spawn(mut self) -> std::io::Result<SourceThread> {
        let (tx, rx) = sync_channel(CHANNEL);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("binance-stream".into())
            .spawn(move || {
                // Relaxed: a stop request; nothing else is published through it.
                while !stopped.load(Relaxed) {
                    if let Polled::Candle(c) = self.poll() {
                        if tx.send(c).is_err() {
                            break;
                        }
                    }
                }
                if let Some(conn) = self.socket.take() {
                    conn.socket.close();
                }
            })?;
        Ok(SourceThread { rx, stop })
    }

    fn span_ms(&self) -> i64 {
        i64::try_from(self.interval.as_millis()).unwrap_or(i64::MAX)
    }

    /// The next closed candle, or `Idle` after waiting at most about
    /// [`READ_WAIT`] (or one REST request).
    pub fn poll(&mut self) -> Polled {
        if let Some(c) = self.pending.pop_front() {
            return self.hand_out(c);
        }
        if self.socket.is_none() {
            self.connect();
            return Polled::Idle;
        }
        if self.needs_backfill {
            self.backfill();
            return Polled::Idle;
        }
        self.read()
    }

    /// Hands `c` out unless it is not after the last candle.
    fn hand_out(&mut self, c: Candle) -> Polled {
        if self.last_ts.is_some_and(|last| c.ts_ms <= last) {
            self.counters.duplicates.inc();
            return Polled::Idle;
        }
        self.last_ts = Some(c.ts_ms);
        Polled::Candle(c)
    }

    fn connect(&mut self) {
        let now = Instant::now();
        while self
            .attempts
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FIVE_MIN)
        {
            self.attempts.pop_front();
        }
        if self.attempts.len() >= MAX_CONNECTS_PER_5_MIN {
            if let Some(oldest) = self.attempts.front() {
                self.next_attempt = self.next_attempt.max(*oldest + FIVE_MIN);
            }
        }
        if now < self.next_attempt {
            std::thread::sleep((self.next_attempt - now).min(READ_WAIT));
            return;
        }
        if let Some(wait) = self.rest.ban_remaining() {
            self.retry_later("the exchange has banned this IP".into(), wait);
            return;
        }
        self.status.set(0);
        self.attempts.push_back(now);
        match StreamSocket::connect(&self.url, self.timeout, READ_WAIT) {
            Ok(socket) => {
                // Relaxed: a count for /status only.
                if self.status.connects.fetch_add(1, Relaxed) > 0 {
                    self.counters.reconnects.inc();
                }
                tracing::info!(url = %self.url, "kline stream connected");
                self.socket = Some(Connection {
                    socket,
                    since: Instant::now(),
                    last_message: Instant::now(),
                });
                self.needs_backfill = true;
            }
            Err(e) => self.retry_later(e.to_string(), Duration::ZERO),
        }
    }

    /// Drops the connection and waits before the next: the backoff delay,
    /// or `at_least` when longer (a 429's or 418's wait). The log says the
    /// wait that will really pass.
    fn retry_later(&mut self, why: String, at_least: Duration) {
        let delay = self.backoff.next_delay().max(at_least);
        tracing::warn!(url = %self.url, error = %why, retry_in_ms = delay.as_millis() as u64, "kline stream down");
        self.status.failed(why);
        if let Some(conn) = self.socket.take() {
            conn.socket.close();
        }
        self.next_attempt = Instant::now() + delay;
    }

    /// Loads by REST every closed candle after the last one handed out
    /// (or the last `backfill_candles` when none was), in pages.
    fn backfill(&mut self) {
        self.status.set(1);
        match self.load_after_last() {
            Ok(n) => {
                self.needs_backfill = false;
                self.status.set(2);
                tracing::info!(candles = n, after_ts_ms = ?self.last_ts, "backfilled by REST");
            }
            Err(e) => {
                // A 429 or 418 says how long to keep away: at least that.
                let wait = match e {
                    RestError::Banned { retry_after: None } => DEFAULT_BAN,
                    _ => e.retry_after().unwrap_or_default(),
                };
                self.retry_later(format!("REST backfill: {e}"), wait);
            }
        }
    }

    fn load_after_last(&mut self) -> Result<usize, RestError> {
        let span = self.span_ms();
        // Which rows are closed is judged by the server's clock.
        self.rest.sync_time()?;
        let mut start = match self.last_ts {
            Some(last) => last.saturating_add(span),
            None => {
                let now = self.rest.server_now_ms();
                let current = now - now.rem_euclid(span);
                current - i64::from(self.backfill_candles) * span
            }
        };
        let mut loaded = 0;
        loop {
            let reply = self
                .rest
                .klines(&self.symbol, self.interval, Some(start), None, PAGE)?;
            for e in &reply.rejected {
                self.counters.rejected.with_label_values(&[e.label()]).inc();
                tracing::warn!(error = %e, "backfilled kline row rejected");
            }
            let full = reply.candles.len() + reply.rejected.len() >= usize::from(PAGE);
            let page = reply.candles;
            let Some(last) = page.last().map(|c| c.ts_ms) else {
                break;
            };
            loaded += page.len();
            self.counters.backfilled.inc_by(page.len() as u64);
            self.pending.extend(page);
            start = last.saturating_add(span);
            if !full {
                break;
            }
        }
        Ok(loaded)
    }

    fn read(&mut self) -> Polled {
        let Some(conn) = self.socket.as_mut() else {
            return Polled::Idle;
        };
        if conn.since.elapsed() >= self.reconnect_after {
            tracing::info!(url = %self.url, "reconnecting before the server's 24-hour cut");
            if let Some(conn) = self.socket.take() {
                conn.socket.close();
            }
            self.next_attempt = Instant::now();
            return Polled::Idle;
        }
        let frame = match conn.socket.read() {
            Ok(Frame::Nothing) => {
                if conn.last_message.elapsed() >= self.idle_timeout {
                    let why = format!(
                        "nothing received for {:.1} s",
                        conn.last_message.elapsed().as_secs_f64()
                    );
                    self.retry_later(why, Duration::ZERO);
                }
                return Polled::Idle;
            }
            Ok(frame) => {
                conn.last_message = Instant::now();
                frame
            }
            Err(e) => {
                // A server close (the 24-hour cut) or a broken connection:
                // after a connection that delivered candles the backoff is
                // back at its first delay; one closed at once backs off more.
                self.retry_later(e.to_string(), Duration::ZERO);
                return Polled::Idle;
            }
        };
        match frame {
            Frame::Text(text) => match self.parser.parse_event(text.as_bytes()) {
                Ok(Some(c)) => {
                    let span = self.span_ms();
                    if self
                        .last_ts
                        .is_some_and(|last| c.ts_ms > last.saturating_add(span))
                    {
                        tracing::warn!(ts_ms = c.ts_ms, last_ts_ms = ?self.last_ts, "the stream skipped candles: backfilling the gap");
                        self.needs_backfill = true;
                        return Polled::Idle;
                    }
                    // A connection that delivers candles is healthy.
                    self.backoff.reset();
                    self.hand_out(c)
                }
                Ok(None) => Polled::Idle,
                Err(e) => {
                    self.counters.rejected.with_label_values(&[e.label()]).inc();
                    tracing::warn!(error = %e, "stream message rejected");
                    Polled::Idle
                }
            },
            Frame::Binary(len) => {
                self.counters.rejected.with_label_values(&["binary"]).inc();
                tracing::warn!(bytes = len, "binary stream message rejected");
                Polled::Idle
            }
            Frame::Control | Frame::Nothing => Polled::Idle,
        }
    }
}
