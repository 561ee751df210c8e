//! What every reconcile shares: the client, the pod settings, the event
//! recorder, how many times in a row each engine's reconcile failed (for
//! the backoff), the metrics, and the leadership gate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Client, Resource};

use crate::consent::images::AllowedImages;
use crate::crd::TradingEngine;
use crate::metrics::Metrics;

use crate::desired::PodSettings;

/// The first retry delay after a failure; it doubles per further failure.
pub const BACKOFF_START: Duration = Duration::from_millis(500);
/// The longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Shared by all reconciles.
pub struct Context {
    /// The API client.
    pub client: Client,
    /// What every engine pod is made with (image, pull policy).
    pub settings: PodSettings,
    /// The images engine pods may run (at least the default image's
    /// repository).
    pub allowed_images: AllowedImages,
    recorder: Recorder,
    failures: Mutex<HashMap<(String, String), u32>>,
    metrics: Option<Metrics>,
    leading: Option<tokio::sync::watch::Receiver<bool>>,
    /// The owned pods and ConfigMaps as the controller's watches see them.
    pub caches: super::cache::Caches,
}

impl Context {
    /// A context with no failures recorded, allowing only the default
    /// image's repository.
    pub fn new(client: Client, settings: PodSettings) -> Self {
        let reporter = Reporter {
            controller: super::constants::FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            allowed_images: AllowedImages::only_default(&settings.image),
            settings,
            failures: Mutex::new(HashMap::new()),
            metrics: None,
            leading: None,
            caches: Default::default(),
        }
    }

    /// Allows engine pods to run the images of `allowed` (which always
    /// holds the default image).
    pub fn with_allowed_images(mut self, allowed: AllowedImages) -> Self {
        self.allowed_images = allowed;
        self
    }

    /// Records reconciles and their errors in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Reconciles only while `leading` says `true` (leader election).
    pub fn with_leading(mut self, leading: tokio::sync::watch::Receiver<bool>) -> Self {
        self.leading = Some(leading);
        self
    }

    /// The metrics, when there are any.
    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_ref()
    }

    /// Whether a reconcile may start now: always without election, else
    /// only while this instance leads.
    pub fn may_reconcile(&self) -> bool {
        self.leading.as_ref().is_none_or(|l| *l.borrow())
    }

    /// Counts one more failure of `namespace/name` and returns the delay
    /// before the next try: [`BACKOFF_START`] doubled per earlier failure,
    /// at most [`BACKOFF_MAX`].
    pub fn record_failure(&self, namespace: &str, name: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let count = failures
            .entry((namespace.to_string(), name.to_string()))
            .or_insert(0);
        let delay = backoff(*count);
        *count = count.saturating_add(1);
        delay
    }

    /// Forgets the failures of `namespace/name` after a successful reconcile.
    pub fn forget_failures(&self, namespace: &str, name: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&(namespace.to_string(), name.to_string()));
    }
}

impl Context {
    /// Publishes an event about `te` (`reason` and `action` in PascalCase).
    /// A failure to publish is logged, never a reconcile error.
    pub async fn event(
        &self,
        te: &TradingEngine,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &te.object_ref(&())).await {
            tracing::warn!(engine = %kube::ResourceExt::name_any(te), namespace = %kube::ResourceExt::namespace(te).unwrap_or_default(), reason, "publishing an event failed: {e}");
        }
    }
}

/// The delay after `earlier` failures in a row.
pub fn backoff(earlier: u32) -> Duration {
    let factor = 2u32.saturating_pow(earlier.min(20));
    BACKOFF_START.saturating_mul(factor).min(BACKOFF_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        assert_eq!(backoff(0), BACKOFF_START);
        assert_eq!(backoff(1), BACKOFF_START * 2);
        assert_eq!(backoff(3), BACKOFF_START * 8);
        assert_eq!(backoff(30), BACKOFF_MAX);
        assert_eq!(backoff(u32::MAX), BACKOFF_MAX);
    }
}
