//! Leader election with a `coordination.k8s.io/v1` Lease, with client-go's
//! semantics: only the leader reconciles; the others wait as standbys.
//!
//! - [`settings`]: which Lease, this instance's identity, the timings.
//! - [`decide`]: the pure decisions (may I take it? do I still lead?).
//! - [`status`]: the shared state (leading, heartbeat, last good call).
//!
//! The [`Elector`] loop reads the Lease every retry period. It writes
//! itself in when the Lease is absent, has no holder, or has not changed
//! for its duration as *this* instance observed it; every write carries the
//! resourceVersion read, so of two racing instances one gets 409 and stays
//! standby. The leader renews every retry period and stops leading as soon
//! as `renew_deadline` has passed since the start of its last successful
//! renewal (see [`LeaderSettings`] for why that is before anyone else can
//! take over). On a stop it releases the Lease (no holder) so a standby
//! takes over at its next try.

pub mod decide;
pub mod settings;
pub mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;
use tokio::time::Instant;

use crate::metrics::Metrics;
use decide::{can_acquire, held_spec, leading_until, observe, released_spec, still_leading};
use decide::{Acquire, LeaseRecord, Observation};

pub use settings::{default_identity, LeaderSettings, SettingsError};
pub use status::LeaderStatus;

/// The outcome of one try to acquire or renew.
#[derive(Debug, PartialEq, Eq)]
enum Attempt {
    /// This instance holds the Lease now.
    Holding,
    /// Another instance holds a live Lease.
    HeldBy(String),
    /// Someone wrote the Lease between our read and our write (409).
    Conflict,
}

/// Runs the election for one instance.
pub struct Elector {
    settings: LeaderSettings,
    leases: Api<Lease>,
    status: Arc<LeaderStatus>,
    metrics: Metrics,
    seen: Option<Observation>,
}

impl Elector {
    /// An elector for `settings` that reports to `metrics`; it starts as a
    /// standby.
    pub fn new(client: Client, settings: LeaderSettings, metrics: Metrics) -> Self {
        let status = Arc::new(LeaderStatus::standby(
            settings.identity(),
            settings.stale_after(),
        ));
        Elector {
            leases: Api::namespaced(client, settings.namespace()),
            settings,
            status,
            metrics,
            seen: None,
        }
    }

    /// The shared state: follow [`LeaderStatus::subscribe`] to learn when
    /// this instance starts and stops leading.
    pub fn status(&self) -> Arc<LeaderStatus> {
        self.status.clone()
    }

    /// The settings.
    pub fn settings(&self) -> &LeaderSettings {
        &self.settings
    }

