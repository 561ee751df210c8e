//! A crash-safe, cross-process ring buffer in shared memory: one writer, many
//! readers, persistent cursors, no torn reads.
//!
//! The AEGIS engine's three roles run in three containers of one pod and share
//! nothing but an `emptyDir` of medium `Memory` mounted at `/dev/shm`. A ring is
//! one file there, mapped by every process that uses it:
//!
//! ```no_run
//! use ringbuf_shm::{Candle, Overflow, Ring, RingOptions};
//!
//! let path = ringbuf_shm::shm_path("candles");
//! let ring = Ring::<Candle>::create_or_open(&path, &RingOptions::new(1 << 16, Overflow::Lossless))?;
//!
//! // in the feed process
//! let mut writer = ring.writer()?;
//! writer.write(&Candle { ts_ms: 1, open: 1.0, high: 2.0, low: 0.5, close: 1.5, volume: 10.0, ..Candle::default() });
//!
//! // in the brain process
//! let mut reader = Ring::<Candle>::open(&path)?.reader("brain")?;
//! while let Some(candle) = reader.read_timeout(Some(std::time::Duration::from_secs(1))) {
//!     println!("{} close {}", candle.seq, candle.close);
//!     reader.commit();
//! }
//! # Ok::<(), ringbuf_shm::RingError>(())
//! ```
//!
//! # Guarantees
//!
//! - **No torn reads.** Every slot carries a stamp naming the sequence it holds
//!   and whether it is being written (a seqlock; see [`seq`]). A
//!   reader copies a record out and accepts it only if the stamp was the
//!   published one before *and* after the copy — even if the writer was killed
//!   in the middle of writing it.
//! - **Persistent cursors.** Each reader registers under a name and owns a slot
//!   in the header holding its committed cursor. A reader process that restarts
//!   resumes right after its last [`Reader::commit`]: no gap, no duplicate.
//! - **Writer restart.** A new writer continues the sequence where the last one
//!   stopped; a slot it left half-written is simply written again. An existing
//!   ring is never re-initialized, and attaching with another layout is an error.
//! - **Overflow policy.** [`Overflow::Lossless`] makes the writer wait for the
//!   slowest registered reader; [`Overflow::Overwrite`] never blocks the writer
//!   and tells a lapped reader exactly how many records it missed.
//! - **Ownership that survives `kill -9`.** The writer role and each reader
//!   slot are held by an open-file-description lock on one byte of the file;
//!   the kernel drops it when the owner dies, so a restarted process takes its
//!   role back and a dead reader's slot can be reclaimed
//!   ([`Ring::remove_reader`]) — and these locks, unlike PIDs, mean the same in
//!   every container of a pod.
//! - **Waiting without burning CPU.** [`WaitStrategy`]: busy-spin, spin then
//!   yield, or (the default) spin briefly then sleep on a futex inside the
//!   mapping, woken by the other process. The waking side pays for a wake-up
//!   only when somebody sleeps.
//! - **Heartbeats.** The writer and every reader stamp a heartbeat as they
//!   work; [`Ring::status`] (or [`inspect`]) returns them with the write
//!   position, every cursor, lag and missed count.
//! - **Hostile files.** Attaching validates the whole header (magic, layout
//!   version, record size, alignment and kind, capacity, sizes) before touching
//!   anything else; a corrupt file is a [`RingError`], never a panic.
//!
//! # Why a file and `memmap2`, not the `shared_memory` crate
//!
//! In a pod, `/dev/shm` is an ordinary tmpfs directory (the emptyDir) shared by
//! the containers. A plain file in it, mapped with `memmap2`, gives us what the
//! design needs and `shm_open`-style named segments do not: a caller-chosen path
//! (any directory, e.g. a test's temporary one), mode 0600 at creation, an exact
//! size we validate against the header, and byte-range locks on the same file
//! for crash-safe ownership. The futex words live in the same mapping.
//!
//! # Memory ordering, in one paragraph
//!
//! Record payloads move as relaxed atomic words inside a seqlock
//! (protocol.rs): Release when the stamp is published, an Acquire
//! load of it before the copy, an Acquire fence and a re-check after. The write
//! position and the reader cursors are Release stores read with Acquire. The
//! sleep/wake protocol (wake.rs) adds one `SeqCst` fence on each side so that
//! a waker and a sleeper cannot both miss each other; everything else is
//! Relaxed with a comment saying what orders it. The protocol is model-checked with loom
//! (`RUSTFLAGS="--cfg loom" cargo test -p ringbuf-shm --lib --release loom`).

mod clock;
mod error;
mod futex;
mod layout;
mod lock;
mod mapping;
mod overflow;
mod protocol;
mod reader;
mod record;
mod ring;
pub mod seq;
mod status;
mod wait;
mod wake;
mod writer;

pub use clock::{monotonic_ns, precise_ns};
pub use error::RingError;
pub use layout::{HEADER_BYTES, MAX_READERS, MAX_READER_NAME};
pub use overflow::Overflow;
pub use reader::{Drain, Reader};
pub use record::{Candle, Record};
pub use ring::{inspect, Ring, RingOptions};
pub use status::{ReaderStatus, RingStatus, WriterStatus};
pub use wait::WaitStrategy;
pub use writer::{Full, Writer};

/// The size in bytes of the file of a ring of `capacity` records of type
/// `T` (the header and the slots), or `None` if it overflows: what a
/// shared-memory volume must hold for it.
pub fn ring_file_bytes<T: Record>(capacity: u64) -> Option<u64> {
    layout::file_bytes(capacity, std::mem::size_of::<T>() as u64)
}

/// The default directory for rings: the pod's shared-memory emptyDir.
pub const DEFAULT_DIR: &str = "/dev/shm";

/// `/dev/shm/<name>`: where a ring called `name` lives by default.
pub fn shm_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(DEFAULT_DIR).join(name)
}
