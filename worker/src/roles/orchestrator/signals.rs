//! The read-signals step: the orchestrator's reader of the signal ring,
//! with the epoch offset that turns ring sequence numbers into ledger ones
//! (see [`epoch`](super::epoch)), and the brain's end-of-run marker.

use std::path::PathBuf;

use ringbuf_shm::{seq, Reader, Ring};

use super::epoch;
use super::metrics::Metrics;
use crate::config::Config;
use crate::roles::rings::{self, EndMarker, IDLE_WAIT, ORCHESTRATOR_READER};
use aegis_contract::records::Signal;
use aegis_runtime::StopFlag;

/// Signals read per loop iteration.
const BATCH: usize = 256;

/// The signal ring as the orchestrator reads it.
pub(super) struct SignalInput {
    ring: Ring<Signal>,
    reader: Reader<Signal>,
    /// Added to every signal's ring sequence number.
    offset: u64,
    /// The ring whose end marker ends the run (`orchestrator.exit_at_end`).
    end_ring: Option<PathBuf>,
}

impl SignalInput {
    /// Opens the ring and the orchestrator's reader, and resolves the epoch
    /// against the last signal the ledger handled; `None` when stopped
    /// while waiting for the ring.
    pub(super) fn open(
        config: &Config,
        stop: &StopFlag,
        last_handled: Option<u64>,
    ) -> anyhow::Result<Option<SignalInput>> {
        let ring = rings::signals(config)?;
        let Some(mut reader) = rings::acquire("the orchestrator's signal reader", stop, || {
            ring.reader(ORCHESTRATOR_READER)
        })?
        else {
            return Ok(None);
        };
        reader.set_wait_strategy(rings::wait_strategy(config));
        let epoch = epoch::resolve(
            &config.orchestrator.data_dir,
            ring.creation_id(),
            last_handled,
        )?;
        Ok(Some(SignalInput {
            ring,
            reader,
            offset: epoch.offset,
            end_ring: config
                .orchestrator
                .exit_at_end
                .then(|| config.signals_ring()),
        }))
    }

    /// Replaces `batch` with the next signals (up to a batch), their
    /// sequence numbers in the ledger's numbering; returns how many.
    pub(super) fn read(&mut self, batch: &mut Vec<Signal>) -> usize {
        batch.clear();
        let n = self.reader.read_batch(batch, BATCH);
        for s in batch.iter_mut() {
            s.seq = s.seq.wrapping_add(self.offset);
        }
        n
    }

    /// Whether more signals wait in the ring beyond what was read.
    pub(super) fn more_waiting(&self) -> bool {
        seq::lag(self.ring.write_seq(), self.reader.position()) > 0
    }

    /// The brain's end marker, once every signal before it is read (with
    /// `orchestrator.exit_at_end` only).
    pub(super) fn end_of_run(&self) -> Option<EndMarker> {
        let ring = self.end_ring.as_ref()?;
        rings::read_end(ring).filter(|e| e.next_seq == self.reader.position())
    }

    /// Waits for a signal, at most [`IDLE_WAIT`].
    pub(super) fn wait(&mut self) {
        self.reader.wait(Some(IDLE_WAIT));
    }

    /// Commits the read position: only once the ledger holds everything the
    /// signals read caused.
    pub(super) fn commit(&mut self) {
        self.reader.commit();
    }

    /// Sets the ring's lag and missed gauges.
    pub(super) fn update_gauges(&self, metrics: &Metrics) {
        metrics.ring.observe(&self.ring, &self.reader);
    }
}
