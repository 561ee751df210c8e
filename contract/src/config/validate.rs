//! Checking a configuration before anything starts, with errors that name the field.

use std::path::PathBuf;

use rust_decimal::Decimal;

use super::{Config, ExecutionMode, SourceKind};
use crate::endpoint::UrlKind;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid YAML, or not a mapping.
    #[error("config file {path}: {message}")]
    Yaml {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A field has a bad value (or does not exist).
    #[error("config field {field}: {message}")]
    Invalid {
        /// Dotted path of the field, e.g. `orchestrator.fee_bps`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

fn invalid(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn check(ok: bool, field: &str, message: impl FnOnce() -> String) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(field, message()))
    }
}

fn finite_at_least(value: f64, min: f64, field: &str) -> Result<(), ConfigError> {
    check(value.is_finite() && value >= min, field, || {
        format!("must be a finite number ≥ {min}, got {value}")
    })
}

fn positive(value: Decimal, field: &str) -> Result<(), ConfigError> {
    check(value > Decimal::ZERO, field, || {
        format!("must be greater than 0, got {value}")
    })
}

fn non_negative(value: Decimal, field: &str) -> Result<(), ConfigError> {
    check(value >= Decimal::ZERO, field, || {
        format!("must not be negative, got {value}")
    })
}

fn ring_capacity(value: u64, field: &str) -> Result<(), ConfigError> {
    check(
        value.is_power_of_two() && (2..=1 << 30).contains(&value),
        field,
        || format!("must be a power of two between 2 and 2^30, got {value}"),
    )
}

/// `feed.source` as the configuration spells it.
fn source_name(source: SourceKind) -> &'static str {
    match source {
        SourceKind::Simulated => "simulated",
        SourceKind::Replay => "replay",
        SourceKind::Binance => "binance",
    }
}

