//! The ring file's layout: a versioned header followed by the slots.
//!
//! ```text
//! offset 0      Identity      magic, layout version, record size/align/kind,
//!                             capacity, overflow policy, creation id, origin,
//!                             header and file sizes (immutable once created)
//! offset 128    WriterLine    write sequence, writer heartbeat, attach count
//! offset 256    data wake     futex word + sleepers: readers waiting for data
//! offset 384    space wake    futex word + sleepers: a Lossless writer waiting for room
//! offset 512    16 × ReaderSlot   name, committed cursor, heartbeat, missed count
//! offset 4096   capacity × record-size slots
//! ```
//!
//! Every field that changes is on its own 128-byte line (two x86 cache lines,
//! because the adjacent-line prefetcher moves them in pairs), so the writer and
//! each reader write to lines nobody else writes. Every header field is an
//! atomic: the file is shared with other processes, and a plain read of memory
//! another process may write is a data race. All fields are little-endian
//! native integers; the layout version changes whenever any of this does.

use std::sync::atomic::{AtomicU32, AtomicU64};

use crate::wake::WakeLine;

/// `b"AEGISRNG"`, read as a little-endian u64.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"AEGISRNG");
/// Bumped on any change to this file's layout or to the stamp encoding.
pub(crate) const LAYOUT_VERSION: u32 = 1;
/// How many readers can be registered at once.
pub const MAX_READERS: usize = 16;
/// The longest reader name, in bytes.
pub const MAX_READER_NAME: usize = 32;
/// The bytes of a ring file's header: where the slots start (one page, so
/// slots are page aligned).
pub const HEADER_BYTES: u64 = 4096;
/// The largest capacity a ring may have (2^40 slots).
pub(crate) const MAX_CAPACITY: u64 = 1 << 40;

/// `Identity::policy` value for [`crate::Overflow::Lossless`].
pub(crate) const POLICY_LOSSLESS: u32 = 1;
/// `Identity::policy` value for [`crate::Overflow::Overwrite`].
pub(crate) const POLICY_OVERWRITE: u32 = 2;

/// `ReaderSlot::state`: the slot is free.
pub(crate) const SLOT_FREE: u64 = 0;
/// `ReaderSlot::state`: the slot belongs to a registered reader.
pub(crate) const SLOT_ACTIVE: u64 = 1;

/// What the ring is. Written once by the creator; `magic` last, with Release.
#[repr(C, align(128))]
pub(crate) struct Identity {
    pub magic: AtomicU64,
    pub layout_version: AtomicU32,
    pub record_size: AtomicU32,
    pub record_align: AtomicU32,
    pub policy: AtomicU32,
    pub record_kind: AtomicU64,
    pub capacity: AtomicU64,
    pub creation_id: AtomicU64,
    pub origin_seq: AtomicU64,
    pub header_bytes: AtomicU64,
    pub file_bytes: AtomicU64,
    pub created_unix_ms: AtomicU64,
}

/// The writer's line.
#[repr(C, align(128))]
pub(crate) struct WriterLine {
    /// Every sequence before this one is published.
    pub write_seq: AtomicU64,
    /// `clock::monotonic_ns` at the writer's last sign of life.
    pub heartbeat_ns: AtomicU64,
    /// How many times a writer attached (1 + restarts).
    pub attaches: AtomicU64,
    /// PID of the last writer, in its own PID namespace (informational only).
    pub pid: AtomicU64,
}

/// One registered reader's persistent state.
#[repr(C, align(128))]
pub(crate) struct ReaderSlot {
    pub state: AtomicU64,
    /// The name, NUL-padded, as four little-endian words.
    pub name: [AtomicU64; MAX_READER_NAME / 8],
    /// Every sequence before this one is consumed (committed).
    pub cursor: AtomicU64,
    pub heartbeat_ns: AtomicU64,
    /// Records this reader lost to being lapped (Overwrite), ever.
    pub missed: AtomicU64,
    /// PID of the last owner, in its own PID namespace (informational only).
    pub pid: AtomicU64,
    /// How many times a process attached to this slot (1 + restarts).
    pub attaches: AtomicU64,
}

/// The whole header.
#[repr(C)]
pub(crate) struct Header {
    pub identity: Identity,
    pub writer: WriterLine,
    pub data_wake: WakeLine,
    pub space_wake: WakeLine,
    pub readers: [ReaderSlot; MAX_READERS],
}

const _: () = assert!(std::mem::size_of::<Header>() as u64 <= HEADER_BYTES);
const _: () = assert!(std::mem::size_of::<Identity>() == 128);
const _: () = assert!(std::mem::size_of::<ReaderSlot>() == 128);

/// Packs a reader name into the four words of `ReaderSlot::name`.
pub(crate) fn pack_name(name: &str) -> [u64; MAX_READER_NAME / 8] {
    let mut bytes = [0u8; MAX_READER_NAME];
    bytes[..name.len()].copy_from_slice(name.as_bytes());
    let mut words = [0u64; MAX_READER_NAME / 8];
    for (w, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    words
}

/// Unpacks a name written by [`pack_name`]; bytes that are not UTF-8 (only a
/// corrupt file has them) are replaced.
pub(crate) fn unpack_name(words: [u64; MAX_READER_NAME / 8]) -> String {
    let mut bytes = Vec::with_capacity(MAX_READER_NAME);
    for w in words {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Checks a reader name: 1 to 32 bytes of `[A-Za-z0-9._-]`.
pub(crate) fn check_reader_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > MAX_READER_NAME {
        return Err("it is longer than 32 bytes");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("only letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// Where slot `index` starts, in bytes from the start of the file.
pub(crate) const fn slot_offset(index: usize, record_size: usize) -> usize {
    HEADER_BYTES as usize + index * record_size
}

/// The file size of a ring, or `None` if it overflows.
pub(crate) fn file_bytes(capacity: u64, record_size: u64) -> Option<u64> {
    capacity.checked_mul(record_size)?.checked_add(HEADER_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in ["a", "brain", "orchestrator.signals", &"x".repeat(32)] {
            assert_eq!(check_reader_name(name), Ok(()));
            assert_eq!(unpack_name(pack_name(name)), name);
        }
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(check_reader_name("").is_err());
        assert!(check_reader_name(&"x".repeat(33)).is_err());
        assert!(check_reader_name("a b").is_err());
        assert!(check_reader_name("ä").is_err());
        assert!(check_reader_name("a\0").is_err());
    }

    #[test]
    fn layout_offsets_are_stable() {
        // A change here is a layout change: bump LAYOUT_VERSION.
        assert_eq!(std::mem::offset_of!(Header, writer), 128);
        assert_eq!(std::mem::offset_of!(Header, data_wake), 256);
        assert_eq!(std::mem::offset_of!(Header, space_wake), 384);
        assert_eq!(std::mem::offset_of!(Header, readers), 512);
        assert_eq!(std::mem::size_of::<Header>(), 512 + 16 * 128);
    }
}
