//! The main loop's heartbeat: liveness means "my loop is making progress".

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use ringbuf_shm::monotonic_ns;

/// A loop that has not beaten for this long is hung: `/healthz` fails and the
/// kubelet (or `up`) restarts the process. Loops beat at least every 100 ms,
/// even when idle.
pub const STALL_AFTER: Duration = Duration::from_secs(2);

/// The time of the main loop's last iteration.
#[derive(Debug)]
pub struct Heartbeat {
    last_ns: AtomicU64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            last_ns: AtomicU64::new(monotonic_ns()),
        }
    }
}

impl Heartbeat {
    /// Records progress now.
    #[inline]
    pub fn beat(&self) {
        // Relaxed: a timestamp read for liveness only; nothing is published through it.
        self.last_ns.store(monotonic_ns(), Relaxed);
    }

    /// Time since the last beat.
    pub fn age(&self) -> Duration {
        // Relaxed: see `beat`.
        Duration::from_nanos(monotonic_ns().saturating_sub(self.last_ns.load(Relaxed)))
    }

    /// Liveness: fresh enough, or why not.
    pub fn check(&self) -> Result<String, String> {
        let age = self.age();
        if age < STALL_AFTER {
            Ok(format!("main loop beat {} ms ago", age.as_millis()))
        } else {
            Err(format!(
                "main loop has not made progress for {} ms (limit {} ms)",
                age.as_millis(),
                STALL_AFTER.as_millis()
            ))
        }
    }
}
