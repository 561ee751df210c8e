//! One IP ban for every role: [`SharedBan`], the file `exchange-ban.json` in
//! the ring directory (which the feed, brain and orchestrator of a pod or an
//! `up` run all share) holding when a 418's ban ends (wall-clock ms) and why.
//!
//! Binance bans the IP, not the process: after one role meets a 418, any
//! request from another role prolongs the ban. So the role that met it
//! writes the file (a temporary file, fsync'd, renamed over the name) and
//! every [`BinanceRest`](super::BinanceRest) holding the handle reads it
//! before each request, refusing to send while the ban is in force. An
//! expired file is ignored; a corrupt or unreadable one is logged and
//! ignored, never fatal.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use aegis_runtime::durable::write_atomic;

/// The file's name in the ring directory.
pub const BAN_FILE: &str = "exchange-ban.json";

/// How long a 418 without `Retry-After` is taken to last: Binance's
/// shortest ban (they grow from 2 minutes to 3 days for repeat offenders).
pub const DEFAULT_BAN: Duration = Duration::from_secs(120);

/// The ban file of the ring directory `rings_dir`.
pub fn ban_file_in(rings_dir: &Path) -> PathBuf {
    rings_dir.join(BAN_FILE)
}

/// A ban as the file holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    /// When it ends, wall-clock ms since the epoch.
    pub until_ms: i64,
    /// What was met (the error's text).
    pub reason: String,
}

impl Ban {
    /// How much of it is left at `now_ms`; `None` once it has ended.
    pub fn remaining(&self, now_ms: i64) -> Option<Duration> {
        let left = self.until_ms.checked_sub(now_ms)?;
        (left > 0).then(|| Duration::from_millis(left.unsigned_abs()))
    }
}

/// Why the ban file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BanFileError {
    /// Reading failed (other than the file being absent).
    #[error("reading the exchange ban file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a ban.
    #[error("the exchange ban file {path} is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        detail: String,
    },
    /// Writing failed.
    #[error("could not record the exchange ban in {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The ban file of one ring directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedBan {
    path: PathBuf,
}

impl SharedBan {
    /// The ban file at `path`.
    pub fn at(path: impl Into<PathBuf>) -> Self {
        SharedBan { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The ban the file holds; `None` when there is no file.
    pub fn read(&self) -> Result<Option<Ban>, BanFileError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(BanFileError::Read {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| BanFileError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            })
    }

    /// The wait left of a ban in force at `now_ms`. An expired ban, no file,
    /// or a file that cannot be read (logged) mean none.
    pub fn remaining(&self, now_ms: i64) -> Option<Duration> {
        match self.read() {
            Ok(ban) => ban?.remaining(now_ms),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring the exchange ban file");
                None
            }
        }
    }

    /// Records `ban` for every role, atomically; a ban already recorded
    /// that ends later is kept.
    pub fn record(&self, ban: &Ban) -> Result<(), BanFileError> {
        if let Ok(Some(current)) = self.read() {
            if current.until_ms >= ban.until_ms {
                return Ok(());
            }
        }
        let bytes = serde_json::to_vec(ban).map_err(|e| BanFileError::Corrupt {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        write_atomic(&self.path, &bytes).map_err(|source| BanFileError::Write {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban_in(dir: &tempfile::TempDir) -> SharedBan {
        SharedBan::at(ban_file_in(dir.path()))
    }

    #[test]
    fn a_recorded_ban_is_read_back_until_it_ends() {
        let dir = tempfile::tempdir().expect("a directory");
        let shared = ban_in(&dir);
        assert_eq!(shared.read().expect("no file is no ban"), None);
        assert_eq!(shared.remaining(1_000), None);
        let ban = Ban {
            until_ms: 61_000,
            reason: "HTTP 418".into(),
        };
        shared.record(&ban).expect("recorded");
        assert_eq!(shared.read().expect("readable"), Some(ban));
        assert_eq!(shared.remaining(1_000), Some(Duration::from_secs(60)));
        assert_eq!(shared.remaining(60_999), Some(Duration::from_millis(1)));
        assert_eq!(shared.remaining(61_000), None, "ended");
        assert_eq!(shared.remaining(900_000), None, "long expired");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("listing")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers, [BAN_FILE], "no temporary file is left");
    }

    #[test]
    fn a_shorter_ban_does_not_shorten_a_longer_one() {
        let dir = tempfile::tempdir().expect("a directory");
        let shared = ban_in(&dir);
        let long = Ban {
            until_ms: 500_000,
            reason: "first".into(),
        };
        shared.record(&long).expect("recorded");
        let short = Ban {
            until_ms: 200_000,
            reason: "second".into(),
        };
        shared.record(&short).expect("kept the longer");
        assert_eq!(shared.read().expect("readable"), Some(long));
        let longer = Ban {
            until_ms: 900_000,
            reason: "third".into(),
        };
        shared.record(&longer).expect("extended");
        assert_eq!(shared.read().expect("readable"), Some(longer));
    }

    #[test]
    fn a_corrupt_or_unreadable_file_is_an_error_and_no_ban() {
        let dir = tempfile::tempdir().expect("a directory");
        let shared = ban_in(&dir);
        for junk in [
            &b"{not json"[..],
            b"",
            b"{\"until_ms\": \"soon\"}",
            b"[1,2]",
        ] {
            std::fs::write(shared.path(), junk).expect("writing junk");
            let err = shared.read().expect_err("corrupt");
            assert!(
                matches!(err, BanFileError::Corrupt { .. }) && err.to_string().contains(BAN_FILE),
                "{err}"
            );
            assert_eq!(shared.remaining(0), None, "ignored");
        }
        std::fs::remove_file(shared.path()).expect("removing");
        std::fs::create_dir(shared.path()).expect("a directory in its place");
        assert!(matches!(shared.read(), Err(BanFileError::Read { .. })));
        assert_eq!(shared.remaining(0), None, "ignored");
        let ban = Ban {
            until_ms: 10,
            reason: "x".into(),
        };
        assert!(
            shared.record(&ban).is_err(),
            "cannot rename over a directory"
        );
    }
}
