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
    ///
    /// A [`Reader`](crate::Reader) spins first only while records come
    /// within `spin` of its waiting for them: after a wait that lasted longer
    /// it sleeps straight away the next time, since a spin that is not met
    /// only burns a core (on a small machine, the core the next stage of a
    /// pipeline is about to need). One wait shorter than `spin` turns the
    /// spin back on.
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

/// How a [`wait_until`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waited {
    /// The condition held without sleeping (at once, spinning or yielding).
    Awake,
    /// The condition held once the spin was over and the waiter had gone to
    /// (or was about to go to) sleep on the futex, `after` this long from the
    /// start of the wait.
    Slept { after: Duration },
    /// The timeout passed first.
    TimedOut,
}

impl Waited {
    /// Whether the condition held.
    pub(crate) fn ready(self) -> bool {
        self != Waited::TimedOut
    }
}

/// Waits until `ready` is true or `timeout` (None: forever) passes, and says
/// how. `ready` reads the shared state with Acquire loads; `beat` refreshes
/// the caller's heartbeat while it waits. With `spin_first` false a
/// [`WaitStrategy::SpinThenBlock`] waiter sleeps without spinning first.
pub(crate) fn wait_until(
    strategy: WaitStrategy,
    spin_first: bool,
    timeout: Option<Duration>,
    line: &WakeLine,
    mut ready: impl FnMut() -> bool,
    mut beat: impl FnMut(),
) -> Waited {
    if ready() {
        return Waited::Awake;
    }
    let start = Instant::now();
    let deadline = timeout.and_then(|t| start.checked_add(t));
    let spin = match strategy {
        WaitStrategy::BusySpin => None,
        WaitStrategy::SpinThenYield { spin } => Some(spin),
        WaitStrategy::SpinThenBlock { spin } if spin_first => Some(spin),
        WaitStrategy::SpinThenBlock { .. } => Some(Duration::ZERO),
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
                return Waited::Awake;
            }
        }
        let now = Instant::now();
        if expired(now) {
            return Waited::TimedOut;
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
                    return Waited::Awake;
                }
            }
            _ => {
                let now = Instant::now();
                let nap = deadline.map_or(MAX_SLEEP, |d| {
                    d.saturating_duration_since(now).min(MAX_SLEEP)
                });
                if wake::sleep_unless(line, nap, &mut ready) || ready() {
                    return Waited::Slept {
                        after: start.elapsed(),
                    };
                }
            }
        }
        if expired(Instant::now()) {
            return Waited::TimedOut;
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

    /// Waits with `spin_first` until `flag` is set, counting the polls.
    fn wait_for_flag(
        line: &WakeLine,
        spin_first: bool,
        flag: &AtomicU32,
        polls: &AtomicU32,
        timeout: Duration,
    ) -> Waited {
        wait_until(
            WaitStrategy::SpinThenBlock {
                spin: Duration::from_secs(5),
            },
            spin_first,
            Some(timeout),
            line,
            || {
                polls.fetch_add(1, Relaxed);
                flag.load(SeqCst) == 1
            },
            || {},
        )
    }

    #[test]
    fn without_spin_first_the_first_thing_is_a_sleep() {
        let (line, flag, polls) = (line(), AtomicU32::new(0), AtomicU32::new(0));
        let started = Instant::now();
        let waited = wait_for_flag(&line, false, &flag, &polls, Duration::from_millis(50));
        assert_eq!(waited, Waited::TimedOut);
        // Spinning first would have polled for the whole 50 ms.
        assert!(
            polls.load(SeqCst) < POLLS_PER_CLOCK_READ,
            "{} polls",
            polls.load(SeqCst)
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn a_wait_says_whether_it_slept() {
        let (line, flag, polls) = (
            Arc::new(line()),
            Arc::new(AtomicU32::new(0)),
            Arc::new(AtomicU32::new(0)),
        );
        // Met while spinning.
        let setter = {
            let flag = flag.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(5));
                flag.store(1, SeqCst);
            })
        };
        let waited = wait_for_flag(&line, true, &flag, &polls, Duration::from_secs(30));
        setter.join().unwrap();
        assert_eq!(waited, Waited::Awake);
        // Met after a sleep, woken by the other side.
        flag.store(0, SeqCst);
        let waiter = {
            let (line, flag, polls) = (line.clone(), flag.clone(), polls.clone());
            std::thread::spawn(move || {
                wait_for_flag(&line, false, &flag, &polls, Duration::from_secs(30))
            })
        };
        while line.waiters.load(SeqCst) == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        flag.store(1, SeqCst);
        wake::notify(&*line);
        assert!(
            matches!(waiter.join().unwrap(), Waited::Slept { .. }),
            "it slept"
        );
    }
}
