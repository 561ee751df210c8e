//! Helpers shared by the ring's integration tests.
#![allow(dead_code)]

use bytemuck::{Pod, Zeroable};
use ringbuf_shm::{Candle, Record};

/// A record the tests can make for any sequence and check afterwards.
pub trait TestRecord: Record {
    fn make(seq: u64) -> Self;
    fn verify(&self) -> Result<(), String>;
    fn sequence(&self) -> u64;
}

impl TestRecord for Candle {
    fn make(seq: u64) -> Self {
        candle(seq)
    }
    fn verify(&self) -> Result<(), String> {
        check(self)
    }
    fn sequence(&self) -> u64 {
        self.seq
    }
}

/// A 1 KiB record: writing one takes long enough that a SIGKILL at a random
/// moment often lands in the middle of it, which is what the kill tests need.
#[repr(C, align(64))]
#[derive(Clone, Copy, Pod, Zeroable)]
pub struct Wide {
    pub seq: u64,
    pub words: [u64; 127],
}

impl Record for Wide {
    const KIND: [u8; 8] = *b"wide0001";
}

impl TestRecord for Wide {
    fn make(seq: u64) -> Self {
        let m = mix(seq);
        Wide {
            seq: 0,
            words: std::array::from_fn(|i| m ^ i as u64),
        }
    }
    fn verify(&self) -> Result<(), String> {
        let m = mix(self.seq);
        match self
            .words
            .iter()
            .enumerate()
            .find(|(i, w)| **w != m ^ *i as u64)
        {
            None => Ok(()),
            Some((i, w)) => Err(format!("record {} is torn: word {i} is {w:#x}", self.seq)),
        }
    }
    fn sequence(&self) -> u64 {
        self.seq
    }
}

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
        ingest_ns: mix(seq),
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
