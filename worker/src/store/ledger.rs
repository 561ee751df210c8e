//! The ledger file: open (creating it, never through a symbolic link, and its
//! directory with mode 0700), recover from a torn
//! last line, refuse a corrupt one, and append batches durably.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

use aegis_engine::ledger::{ledger_id_of, Entry};

/// What can go wrong with the ledger file.
#[derive(Debug, Error)]
pub enum LedgerError {
    /// A system call failed.
    #[error("ledger {path}: {op} failed: {source}")]
    Io {
        /// The ledger file.
        path: PathBuf,
        /// What was being done, e.g. `"fsync"`.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A complete line that is not a valid entry: refuse to guess.
    #[error("ledger {path} is corrupt at line {line}: {reason}")]
    Corrupt {
        /// The ledger file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry could not be encoded.
    #[error("ledger {path}: cannot encode entry: {reason}")]
    Encode {
        /// The ledger file.
        path: PathBuf,
        /// The encoder's message.
        reason: String,
    },
    /// The ledger cannot take appends right now.
    #[error("ledger {path} is not writable: {reason}")]
    NotWritable {
        /// The ledger file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A torn last line removed at open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repair {
    /// 1-based number of the dropped line.
    pub line: usize,
    /// How many bytes were truncated.
    pub bytes_dropped: u64,
}

/// What [`Ledger::open`] found in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    /// Every complete entry, in order.
    pub entries: Vec<Entry>,
    /// The torn last line that was cut off, if any (log it as a warning).
    pub repaired: Option<Repair>,
}

/// An open, append-only ledger file.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: File,
    len: u64,
    entry_count: usize,
    entries_written: usize,
    last_error: Option<String>,
}

impl Ledger {
    /// Opens (or creates, with its parent directories) the ledger at `path`
    /// and reads it back. A last line without its newline is a torn append:
    /// the file is truncated to the last complete line and the cut reported
    /// in [`Recovered::repaired`]. Any complete line that does not parse is
    /// [`LedgerError::Corrupt`].
    pub fn open(path: impl AsRef<Path>) -> Result<(Ledger, Recovered), LedgerError> {
        let path = path.as_ref().to_path_buf();
        let io = |op: &'static str| {
            let path = path.clone();
            move |source| LedgerError::Io { path, op, source }
        };
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf);
        if let Some(dir) = &parent {
            aegis_runtime::dirs::private_dir(dir).map_err(io("create directory"))?;
        }
        let existed = path.exists();
        // Never through a symbolic link planted at the ledger's path (ELOOP).
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .map_err(io("open"))?;
        if !existed {
            if let Some(dir) = &parent {
                aegis_runtime::durable::sync_dir(dir).map_err(io("fsync directory"))?;
            }
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("read"))?;

        let complete_len = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut entries = Vec::new();
        for (index, raw) in bytes[..complete_len]
            .split_inclusive(|&b| b == b'\n')
            .enumerate()
        {
            let corrupt = |reason: String| LedgerError::Corrupt {
                path: path.clone(),
                line: index + 1,
                reason,
            };
            let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
            let text = std::str::from_utf8(raw).map_err(|e| corrupt(format!("not UTF-8 ({e})")))?;
            if text.trim().is_empty() {
                return Err(corrupt("empty line".to_string()));
            }
            entries.push(Entry::from_line(text).map_err(corrupt)?);
        }

        let mut repaired = None;
        let total = bytes.len() as u64;
        if complete_len < bytes.len() {
            file.set_len(complete_len as u64)
                .map_err(io("truncate torn line"))?;
            file.sync_all().map_err(io("fsync"))?;
            repaired = Some(Repair {
                line: line_count(&bytes[..complete_len]) + 1,
                bytes_dropped: total - complete_len as u64,
            });
        }
        let ledger = Ledger {
            path,
            file,
            len: complete_len as u64,
            entry_count: entries.len(),
            entries_written: 0,
            last_error: None,
        };
        Ok((ledger, Recovered { entries, repaired }))
    }

    /// Appends `entries` with one write, then `fsync`s (data) unless the
    /// batch holds only `Mark`s. On failure the file is cut back to where it
    /// was, so a failed append never leaves a partial line behind.
    pub fn append(&mut self, entries: &[Entry]) -> Result<(), LedgerError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut buf = String::new();
        for entry in entries {
            let line = entry.to_line().map_err(|e| LedgerError::Encode {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
            buf.push_str(&line);
            buf.push('\n');
        }
        let sync = entries.iter().any(Entry::needs_sync);
        let result = self.write_batch(buf.as_bytes(), sync);
        match &result {
            Ok(()) => {
                self.len += buf.len() as u64;
                self.entry_count += entries.len();
                self.entries_written += entries.len();
                self.last_error = None;
            }
            Err(e) => {
                // Best effort: drop whatever part of the batch reached the file.
                let _ = self.file.set_len(self.len);
                self.last_error = Some(e.to_string());
            }
        }
        result
    }

    fn write_batch(&mut self, bytes: &[u8], sync: bool) -> Result<(), LedgerError> {
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| LedgerError::Io { path, op, source }
        };
        self.file
            .write_all(bytes)
            .map_err(io("write", &self.path))?;
        if sync {
            self.file.sync_data().map_err(io("fsync", &self.path))?;
        }
        Ok(())
    }

    /// For readiness: fails if the last append failed, or the path no longer
    /// names the file this handle writes (deleted or replaced), or the file
    /// became read-only.
    pub fn check_writable(&self) -> Result<(), LedgerError> {
        let not_writable = |reason: String| LedgerError::NotWritable {
            path: self.path.clone(),
            reason,
        };
        if let Some(e) = &self.last_error {
            return Err(not_writable(format!("last append failed: {e}")));
        }
        let ours = self
            .file
            .metadata()
            .map_err(|e| not_writable(format!("cannot stat open file: {e}")))?;
        let at_path = std::fs::metadata(&self.path)
            .map_err(|e| not_writable(format!("cannot stat path: {e}")))?;
        if (ours.dev(), ours.ino()) != (at_path.dev(), at_path.ino()) {
            return Err(not_writable(
                "the path now names a different file".to_string(),
            ));
        }
        if at_path.permissions().readonly() {
            return Err(not_writable("the file is read-only".to_string()));
        }
        Ok(())
    }

    /// Current file size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.len
    }

    /// Entries appended through this handle since it was opened.
    pub fn entries_written(&self) -> usize {
        self.entries_written
    }

    /// Entries in the file (recovered at open plus appended).
    pub fn entry_count(&self) -> usize {
        self.entry_count
    }

    /// The ledger file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Number of newline-terminated lines in `bytes`.
fn line_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// A new random ledger id: 64 bits from the operating system's generator
/// ([`ledger_id_of`] gives its text).
pub fn new_ledger_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)?;
    Ok(ledger_id_of(u64::from_le_bytes(bytes)))
}
