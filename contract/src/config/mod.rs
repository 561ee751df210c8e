//! The engine's one typed configuration, shared by every role, `up`,
//! `backtest` and the operator, which writes it for a TradingEngine.
//!
//! It is parsed from a YAML file's text ([`parse`]; the worker reads the
//! file), overridden by `AEGIS__*`
//! environment variables and `--set path=value` flags, and validated at
//! startup ([`Config::validate`]): a bad value fails fast with an error naming
//! the field. Every field has a default, so an empty file (or none) is a
//! complete configuration: a simulated feed, the `sma-cross` strategy and a
//! paper broker. `docs/configuration.md` documents every field.
//!
//! Secrets (exchange API keys) never come from the file: they are read from
//! the environment (a Kubernetes Secret in the pod) into [`Secret`]s, which
//! print as `<redacted>`, so the effective configuration can be logged whole.

mod decimal;
mod exits;
mod interval;
mod load;
mod secret;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use exits::{EntryOrderConfig, EntryOrderType, ExitsConfig, ExitsError, TakeProfitStep};
pub use interval::Interval;
pub use load::{env_overrides, parse, parse_set, ENV_PREFIX};
pub use secret::{Secret, REDACTED};
pub use validate::ConfigError;

/// The whole configuration of an engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The engine's name: a label in logs and metrics.
    pub engine: String,
    /// The traded symbol, Binance style (`BTCUSDT`).
    pub symbol: String,
    /// The candle interval (`1s`, `1m`, ..., `1w`).
    pub interval: Interval,
    /// Where the rings live and how they behave.
    pub rings: RingsConfig,
    /// The `feed` role.
    pub feed: FeedConfig,
    /// The `brain` role.
    pub brain: BrainConfig,
    /// The `orchestrator` role.
    pub orchestrator: OrchestratorConfig,
    /// The exchange (Binance spot): where the `binance` feed and live
    /// execution connect. Credentials are not here: they come from the environment only (see [`crate::env`]).
    pub exchange: ExchangeConfig,
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            engine: "aegis".into(),
            symbol: "BTCUSDT".into(),
            interval: Interval::default(),
            rings: RingsConfig::default(),
            feed: FeedConfig::default(),
            brain: BrainConfig::default(),
            orchestrator: OrchestratorConfig::default(),
            exchange: ExchangeConfig::default(),
            log: LogConfig::default(),
        }
    }
}

/// The two rings: `candles` (feed → brain) and `signals` (brain → orchestrator).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RingsConfig {
    /// Directory holding the ring files (the pod's `/dev/shm` emptyDir).
    pub dir: PathBuf,
    /// Slots in the candle ring (a power of two).
    pub candles_capacity: u64,
    /// Slots in the signal ring (a power of two).
    pub signals_capacity: u64,
    /// What a writer does when a reader falls a whole ring behind.
    pub overflow: OverflowMode,
    /// How readers and a Lossless writer wait.
    pub wait: WaitMode,
}

impl Default for RingsConfig {
    fn default() -> Self {
        RingsConfig {
            dir: PathBuf::from("/dev/shm/aegis"),
            candles_capacity: 1 << 16,
            signals_capacity: 1 << 16,
            overflow: OverflowMode::Lossless,
            wait: WaitMode::SpinThenBlock,
        }
    }
}

/// The ring overflow policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverflowMode {
    /// The writer waits for the slowest reader: nothing is ever lost.
    Lossless,
    /// The writer never waits; a lapped reader is told how much it missed.
    Overwrite,
}

/// How a ring waits for data or room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WaitMode {
    /// Spin briefly, then sleep on a futex (the default: low latency, idle CPU near zero).
    SpinThenBlock,
    /// Spin, then `sched_yield` (never sleeps).
    SpinThenYield,
    /// Spin forever: lowest latency, one full core per waiting process.
    BusySpin,
}

/// Where candles come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A seeded geometric Brownian motion.
    Simulated,
    /// A CSV file.
    Replay,
    /// Binance spot klines.
    Binance,
}

/// The `feed` role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedConfig {
    /// HTTP address for /healthz, /readyz, /metrics, /status.
    pub listen: SocketAddr,
    /// Which source.
    pub source: SourceKind,
    /// Settings of the simulated source.
    pub simulated: SimulatedConfig,
    /// Settings of the replay source.
    pub replay: ReplayConfig,
    /// Data older than this many seconds makes the feed unready (default:
    /// three intervals).
    pub stale_after_secs: Option<f64>,
    /// Exit (status 0) once a finite source is exhausted, instead of idling.
    pub exit_at_end: bool,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9101)),
            source: SourceKind::Simulated,
            simulated: SimulatedConfig::default(),
            replay: ReplayConfig::default(),
            stale_after_secs: None,
            exit_at_end: false,
        }
    }
}

