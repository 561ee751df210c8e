//! Reading the configuration: defaults, then the YAML file, then `AEGIS__*`
//! environment variables, then `--set path=value` flags; later wins.
//!
//! Overrides address a field by its dotted path (`orchestrator.fee_bps`); in
//! the environment the dots are double underscores after the `AEGIS__` prefix
//! (`AEGIS__ORCHESTRATOR__FEE_BPS=5`). Values are YAML scalars, so `5` is a
//! number and `true` a boolean; quote to force text (`'"0012"'`).

use std::path::Path;

use serde_yaml::{Mapping, Value};

use super::{Config, ConfigError};

/// Environment variables starting with this override configuration fields.
pub const ENV_PREFIX: &str = "AEGIS__";

/// Picks the `AEGIS__A__B=v` variables out of an environment as `("a.b", v)`.
pub fn env_overrides(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vars
        .filter_map(|(key, value)| {
            let path = key.strip_prefix(ENV_PREFIX)?;
            Some((path.to_ascii_lowercase().replace("__", "."), value))
        })
        .collect();
    out.sort();
    out
}

/// Splits a `path=value` flag.
pub fn parse_set(flag: &str) -> Result<(String, String), String> {
    let (path, value) = flag.split_once('=').ok_or_else(|| {
        format!("--set {flag:?}: expected path=value, e.g. orchestrator.fee_bps=5")
    })?;
    if path.trim().is_empty() {
        return Err(format!("--set {flag:?}: the path before '=' is empty"));
    }
    Ok((path.trim().to_string(), value.to_string()))
}

/// Builds and validates the configuration from the text of its YAML file
/// (`file`: the path, which errors name, and the text read from it) and
/// `(path, value)` overrides applied in order (environment, then flags).
/// Reading the file is the caller's: this crate does no I/O.
pub fn parse<'a>(
    file: Option<(&Path, &str)>,
    overrides: impl IntoIterator<Item = &'a (String, String)>,
) -> Result<Config, ConfigError> {
    let mut tree = match file {
        Some((path, text)) => parse_file(path, text)?,
        None => Value::Mapping(Mapping::new()),
    };
    for (path, value) in overrides {
        set_path(&mut tree, path, value)?;
    }
    let config: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
        let field = e.path().to_string();
        ConfigError::Invalid {
            field: if field == "." {
                "(top level)".into()
            } else {
                field
            },
            message: e.into_inner().to_string(),
        }
    })?;
    config.validate()?;
    Ok(config)
}

fn parse_file(path: &Path, text: &str) -> Result<Value, ConfigError> {
    let value: Value = serde_yaml::from_str(text).map_err(|e| ConfigError::Yaml {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    match value {
        Value::Null => Ok(Value::Mapping(Mapping::new())),
        Value::Mapping(_) => Ok(value),
        _ => Err(ConfigError::Yaml {
            path: path.to_path_buf(),
            message: "the top level must be a mapping of fields".into(),
        }),
    }
}

/// Sets `a.b.c` in `tree` to the YAML scalar `value`, creating mappings on the way.
fn set_path(tree: &mut Value, path: &str, value: &str) -> Result<(), ConfigError> {
    let parsed: Value = serde_yaml::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
    let parsed = if parsed.is_null() && !value.trim().is_empty() && value.trim() != "null" {
        Value::String(value.into())
    } else {
        parsed
    };
    let mut node = tree;
    let keys: Vec<&str> = path.split('.').collect();
    for (i, key) in keys.iter().enumerate() {
        if key.is_empty() {
            return Err(ConfigError::Invalid {
                field: path.into(),
                message: "empty path segment".into(),
            });
        }
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            return Err(ConfigError::Invalid {
                field: keys[..i].join("."),
                message: format!("is a value, so {path} cannot be set inside it"),
            });
        };
        let key = Value::String((*key).to_string());
        if i + 1 == keys.len() {
            map.insert(key, parsed);
            return Ok(());
        }
        node = map.entry(key).or_insert(Value::Null);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_become_dotted_paths() {
        let vars = [
            ("AEGIS__ORCHESTRATOR__FEE_BPS", "5"),
            ("AEGIS_PYTHON", "/usr/bin/python3"),
            ("PATH", "/bin"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            env_overrides(vars.into_iter()),
            vec![("orchestrator.fee_bps".to_string(), "5".to_string())]
        );
    }

    #[test]
    fn set_flags_need_a_path_and_a_value() {
        assert_eq!(parse_set("a.b=c=d"), Ok(("a.b".into(), "c=d".into())));
        assert!(parse_set("nothing").unwrap_err().contains("path=value"));
        assert!(parse_set("=3").is_err());
    }
}
