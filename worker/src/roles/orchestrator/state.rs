//! What the orchestrator's loop shares with its HTTP thread and health
//! reporter ([`State`]: the book's snapshot, the last signal, the ledger's
//! state, balances, a refusal), and how `/healthz`, `/readyz`, `/metrics`
//! and `/status` answer from it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::desk;
use super::metrics::Metrics;
use aegis_contract::api::{Balances, Book, LastSignal, OrchestratorStatus, Refusal};
use aegis_contract::records::Signal;
use aegis_engine::trading::{Execution, Snapshot};
use aegis_runtime::metrics::encode;
use aegis_runtime::{Heartbeat, JsonReply, Probe, Probes};

/// What the HTTP thread and the health reporter read.
pub(super) struct State {
    pub(super) heartbeat: Heartbeat,
    pub(super) metrics: Metrics,
    pub(super) snapshot: Mutex<Option<Snapshot>>,
    pub(super) last_signal: Mutex<Option<Signal>>,
    pub(super) ledger: Mutex<Probe>,
    pub(super) flatten: desk::Desk,
    pub(super) balances: Mutex<Option<Balances>>,
    /// A permanent refusal that stopped trading: unready while set.
    pub(super) refusal: Mutex<Option<Refusal>>,
    /// Fills in the ledger when this process opened it (`/status` counts
    /// those and this process's).
    pub(super) fills_before: AtomicU64,
}

impl Probes for State {
    fn live(&self) -> Probe {
        self.heartbeat.check()
    }

    fn ready(&self) -> Probe {
        self.heartbeat.check()?;
        if let Some(refusal) = lock(&self.refusal).as_ref() {
            return Err(format!("{}: {}", refusal.reason, refusal.message));
        }
        self.ledger
            .lock()
            .map_err(|_| "ledger state poisoned".to_string())?
            .clone()
    }

    fn metrics(&self) -> String {
        encode(&self.metrics.registry)
    }

    fn status(&self) -> serde_json::Value {
        let snapshot = self.snapshot.lock().ok().and_then(|s| s.clone());
        let last = self.last_signal.lock().ok().and_then(|s| *s);
        let status = OrchestratorStatus {
            role: "orchestrator".into(),
            signals_read: self.metrics.signals.get(),
            // Relaxed: a count for display, written once before trading.
            fills: self.fills_before.load(Ordering::Relaxed) + self.metrics.fills.get(),
            lag: self.metrics.ring.lag.get(),
            last_signal: last.as_ref().map(LastSignal::from),
            book: snapshot.as_ref().map(Book::from),
            balances: lock(&self.balances).clone(),
            refusal: lock(&self.refusal).clone(),
        };
        serde_json::to_value(&status)
            .unwrap_or_else(|e| serde_json::json!({"role": "orchestrator", "error": e.to_string()}))
    }

    fn flatten(&self) -> Option<JsonReply> {
        Some(self.flatten.ask())
    }
}

impl State {
    /// Nothing known yet; the ledger not open.
    pub(super) fn new(flatten: desk::Desk, metrics: Metrics) -> State {
        State {
            flatten,
            heartbeat: Heartbeat::default(),
            metrics,
            snapshot: Mutex::new(None),
            last_signal: Mutex::new(None),
            ledger: Mutex::new(Err("the ledger is not open yet".into())),
            balances: Mutex::new(None),
            refusal: Mutex::new(None),
            fills_before: AtomicU64::new(0),
        }
    }
}

/// Locks `m`, taking the value of a poisoned lock as it is.
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The publish-status step: the book's figures for `/status` and the gauges.
pub(super) fn publish_snapshot(state: &State, exec: &Execution) {
    let snapshot = exec.snapshot();
    state.metrics.show(&snapshot);
    *lock(&state.snapshot) = Some(snapshot);
}
