//! The single writer of a ring.

use std::fs::File;
use std::marker::PhantomData;
use std::ops::Range;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;
use std::time::Duration;

use crate::layout::SLOT_ACTIVE;
use crate::mapping::Mapping;
use crate::overflow::Overflow;
use crate::seq::SlotState;
use crate::{clock, lock, protocol, seq, wait, wake, Record, RingError, WaitStrategy};

/// The ring is full: the slowest registered reader is a whole ring behind
/// (Lossless rings only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the ring is full: the slowest reader is a whole ring behind")]
pub struct Full;

/// The one writer of a ring. Holds the writer lock until dropped (or until its
/// process dies, however it dies).
pub struct Writer<T: Record> {
    map: Arc<Mapping>,
    _lock: File,
    /// The next sequence to write.
    next: u64,
    /// Writes up to (not including) this sequence need no look at the readers.
    room_until: u64,
    /// The last writer died in the middle of writing slot `next`.
    resumed_torn: bool,
    wait: WaitStrategy,
    _record: PhantomData<fn(T)>,
}

impl<T: Record> Writer<T> {
    pub(crate) fn attach(map: Arc<Mapping>) -> Result<Self, RingError> {
        let own = lock::own(&map.path, &map.file, lock::WRITER_BYTE)?.ok_or_else(|| {
            RingError::WriterBusy {
                path: map.path.clone(),
            }
        })?;
        let h = map.header();
        let w = &h.writer;
        // Acquire: we hold the writer lock, so this is the last writer's final
        // position (it advances once per batch).
        let published = w.write_seq.load(Acquire);
        // A writer that died in the middle of a batch had already published
        // some of its records slot by slot, and readers may have taken them:
        // continue after the last fully published record, never rewrite it.
        let mut next = published;
        for _ in 0..map.capacity {
            // Acquire: pairs with the Release store that published the slot.
            if map.slot(next)[0].load(Acquire) != seq::published(next) {
                break;
            }
            next = next.wrapping_add(1);
        }
        if next != published {
            // Release: as in `publish`.
            w.write_seq.store(next, Release);
            wake::notify(&h.data_wake);
        }
        // Acquire: a slot marked "being written" at `next` is a record the
        // last writer died writing; readers never accepted it.
        let resumed_torn = map.slot(next)[0].load(Acquire) == seq::writing(next);
        // Relaxed: informational counters, nobody synchronizes through them.
        w.attaches.fetch_add(1, Relaxed);
        w.pid.store(u64::from(std::process::id()), Relaxed);
        w.heartbeat_ns.store(clock::monotonic_ns(), Relaxed);
        Ok(Writer {
            map,
            _lock: own,
            next,
            room_until: next,
            resumed_torn,
            wait: WaitStrategy::default(),
            _record: PhantomData,
        })
    }

    /// How a Lossless writer waits for room (default: spin, then block).
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    /// Whether the previous writer died halfway through writing a record (the
    /// slot is marked "being written"; readers never saw it, and this writer
    /// writes that sequence again).
    pub fn resumed_torn_write(&self) -> bool {
        self.resumed_torn
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next
    }

    /// The last record this ring published (by this writer or an earlier one),
    /// or `None` if nothing has been published yet. A restarted producer uses
    /// it to find where it left off (the feed's last timestamp, the brain's
    /// last signal).
    pub fn last_published(&self) -> Option<T> {
        let seq = self.next.wrapping_sub(1);
        if self.next == self.map.origin {
            return None;
        }
        let mut record = T::zeroed();
        let words: &mut [u64] = bytemuck::cast_slice_mut(std::slice::from_mut(&mut record));
        // We are the only writer, so the slot cannot change under the copy.
        match protocol::consume(self.map.slot(seq), seq, words) {
            SlotState::Ready => Some(record),
            SlotState::NotYet | SlotState::Overwritten => None,
        }
    }

    /// Writes one record, waiting for room if the ring is Lossless and full.
    /// Returns the record's sequence number.
    pub fn write(&mut self, record: &T) -> u64 {
        loop {
            if let Ok(seq) = self.write_timeout(record, None) {
                return seq;
            }
        }
    }

