//! Every attach error, table-driven: each case damages a valid ring file (or
//! asks for something impossible) and names the error it must produce.

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytemuck::{Pod, Zeroable};
use common::ring_dir;
use ringbuf_shm::{Candle, Overflow, Record, Ring, RingError, RingOptions};

/// Same kind and size as `Candle`, but aligned to 8: only the alignment differs.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Candle8 {
    seq: u64,
    rest: [u64; 7],
}
impl Record for Candle8 {
    const KIND: [u8; 8] = *b"candle02";
}

/// Another record type of the same size.
#[repr(C, align(64))]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Signal {
    seq: u64,
    rest: [u64; 7],
}
impl Record for Signal {
    const KIND: [u8; 8] = *b"signal01";
}

/// Same kind, a different size.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Candle32 {
    seq: u64,
    rest: [u64; 3],
}
impl Record for Candle32 {
    const KIND: [u8; 8] = *b"candle02";
}

fn poke(path: &Path, offset: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// Header field offsets (see layout.rs).
const MAGIC: u64 = 0;
const VERSION: u64 = 8;
const RECORD_SIZE: u64 = 12;
const RECORD_ALIGN: u64 = 16;
const POLICY: u64 = 20;
const CAPACITY: u64 = 32;
const HEADER_BYTES: u64 = 56;
const FILE_BYTES: u64 = 64;
const CAP: u64 = 8;
const GOOD_LEN: u64 = 4096 + CAP * 64;

type Damage = fn(&Path);
type Expect = fn(&RingError) -> bool;

#[test]
fn every_attach_error_is_reported_by_name() {
    let cases: Vec<(&str, Damage, Expect)> = vec![
        (
            "missing file",
            |p| std::fs::remove_file(p).unwrap(),
            |e| matches!(e, RingError::NotFound { .. }),
        ),
        (
            "empty file",
            |p| set_len(p, 0),
            |e| matches!(e, RingError::Uninitialized { .. }),
        ),
        (
            "magic never written",
            |p| poke(p, MAGIC, &[0; 8]),
            |e| matches!(e, RingError::Uninitialized { .. }),
        ),
        (
            "wrong magic",
            |p| poke(p, MAGIC, b"NOTARING"),
            |e| matches!(e, RingError::WrongMagic { .. }),
        ),
        (
            "layout version",
            |p| poke(p, VERSION, &99u32.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::VersionMismatch {
                        found: 99,
                        expected: 1,
                        ..
                    }
                )
            },
        ),
        (
            "file shorter than a header",
            |p| set_len(p, 100),
            |e| {
                matches!(
                    e,
                    RingError::Truncated {
                        expected: 4096,
                        actual: 100,
                        ..
                    }
                )
            },
        ),
        (
            "slots cut off",
            |p| set_len(p, GOOD_LEN - 64),
            |e| {
                matches!(
                    e,
                    RingError::Truncated {
                        expected: GOOD_LEN,
                        ..
                    }
                )
            },
        ),
        (
            "bytes appended",
            |p| set_len(p, GOOD_LEN + 1),
            |e| {
                matches!(
                    e,
                    RingError::Oversized {
                        expected: GOOD_LEN,
                        ..
                    }
                )
            },
        ),
        (
            "capacity not a power of two",
            |p| poke(p, CAPACITY, &6u64.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "capacity",
                        ..
                    }
                )
            },
        ),
        (
            "capacity zero",
            |p| poke(p, CAPACITY, &0u64.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "capacity",
                        ..
                    }
                )
            },
        ),
        (
            "capacity huge",
            |p| poke(p, CAPACITY, &(1u64 << 62).to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "capacity",
                        ..
                    }
                )
            },
        ),
        (
            "capacity disagrees with file size",
            |p| poke(p, CAPACITY, &16u64.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "file size",
                        ..
                    }
                )
            },
        ),
        (
            "record size not a multiple of 8",
            |p| poke(p, RECORD_SIZE, &60u32.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "record size",
                        ..
                    }
                )
            },
        ),
        (
            "record alignment not a power of two",
            |p| poke(p, RECORD_ALIGN, &24u32.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "record alignment",
                        ..
                    }
                )
            },
        ),
        (
            "overflow policy unknown",
            |p| poke(p, POLICY, &7u32.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "overflow policy",
                        ..
                    }
                )
            },
        ),
        (
            "header size",
            |p| poke(p, HEADER_BYTES, &8192u64.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "header size",
                        ..
                    }
                )
            },
        ),
        (
            "file size field",
            |p| poke(p, FILE_BYTES, &1u64.to_le_bytes()),
            |e| {
                matches!(
                    e,
                    RingError::CorruptHeader {
                        field: "file size",
                        ..
                    }
                )
            },
        ),
    ];
    for (name, damage, expect) in cases {
        let dir = ring_dir();
        let path = dir.path().join("r");
        Ring::<Candle>::create_or_open(&path, &RingOptions::new(CAP, Overflow::Lossless)).unwrap();
        damage(&path);
        let err = Ring::<Candle>::open(&path).expect_err(name);
        assert!(expect(&err), "{name}: unexpected error {err:?}");
        // The message names the file (when there is one) and reads as a sentence.
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{name}: {text}");
        // `inspect` validates the same way.
        assert!(ringbuf_shm::inspect(&path).is_err(), "{name}");
    }
}

