//! Record types the ring can carry, and [`Candle`], the market-data record.

use bytemuck::{Pod, Zeroable};

/// A fixed-size plain-data record that can travel through a ring.
///
/// The ring moves records as whole 64-bit words, so a record type must be
/// `#[repr(C)]` plain data (`bytemuck::Pod`), a multiple of 8 bytes long, at
/// least 16 bytes, and aligned to at least 8 bytes. These are checked at
/// compile time when a `Ring<T>` is used.
///
/// **The first 8 bytes belong to the ring**: a writer's value there is ignored
/// and a reader receives the record's sequence number in them. Declare the
/// first field as `pub seq: u64`.
///
/// `KIND` names the record type in the ring's header so that a ring of one type
/// cannot be attached as another of the same size.
pub trait Record: Pod {
    /// Eight bytes naming this record type and its version, e.g. `*b"candle02"`.
    const KIND: [u8; 8];
}

/// One OHLCV candle: exactly one 64-byte cache line.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Candle {
    /// Sequence number in the ring (owned by the ring: set on read).
    pub seq: u64,
    /// Open time of the candle, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// First trade price.
    pub open: f64,
    /// Highest trade price.
    pub high: f64,
    /// Lowest trade price.
    pub low: f64,
    /// Last trade price.
    pub close: f64,
    /// Traded base-asset volume.
    pub volume: f64,
    /// When the feed published it: `CLOCK_MONOTONIC` nanoseconds (the same
    /// clock in every process of a machine), or 0. Latency is measured from it.
    pub ingest_ns: u64,
}

const _: () = assert!(std::mem::size_of::<Candle>() == 64);
const _: () = assert!(std::mem::align_of::<Candle>() == 64);

impl Record for Candle {
    const KIND: [u8; 8] = *b"candle02";
}

/// The record kind as printable text, for error messages.
pub(crate) fn kind_text(kind: u64) -> String {
    kind.to_le_bytes()
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() {
                char::from(b).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}
