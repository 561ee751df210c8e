//! SIGTERM and SIGINT as a flag the main loops poll.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

/// Set when the process is asked to stop (SIGTERM from the kubelet or `up`,
/// SIGINT from a terminal).
#[derive(Clone, Debug)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Registers the handlers.
    pub fn install() -> std::io::Result<StopFlag> {
        let flag = Arc::new(AtomicBool::new(false));
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(signal, Arc::clone(&flag))?;
        }
        Ok(StopFlag(flag))
    }

    /// A flag no signal sets (for tests and in-process runs).
    pub fn manual() -> StopFlag {
        StopFlag(Arc::new(AtomicBool::new(false)))
    }

    /// Whether a stop was requested.
    #[inline]
    pub fn is_set(&self) -> bool {
        // Relaxed: a request flag; the loop only needs to see it eventually.
        self.0.load(Relaxed)
    }

    /// Requests a stop.
    pub fn set(&self) {
        // Relaxed: see `is_set`.
        self.0.store(true, Relaxed);
    }

    /// The underlying flag, for code that takes an `AtomicBool`.
    pub fn as_atomic(&self) -> &AtomicBool {
        &self.0
    }
}
