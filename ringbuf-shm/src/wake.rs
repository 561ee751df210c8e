//! Sleeping and waking across processes without lost wake-ups.
//!
//! A waiter announces itself in `waiters`, reads the futex word, re-checks its
//! condition, and only then sleeps on the word. A notifier first makes its
//! change visible, then looks at `waiters` and, only if someone is there, bumps
//! the word and wakes. All four accesses that decide the race are `SeqCst`, so
//! in their single total order either the notifier sees the waiter (and wakes
//! it; a waiter that has not slept yet finds the word changed and does not
//! sleep) or the waiter's re-check sees the change (and does not sleep). A
//! notifier with nobody waiting pays one load.

use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::{self, Release, SeqCst};
use std::time::Duration;

/// The operations the protocol needs from a wake line.
pub(crate) trait WakeOps {
    /// Adds `delta` (±1) to the count of waiters, `SeqCst`.
    fn waiters_add(&self, delta: i32);
    /// Reads the count of waiters, `SeqCst`.
    fn waiters_load(&self) -> u32;
    fn epoch_load(&self) -> u32;
    fn epoch_bump(&self);
    /// Sleeps while the epoch equals `seen` (spurious returns allowed).
    fn sleep(&self, seen: u32, timeout: Duration);
    fn wake_all(&self);
}

/// Sleeps once, unless `ready(SeqCst)` is already true after announcing the
/// wait. Returns what the last re-check saw; the caller loops.
pub(crate) fn sleep_unless<W: WakeOps>(
    line: &W,
    timeout: Duration,
    mut ready: impl FnMut(Ordering) -> bool,
) -> bool {
    // SeqCst: this increment and the re-check below pair with the notifier's
    // SeqCst change and SeqCst load of `waiters` (see the module comment).
    line.waiters_add(1);
    let seen = line.epoch_load();
    let ready_now = ready(SeqCst);
    if !ready_now {
        line.sleep(seen, timeout);
    }
    line.waiters_add(-1);
    ready_now
}

/// Wakes sleepers after the caller made its change visible with a `SeqCst` store.
#[inline]
pub(crate) fn notify<W: WakeOps>(line: &W) {
    // SeqCst: pairs with the waiter's SeqCst increment (see the module comment).
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
        // SeqCst: the waiter side of the protocol's total order.
        self.waiters.fetch_add(delta as u32, SeqCst);
    }
    fn waiters_load(&self) -> u32 {
        // SeqCst: the notifier side of the protocol's total order.
        self.waiters.load(SeqCst)
    }
    fn epoch_load(&self) -> u32 {
        // SeqCst: read after announcing the wait, in the protocol's total order.
        self.epoch.load(SeqCst)
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
            self.waiters.fetch_add(delta as u32, SeqCst);
        }
        fn waiters_load(&self) -> u32 {
            self.waiters.load(SeqCst)
        }
        fn epoch_load(&self) -> u32 {
            self.epoch.load(SeqCst)
        }
        fn epoch_bump(&self) {
            let _g = self.lock.lock().unwrap();
            self.epoch.fetch_add(1, Release);
        }
        fn sleep(&self, seen: u32, _timeout: Duration) {
            let mut g = self.lock.lock().unwrap();
            while self.epoch.load(SeqCst) == seen {
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
                    published.store(1, SeqCst);
                    notify(&*line);
                })
            };
            // The reader sleeps (without timeout) until it sees the record.
            while !sleep_unless(&*line, Duration::MAX, |o| published.load(o) == 1) {}
            writer.join().unwrap();
        });
    }
}