    /// Runs the election until `stop` completes, then releases the Lease if
    /// this instance holds it. Stop only once the controller has stopped:
    /// the Lease is renewed until then.
    pub async fn run(mut self, stop: impl Future<Output = ()>) {
        let rd = self.settings.renew_deadline();
        let mut stop = std::pin::pin!(stop);
        // The start of the last successful renewal, while leading.
        let mut last_renew: Option<std::time::Instant> = None;
        tracing::info!(
            identity = self.settings.identity(),
            lease = self.settings.lease_name(),
            namespace = self.settings.namespace(),
            "leader election: standing by"
        );
        loop {
            self.status.beat();
            self.check_deadline(&mut last_renew);
            let started = std::time::Instant::now();
            let timeout = match last_renew {
                Some(t) => leading_until(t, rd).saturating_duration_since(started),
                None => self.settings.call_timeout(),
            };
            let attempt = tokio::select! {
                () = &mut stop => break,
                r = tokio::time::timeout(timeout, self.try_acquire_or_renew()) => r,
            };
            match attempt {
                Ok(Ok(Attempt::Holding)) => {
                    self.status.api_ok();
                    if last_renew.is_none() {
                        self.lead(true, "acquired the Lease");
                    }
                    last_renew = Some(started);
                }
                Ok(Ok(Attempt::HeldBy(holder))) => {
                    self.status.api_ok();
                    if last_renew.take().is_some() {
                        self.lead(false, &format!("the Lease is held by {holder}"));
                    }
                }
                Ok(Ok(Attempt::Conflict)) => {
                    self.status.api_ok();
                    tracing::debug!("the Lease changed between read and write (409)");
                }
                Ok(Err(e)) => {
                    tracing::warn!(lease = self.settings.lease_name(), "Lease call failed: {e}");
                    self.status.api_failed(e.to_string());
                }
                Err(_) => {
                    let why = format!("Lease call timed out after {} ms", timeout.as_millis());
                    tracing::warn!(lease = self.settings.lease_name(), "{why}");
                    self.status.api_failed(why);
                }
            }
            self.check_deadline(&mut last_renew);
            let mut wake = std::time::Instant::now() + self.settings.retry_period();
            if let Some(t) = last_renew {
                wake = wake.min(leading_until(t, rd));
            }
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep_until(Instant::from_std(wake)) => {}
            }
        }
        if last_renew.is_some() {
            self.status.set_leading(false);
            self.metrics.set_leader(false);
            tracing::info!(
                identity = self.settings.identity(),
                "stopping: releasing the Lease"
            );
            match tokio::time::timeout(self.settings.call_timeout(), self.release()).await {
                Ok(Ok(())) => {
                    tracing::info!(lease = self.settings.lease_name(), "released the Lease")
                }
                Ok(Err(e)) => tracing::warn!("releasing the Lease failed: {e}"),
                Err(_) => tracing::warn!("releasing the Lease timed out"),
            }
        }
    }

    /// Stops leading when the renew deadline has passed.
    fn check_deadline(&self, last_renew: &mut Option<std::time::Instant>) {
        if let Some(t) = *last_renew {
            if !still_leading(t, std::time::Instant::now(), self.settings.renew_deadline()) {
                *last_renew = None;
                self.lead(
                    false,
                    &format!(
                        "no successful renewal within the renew deadline of {} ms",
                        self.settings.renew_deadline().as_millis()
                    ),
                );
            }
        }
    }

    /// Starts or stops leading: the watch first (the controller's gate),
    /// then the metrics and the log.
    fn lead(&self, leading: bool, why: &str) {
        self.status.set_leading(leading);
        self.metrics.set_leader(leading);
        let identity = self.settings.identity();
        if leading {
            tracing::info!(identity, "leader election: leading ({why})");
        } else {
            tracing::warn!(identity, "leader election: stopped leading ({why})");
        }
    }

    /// Reads the Lease and writes this instance in when it may.
    async fn try_acquire_or_renew(&mut self) -> Result<Attempt, kube::Error> {
        let name = self.settings.lease_name().to_string();
        let me = self.settings.identity().to_string();
        let duration = self.settings.lease_duration();
        let Some(lease) = self.leases.get_opt(&name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(self.settings.namespace().to_string()),
                    ..ObjectMeta::default()
                },
                spec: Some(held_spec(
                    &LeaseRecord::default(),
                    &me,
                    Utc::now(),
                    duration,
                )),
            };
            return match self.leases.create(&PostParams::default(), &lease).await {
                Ok(created) => {
                    self.saw(&created);
                    Ok(Attempt::Holding)
                }
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
                Err(e) => Err(e),
            };
        };
        let record = self.saw(&lease);
        let Some(seen) = self.seen.clone() else {
            return Ok(Attempt::Conflict);
        };
        let acquire = can_acquire(&seen, &me, std::time::Instant::now(), duration);
        if let Acquire::Held { holder, .. } = acquire {
            return Ok(Attempt::HeldBy(holder));
        }
        let mut next = lease;
        next.spec = Some(held_spec(&record, &me, Utc::now(), duration));
        match self
            .leases
            .replace(&name, &PostParams::default(), &next)
            .await
        {
            Ok(written) => {
                self.saw(&written);
                if let Acquire::Expired { holder } = acquire {
                    tracing::info!(previous = %holder, "took over the expired Lease");
                }
                Ok(Attempt::Holding)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Attempt::Conflict),
            Err(e) => Err(e),
        }
    }

    /// Notes the Lease as read or written now; returns its record.
    fn saw(&mut self, lease: &Lease) -> LeaseRecord {
        let record = LeaseRecord::from_spec(lease.spec.as_ref());
        self.status.set_holder(record.holder.clone());
        self.seen = Some(observe(
            self.seen.as_ref(),
            record.clone(),
            std::time::Instant::now(),
        ));
        record
    }

    /// Writes the Lease without a holder if this instance still holds it.
    async fn release(&mut self) -> Result<(), kube::Error> {
        let name = self.settings.lease_name().to_string();
        let Some(mut lease) = self.leases.get_opt(&name).await? else {
            return Ok(());
        };
        let record = LeaseRecord::from_spec(lease.spec.as_ref());
        if record.holder.as_deref() != Some(self.settings.identity()) {
            return Ok(());
        }
        lease.spec = Some(released_spec(&record, Utc::now()));
        let written = self
            .leases
            .replace(&name, &PostParams::default(), &lease)
            .await?;
        self.saw(&written);
        Ok(())
    }
}

/// How often the process beats its heartbeat when election is off.
pub const BEAT_WITHOUT_ELECTION: Duration = Duration::from_secs(1);
