//! `aegis-worker up`: the engine on a laptop. Creates the rings in a fresh
//! directory under /dev/shm, runs feed, brain and orchestrator as child
//! processes, probes each one's `/healthz` like the kubelet (period 1 s,
//! timeout 500 ms, failure threshold 3), restarts a crashed or hung child with
//! exponential backoff, and shows live progress. Ctrl-C or SIGTERM stops all
//! three cleanly. The configuration, and in live mode the API key and
//! secret in the environment, are checked before any directory or child
//! exists: a mistake is an exit 2 on the terminal, not a restart loop.
//!
//! The children's logs and the generated configuration go to disk, beside
//! the ledger ([`super::runs`]: `<data dir>/runs/<run>/`, the newest
//! [`super::runs::RUNS_KEPT`] kept), and a clean stop removes the rings, so
//! repeated runs do not fill memory. With `--dir` everything stays in that
//! directory, to be resumed.
//!
//! Each run gets a fresh control-API token in `control-token` (mode 0600)
//! beside the rings; the orchestrator's `/status` and `POST /flatten` on
//! `--port-base`+3 answer only requests that carry it.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::children::{self, ROLES};
use super::runs;
use crate::config::{self, ConfigSource, ExecutionMode};
use crate::supervisor::{BackoffSettings, Display, ProbeSettings, Supervisor};
use aegis_exchange::Credentials;
use aegis_runtime::StopFlag;

/// How `up` backs off restarting a child: 0.1 s, doubling up to 30 s, reset
/// after a minute healthy. The kubelet starts at 10 s; on a laptop a quick
/// first restart matters more than sparing a crash-looping binary.
pub const RESTART_BACKOFF: BackoffSettings = BackoffSettings {
    initial: std::time::Duration::from_millis(100),
    max: std::time::Duration::from_secs(30),
    reset_after: std::time::Duration::from_secs(60),
};

/// Options of `up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Directory for the rings, logs and the generated configuration, all
    /// kept after the run; reusing one resumes its rings. Default: the rings
    /// in a fresh directory under --shm-dir, removed on a clean stop, and
    /// the logs and configuration in <orchestrator.data_dir>/runs/<run>/.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Where the fresh ring directory is made without --dir (default
    /// /dev/shm, or the temporary directory where there is none).
    #[arg(long, value_name = "DIR", conflicts_with = "dir")]
    pub shm_dir: Option<PathBuf>,
    /// The roles listen on 127.0.0.1 at this port (feed), +1 (brain), +2
    /// (orchestrator) and +3 (the orchestrator's control API).
    #[arg(long, default_value_t = 9101, value_name = "PORT")]
    pub port_base: u16,
    /// Rules to run as the strategy (a YAML file, docs/strategies.md),
    /// instead of the configured brain.strategy.
    #[arg(long, value_name = "RULES.yaml")]
    pub strategy_file: Option<PathBuf>,
}

/// Runs `up` until Ctrl-C or SIGTERM.
pub fn run(source: &ConfigSource, args: &UpArgs) -> anyhow::Result<()> {
    let mut config = config::load(source)?;
    if let Some(file) = &args.strategy_file {
        config::use_strategy_file(&mut config, file)?;
    }
    // Before anything exists: a missing key is the user's to fix, not a
    // child's to crash-loop on (exit 2, naming the variable).
    if config.orchestrator.mode == ExecutionMode::Live {
        Credentials::from_env()?;
    }
    let ports = [0u16, 1, 2, 3].map(|i| args.port_base.checked_add(i));
    let [Some(feed), Some(brain), Some(orchestrator), Some(control)] = ports else {
        anyhow::bail!(
            "--port-base {} leaves no room for four ports",
            args.port_base
        );
    };
    config.feed.listen = SocketAddr::from(([127, 0, 0, 1], feed));
    config.brain.listen = SocketAddr::from(([127, 0, 0, 1], brain));
    config.orchestrator.listen = SocketAddr::from(([127, 0, 0, 1], orchestrator));
    config.orchestrator.control_listen = SocketAddr::from(([127, 0, 0, 1], control));
    config.validate()?;
    crate::config::check_replay_file(&config)?;
    // Only now, with everything checked: the rings, and where the logs and
    // configuration go.
    let (dir, run) = match &args.dir {
        Some(dir) => {
            aegis_runtime::dirs::private_dir(dir)?;
            (dir.clone(), None)
        }
        None => {
            let rings = children::fresh_ring_dir(args.shm_dir.as_deref(), "aegis-up")?;
            let runs_dir = runs::runs_dir(&config.orchestrator.data_dir);
            let run = runs::new_run(&runs_dir)
                .with_context(|| format!("making a run directory in {}", runs_dir.display()))?;
            match runs::prune(&runs_dir, &run, runs::RUNS_KEPT) {
                Ok(_) => {}
                Err(e) => eprintln!("aegis up: could not prune old runs: {e}"),
            }
            (rings, Some(run))
        }
    };
    let files = run.clone().unwrap_or_else(|| dir.clone());
    config.rings.dir = dir.clone();
    // The control API's token lives with the rings: in memory, gone with
    // them on a clean stop.
    let token_file = children::control_token(&mut config, &dir)?;
    let config_file = children::write_config(&config, &files)?;
    let logs = files.join("logs");
    aegis_runtime::dirs::private_dir(&logs)?;
    let specs = ROLES
        .iter()
        .map(|role| {
            children::spec(
                role,
                &config,
                &config_file,
                &logs.join(format!("{role}.log")),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    let mut out = std::io::stdout();
    writeln!(
        out,
        "aegis up: engine {} ({} {}, {:?} feed, strategy {})\n  rings: {}{}\n  logs and configuration: {}\n  ledger: {}\n  http: feed {} brain {} orchestrator {}\n  control API (GET /status, POST /flatten): http://{} with Authorization: Bearer <the token in {}>\n  Ctrl-C stops all three.",
        config.engine,
        config.symbol,
        config.interval,
        config.feed.source,
        config.brain.strategy.name,
        dir.display(),
        if run.is_some() { " (removed on a clean stop)" } else { "" },
        files.display(),
        config.ledger_path().display(),
        config.feed.listen,
        config.brain.listen,
        config.orchestrator.listen,
        config.orchestrator.control_listen,
        token_file.display(),
    )?;
    let stop = StopFlag::install()?;
    let mut display = Display::for_stdout();
    let mut supervisor = Supervisor::new(specs, ProbeSettings::default(), RESTART_BACKOFF);
    let summary = supervisor.run(stop.as_atomic(), &mut |event| {
        let text = display.render(&event, Instant::now());
        if !text.is_empty() {
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    })?;
    let restarts: Vec<String> = summary
        .children
        .iter()
        .map(|c| format!("{}={}", c.name, c.restarts))
        .collect();
    let rings = match run {
        Some(_) => match remove_rings(&dir) {
            Ok(()) => format!("rings removed from {}", dir.display()),
            Err(e) => format!("rings left in {}: {e}", dir.display()),
        },
        None => format!("rings kept in {}", dir.display()),
    };
    println!(
        "aegis up: stopped; restarts {}; {rings}; logs and configuration kept in {}",
        restarts.join(" "),
        files.display()
    );
    Ok(())
}

/// Removes the run's ring directory, made by this run under an unguessable
/// name, and all in it (the rings, the brain's checkpoint, end markers).
fn remove_rings(dir: &Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(dir)
}
