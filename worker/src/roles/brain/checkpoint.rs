//! The brain's checkpoint: the strategy's whole state at a candle boundary,
//! kept next to the rings so a restarted brain continues exactly.
//!
//! The brain commits its candle cursor only right after writing a checkpoint,
//! so the cursor never passes the checkpoint: after a crash it re-reads the
//! candles since the checkpoint, recomputes their signals (deterministically,
//! so identically) and publishes only those the signal ring does not hold yet.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::config::StrategyConfig;

/// One checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Strategy name it belongs to.
    pub strategy: String,
    /// Its parameters (as text).
    pub params: std::collections::BTreeMap<String, String>,
    /// `Strategy::save()` after the last candle before `candle_next`.
    pub state: serde_json::Value,
    /// The first candle sequence not yet in `state`.
    pub candle_next: u64,
    /// The signal sequence that candle will produce.
    pub signal_next: u64,
}

/// The parameters a checkpoint records for `strategy`: its parameters as
/// text and, for `rules`, the rules as JSON under `rules`, so that a
/// checkpoint of other rules is recognised as another strategy's.
pub fn params_of(strategy: &StrategyConfig) -> BTreeMap<String, String> {
    let mut params = strategy.param_strings();
    if let Some(rules) = &strategy.rules {
        // Strings and a map of strings: serializing cannot fail.
        let json = serde_json::to_string(rules).expect("rules serialize");
        params.insert("rules".to_string(), json);
    }
    params
}

/// Where the brain keeps its checkpoint.
pub fn path(rings_dir: &Path) -> PathBuf {
    rings_dir.join("brain.checkpoint.json")
}

/// Reads the checkpoint; `Ok(None)` if there is none. A checkpoint that does
/// not parse is an error, not silently ignored: it names the file.
pub fn load(path: &Path) -> anyhow::Result<Option<Checkpoint>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("brain checkpoint {} is corrupt", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading brain checkpoint {}", path.display())),
    }
}

/// Writes the checkpoint atomically and durably (a temporary file flushed,
/// renamed over the old one, the directory flushed).
pub fn store(path: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(checkpoint).context("encoding the brain checkpoint")?;
    aegis_runtime::durable::write_atomic(path, &bytes)
        .with_context(|| format!("writing brain checkpoint {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aegis_contract::strategy::{MAX_CHECKPOINT_BYTES, MAX_PERIOD};

    /// The checkpoint of `name` with `params` after enough closes to fill
    /// its windows, each close one whose JSON form is as long as any (a
    /// negative number near the smallest normal `f64`), as `store` writes it.
    fn worst_checkpoint(name: &str, params: &[(&str, usize)]) -> (Vec<u8>, u64) {
        let params: std::collections::BTreeMap<String, String> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let bound = aegis_contract::strategy::parse(name, &params)
            .expect("valid parameters")
            .checkpoint_bytes_max();
        let mut strategy = aegis_engine::strategy::build(name, &params).expect("a strategy");
        for i in 0..=MAX_PERIOD as u64 {
            strategy.on_close(-f64::from_bits(f64::MIN_POSITIVE.to_bits() + 7919 * i + 1));
        }
        let checkpoint = Checkpoint {
            strategy: name.into(),
            params,
            state: strategy.save(),
            candle_next: u64::MAX,
            signal_next: u64::MAX,
        };
        let bytes = serde_json::to_vec(&checkpoint).expect("encodes");
        (bytes, bound)
    }

    /// The largest periods the contract allows give a checkpoint within
    /// the contract's bound, which the operator sizes the volume with.
    #[test]
    fn the_largest_checkpoints_fit_the_contracts_bound() {
        let (bytes, bound) = worst_checkpoint(
            "sma-cross",
            &[("fast", MAX_PERIOD - 1), ("slow", MAX_PERIOD)],
        );
        assert!(
            bytes.len() as u64 <= bound && bound <= MAX_CHECKPOINT_BYTES,
            "{} bytes, bound {bound}, maximum {MAX_CHECKPOINT_BYTES}",
            bytes.len()
        );
        assert!(
            bytes.len() as u64 > 2 * MAX_PERIOD as u64 * 20,
            "the windows are in it: {} bytes",
            bytes.len()
        );
        let (bytes, bound) = worst_checkpoint("rsi-reversion", &[("period", MAX_PERIOD)]);
        assert!(bytes.len() as u64 <= bound, "{} > {bound}", bytes.len());
        // Rules: the state and the rules' text among the parameters, with
        // text that escapes to the longest JSON.
        let text = "\u{1}".repeat(3000);
        let strategy = StrategyConfig {
            name: "rules".into(),
            params: BTreeMap::new(),
            rules: Some(aegis_contract::strategy::RulesSpec {
                indicators: BTreeMap::from([(
                    "a".to_string(),
                    format!("sma(close, {})", MAX_PERIOD - 20_000),
                )]),
                enter_long: format!("a > 0 || close[1000] > 0 || {text} > 0"),
                exit_long: "false".into(),
                ..Default::default()
            }),
        };
        let spec = strategy.rules.as_ref().expect("rules");
        // The control character is refused by the rules' syntax: check the
        // bound on the text alone, then on real rules.
        assert!(aegis_contract::strategy::rules::compile(spec).is_err());
        let checked_spec = aegis_contract::strategy::RulesSpec {
            enter_long: format!("a > 0 || close[1000] > 0 || {} > 0", "1".repeat(3000)),
            ..spec.clone()
        };
        for spec in [spec.clone(), checked_spec] {
            let rules = aegis_contract::strategy::rules::Rules {
                program: aegis_contract::strategy::rules::compile(
                    &aegis_contract::strategy::RulesSpec {
                        enter_long: "a > 0 || close[1000] > 0".into(),
                        ..spec.clone()
                    },
                )
                .expect("valid")
                .program,
                spec: spec.clone(),
            };
            let bound = rules.checkpoint_bytes_max();
            let config = StrategyConfig {
                rules: Some(spec),
                ..strategy.clone()
            };
            let mut running = aegis_engine::strategy::RulesStrategy::new(rules).expect("built");
            use aegis_engine::strategy::Strategy as _;
            for i in 0..=MAX_PERIOD as u64 {
                running.on_close(-f64::from_bits(f64::MIN_POSITIVE.to_bits() + 7919 * i + 1));
            }
            let checkpoint = Checkpoint {
                strategy: "rules".into(),
                params: params_of(&config),
                state: running.save(),
                candle_next: u64::MAX,
                signal_next: u64::MAX,
            };
            let bytes = serde_json::to_vec(&checkpoint).expect("encodes").len() as u64;
            assert!(
                bytes <= bound && bound <= MAX_CHECKPOINT_BYTES,
                "{bytes} bytes, bound {bound}"
            );
        }
    }

    /// A file planted where older builds put the temporary checkpoint (a
    /// symlink to another file, a FIFO that would block the write) neither
    /// redirects nor blocks the write: temporary names are unpredictable
    /// and created exclusively, never through a link.
    #[test]
    fn a_planted_temporary_file_is_not_followed() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").expect("the victim");
        let path = path(dir.path());
        std::os::unix::fs::symlink(&victim, path.with_extension("json.tmp")).expect("a symlink");
        let checkpoint = Checkpoint {
            strategy: "sma-cross".into(),
            params: Default::default(),
            state: serde_json::json!({"n": 1}),
            candle_next: 3,
            signal_next: 3,
        };
        store(&path, &checkpoint).expect("stored");
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious");
        let loaded = load(&path).expect("loads").expect("a checkpoint");
        assert_eq!(loaded.candle_next, 3);
    }
}
