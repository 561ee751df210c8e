//! What a ring's writer does when its slowest reader is a full ring
//! behind, and how the header stores that choice.

use crate::layout;

/// What the writer does when the slowest registered reader is a full ring behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overflow {
    /// The writer waits (spin, then sleep) until the slowest registered reader
    /// commits. Nothing is ever lost. For backtests and replays.
    Lossless,
    /// The writer never waits; it overwrites the oldest record. A lapped
    /// reader skips to the oldest record still there and counts exactly how
    /// many it missed. For live data.
    Overwrite,
}

impl Overflow {
    pub(crate) fn code(self) -> u32 {
        match self {
            Overflow::Lossless => layout::POLICY_LOSSLESS,
            Overflow::Overwrite => layout::POLICY_OVERWRITE,
        }
    }
    pub(crate) fn from_code(code: u32) -> Option<Self> {
        match code {
            layout::POLICY_LOSSLESS => Some(Overflow::Lossless),
            layout::POLICY_OVERWRITE => Some(Overflow::Overwrite),
            _ => None,
        }
    }
}
