//! What `up` and `backtest` share: a private ring directory, the
//! configuration file the children read, the orchestrator's control token,
//! and the child processes' specs.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::Config;
use crate::supervisor::ChildSpec;
use aegis_contract::env::{API_KEY_ENV, API_SECRET_ENV};
use aegis_runtime::ControlToken;

/// The control token's file in a run directory.
pub const CONTROL_TOKEN_FILE: &str = "control-token";

/// The three roles, in pipeline order.
pub const ROLES: [&str; 3] = ["feed", "brain", "orchestrator"];

/// A fresh directory under `base`, by default /dev/shm (falling back to the
/// temporary directory where /dev/shm does not exist), created exclusively
/// with mode 0700 under an unguessable name (see [`aegis_runtime::dirs`]).
pub fn fresh_ring_dir(base: Option<&Path>, prefix: &str) -> anyhow::Result<PathBuf> {
    let base = match base {
        Some(base) => base.to_path_buf(),
        None if Path::new(ringbuf_shm::DEFAULT_DIR).is_dir() => {
            PathBuf::from(ringbuf_shm::DEFAULT_DIR)
        }
        None => std::env::temp_dir(),
    };
    aegis_runtime::dirs::fresh_private_dir(&base, prefix)
        .with_context(|| format!("making a fresh run directory in {}", base.display()))
}

/// Writes the effective configuration where the children read it (mode
/// 0600, atomically, never through a planted link).
pub fn write_config(config: &Config, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join("config.yaml");
    aegis_runtime::durable::write_atomic(&path, serde_yaml::to_string(config)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Generates this run's control-API token into `<dir>/control-token`
/// (mode 0600) and points the orchestrator's configuration at it.
pub fn control_token(config: &mut Config, dir: &Path) -> anyhow::Result<PathBuf> {
    let path = dir.join(CONTROL_TOKEN_FILE);
    ControlToken::generate()?.store(&path)?;
    config.orchestrator.control_token_file = Some(path.clone());
    Ok(path)
}

/// The address a role serves HTTP on.
pub fn listen_of(config: &Config, role: &str) -> SocketAddr {
    match role {
        "feed" => config.feed.listen,
        "brain" => config.brain.listen,
        _ => config.orchestrator.listen,
    }
}

/// A child running `role` of this binary with the configuration at `config_file`.
pub fn spec(
    role: &str,
    config: &Config,
    config_file: &Path,
    log: &Path,
) -> anyhow::Result<ChildSpec> {
    let exe = std::env::current_exe().context("finding this program's path")?;
    let mut spec = ChildSpec::new(role, exe);
    spec.args = vec![
        OsString::from("--config"),
        config_file.as_os_str().to_owned(),
        OsString::from(role),
    ];
    let addr = aegis_runtime::server::reachable(listen_of(config, role));
    spec.health = Some(addr);
    spec.status = Some(addr);
    if role == "orchestrator" {
        // Its /status is on the control API, behind the token.
        spec.status = Some(aegis_runtime::server::reachable(
            config.orchestrator.control_listen,
        ));
        if let Some(file) = &config.orchestrator.control_token_file {
            spec.status_token = Some(ControlToken::load(file)?);
        }
    }
    spec.log = Some(log.to_path_buf());
    if role != "orchestrator" {
        // Only the orchestrator trades: the exchange keys reach no other
        // role (the feed's market data needs none).
        spec.env_remove = [API_KEY_ENV, API_SECRET_ENV]
            .into_iter()
            .map(OsString::from)
            .collect();
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Children inherit `up`'s environment: the feed and the brain must
    /// have the exchange keys taken out, the orchestrator keeps them.
    /// (`worker/tests/live_engine.rs` reads the running children's
    /// /proc/<pid>/environ too.)
    #[test]
    fn only_the_orchestrator_keeps_the_exchange_keys() {
        let config = Config::default();
        let keys: Vec<OsString> = [API_KEY_ENV, API_SECRET_ENV]
            .into_iter()
            .map(OsString::from)
            .collect();
        for role in ROLES {
            let spec =
                spec(role, &config, Path::new("c.yaml"), Path::new("l.log")).expect("a spec");
            let removed = keys.iter().all(|k| spec.env_remove.contains(k));
            let added = spec.env.iter().any(|(k, _)| keys.contains(k));
            assert_eq!(
                removed,
                role != "orchestrator",
                "{role}: {:?}",
                spec.env_remove
            );
            assert!(!added, "{role}: no keys are added");
        }
    }
}
