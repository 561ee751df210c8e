//! The clock heartbeats are stamped with.

/// `CLOCK_MONOTONIC_COARSE` in nanoseconds: one clock for every process on the
/// machine (so every container of a pod), cheap enough (a vDSO read, a few ns)
/// to stamp on every write and commit, and precise to a few milliseconds, which
/// is plenty for liveness.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC_COARSE exists on
    // every Linux since 2.6.32, and clock_gettime only writes through the pointer.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}
