//! A registered reader of a ring, with a persistent cursor.

use std::fs::File;
use std::marker::PhantomData;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::mapping::Mapping;
use crate::overflow::Overflow;
use crate::seq::{self, SlotState};
use crate::wait::Waited;
use crate::{clock, protocol, wait, wake, Record, RingError, WaitStrategy};

/// How many times one `try_read` may skip forward after being lapped.
const MAX_SKIPS_PER_READ: u32 = 16;

/// One registered reader. Reads records in order from its position; records
/// count as consumed only once [`commit`](Reader::commit)ted: a reader that
/// restarts resumes right after its last commit.
///
/// Holds the reader's lock until dropped (or until its process dies).
pub struct Reader<T: Record> {
    map: Arc<Mapping>,
    _lock: File,
    index: usize,
    name: String,
    /// The next sequence to read.
    pos: u64,
    /// Every sequence before this one is committed.
    committed: u64,
    /// Records lost to being lapped, ever, up to `pos`.
    missed: u64,
    /// `missed` as of the last commit (what the header holds).
    committed_missed: u64,
    wait: WaitStrategy,
    /// Whether the next wait spins before sleeping: the last wait was met
    /// within the spin (see [`WaitStrategy::SpinThenBlock`]).
    spin_first: bool,
    _record: PhantomData<fn() -> T>,
}

impl<T: Record> Reader<T> {
    pub(crate) fn attach(map: Arc<Mapping>, lock: File, index: usize, name: String) -> Self {
        let slot = &map.header().readers[index];
        // Acquire: pairs with our previous incarnation's last commit.
        let cursor = slot.cursor.load(Acquire);
        // Relaxed: fields only this (locked) owner writes.
        let missed = slot.missed.load(Relaxed);
        slot.attaches.fetch_add(1, Relaxed);
        slot.pid.store(u64::from(std::process::id()), Relaxed);
        slot.heartbeat_ns.store(clock::monotonic_ns(), Relaxed);
        Reader {
            map,
            _lock: lock,
            index,
            name,
            pos: cursor,
            committed: cursor,
            missed,
            committed_missed: missed,
            wait: WaitStrategy::default(),
            spin_first: true,
            _record: PhantomData,
        }
    }

    /// How this reader waits for data (default: spin, then block).
    pub fn set_wait_strategy(&mut self, wait: WaitStrategy) {
        self.wait = wait;
    }

    /// The name this reader is registered under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The next sequence this reader will read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Every sequence before this one is committed (the persistent cursor).
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// How many records this reader has lost to being lapped, over its whole
    /// registered life, up to its position (Overwrite rings; a Lossless ring
    /// only loses records for a reader that registers while the writer is a
    /// full ring ahead). The header keeps the count as of the last commit, so
    /// a restarted reader counts again what it skipped but never committed.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// How many published records this reader has not read yet.
    pub fn pending(&self) -> u64 {
        // Acquire: what we count we can then read.
        seq::lag(self.map.header().writer.write_seq.load(Acquire), self.pos)
    }

    /// Reads the next record if it is there.
    #[inline]
    pub fn try_read(&mut self) -> Option<T> {
        // A lapped reader jumps to the oldest record, which a fast writer may
        // overwrite again before we copy it; give up after a few rounds (the
        // next call goes on) so that even a hostile header cannot trap us here.
        for _ in 0..MAX_SKIPS_PER_READ {
            let mut record = T::zeroed();
            let words: &mut [u64] = bytemuck::cast_slice_mut(std::slice::from_mut(&mut record));
            match protocol::consume(self.map.slot(self.pos), self.pos, words) {
                SlotState::Ready => {
                    self.pos = self.pos.wrapping_add(1);
                    return Some(record);
                }
                SlotState::NotYet => return None,
                SlotState::Overwritten => self.skip_lapped(),
            }
        }
        None
    }

    /// Appends up to `max` available records to `out`; returns how many.
    pub fn read_batch(&mut self, out: &mut Vec<T>, max: usize) -> usize {
        let mut n = 0;
        while n < max {
            match self.try_read() {
                Some(record) => out.push(record),
                None => break,
            }
            n += 1;
        }
        n
    }

