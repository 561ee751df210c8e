//! The `TradingEngine` custom resource (`aegis.dev/v1alpha1`): what a user
//! writes to run an engine, and the status the operator reports back.
//!
//! The Rust types are the one definition: `aegis-operator crd` prints the
//! CustomResourceDefinition derived from them (kube's `CustomResource` with
//! schemars), and `manifests/crd.yaml` is that output. The schema rejects what
//! it can say — enums, the symbol pattern, bounds, and CEL rules
//! (`x-kubernetes-validations`) for the cross-field ones:
//!
//! | rule | where |
//! | --- | --- |
//! | live mode needs `credentialsSecretRef` | spec |
//! | live mode needs `source: binance` (paper runs on any source) | spec |
//! | `source: replay` needs `replay.path` | spec |
//! | `persistence` sets exactly one of `claimName`, `size` | persistence |
//! | sma-cross: `slow > fast` (defaults 10 and 20 fill in a missing one) | strategy |
//! | params of the other strategy are refused | strategy |
//! | the ring capacity is a power of two | ringCapacity |
//! | the symbol never changes (`self == oldSelf`) | symbol |
//! | `stopLoss` or `atrMultiple`, not both; `trailingAfter` needs `trailingStop` | exits |
//! | the name leaves room for the pod's `-engine` suffix | the object |
//!
//! YAML is camelCase. Quantities of money are numbers in the spec; the
//! operator hands them to the worker as exact decimals.

mod engine_status;
mod exits;
pub mod schema;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use engine_status::{
    ConditionStatus, EngineCondition, Phase, TradingEngineStatus, TradingSummary,
};
pub use exits::{EntryOrderKind, EntryOrderSpec, ExitsSpec, TakeProfitStepSpec};
pub use schema::{DEFAULT_INTERVAL, DEFAULT_RING_CAPACITY, MAX_RING_CAPACITY, MIN_RING_CAPACITY};

/// The API group.
pub const GROUP: &str = "aegis.dev";
/// The API version.
pub const VERSION: &str = "v1alpha1";
/// The longest TradingEngine name: the pod is `<name>-engine` and labels
/// (at most 63 characters) carry the name.
pub const MAX_NAME_LEN: usize = 56;

/// The desired state of one engine: one pod of feed, brain and orchestrator.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aegis.dev",
    version = "v1alpha1",
    kind = "TradingEngine",
    plural = "tradingengines",
    singular = "tradingengine",
    shortname = "te",
    category = "aegis",
    namespaced,
    status = "TradingEngineStatus",
    doc = "A trading engine: one pod running the feed, brain and orchestrator of aegis-worker.",
    printcolumn = r#"{"name":"Symbol","type":"string","jsonPath":".spec.symbol"}"#,
    printcolumn = r#"{"name":"Mode","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Position","type":"string","jsonPath":".status.trading.position"}"#,
    printcolumn = r#"{"name":"PnL","type":"string","jsonPath":".status.trading.pnl"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("size(self.metadata.name) <= 56").message("the name must be at most 56 characters: the pod is named <name>-engine and labels carry the name")
)]
#[x_kube(
    validation = Rule::new("self.mode != 'live' || has(self.credentialsSecretRef)").message("credentialsSecretRef is required when mode is live").field_path(".credentialsSecretRef"),
    validation = Rule::new("self.mode != 'live' || self.source == 'binance'").message("mode live needs source binance: live orders must follow live market data (paper mode runs on any source, the binance feed included)").field_path(".source"),
    validation = Rule::new("self.source != 'replay' || has(self.replay)").message("replay.path is required when source is replay").field_path(".replay"),
    validation = Rule::new("self.mode != 'live' || !has(self.strategy) || !has(self.strategy.params) || !has(self.strategy.params.short) || !self.strategy.params.short").message("strategy.params.short must not be true in live mode: Binance spot has no short positions").field_path(".strategy.params.short")
)]
#[serde(rename_all = "camelCase")]
pub struct TradingEngineSpec {
    /// Where candles come from.
    #[serde(default)]
    pub source: Source,
    /// The CSV to replay (required with `source: replay`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplaySource>,
    /// The traded symbol, Binance style (`BTCUSDT`); immutable.
    #[schemars(schema_with = "schema::symbol")]
    pub symbol: String,
    /// The candle interval (`1s`, `1m`, ..., `1w`).
    #[serde(default = "default_interval")]
    #[schemars(schema_with = "schema::interval")]
    pub interval: String,
    /// Paper trading or live orders.
    #[serde(default)]
    pub mode: Mode,
    /// The strategy and its parameters.
    #[serde(default)]
    pub strategy: StrategySpec,
    /// Risk limits, checked before every order.
    #[serde(default)]
    pub risk: RiskSpec,
    /// Protective exits held for every position: stop-loss, take-profit,
    /// trailing stop. In live mode the exchange holds them (an OCO, a stop,
    /// a trailingDelta stop); a takeProfitTable and a trailing stop beside
    /// another exit are held as plain orders the engine moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exits: Option<ExitsSpec>,
    /// The order that opens a position: market (default) or limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_order: Option<EntryOrderSpec>,
    /// The Secret holding the exchange API key (`apiKey`) and secret
    /// (`apiSecret`); required in live mode. It is used only if its
    /// annotation `aegis.dev/allowed-engines` lists this engine (or is `*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<SecretRef>,
    /// Slots in each ring (a power of two).
    #[serde(default = "default_ring_capacity")]
    #[schemars(schema_with = "schema::ring_capacity")]
    pub ring_capacity: u64,
    /// The container image; the operator's default when absent. It must
    /// match the operator's allow-list of image repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
    /// Resources of each of the three containers (the operator adds the
    /// shared-memory volume to the memory limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// `true` removes the pod (phase Suspended); `false` brings it back.
    #[serde(default)]
    pub suspend: bool,
    /// Durable storage for the ledger; an emptyDir (lost with the pod) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Persistence>,
    /// On delete, close the open position before the pod stops.
    #[serde(default)]
    pub flatten_on_delete: bool,
    /// The exchange the `binance` source and live mode connect to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<ExchangeSpec>,
}

