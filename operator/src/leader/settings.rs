//! The settings of leader election: which Lease, who this instance is, and
//! its three timings, checked at construction.

use std::time::Duration;

/// The Lease name used when none is given.
pub const DEFAULT_LEASE_NAME: &str = "aegis-operator";
/// How long a Lease is valid after its last change (client-go's default).
pub const DEFAULT_LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long a leader keeps leading without a successful renewal.
pub const DEFAULT_RENEW_DEADLINE: Duration = Duration::from_secs(10);
/// How often the leader renews and a standby tries to acquire.
pub const DEFAULT_RETRY_PERIOD: Duration = Duration::from_secs(2);

/// Settings that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// A leader could still reconcile after another instance may take over.
    #[error(
        "renew deadline {renew_deadline:?} must be shorter than lease duration {lease_duration:?}: \
         a leader must stop before its Lease can expire for the others"
    )]
    DeadlineNotBeforeExpiry {
        /// The renew deadline given.
        renew_deadline: Duration,
        /// The lease duration given.
        lease_duration: Duration,
    },
    /// A leader could not renew even once before its deadline.
    #[error(
        "retry period {retry_period:?} must be shorter than renew deadline {renew_deadline:?}"
    )]
    RetryNotBeforeDeadline {
        /// The retry period given.
        retry_period: Duration,
        /// The renew deadline given.
        renew_deadline: Duration,
    },
    /// `leaseDurationSeconds` holds whole seconds.
    #[error("lease duration {0:?} must be a whole number of seconds, at least 1")]
    LeaseDurationNotWholeSeconds(Duration),
    /// The retry period is zero.
    #[error("retry period must be longer than zero")]
    ZeroRetryPeriod,
    /// A name is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

/// Which Lease, who this instance is, and how fast it moves.
///
/// The timings obey `retry_period < renew_deadline < lease_duration`:
/// a leader stops leading `renew_deadline` after the *start* of its last
/// successful renewal, which is before the server wrote that renewal, which
/// is before any other instance saw it; another instance takes over only
/// `lease_duration` after it saw the record last change. So the old leader
/// has stopped `lease_duration - renew_deadline` (at least) before anyone
/// else starts, if the clocks run at the same rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaderSettings {
    lease_name: String,
    namespace: String,
    identity: String,
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
}

impl LeaderSettings {
    /// Settings with the default timings (15 s, 10 s, 2 s).
    pub fn new(
        lease_name: impl Into<String>,
        namespace: impl Into<String>,
        identity: impl Into<String>,
    ) -> Result<Self, SettingsError> {
        Self::with_timings(
            lease_name,
            namespace,
            identity,
            DEFAULT_LEASE_DURATION,
            DEFAULT_RENEW_DEADLINE,
            DEFAULT_RETRY_PERIOD,
        )
    }

    /// Settings with the given timings, which must obey
    /// `0 < retry_period < renew_deadline < lease_duration` with the lease
    /// duration in whole seconds.
    pub fn with_timings(
        lease_name: impl Into<String>,
        namespace: impl Into<String>,
        identity: impl Into<String>,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Result<Self, SettingsError> {
        let settings = LeaderSettings {
            lease_name: lease_name.into(),
            namespace: namespace.into(),
            identity: identity.into(),
            lease_duration,
            renew_deadline,
            retry_period,
        };
        for (what, value) in [
            ("lease name", &settings.lease_name),
            ("lease namespace", &settings.namespace),
            ("identity", &settings.identity),
        ] {
            if value.is_empty() {
                return Err(SettingsError::Empty(what));
            }
        }
        if retry_period.is_zero() {
            return Err(SettingsError::ZeroRetryPeriod);
        }
        if lease_duration.subsec_nanos() != 0 || lease_duration.is_zero() {
            return Err(SettingsError::LeaseDurationNotWholeSeconds(lease_duration));
        }
        if renew_deadline >= lease_duration {
            return Err(SettingsError::DeadlineNotBeforeExpiry {
                renew_deadline,
                lease_duration,
            });
        }
        if retry_period >= renew_deadline {
            return Err(SettingsError::RetryNotBeforeDeadline {
                retry_period,
                renew_deadline,
            });
        }
        Ok(settings)
    }

    /// The Lease's name.
    pub fn lease_name(&self) -> &str {
        &self.lease_name
    }

    /// The Lease's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// This instance's identity (the Lease's holder while it leads).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// How long the Lease is valid after its last change.
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    /// How long a leader leads without a successful renewal.
    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
    }

    /// How often the Lease is tried.
    pub fn retry_period(&self) -> Duration {
        self.retry_period
    }

    /// How long a standby's API call may take.
    pub fn call_timeout(&self) -> Duration {
        self.renew_deadline
    }

    /// How old the loop's heartbeat or its last successful API call may be
    /// before `/healthz` or `/readyz` fail: the longest call plus a few
    /// retry periods.
    pub fn stale_after(&self) -> Duration {
        self.call_timeout() + self.retry_period * 3
    }

    /// How long a controller that lost the lead may take to finish the
    /// reconciles in flight before they are cancelled: half the margin
    /// between the renew deadline and the lease's expiry.
    pub fn drain_after_loss(&self) -> Duration {
        (self.lease_duration - self.renew_deadline) / 2
    }
}

/// This instance's identity: `$POD_NAME`, else `<hostname>-<pid>`.
pub fn default_identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME") {
        if !pod.is_empty() {
            return pod;
        }
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "aegis-operator".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings(ld: u64, rd_ms: u64, rp_ms: u64) -> Result<LeaderSettings, SettingsError> {
        LeaderSettings::with_timings(
            "l",
            "ns",
            "me",
            Duration::from_secs(ld),
            Duration::from_millis(rd_ms),
            Duration::from_millis(rp_ms),
        )
    }

    #[test]
    fn the_defaults_are_valid() {
        let s = LeaderSettings::new("l", "ns", "me").expect("valid");
        assert_eq!(s.lease_duration(), Duration::from_secs(15));
        assert_eq!(s.renew_deadline(), Duration::from_secs(10));
        assert_eq!(s.retry_period(), Duration::from_secs(2));
        assert_eq!(s.drain_after_loss(), Duration::from_millis(2_500));
    }

    #[test]
    fn a_deadline_not_before_expiry_is_refused() {
        assert_eq!(
            timings(4, 4_000, 500),
            Err(SettingsError::DeadlineNotBeforeExpiry {
                renew_deadline: Duration::from_secs(4),
                lease_duration: Duration::from_secs(4)
            })
        );
        let message = timings(4, 5_000, 500).unwrap_err().to_string();
        assert!(message.contains("renew deadline"), "{message}");
    }

    #[test]
    fn other_bad_settings_are_refused_by_name() {
        assert_eq!(
            timings(4, 3_000, 3_000),
            Err(SettingsError::RetryNotBeforeDeadline {
                retry_period: Duration::from_secs(3),
                renew_deadline: Duration::from_secs(3)
            })
        );
        assert_eq!(timings(4, 3_000, 0), Err(SettingsError::ZeroRetryPeriod));
        assert!(matches!(
            LeaderSettings::with_timings(
                "l",
                "ns",
                "me",
                Duration::from_millis(4_500),
                Duration::from_secs(3),
                Duration::from_secs(1)
            ),
            Err(SettingsError::LeaseDurationNotWholeSeconds(_))
        ));
        assert_eq!(
            LeaderSettings::new("l", "ns", ""),
            Err(SettingsError::Empty("identity"))
        );
    }

    #[test]
    fn the_identity_is_never_empty() {
        assert!(!default_identity().is_empty());
    }
}