    /// The records available now, in order (stops when there are no more).
    pub fn iter(&mut self) -> Drain<'_, T> {
        Drain { reader: self }
    }

    /// Waits until a record is available, at most `timeout` (None: forever).
    pub fn wait(&mut self, timeout: Option<Duration>) -> bool {
        let map = &self.map;
        let pos = self.pos;
        let h = map.header();
        let slot = &h.readers[self.index];
        let stamp = &map.slot(pos)[0];
        let waited = wait::wait_until(
            self.wait,
            self.spin_first,
            timeout,
            &h.data_wake,
            // Polls the stamp of the slot we read next, not the write
            // position: the record arrives in the same cache line as the news
            // of it. The writer publishes the stamp before its wake fence, so
            // this is also a valid re-check for the sleep protocol (wake.rs).
            // Acquire: pairs with the publishing Release store.
            || seq::classify(stamp.load(Acquire), pos) != SlotState::NotYet,
            // Relaxed: a liveness hint.
            || slot.heartbeat_ns.store(clock::monotonic_ns(), Relaxed),
        );
        match (waited, self.wait) {
            (Waited::Awake, _) => self.spin_first = true,
            // Spinning would have met a record this close; not a later one.
            (Waited::Slept { after }, WaitStrategy::SpinThenBlock { spin }) => {
                self.spin_first = after < spin;
            }
            // Nothing came: no news about how records are spaced.
            _ => {}
        }
        waited.ready()
    }

    /// Reads the next record, waiting at most `timeout` (None: forever).
    pub fn read_timeout(&mut self, timeout: Option<Duration>) -> Option<T> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if let Some(record) = self.try_read() {
                return Some(record);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left == Some(Duration::ZERO) || !self.wait(left) {
                return self.try_read();
            }
        }
    }

    /// Marks everything read so far as consumed. Persistent: a restarted reader
    /// resumes here. In a Lossless ring this also frees room for the writer.
    pub fn commit(&mut self) {
        if self.committed == self.pos {
            self.heartbeat();
            return;
        }
        self.committed = self.pos;
        self.committed_missed = self.missed;
        let h = self.map.header();
        let slot = &h.readers[self.index];
        // Relaxed: only this owner writes it; published by the cursor store.
        slot.missed.store(self.missed, Relaxed);
        // Release: our reads of the committed records happen before the
        // writer reuses their slots; the wake protocol's fence follows in
        // `notify` (wake.rs).
        slot.cursor.store(self.pos, Release);
        self.heartbeat();
        if self.map.overflow == Overflow::Lossless {
            wake::notify(&h.space_wake);
        }
    }

    /// Goes back to the last commit, to read the uncommitted records again.
    pub fn rewind(&mut self) {
        self.pos = self.committed;
        self.missed = self.committed_missed;
    }

    /// Marks the reader alive without reading (for idle loops).
    pub fn heartbeat(&self) {
        // Relaxed: a liveness hint.
        self.map.header().readers[self.index]
            .heartbeat_ns
            .store(clock::monotonic_ns(), Relaxed);
    }

    /// Unregisters this reader and frees its slot; its cursor is forgotten.
    pub fn unregister(self) -> Result<(), RingError> {
        let _registry = self.map.lock_registry()?;
        self.map.free_reader_locked(self.index);
        Ok(())
    }

    /// We were lapped: jump to the oldest record still in the ring and count
    /// exactly the sequences we jumped over.
    #[cold]
    fn skip_lapped(&mut self) {
        // Acquire: the records from `oldest` on are published.
        let write_seq = self.map.header().writer.write_seq.load(Acquire);
        let oldest = seq::oldest_retained(write_seq, self.map.origin, self.map.capacity);
        // The slot at `pos` is being overwritten even if the write position has
        // not moved yet: `pos` itself is lost.
        let target = if seq::distance(oldest, self.pos) > 0 {
            oldest
        } else {
            self.pos.wrapping_add(1)
        };
        self.missed = self.missed.wrapping_add(target.wrapping_sub(self.pos));
        self.pos = target;
    }
}

/// Iterator over the records a reader can read now.
pub struct Drain<'a, T: Record> {
    reader: &'a mut Reader<T>,
}

impl<T: Record> Iterator for Drain<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.reader.try_read()
    }
}
