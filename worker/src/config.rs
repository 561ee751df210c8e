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
