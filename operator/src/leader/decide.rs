//! The pure decisions of leader election, with no I/O and no clock of their
//! own (every function is given `now`): what this instance saw of the Lease,
//! whether it may take the Lease, whether it still leads, and the Lease
//! spec it writes.
//!
//! Expiry is judged by *local* observation time: a Lease counts as expired
//! when its record has not changed for its duration as measured by this
//! instance's monotonic clock since it first saw that record. The holder's
//! `renewTime` is never compared with the local clock, so clock skew
//! between nodes cannot make a live Lease look expired.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

/// The fields of a Lease that election reads.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LeaseRecord {
    /// Who holds it (`None` or empty: nobody).
    pub holder: Option<String>,
    /// How long it is valid after its last change (`leaseDurationSeconds`).
    pub duration: Option<Duration>,
    /// `renewTime` as written by the holder (compared for change only).
    pub renew_time: Option<DateTime<Utc>>,
    /// `acquireTime`, compared for change only.
    pub acquire_time: Option<DateTime<Utc>>,
    /// `leaseTransitions`.
    pub transitions: i32,
}

impl LeaseRecord {
    /// The record in a Lease's spec (`None`: an empty record).
    pub fn from_spec(spec: Option<&LeaseSpec>) -> Self {
        let Some(spec) = spec else {
            return LeaseRecord::default();
        };
        LeaseRecord {
            holder: spec.holder_identity.clone().filter(|h| !h.is_empty()),
            duration: spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs),
            renew_time: spec.renew_time.as_ref().map(|t| t.0),
            acquire_time: spec.acquire_time.as_ref().map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }
}

/// A record and when this instance first saw it as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The record.
    pub record: LeaseRecord,
    /// The local time it was first seen with these values.
    pub since: Instant,
}

/// The observation after reading `record` at `now`: the old one's time is
/// kept while the record is unchanged, so an unrenewed Lease ages.
pub fn observe(previous: Option<&Observation>, record: LeaseRecord, now: Instant) -> Observation {
    match previous {
        Some(prev) if prev.record == record => prev.clone(),
        _ => Observation { record, since: now },
    }
}

/// Whether this instance may write itself into the Lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// It holds the Lease already: renew.
    Renew,
    /// Nobody holds it (never held, or released).
    Free,
    /// Its holder has not renewed it within its duration: take it over.
    Expired {
        /// The holder that let it expire.
        holder: String,
    },
    /// Someone else holds a live Lease.
    Held {
        /// The holder.
        holder: String,
        /// How long until it expires unless renewed.
        expires_in: Duration,
    },
}

impl Acquire {
    /// Whether to write the Lease.
    pub fn may_write(&self) -> bool {
        !matches!(self, Acquire::Held { .. })
    }
}

/// Whether `me` may take the Lease observed as `seen` at `now`; a record
/// without a duration lasts `default_duration`.
pub fn can_acquire(
    seen: &Observation,
    me: &str,
    now: Instant,
    default_duration: Duration,
) -> Acquire {
    let Some(holder) = seen.record.holder.as_deref() else {
        return Acquire::Free;
    };
    if holder == me {
        return Acquire::Renew;
    }
    let duration = seen.record.duration.unwrap_or(default_duration);
    let age = now.saturating_duration_since(seen.since);
    if age >= duration {
        Acquire::Expired {
            holder: holder.to_string(),
        }
    } else {
        Acquire::Held {
            holder: holder.to_string(),
            expires_in: duration - age,
        }
    }
}

/// Whether a leader whose last successful renewal *started* at `last_renew`
/// still leads at `now`: only while less than `renew_deadline` has passed.
pub fn still_leading(last_renew: Instant, now: Instant, renew_deadline: Duration) -> bool {
    now.saturating_duration_since(last_renew) < renew_deadline
}

/// When a leader whose last successful renewal started at `last_renew`
/// must stop leading.
pub fn leading_until(last_renew: Instant, renew_deadline: Duration) -> Instant {
    last_renew + renew_deadline
}

/// The spec `me` writes to hold the Lease at `now` for `duration`: a new
/// holder gets a fresh `acquireTime` and `leaseTransitions` + 1; a renewal
/// keeps both.
pub fn held_spec(
    current: &LeaseRecord,
    me: &str,
    now: DateTime<Utc>,
    duration: Duration,
) -> LeaseSpec {
    let renewing = current.holder.as_deref() == Some(me);
    let transitions = if renewing || current == &LeaseRecord::default() {
        current.transitions
    } else {
        current.transitions.saturating_add(1)
    };
    let acquire_time = if renewing {
        current.acquire_time.unwrap_or(now)
    } else {
        now
    };
    LeaseSpec {
        holder_identity: Some(me.to_string()),
        lease_duration_seconds: Some(seconds(duration)),
        acquire_time: Some(MicroTime(acquire_time)),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..LeaseSpec::default()
    }
}

/// The spec of a released Lease: no holder, a one-second duration (as
/// client-go writes it), transitions unchanged, so a standby takes it at
/// its next try.
pub fn released_spec(current: &LeaseRecord, now: DateTime<Utc>) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: current.acquire_time.map(MicroTime),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(current.transitions),
        ..LeaseSpec::default()
    }
}

