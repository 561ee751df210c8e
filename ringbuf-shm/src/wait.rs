//! How a reader waits for data, or a Lossless writer for room.

use std::time::{Duration, Instant};

use crate::wake::{self, WakeLine};

/// How to wait when there is nothing to read (or no room to write).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Poll without ever giving up the core: lowest latency, one full core per
    /// waiter. Only for dedicated, unthrottled cores.
    BusySpin,
    /// Poll for `spin`, then `sched_yield` between polls.
    SpinThenYield { spin: Duration },
    /// Poll for `spin`, then sleep on a futex in the shared mapping until the
    /// other side wakes us. An idle waiter costs no CPU, so a container is not
    /// throttled by its CPU limit for waiting. The other side pays for a
    /// wake-up only when somebody is asleep.
    SpinThenBlock { spin: Duration },
}

impl Default for WaitStrategy {
    /// Spin 50 µs, then block: sub-microsecond hand-off while data flows,
    /// no CPU while idle.
    fn default() -> Self {
        WaitStrategy::SpinThenBlock {
            spin: Duration::from_micros(50),
        }
    }
}

/// The longest single futex sleep: sleepers wake at least this often to
/// refresh their heartbeat and to check their deadline.
const MAX_SLEEP: Duration = Duration::from_millis(100);
/// Polls between two looks at the clock while spinning.
const POLLS_PER_CLOCK_READ: u32 = 64;

/// Waits until `ready` is true or `timeout` (None: forever) passes, and says
/// which. `ready` reads the shared state with Acquire loads; `beat` refreshes
/// the caller's heartbeat while it waits.
pub(crate) fn wait_until(
    strategy: WaitStrategy,
    timeout: Option<Duration>,
    line: &WakeLine,
    mut ready: impl FnMut() -> bool,
    mut beat: impl FnMut(),
) -> bool {
    if ready() {
        return true;
    }
    let start = Instant::now();
    let deadline = timeout.and_then(|t| start.checked_add(t));
    let spin = match strategy {
        WaitStrategy::BusySpin => None,
        WaitStrategy::SpinThenYield { spin } | WaitStrategy::SpinThenBlock { spin } => Some(spin),
    };
    let mut last_beat = start;
    // Between polls: true once the deadline has passed; beats when one is due.
    let mut expired = |now: Instant| {
        if deadline.is_some_and(|d| now >= d) {
            return true;
        }
        if now.duration_since(last_beat) >= MAX_SLEEP {
            beat();
            last_beat = now;
        }
        false
    };
    // A zero spin budget goes straight to yielding or sleeping.
    while spin != Some(Duration::ZERO) {
        for _ in 0..POLLS_PER_CLOCK_READ {
            std::hint::spin_loop();
            if ready() {
                return true;
            }
        }
        let now = Instant::now();
        if expired(now) {
            return false;
        }
        if spin.is_some_and(|s| now.duration_since(start) >= s) {
            break;
        }
    }
    loop {
        match strategy {
            WaitStrategy::SpinThenYield { .. } => {
                std::thread::yield_now();
                if ready() {
                    return true;
                }
            }
            _ => {
                let now = Instant::now();
                let nap = deadline.map_or(MAX_SLEEP, |d| {
                    d.saturating_duration_since(now).min(MAX_SLEEP)
                });
                if wake::sleep_unless(line, nap, &mut ready) || ready() {
                    return true;
                }
            }
        }
        if expired(Instant::now()) {
            return false;
        }
    }
}
