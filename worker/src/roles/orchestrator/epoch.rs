//! Signal numbering that survives a new signal ring.
//!
//! The ledger outlives the rings: in a pod, the ledger sits on a volume while
//! the rings live in an emptyDir that a replaced pod gets fresh, and `up`
//! makes new rings on every start. A new ring numbers its signals from 0
//! again, but the ledger's orders are keyed by signal sequence, and the book
//! ignores a signal numbered at or below the last one it handled.
//!
//! So the orchestrator numbers signals in its own sequence space: a signal's
//! ledger sequence is its ring sequence plus an offset kept in
//! `data_dir/signal-epoch.json` together with the ring's creation id. Same
//! ring: same offset, and a restarted orchestrator sees the same numbers. A
//! new ring (another creation id): a new offset just past the last signal the
//! ledger knows, written (and synced) before any of the new ring's signals is
//! handled.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The file, next to the ledger.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("signal-epoch.json")
}

/// Which ring the offset belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    /// The signal ring's creation id.
    pub ring: u64,
    /// Added to the ring's sequence numbers.
    pub offset: u64,
}

/// The epoch for the signal ring `ring_id`: the recorded one if it is the
/// same ring, else a new one starting after `last_handled` (recorded first).
pub fn resolve(data_dir: &Path, ring_id: u64, last_handled: Option<u64>) -> anyhow::Result<Epoch> {
    let file = path(data_dir);
    let recorded: Option<Epoch> = match std::fs::read(&file) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is corrupt; remove it only if the ledger is empty",
                file.display()
            )
        })?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    if let Some(epoch) = recorded.filter(|e| e.ring == ring_id) {
        return Ok(epoch);
    }
    let epoch = Epoch {
        ring: ring_id,
        offset: last_handled.map_or(0, |s| s.saturating_add(1)),
    };
    aegis_runtime::durable::write_atomic(&file, &serde_json::to_vec(&epoch)?)
        .with_context(|| format!("writing {}", file.display()))?;
    if let Some(previous) = recorded {
        tracing::warn!(
            previous_ring = previous.ring,
            ring = ring_id,
            offset = epoch.offset,
            "a new signal ring: its signals are numbered after the ledger's last one"
        );
    }
    Ok(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_ring_same_offset_new_ring_continues_after_the_ledger() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = resolve(dir.path(), 7, None).expect("first");
        assert_eq!(first, Epoch { ring: 7, offset: 0 });
        assert_eq!(resolve(dir.path(), 7, Some(500)).expect("same ring"), first);
        let next = resolve(dir.path(), 8, Some(500)).expect("new ring");
        assert_eq!(
            next,
            Epoch {
                ring: 8,
                offset: 501
            }
        );
        assert_eq!(resolve(dir.path(), 8, Some(900)).expect("again"), next);
        std::fs::write(path(dir.path()), b"{not json").expect("write");
        let err = format!("{:#}", resolve(dir.path(), 8, None).unwrap_err());
        assert!(err.contains("signal-epoch.json is corrupt"), "{err}");
    }
}
