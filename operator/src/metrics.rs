//! The operator's Prometheus metrics: reconciles, their errors and
//! durations, engines per phase, and leadership. Built with the runtime crate's
//! [`MetricsBuilder`] (every name starts with `aegis_`), served by
//! [`crate::server`] on `/metrics`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aegis_runtime::metrics::{encode, MetricsBuilder};
use kube::runtime::reflector::Store;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
};

use crate::controller::error::ReconcileError;
use crate::crd::{Phase, TradingEngine};

/// Reconcile duration buckets in seconds: 1 ms to about 33 s, doubling.
pub fn reconcile_buckets() -> Vec<f64> {
    (0..16).map(|i| 0.001 * f64::powi(2.0, i)).collect()
}

/// Every engine phase, with its label value.
const PHASES: [(Phase, &str); 5] = [
    (Phase::Pending, "Pending"),
    (Phase::Running, "Running"),
    (Phase::Degraded, "Degraded"),
    (Phase::Suspended, "Suspended"),
    (Phase::Failed, "Failed"),
];

/// The operator's metrics; clones share the same registry.
#[derive(Clone)]
pub struct Metrics {
    registry: prometheus::Registry,
    reconciles: IntCounter,
    errors: IntCounterVec,
    duration: Histogram,
    engines: IntGaugeVec,
    leader: IntGauge,
    leader_transitions: IntCounterVec,
    engine_store: Arc<Mutex<Option<Store<TradingEngine>>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry with every operator metric registered (at zero).
    pub fn new() -> prometheus::Result<Self> {
        let b = MetricsBuilder::new("operator")?;
        let reconciles = b.counter(
            "operator_reconciles_total",
            "Reconciles started by this instance (only while it leads).",
        )?;
        let errors = b.counter_vec(
            "operator_reconcile_errors_total",
            "Failed reconciles, by reason (the ReconcileError variant) and HTTP status of API errors.",
            &["reason", "status"],
        )?;
        let engines_opts = Opts::new(
            "operator_engines",
            "TradingEngines per phase in this instance's cache (0 on a standby).",
        );
        let engines = IntGaugeVec::new(engines_opts, &["phase"])?;
        let leader = b.int_gauge(
            "operator_leader",
            "1 while this instance holds the leader Lease and reconciles, else 0.",
        )?;
        let leader_transitions = b.counter_vec(
            "operator_leader_transitions_total",
            "Times this instance started (to=leader) or stopped (to=standby) leading.",
            &["to"],
        )?;
        let registry = b.build();
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "operator_reconcile_duration_seconds",
                "How long reconciles took, successful or not.",
            )
            .buckets(reconcile_buckets()),
        )?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(engines.clone()))?;
        for (_, label) in PHASES {
            engines.with_label_values(&[label]).set(0);
        }
        // Listed at zero from the start, so a scrape shows every series.
        for reason in ReconcileError::REASONS {
            errors.with_label_values(&[reason, ""]);
        }
        for to in ["leader", "standby"] {
            leader_transitions.with_label_values(&[to]);
        }
        Ok(Metrics {
            registry,
            reconciles,
            errors,
            duration,
            engines,
            leader,
            leader_transitions,
            engine_store: Arc::new(Mutex::new(None)),
        })
    }

    /// Counts a reconcile that took `took`.
    pub fn reconciled(&self, took: Duration) {
        self.reconciles.inc();
        self.duration.observe(took.as_secs_f64());
    }

    /// Counts a failed reconcile by its reason.
    pub fn reconcile_failed(&self, error: &ReconcileError) {
        let status = error.http_status().map(|s| s.to_string());
        self.errors
            .with_label_values(&[error.reason(), status.as_deref().unwrap_or("")])
            .inc();
    }

    /// The number of reconciles counted so far.
    pub fn reconcile_count(&self) -> u64 {
        self.reconciles.get()
    }

    /// Sets the leader gauge and counts the change when it is one.
    pub fn set_leader(&self, leading: bool) {
        let now = i64::from(leading);
        if self.leader.get() != now {
            self.leader.set(now);
            let to = if leading { "leader" } else { "standby" };
            self.leader_transitions.with_label_values(&[to]).inc();
        }
    }

    /// Whether the leader gauge is 1.
    pub fn is_leader(&self) -> bool {
        self.leader.get() == 1
    }

    /// The controller's engine cache, counted per phase at every scrape
    /// (`None` when no controller runs: every phase counts 0).
    pub fn watch_engines(&self, store: Option<Store<TradingEngine>>) {
        *self.engine_store.lock().unwrap_or_else(|p| p.into_inner()) = store;
    }

    /// Recounts the engines per phase from the cache (engines without a
    /// phase yet count as Pending).
    pub fn count_engines(&self) {
        let store = self
            .engine_store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let engines = store.map(|s| s.state()).unwrap_or_default();
        let phases: Vec<Phase> = engines
            .iter()
            .map(|te| {
                te.status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .unwrap_or(Phase::Pending)
            })
            .collect();
        for (phase, count) in count_phases(&phases) {
            self.engines.with_label_values(&[phase]).set(count);
        }
    }

    /// Every metric in the Prometheus text format (engines recounted first).
    pub fn encode(&self) -> String {
        self.count_engines();
        encode(&self.registry)
    }
}

/// How many of `phases` are each phase, for every phase label.
pub fn count_phases(phases: &[Phase]) -> [(&'static str, i64); 5] {
    PHASES.map(|(phase, label)| {
        let n = phases.iter().filter(|p| **p == phase).count();
        (label, i64::try_from(n).unwrap_or(i64::MAX))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_counted_with_zeroes_for_the_absent() {
        let counts = count_phases(&[Phase::Running, Phase::Failed, Phase::Running]);
        assert_eq!(
            counts,
            [
                ("Pending", 0),
                ("Running", 2),
                ("Degraded", 0),
                ("Suspended", 0),
                ("Failed", 1)
            ]
        );
    }

    #[test]
    fn the_text_names_every_metric_and_counts_errors_by_reason() {
        let m = Metrics::new().expect("metrics register");
        m.reconciled(Duration::from_millis(3));
        m.reconcile_failed(&ReconcileError::NoNamespace { name: "x".into() });
        m.set_leader(true);
        m.set_leader(true);
        m.set_leader(false);
        let text = m.encode();
        for line in [
            "aegis_operator_reconciles_total 1",
            "aegis_operator_reconcile_errors_total{reason=\"no_namespace\",status=\"\"} 1",
            "aegis_operator_reconcile_duration_seconds_count 1",
            "aegis_operator_engines{phase=\"Running\"} 0",
            "aegis_operator_leader 0",
            "aegis_operator_leader_transitions_total{to=\"leader\"} 1",
            "aegis_operator_leader_transitions_total{to=\"standby\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!m.is_leader());
        let waiting = ReconcileError::PodTerminating {
            namespace: "ns".into(),
            pod: "p".into(),
        };
        assert!(ReconcileError::REASONS.contains(&waiting.reason()));
        let zero =
            "aegis_operator_reconcile_errors_total{reason=\"pod_terminating\",status=\"\"} 0";
        assert!(text.contains(zero), "missing {zero:?} in\n{text}");
    }
}
