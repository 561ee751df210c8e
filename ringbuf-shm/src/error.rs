//! The ring's typed errors.

use std::path::PathBuf;

/// Everything that can go wrong creating, attaching to or registering with a ring.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error("ring file {} does not exist", path.display())]
    NotFound { path: PathBuf },

    #[error("I/O error on ring file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} is not initialized: its creator is still starting or died before finishing", path.display())]
    Uninitialized { path: PathBuf },

    #[error("{} is not a ring file: magic is {found:#018x}, expected {expected:#018x}", path.display())]
    WrongMagic {
        path: PathBuf,
        found: u64,
        expected: u64,
    },

    #[error("{} has layout version {found}; this build reads version {expected}", path.display())]
    VersionMismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    #[error("{} holds records of {found} bytes; this reader expects {expected}", path.display())]
    RecordSizeMismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    #[error("{} holds records aligned to {found} bytes; this reader expects {expected}", path.display())]
    RecordAlignMismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },

    #[error("{} holds records of kind {found:?}; this reader expects {expected:?}", path.display())]
    RecordKindMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },

    #[error("{} is truncated: {actual} bytes, the header says {expected}", path.display())]
    Truncated {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    #[error("{} is oversized: {actual} bytes, the header says {expected}", path.display())]
    Oversized {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },

    #[error("ring capacity {capacity} is not a power of two between 1 and 2^40")]
    CapacityNotPowerOfTwo { capacity: u64 },

    #[error("{} has a corrupt header: {field} {detail}", path.display())]
    CorruptHeader {
        path: PathBuf,
        field: &'static str,
        detail: String,
    },

    #[error("{} already exists with {field} = {existing}, but {requested} was requested", path.display())]
    LayoutMismatch {
        path: PathBuf,
        field: &'static str,
        existing: String,
        requested: String,
    },

    #[error("{}: all {max} reader slots are taken", path.display())]
    ReaderSlotsExhausted { path: PathBuf, max: usize },

    #[error("{}: no reader is registered as {name:?}", path.display())]
    ReaderUnknown { path: PathBuf, name: String },

    #[error("{}: reader {name:?} is held by a live process", path.display())]
    ReaderBusy { path: PathBuf, name: String },

    #[error("{}: another live process is the writer", path.display())]
    WriterBusy { path: PathBuf },

    #[error("invalid reader name {name:?}: {reason}")]
    InvalidReaderName { name: String, reason: &'static str },
}

impl RingError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            RingError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            RingError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}
