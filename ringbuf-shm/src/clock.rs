//! The clocks: a coarse one heartbeats are stamped with, and a precise one
//! for latency. Both count from the same origin in every process of a machine.

/// `CLOCK_MONOTONIC_COARSE` in nanoseconds: one clock for every process on the
/// machine (so every container of a pod), cheap enough (a vDSO read, a few ns)
/// to stamp on every write and commit, and precise to a few milliseconds, which
/// is plenty for liveness.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC_COARSE)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process on the
/// machine, precise to the nanosecond (a vDSO read, some 20 ns), for stamping
/// the moments a latency is measured between.
pub fn precise_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clocks used here exist
    // on every Linux since 2.6.32, and clock_gettime only writes through the pointer.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_precise_clock_resolves_microseconds_and_shares_the_coarse_origin() {
        let a = precise_ns();
        let mut b = precise_ns();
        while b == a {
            b = precise_ns();
        }
        assert!(b - a < 100_000, "precise clock stepped {} ns", b - a);
        // Same origin: the coarse clock lags the precise one by at most a tick.
        let coarse = monotonic_ns();
        let precise = precise_ns();
        assert!(
            precise >= coarse && precise - coarse < 50_000_000,
            "{precise} vs {coarse}"
        );
    }
}
