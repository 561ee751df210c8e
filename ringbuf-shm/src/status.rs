//! A snapshot of a ring's state: what probes, metrics and tools read.

use std::sync::atomic::Ordering::{Acquire, Relaxed};
use std::time::Duration;

use crate::layout::{self, SLOT_ACTIVE};
use crate::mapping::Mapping;
use crate::overflow::Overflow;
use crate::record::kind_text;
use crate::{clock, lock, seq, RingError};

/// The state of a ring at one moment.
#[derive(Clone, Debug)]
pub struct RingStatus {
    pub path: std::path::PathBuf,
    pub creation_id: u64,
    pub capacity: u64,
    pub overflow: Overflow,
    pub record_kind: String,
    pub record_size: u32,
    /// The first sequence the ring ever held.
    pub origin_seq: u64,
    /// Every sequence before this one is published.
    pub write_seq: u64,
    pub writer: WriterStatus,
    /// Registered readers, in slot order.
    pub readers: Vec<ReaderStatus>,
}

/// The writer's side.
#[derive(Clone, Debug)]
pub struct WriterStatus {
    /// A live process holds the writer role right now.
    pub alive: bool,
    /// Time since the writer's last sign of life; None if no writer ever attached.
    pub heartbeat_age: Option<Duration>,
    /// How many times a writer attached (1 + restarts).
    pub attaches: u64,
    /// PID of the last writer, in its own PID namespace (container): for
    /// people reading the status, not for deciding liveness (`alive` does).
    pub pid: u64,
}

/// One registered reader.
#[derive(Clone, Debug)]
pub struct ReaderStatus {
    pub slot: usize,
    pub name: String,
    /// Every sequence before this one is committed.
    pub cursor: u64,
    /// Published records not yet committed.
    pub lag: u64,
    /// Records lost to being lapped, as of the last commit.
    pub missed: u64,
    /// A live process owns this reader right now.
    pub alive: bool,
    /// Time since the reader's last sign of life; None if it never attached.
    pub heartbeat_age: Option<Duration>,
    /// How many times a process attached to this reader (1 + restarts).
    pub attaches: u64,
    /// PID of the last owner, in its own PID namespace (informational).
    pub pid: u64,
}

fn age(now: u64, beat: u64) -> Option<Duration> {
    (beat != 0).then(|| Duration::from_nanos(now.saturating_sub(beat)))
}

impl RingStatus {
    pub(crate) fn read(map: &Mapping) -> Result<Self, RingError> {
        let h = map.header();
        let io = |e| RingError::io(&map.path, e);
        let probe = lock::reopen(&map.file).map_err(io)?;
        let now = clock::monotonic_ns();
        // Acquire: the cursors we read next are at least this recent.
        let write_seq = h.writer.write_seq.load(Acquire);
        let writer = WriterStatus {
            alive: lock::is_held_elsewhere(&probe, lock::WRITER_BYTE).map_err(io)?,
            // Relaxed: informational fields.
            heartbeat_age: age(now, h.writer.heartbeat_ns.load(Relaxed)),
            attaches: h.writer.attaches.load(Relaxed),
            pid: h.writer.pid.load(Relaxed),
        };
        let mut readers = Vec::new();
        for (i, slot) in h.readers.iter().enumerate() {
            // Acquire: an active slot's fields are initialized.
            if slot.state.load(Acquire) != SLOT_ACTIVE {
                continue;
            }
            // Relaxed (below): a snapshot; each value is individually valid.
            let cursor = slot.cursor.load(Relaxed);
            let name = layout::unpack_name(std::array::from_fn(|w| slot.name[w].load(Relaxed)));
            readers.push(ReaderStatus {
                slot: i,
                name,
                cursor,
                lag: seq::lag(write_seq, cursor),
                missed: slot.missed.load(Relaxed),
                alive: lock::is_held_elsewhere(&probe, lock::reader_byte(i)).map_err(io)?,
                heartbeat_age: age(now, slot.heartbeat_ns.load(Relaxed)),
                attaches: slot.attaches.load(Relaxed),
                pid: slot.pid.load(Relaxed),
            });
        }
        Ok(RingStatus {
            path: map.path.clone(),
            creation_id: map.creation_id,
            capacity: map.capacity,
            overflow: map.overflow,
            record_kind: kind_text(map.record_kind),
            record_size: map.record_size,
            origin_seq: map.origin,
            write_seq,
            writer,
            readers,
        })
    }

    /// The registered reader called `name`.
    pub fn reader(&self, name: &str) -> Option<&ReaderStatus> {
        self.readers.iter().find(|r| r.name == name)
    }
}
