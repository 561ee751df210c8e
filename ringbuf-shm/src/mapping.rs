//! The mapped ring file: attaching to it and checking its header, the
//! slots, and the reader registry's slots and lock files. Shared (in an
//! `Arc`) by a ring handle and its writer and readers.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use memmap2::{MmapOptions, MmapRaw};

use crate::error::RingError;
use crate::layout::{self, Header, HEADER_BYTES, MAX_READERS};
use crate::overflow::Overflow;
use crate::{lock, seq, wake};

/// The mapped file, shared by a ring handle and its writer and readers.
pub(crate) struct Mapping {
    pub path: PathBuf,
    pub file: File,
    map: MmapRaw,
    pub capacity: u64,
    pub mask: u64,
    pub overflow: Overflow,
    pub origin: u64,
    pub creation_id: u64,
    pub record_size: u32,
    pub record_kind: u64,
    words_per_slot: usize,
}

impl Mapping {
    /// Maps `file` and validates its header. Nothing in the file is trusted
    /// until this returns: a corrupt or hostile file gives an error, never a
    /// panic or an out-of-bounds access.
    pub(crate) fn attach(path: &Path, file: File) -> Result<Mapping, RingError> {
        let path = path.to_path_buf();
        let len = file.metadata().map_err(|e| RingError::io(&path, e))?.len();
        if len == 0 {
            return Err(RingError::Uninitialized { path });
        }
        if len < HEADER_BYTES {
            return Err(RingError::Truncated {
                path,
                expected: HEADER_BYTES,
                actual: len,
            });
        }
        let map_len = usize::try_from(len).map_err(|_| RingError::Oversized {
            path: path.clone(),
            expected: HEADER_BYTES,
            actual: len,
        })?;
        let map = MmapOptions::new()
            .len(map_len)
            .map_raw(&file)
            .map_err(|e| RingError::io(&path, e))?;
        // SAFETY: the mapping is page aligned and at least HEADER_BYTES long,
        // which holds a Header (checked at compile time); every Header field is
        // an atomic, valid for any bit pattern; the reference does not outlive
        // `map`, which lives in the returned Mapping.
        let id = unsafe { &(*(map.as_ptr() as *const Header)).identity };

        let corrupt = |field: &'static str, detail: String| RingError::CorruptHeader {
            path: path.clone(),
            field,
            detail,
        };
        // Acquire: pairs with the creator's Release store of the magic, so the
        // other identity fields below are the creator's.
        let magic = id.magic.load(Acquire);
        if magic == 0 {
            return Err(RingError::Uninitialized { path });
        }
        if magic != layout::MAGIC {
            return Err(RingError::WrongMagic {
                path,
                found: magic,
                expected: layout::MAGIC,
            });
        }
        // Relaxed (all identity reads): immutable since the magic was published.
        let version = id.layout_version.load(Relaxed);
        if version != layout::LAYOUT_VERSION {
            return Err(RingError::VersionMismatch {
                path,
                found: version,
                expected: layout::LAYOUT_VERSION,
            });
        }
        let capacity = id.capacity.load(Relaxed);
        if !capacity.is_power_of_two() || capacity > layout::MAX_CAPACITY {
            return Err(corrupt(
                "capacity",
                format!("{capacity} is not a power of two between 1 and 2^40"),
            ));
        }
        let record_size = id.record_size.load(Relaxed);
        if record_size < 16 || !record_size.is_multiple_of(8) || record_size > 1 << 20 {
            return Err(corrupt(
                "record size",
                format!("{record_size} is not a multiple of 8 between 16 and 2^20"),
            ));
        }
        let record_align = id.record_align.load(Relaxed);
        if !record_align.is_power_of_two()
            || !(8..=4096).contains(&record_align)
            || !record_size.is_multiple_of(record_align)
        {
            return Err(corrupt(
                "record alignment",
                format!("{record_align} does not fit records of {record_size} bytes"),
            ));
        }
        let policy = id.policy.load(Relaxed);
        let overflow = Overflow::from_code(policy)
            .ok_or_else(|| corrupt("overflow policy", format!("{policy} is neither 1 nor 2")))?;
        let header_bytes = id.header_bytes.load(Relaxed);
        if header_bytes != HEADER_BYTES {
            return Err(corrupt(
                "header size",
                format!("{header_bytes}, expected {HEADER_BYTES}"),
            ));
        }
        let expected = layout::file_bytes(capacity, u64::from(record_size)).ok_or_else(|| {
            corrupt(
                "capacity",
                format!("{capacity} slots overflow the file size"),
            )
        })?;
        let recorded = id.file_bytes.load(Relaxed);
        if recorded != expected {
            return Err(corrupt(
                "file size",
                format!("{recorded} disagrees with capacity × record size = {expected}"),
            ));
        }
        if len < expected {
            return Err(RingError::Truncated {
                path,
                expected,
                actual: len,
            });
        }
        if len > expected {
            return Err(RingError::Oversized {
                path,
                expected,
                actual: len,
            });
        }
        let origin = id.origin_seq.load(Relaxed);
        let creation_id = id.creation_id.load(Relaxed);
        let record_kind = id.record_kind.load(Relaxed);
        Ok(Mapping {
            path,
            file,
            map,
            capacity,
            mask: capacity - 1,
            overflow,
            origin,
            creation_id,
            record_size,
            record_kind,
            words_per_slot: record_size as usize / 8,
        })
    }

    /// The header.
    #[inline(always)]
    pub fn header(&self) -> &Header {
        // SAFETY: validated in `attach` (mapping ≥ HEADER_BYTES, page aligned);
        // all fields are atomics; the borrow is tied to `self`, which owns the map.
        unsafe { &*(self.map.as_ptr() as *const Header) }
    }

    /// The words of the slot that holds `seq`.
    #[inline(always)]
    pub fn slot(&self, seq: u64) -> &[AtomicU64] {
        let index = seq::slot_index(seq, self.mask);
        // SAFETY: `attach` checked that the file (and so the mapping) is exactly
        // HEADER_BYTES + capacity × record_size bytes, and index < capacity, so
        // the slot lies inside the mapping. The offset is a multiple of 8 from a
        // page-aligned base, so the AtomicU64s are aligned; any bit pattern is a
        // valid AtomicU64; the borrow is tied to `self`, which owns the map.
        unsafe {
            let base = self
                .map
                .as_ptr()
                .add(layout::slot_offset(index, self.record_size as usize));
            std::slice::from_raw_parts(base as *const AtomicU64, self.words_per_slot)
        }
    }

    /// Takes the registry lock; released when the returned file is dropped.
    pub(crate) fn lock_registry(&self) -> Result<File, RingError> {
        lock::registry(&self.path, &self.file)
    }

    /// Takes ownership of reader slot `index` (registered as `name`);
    /// [`RingError::ReaderBusy`] while a live handle owns it.
    pub(crate) fn own_reader(&self, index: usize, name: &str) -> Result<File, RingError> {
        lock::own(&self.path, &self.file, lock::reader_byte(index))?.ok_or_else(|| {
            RingError::ReaderBusy {
                path: self.path.clone(),
                name: name.to_string(),
            }
        })
    }

    /// The slot index of the active reader called `name`.
    pub fn find_reader(&self, name: &str) -> Option<usize> {
        let packed = layout::pack_name(name);
        self.header().readers.iter().position(|slot| {
            // Acquire: the name was written before the slot became active.
            slot.state.load(Acquire) == layout::SLOT_ACTIVE
                // Relaxed: ordered by the state load above.
                && slot.name.iter().zip(packed).all(|(w, p)| w.load(Relaxed) == p)
        })
    }

    /// Registers `name` in a free slot. The registry lock must be held.
    pub(crate) fn add_reader_locked(&self, name: &str) -> Result<usize, RingError> {
        let h = self.header();
        let index = h
            .readers
            .iter()
            // Relaxed: the registry lock orders registry changes.
            .position(|slot| slot.state.load(Relaxed) == layout::SLOT_FREE)
            .ok_or_else(|| RingError::ReaderSlotsExhausted {
                path: self.path.clone(),
                max: MAX_READERS,
            })?;
        let slot = &h.readers[index];
        // Acquire: the records from the start we choose on are published.
        let write_seq = h.writer.write_seq.load(Acquire);
        let start = seq::oldest_retained(write_seq, self.origin, self.capacity);
        for (w, p) in slot.name.iter().zip(layout::pack_name(name)) {
            // Relaxed: published by the Release store of the state below.
            w.store(p, Relaxed);
        }
        // Relaxed (these four): published by the Release store of the state below.
        slot.cursor.store(start, Relaxed);
        slot.missed.store(0, Relaxed);
        slot.attaches.store(0, Relaxed);
        slot.heartbeat_ns.store(0, Relaxed);
        // Release: a writer or status reader that sees the slot active sees its fields.
        slot.state.store(layout::SLOT_ACTIVE, Release);
        Ok(index)
    }

    /// Frees reader slot `index`. The registry lock must be held and nobody
    /// may own the slot.
    pub(crate) fn free_reader_locked(&self, index: usize) {
        let h = self.header();
        let slot = &h.readers[index];
        // Release: pairs with the writer's Acquire scan; it stops counting this cursor.
        slot.state.store(layout::SLOT_FREE, Release);
        for w in &slot.name {
            // Relaxed: the slot is free; nobody reads the name of a free slot.
            w.store(0, Relaxed);
        }
        // A Lossless writer may be waiting for this reader: it no longer has to.
        wake::notify(&h.space_wake);
    }
}
