//! What the election loop shares with the rest of the process: whether this
//! instance leads (a watch channel the controller follows), the loop's
//! heartbeat (`/healthz`), and when its last API call succeeded (`/readyz`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aegis_runtime::{Heartbeat, Probe};
use tokio::sync::watch;

/// How long the heartbeat may be silent when election is off (the beat
/// comes every second then).
pub const STALE_WITHOUT_ELECTION: Duration = Duration::from_secs(5);

/// The election's state, shared by the loop, the controller and the HTTP
/// server.
#[derive(Debug)]
pub struct LeaderStatus {
    identity: String,
    election: bool,
    stale_after: Duration,
    leading: watch::Sender<bool>,
    heartbeat: Heartbeat,
    last_api_ok: Mutex<Option<Instant>>,
    last_error: Mutex<Option<String>>,
    holder: Mutex<Option<String>>,
}

impl LeaderStatus {
    /// A standby that has made no API call yet; `/healthz` and `/readyz`
    /// fail once the heartbeat or the last good API call is older than
    /// `stale_after`.
    pub fn standby(identity: impl Into<String>, stale_after: Duration) -> Self {
        LeaderStatus {
            identity: identity.into(),
            election: true,
            stale_after,
            leading: watch::Sender::new(false),
            heartbeat: Heartbeat::default(),
            last_api_ok: Mutex::new(None),
            last_error: Mutex::new(None),
            holder: Mutex::new(None),
        }
    }

    /// The status of an instance that runs without election: always the
    /// leader, ready, and live while something beats.
    pub fn without_election(identity: impl Into<String>) -> Self {
        let status = LeaderStatus {
            election: false,
            ..Self::standby(identity, STALE_WITHOUT_ELECTION)
        };
        status.leading.send_replace(true);
        status
    }

    /// This instance's identity.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Whether this instance leads now.
    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Follows leadership: `true` while this instance leads.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leading.subscribe()
    }

    /// The holder of the Lease as last seen (`None`: nobody, or not read yet).
    pub fn holder(&self) -> Option<String> {
        lock(&self.holder).clone()
    }

    /// Records progress of the loop.
    pub fn beat(&self) {
        self.heartbeat.beat();
    }

    pub(crate) fn set_leading(&self, leading: bool) {
        self.leading.send_replace(leading);
    }

    pub(crate) fn set_holder(&self, holder: Option<String>) {
        *lock(&self.holder) = holder;
    }

    pub(crate) fn api_ok(&self) {
        *lock(&self.last_api_ok) = Some(Instant::now());
        *lock(&self.last_error) = None;
    }

    pub(crate) fn api_failed(&self, why: String) {
        *lock(&self.last_error) = Some(why);
    }

    /// Liveness: the election loop (and so the runtime) beat recently.
    pub fn live(&self) -> Probe {
        let age = self.heartbeat.age();
        if age < self.stale_after {
            Ok(format!("election loop beat {} ms ago", age.as_millis()))
        } else {
            Err(format!(
                "election loop has not made progress for {} ms (limit {} ms)",
                age.as_millis(),
                self.stale_after.as_millis()
            ))
        }
    }

    /// Readiness: the last API call of the election loop succeeded recently
    /// (a healthy standby is ready).
    pub fn ready(&self) -> Probe {
        if !self.election {
            return Ok("leader election disabled".into());
        }
        let role = if self.is_leader() {
            "leader"
        } else {
            "standby"
        };
        let last_ok = *lock(&self.last_api_ok);
        let error = lock(&self.last_error).clone();
        match last_ok.map(|t| t.elapsed()) {
            Some(age) if age < self.stale_after => Ok(format!(
                "{role}: last Lease call succeeded {} ms ago",
                age.as_millis()
            )),
            Some(age) => Err(format!(
                "{role}: no Lease call succeeded for {} ms (limit {} ms); last error: {}",
                age.as_millis(),
                self.stale_after.as_millis(),
                error.as_deref().unwrap_or("none")
            )),
            None => Err(format!(
                "{role}: no Lease call has succeeded yet; last error: {}",
                error.as_deref().unwrap_or("none")
            )),
        }
    }

    /// The state as JSON for `/status`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "identity": self.identity,
            "leaderElection": self.election,
            "leader": self.is_leader(),
            "holder": self.holder(),
            "lastError": lock(&self.last_error).clone(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_is_ready_only_after_a_good_call_and_says_why_not() {
        let s = LeaderStatus::standby("me", Duration::from_secs(5));
        s.api_failed("connection refused".into());
        let why = s.ready().unwrap_err();
        assert!(why.contains("connection refused"), "{why}");
        s.api_ok();
        assert!(s.ready().expect("ready").starts_with("standby"));
        assert!(s.live().is_ok());
    }

    #[test]
    fn stale_heartbeats_and_calls_fail_the_probes() {
        let s = LeaderStatus::standby("me", Duration::from_millis(20));
        s.api_ok();
        std::thread::sleep(Duration::from_millis(40));
        assert!(s.live().unwrap_err().contains("not made progress"));
        assert!(s.ready().unwrap_err().contains("no Lease call succeeded"));
    }

    #[test]
    fn without_election_the_instance_leads_and_is_ready() {
        let s = LeaderStatus::without_election("me");
        assert!(s.is_leader());
        assert_eq!(s.ready(), Ok("leader election disabled".into()));
    }
}
