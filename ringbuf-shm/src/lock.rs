//! Ownership of the writer role and of reader slots, via open-file-description
//! byte-range locks (`F_OFD_SETLK`).
//!
//! A lock on one byte of the ring file marks "a live process owns this role".
//! The kernel drops it when the owner dies, however it dies (`kill -9`
//! included), so a restarted process can take the role back without anyone
//! having to clean up. Unlike PIDs, locks mean the same thing across the
//! containers of a pod, which share the file but not a PID namespace.
//!
//! OFD locks belong to an open file description, not a process, so each role
//! handle opens its own description (`/proc/self/fd/N`), and two handles in one
//! process exclude each other exactly as two processes do.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::RingError;

/// The byte whose lock marks the live writer.
pub(crate) const WRITER_BYTE: u64 = 0;
/// The byte whose lock serializes creation and reader (un)registration.
pub(crate) const REGISTRY_BYTE: u64 = 1;
/// The byte whose lock marks the live owner of reader slot `i`.
pub(crate) const fn reader_byte(i: usize) -> u64 {
    64 + i as u64
}

fn flock(kind: libc::c_short, byte: u64) -> libc::flock {
    // SAFETY: `flock` is plain old data; all-zero is a valid value (and l_pid
    // must be 0 for OFD locks).
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = byte as libc::off_t;
    fl.l_len = 1;
    fl
}

fn fcntl(file: &File, cmd: libc::c_int, fl: &mut libc::flock) -> io::Result<()> {
    loop {
        // SAFETY: the fd is open for the lifetime of `file`; `fl` is a valid
        // flock the kernel reads and (for F_OFD_GETLK) writes.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, fl as *mut libc::flock) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Takes the lock on `byte` if nobody else holds it. `Ok(false)`: held elsewhere.
pub(crate) fn try_lock(file: &File, byte: u64) -> io::Result<bool> {
    let mut fl = flock(libc::F_WRLCK as libc::c_short, byte);
    match fcntl(file, libc::F_OFD_SETLK, &mut fl) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Takes the lock on `byte`, waiting for its holder to release it.
pub(crate) fn lock(file: &File, byte: u64) -> io::Result<()> {
    let mut fl = flock(libc::F_WRLCK as libc::c_short, byte);
    fcntl(file, libc::F_OFD_SETLKW, &mut fl)
}

/// Whether some open file description other than `file`'s holds `byte`.
pub(crate) fn is_held_elsewhere(file: &File, byte: u64) -> io::Result<bool> {
    let mut fl = flock(libc::F_WRLCK as libc::c_short, byte);
    fcntl(file, libc::F_OFD_GETLK, &mut fl)?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

/// A fresh open file description of the same file, for a lock of its own.
pub(crate) fn reopen(file: &File) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Takes `byte` through a fresh open file description of `file`, which then
/// holds it until dropped. `Ok(None)`: a live handle holds it already.
pub(crate) fn own(path: &Path, file: &File, byte: u64) -> Result<Option<File>, RingError> {
    let io = |e| RingError::io(path, e);
    let own = reopen(file).map_err(io)?;
    Ok(try_lock(&own, byte).map_err(io)?.then_some(own))
}

/// Waits for the registry lock and takes it through a fresh open file
/// description, which holds it until dropped.
pub(crate) fn registry(path: &Path, file: &File) -> Result<File, RingError> {
    let io = |e| RingError::io(path, e);
    let own = reopen(file).map_err(io)?;
    lock(&own, REGISTRY_BYTE).map_err(io)?;
    Ok(own)
}
