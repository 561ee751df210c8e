//! Directories a process keeps its state in (rings, checkpoints, a local
//! run's files), made so that another user of the machine cannot hijack
//! them: [`private_dir`] creates what is missing with mode 0700 and refuses
//! an existing path that is a symbolic link, not a directory, or owned by
//! another user (root excepted: a pod's emptyDir and volumes are root's);
//! [`fresh_private_dir`] creates a new directory exclusively, under a name
//! nobody can guess, so nothing planted beforehand can stand in for it.

use std::fs::DirBuilder;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Attempts at a fresh name before [`fresh_private_dir`] gives up.
const FRESH_ATTEMPTS: u32 = 8;

/// Makes sure `dir` is a directory of this user (or root), creating it and
/// its missing parents with mode 0700. The error names the path and what
/// is wrong with it.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) => check_existing(dir, &meta),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                if std::fs::symlink_metadata(parent).is_err() {
                    private_dir(parent)?;
                }
            }
            match DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => Ok(()),
                // Made meanwhile (by a sibling process): check it as found.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    check_existing(dir, &std::fs::symlink_metadata(dir)?)
                }
                Err(e) => Err(io::Error::new(
                    e.kind(),
                    format!("creating {}: {e}", dir.display()),
                )),
            }
        }
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("inspecting {}: {e}", dir.display()),
        )),
    }
}

/// Creates a new directory `<base>/<prefix>-<random>` exclusively with
/// mode 0700 and returns it.
pub fn fresh_private_dir(base: &Path, prefix: &str) -> io::Result<PathBuf> {
    for _ in 0..FRESH_ATTEMPTS {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(io::Error::other)?;
        let dir = base.join(format!("{prefix}-{:016x}", u64::from_le_bytes(bytes)));
        match DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("creating {}: {e}", dir.display()),
                ))
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "no fresh directory {prefix}-* could be made in {} in {FRESH_ATTEMPTS} attempts",
            base.display()
        ),
    ))
}

fn check_existing(dir: &Path, meta: &std::fs::Metadata) -> io::Result<()> {
    let refuse = |why: String| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{}: {why}; refusing to keep state there", dir.display()),
        ))
    };
    if meta.file_type().is_symlink() {
        return refuse("is a symbolic link".into());
    }
    if !meta.is_dir() {
        return refuse("is not a directory".into());
    }
    // SAFETY: geteuid(2) takes no arguments, touches no memory of ours and
    // cannot fail.
    let me = unsafe { libc::geteuid() };
    let owner = meta.uid();
    if owner != me && owner != 0 {
        return refuse(format!(
            "is owned by uid {owner}, not by this user (uid {me})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn missing_directories_are_made_private_and_existing_ones_kept() {
        let base = tempfile::tempdir().expect("a temporary directory");
        let dir = base.path().join("a/b/rings");
        private_dir(&dir).expect("made");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&base.path().join("a")), 0o700);
        private_dir(&dir).expect("an existing directory of ours is fine");
    }

    #[test]
    fn a_planted_link_a_file_or_another_users_directory_is_refused() {
        let base = tempfile::tempdir().expect("a temporary directory");
        let target = base.path().join("elsewhere");
        std::fs::create_dir(&target).expect("a directory");
        let link = base.path().join("rings");
        std::os::unix::fs::symlink(&target, &link).expect("a symlink");
        let e = private_dir(&link).expect_err("a link is refused");
        assert!(
            e.to_string().contains("symbolic link") && e.to_string().contains("rings"),
            "{e}"
        );
        let file = base.path().join("file");
        std::fs::write(&file, b"x").expect("a file");
        let e = private_dir(&file).expect_err("a file is refused");
        assert!(e.to_string().contains("not a directory"), "{e}");
        // SAFETY: geteuid(2) cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            let theirs = base.path().join("theirs");
            std::fs::create_dir(&theirs).expect("a directory");
            std::os::unix::fs::chown(&theirs, Some(4242), None).expect("chown");
            let e = private_dir(&theirs).expect_err("another user's directory is refused");
            assert!(e.to_string().contains("uid 4242"), "{e}");
        }
    }

    #[test]
    fn fresh_directories_are_new_private_and_unguessable() {
        let base = tempfile::tempdir().expect("a temporary directory");
        let one = fresh_private_dir(base.path(), "aegis-up").expect("made");
        let two = fresh_private_dir(base.path(), "aegis-up").expect("made");
        assert_ne!(one, two);
        assert_eq!(mode(&one), 0o700);
        let name = one.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        assert!(
            name.starts_with("aegis-up-") && name.len() == "aegis-up-".len() + 16,
            "{name}"
        );
    }
}
