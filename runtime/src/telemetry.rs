//! Logging with `tracing`: one JSON object per line (for `kubectl logs` and
//! log shippers), or human-readable text on a terminal or when asked.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use aegis_contract::config::{LogConfig, LogFormat};

/// Installs the global subscriber. Later calls do nothing (tests may call it
/// more than once).
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match log.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init()
    };
}