/// Whole seconds, at least 1, for `leaseDurationSeconds`.
pub fn seconds(d: Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Duration = Duration::from_secs(15);

    fn held_by(holder: &str, transitions: i32) -> LeaseRecord {
        LeaseRecord {
            holder: Some(holder.into()),
            duration: Some(D),
            renew_time: Some(DateTime::<Utc>::UNIX_EPOCH),
            acquire_time: Some(DateTime::<Utc>::UNIX_EPOCH),
            transitions,
        }
    }

    #[test]
    fn an_empty_or_released_lease_is_free() {
        let t0 = Instant::now();
        let seen = observe(None, LeaseRecord::default(), t0);
        assert_eq!(can_acquire(&seen, "a", t0, D), Acquire::Free);
        let spec = k8s_openapi::api::coordination::v1::LeaseSpec {
            holder_identity: Some(String::new()),
            ..Default::default()
        };
        let released = observe(None, LeaseRecord::from_spec(Some(&spec)), t0);
        assert_eq!(can_acquire(&released, "a", t0, D), Acquire::Free);
    }

    #[test]
    fn a_live_lease_of_another_is_held_until_unchanged_for_its_duration() {
        let t0 = Instant::now();
        let seen = observe(None, held_by("b", 0), t0);
        assert_eq!(
            can_acquire(&seen, "a", t0 + Duration::from_secs(5), D),
            Acquire::Held {
                holder: "b".into(),
                expires_in: Duration::from_secs(10)
            }
        );
        // Seeing the same record again does not reset the clock...
        let again = observe(Some(&seen), held_by("b", 0), t0 + Duration::from_secs(14));
        assert_eq!(again.since, t0);
        assert_eq!(
            can_acquire(&again, "a", t0 + D, D),
            Acquire::Expired { holder: "b".into() }
        );
        assert!(can_acquire(&again, "a", t0 + D, D).may_write());
        // ...a renewal does.
        let mut renewed = held_by("b", 0);
        renewed.renew_time = Some(DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(9));
        let fresh = observe(Some(&again), renewed, t0 + Duration::from_secs(14));
        assert!(!can_acquire(&fresh, "a", t0 + D, D).may_write());
    }

    #[test]
    fn the_holders_clock_does_not_matter() {
        // A renewTime far in the past (a skewed holder clock) is still live
        // when this instance has just seen it change.
        let t0 = Instant::now();
        let mut record = held_by("b", 3);
        record.renew_time = Some(DateTime::<Utc>::UNIX_EPOCH);
        let seen = observe(None, record, t0);
        assert!(!can_acquire(&seen, "a", t0 + Duration::from_secs(1), D).may_write());
    }

    #[test]
    fn the_own_lease_is_renewed_and_a_missing_duration_uses_the_default() {
        let t0 = Instant::now();
        let seen = observe(None, held_by("a", 0), t0);
        assert_eq!(can_acquire(&seen, "a", t0 + D * 10, D), Acquire::Renew);
        let mut record = held_by("b", 0);
        record.duration = None;
        let seen = observe(None, record, t0);
        let short = Duration::from_secs(2);
        assert!(can_acquire(&seen, "a", t0 + short, short).may_write());
    }

    #[test]
    fn leadership_ends_at_the_renew_deadline() {
        let t0 = Instant::now();
        let rd = Duration::from_secs(10);
        assert!(still_leading(t0, t0 + Duration::from_millis(9_999), rd));
        assert!(!still_leading(t0, t0 + rd, rd));
        assert_eq!(leading_until(t0, rd), t0 + rd);
    }

    #[test]
    fn a_change_of_holder_counts_a_transition_and_a_renewal_does_not() {
        let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(100);
        let renewal = held_spec(&held_by("a", 4), "a", now, D);
        assert_eq!(renewal.lease_transitions, Some(4));
        assert_eq!(
            renewal.acquire_time.map(|t| t.0),
            Some(DateTime::<Utc>::UNIX_EPOCH)
        );
        assert_eq!(renewal.renew_time.map(|t| t.0), Some(now));
        assert_eq!(renewal.lease_duration_seconds, Some(15));
        let takeover = held_spec(&held_by("b", 4), "a", now, D);
        assert_eq!(takeover.lease_transitions, Some(5));
        assert_eq!(takeover.holder_identity.as_deref(), Some("a"));
        assert_eq!(takeover.acquire_time.map(|t| t.0), Some(now));
        let first = held_spec(&LeaseRecord::default(), "a", now, D);
        assert_eq!(first.lease_transitions, Some(0));
        let released = released_spec(&held_by("a", 4), now);
        assert_eq!(released.holder_identity, None);
        assert_eq!(released.lease_transitions, Some(4));
        let after_release = held_spec(&LeaseRecord::from_spec(Some(&released)), "b", now, D);
        assert_eq!(after_release.lease_transitions, Some(5));
    }

    #[test]
    fn durations_are_whole_seconds_of_at_least_one() {
        assert_eq!(seconds(Duration::from_millis(300)), 1);
        assert_eq!(seconds(Duration::from_millis(4_900)), 4);
        assert_eq!(seconds(Duration::from_secs(u64::MAX)), i32::MAX);
    }
}
