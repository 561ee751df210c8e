//! Helpers shared by the ring's integration tests.
#![allow(dead_code)]

use ringbuf_shm::Candle;

/// The candle every test writes as sequence `seq`: every field derives from
/// `seq`, so a record mixed from two writes (a torn read) cannot pass [`check`].
pub fn candle(seq: u64) -> Candle {
    let x = seq as f64;
    Candle {
        seq: 0xdead_beef, // ignored by the ring
        ts_ms: seq as i64,
        open: x + 0.25,
        high: x + 1.0,
        low: x - 1.0,
        close: x + 0.5,
        volume: x * 2.0,
        trades: mix(seq),
    }
}

/// A 64-bit hash of `seq` (splitmix64's finalizer).
pub fn mix(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Checks that `c` is exactly what [`candle`] writes for its sequence.
pub fn check(c: &Candle) -> Result<(), String> {
    let mut want = candle(c.seq);
    want.seq = c.seq;
    if *c == want {
        Ok(())
    } else {
        Err(format!(
            "record {} is torn or wrong: got {c:?}, want {want:?}",
            c.seq
        ))
    }
}

/// A fresh directory for ring files, under /dev/shm when it exists.
pub fn ring_dir() -> tempfile::TempDir {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    tempfile::Builder::new()
        .prefix("ringbuf-test-")
        .tempdir_in(base)
        .expect("create a temporary directory for rings")
}
