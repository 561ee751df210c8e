//! The orchestrator's maintenance: every `orchestrator.reports.every_minutes`
//! it measures the engine and writes a health report (Markdown and JSON).
//!
//! Every input is measured at report time: ring lag, missed records and
//! liveness from the ring headers; restarts from the rings' attach counts;
//! rejected candles and the last candle's age from the feed's `/status` (the
//! feed container in the same pod); ledger size, entries and duplicate orders
//! by reading the ledger file; equity and drawdown from the book. What cannot
//! be measured is reported as missing, never as a pass. A report never stops
//! the process, whatever it finds.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::state::State;
use crate::config::Config;
use crate::roles::rings::{BRAIN_READER, ORCHESTRATOR_READER};
use aegis_engine::ledger::{duplicate_orders, Entry};
use aegis_engine::report::{HealthInputs, HealthReport, HealthThresholds, RingLag};
use aegis_runtime::http_client::http_get;

/// Writes health reports on a thread until dropped.
pub struct HealthReporter {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for HealthReporter {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What a report measures, and where.
struct Sources {
    candles: PathBuf,
    signals: PathBuf,
    ledger: PathBuf,
    feed_status: Option<SocketAddr>,
    dir: PathBuf,
    thresholds: HealthThresholds,
}

impl HealthReporter {
    /// Starts the reporting thread.
    pub(super) fn start(config: &Config, state: Arc<State>) -> std::io::Result<HealthReporter> {
        let sources = Sources {
            candles: config.candles_ring(),
            signals: config.signals_ring(),
            ledger: config.ledger_path(),
            feed_status: feed_status_addr(config),
            dir: config.reports_dir(),
            thresholds: HealthThresholds {
                max_lag: config.brain.max_lag,
                max_candle_age_ms: (config.stale_after_secs() * 1000.0) as u64,
                max_drawdown: config
                    .orchestrator
                    .risk
                    .max_drawdown
                    .and_then(|d| d.to_f64())
                    .unwrap_or(HealthThresholds::default().max_drawdown),
                ..HealthThresholds::default()
            },
        };
        let every = Duration::from_secs_f64(config.orchestrator.reports.every_minutes * 60.0);
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("health-report".into())
            .spawn(move || loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => sources.report(&state),
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            })?;
        Ok(HealthReporter {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// The feed's `/status` address: the configured URL, or the feed's port on loopback.
fn feed_status_addr(config: &Config) -> Option<SocketAddr> {
    match &config.orchestrator.feed_status_url {
        Some(url) => url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .and_then(|hostport| {
                std::net::ToSocketAddrs::to_socket_addrs(hostport)
                    .ok()?
                    .next()
            }),
        None => Some(aegis_runtime::server::reachable(config.feed.listen)),
    }
}

impl Sources {
    fn report(&self, state: &State) {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let inputs = self.measure(state, now_ms);
        let report = HealthReport::evaluate(&inputs, &self.thresholds);
        match crate::store::reports::write_health(&report, &self.dir, now_ms) {
            Ok(written) => {
                let failed: Vec<&str> = report.problems().map(|c| c.name.as_str()).collect();
                if failed.is_empty() {
                    tracing::info!(report = %written.markdown.display(), "health report: all checks pass");
                } else {
                    tracing::warn!(report = %written.markdown.display(), problems = ?failed, "health report: problems found");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, dir = %self.dir.display(), "could not write the health report")
            }
        }
    }

    fn measure(&self, state: &State, now_ms: i64) -> HealthInputs {
        let mut rings = Vec::new();
        let mut restarts = BTreeMap::new();
        for (name, path, writer_role) in [
            ("candles", &self.candles, "feed"),
            ("signals", &self.signals, ""),
        ] {
            let Ok(status) = ringbuf_shm::inspect(path) else {
                tracing::warn!(ring = %path.display(), "health report: ring unreadable");
                continue;
            };
            if !writer_role.is_empty() {
                restarts.insert(
                    writer_role.to_string(),
                    status.writer.attaches.saturating_sub(1),
                );
            }
            for r in &status.readers {
                rings.push(RingLag {
                    ring: name.into(),
                    reader: r.name.clone(),
                    lag: r.lag,
                    missed: r.missed,
                    writer_alive: status.writer.alive,
                    reader_alive: r.alive,
                });
                if r.name == BRAIN_READER || r.name == ORCHESTRATOR_READER {
                    restarts.insert(r.name.clone(), r.attaches.saturating_sub(1));
                }
            }
        }
        let feed = self.feed_status();
        let (ledger_bytes, entries) = read_ledger(&self.ledger);
        let snapshot = state.snapshot.lock().ok().and_then(|s| s.clone());
        HealthInputs {
            generated_at_ms: now_ms,
            rings,
            rejected: feed
                .as_ref()
                .and_then(|f| serde_json::from_value(f["rejected"].clone()).ok())
                .unwrap_or_default(),
            last_candle_age_ms: feed.as_ref().and_then(|f| f["last_candle_age_ms"].as_u64()),
            restarts,
            ledger_bytes,
            ledger_entries: entries.len() as u64,
            duplicate_orders: duplicate_orders(&entries),
            equity: snapshot.as_ref().map_or(Decimal::ZERO, |s| s.equity),
            drawdown: snapshot
                .as_ref()
                .and_then(|s| s.drawdown.to_f64())
                .unwrap_or(f64::NAN),
            halted: snapshot.and_then(|s| s.halt_reason),
        }
    }

    fn feed_status(&self) -> Option<serde_json::Value> {
        let addr = self.feed_status?;
        match http_get(addr, "/status", Duration::from_secs(2)) {
            Ok(r) if r.status == 200 => serde_json::from_slice(&r.body).ok(),
            Ok(r) => {
                tracing::warn!(%addr, status = r.status, "health report: the feed's /status failed");
                None
            }
            Err(e) => {
                tracing::warn!(%addr, error = %e, "health report: the feed's /status is unreachable");
                None
            }
        }
    }
}

/// The ledger's size and complete entries, read without touching the file
/// (the orchestrator may be appending; a torn last line is simply not counted).
fn read_ledger(path: &Path) -> (u64, Vec<Entry>) {
    let Ok(bytes) = std::fs::read(path) else {
        return (0, Vec::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    let entries = complete
        .lines()
        .filter_map(|l| Entry::from_line(l).ok())
        .collect();
    (bytes.len() as u64, entries)
}
