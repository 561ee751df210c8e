//! What a download finds in its output file before it starts: nothing (a
//! new download), or rows to resume after. The rows are read with the
//! replay parser `backtest` uses and must all be good and in the
//! interval's order ([`Continuity`]); a file that is not (another format,
//! a bad row, another interval, rows outside the requested range) is
//! refused with the line and the reason, never appended to. One thing is
//! repaired: an incomplete last line with no newline, which is what an
//! interrupted write leaves, is cut off.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use anyhow::{bail, Context};

use super::continuity::{format_ms, Continuity};
use crate::store::replay::open_csv;
use aegis_contract::records::Candle;

/// The output file as found.
#[derive(Debug)]
pub struct Existing {
    /// Whether it already starts with the header.
    pub has_header: bool,
    /// Its last row, to resume after.
    pub last: Option<Candle>,
    /// Its rows' order, gaps included.
    pub continuity: Continuity,
    /// Bytes of an incomplete last line that were cut off.
    pub cut_bytes: u64,
}

/// Reads `path` (absent or empty is a new download) for rows of an interval
/// `span_ms` long opened in `[from_ms, to_ms)`.
pub fn read(path: &Path, span_ms: i64, from_ms: i64, to_ms: i64) -> anyhow::Result<Existing> {
    let mut existing = Existing {
        has_header: false,
        last: None,
        continuity: Continuity::new(span_ms),
        cut_bytes: 0,
    };
    if !path.exists() {
        return Ok(existing);
    }
    existing.cut_bytes = cut_incomplete_line(path)?;
    if std::fs::metadata(path)
        .with_context(|| format!("reading {}", path.display()))?
        .len()
        == 0
    {
        return Ok(existing);
    }
    let refuse = |what: String| -> anyhow::Error {
        anyhow::anyhow!(
            "--out {}: {what}; not resuming into it (move it away to start over)",
            path.display()
        )
    };
    let csv = open_csv(path).map_err(|e| refuse(e.to_string()))?;
    existing.has_header = true;
    for item in csv.validated() {
        let row = item
            .map_err(|e| refuse(e.to_string()))?
            .map_err(|e| refuse(format!("bad row at {e}")))?;
        let at = row.candle.ts_ms;
        existing
            .continuity
            .push(at)
            .map_err(|e| refuse(format!("line {}: {e}", row.line)))?;
        if at < from_ms || at >= to_ms {
            return Err(refuse(format!(
                "line {} opens at {}, outside the requested --from {} --to {}",
                row.line,
                format_ms(at),
                format_ms(from_ms),
                format_ms(to_ms)
            )));
        }
        existing.last = Some(row.candle);
    }
    Ok(existing)
}

/// Cuts a last line that has no newline (an interrupted write) off `path`;
/// the bytes cut.
fn cut_incomplete_line(path: &Path) -> anyhow::Result<u64> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if len == 0 {
        return Ok(0);
    }
    // Search back from the end in blocks for the last newline.
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    let keep = loop {
        let start = end.saturating_sub(block.len() as u64);
        let part = &mut block[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(part))
            .with_context(|| format!("reading {}", path.display()))?;
        if end == len && part.last() == Some(&b'\n') {
            return Ok(0);
        }
        if let Some(i) = memchr::memrchr(b'\n', part) {
            break start + i as u64 + 1;
        }
        if start == 0 {
            break 0;
        }
        end = start;
    };
    if len - keep > 1 << 20 {
        bail!(
            "--out {}: its last {} bytes are not a line; not resuming into it",
            path.display(),
            len - keep
        );
    }
    file.set_len(keep)
        .and_then(|()| file.sync_data())
        .with_context(|| format!("cutting the incomplete last line off {}", path.display()))?;
    Ok(len - keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPAN: i64 = 60_000;

    fn file_with(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("k.csv");
        std::fs::write(&path, text).expect("writing");
        (dir, path)
    }

    #[test]
    fn good_rows_are_resumed_after_and_a_torn_last_line_is_cut() {
        let (_dir, path) = file_with(
            "timestamp,open,high,low,close,volume\n60000,1,2,0.5,1.5,3\n180000,1,2,0.5,1.5,3\n240000,1,2,0.",
        );
        let found = read(&path, SPAN, 0, i64::MAX).expect("resumable");
        assert_eq!(found.last.map(|c| c.ts_ms), Some(180_000));
        assert_eq!(found.continuity.rows(), 2);
        assert_eq!(found.continuity.gaps().len(), 1);
        assert_eq!(found.cut_bytes, "240000,1,2,0.".len() as u64);
        assert!(std::fs::read_to_string(&path)
            .expect("readable")
            .ends_with("180000,1,2,0.5,1.5,3\n"));
    }

    #[test]
    fn absent_and_empty_files_are_new_downloads() {
        let dir = tempfile::tempdir().expect("a directory");
        let found = read(&dir.path().join("none.csv"), SPAN, 0, 1).expect("new");
        assert!(!found.has_header && found.last.is_none());
        let (_dir, path) = file_with("");
        assert!(read(&path, SPAN, 0, 1).expect("new").last.is_none());
    }

    #[test]
    fn corrupt_foreign_or_out_of_range_files_are_refused_naming_the_line() {
        let cases = [
            ("a,b,c\n1,2,3\n", "header"),
            (
                "timestamp,open,high,low,close,volume\n60000,1,2,0.5,1.5,3\n120000,x,2,0.5,1.5,3\n",
                "line 3",
            ),
            (
                "timestamp,open,high,low,close,volume\n60000,1,2,0.5,1.5,3\n60000,1,2,0.5,1.5,3\n",
                "line 3",
            ),
            (
                "timestamp,open,high,low,close,volume\n60000,1,2,0.5,1.5,3\n90000,1,2,0.5,1.5,3\n",
                "not a multiple of the interval",
            ),
            (
                "timestamp,open,high,low,close,volume\n0,1,2,0.5,1.5,3\n",
                "outside the requested",
            ),
        ];
        for (text, expected) in cases {
            let (_dir, path) = file_with(text);
            let err = read(&path, SPAN, 60_000, i64::MAX).expect_err(text);
            let msg = format!("{err:#}");
            assert!(
                msg.contains(expected) && msg.contains("not resuming"),
                "{text:?}: {msg}"
            );
            assert_eq!(
                std::fs::read_to_string(&path).expect("readable"),
                text,
                "left as it was"
            );
        }
    }
}
