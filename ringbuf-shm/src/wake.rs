//! Sleeping and waking across processes without lost wake-ups.
//!
//! A waiter announces itself in `waiters`, issues a `SeqCst` fence, reads the
//! futex word, re-checks its condition, and only then sleeps on the word. A
//! notifier makes its change, issues a `SeqCst` fence, then looks at `waiters`
//! and, only if someone is there, bumps the word and wakes. The two fences are
//! ordered in the single total order of `SeqCst` operations, so either the
//! notifier sees the waiter (and wakes it; a waiter that has not slept yet
//! finds the word changed and does not sleep) or the waiter's re-check sees the
//! change (and does not sleep) — the store-buffering race that would lose a
//! wake-up is excluded. A notifier with nobody waiting pays a fence and a load.
//!
//! (Fences rather than `SeqCst` loads and stores: the protocol is the same on
//! hardware, and loom models `SeqCst` fences faithfully but treats `SeqCst`
//! accesses as acquire/release, under which it rightly finds a lost wake-up.)

use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::time::Duration;

/// The operations the protocol needs from a wake line.
pub(crate) trait WakeOps {
    /// Adds `delta` (±1) to the count of waiters.
    fn waiters_add(&self, delta: i32);
    /// Reads the count of waiters.
    fn waiters_load(&self) -> u32;
    /// A `SeqCst` fence of the line's memory model.
    fn fence(&self);
    fn epoch_load(&self) -> u32;
    fn epoch_bump(&self);
    /// Sleeps while the epoch equals `seen` (spurious returns allowed).
    fn sleep(&self, seen: u32, timeout: Duration);
    fn wake_all(&self);
}

/// Sleeps once, unless `ready()` is already true after announcing the wait.
/// Returns what the re-check saw; the caller loops.
pub(crate) fn sleep_unless<W: WakeOps>(
    line: &W,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> bool {
    line.waiters_add(1);
    // SeqCst fence: orders the announcement before the re-check, against the
    // notifier's fence (see the module comment).
    line.fence();
    // The epoch is read before the re-check: a notification that lands after
    // the re-check changes it, and the futex then refuses to sleep.
    let seen = line.epoch_load();
    let ready_now = ready();
    if !ready_now {
        line.sleep(seen, timeout);
    }
    line.waiters_add(-1);
    ready_now
}

/// Wakes sleepers after the caller made its change (a Release store).
#[inline]
pub(crate) fn notify<W: WakeOps>(line: &W) {
    // SeqCst fence: orders the caller's change before the look at `waiters`,
    // against the waiter's fence (see the module comment).
    line.fence();
    if line.waiters_load() != 0 {
        line.epoch_bump();
        line.wake_all();
    }
}

/// A wake line in the shared mapping: a futex word and a count of sleepers.
#[repr(C, align(128))]
pub(crate) struct WakeLine {
    /// The futex word; bumped by every notification that finds a sleeper.
    pub epoch: AtomicU32,
    /// How many processes are (about to be) asleep on `epoch`.
    pub waiters: AtomicU32,
}

impl WakeOps for WakeLine {
    fn waiters_add(&self, delta: i32) {
        // Relaxed: ordered by the SeqCst fence that follows it.
        self.waiters.fetch_add(delta as u32, Relaxed);
    }
    fn waiters_load(&self) -> u32 {
        // Relaxed: ordered by the SeqCst fence that precedes it.
        self.waiters.load(Relaxed)
    }
    fn fence(&self) {
        std::sync::atomic::fence(SeqCst);
    }
    fn epoch_load(&self) -> u32 {
        // Acquire: pairs with the Release bump, so a bumped epoch brings the
        // notifier's change with it.
        self.epoch.load(Acquire)
    }
    fn epoch_bump(&self) {
        // Release: the sleeper that sees the new epoch also sees the change.
        self.epoch.fetch_add(1, Release);
    }
    fn sleep(&self, seen: u32, timeout: Duration) {
        crate::futex::wait(&self.epoch, seen, timeout);
    }
    fn wake_all(&self) {
        crate::futex::wake_all(&self.epoch);
    }
}

#[cfg(all(test, loom))]
mod loom_model {
    //! The futex is modelled by a mutex and condition variable with the same
    //! contract (sleep only while the word is unchanged); loom reports a
    //! deadlock if any interleaving leaves the waiter asleep with data present.
    use super::*;
    use loom::sync::atomic::{AtomicU32, AtomicU64};
    use loom::sync::{Arc, Condvar, Mutex};

    struct ModelLine {
        epoch: AtomicU32,
        waiters: AtomicU32,
        lock: Mutex<()>,
        cond: Condvar,
    }

    impl WakeOps for ModelLine {
        fn waiters_add(&self, delta: i32) {
            self.waiters.fetch_add(delta as u32, Relaxed);
        }
        fn waiters_load(&self) -> u32 {
            self.waiters.load(Relaxed)
        }
        fn fence(&self) {
            loom::sync::atomic::fence(SeqCst);
        }
        fn epoch_load(&self) -> u32 {
            self.epoch.load(Acquire)
        }
        fn epoch_bump(&self) {
            let _g = self.lock.lock().unwrap();
            self.epoch.fetch_add(1, Release);
        }
        fn sleep(&self, seen: u32, _timeout: Duration) {
            let mut g = self.lock.lock().unwrap();
            while self.epoch.load(Acquire) == seen {
                g = self.cond.wait(g).unwrap();
            }
        }
        fn wake_all(&self) {
            let _g = self.lock.lock().unwrap();
            self.cond.notify_all();
        }
    }

    #[test]
    fn loom_no_lost_wakeup() {
        loom::model(|| {
            let line = Arc::new(ModelLine {
                epoch: AtomicU32::new(0),
                waiters: AtomicU32::new(0),
                lock: Mutex::new(()),
                cond: Condvar::new(),
            });
            let published = Arc::new(AtomicU64::new(0));
            let writer = {
                let (line, published) = (line.clone(), published.clone());
                loom::thread::spawn(move || {
                    published.store(1, Release);
                    notify(&*line);
                })
            };
            // The reader sleeps (without timeout) until it sees the record.
            while !sleep_unless(&*line, Duration::MAX, || published.load(Acquire) == 1) {}
            writer.join().unwrap();
        });
    }
}