impl Config {
    /// Checks every field; the first bad one is the error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            !self.engine.is_empty()
                && self.engine.len() <= 63
                && self
                    .engine
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "engine",
            || {
                format!(
                    "must be 1-63 letters, digits, '-' or '_', got {:?}",
                    self.engine
                )
            },
        )?;
        check(
            (2..=20).contains(&self.symbol.len())
                && self
                    .symbol
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "symbol",
            || {
                format!(
                    "must be 2-20 upper-case letters or digits, like BTCUSDT, got {:?}",
                    self.symbol
                )
            },
        )?;
        self.validate_rings()?;
        self.validate_feed()?;
        self.validate_brain()?;
        self.validate_orchestrator()?;
        self.validate_exchange()?;
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| invalid("log.level", format!("{:?}: {e}", self.log.level)))?;
        Ok(())
    }

    fn validate_rings(&self) -> Result<(), ConfigError> {
        check(!self.rings.dir.as_os_str().is_empty(), "rings.dir", || {
            "must not be empty".into()
        })?;
        ring_capacity(self.rings.candles_capacity, "rings.candles_capacity")?;
        ring_capacity(self.rings.signals_capacity, "rings.signals_capacity")
    }

    fn validate_feed(&self) -> Result<(), ConfigError> {
        let feed = &self.feed;
        match feed.source {
            SourceKind::Simulated => {
                let sim = &feed.simulated;
                check(
                    sim.start_price.is_finite() && sim.start_price > 0.0,
                    "feed.simulated.start_price",
                    || format!("must be a finite price > 0, got {}", sim.start_price),
                )?;
                finite_at_least(sim.volatility, 0.0, "feed.simulated.volatility")?;
                finite_at_least(sim.drift, f64::MIN, "feed.simulated.drift")?;
                finite_at_least(sim.speed, 0.0, "feed.simulated.speed")?;
            }
            SourceKind::Replay => {
                feed.replay.file.as_ref().ok_or_else(|| {
                    invalid("feed.replay.file", "is required with feed.source: replay")
                })?;
                finite_at_least(feed.replay.speed, 0.0, "feed.replay.speed")?;
            }
            SourceKind::Binance => {}
        }
        if let Some(stale) = feed.stale_after_secs {
            check(
                stale.is_finite() && stale > 0.0,
                "feed.stale_after_secs",
                || format!("must be a number of seconds > 0, got {stale}"),
            )?;
        }
        Ok(())
    }

    fn validate_exchange(&self) -> Result<(), ConfigError> {
        let x = &self.exchange;
        if let Some(url) = &x.rest_url {
            crate::endpoint::check(url, UrlKind::Rest)
                .map_err(|e| invalid("exchange.rest_url", e.to_string()))?;
        }
        if let Some(url) = &x.ws_url {
            crate::endpoint::check(url, UrlKind::Stream)
                .map_err(|e| invalid("exchange.ws_url", e.to_string()))?;
        }
        check(
            (1..=60_000).contains(&x.recv_window_ms),
            "exchange.recv_window_ms",
            || {
                format!(
                    "must be 1-60000 milliseconds (Binance's limit), got {}",
                    x.recv_window_ms
                )
            },
        )?;
        check(
            x.timeout_secs.is_finite() && x.timeout_secs > 0.0 && x.timeout_secs <= 300.0,
            "exchange.timeout_secs",
            || {
                format!(
                    "must be a number of seconds in (0, 300], got {}",
                    x.timeout_secs
                )
            },
        )?;
        check(
            (1..=100_000).contains(&x.backfill_candles),
            "exchange.backfill_candles",
            || format!("must be 1-100000, got {}", x.backfill_candles),
        )?;
        check(
            x.stream_backoff_initial_ms >= 1,
            "exchange.stream_backoff_initial_ms",
            || "must be at least 1 millisecond".into(),
        )?;
        check(
            x.stream_backoff_max_ms >= x.stream_backoff_initial_ms,
            "exchange.stream_backoff_max_ms",
            || {
                format!(
                    "must be at least exchange.stream_backoff_initial_ms ({}), got {}",
                    x.stream_backoff_initial_ms, x.stream_backoff_max_ms
                )
            },
        )?;
        check(
            x.stream_reconnect_after_secs.is_finite()
                && x.stream_reconnect_after_secs > 0.0
                && x.stream_reconnect_after_secs < 86_400.0,
            "exchange.stream_reconnect_after_secs",
            || {
                format!(
                    "must be seconds in (0, 86400): Binance cuts a connection at 24 h, got {}",
                    x.stream_reconnect_after_secs
                )
            },
        )?;
        check(
            x.stream_idle_timeout_secs.is_finite() && x.stream_idle_timeout_secs > 0.0,
            "exchange.stream_idle_timeout_secs",
            || {
                format!(
                    "must be a number of seconds > 0, got {}",
                    x.stream_idle_timeout_secs
                )
            },
        )?;
        let spot_short = self.orchestrator.mode == ExecutionMode::Live
            && matches!(
                self.brain.strategy.params.get("short"),
                Some(super::ParamValue::Bool(true))
            );
        check(!spot_short, "brain.strategy.params.short", || {
            "must not be true with orchestrator.mode live: Binance spot has no short positions"
                .into()
        })?;
        let rules_short = self.orchestrator.mode == ExecutionMode::Live
            && self
                .brain
                .strategy
                .rules
                .as_ref()
                .is_some_and(|r| r.enter_short.is_some());
        check(!rules_short, "brain.strategy.rules.enter_short", || {
            "must not be set with orchestrator.mode live: Binance spot has no short positions"
                .into()
        })
    }

    fn validate_brain(&self) -> Result<(), ConfigError> {
        let brain = &self.brain;
        check(brain.max_lag >= 1, "brain.max_lag", || {
            "must be at least 1".into()
        })?;
        check(
            brain.checkpoint_every >= 1 && brain.checkpoint_every < self.rings.candles_capacity,
            "brain.checkpoint_every",
            || {
                format!(
                    "must be between 1 and rings.candles_capacity - 1 ({}), got {}",
                    self.rings.candles_capacity - 1,
                    brain.checkpoint_every
                )
            },
        )?;
        brain.strategy.checked().map_err(|e| {
            let field = match e {
                crate::strategy::StrategyError::UnknownStrategy { .. } => "brain.strategy.name",
                crate::strategy::StrategyError::Rule(_) => "brain.strategy.rules",
                _ => "brain.strategy.params",
            };
            invalid(field, e.to_string())
        })?;
        Ok(())
    }

    fn validate_orchestrator(&self) -> Result<(), ConfigError> {
        let o = &self.orchestrator;
        // The simulated feed stamps its random walk with the current time and
        // a replay can be paced to look current: both would pass the
        // freshness rule and place real orders on made-up prices.
        check(
            o.mode != ExecutionMode::Live || self.feed.source == SourceKind::Binance,
            "orchestrator.mode",
            || {
                format!(
                    "live places real orders and needs feed.source: binance (live market data), \
                     got feed.source: {}; use orchestrator.mode: paper for a dry run on any feed",
                    source_name(self.feed.source)
                )
            },
        )?;
        check(
            !o.data_dir.as_os_str().is_empty(),
            "orchestrator.data_dir",
            || "must not be empty".into(),
        )?;
        positive(o.cash, "orchestrator.cash")?;
        non_negative(o.fee_bps, "orchestrator.fee_bps")?;
        non_negative(o.slippage_bps, "orchestrator.slippage_bps")?;
        let bps_max = Decimal::from(10_000);
        check(o.fee_bps < bps_max, "orchestrator.fee_bps", || {
            format!("must be below 10000 (100%), got {}", o.fee_bps)
        })?;
        check(
            o.slippage_bps < bps_max,
            "orchestrator.slippage_bps",
            || format!("must be below 10000 (100%), got {}", o.slippage_bps),
        )?;
        positive(o.qty_step, "orchestrator.qty_step")?;
        check(
            o.allocation > Decimal::ZERO && o.allocation <= Decimal::ONE,
            "orchestrator.allocation",
            || format!("must be in (0, 1], got {}", o.allocation),
        )?;
        if let Some(cap) = o.risk.max_position_notional {
            positive(cap, "orchestrator.risk.max_position_notional")?;
        }
        if let Some(dd) = o.risk.max_drawdown {
            check(
                dd > Decimal::ZERO && dd < Decimal::ONE,
                "orchestrator.risk.max_drawdown",
                || format!("must be a fraction in (0, 1), e.g. 0.2, got {dd}"),
            )?;
        }
        if let Some(limit) = o.risk.daily_loss_limit {
            positive(limit, "orchestrator.risk.daily_loss_limit")?;
        }
        o.exits
            .check()
            .map_err(|e| invalid(&format!("orchestrator.exits.{}", e.field), e.message))?;
        o.entry_order
            .check()
            .map_err(|e| invalid(&format!("orchestrator.entry_order.{}", e.field), e.message))?;
        if let Some(age) = o.max_signal_age_secs {
            check(
                age.is_finite() && age > 0.0 && age <= 1e9,
                "orchestrator.max_signal_age_secs",
                || format!("must be a number of seconds in (0, 1e9], got {age}"),
            )?;
        }
        let every = o.reports.every_minutes;
        check(
            every.is_finite() && every > 0.0,
            "orchestrator.reports.every_minutes",
            || format!("must be a number of minutes > 0, got {every}"),
        )?;
        Ok(())
    }
}
