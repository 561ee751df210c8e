//! Sequence, stamp and cursor arithmetic: pure functions, no shared memory.
//!
//! Every record has a 64-bit sequence number. Sequences, cursors and the write
//! position are compared by *wrapping distance*, never with `<`, so a ring keeps
//! working when its counters pass `u64::MAX` (a ring can be created with any
//! origin sequence; the tests start near `u64::MAX` on purpose).
//!
//! Each slot starts with a *stamp* word that says which sequence the slot holds
//! and whether the writer is in the middle of writing it (seqlock style):
//!
//! ```text
//! stamp = ((seq + 1) << 1) | writing      (mod 2^64)
//! ```
//!
//! The low bit is set while the payload is being written. The stamp therefore
//! carries `seq + 1` modulo 2^63; two sequences compare correctly as long as they
//! are less than 2^62 apart, which a ring of at most 2^40 slots never reaches.

/// What a slot holds relative to the sequence a reader expects there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// The slot holds exactly the expected sequence, fully written.
    Ready,
    /// The expected sequence has not been published yet (the slot holds an
    /// older sequence, or the writer is writing the expected one right now).
    NotYet,
    /// The slot already holds (or is being overwritten with) a newer sequence:
    /// the reader has been lapped.
    Overwritten,
}

/// The stamp of a slot that holds `seq`, fully written.
#[inline]
pub const fn published(seq: u64) -> u64 {
    seq.wrapping_add(1) << 1
}

/// The stamp of a slot whose payload is being overwritten with `seq`.
#[inline]
pub const fn writing(seq: u64) -> u64 {
    published(seq) | 1
}

/// Sign-extends a 63-bit two's-complement difference held in the low 63 bits.
#[inline]
const fn signed63(x: u64) -> i64 {
    ((x << 1) as i64) >> 1
}

/// Classifies a stamp read from the slot where a reader expects `expected`.
#[inline]
pub const fn classify(stamp: u64, expected: u64) -> SlotState {
    if stamp == published(expected) {
        return SlotState::Ready;
    }
    let held = stamp >> 1; // seq + 1 of whatever the slot holds, mod 2^63
    let d = signed63(held.wrapping_sub(expected.wrapping_add(1)));
    if d > 0 {
        SlotState::Overwritten
    } else {
        SlotState::NotYet
    }
}

/// Signed distance `a - b` between two sequences (positive when `a` is ahead).
#[inline]
pub const fn distance(a: u64, b: u64) -> i64 {
    a.wrapping_sub(b) as i64
}

/// How many records a cursor at `cursor` has not yet consumed when the writer
/// has published everything before `write_seq`. A cursor that claims to be
/// ahead of the writer (only a corrupt or hostile file can say so) has lag 0.
#[inline]
pub const fn lag(write_seq: u64, cursor: u64) -> u64 {
    let d = distance(write_seq, cursor);
    if d > 0 {
        d as u64
    } else {
        0
    }
}

/// The oldest sequence still held by a ring of `capacity` slots whose first
/// sequence was `origin` and whose writer has published everything before
/// `write_seq`.
#[inline]
pub const fn oldest_retained(write_seq: u64, origin: u64, capacity: u64) -> u64 {
    if lag(write_seq, origin) > capacity {
        write_seq.wrapping_sub(capacity)
    } else {
        origin
    }
}

/// The slot index of `seq` in a ring whose capacity is `mask + 1` (a power of two).
#[inline]
pub const fn slot_index(seq: u64, mask: u64) -> usize {
    (seq & mask) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stamps_of_adjacent_sequences_differ() {
        assert_ne!(published(0), writing(0));
        assert_ne!(published(0), published(1));
        assert_eq!(classify(published(7), 7), SlotState::Ready);
        assert_eq!(classify(writing(7), 7), SlotState::NotYet);
        assert_eq!(classify(published(6), 7), SlotState::NotYet);
        assert_eq!(classify(published(8), 7), SlotState::Overwritten);
        assert_eq!(classify(writing(8), 7), SlotState::Overwritten);
    }

    #[test]
    fn wraps_at_u64_max() {
        let s = u64::MAX;
        assert_eq!(classify(published(s), s), SlotState::Ready);
        assert_eq!(
            classify(published(s.wrapping_add(1)), s),
            SlotState::Overwritten
        );
        assert_eq!(classify(published(s - 1), s), SlotState::NotYet);
        assert_eq!(lag(2, u64::MAX - 1), 4);
        assert_eq!(oldest_retained(5, u64::MAX - 10, 8), 5u64.wrapping_sub(8));
        assert_eq!(oldest_retained(5, 0, 8), 0);
        assert_eq!(slot_index(u64::MAX, 7), 7);
        assert_eq!(slot_index(0, 7), 0);
    }

    /// Any sequence within 2^61 of the expected one, on either side, near
    /// u64::MAX or anywhere else.
    fn near(base: u64) -> impl Strategy<Value = (u64, i64)> {
        (Just(base), -(1i64 << 61)..(1i64 << 61))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn classify_agrees_with_signed_distance(
            (expected, d) in prop_oneof![
                near(u64::MAX).boxed(),
                near(u64::MAX / 2).boxed(),
                any::<u64>().prop_flat_map(near).boxed(),
                (any::<u64>(), -4096i64..4096).boxed(),
            ],
            busy in any::<bool>(),
        ) {
            let held = expected.wrapping_add(d as u64);
            let stamp = if busy { writing(held) } else { published(held) };
            let want = match (d.signum(), busy) {
                (0, false) => SlotState::Ready,
                (1, _) => SlotState::Overwritten,
                _ => SlotState::NotYet,
            };
            prop_assert_eq!(classify(stamp, expected), want);
        }

        #[test]
        fn lag_and_oldest_are_consistent(
            origin in prop_oneof![Just(u64::MAX - 3), Just(0u64), any::<u64>()],
            written in 0u64..1 << 40,
            cap_log in 0u32..30,
        ) {
            let cap = 1u64 << cap_log;
            let w = origin.wrapping_add(written);
            let oldest = oldest_retained(w, origin, cap);
            prop_assert!(lag(w, oldest) <= cap);
            prop_assert_eq!(lag(w, oldest), written.min(cap));
            prop_assert_eq!(lag(w, w), 0);
            // a cursor "ahead" of the writer never reports a huge lag
            prop_assert_eq!(lag(w, w.wrapping_add(1 + written % 1000)), 0);
            // consecutive sequences land in consecutive slots, wrapping at cap
            let i = slot_index(w, cap - 1);
            prop_assert_eq!(slot_index(w.wrapping_add(1), cap - 1), (i + 1) % cap as usize);
            prop_assert_eq!(slot_index(w.wrapping_add(cap), cap - 1), i);
        }
    }
}