/// The simulated source: geometric Brownian motion, deterministic for a seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulatedConfig {
    /// Random seed: the same seed gives the same series.
    pub seed: u64,
    /// The first open.
    pub start_price: f64,
    /// Annualised drift.
    pub drift: f64,
    /// Annualised volatility.
    pub volatility: f64,
    /// Pacing: 1 = one candle per interval of wall time, 10 = ten times
    /// faster, 0 = as fast as possible.
    pub speed: f64,
    /// Open time of the first candle (epoch ms); default: now, rounded down
    /// to the interval.
    pub start_ts_ms: Option<i64>,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig {
            seed: 42,
            start_price: 100.0,
            drift: 0.0,
            volatility: 0.8,
            speed: 1.0,
            start_ts_ms: None,
        }
    }
}

/// The replay source: a CSV with header `timestamp,open,high,low,close,volume`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplayConfig {
    /// The CSV file (required with `source: replay`).
    pub file: Option<PathBuf>,
    /// Pacing by the candles' own timestamps: 1 = real time, 60 = a minute
    /// per second, 0 = as fast as possible.
    pub speed: f64,
}

/// The `brain` role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrainConfig {
    /// HTTP address.
    pub listen: SocketAddr,
    /// The strategy and its parameters.
    pub strategy: StrategyConfig,
    /// Unread candles above which the brain reports unready.
    pub max_lag: u64,
    /// Candles between checkpoints of the strategy state (and commits of the
    /// candle cursor). Must be below the candle ring's capacity.
    pub checkpoint_every: u64,
    /// Exit (status 0) once the feed has finished and every candle is handled.
    pub exit_at_end: bool,
}

impl Default for BrainConfig {
    fn default() -> Self {
        BrainConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9102)),
            strategy: StrategyConfig::default(),
            max_lag: 1000,
            checkpoint_every: 1024,
            exit_at_end: false,
        }
    }
}

/// A strategy chosen by name, with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StrategyConfig {
    /// `sma-cross`, `rsi-reversion` or `rules`.
    pub name: String,
    /// Parameters by name (numbers, booleans or strings); missing ones take
    /// the strategy's defaults.
    pub params: BTreeMap<String, ParamValue>,
    /// The rules of strategy `rules` (docs/strategies.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<crate::strategy::RulesSpec>,
}

impl Default for StrategyConfig {
    fn default() -> Self {
        StrategyConfig {
            name: "sma-cross".into(),
            params: BTreeMap::new(),
            rules: None,
        }
    }
}

/// A strategy parameter as written in YAML: `fast: 10`, `short: true`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number.
    Float(f64),
    /// Anything else, as text.
    Text(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Text(s) => f.write_str(s),
        }
    }
}

impl StrategyConfig {
    /// The strategy checked: its parameters, or its rules compiled. The one
    /// way from a configuration to a strategy the engine builds.
    pub fn checked(
        &self,
    ) -> Result<crate::strategy::StrategyParams, crate::strategy::StrategyError> {
        crate::strategy::parse_with_rules(&self.name, &self.param_strings(), self.rules.as_ref())
    }

    /// The parameters as text, the form strategies parse.
    pub fn param_strings(&self) -> BTreeMap<String, String> {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    }
}

/// Paper trading or live orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionMode {
    /// Simulated fills at the next candle's open.
    Paper,
    /// Real orders on the exchange.
    Live,
}