/// Binance spot: the live exchange (default) or its testnet, or other URLs.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeSpec {
    /// Use Binance's spot testnet (REST and streams).
    #[serde(default)]
    pub testnet: bool,
    /// The REST base URL, overriding the one `testnet` chooses; http:// only
    /// to a loopback address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::rest_url")]
    pub rest_url: Option<String>,
    /// The WebSocket stream base URL, overriding the one `testnet` chooses;
    /// ws:// only to a loopback address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::ws_url")]
    pub ws_url: Option<String>,
}

fn default_interval() -> String {
    DEFAULT_INTERVAL.to_string()
}

fn default_ring_capacity() -> u64 {
    DEFAULT_RING_CAPACITY
}

/// Where candles come from.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// A seeded random walk (geometric Brownian motion).
    #[default]
    Simulated,
    /// A CSV file (`replay.path`).
    Replay,
    /// Binance spot klines.
    Binance,
}

/// The replayed CSV.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplaySource {
    /// The CSV (`timestamp,open,high,low,close,volume`): an absolute path in
    /// the feed container, under `/replay` when `claimName` is set.
    #[schemars(schema_with = "schema::absolute_path")]
    pub path: String,
    /// A PersistentVolumeClaim holding the CSV, mounted read-only in the feed
    /// at `/replay`; used only if its annotation `aegis.dev/allowed-engines`
    /// lists this engine (or is `*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::object_name")]
    pub claim_name: Option<String>,
    /// Pacing: 1 = real time, 60 = a minute per second, 0 = as fast as possible.
    #[serde(default)]
    #[schemars(schema_with = "schema::speed")]
    pub speed: f64,
}

/// Paper trading or live orders.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Simulated fills at the next candle's open.
    #[default]
    Paper,
    /// Real orders on the exchange (needs `credentialsSecretRef`).
    Live,
}

/// The strategies the worker has.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StrategyName {
    /// Long when the fast SMA crosses above the slow one.
    #[default]
    #[serde(rename = "sma-cross")]
    SmaCross,
    /// Long when the RSI is oversold, out when overbought.
    #[serde(rename = "rsi-reversion")]
    RsiReversion,
    /// Your own indicators and entry/exit conditions in CEL (`rules`).
    #[serde(rename = "rules")]
    Rules,
}

impl StrategyName {
    /// The worker's name of the strategy.
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyName::SmaCross => "sma-cross",
            StrategyName::RsiReversion => "rsi-reversion",
            StrategyName::Rules => "rules",
        }
    }
}

/// A strategy and its parameters.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[x_kube(
    validation = Rule::new("self.name != 'sma-cross' || (has(self.params.slow) ? self.params.slow : 20) > (has(self.params.fast) ? self.params.fast : 10)").message("sma-cross needs params.slow > params.fast (defaults: fast 10, slow 20)").field_path(".params"),
    validation = Rule::new("self.name == 'sma-cross' || (!has(self.params.fast) && !has(self.params.slow))").message("fast and slow are parameters of sma-cross only").field_path(".params"),
    validation = Rule::new("self.name == 'rsi-reversion' || (!has(self.params.period) && !has(self.params.oversold) && !has(self.params.overbought))").message("period, oversold and overbought are parameters of rsi-reversion only").field_path(".params"),
    validation = Rule::new("(has(self.params.oversold) ? self.params.oversold : 30.0) < (has(self.params.overbought) ? self.params.overbought : 70.0)").message("rsi-reversion needs params.oversold < params.overbought (defaults: 30 and 70)").field_path(".params"),
    validation = Rule::new("(self.name == 'rules') == has(self.rules)").message("strategy rules needs spec.strategy.rules, and rules are for strategy rules only").field_path(".rules")
)]
#[serde(rename_all = "camelCase")]
pub struct StrategySpec {
    /// `sma-cross`, `rsi-reversion` or `rules`.
    #[serde(default)]
    pub name: StrategyName,
    /// Its parameters; missing ones take the strategy's defaults.
    #[serde(default)]
    pub params: StrategyParams,
    /// The rules of strategy `rules` (docs/strategies.md); the operator
    /// checks them before any pod exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<StrategyRules>,
}