#[test]
fn record_type_mismatches_are_named() {
    let dir = ring_dir();
    let path = dir.path().join("r");
    Ring::<Candle>::create_or_open(&path, &RingOptions::new(CAP, Overflow::Lossless)).unwrap();
    match Ring::<Signal>::open(&path) {
        Err(RingError::RecordKindMismatch {
            found, expected, ..
        }) => {
            assert_eq!(
                (found.as_str(), expected.as_str()),
                ("candle02", "signal01")
            );
        }
        other => panic!("expected a kind mismatch, got {other:?}"),
    }
    assert!(matches!(
        Ring::<Candle32>::open(&path),
        Err(RingError::RecordSizeMismatch {
            found: 64,
            expected: 32,
            ..
        })
    ));
    assert!(matches!(
        Ring::<Candle8>::open(&path),
        Err(RingError::RecordAlignMismatch {
            found: 64,
            expected: 8,
            ..
        })
    ));
    // Creating over it with another type is the same error, and changes nothing.
    assert!(matches!(
        Ring::<Signal>::create_or_open(&path, &RingOptions::new(CAP, Overflow::Lossless)),
        Err(RingError::RecordKindMismatch { .. })
    ));
    Ring::<Candle>::open(&path).unwrap();
}

#[test]
fn impossible_options_and_names_are_refused() {
    let dir = ring_dir();
    for cap in [0, 3, 1000, 1 << 41] {
        assert!(matches!(
            Ring::<Candle>::create_or_open(
                dir.path().join("r"),
                &RingOptions::new(cap, Overflow::Lossless)
            ),
            Err(RingError::CapacityNotPowerOfTwo { .. })
        ));
    }
    let ring = Ring::<Candle>::create_or_open(
        dir.path().join("r"),
        &RingOptions::new(4, Overflow::Lossless),
    )
    .unwrap();
    for bad in ["", "has space", &"x".repeat(33), "slash/name"] {
        assert!(
            matches!(ring.reader(bad), Err(RingError::InvalidReaderName { .. })),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Ring::<Candle>::create_or_open(
            dir.path().join("q"),
            &RingOptions::new(4, Overflow::Lossless).with_reader("a b")
        ),
        Err(RingError::InvalidReaderName { .. })
    ));
    assert!(matches!(
        Ring::<Candle>::open(dir.path().join("nope")),
        Err(RingError::NotFound { .. })
    ));
}

#[test]
fn a_creator_that_died_before_finishing_is_recovered() {
    let dir = ring_dir();
    let path = dir.path().join("r");
    // What a creator killed between set_len and the magic store leaves behind.
    std::fs::write(&path, vec![0u8; GOOD_LEN as usize]).unwrap();
    assert!(matches!(
        Ring::<Candle>::open(&path),
        Err(RingError::Uninitialized { .. })
    ));
    let ring =
        Ring::<Candle>::create_or_open(&path, &RingOptions::new(CAP, Overflow::Lossless)).unwrap();
    assert_eq!(ring.write_seq(), 0);
    // A foreign file of another size is never overwritten.
    let other = dir.path().join("other");
    std::fs::write(&other, b"precious data, not a ring").unwrap();
    assert!(
        Ring::<Candle>::create_or_open(&other, &RingOptions::new(CAP, Overflow::Lossless)).is_err()
    );
    assert_eq!(std::fs::read(&other).unwrap(), b"precious data, not a ring");
}

/// A symbolic link planted at a ring's path (say, by another user of a
/// shared /dev/shm) is refused by create, open and inspect, naming the
/// path; the file it points at (empty, so a followed link would make a
/// ring of it) is untouched.
#[test]
fn a_planted_symlink_at_the_ring_path_is_refused_not_followed() {
    let dir = ring_dir();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"").expect("the victim");
    let path = dir.path().join("candles");
    std::os::unix::fs::symlink(&victim, &path).expect("a symlink");
    let options = RingOptions::new(64, Overflow::Overwrite);
    let errors = [
        Ring::<Candle>::create_or_open(&path, &options).map(drop),
        Ring::<Candle>::open(&path).map(drop),
        ringbuf_shm::inspect(&path).map(drop),
    ];
    for (which, result) in ["create", "open", "inspect"].into_iter().zip(errors) {
        let err = result.expect_err(which);
        assert!(matches!(err, RingError::Io { .. }), "{which}: {err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{which}: the error names the path: {err}"
        );
    }
    assert_eq!(std::fs::read(&victim).expect("read"), b"");
}
