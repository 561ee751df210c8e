//! Creating, attaching to and validating a ring file, and its reader registry.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::RingError;
use crate::layout::{self, Header, HEADER_BYTES, MAX_READERS};
use crate::record::{kind_text, Record};
use crate::status::RingStatus;
use crate::{clock, lock, seq, wake, Reader, Writer};

/// What the writer does when the slowest registered reader is a full ring behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// The writer waits (spin, then sleep) until the slowest registered reader
    /// commits. Nothing is ever lost. For backtests and replays.
    Lossless,
    /// The writer never waits; it overwrites the oldest record. A lapped
    /// reader skips to the oldest record still there and counts exactly how
    /// many it missed. For live data.
    Overwrite,
}

impl Overflow {
    fn code(self) -> u32 {
        match self {
            Overflow::Lossless => layout::POLICY_LOSSLESS,
            Overflow::Overwrite => layout::POLICY_OVERWRITE,
        }
    }
    fn from_code(code: u32) -> Option<Self> {
        match code {
            layout::POLICY_LOSSLESS => Some(Overflow::Lossless),
            layout::POLICY_OVERWRITE => Some(Overflow::Overwrite),
            _ => None,
        }
    }
}

/// How to create a ring.
#[derive(Clone, Debug)]
pub struct RingOptions {
    capacity: u64,
    overflow: Overflow,
    readers: Vec<String>,
    origin_seq: u64,
}

impl RingOptions {
    /// A ring of `capacity` slots (a power of two) with the given overflow policy.
    pub fn new(capacity: u64, overflow: Overflow) -> Self {
        RingOptions {
            capacity,
            overflow,
            readers: Vec::new(),
            origin_seq: 0,
        }
    }

    /// Registers `name` as a reader when the ring is created (or opened), so a
    /// Lossless writer keeps every record for it even before it first attaches.
    pub fn with_reader(mut self, name: impl Into<String>) -> Self {
        self.readers.push(name.into());
        self
    }

    /// The sequence number of the first record (default 0). Counters wrap, so
    /// any value works; tests use values near `u64::MAX`.
    pub fn origin_seq(mut self, seq: u64) -> Self {
        self.origin_seq = seq;
        self
    }