/// The `orchestrator` role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrchestratorConfig {
    /// HTTP address of the open surface: probes and `/metrics`.
    pub listen: SocketAddr,
    /// HTTP address of the control API (`GET /status`, `POST /flatten`),
    /// where every request needs the bearer token.
    pub control_listen: SocketAddr,
    /// The file holding the control API's bearer token (one line). The
    /// orchestrator refuses to start without it: in a pod the operator
    /// mounts it from a Secret, `up` generates one per run.
    pub control_token_file: Option<PathBuf>,
    /// Paper or live.
    pub mode: ExecutionMode,
    /// Directory of the ledger (`ledger.jsonl`): durable storage.
    pub data_dir: PathBuf,
    /// Starting cash (quote currency).
    #[serde(deserialize_with = "decimal::any")]
    pub cash: Decimal,
    /// Fee per fill, basis points of notional.
    #[serde(deserialize_with = "decimal::any")]
    pub fee_bps: Decimal,
    /// Slippage per fill, basis points of price (against us).
    #[serde(deserialize_with = "decimal::any")]
    pub slippage_bps: Decimal,
    /// Quantities are rounded down to a multiple of this.
    #[serde(deserialize_with = "decimal::any")]
    pub qty_step: Decimal,
    /// Fraction of equity a position may use (0 < allocation ≤ 1).
    #[serde(deserialize_with = "decimal::any")]
    pub allocation: Decimal,
    /// Risk limits.
    pub risk: RiskConfig,
    /// Protective exits held for every position (none by default).
    pub exits: ExitsConfig,
    /// The order that opens a position (market by default).
    pub entry_order: EntryOrderConfig,
    /// Periodic health reports.
    pub reports: ReportsConfig,
    /// Where the feed serves /status (for the health report's rejection
    /// counts and candle age); default: the feed's port on 127.0.0.1, which
    /// is the feed container in the same pod.
    pub feed_status_url: Option<String>,
    /// Write a backtest report (report.json, equity.svg) here at the end.
    pub backtest_report: Option<PathBuf>,
    /// Exit (status 0) once the brain has finished and every signal is handled.
    pub exit_at_end: bool,
    /// Live mode: a signal whose candle closed longer ago than this (seconds)
    /// places no order (the feed's backfill, a restart after downtime);
    /// default: a quarter of the interval, at least 1 s (see
    /// [`Config::max_signal_age`]). Paper mode trades every signal.
    pub max_signal_age_secs: Option<f64>,
}

impl Default for OrchestratorConfig {
    fn default() -> Self {
        OrchestratorConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 9103)),
            control_listen: SocketAddr::from(([0, 0, 0, 0], crate::api::CONTROL_PORT)),
            control_token_file: None,
            mode: ExecutionMode::Paper,
            data_dir: PathBuf::from("aegis-data"),
            cash: Decimal::from(10_000),
            fee_bps: Decimal::from(10),
            slippage_bps: Decimal::ZERO,
            qty_step: Decimal::new(1, 5),
            allocation: Decimal::ONE,
            risk: RiskConfig::default(),
            exits: ExitsConfig::default(),
            entry_order: EntryOrderConfig::default(),
            reports: ReportsConfig::default(),
            feed_status_url: None,
            backtest_report: None,
            exit_at_end: false,
            max_signal_age_secs: None,
        }
    }
}

/// The exchange: Binance spot, the live exchange or its testnet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExchangeConfig {
    /// Use Binance's spot testnet (REST and streams) instead of the live
    /// exchange: the one setting that moves an engine to the testnet.
    pub testnet: bool,
    /// The REST base URL, overriding the one `testnet` chooses (a proxy,
    /// the exchange simulator). `https://host` or `https://host/api`.
    pub rest_url: Option<String>,
    /// The WebSocket base URL, overriding the one `testnet` chooses; the
    /// stream is `<ws_url>/<symbol>@kline_<interval>`.
    pub ws_url: Option<String>,
    /// `recvWindow` of signed requests, milliseconds (1-60000; Binance's
    /// default is 5000).
    pub recv_window_ms: u64,
    /// Timeout of one REST request, seconds.
    pub timeout_secs: f64,
    /// Closed candles the `binance` feed backfills by REST before it follows
    /// the stream (1-100000).
    pub backfill_candles: u32,
    /// First delay before reconnecting the kline stream, milliseconds; it
    /// doubles per failed attempt up to `stream_backoff_max_ms`, each delay
    /// jittered to a random value in [half, all] of it.
    pub stream_backoff_initial_ms: u64,
    /// Cap of the stream's reconnect delay, milliseconds.
    pub stream_backoff_max_ms: u64,
    /// The stream is reconnected after this many seconds, before Binance
    /// cuts a connection at 24 hours (default 23 h).
    pub stream_reconnect_after_secs: f64,
    /// A stream connection that receives nothing (not even a ping, which
    /// Binance sends every 20 s) for this many seconds is dropped and
    /// reconnected.
    pub stream_idle_timeout_secs: f64,
}

impl Default for ExchangeConfig {
    fn default() -> Self {
        ExchangeConfig {
            testnet: false,
            rest_url: None,
            ws_url: None,
            recv_window_ms: 5000,
            timeout_secs: 10.0,
            backfill_candles: 500,
            stream_backoff_initial_ms: 500,
            stream_backoff_max_ms: 30_000,
            stream_reconnect_after_secs: 82_800.0,
            stream_idle_timeout_secs: 60.0,
        }
    }
}

