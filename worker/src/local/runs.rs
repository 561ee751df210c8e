//! Where `up` keeps each run's logs and generated configuration: on disk
//! beside the ledger, in `<orchestrator.data_dir>/runs/<UTC start>-<random>/`,
//! not in the shared-memory directory of the rings (which `up` removes on a
//! clean stop). Only the newest [`RUNS_KEPT`] runs are kept.

use std::io;
use std::path::{Path, PathBuf};

/// How many runs `<data dir>/runs` keeps, the current one included.
pub const RUNS_KEPT: usize = 5;

/// The directory of the runs under the data directory.
pub fn runs_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("runs")
}

/// Makes a new run directory `<runs>/<UTC now>-<random>` (private, created
/// exclusively; its name sorts by start time).
pub fn new_run(runs: &Path) -> io::Result<PathBuf> {
    aegis_runtime::dirs::private_dir(runs)?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    aegis_runtime::dirs::fresh_private_dir(runs, &stamp)
}

/// Whether `name` is one [`new_run`] makes: it starts with a date.
fn is_run_name(name: &str) -> bool {
    name.len() > 8 && name.as_bytes()[..8].iter().all(u8::is_ascii_digit) && name.contains('T')
}

/// Removes the runs in `runs` but `current` and the newest `keep - 1`
/// others (by name, which is by start time); returns the removed ones.
/// Anything that is not a run directory (another name, a file, a symbolic
/// link) is left alone.
pub fn prune(runs: &Path, current: &Path, keep: usize) -> io::Result<Vec<PathBuf>> {
    let current = current.file_name();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(runs)? {
        let entry = entry?;
        let name = entry.file_name();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir && Some(name.as_os_str()) != current && name.to_str().is_some_and(is_run_name) {
            found.push(entry.path());
        }
    }
    found.sort();
    let old = found.len().saturating_sub(keep.saturating_sub(1));
    let removed: Vec<PathBuf> = found.into_iter().take(old).collect();
    for dir in &removed {
        std::fs::remove_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("removing {}: {e}", dir.display())))?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_runs_are_kept_and_nothing_else_is_touched() {
        let data = tempfile::tempdir().expect("a temporary directory");
        let runs = runs_dir(data.path());
        let made: Vec<PathBuf> = (0..7)
            .map(|_| {
                let run = new_run(&runs).expect("a run");
                std::fs::write(run.join("feed.log"), b"log").expect("a log");
                std::thread::sleep(std::time::Duration::from_millis(5));
                run
            })
            .collect();
        std::fs::write(runs.join("notes.txt"), b"mine").expect("a file");
        std::fs::create_dir(runs.join("keep-me")).expect("a directory");
        let current = &made[2];
        let removed = prune(&runs, current, RUNS_KEPT).expect("pruned");
        assert_eq!(removed, made[..2].to_vec());
        let mut left: Vec<PathBuf> = std::fs::read_dir(&runs)
            .expect("read")
            .map(|e| e.expect("an entry").path())
            .collect();
        left.sort();
        let mut expected = vec![current.clone()];
        expected.extend_from_slice(&made[3..]);
        expected.push(runs.join("keep-me"));
        expected.push(runs.join("notes.txt"));
        expected.sort();
        assert_eq!(left, expected);
        assert_eq!(
            prune(&runs, current, RUNS_KEPT).expect("again"),
            Vec::<PathBuf>::new()
        );
    }
}
