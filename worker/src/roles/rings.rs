//! Opening the engine's two rings the same way in every role.
//!
//! Whichever role starts first creates a ring (with its reader registered, so
//! a Lossless writer keeps every record for it even before it attaches); the
//! others attach. All use the sizes and policy from the configuration, and
//! attaching to a ring made with other settings is an error.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use ringbuf_shm::{Overflow, Record, Ring, RingError, RingOptions, WaitStrategy, Writer};

use crate::config::{Config, OverflowMode, WaitMode};
use aegis_contract::records::{Candle, Signal};
use aegis_runtime::durable::write_atomic;
use aegis_runtime::{Heartbeat, StopFlag};

/// How long a blocked loop waits before beating its heartbeat again.
pub const IDLE_WAIT: Duration = Duration::from_millis(100);

/// The brain's reader name on the candle ring.
pub const BRAIN_READER: &str = "brain";
/// The orchestrator's reader name on the signal ring.
pub const ORCHESTRATOR_READER: &str = "orchestrator";

fn overflow(config: &Config) -> Overflow {
    match config.rings.overflow {
        OverflowMode::Lossless => Overflow::Lossless,
        OverflowMode::Overwrite => Overflow::Overwrite,
    }
}

/// The configured wait strategy.
pub fn wait_strategy(config: &Config) -> WaitStrategy {
    match config.rings.wait {
        WaitMode::SpinThenBlock => WaitStrategy::default(),
        WaitMode::SpinThenYield => WaitStrategy::SpinThenYield {
            spin: Duration::from_micros(50),
        },
        WaitMode::BusySpin => WaitStrategy::BusySpin,
    }
}

fn open<T: Record>(path: &Path, options: &RingOptions) -> anyhow::Result<Ring<T>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        aegis_runtime::dirs::private_dir(dir)
            .with_context(|| format!("the ring directory {}", dir.display()))?;
    }
    Ring::create_or_open(path, options).with_context(|| format!("opening ring {}", path.display()))
}

/// The candle ring (feed → brain).
pub fn candles(config: &Config) -> anyhow::Result<Ring<Candle>> {
    let options =
        RingOptions::new(config.rings.candles_capacity, overflow(config)).with_reader(BRAIN_READER);
    open(&config.candles_ring(), &options)
}

/// The signal ring (brain → orchestrator).
pub fn signals(config: &Config) -> anyhow::Result<Ring<Signal>> {
    let options = RingOptions::new(config.rings.signals_capacity, overflow(config))
        .with_reader(ORCHESTRATOR_READER);
    open(&config.signals_ring(), &options)
}

/// Retries `attach` while the role is still held by a previous process (a
/// container being replaced, a killed process whose lock the kernel has not
/// dropped yet), until it succeeds or a stop is requested.
pub fn acquire<T>(
    what: &str,
    stop: &StopFlag,
    mut attach: impl FnMut() -> Result<T, RingError>,
) -> anyhow::Result<Option<T>> {
    let mut warned = false;
    loop {
        match attach() {
            Ok(handle) => return Ok(Some(handle)),
            Err(e @ (RingError::WriterBusy { .. } | RingError::ReaderBusy { .. })) => {
                if !warned {
                    tracing::warn!(error = %e, "{what} is held by another live process; waiting");
                    warned = true;
                }
                if stop.is_set() {
                    return Ok(None);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e).with_context(|| format!("attaching as {what}")),
        }
    }
}

/// What a producer leaves next to its ring when its finite input is
/// exhausted: where the stream ends, and what the producer has to say about
/// it (the feed: its rejection counts). Consumers in `exit_at_end` mode stop
/// once they have read up to `next_seq`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EndMarker {
    /// The sequence number after the last record.
    pub next_seq: u64,
    /// Rejections by reason (the feed's).
    #[serde(default)]
    pub rejected: std::collections::BTreeMap<String, u64>,
}

fn end_marker(ring: &Path) -> std::path::PathBuf {
    ring.with_extension("end")
}

/// Records that the producer of `ring` wrote everything it will write.
pub fn mark_end(ring: &Path, marker: &EndMarker) -> anyhow::Result<()> {
    let path = end_marker(ring);
    write_atomic(&path, &serde_json::to_vec(marker)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// The end recorded for `ring`, if its producer finished.
pub fn read_end(ring: &Path) -> Option<EndMarker> {
    serde_json::from_slice(&std::fs::read(end_marker(ring)).ok()?).ok()
}

/// Writes all of `records`, waiting for room in short steps so the heartbeat
/// stays fresh (a full Lossless ring means a slow consumer, not a hung
/// producer). False if a stop came first; the unwritten rest is then the
/// caller's to redo after a restart.
pub fn publish<T: Record>(
    writer: &mut Writer<T>,
    records: &[T],
    heartbeat: &Heartbeat,
    stop: &StopFlag,
) -> bool {
    let mut rest = records;
    while !rest.is_empty() {
        let n = writer.try_write_batch(rest);
        rest = &rest[n..];
        if n == 0 {
            heartbeat.beat();
            if stop.is_set() {
                return false;
            }
            if writer.write_timeout(&rest[0], Some(IDLE_WAIT)).is_ok() {
                rest = &rest[1..];
            }
        }
    }
    true
}
