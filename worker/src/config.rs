//! The configuration as this binary reads it: the contract's format and
//! checks ([`aegis_contract::config`], re-exported whole), plus the parts that
//! touch the machine: reading the file and the `AEGIS__*` environment
//! ([`load`]), checking that a replay file exists, and the [`UsageError`] of
//! a command line that asks for something impossible.

use std::path::{Path, PathBuf};

pub use aegis_contract::config::*;

/// Where configuration comes from, in increasing precedence.
#[derive(Clone, Debug, Default)]
pub struct ConfigSource {
    /// The YAML file, if any.
    pub file: Option<PathBuf>,
    /// `(path, value)` pairs from the environment.
    pub env: Vec<(String, String)>,
    /// `(path, value)` pairs from flags.
    pub sets: Vec<(String, String)>,
}

impl ConfigSource {
    /// The `AEGIS__*` variables of this process's environment.
    pub fn from_process_env(file: Option<PathBuf>, sets: Vec<(String, String)>) -> Self {
        ConfigSource {
            file,
            env: env_overrides(
                std::env::vars_os()
                    .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
            ),
            sets,
        }
    }
}

/// Reads the file, applies the environment and the flags (later wins), and
/// validates: defaults < file < `AEGIS__*` < `--set`.
pub fn load(source: &ConfigSource) -> Result<Config, ConfigError> {
    let text = match &source.file {
        Some(path) => Some((path.as_path(), read_file(path)?)),
        None => None,
    };
    parse(
        text.as_ref().map(|(path, text)| (*path, text.as_str())),
        source.env.iter().chain(&source.sets),
    )
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Makes the rules in the YAML file `path` (`indicators`, `enter_long`,
/// `exit_long`, ... as in docs/strategies.md) the brain's strategy: name
/// `rules`, no parameters. The rules are checked with the rest of the
/// configuration ([`Config::validate`]); a file that cannot be read or is
/// not rules is refused here, naming it.
pub fn use_strategy_file(config: &mut Config, path: &Path) -> Result<(), ConfigError> {
    let text = read_file(path)?;
    let rules: aegis_contract::strategy::RulesSpec =
        serde_yaml::from_str(&text).map_err(|e| ConfigError::Invalid {
            field: "--strategy-file".into(),
            message: format!("{}: not rules: {e}", path.display()),
        })?;
    let strategy = &mut config.brain.strategy;
    strategy.name = aegis_contract::strategy::rules::NAME.to_string();
    strategy.params.clear();
    strategy.rules = Some(rules);
    Ok(())
}

/// Checks that the replay file exists, when the feed replays one. Only what
/// runs the feed calls this: in a pod the file's volume is mounted into the
/// feed's container alone, and the brain and orchestrator read the same
/// configuration without it.
pub fn check_replay_file(config: &Config) -> Result<(), ConfigError> {
    match (&config.feed.source, &config.feed.replay.file) {
        (SourceKind::Replay, Some(file)) if !file.is_file() => Err(ConfigError::Invalid {
            field: "feed.replay.file".into(),
            message: format!("{} does not exist or is not a file", file.display()),
        }),
        _ => Ok(()),
    }
}

/// A command line that names something impossible (e.g. `--from` after
/// `--to`), found after clap's own checks: exit 2, like clap's errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
