//! The brain's checkpoint: the strategy's whole state at a candle boundary,
//! kept next to the rings so a restarted brain continues exactly.
//!
//! The brain commits its candle cursor only right after writing a checkpoint,
//! so the cursor never passes the checkpoint: after a crash it re-reads the
//! candles since the checkpoint, recomputes their signals (deterministically,
//! so identically) and publishes only those the signal ring does not hold yet.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Strategy name it belongs to.
    pub strategy: String,
    /// Its parameters (as text).
    pub params: std::collections::BTreeMap<String, String>,
    /// `Strategy::save()` after the last candle before `candle_next`.
    pub state: serde_json::Value,
    /// The first candle sequence not yet in `state`.
    pub candle_next: u64,
    /// The signal sequence that candle will produce.
    pub signal_next: u64,
}

/// Where the brain keeps its checkpoint.
pub fn path(rings_dir: &Path) -> PathBuf {
    rings_dir.join("brain.checkpoint.json")
}

/// Reads the checkpoint; `Ok(None)` if there is none. A checkpoint that does
/// not parse is an error, not silently ignored: it names the file.
pub fn load(path: &Path) -> anyhow::Result<Option<Checkpoint>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("brain checkpoint {} is corrupt", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading brain checkpoint {}", path.display())),
    }
}

/// Writes the checkpoint atomically and durably (a temporary file flushed,
/// renamed over the old one, the directory flushed).
pub fn store(path: &Path, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(checkpoint).context("encoding the brain checkpoint")?;
    aegis_runtime::durable::write_atomic(path, &bytes)
        .with_context(|| format!("writing brain checkpoint {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file planted where older builds put the temporary checkpoint (a
    /// symlink to another file, a FIFO that would block the write) neither
    /// redirects nor blocks the write: temporary names are unpredictable
    /// and created exclusively, never through a link.
    #[test]
    fn a_planted_temporary_file_is_not_followed() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").expect("the victim");
        let path = path(dir.path());
        std::os::unix::fs::symlink(&victim, path.with_extension("json.tmp")).expect("a symlink");
        let checkpoint = Checkpoint {
            strategy: "sma-cross".into(),
            params: Default::default(),
            state: serde_json::json!({"n": 1}),
            candle_next: 3,
            signal_next: 3,
        };
        store(&path, &checkpoint).expect("stored");
        assert_eq!(std::fs::read(&victim).expect("read"), b"precious");
        let loaded = load(&path).expect("loads").expect("a checkpoint");
        assert_eq!(loaded.candle_next, 3);
    }
}
