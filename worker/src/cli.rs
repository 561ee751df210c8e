//! The command line: `aegis-worker [--config FILE] [--set path=value]... <command>`.
//!
//! Exit status: 0 after a clean stop, 2 when the configuration or the command
//! line is invalid (clap's checks or a [`UsageError`]) or live mode's API key or secret is missing from the
//! environment, 1 for any other failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, ConfigError, ConfigSource, UsageError};
use aegis_exchange::MissingCredentials;
use aegis_runtime::{telemetry, StopFlag};

/// The AEGIS trading engine: one binary for the three roles of an engine's
/// pod, a local supervisor that runs all three, and backtests.
#[derive(Debug, Parser)]
#[command(name = "aegis-worker", version, propagate_version = true)]
pub struct Cli {
    /// YAML configuration file (every field has a default; see docs/configuration.md).
    #[arg(short, long, global = true, env = "AEGIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Override one configuration field, e.g. `--set orchestrator.fee_bps=5`
    /// (repeatable; beats the file and `AEGIS__*` variables).
    #[arg(long = "set", global = true, value_name = "PATH=VALUE", value_parser = config::parse_set)]
    pub sets: Vec<(String, String)>,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Market data into the candle ring (one container of the pod).
    Feed,
    /// Indicators and the strategy: candles in, signals out (one container).
    Brain,
    /// Execution, risk, the ledger and health reports (one container).
    Orchestrator,
    /// Run all three roles locally, probed and restarted like the kubelet would.
    Up(crate::local::up::UpArgs),
    /// Replay a CSV through all three roles as fast as possible and report.
    Backtest(crate::local::backtest::BacktestArgs),
    /// Fetch klines from Binance into a replay CSV (resumes an existing one).
    Download(crate::research::download::DownloadArgs),
    /// Backtest every combination of a parameter grid over one CSV, on every core.
    Sweep(crate::research::sweep::SweepArgs),
    /// Print the effective configuration (secrets redacted) and exit.
    Config(ConfigArgs),
}

/// Options of `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Print JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
}

/// Reads and validates the configuration for this command line.
pub fn load_config(cli: &Cli) -> Result<Config, ConfigError> {
    config::load(&config_source(cli))
}

/// Where this command line's configuration comes from: the file, the
/// `--set` overrides and the process's `AEGIS__*` variables.
fn config_source(cli: &Cli) -> ConfigSource {
    ConfigSource::from_process_env(cli.config.clone(), cli.sets.clone())
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Exit 2: the configuration or the environment is wrong, and
            // running again unchanged cannot help.
            if e.downcast_ref::<ConfigError>().is_some()
                || e.downcast_ref::<MissingCredentials>().is_some()
                || e.downcast_ref::<UsageError>().is_some()
            {
                ExitCode::from(2)
            } else {
                tracing::error!(error = %format!("{e:#}"), "exiting");
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Up(args) => return crate::local::up::run(&config_source(cli), args),
        Command::Backtest(args) => return crate::local::backtest::run(&config_source(cli), args),
        Command::Download(args) => {
            return crate::research::download::run(&config_source(cli), args)
        }
        Command::Sweep(args) => return crate::research::sweep::run(&config_source(cli), args),
        _ => {}
    }
    let config = load_config(cli)?;
    if let Command::Config(args) = &cli.command {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&config)?);
        } else {
            print!("{}", config.to_redacted_yaml());
        }
        return Ok(());
    }
    telemetry::init(&config.log);
    tracing::info!(
        engine = %config.engine,
        version = env!("CARGO_PKG_VERSION"),
        config = %serde_json::to_string(&config).unwrap_or_default(),
        "effective configuration (secrets redacted)"
    );
    let stop = StopFlag::install()?;
    match &cli.command {
        Command::Feed => crate::roles::feed::run(&config, &stop),
        Command::Brain => crate::roles::brain::run(&config, &stop),
        Command::Orchestrator => crate::roles::orchestrator::run(&config, &stop),
        Command::Up(_)
        | Command::Backtest(_)
        | Command::Download(_)
        | Command::Sweep(_)
        | Command::Config(_) => Ok(()),
    }
}