    fn validate(&self) -> Result<(), RingError> {
        if !self.capacity.is_power_of_two() || self.capacity > layout::MAX_CAPACITY {
            return Err(RingError::CapacityNotPowerOfTwo {
                capacity: self.capacity,
            });
        }
        for name in &self.readers {
            layout::check_reader_name(name).map_err(|reason| RingError::InvalidReaderName {
                name: name.clone(),
                reason,
            })?;
        }
        Ok(())
    }
}

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
    fn attach(path: &Path, file: File) -> Result<Mapping, RingError> {
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
    fn own_reader(&self, index: usize, name: &str) -> Result<File, RingError> {
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
    fn add_reader_locked(&self, name: &str) -> Result<usize, RingError> {
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

/// A ring file, attached and validated, carrying records of type `T`.
///
/// A `Ring` is a cheap handle: it makes one [`Writer`] and any number of
/// [`Reader`]s. See the crate documentation for the protocol.
pub struct Ring<T: Record> {
    pub(crate) map: Arc<Mapping>,
    _record: PhantomData<fn() -> T>,
}

impl<T: Record> Clone for Ring<T> {
    fn clone(&self) -> Self {
        Ring {
            map: self.map.clone(),
            _record: PhantomData,
        }
    }
}

impl<T: Record> std::fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("path", &self.map.path)
            .field("capacity", &self.map.capacity)
            .field("overflow", &self.map.overflow)
            .finish()
    }
}

impl<T: Record> Ring<T> {
    const RECORD_CHECK: () = assert!(
        std::mem::size_of::<T>().is_multiple_of(8)
            && std::mem::size_of::<T>() >= 16
            && std::mem::align_of::<T>() >= 8
            && std::mem::align_of::<T>() <= 4096,
        "a ring record must be a multiple of 8 bytes, at least 16, aligned to 8..=4096"
    );

    /// Creates the ring at `path` (mode 0600) or, if it exists, attaches to it.
    ///
    /// An existing ring is never re-initialized: its writer position, readers
    /// and cursors are kept. If it exists with another record type, capacity or
    /// overflow policy, this is an error. A file left behind by a creator that
    /// died before finishing is initialized anew.
    pub fn create_or_open(
        path: impl AsRef<Path>,
        options: &RingOptions,
    ) -> Result<Self, RingError> {
        let () = Self::RECORD_CHECK;
        let path = path.as_ref();
        options.validate()?;
        let record_size = std::mem::size_of::<T>() as u64;
        let expected = layout::file_bytes(options.capacity, record_size).ok_or(
            RingError::CapacityNotPowerOfTwo {
                capacity: options.capacity,
            },
        )?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| RingError::io(path, e))?;
        let registry = lock::registry(path, &file)?;

        let len = file.metadata().map_err(|e| RingError::io(path, e))?.len();
        let mut magic = [0u8; 8];
        let unfinished = len == expected
            && file.read_exact_at(&mut magic, 0).is_ok()
            && u64::from_le_bytes(magic) == 0;
        if len == 0 || unfinished {
            Self::initialize(path, &file, options, expected)?;
        }
        let ring = Self::from_mapping(Mapping::attach(path, file)?)?;
        let map = &ring.map;
        if map.capacity != options.capacity {
            return Err(ring.mismatch("capacity", map.capacity, options.capacity));
        }
        if map.overflow != options.overflow {
            return Err(ring.mismatch(
                "overflow",
                format!("{:?}", map.overflow),
                format!("{:?}", options.overflow),
            ));
        }
        for name in &options.readers {
            if map.find_reader(name).is_none() {
                map.add_reader_locked(name)?;
            }
        }
        drop(registry);
        Ok(ring)
    }

    /// Attaches to an existing ring, validating its header against `T`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RingError> {
        let () = Self::RECORD_CHECK;
        let path = path.as_ref();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| RingError::io(path, e))?;
        Self::from_mapping(Mapping::attach(path, file)?)
    }

    fn from_mapping(map: Mapping) -> Result<Self, RingError> {
        let size = std::mem::size_of::<T>() as u32;
        let align = std::mem::align_of::<T>() as u32;
        let kind = u64::from_le_bytes(T::KIND);
        if map.record_kind != kind {
            return Err(RingError::RecordKindMismatch {
                path: map.path.clone(),
                found: kind_text(map.record_kind),
                expected: kind_text(kind),
            });
        }
        if map.record_size != size {
            return Err(RingError::RecordSizeMismatch {
                path: map.path.clone(),
                found: map.record_size,
                expected: size,
            });
        }
        // Relaxed: immutable identity field, published with the magic.
        let found_align = map.header().identity.record_align.load(Relaxed);
        if found_align != align {
            return Err(RingError::RecordAlignMismatch {
                path: map.path.clone(),
                found: found_align,
                expected: align,
            });
        }
        Ok(Ring {
            map: Arc::new(map),
            _record: PhantomData,
        })
    }

    fn mismatch(
        &self,
        field: &'static str,
        existing: impl ToString,
        requested: impl ToString,
    ) -> RingError {
        RingError::LayoutMismatch {
            path: self.map.path.clone(),
            field,
            existing: existing.to_string(),
            requested: requested.to_string(),
        }
    }

    /// Writes a fresh header and empty slots. The registry lock is held, and
    /// the magic is stored last, so nobody attaches to a half-made ring.
    fn initialize(
        path: &Path,
        file: &File,
        options: &RingOptions,
        bytes: u64,
    ) -> Result<(), RingError> {
        // Truncating first zeroes whatever an unfinished creator left behind.
        file.set_len(0).map_err(|e| RingError::io(path, e))?;
        file.set_len(bytes).map_err(|e| RingError::io(path, e))?;
        let len = usize::try_from(bytes).map_err(|_| RingError::CapacityNotPowerOfTwo {
            capacity: options.capacity,
        })?;
        let map = MmapOptions::new()
            .len(len)
            .map_raw(file)
            .map_err(|e| RingError::io(path, e))?;
        // SAFETY: the mapping is page aligned and `bytes` ≥ HEADER_BYTES long;
        // all Header fields are atomics; the reference dies with this function,
        // before `map` is unmapped.
        let h = unsafe { &*(map.as_ptr() as *const Header) };
        let id = &h.identity;
        // Relaxed (identity and slots): published by the Release store of the magic.
        id.layout_version.store(layout::LAYOUT_VERSION, Relaxed);
        id.record_size
            .store(std::mem::size_of::<T>() as u32, Relaxed);
        id.record_align
            .store(std::mem::align_of::<T>() as u32, Relaxed);
        id.policy.store(options.overflow.code(), Relaxed);
        id.record_kind.store(u64::from_le_bytes(T::KIND), Relaxed);
        id.capacity.store(options.capacity, Relaxed);
        id.creation_id.store(creation_id(), Relaxed);
        id.origin_seq.store(options.origin_seq, Relaxed);
        id.header_bytes.store(HEADER_BYTES, Relaxed);
        id.file_bytes.store(bytes, Relaxed);
        id.created_unix_ms.store(unix_ms(), Relaxed);
        h.writer.write_seq.store(options.origin_seq, Relaxed);
        // Every slot claims to hold the sequence before the origin: "not yet" to
        // any reader. With origin 0 that stamp is 0, which the file already holds.
        let empty = seq::published(options.origin_seq.wrapping_sub(1));
        if empty != 0 {
            for i in 0..options.capacity as usize {
                let offset = layout::slot_offset(i, std::mem::size_of::<T>());
                // SAFETY: slot i lies inside the mapping (bytes = header +
                // capacity × size) and is 8-byte aligned; see Mapping::slot.
                let stamp = unsafe { &*(map.as_ptr().add(offset) as *const AtomicU64) };
                stamp.store(empty, Relaxed);
            }
        }
        // Release: everything above is visible to whoever sees the magic.
        id.magic.store(layout::MAGIC, Release);
        Ok(())
    }

    /// Becomes the ring's only writer. Fails with [`RingError::WriterBusy`]
    /// while another live handle (in any process) is the writer. The new
    /// writer continues the sequence where the last one stopped.
    pub fn writer(&self) -> Result<Writer<T>, RingError> {
        Writer::attach(self.map.clone())
    }

    /// Registers a reader called `name`, or resumes the registered one: a
    /// reader that restarts continues right after its last commit. Fails with
    /// [`RingError::ReaderBusy`] while a live handle owns that name.
    pub fn reader(&self, name: &str) -> Result<Reader<T>, RingError> {
        self.open_reader(name, true)
    }

    /// Resumes the reader registered as `name`; [`RingError::ReaderUnknown`] if
    /// there is none.
    pub fn attach_reader(&self, name: &str) -> Result<Reader<T>, RingError> {
        self.open_reader(name, false)
    }

    fn open_reader(&self, name: &str, register: bool) -> Result<Reader<T>, RingError> {
        layout::check_reader_name(name).map_err(|reason| RingError::InvalidReaderName {
            name: name.to_string(),
            reason,
        })?;
        let map = &self.map;
        let _registry = map.lock_registry()?;
        let index = match map.find_reader(name) {
            Some(index) => index,
            None if register => map.add_reader_locked(name)?,
            None => {
                return Err(RingError::ReaderUnknown {
                    path: map.path.clone(),
                    name: name.to_string(),
                })
            }
        };
        let own = map.own_reader(index, name)?;
        Ok(Reader::attach(map.clone(), own, index, name.to_string()))
    }

    /// Unregisters the reader `name` whose owner is gone, freeing its slot (a
    /// Lossless writer stops waiting for it). Fails with
    /// [`RingError::ReaderBusy`] if a live handle still owns it.
    pub fn remove_reader(&self, name: &str) -> Result<(), RingError> {
        let map = &self.map;
        let _registry = map.lock_registry()?;
        let index = map
            .find_reader(name)
            .ok_or_else(|| RingError::ReaderUnknown {
                path: map.path.clone(),
                name: name.to_string(),
            })?;
        // Owning the slot proves no live handle does; dropped after freeing it.
        let _owned = map.own_reader(index, name)?;
        map.free_reader_locked(index);
        Ok(())
    }

    /// Heartbeats, the write position, and every reader's cursor, lag and
    /// missed count: what probes and metrics read.
    pub fn status(&self) -> Result<RingStatus, RingError> {
        RingStatus::read(&self.map)
    }

    /// Every sequence before this one has been published.
    pub fn write_seq(&self) -> u64 {
        // Acquire: the records before it are visible to the caller.
        self.map.header().writer.write_seq.load(Acquire)
    }

    /// The file this ring lives in.
    pub fn path(&self) -> &Path {
        &self.map.path
    }

    /// Number of slots.
    pub fn capacity(&self) -> u64 {
        self.map.capacity
    }

    /// The overflow policy chosen at creation.
    pub fn overflow(&self) -> Overflow {
        self.map.overflow
    }

    /// A random id chosen when the file was created: it changes when a ring is
    /// deleted and created anew at the same path.
    pub fn creation_id(&self) -> u64 {
        self.map.creation_id
    }
}

/// Reads the status of the ring at `path`, whatever its record type: for
/// tools and probes that do not know (or care) what the ring carries.
pub fn inspect(path: impl AsRef<Path>) -> Result<RingStatus, RingError> {
    let path = path.as_ref();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| RingError::io(path, e))?;
    RingStatus::read(&Mapping::attach(path, file)?)
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A creation id: unique enough to tell one incarnation of a path from the next.
fn creation_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(unix_ms());
    h.write_u64(clock::monotonic_ns());
    h.write_u32(std::process::id());
    h.finish()
}
