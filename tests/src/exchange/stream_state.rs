//! The kline stream's share of the simulator state: its timing and limits,
//! its faults, and the open connections' command channels. The connections
//! themselves are served by [`stream`](super::stream).

use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

/// The stream's timing and limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// How often the server pings (Binance: 20 s).
    pub ping_every: Duration,
    /// A connection that sends no pong for this long is dropped (Binance:
    /// one minute).
    pub pong_timeout: Duration,
    /// Incoming messages (ping, pong, text) allowed per second per
    /// connection; one more drops the connection (Binance: 5).
    pub max_incoming_per_s: u32,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            ping_every: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(60),
            max_incoming_per_s: 5,
        }
    }
}

/// A fault of the stream, applied at once to every open connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamFault {
    /// Every connection is dropped: TCP closed without a close frame.
    DropAll,
    /// Every connection gets a close frame (the 24-hour cut), then is closed.
    CutAll,
    /// Every connection gets this text as a message (e.g. malformed JSON).
    Raw(String),
    /// Every connection gets the last closed event again.
    DuplicateLastClosed,
}

/// What a connection's task is told to do.
#[derive(Debug)]
pub(super) enum Command {
    Text(String),
    Drop,
    Cut,
}

/// The stream's share of the simulator state.
#[derive(Debug, Default)]
pub struct StreamState {
    /// Timing and limits.
    pub config: StreamConfig,
    /// Open connections: id and command channel.
    pub(super) conns: Vec<(u64, UnboundedSender<Command>)>,
    /// Connections accepted so far.
    pub accepted: u64,
    /// While false, upgrade requests are refused with 503: candles pushed
    /// meanwhile reach only the REST history.
    pub refusing: bool,
    /// The last closed event sent, for [`StreamFault::DuplicateLastClosed`].
    pub(super) last_closed: Option<String>,
    /// Whether a candle was pushed: then the last candle is the current one.
    pub pushed: bool,
}

impl StreamState {
    /// Open connections.
    pub fn open(&self) -> usize {
        self.conns.len()
    }

    pub(super) fn send_all(&mut self, make: impl Fn() -> Command) {
        // A connection whose task has ended is forgotten here.
        self.conns.retain(|(_, tx)| tx.send(make()).is_ok());
    }

    /// Applies `fault` to every open connection.
    pub fn apply(&mut self, fault: &StreamFault) {
        match fault {
            StreamFault::DropAll => self.send_all(|| Command::Drop),
            StreamFault::CutAll => self.send_all(|| Command::Cut),
            StreamFault::Raw(text) => self.send_all(|| Command::Text(text.clone())),
            StreamFault::DuplicateLastClosed => {
                if let Some(text) = self.last_closed.clone() {
                    self.send_all(|| Command::Text(text.clone()));
                }
            }
        }
    }
}
