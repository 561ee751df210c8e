//! The worker configuration of an engine: the `config.yaml` every container
//! of the pod reads, built as an [`aegis_contract::config::Config`] so that the
//! worker's own type is the one definition of the format.
//!
//! Fixed for pods: rings in `/dev/shm/aegis` (the memory emptyDir), the three
//! roles on 0.0.0.0:9101/9102/9103, the orchestrator's control API on
//! 0.0.0.0:9104 with its token in [`CONTROL_TOKEN_FILE`], the ledger in
//! `/var/lib/aegis`, JSON logs, and no `exit_at_end` (an engine runs until
//! it is deleted).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use aegis_contract::config::{
    Config, EntryOrderConfig, EntryOrderType, ExecutionMode, ExitsConfig, Interval, LogFormat,
    ParamValue, SourceKind, TakeProfitStep,
};
use rust_decimal::Decimal;

use super::SpecError;
use crate::crd::{
    EntryOrderKind, EntryOrderSpec, ExitsSpec, Mode, Source, StrategyParams, TradingEngineSpec,
    MAX_RING_CAPACITY, MIN_RING_CAPACITY,
};

/// Where the rings live in every container (inside the `/dev/shm` volume).
pub const RINGS_DIR: &str = "/dev/shm/aegis";
/// The orchestrator's ledger and reports (an emptyDir or the claim).
pub const DATA_DIR: &str = "/var/lib/aegis";
/// The feed's HTTP port (/healthz /readyz /metrics /status).
pub const FEED_PORT: u16 = 9101;
/// The brain's HTTP port.
pub const BRAIN_PORT: u16 = 9102;
/// The orchestrator's HTTP port (probes and `/metrics`).
pub const ORCHESTRATOR_PORT: u16 = 9103;
/// The orchestrator's control API port (`/status`, `POST /flatten`).
pub use aegis_contract::api::CONTROL_PORT;
/// Where the engine's token Secret is mounted in the orchestrator container.
pub const CONTROL_TOKEN_DIR: &str = "/var/run/aegis/control";
/// The control API's token file (the Secret's `token` entry).
pub const CONTROL_TOKEN_FILE: &str = "/var/run/aegis/control/token";
/// Candles between the brain's checkpoints, at most (the worker's default).
const CHECKPOINT_EVERY: u64 = 1024;

fn any_address(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], port))
}

/// A spec amount (a JSON number) as an exact decimal, through its shortest
/// decimal text: `0.2` becomes exactly 0.2.
fn amount(value: Option<f64>, field: &'static str) -> Result<Option<Decimal>, SpecError> {
    value
        .map(|x| {
            let text = x.to_string();
            if !x.is_finite() {
                return Err(SpecError::Amount { field, value: text });
            }
            Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .map_err(|_| SpecError::Amount { field, value: text })
        })
        .transpose()
}

/// `spec.exits` as the worker's `orchestrator.exits`.
fn exits_config(spec: &ExitsSpec) -> Result<ExitsConfig, SpecError> {
    let mut table = Vec::with_capacity(spec.take_profit_table.len());
    for step in &spec.take_profit_table {
        table.push(TakeProfitStep {
            after_minutes: u64::try_from(step.after_minutes).map_err(|_| SpecError::Amount {
                field: "exits.takeProfitTable.afterMinutes",
                value: step.after_minutes.to_string(),
            })?,
            profit: amount(Some(step.profit), "exits.takeProfitTable.profit")?.unwrap_or_default(),
        });
    }
    let defaults = ExitsConfig::default();
    let atr_period = match spec.atr_period {
        None => defaults.atr_period,
        Some(p) => u32::try_from(p).map_err(|_| SpecError::Amount {
            field: "exits.atrPeriod",
            value: p.to_string(),
        })?,
    };
    Ok(ExitsConfig {
        stop_loss: amount(spec.stop_loss, "exits.stopLoss")?,
        atr_multiple: amount(spec.atr_multiple, "exits.atrMultiple")?,
        atr_period,
        take_profit: amount(spec.take_profit, "exits.takeProfit")?,
        take_profit_table: table,
        trailing_stop: amount(spec.trailing_stop, "exits.trailingStop")?,
        trailing_after: amount(spec.trailing_after, "exits.trailingAfter")?,
    })
}

/// `spec.entryOrder` as the worker's `orchestrator.entry_order`.
fn entry_order_config(spec: &EntryOrderSpec) -> Result<EntryOrderConfig, SpecError> {
    let defaults = EntryOrderConfig::default();
    Ok(EntryOrderConfig {
        order_type: match spec.order_type {
            EntryOrderKind::Market => EntryOrderType::Market,
            EntryOrderKind::Limit => EntryOrderType::Limit,
        },
        offset: amount(spec.offset, "entryOrder.offset")?.unwrap_or(defaults.offset),
        ttl_bars: match spec.ttl_bars {
            None => defaults.ttl_bars,
            Some(n) => u32::try_from(n).map_err(|_| SpecError::Amount {
                field: "entryOrder.ttlBars",
                value: n.to_string(),
            })?,
        },
    })
}