/// The least default of `orchestrator.max_signal_age_secs` (for intervals
/// under 4 s, where a quarter would leave no time to act).
pub const MIN_DEFAULT_SIGNAL_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// The live exchange's REST base URL.
pub const MAINNET_REST_URL: &str = "https://api.binance.com";
/// The live exchange's WebSocket stream base URL.
pub const MAINNET_WS_URL: &str = "wss://stream.binance.com:9443/ws";
/// The spot testnet's REST base URL.
pub const TESTNET_REST_URL: &str = "https://testnet.binance.vision";
/// The spot testnet's WebSocket stream base URL.
pub const TESTNET_WS_URL: &str = "wss://stream.testnet.binance.vision/ws";

impl ExchangeConfig {
    /// The REST base URL to use, without a trailing `/` or `/api` (request
    /// paths start with `/api/v3/`), so the testnet's documented
    /// `https://testnet.binance.vision/api` works as written.
    pub fn rest_base(&self) -> String {
        let url = match &self.rest_url {
            Some(url) => url.as_str(),
            None if self.testnet => TESTNET_REST_URL,
            None => MAINNET_REST_URL,
        };
        let url = url.trim_end_matches('/');
        url.strip_suffix("/api").unwrap_or(url).to_string()
    }

    /// The WebSocket base URL to use, without a trailing `/`.
    pub fn ws_base(&self) -> String {
        let url = match &self.ws_url {
            Some(url) => url.as_str(),
            None if self.testnet => TESTNET_WS_URL,
            None => MAINNET_WS_URL,
        };
        url.trim_end_matches('/').to_string()
    }

    /// The REST request timeout.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_secs)
    }
}

/// Risk limits, checked before every order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskConfig {
    /// Largest |position| × price allowed (quote currency).
    #[serde(deserialize_with = "decimal::any_opt")]
    pub max_position_notional: Option<Decimal>,
    /// Drawdown from peak equity (fraction, e.g. 0.2) that flattens and
    /// halts new entries until `clear_halt`.
    #[serde(deserialize_with = "decimal::any_opt")]
    pub max_drawdown: Option<Decimal>,
    /// Loss in one UTC day (quote currency) that flattens and blocks new
    /// entries until the next day.
    #[serde(deserialize_with = "decimal::any_opt")]
    pub daily_loss_limit: Option<Decimal>,
    /// Clear a halt recorded in the ledger at startup.
    pub clear_halt: bool,
}

/// Periodic health reports (Markdown and JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsConfig {
    /// Directory of the reports (default: `<data_dir>/reports`).
    pub dir: Option<PathBuf>,
    /// Minutes between reports.
    pub every_minutes: f64,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            dir: None,
            every_minutes: 360.0,
        }
    }
}

/// Log output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `auto` (JSON, or human-readable when stdout is a terminal), `json` or `text`.
    pub format: LogFormat,
    /// A `tracing` filter: `info`, `aegis_worker=debug,aegis_exchange=debug`, ...
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Auto,
            level: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// JSON unless stdout is a terminal.
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Text,
}

impl Config {
    /// The candle ring's file.
    pub fn candles_ring(&self) -> PathBuf {
        self.rings.dir.join("candles")
    }

    /// The signal ring's file.
    pub fn signals_ring(&self) -> PathBuf {
        self.rings.dir.join("signals")
    }

    /// The ledger file.
    pub fn ledger_path(&self) -> PathBuf {
        self.orchestrator.data_dir.join("ledger.jsonl")
    }

    /// The health reports' directory.
    pub fn reports_dir(&self) -> PathBuf {
        self.orchestrator
            .reports
            .dir
            .clone()
            .unwrap_or_else(|| self.orchestrator.data_dir.join("reports"))
    }

    /// Live mode: how old a signal's candle may be (from its close) and
    /// still place an order: `orchestrator.max_signal_age_secs`, by default
    /// a quarter of the interval and at least [`MIN_DEFAULT_SIGNAL_AGE`]. A
    /// closed kline reaches the engine within a second or two of its close,
    /// so this passes the candle that just closed and nothing older: a
    /// restart after downtime trades from the next candle on.
    pub fn max_signal_age(&self) -> std::time::Duration {
        match self.orchestrator.max_signal_age_secs {
            Some(secs) => std::time::Duration::from_secs_f64(secs),
            None => (std::time::Duration::from_millis(self.interval.as_millis()) / 4)
                .max(MIN_DEFAULT_SIGNAL_AGE),
        }
    }

    /// Seconds after which the feed's data counts as stale.
    pub fn stale_after_secs(&self) -> f64 {
        self.feed
            .stale_after_secs
            .unwrap_or(3.0 * self.interval.as_millis() as f64 / 1000.0)
    }

    /// The effective configuration as YAML, secrets redacted: what roles log
    /// at startup.
    pub fn to_redacted_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("<unprintable: {e}>"))
    }
}
