//! How a reader waits for data, or a Lossless writer for room.

use std::time::{Duration, Instant};

use crate::wake::{self, Slept, WakeLine};

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
    /// wake-up only when somebody is asleep. A wake-up that finds nothing
    /// yet (a producer further upstream announcing a record on its way,
    /// [`Ring::wake_readers`](crate::Ring::wake_readers)) is followed by
    /// another `spin` of polling before the next sleep.
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
    // When the current spin began: at the start, and again after each
    // notification that did not bring the condition with it.
    let mut spin_from = start;
    loop {
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
            if spin.is_some_and(|s| now.duration_since(spin_from) >= s) {
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
                    let slept = wake::sleep_unless(line, nap, &mut ready);
                    if slept == Slept::Ready || ready() {
                        return true;
                    }
                    if slept == Slept::Woken {
                        // Notified ahead of the condition (a producer
                        // upstream announcing work in flight, see
                        // `Ring::wake_readers`): it is due within
                        // microseconds, so spin for it again rather than
                        // pay a second wake-up.
                        let now = Instant::now();
                        if expired(now) {
                            return false;
                        }
                        spin_from = now;
                        break;
                    }
                }
            }
            if expired(Instant::now()) {
                return false;
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::atomic::Ordering::{Relaxed, SeqCst};
    use std::sync::Arc;

    fn line() -> WakeLine {
        WakeLine {
            epoch: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    /// Waits in another thread until the condition holds; returns the line,
    /// the condition flag, the count of polls and the waiter's handle once it
    /// sleeps.
    fn sleeping_waiter(
        strategy: WaitStrategy,
    ) -> (
        Arc<WakeLine>,
        Arc<AtomicU32>,
        Arc<AtomicU32>,
        std::thread::JoinHandle<bool>,
    ) {
        let (line, flag, polls) = (
            Arc::new(line()),
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicU32::new(0)),
        );
        let waiter = {
            let (line, flag, polls) = (line.clone(), flag.clone(), polls.clone());
            std::thread::spawn(move || {
                wait_until(
                    strategy,
                    Some(Duration::from_secs(30)),
                    &line,
                    || {
                        polls.fetch_add(1, Relaxed);
                        flag.load(SeqCst) == 1
                    },
                    || {},
                )
            })
        };
        while line.waiters.load(SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        (line, flag, polls, waiter)
    }

    #[test]
    fn a_wake_up_without_the_condition_is_followed_by_another_spin() {
        let (line, flag, polls, waiter) = sleeping_waiter(WaitStrategy::SpinThenBlock {
            spin: Duration::from_millis(5),
        });
        let before = polls.load(SeqCst);
        wake::notify(&*line);
        // Spinning again: at least one round of polls before the next sleep.
        let until = Instant::now() + Duration::from_secs(10);
        while polls.load(SeqCst) < before + POLLS_PER_CLOCK_READ && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(
            polls.load(SeqCst) >= before + POLLS_PER_CLOCK_READ,
            "{} polls after the wake-up: the waiter went straight back to sleep",
            polls.load(SeqCst) - before
        );
        flag.store(1, SeqCst);
        wake::notify(&*line);
        assert!(waiter.join().unwrap(), "the waiter gave up");
    }

    #[test]
    fn without_a_spin_budget_a_wake_up_only_re_checks() {
        let (line, flag, polls, waiter) = sleeping_waiter(WaitStrategy::SpinThenBlock {
            spin: Duration::ZERO,
        });
        let before = polls.load(SeqCst);
        wake::notify(&*line);
        // Back asleep after a re-check or two.
        let until = Instant::now() + Duration::from_secs(10);
        while (line.waiters.load(SeqCst) == 0 || polls.load(SeqCst) == before)
            && Instant::now() < until
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        let after = polls.load(SeqCst) - before;
        assert!((1..=3).contains(&after), "{after} polls after the wake-up");
        flag.store(1, SeqCst);
        wake::notify(&*line);
        assert!(waiter.join().unwrap(), "the waiter gave up");
    }
}
