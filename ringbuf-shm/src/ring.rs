//! Creating, attaching to and validating a ring file, and its reader registry.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use memmap2::MmapOptions;

use crate::error::RingError;
use crate::layout::{self, Header, HEADER_BYTES};
use crate::mapping::Mapping;
use crate::overflow::Overflow;
use crate::record::{kind_text, Record};
use crate::status::RingStatus;
use crate::{clock, lock, seq, Reader, Writer};

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
            // A symbolic link planted at the ring's path is refused (ELOOP),
            // never followed to a file of the planter's choosing.
            .custom_flags(libc::O_NOFOLLOW)
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
            .custom_flags(libc::O_NOFOLLOW)
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
        .custom_flags(libc::O_NOFOLLOW)
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
