//! The publish/consume protocol of one slot: a seqlock over whole words.
//!
//! A slot is a run of 64-bit words; word 0 is the stamp (see [`crate::seq`]),
//! the rest is the record. The writer marks the stamp "writing", stores the
//! payload, then publishes the stamp. A reader accepts the payload only if it
//! saw the published stamp before copying *and* the same stamp after copying,
//! so it never returns a torn record — even if the writer died halfway.
//!
//! Payload words are accessed with relaxed atomic loads and stores rather than
//! a `memcpy`: a seqlock reader races with the writer by design, and only
//! atomic accesses make that race defined behaviour in Rust's memory model. On
//! x86-64 and AArch64 they compile to plain loads and stores.
//!
//! The functions are generic over [`Word`] so that the same code runs over the
//! shared mapping (`std` atomics) and under the loom model checker.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::seq::{self, SlotState};

/// A 64-bit atomic word: `std`'s in the ring, loom's in the model check.
pub(crate) trait Word {
    fn load(&self, order: std::sync::atomic::Ordering) -> u64;
    fn store(&self, value: u64, order: std::sync::atomic::Ordering);
    /// A fence from the same memory model as the word.
    fn fence(order: std::sync::atomic::Ordering);
}

impl Word for std::sync::atomic::AtomicU64 {
    #[inline(always)]
    fn load(&self, order: std::sync::atomic::Ordering) -> u64 {
        std::sync::atomic::AtomicU64::load(self, order)
    }
    #[inline(always)]
    fn store(&self, value: u64, order: std::sync::atomic::Ordering) {
        std::sync::atomic::AtomicU64::store(self, value, order)
    }
    #[inline(always)]
    fn fence(order: std::sync::atomic::Ordering) {
        std::sync::atomic::fence(order)
    }
}

/// Writes `payload[1..]` into `slot` as sequence `seq` and publishes it.
/// `payload[0]` is ignored: word 0 is the stamp.
#[inline(always)]
pub(crate) fn publish<W: Word>(slot: &[W], seq: u64, payload: &[u64]) {
    debug_assert_eq!(slot.len(), payload.len());
    // Relaxed: ordered before the payload stores by the fence below.
    slot[0].store(seq::writing(seq), Relaxed);
    // Release fence: a reader that sees any payload store below also sees the
    // "writing" stamp (or a later one) on its re-check, and rejects the copy.
    W::fence(Release);
    for (word, &value) in slot[1..].iter().zip(&payload[1..]) {
        // Relaxed: visibility is carried by the publishing stamp store.
        word.store(value, Relaxed);
    }
    // Release: a reader that acquires this stamp sees the whole payload.
    slot[0].store(seq::published(seq), Release);
}

/// Copies sequence `seq` out of `slot` into `out` if the slot holds it, fully
/// written. On success `out[0]` is set to `seq`.
#[inline(always)]
pub(crate) fn consume<W: Word>(slot: &[W], seq: u64, out: &mut [u64]) -> SlotState {
    debug_assert_eq!(slot.len(), out.len());
    // Acquire: pairs with the publishing Release store, so the payload is visible.
    let before = slot[0].load(Acquire);
    if before != seq::published(seq) {
        return seq::classify(before, seq);
    }
    for (dst, word) in out[1..].iter_mut().zip(&slot[1..]) {
        // Relaxed: validated by the stamp re-check below.
        *dst = word.load(Relaxed);
    }
    // Acquire fence: the payload loads above happen before the re-check, so a
    // concurrent overwrite that reached any of them shows up in the stamp.
    W::fence(Acquire);
    // Relaxed: ordered by the fence above.
    let after = slot[0].load(Relaxed);
    if after != before {
        return SlotState::Overwritten;
    }
    out[0] = seq;
    SlotState::Ready
}

#[cfg(all(test, loom))]
mod loom_model {
    //! Run with `RUSTFLAGS="--cfg loom" cargo test -p ringbuf-shm --lib --release loom`.
    use super::*;
    use loom::sync::atomic::AtomicU64;
    use loom::sync::Arc;

    impl Word for AtomicU64 {
        fn load(&self, order: std::sync::atomic::Ordering) -> u64 {
            AtomicU64::load(self, order)
        }
        fn store(&self, value: u64, order: std::sync::atomic::Ordering) {
            AtomicU64::store(self, value, order)
        }
        fn fence(order: std::sync::atomic::Ordering) {
            loom::sync::atomic::fence(order)
        }
    }

    /// The payload every word of sequence `seq` carries.
    fn payload(seq: u64) -> [u64; 3] {
        [0, seq * 10 + 1, seq * 10 + 2]
    }

    /// One slot overwritten twice while a reader tries to read sequence 0 or 1
    /// out of it (a ring of capacity 1): whatever interleaving loom picks, the
    /// reader either gets exactly the payload of the sequence it asked for, or
    /// is told it is not there yet / was overwritten. Never a mix.
    #[test]
    fn loom_reader_never_sees_a_torn_record() {
        loom::model(|| {
            let slot: Arc<[AtomicU64; 3]> = Arc::new([
                AtomicU64::new(seq::published(u64::MAX)),
                AtomicU64::new(0),
                AtomicU64::new(0),
            ]);
            let writer = {
                let slot = slot.clone();
                loom::thread::spawn(move || {
                    for s in 0..2 {
                        publish(&slot[..], s, &payload(s));
                    }
                })
            };
            for want in 0..2 {
                let mut out = [0u64; 3];
                match consume(&slot[..], want, &mut out) {
                    SlotState::Ready => {
                        let mut expect = payload(want);
                        expect[0] = want;
                        assert_eq!(out, expect, "torn read of sequence {want}");
                    }
                    SlotState::NotYet | SlotState::Overwritten => {}
                }
            }
            writer.join().unwrap();
        });
    }
}
