//! The records the roles exchange through rings: [`Candle`] (feed → brain,
//! defined by the ring crate) and [`Signal`] (brain → orchestrator).

use bytemuck::{Pod, Zeroable};
pub use ringbuf_shm::Candle;
use ringbuf_shm::Record;

/// The brain's decision after one candle: one `Signal` per accepted candle, in
/// candle order.
///
/// Every candle yields a signal, even when the target position does not
/// change, so the orchestrator sees every bar (it fills pending orders at the
/// next bar's `open` and marks equity at each `close`) and knows the brain has
/// finished with a bar. `seq` (set by the ring) is the signal sequence number:
/// it increases by one per signal and is the idempotency key of the order a
/// change of `target` causes.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct Signal {
    /// Signal sequence number (owned by the ring: set on read).
    pub seq: u64,
    /// Sequence number of the candle in the candle ring.
    pub candle_seq: u64,
    /// The candle's open time, milliseconds since the Unix epoch.
    pub ts_ms: i64,
    /// The candle's open price.
    pub open: f64,
    /// The candle's highest price: protective exits are checked against it.
    pub high: f64,
    /// The candle's lowest price: protective exits are checked against it.
    pub low: f64,
    /// The candle's close price (where the decision was taken).
    pub close: f64,
    /// Target position after this bar: -1 short, 0 flat, 1 long.
    pub target: i64,
    /// When the feed published the candle (`CLOCK_MONOTONIC` ns).
    pub ingest_ns: u64,
    /// When the brain published this signal (`CLOCK_MONOTONIC` ns).
    pub signal_ns: u64,
    /// Zero: pads the record to two whole cache lines, so a reader of one
    /// record never shares a line with the writer of the next.
    pub reserved: [u64; 6],
}

const _: () = assert!(std::mem::size_of::<Signal>() == 128);

impl Record for Signal {
    // signal02: `high` and `low` were added (signal01 was 64 bytes).
    const KIND: [u8; 8] = *b"signal02";
}
