//! The bodies of the orchestrator's control API — `GET /status` and
//! `POST /flatten` — as serde types: the orchestrator serializes them and the
//! operator deserializes them, so the two cannot disagree on a key. Also
//! where that API listens by default ([`CONTROL_PORT`]).
//!
//! Money is a [`Decimal`] written as a string (no digit lost).

use std::time::Duration;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::records::Signal;

/// The control API's port in a pod (the orchestrator's `control_listen`).
/// Its own port, apart from probes and `/metrics`, so a NetworkPolicy can
/// admit only the operator to it.
pub const CONTROL_PORT: u16 = 9104;

/// How long the orchestrator's HTTP side waits for its main loop to carry
/// out `POST /flatten` before answering 503; a caller's timeout must exceed it.
pub const FLATTEN_WAIT: Duration = Duration::from_secs(3);

/// The halt reason written by `POST /flatten`.
pub const FLATTENED: &str = "flattened";

/// `GET /status` of the orchestrator (the server adds `pid`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrchestratorStatus {
    /// Always `"orchestrator"`.
    pub role: String,
    /// Signals read from the signal ring since the start.
    pub signals_read: u64,
    /// Fills since the start.
    pub fills: u64,
    /// Signals written but not yet read.
    pub lag: i64,
    /// The last signal handled, if any since the start.
    pub last_signal: Option<LastSignal>,
    /// The book, once the ledger is open (absent before).
    #[serde(flatten)]
    pub book: Option<Book>,
    /// Live mode: the exchange's balances against the ledger, as last read
    /// (absent in paper mode and in bodies of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balances: Option<Balances>,
    /// Why the orchestrator does not trade and is unready, when a permanent
    /// refusal stopped it (absent otherwise and in bodies of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
}

/// A refusal that no retry or restart can cure (credentials missing, or
/// refused by the exchange): the orchestrator stops trading and stays up,
/// unready, showing this until its configuration is fixed and it is
/// restarted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// A CamelCase reason, as Kubernetes conditions spell them:
    /// [`Refusal::CREDENTIALS_MISSING`] or [`Refusal::CREDENTIALS_REJECTED`].
    pub reason: String,
    /// What is wrong and what to do, for people (never a secret).
    pub message: String,
}

impl Refusal {
    /// `BINANCE_API_KEY` or `BINANCE_API_SECRET` is not set.
    pub const CREDENTIALS_MISSING: &'static str = "CredentialsMissing";
    /// The exchange refused the key or the signature (-2014, -2015, -1022).
    pub const CREDENTIALS_REJECTED: &'static str = "CredentialsRejected";

    /// Missing credentials, `why` naming the variable.
    pub fn credentials_missing(why: String) -> Refusal {
        Refusal {
            reason: Self::CREDENTIALS_MISSING.into(),
            message: format!("live trading is off: {why}"),
        }
    }

    /// A key or signature the exchange refused, `why` saying which.
    pub fn credentials_rejected(why: String) -> Refusal {
        Refusal {
            reason: Self::CREDENTIALS_REJECTED.into(),
            message: format!(
                "live trading is off: {why}; fix the credentials, then restart the orchestrator"
            ),
        }
    }
}

/// The exchange's balances of the symbol's two assets against the ledger.
///
/// The rule: the ledger's cash must not exceed the free quote balance and
/// the ledger's position must not exceed the base balance (free + locked):
/// the account may hold more than the engine trades (other money, the
/// fees of assets the ledger does not book), never less.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balances {
    /// The base asset, e.g. `BTC`.
    pub base_asset: String,
    /// The quote asset, e.g. `USDT`.
    pub quote_asset: String,
    /// Base free on the exchange.
    pub base_free: Decimal,
    /// Base locked in open orders.
    pub base_locked: Decimal,
    /// Quote free on the exchange.
    pub quote_free: Decimal,
    /// Quote locked in open orders.
    pub quote_locked: Decimal,
    /// The ledger's cash when they were read.
    pub ledger_cash: Decimal,
    /// The ledger's position when they were read.
    pub ledger_position: Decimal,
    /// Each rule broken, with both figures (empty when they agree).
    pub mismatches: Vec<String>,
    /// When they were read, ms since the epoch.
    pub read_ms: i64,
}

/// The last signal the orchestrator handled.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastSignal {
    /// Its sequence number in the ring.
    pub seq: u64,
    /// The candle's open time.
    pub candle_ts_ms: i64,
    /// The candle's close.
    pub close: f64,
    /// The brain's target position sign.
    pub target: i64,
}

impl From<&Signal> for LastSignal {
    fn from(s: &Signal) -> Self {
        LastSignal {
            seq: s.seq,
            candle_ts_ms: s.ts_ms,
            close: s.close,
            target: s.target,
        }
    }
}

/// The orchestrator's book, marked at the last close seen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Book {
    /// Signed position, base currency.
    pub position: Decimal,
    /// Average entry price of the position.
    pub avg_entry: Decimal,
    /// Quote cash.
    pub cash: Decimal,
    /// Cash plus the position at the last close.
    pub equity: Decimal,
    /// Realized PnL, gross of fees.
    pub realized_pnl: Decimal,
    /// Unrealized PnL at the last close.
    pub unrealized_pnl: Decimal,
    /// Fees paid.
    pub fees_paid: Decimal,
    /// Drawdown from peak equity, a fraction.
    pub drawdown: Decimal,
    /// Whether new entries are blocked (kill switch, daily stop, flattened).
    pub halted: bool,
    /// Why, when halted.
    pub halt_reason: Option<String>,
    /// Whether an order waits for the next open.
    pub pending_order: bool,
}

/// `200` of `POST /flatten`: the book after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlattenReply {
    /// Signed position after the flatten: zero.
    pub position: Decimal,
    /// Equity after the closing fill.
    pub equity: Decimal,
    /// Whether new entries are blocked: true.
    pub halted: bool,
    /// False when the book was flat and halted already (a repeated POST).
    pub changed: bool,
}

/// `409`/`500`/`503` of `POST /flatten`: why nothing was flattened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlattenRefusal {
    /// What went wrong, for people.
    pub reason: String,
}
