//! Fuzzes the attach/validate path: random files, and valid rings with random
//! bytes of their header overwritten, must give an error or a usable ring —
//! never a panic, a hang, or an out-of-bounds access.

mod common;

use std::os::unix::fs::FileExt;

use common::{candle, ring_dir};
use proptest::prelude::*;
use ringbuf_shm::{Candle, Overflow, Ring, RingOptions};

/// Uses a ring that attached anyway, to prove it is safe to use.
fn exercise(ring: Ring<Candle>) {
    let _ = ring.status();
    if let Ok(mut w) = ring.writer() {
        let _ = w.try_write(&candle(1));
    }
    if let Ok(mut r) = ring.reader("fuzz") {
        let _ = r.read_batch(&mut Vec::new(), 4);
        r.commit();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..10_000)) {
        let dir = ring_dir();
        let path = dir.path().join("r");
        std::fs::write(&path, &bytes).unwrap();
        if let Ok(ring) = Ring::<Candle>::open(&path) {
            exercise(ring);
        }
        let _ = ringbuf_shm::inspect(&path);
    }

    #[test]
    fn damaged_headers_never_panic(
        cap_log in 0u32..6,
        edits in proptest::collection::vec((0u64..4096, any::<u64>()), 1..8),
        len_delta in prop_oneof![Just(0i64), -5000i64..5000],
    ) {
        let dir = ring_dir();
        let path = dir.path().join("r");
        let ring = Ring::<Candle>::create_or_open(&path, &RingOptions::new(1 << cap_log, Overflow::Lossless).with_reader("a")).unwrap();
        ring.writer().unwrap().write(&candle(0));
        drop(ring);
        let f = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        for (offset, value) in edits {
            f.write_all_at(&value.to_le_bytes(), offset & !7).unwrap();
        }
        let len = f.metadata().unwrap().len() as i64;
        f.set_len((len + len_delta).max(0) as u64).unwrap();
        if let Ok(ring) = Ring::<Candle>::open(&path) {
            exercise(ring);
        }
        let _ = ringbuf_shm::inspect(&path);
    }
}