/// A strategy written as rules: CEL over named indicators. The keys are the
/// rule file's (`enter_long`, not `enterLong`), so one file serves both.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
pub struct StrategyRules {
    /// Named numbers the rules read by name, e.g. `fast: 10` for
    /// `sma(close, fast)`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, f64>,
    /// Named indicators, e.g. `fast: sma(close, 10)`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub indicators: BTreeMap<String, String>,
    /// When to go long, e.g. `crossAbove(fast, slow)`.
    #[schemars(length(min = 1, max = 4096))]
    pub enter_long: String,
    /// When to leave a long.
    #[schemars(length(min = 1, max = 4096))]
    pub exit_long: String,
    /// When to go short (paper only: Binance spot has no shorts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub enter_short: Option<String>,
    /// When to leave a short.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub exit_short: Option<String>,
}

impl From<StrategyRules> for aegis_contract::strategy::RulesSpec {
    fn from(r: StrategyRules) -> Self {
        aegis_contract::strategy::RulesSpec {
            params: r.params,
            indicators: r.indicators,
            enter_long: r.enter_long,
            exit_long: r.exit_long,
            enter_short: r.enter_short,
            exit_short: r.exit_short,
        }
    }
}

/// The parameters of every strategy, typed so that the schema (and CEL) can
/// check them; a parameter of the other strategy is refused by a rule.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StrategyParams {
    /// sma-cross: period of the fast SMA (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::period")]
    pub fast: Option<i64>,
    /// sma-cross: period of the slow SMA (default 20), greater than `fast`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::period")]
    pub slow: Option<i64>,
    /// rsi-reversion: the RSI period (default 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::period")]
    pub period: Option<i64>,
    /// rsi-reversion: enter long below this RSI (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::rsi_level")]
    pub oversold: Option<f64>,
    /// rsi-reversion: leave (or go short) above this RSI (default 70).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::rsi_level")]
    pub overbought: Option<f64>,
    /// Both: go short instead of flat on the opposite signal (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
}

/// Risk limits (all optional).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RiskSpec {
    /// Largest |position| × price, quote currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::positive_amount")]
    pub max_position_notional: Option<f64>,
    /// Drawdown from peak equity (a fraction) that flattens and halts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::open_fraction")]
    pub max_drawdown: Option<f64>,
    /// Loss in one UTC day (quote currency) that flattens until the next day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::positive_amount")]
    pub daily_loss_limit: Option<f64>,
}

/// A Secret in the engine's namespace.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct SecretRef {
    /// The Secret's name.
    #[schemars(schema_with = "schema::object_name")]
    pub name: String,
}

/// Durable storage for the ledger: an existing claim, or a size for a claim
/// the operator creates (`<name>-ledger`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("has(self.claimName) != has(self.size)").message("set exactly one of persistence.claimName and persistence.size"))]
#[serde(rename_all = "camelCase")]
pub struct Persistence {
    /// An existing PersistentVolumeClaim; used only if its annotation
    /// `aegis.dev/allowed-engines` lists this engine (or is `*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schema::object_name")]
    pub claim_name: Option<String>,
    /// The size of a claim the operator creates, e.g. `1Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
}

/// The CustomResourceDefinition: kube's derived one, without the schema
/// title the derive leaves on the root (the name of an internal type).
pub fn crd() -> CustomResourceDefinition {
    let mut crd = TradingEngine::crd();
    for version in &mut crd.spec.versions {
        if let Some(root) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            root.title = None;
        }
    }
    crd
}

/// The CustomResourceDefinition as YAML: what `aegis-operator crd` prints and
/// `manifests/crd.yaml` holds.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    Ok(format!(
        "{CRD_YAML_HEADER}{}",
        serde_yaml::to_string(&crd())?
    ))
}

/// The comment at the top of [`crd_yaml`].
pub const CRD_YAML_HEADER: &str = "# Generated by `aegis-operator crd` from operator/src/crd.rs; do not edit.\n# Regenerate: cargo run -p aegis-operator -- crd > manifests/crd.yaml\n";
