//! The restart delay of one child: exponential backoff like the kubelet's
//! `CrashLoopBackOff` (initial, doubling, capped), reset once the child has
//! stayed healthy long enough.

use std::time::Duration;

/// How long to wait before restarting a child that exited or was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffSettings {
    /// Delay before the first restart (default 500 ms).
    pub initial: Duration,
    /// Cap of the doubling delay (default 30 s).
    pub max: Duration,
    /// After the child has been healthy this long without interruption, the
    /// next restart waits `initial` again (default 60 s).
    pub reset_after: Duration,
}

impl Default for BackoffSettings {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

/// The backoff state of one child. Pure: the caller supplies the healthy time.
#[derive(Debug, Clone)]
pub struct Backoff {
    settings: BackoffSettings,
    next: Duration,
}

impl Backoff {
    /// A fresh backoff whose first delay is `settings.initial` (capped at `max`).
    pub fn new(settings: BackoffSettings) -> Self {
        Self {
            next: settings.initial.min(settings.max),
            settings,
        }
    }

    /// The delay to wait before this restart; doubles the delay of the next one
    /// (capped at `max`).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = delay.saturating_mul(2).min(self.settings.max);
        delay
    }

    /// Tells the backoff the child has been healthy for `healthy_for` without
    /// interruption; at `reset_after` or more the next delay is `initial` again.
    pub fn note_healthy_for(&mut self, healthy_for: Duration) {
        if healthy_for >= self.settings.reset_after {
            self.next = self.settings.initial.min(self.settings.max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(initial_ms: u64, max_ms: u64, reset_ms: u64) -> BackoffSettings {
        BackoffSettings {
            initial: Duration::from_millis(initial_ms),
            max: Duration::from_millis(max_ms),
            reset_after: Duration::from_millis(reset_ms),
        }
    }

    #[test]
    fn doubles_up_to_the_cap() {
        let mut backoff = Backoff::new(settings(500, 3000, 60_000));
        let delays: Vec<u128> = (0..6).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 3000, 3000, 3000]);
    }

    #[test]
    fn resets_only_after_healthy_long_enough() {
        let mut backoff = Backoff::new(settings(100, 10_000, 1000));
        backoff.next_delay();
        backoff.next_delay();
        backoff.note_healthy_for(Duration::from_millis(999));
        assert_eq!(backoff.next_delay(), Duration::from_millis(400));
        backoff.note_healthy_for(Duration::from_millis(1000));
        assert_eq!(backoff.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn initial_above_max_is_capped() {
        let mut backoff = Backoff::new(settings(5000, 1000, 1000));
        assert_eq!(backoff.next_delay(), Duration::from_millis(1000));
        assert_eq!(backoff.next_delay(), Duration::from_millis(1000));
    }
}
