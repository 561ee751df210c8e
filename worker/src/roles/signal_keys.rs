//! Which ledger key (idempotency key) each signal of the signal ring gets.
//!
//! The ledger outlives the rings: a new pod gets a fresh emptyDir, and `up`
//! without `--dir` a fresh directory, so a new signal ring counts from 0
//! again while the ledger already holds orders keyed up to some K. Taken
//! as they are, the new ring's first K+1 signals would look already handled
//! and be ignored, silently. So the orchestrator remembers, next to the
//! ledger, which ring it reads (its creation id) and the offset that turns
//! that ring's sequence numbers into keys that continue the ledger's.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What `signal-ring.json` in the data directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalKeys {
    /// The signal ring these keys belong to.
    pub ring_creation_id: u64,
    /// Added to a signal's ring sequence number to get its ledger key.
    pub offset: u64,
}

/// Where the keys of the current ring are recorded.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("signal-ring.json")
}

/// The keys for the ring `ring_creation_id`, whose orchestrator cursor is at
/// `cursor`, given the ledger's last signal key: the recorded ones if they
/// belong to this ring, otherwise new ones (recorded before any signal of the
/// ring is handled) under which the signal at the cursor gets the key after
/// the ledger's last.
pub fn resolve(
    data_dir: &Path,
    ring_creation_id: u64,
    cursor: u64,
    ledger_last: Option<u64>,
) -> anyhow::Result<SignalKeys> {
    let file = path(data_dir);
    match std::fs::read(&file) {
        Ok(bytes) => {
            let keys: SignalKeys = serde_json::from_slice(&bytes)
                .with_context(|| format!("signal key file {} is corrupt", file.display()))?;
            if keys.ring_creation_id == ring_creation_id {
                return Ok(keys);
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    }
    let next_key = ledger_last.map_or(0, |last| last.wrapping_add(1));
    let keys = SignalKeys {
        ring_creation_id,
        offset: next_key.wrapping_sub(cursor),
    };
    store(&file, &keys)?;
    Ok(keys)
}

fn store(file: &Path, keys: &SignalKeys) -> anyhow::Result<()> {
    let tmp = file.with_extension("json.tmp");
    let bytes = serde_json::to_vec(keys).context("encoding the signal keys")?;
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, file))
        .with_context(|| format!("writing {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_ring_continues_the_ledgers_keys_and_a_known_ring_keeps_its_own() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let first = resolve(dir.path(), 7, 0, None).expect("keys");
        assert_eq!(
            first.offset, 0,
            "a first run keys signals by their sequence"
        );
        let again = resolve(dir.path(), 7, 120, Some(119)).expect("keys");
        assert_eq!(again, first, "a restart on the same ring keeps its keys");
        let next = resolve(dir.path(), 8, 0, Some(199)).expect("keys");
        assert_eq!(next.offset, 200, "a new ring's signal 0 gets key 200");
        assert_eq!(
            resolve(dir.path(), 8, 5, Some(204)).expect("keys"),
            next,
            "and keeps it across restarts"
        );
        std::fs::write(path(dir.path()), "{oops").expect("writing");
        let err = resolve(dir.path(), 8, 0, None).expect_err("a corrupt file");
        assert!(format!("{err:#}").contains("signal-ring.json"), "{err:#}");
    }
}