    /// Writes one record if there is room now.
    pub fn try_write(&mut self, record: &T) -> Result<u64, Full> {
        self.write_timeout(record, Some(Duration::ZERO))
    }

    /// Writes one record, waiting at most `timeout` (None: forever) for room.
    pub fn write_timeout(&mut self, record: &T, timeout: Option<Duration>) -> Result<u64, Full> {
        if self.room() == 0 && !self.wait_for_room(timeout) {
            return Err(Full);
        }
        let seq = self.next;
        self.put(record);
        self.publish();
        Ok(seq)
    }

    /// Writes all of `records`, waiting for room as needed; publishes them in
    /// as few steps as room allows. Returns their sequence numbers.
    pub fn write_batch(&mut self, records: &[T]) -> Range<u64> {
        let first = self.next;
        let mut rest = records;
        while !rest.is_empty() {
            let n = self.try_write_batch(rest);
            rest = &rest[n..];
            if n == 0 {
                self.wait_for_room(None);
            }
        }
        first..self.next
    }

    /// Writes as many of `records` as there is room for now; returns how many.
    pub fn try_write_batch(&mut self, records: &[T]) -> usize {
        let n = (records.len() as u64).min(self.room()) as usize;
        if n == 0 {
            return 0;
        }
        for record in &records[..n] {
            self.put(record);
        }
        self.publish();
        n
    }

    /// Marks the writer alive without writing (for idle loops).
    pub fn heartbeat(&self) {
        // Relaxed: a liveness hint, not a synchronization point.
        self.map
            .header()
            .writer
            .heartbeat_ns
            .store(clock::monotonic_ns(), Relaxed);
    }

    /// Stores one record in its slot (published to readers at once; the write
    /// position follows in `publish`).
    #[inline(always)]
    fn put(&mut self, record: &T) {
        let words: &[u64] = bytemuck::cast_slice(std::slice::from_ref(record));
        protocol::publish(self.map.slot(self.next), self.next, words);
        self.next = self.next.wrapping_add(1);
    }

    /// Advances the shared write position and wakes sleeping readers.
    #[inline(always)]
    fn publish(&mut self) {
        let h = self.map.header();
        // Release: a reader that sees the position sees the records; the
        // wake protocol's fence follows in `notify` (wake.rs).
        h.writer.write_seq.store(self.next, Release);
        // Relaxed: a liveness hint.
        h.writer.heartbeat_ns.store(clock::monotonic_ns(), Relaxed);
        wake::notify(&h.data_wake);
    }

    /// How many records can be written now without overwriting a record a
    /// registered reader has not committed (unbounded for Overwrite rings).
    #[inline]
    fn room(&mut self) -> u64 {
        if self.map.overflow == Overflow::Overwrite {
            return u64::MAX;
        }
        let cached = seq::lag(self.room_until, self.next);
        if cached > 0 {
            return cached;
        }
        let room = room_now(&self.map, self.next);
        self.room_until = self.next.wrapping_add(room);
        room
    }

    /// Waits until some room frees up; false if `timeout` passed first.
    fn wait_for_room(&mut self, timeout: Option<Duration>) -> bool {
        let map = &self.map;
        let next = self.next;
        let ok = wait::wait_until(
            self.wait,
            true,
            timeout,
            &map.header().space_wake,
            || room_now(map, next) > 0,
            || {
                // Relaxed: a liveness hint.
                map.header()
                    .writer
                    .heartbeat_ns
                    .store(clock::monotonic_ns(), Relaxed)
            },
        );
        self.room_until = self.next; // force a fresh look
        ok.ready()
    }
}

/// Room for a writer at `next`: capacity minus the largest lag of any active
/// reader.
fn room_now(map: &Mapping, next: u64) -> u64 {
    let mut worst = 0;
    for slot in &map.header().readers {
        // Acquire: a slot that became active has its cursor initialized.
        if slot.state.load(Acquire) == SLOT_ACTIVE {
            // Acquire: the reader's reads of the records before its cursor
            // happen before we overwrite them.
            worst = worst.max(seq::lag(next, slot.cursor.load(Acquire)));
        }
    }
    map.capacity.saturating_sub(worst)
}
