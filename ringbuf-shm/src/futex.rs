//! Futex wait and wake on a word inside the shared mapping.
//!
//! These are *shared* futexes (no `FUTEX_PRIVATE_FLAG`): the kernel keys them by
//! the file page and offset, so a waiter in one process (or container, sharing
//! the same /dev/shm file) is woken by a writer in another.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, at most `timeout`. Returns on a wake-up, a
/// timeout, a signal or a changed value alike: callers always re-check.
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, 4-byte aligned AtomicU32 for the whole call; the
    // kernel only reads it. `ts` outlives the call. FUTEX_WAIT takes a relative
    // timeout; the unused uaddr2/val3 arguments are ignored for this op.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes every process sleeping on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned AtomicU32; FUTEX_WAKE only uses its
    // address as a key and never dereferences the unused arguments.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}
