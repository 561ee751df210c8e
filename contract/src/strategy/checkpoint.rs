//! How large the brain's checkpoint of a strategy may grow: the bounds the
//! strategies' `checkpoint_bytes_max` and the operator's shared-memory
//! sizing are computed from.

use super::params::MAX_PERIOD;

/// The most bytes one window value (a close) takes in the brain's
/// checkpoint: the longest JSON form of an `f64`
/// (`-2.2250738585072014e-308`, 24 bytes) and its comma, rounded up.
pub const CHECKPOINT_BYTES_PER_VALUE: u64 = 32;
/// The most bytes of a checkpoint besides its window values: the envelope,
/// the strategy's name and parameters, its sums and counters, the cursors.
pub const CHECKPOINT_FIXED_BYTES: u64 = 16 * 1024;
/// The largest brain checkpoint any valid configuration allows: two
/// windows of [`MAX_PERIOD`] values (sma-cross's `fast` and `slow` at the
/// limit), about 6.1 MiB.
pub const MAX_CHECKPOINT_BYTES: u64 =
    CHECKPOINT_FIXED_BYTES + 2 * MAX_PERIOD as u64 * CHECKPOINT_BYTES_PER_VALUE;
