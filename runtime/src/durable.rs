//! Files replaced whole and durably: [`write_atomic`] writes a private
//! temporary file beside the target (created exclusively, never through a
//! symlink), flushes it to disk, renames it over the target and flushes the
//! directory, so after a crash at any point the target is either the old
//! file or the new one, and the rename itself survives a power loss.
//! Checkpoints, the signal epoch, end markers, reports, the ban file, `up`'s
//! generated configuration and the ledger a backtest copies out all use it.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Makes each temporary file name of this process unique.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `contents` durably (see the module docs). The file
/// is readable by its owner only (0600). On an error the target is
/// untouched and no temporary file is left behind.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    // Relaxed: only uniqueness matters, not ordering with other memory.
    let unique = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{unique}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        // Best effort: do not leave a stray temporary file behind.
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

/// Flushes the directory `dir` itself (its entries: a rename, a new or a
/// removed file) to disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn replaces_the_file_privately_and_leaves_nothing_behind() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one").expect("written");
        write_atomic(&path, b"two").expect("replaced");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("listed")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["state.json"], "no temporary file is left");
    }

    #[test]
    fn a_failed_write_leaves_the_target_untouched() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("state.json");
        write_atomic(&path, b"kept").expect("written");
        // A directory cannot be renamed over by a file.
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).expect("a directory");
        assert!(write_atomic(&blocked, b"x").is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"kept");
        assert!(write_atomic(Path::new("/"), b"x").is_err(), "no file name");
    }
}