/// The worker's name for an engine: its Kubernetes name with any `.` (which
/// the worker does not accept) as `-`.
pub fn engine_label(name: &str) -> String {
    name.replace('.', "-")
}

fn strategy_params(params: &StrategyParams) -> std::collections::BTreeMap<String, ParamValue> {
    let mut out = std::collections::BTreeMap::new();
    let ints = [
        ("fast", params.fast),
        ("slow", params.slow),
        ("period", params.period),
    ];
    for (name, value) in ints {
        if let Some(v) = value {
            out.insert(name.to_string(), ParamValue::Int(v));
        }
    }
    let floats = [
        ("oversold", params.oversold),
        ("overbought", params.overbought),
    ];
    for (name, value) in floats {
        if let Some(v) = value {
            out.insert(name.to_string(), ParamValue::Float(v));
        }
    }
    if let Some(short) = params.short {
        out.insert("short".to_string(), ParamValue::Bool(short));
    }
    out
}

/// The worker configuration for the engine `name` with `spec`.
///
/// Checks what the schema may have let through and the worker would refuse at
/// startup (a crash loop): the interval, the ring capacity, the strategy and
/// its parameters (with the contract's own checks, the ones every role starts with), amounts,
/// live mode without credentials, replay without a path.
pub fn worker_config(name: &str, spec: &TradingEngineSpec) -> Result<Config, SpecError> {
    let mut config = Config {
        engine: engine_label(name),
        symbol: spec.symbol.clone(),
        interval: Interval::from_str(&spec.interval).map_err(|message| SpecError::Interval {
            value: spec.interval.clone(),
            message,
        })?,
        ..Config::default()
    };

    let capacity = spec.ring_capacity;
    if !capacity.is_power_of_two() || !(MIN_RING_CAPACITY..=MAX_RING_CAPACITY).contains(&capacity) {
        return Err(SpecError::RingCapacity { value: capacity });
    }
    config.rings.dir = PathBuf::from(RINGS_DIR);
    config.rings.candles_capacity = capacity;
    config.rings.signals_capacity = capacity;

    config.feed.listen = any_address(FEED_PORT);
    config.feed.exit_at_end = false;
    match spec.source {
        Source::Simulated => config.feed.source = SourceKind::Simulated,
        Source::Binance => config.feed.source = SourceKind::Binance,
        Source::Replay => {
            let replay = spec.replay.as_ref().ok_or(SpecError::MissingReplay)?;
            if !replay.speed.is_finite() || replay.speed < 0.0 {
                return Err(SpecError::Amount {
                    field: "replay.speed",
                    value: replay.speed.to_string(),
                });
            }
            config.feed.source = SourceKind::Replay;
            config.feed.replay.file = Some(PathBuf::from(&replay.path));
            config.feed.replay.speed = replay.speed;
        }
    }

    config.brain.listen = any_address(BRAIN_PORT);
    config.brain.exit_at_end = false;
    config.brain.checkpoint_every = CHECKPOINT_EVERY.min(capacity / 2);
    config.brain.strategy.name = spec.strategy.name.as_str().to_string();
    config.brain.strategy.params = strategy_params(&spec.strategy.params);
    config.brain.strategy.rules = spec.strategy.rules.clone().map(Into::into);
    config
        .brain
        .strategy
        .checked()
        .map_err(|e| SpecError::Strategy {
            message: e.to_string(),
        })?;

    let o = &mut config.orchestrator;
    o.listen = any_address(ORCHESTRATOR_PORT);
    o.control_listen = any_address(CONTROL_PORT);
    o.control_token_file = Some(PathBuf::from(CONTROL_TOKEN_FILE));
    o.exit_at_end = false;
    o.data_dir = PathBuf::from(DATA_DIR);
    o.mode = match spec.mode {
        Mode::Paper => ExecutionMode::Paper,
        Mode::Live => {
            if spec.credentials_secret_ref.is_none() {
                return Err(SpecError::MissingCredentials);
            }
            ExecutionMode::Live
        }
    };
    o.risk.max_position_notional =
        amount(spec.risk.max_position_notional, "risk.maxPositionNotional")?;
    o.risk.max_drawdown = amount(spec.risk.max_drawdown, "risk.maxDrawdown")?;
    o.risk.daily_loss_limit = amount(spec.risk.daily_loss_limit, "risk.dailyLossLimit")?;
    if let Some(exits) = &spec.exits {
        o.exits = exits_config(exits)?;
    }
    if let Some(entry) = &spec.entry_order {
        o.entry_order = entry_order_config(entry)?;
    }

    if let Some(exchange) = &spec.exchange {
        config.exchange.testnet = exchange.testnet;
        config.exchange.rest_url.clone_from(&exchange.rest_url);
        config.exchange.ws_url.clone_from(&exchange.ws_url);
    }

    config.log.format = LogFormat::Json;
    config.validate().map_err(|e| SpecError::Invalid {
        message: e.to_string(),
    })?;
    Ok(config)
}

/// The configuration as the YAML file the containers read.
pub fn config_yaml(config: &Config) -> Result<String, SpecError> {
    serde_yaml::to_string(config).map_err(|e| SpecError::Serialize {
        message: e.to_string(),
    })
}
